"""``beamconnect demo``: a local broker, sample orders, and the demo connector writing Parquet."""

from __future__ import annotations

import datetime
import json
import os
import random
import sys

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from pipelines.config import load_config
from pipelines.config.connector import parse_connector_config
from pipelines.dev_kafka import LocalKafka
from pipelines.run import RunOptions, run_connector

TOPIC = "demo.orders"
PARTITIONS = 4
CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "templates", "connectors", "demo-files-parquet.properties")


def sample_orders(count: int, seed: int = 7):
    """Deterministic sample records: (key, JSON value) pairs of ~200 bytes."""
    rng = random.Random(seed)
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    for i in range(count):
        customer = "customer-%04d" % rng.randrange(1000)
        order = {"order_id": i, "customer": customer, "amount": round(rng.uniform(1, 500), 2),
                 "currency": rng.choice(["EUR", "USD", "GBP"]), "items": rng.randrange(1, 9),
                 "created_at": (start + datetime.timedelta(seconds=i)).isoformat(),
                 "express": rng.random() < 0.2}
        if i % 10 == 0:
            order["coupon"] = "SPRING%d" % rng.randrange(10, 50)
        yield customer.encode(), json.dumps(order).encode()


def produce(bootstrap: str, topic: str, records, partitions: int = PARTITIONS) -> int:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result()
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "enable.idempotence": True})
    n = 0
    for key, value in records:
        while True:
            try:
                producer.produce(topic, value=value, key=key)
                break
            except BufferError:
                producer.poll(0.1)
        n += 1
    producer.flush(60)
    return n


def run_demo(records: int = 20_000, output: str = "demo-output") -> int:
    output = os.path.abspath(output)
    print("starting a local Kafka broker...", file=sys.stderr)  # a download, when needed, says so
    with LocalKafka(partitions=PARTITIONS) as kafka:
        produced = produce(kafka.bootstrap_servers, TOPIC, sample_orders(records))
        print("produced %d records to %s (%d partitions) on %s" % (
            produced, TOPIC, PARTITIONS, kafka.bootstrap_servers), file=sys.stderr)
        raw = load_config(CONFIG)
        raw["store.url"] = output
        config = parse_connector_config(raw, bootstrap_servers=kafka.bootstrap_servers)
        result = run_connector(config, RunOptions())
        print(result.table())
    print("\nfiles are under %s/topics/%s/, e.g.:" % (output, TOPIC))
    shown = 0
    for root, _, names in sorted(os.walk(os.path.join(output, "topics", TOPIC))):
        for name in sorted(names)[:2]:
            print("  " + os.path.relpath(os.path.join(root, name), output))
            shown += 1
    if not shown:
        print("  (none)")
    return 0
