"""Throughput of ``beamconnect run`` into document and wide-column stores against a bare client of each.

Produces N (default 1,000,000) ~200-byte JSON records into a 4-partition topic, then, in the same run,
times as whole processes, for each store:
  (a) a bare client writing the same N rows, generated in that process;
  (b) ``python -m pipelines run`` reading the topic and writing every record, checked to have written N.

- MongoDB (FerretDB 1.24 on SQLite, the suite's launcher): (a) one pymongo client, ``insert_many`` of
  ``FLUSH_SIZE`` documents at a time, ordered, the documents the sink writes (the JSON fields, ``_id``
  ``<topic>#<partition>#<offset>`` and the ``__kafka`` coordinates), partition by partition in offset
  order as the sink's bundles hold them (FerretDB's speed depends on the order of its index inserts:
  in record order, interleaving the partitions, the same client is about half as fast); (b) the MongoDB sink with
  ``document.id.strategy=KafkaMetaData`` and ``writemodel.strategy=InsertOne`` (inserts, as the bare
  client does; a replay would skip what is there), schemaless JSON values. (a) and (b) run in turn,
  twice, each into a new database, and the best of each counts.
- Cassandra (5.0, the suite's launcher, full JIT, the default periodic commit log sync): (a) one ``cassandra-driver`` session, the sink's
  prepared ``INSERT ... USING TIMESTAMP ?`` of the same rows run by ``execute_concurrent`` with 500 in
  flight (``maxConcurrentRequests``' default); (b) the DataStax-keyed sink (``id=value.id, ...``), every
  row its own partition (so no batches, on either side). The node is warmed up first by 50,000 writes
  of the bare client to a table of their own.

Prints both rates in records/s, each process's peak memory (its maximum resident set, measured by a small
parent of its own) and the ratio b/a (the project's target: 0.5).

    .venv/bin/python benchmarks/kafka_to_documents.py [--records N] [--only mongodb|cassandra]

A store is one function ``bench_<store>(servers, topic, records, store_dir, env) -> (bare, run)`` in
:data:`STORES`. A local Kafka broker and each store's server
(the suite's own launchers) are started and stopped; FerretDB is built from its Go module on first use.
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
FLUSH_SIZE = 20_000

# The payloads every side writes: record i's key and JSON value (~200 bytes), the same in every process.
PAYLOADS = r"""
def payload(i):
    key = b"user-%07d" % i
    value = (b'{"id":%d,"user":"user-%07d","event":"%s","amount":%d.%02d,"ts":%d,'
             b'"country":"%s","agent":"Mozilla/5.0 (X11; Linux x86_64)","path":"/shop/item/%d"}'
             % (i, i, (b"view", b"click", b"purchase", b"signup")[i % 4], i % 1000, i % 100,
                1767225600000 + i, (b"DE", b"FR", b"US", b"JP", b"BR")[i % 5], i % 5000))
    return key, value


def payloads(count):
    for i in range(count):
        yield payload(i)
"""

# Record i goes to partition i % 4 at offset i // 4: the documents the sink makes of it, in the order
# its bundles hold them (a partition's offsets in order, FLUSH_SIZE at a time): the order of the _id
# index inserts weighs on FerretDB's speed.
BARE_MONGODB = PAYLOADS + r"""
import json, sys
import pymongo
uri, database, topic, count, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
collection = pymongo.MongoClient(uri)[database][topic]
documents = []
for partition in range(4):
    for offset, i in enumerate(range(partition, count, 4)):
        document = json.loads(payload(i)[1])
        document["_id"] = "%s#%d#%d" % (topic, partition, offset)
        document["__kafka"] = {"topic": topic, "partition": partition, "offset": offset}
        documents.append(document)
        if len(documents) == batch:
            collection.insert_many(documents, ordered=True)
            documents = []
    if documents:
        collection.insert_many(documents, ordered=True)
        documents = []
