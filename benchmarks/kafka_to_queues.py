"""Throughput of ``beamconnect run`` into Kafka (transactions) and RabbitMQ against a bare publisher.

Produces N (default 1,000,000) ~200-byte JSON records into a 4-partition topic, then, in the same run,
times as whole processes, for each target:
  (a) a bare client publishing the same N payloads (each with its key), generated in that process:
      - Kafka: one confluent-kafka transactional producer, one transaction per ``flush.size`` records;
      - RabbitMQ: pika's SelectConnection on a channel in confirm mode, persistent messages with a
        message id, each batch of ``rabbitmq.publish.max.batch.size`` messages published and then
        every confirm awaited, into a durable queue;
  (b) ``python -m pipelines run`` reading the topic and writing every record, checked to have written
      N records:
      - Kafka: ``connector.class=kafka``, a RegexRouter to a new topic of the same cluster, one
        transaction per bundle holding its records and offsets;
      - RabbitMQ: ``connector.class=rabbitmq`` into a durable queue, persistent messages, publisher
        confirms per batch.
Prints both rates in records/s, each process's peak memory (its maximum resident set, measured by a small
parent of its own) and the ratio b/a (the project's target: 0.5).

    .venv/bin/python benchmarks/kafka_to_queues.py [--records N] [--only kafka|rabbitmq]

A local Kafka broker and a throwaway RabbitMQ node (the suite's own launchers) are started and stopped;
``./dev test`` installs RabbitMQ where it is missing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid

import harness

ROOT = harness.ROOT
sys.path.insert(0, ROOT)

PARTITIONS = 4
FLUSH_SIZE = 10_000
RABBIT_BATCH = 1_000

# The payloads both sides write: record i's key and JSON value (~200 bytes), the same in every process.
PAYLOADS = r"""
def payloads(count):
    for i in range(count):
        key = b"user-%07d" % i
        value = (b'{"id":%d,"user":"user-%07d","event":"%s","amount":%d.%02d,"ts":%d,'
                 b'"country":"%s","agent":"Mozilla/5.0 (X11; Linux x86_64)","path":"/shop/item/%d"}'
                 % (i, i, (b"view", b"click", b"purchase", b"signup")[i % 4], i % 1000, i % 100,
                    1767225600000 + i, (b"DE", b"FR", b"US", b"JP", b"BR")[i % 5], i % 5000))
        yield key, value
"""

BARE_KAFKA = PAYLOADS + r"""
import sys
from confluent_kafka import Producer
servers, topic, count, flush = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
producer = Producer({"bootstrap.servers": servers, "transactional.id": "bare-" + topic,
                     "linger.ms": 5, "queue.buffering.max.messages": 1000000})
producer.init_transactions(60)
producer.begin_transaction()
for i, (key, value) in enumerate(payloads(count), 1):
    while True:
        try:
            producer.produce(topic, value, key, partition=i % 4)
            break
        except BufferError:
            producer.poll(0.01)
    if i % flush == 0:
        producer.commit_transaction(60)
        producer.begin_transaction()
producer.commit_transaction(60)
print(count)
"""

BARE_RABBITMQ = PAYLOADS + r"""
import sys, pika
url, queue, count, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
records = payloads(count)
state = {"sent": 0, "outstanding": set(), "done": False}

def send_batch():
    channel = state["channel"]
    for key, value in records:
        state["sent"] += 1
        channel.basic_publish("", queue, value, pika.BasicProperties(
            delivery_mode=2, message_id=key.decode(), correlation_id=key.decode()))
        state["outstanding"].add(state["sent"])
        if len(state["outstanding"]) == batch:
            return
    if not state["outstanding"]:
        state["done"] = True
        connection.close()

def on_confirm(frame):
    method = frame.method
    if isinstance(method, pika.spec.Basic.Nack):
        raise SystemExit("the broker nacked message %d" % method.delivery_tag)
    outstanding = state["outstanding"]
    if method.multiple:
        outstanding.difference_update([t for t in outstanding if t <= method.delivery_tag])
    else:
        outstanding.discard(method.delivery_tag)
    if not outstanding:
        send_batch()

def on_channel(channel):
    state["channel"] = channel
    channel.confirm_delivery(on_confirm)
    send_batch()

connection = pika.SelectConnection(
    pika.URLParameters(url), on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
    on_close_callback=lambda c, reason: c.ioloop.stop())
connection.ioloop.start()
if not state["done"]:
    raise SystemExit("the connection closed early")
