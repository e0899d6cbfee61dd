"""Throughput of ``beamconnect run`` into OpenSearch against a bare ``opensearch-py`` ``helpers.bulk``.

Produces N (default 1,000,000) ~200-byte JSON records, each with its own key, into a 4-partition topic,
then, in the same run, times as whole processes:
  (a) a bare client indexing the same N documents, generated in that process, with
      ``opensearchpy.helpers.bulk`` (its defaults: chunks of 500 actions, one request at a time), each
      action the sink's write: ``_id`` the key, ``version`` the record's offset, ``version_type``
      external;
  (b) ``python -m pipelines run`` with ``connector.class=io.confluent.connect.elasticsearch.
      ElasticsearchSinkConnector`` reading the topic (keys with StringConverter, values with
      JsonConverter without schemas, ``schema.ignore=true``, Confluent's other defaults: bulk requests
      of 2,000 actions, 5 in flight), checked to leave N documents.
Both write into an index of their own with one shard and no replica, on one local OpenSearch 2.19 node
(the suite's launcher, with a 1 GiB heap and the full JIT) that a small bulk load warms up first. Prints both rates in records/s,
each process's peak memory (its maximum resident set, measured by a small parent of its own) and the
ratio b/a (the target: 0.6).

    .venv/bin/python benchmarks/kafka_to_search.py [--records N]

A local Kafka broker and a throwaway OpenSearch node are started and stopped.
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

# The documents both sides write: record i's key and JSON value (~200 bytes), the same in every process.
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

# Record i goes to partition i % 4, at offset i // 4 there: the version the sink gives it.
BARE = PAYLOADS + r"""
import json, sys
from opensearchpy import OpenSearch, helpers
url, user, password, index, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
client = OpenSearch([url], http_auth=(user, password) if user else None, timeout=120)
def actions():
    for i, (key, value) in enumerate(payloads(count)):
        yield {"_index": index, "_id": key.decode(), "_version": i // 4, "_version_type": "external",
               "_source": json.loads(value)}
indexed, errors = helpers.bulk(client, actions(), raise_on_error=True)
print(indexed)
"""


def produce(servers: str, topic: str, count: int) -> None:
    """Creates ``topic`` and produces the keyed records, record i to partition i % 4."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    namespace: dict = {}
    exec(PAYLOADS, namespace)
    admin = AdminClient({"bootstrap.servers": servers})
    for future in admin.create_topics([NewTopic(topic, PARTITIONS, 1)]).values():
        future.result()
    producer = Producer({"bootstrap.servers": servers, "linger.ms": 50, "batch.size": 1_000_000,
                         "queue.buffering.max.messages": 1_000_000})
    for i, (key, value) in enumerate(namespace["payloads"](count)):
        while True:
            try:
                producer.produce(topic, value, key, partition=i % PARTITIONS)
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(120):
        raise SystemExit("records of %s were not delivered" % topic)


def _index(cluster, name: str) -> None:
    cluster.request("PUT", "/" + name, {"settings": {"number_of_shards": 1, "number_of_replicas": 0}})


def _count(cluster, name: str) -> int:
    cluster.request("POST", "/%s/_refresh" % name)
    return cluster.request("GET", "/%s/_count" % name)["count"]


def _warm_up(cluster, env: dict) -> None:
    _index(cluster, "warm-up")
    harness.timed_alone([sys.executable, "-c", BARE, cluster.url, cluster.user or "",
                         cluster.password or "", "warm-up", "50000"], env)
    cluster.request("DELETE", "/warm-up")


def bench(cluster, servers: str, topic: str, records: int, store: str, env: dict) -> tuple:
    bare_index, sink_index = topic + "-bare", topic
    _index(cluster, bare_index)
    _index(cluster, sink_index)
    bare = harness.timed_alone([sys.executable, "-c", BARE, cluster.url, cluster.user or "",
                                cluster.password or "", bare_index, str(records)], env)
    if _count(cluster, bare_index) != records:
        raise SystemExit("the bare bulk left %d documents, expected %d"
                         % (_count(cluster, bare_index), records))
    name = "bench-search-" + topic
    path = os.path.join(store, name + ".properties")
    with open(path, "w") as f:
        f.write("name=%s\nconnector.class=io.confluent.connect.elasticsearch.ElasticsearchSinkConnector\n"
                "topics=%s\nkey.converter=org.apache.kafka.connect.storage.StringConverter\n"
                "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
                "value.converter.schemas.enable=false\nschema.ignore=true\nconnection.url=%s\n"
                "read.timeout.ms=60000\n" % (name, topic, cluster.url))
        if cluster.user:
            f.write("connection.username=%s\nconnection.password=%s\n" % (cluster.user, cluster.password))
    run = harness.timed_alone([sys.executable, "-m", "pipelines", "run", path,
                               "--bootstrap-servers", servers], env)
    written = _count(cluster, sink_index)
    if written != records:
        raise SystemExit("the sink left %d documents, expected %d" % (written, records))
    return bare, run


def report(records: int, bare: tuple, run: tuple) -> None:
    (bare_wall, bare_mem, _), (run_wall, run_mem, _) = bare, run
    bare_rate, run_rate = records / bare_wall, records / run_wall
    print("opensearch (a) bare helpers.bulk: %10.0f records/s  (%.2fs, peak %.0f MiB)"
          % (bare_rate, bare_wall, bare_mem))
    print("opensearch (b) beamconnect:       %10.0f records/s  (%.2fs, peak %.0f MiB)"
          % (run_rate, run_wall, run_mem))
    print("opensearch ratio b/a: %.2f" % (run_rate / bare_rate))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()

    from pipelines.dev_kafka import LocalKafka
    from tests.servers.opensearch import LocalOpenSearch

    broker = LocalKafka().start()
    node = LocalOpenSearch(heap="1g", quick_start=False).start(timeout=300)
    try:
        cluster = node.cluster
        servers = broker.bootstrap_servers
        topic = "bench-%s" % uuid.uuid4().hex[:8]
        t0 = time.perf_counter()
        produce(servers, topic, args.records)
        print("produced %d records to %s in %.1fs" % (args.records, topic, time.perf_counter() - t0))
        env = {**os.environ, "PYTHONPATH": ROOT, "NO_GCE_CHECK": "true"}
        _warm_up(cluster, env)
        with tempfile.TemporaryDirectory() as store:
            bare, run = bench(cluster, servers, topic, args.records, store, env)
        report(args.records, bare, run)
    finally:
        node.stop()
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