print(collection.estimated_document_count())
"""


def bench_mongodb(servers: str, topic: str, records: int, store: str, env: dict) -> tuple:
    """(a) and (b) in turn, twice, each into a database of its own; the best of each counts."""
    import pymongo

    from tests.servers.ferretdb import LocalFerretDB

    server = LocalFerretDB().start()
    try:
        bares, runs = [], []
        for attempt in (1, 2):
            bare_db, sink_db = "bench_bare%d" % attempt, "bench_sink%d" % attempt
            bare = harness.timed_alone([sys.executable, "-c", BARE_MONGODB, server.uri, bare_db, topic,
                                        str(records), str(FLUSH_SIZE)], env)
            if int(bare[2].split()[-1]) != records:
                raise SystemExit("the bare client wrote %s documents, expected %d" % (bare[2], records))
            name = "bench-mongodb-%d-%s" % (attempt, topic)
            config = harness.write_properties(store, name, (
                "name=%s\nconnector.class=com.mongodb.kafka.connect.MongoSinkConnector\ntopics=%s\n"
                "connection.uri=%s\ndatabase=%s\n"
                "key.converter=org.apache.kafka.connect.storage.StringConverter\n"
                "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
                "value.converter.schemas.enable=false\n"
                "document.id.strategy=com.mongodb.kafka.connect.sink.processor.id.strategy."
                "KafkaMetaDataStrategy\n"
                "writemodel.strategy=com.mongodb.kafka.connect.sink.writemodel.strategy."
                "InsertOneDefaultStrategy\nflush.size=%d\n"
                % (name, topic, server.uri, sink_db, FLUSH_SIZE)))
            run = harness.timed_alone([sys.executable, "-m", "pipelines", "run", config,
                                       "--bootstrap-servers", servers], env)
            _check_documents(pymongo.MongoClient(server.uri), bare_db, sink_db, topic, records)
            print("mongodb attempt %d: bare %.1fs, beamconnect %.1fs" % (attempt, bare[0], run[0]),
                  flush=True)
            bares.append(bare)
            runs.append(run)
        return min(bares), min(runs)
    finally:
        server.stop()


def _check_documents(client, bare_db: str, sink_db: str, topic: str, records: int) -> None:
    """The sink wrote every record, each as the bare client's document (the producer may have
    reordered records within a partition, so offsets, and the ids made of them, may differ)."""
    written = client[sink_db][topic].count_documents({})
    mine, theirs = (client[db][topic].find_one({"id": 1}, {"_id": 0, "__kafka": 0})
                    for db in (sink_db, bare_db))
    client.close()
    if written != records or mine != theirs:
        raise SystemExit("the MongoDB sink wrote %d documents (expected %d)%s"
                         % (written, records, "" if mine == theirs else ", not the bare client's"))


# Record i as the Cassandra sink writes it (its columns, and the write time: the Kafka timestamp is
# the produce time, which the bare client cannot know, so it writes at the value's ts instead).
BARE_CASSANDRA = PAYLOADS + r"""
import json, sys
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster
from cassandra.concurrent import execute_concurrent
host, port, user, password, table, count = sys.argv[1:7]
cluster = Cluster([host], port=int(port), auth_provider=PlainTextAuthProvider(user, password),
                  protocol_version=5)
session = cluster.connect()
insert = session.prepare("INSERT INTO bench.%s (id, user, event, amount, ts, country, agent, path) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?" % table)
def rows():
    for key, value in payloads(int(count)):
        d = json.loads(value)
        yield insert, (d["id"], d["user"], d["event"], d["amount"], d["ts"], d["country"], d["agent"],
                       d["path"], d["ts"] * 1000)
failed = [r for ok, r in execute_concurrent(session, rows(), concurrency=500, raise_on_first_error=False,
                                            results_generator=True) if not ok]