print(state["sent"] - 1)
"""


def produce(servers: str, topic: str, count: int) -> None:
    namespace: dict = {}
    exec(PAYLOADS, namespace)
    harness.produce(servers, topic, PARTITIONS,
                    ((value, i % PARTITIONS) for i, (key, value) in
                     enumerate(namespace["payloads"](count))))


def _write(store: str, name: str, text: str) -> str:
    path = os.path.join(store, name + ".properties")
    with open(path, "w") as f:
        f.write(text)
    return path


def bench_kafka(servers: str, topic: str, records: int, store: str, env: dict) -> tuple:
    from confluent_kafka.admin import AdminClient, NewTopic

    bare_topic, sink_topic = topic + "-bare", topic + "-copy"
    admin = AdminClient({"bootstrap.servers": servers})
    for future in admin.create_topics([NewTopic(t, PARTITIONS, 1)
                                       for t in (bare_topic, sink_topic)]).values():
        future.result()
    bare = harness.timed_alone([sys.executable, "-c", BARE_KAFKA, servers, bare_topic,
                                str(records), str(FLUSH_SIZE)], env)
    name = "bench-kafka-" + topic
    config = _write(store, name, (
        "name=%s\nconnector.class=kafka\ntopics=%s\n"
        "key.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n"
        "value.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n"
        "transforms=route\ntransforms.route.type=org.apache.kafka.connect.transforms.RegexRouter\n"
        "transforms.route.regex=(.*)\ntransforms.route.replacement=$1-copy\nflush.size=%d\n"
        % (name, topic, FLUSH_SIZE)))
    run = harness.timed_alone([sys.executable, "-m", "pipelines", "run", config,
                               "--bootstrap-servers", servers], env)
    written = _topic_size(servers, sink_topic)
    if written != records:
        raise SystemExit("the Kafka sink wrote %d records, expected %d" % (written, records))
    return bare, run


def bench_rabbitmq(servers: str, topic: str, records: int, store: str, env: dict) -> tuple:
    import pika

    from tests.servers.rabbitmq import RabbitMQServer

    with RabbitMQServer() as server:
        broker = server.broker
        connection = pika.BlockingConnection(pika.URLParameters(broker.url))
        for queue in ("bare", "sink"):
            connection.channel().queue_declare(queue, durable=True)
        connection.close()
        bare = harness.timed_alone([sys.executable, "-c", BARE_RABBITMQ, broker.url, "bare",
                                    str(records), str(RABBIT_BATCH)], env)
        name = "bench-rabbitmq-" + topic
        config = _write(store, name, (
            "name=%s\nconnector.class=io.confluent.connect.rabbitmq.sink.RabbitMQSinkConnector\n"
            "topics=%s\nkey.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n"
            "value.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n"
            "rabbitmq.host=%s\nrabbitmq.port=%d\nrabbitmq.username=%s\nrabbitmq.password=%s\n"
            "rabbitmq.virtual.host=%s\nrabbitmq.exchange=\nrabbitmq.routing.key=sink\n"
            "rabbitmq.delivery.mode=PERSISTENT\nrabbitmq.forward.kafka.key=true\n"
            "rabbitmq.publish.max.batch.size=%d\nflush.size=%d\n"
            % (name, topic, broker.host, broker.port, broker.user, broker.password, broker.vhost,
               RABBIT_BATCH, FLUSH_SIZE)))
        run = harness.timed_alone([sys.executable, "-m", "pipelines", "run", config,
                                   "--bootstrap-servers", servers], env)
        connection = pika.BlockingConnection(pika.URLParameters(broker.url))  # idle ones time out
        channel = connection.channel()
        counts = {q: channel.queue_declare(q, durable=True, passive=True).method.message_count
                  for q in ("bare", "sink")}
        connection.close()
    if counts != {"bare": records, "sink": records}:
        raise SystemExit("the queues hold %r messages, expected %d each" % (counts, records))
    return bare, run


def _topic_size(servers: str, topic: str) -> int:
    """Records of ``topic`` a read_committed reader sees (end offsets minus transaction markers)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": servers, "group.id": "bench-count",
                         "isolation.level": "read_committed", "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    seen, done = 0, set()
    deadline = time.monotonic() + 300
    try:
        while len(done) < PARTITIONS and time.monotonic() < deadline:
            for message in consumer.consume(10_000, 1.0):
                if message.error() is None:
                    seen += 1
                elif message.error().code() == message.error()._PARTITION_EOF:
                    done.add(message.partition())
    finally:
        consumer.close()
    return seen


def report(kind: str, what: str, records: int, bare: tuple, run: tuple) -> None:
    (bare_wall, bare_mem, _), (run_wall, run_mem, _) = bare, run
    bare_rate, run_rate = records / bare_wall, records / run_wall
    print("%s (a) bare %s: %10.0f records/s  (%.2fs, peak %.0f MiB)"
          % (kind, what, bare_rate, bare_wall, bare_mem))
    print("%s (b) beamconnect: %10.0f records/s  (%.2fs, peak %.0f MiB)"
          % (kind, run_rate, run_wall, run_mem))
    print("%s ratio b/a: %.2f" % (kind, run_rate / bare_rate))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--only", choices=("kafka", "rabbitmq"))
    args = parser.parse_args()

    from pipelines.dev_kafka import LocalKafka

    kinds = [args.only] if args.only else ["kafka", "rabbitmq"]
    broker = LocalKafka().start()
    try:
        servers = broker.bootstrap_servers
        topic = "bench-%s" % uuid.uuid4().hex[:8]
        t0 = time.perf_counter()
        produce(servers, topic, args.records)
        print("produced %d records to %s in %.1fs" % (args.records, topic, time.perf_counter() - t0))
        env = {**os.environ, "PYTHONPATH": ROOT, "NO_GCE_CHECK": "true"}
        with tempfile.TemporaryDirectory() as store:
            if "kafka" in kinds:
                bare, run = bench_kafka(servers, topic, args.records, store, env)
                report("kafka", "transactional producer", args.records, bare, run)
            if "rabbitmq" in kinds:
                bare, run = bench_rabbitmq(servers, topic, args.records, store, env)
                report("rabbitmq", "pika publisher with confirms", args.records, bare, run)
    finally:
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