print(len(failed))
cluster.shutdown()
"""
CASSANDRA_COLUMNS = ("id bigint PRIMARY KEY, user text, event text, amount double, ts bigint, "
                     "country text, agent text, path text")


def bench_cassandra(servers: str, topic: str, records: int, store: str, env: dict) -> tuple:
    from tests.servers.cassandra import CassandraServer

    server = CassandraServer(quick_start=False, group_sync=False).start(timeout=300)
    try:
        cassandra = server.cluster
        cluster, session = cassandra.connect(timeout=600)
        session.execute("CREATE KEYSPACE bench WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}")
        for table in ("warm_events", "bare_events", "sink_events"):
            session.execute("CREATE TABLE bench.%s (%s)" % (table, CASSANDRA_COLUMNS))
        # the node's JIT warms up on writes of its own first, so that neither side pays for it
        harness.timed_alone([sys.executable, "-c", BARE_CASSANDRA, cassandra.host, str(cassandra.port),
                             cassandra.user, cassandra.password, "warm_events", str(min(records, 50_000))],
                            env)
        bare = harness.timed_alone([sys.executable, "-c", BARE_CASSANDRA, cassandra.host,
                                    str(cassandra.port), cassandra.user, cassandra.password,
                                    "bare_events", str(records)], env)
        if bare[2].split()[-1] != "0":
            raise SystemExit("the bare client failed %s writes" % bare[2].split()[-1])
        name = "bench-cassandra-" + topic
        config = harness.write_properties(store, name, (
            "name=%s\nconnector.class=com.datastax.oss.kafka.sink.CassandraSinkConnector\ntopics=%s\n"
            "contactPoints=%s\nport=%d\nloadBalancing.localDc=%s\nauth.username=%s\n"
            "auth.password=%s\nkey.converter=org.apache.kafka.connect.storage.StringConverter\n"
            "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
            "value.converter.schemas.enable=false\nflush.size=%d\n"
            "topic.%s.bench.sink_events.mapping=id=value.id, user=value.user, event=value.event, "
            "amount=value.amount, ts=value.ts, country=value.country, agent=value.agent, path=value.path\n"
            % (name, topic, cassandra.host, cassandra.port, cassandra.local_dc, cassandra.user,
               cassandra.password, FLUSH_SIZE, topic)))
        run = harness.timed_alone([sys.executable, "-m", "pipelines", "run", config,
                                   "--bootstrap-servers", servers], env)
        counts = [_count(session, "bench." + t) for t in ("bare_events", "sink_events")]
        select = "SELECT id, user, event, amount, ts, country, agent, path FROM bench.%s WHERE id = 1"
        same = session.execute(select % "bare_events").one() == session.execute(select % "sink_events").one()
        cluster.shutdown()
        if counts != [records, records] or not same:
            raise SystemExit("Cassandra holds %d bare and %d sink rows (expected %d)%s"
                             % (counts[0], counts[1], records, "" if same else ", not the same rows"))
        return bare, run
    finally:
        server.stop()


def _count(session, table: str, pieces: int = 256) -> int:
    """The rows of ``table``, counted range by range of the token ring (one ``COUNT(*)`` of a
    million rows runs past the node's range read timeout)."""
    low, step = -(2 ** 63), 2 ** 64 // pieces
    total = 0
    for i in range(pieces):
        start, end = low + i * step, (2 ** 63 - 1 if i == pieces - 1 else low + (i + 1) * step)
        total += session.execute("SELECT COUNT(*) FROM %s WHERE token(id) >= %d AND token(id) < %d"
                                 % (table, start, end) if i < pieces - 1 else
                                 "SELECT COUNT(*) FROM %s WHERE token(id) >= %d" % (table, start),
                                 timeout=120).one()[0]
    return total


#: Each store's benchmark, by the name ``--only`` takes.
STORES = {"mongodb": ("pymongo insert_many", bench_mongodb),
          "cassandra": ("execute_concurrent", bench_cassandra)}


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
    parser.add_argument("--only", choices=sorted(STORES))
    args = parser.parse_args()

    from pipelines.dev_kafka import LocalKafka

    kinds = [args.only] if args.only else sorted(STORES)
    broker = LocalKafka().start()
    try:
        servers = broker.bootstrap_servers
        topic = "bench-%s" % uuid.uuid4().hex[:8]
        t0 = time.perf_counter()
        harness.produce_payloads(servers, topic, PARTITIONS, PAYLOADS, args.records)
        print("produced %d records to %s in %.1fs" % (args.records, topic, time.perf_counter() - t0))
        env = {**os.environ, "PYTHONPATH": ROOT, "NO_GCE_CHECK": "true"}
        with tempfile.TemporaryDirectory() as store:
            for kind in kinds:
                what, bench = STORES[kind]
                bare, run = bench(servers, topic, args.records, store, env)
                report(kind, what, args.records, bare, run)
    finally:
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
