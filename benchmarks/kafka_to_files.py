"""Throughput of ``beamconnect run`` (Kafka -> files, DirectRunner) against a bare consumer.

Produces N (default 1,000,000) ~170-byte JSON records into a 4-partition topic, then, in the same run,
times as whole processes:
  (a) a bare confluent-kafka consumer reading every record (``consume(10000)`` loop): the ceiling;
  (c) a hand-written confluent-kafka -> ``pyarrow.json`` -> Parquet script: each partition consumed in
      turn, every ``--flush-size`` records joined with newlines, read by ``pyarrow.json.read_json`` and
      written by ``pyarrow.parquet.write_table``: what Beam and the connector add is b/c;
  (b) ``python -m pipelines run`` writing them as Parquet on DirectRunner;
  (j) the same run writing JSON lines (``format.class=json``);
  (v) the same run writing Avro files (``format.class=avro``);
  (d) the same run as (b) with a chain of three single-message transforms (ReplaceField renaming two
      fields, InsertField adding the topic and offset, Cast of two fields), as another connector:
      every field is still written, two more per record.
  (t) the same run as (b) with tasks.max=2: two SDK worker processes reading work items;
  (k) the same run as (b) on Beam's Dask runner, a local cluster of two worker processes started by
      the run (``--runner DaskRunner``, tasks.max=2).
  (p) with --prism, the same run as (b) on Beam's Prism runner (it rewrites the same files);
  (e) with --store azure, the same run as (b) into Azure Blob Storage: a new container in the account
      AZURE_STORAGE_CONNECTION_STRING names, else in a local Azurite (the tests' server), a fresh prefix
      per run so that every file is a new blob; with --store hdfs, into HDFS (a local MiniDFSCluster,
      the tests' server, or the namenode BEAMCONNECT_WEBHDFS_URL names) through an hdfs:// store.url
      and a hadoop.conf.dir, a fresh directory per run.
  (f)-(h) with --avro, the same records in a second topic, written by confluent-kafka's AvroSerializer
      against a Schema Registry (the one SCHEMA_REGISTRY_URL names, else the tests' local Apicurio
      Registry, started and stopped here): (f) the bare consumer on that topic, (g) the bare consumer
      decoding each value with fastavro (the schema fetched once), (h) ``python -m pipelines run`` with
      value.converter=io.confluent.connect.avro.AvroConverter writing Parquet. h/f is compared with b/a,
      the schemaless JSON run's ratio in the same run (the target: h/f within 30% of b/a).
  (i) with --metrics, the same run as (b) serving --metrics-port (Prometheus metrics and the status
      page, scraped by nobody): its rate against (b)'s, interleaved with (b) (target: under 3% slower).
(a), (c), (b), (j), (v), (d), (t), (k), (e), (h) and (i) run in turn --rounds times (default 2); the best of each
counts. Each process is measured alone (harness.timed_alone), so its peak RSS is its own. Prints, for
each case, the rate in records/s, the ratios to (a) and to (c), the start-up time (a whole-process run
of the same case with --max-records 4, into other files) and the peak RSS (the largest of its rounds).

    .venv/bin/python benchmarks/kafka_to_files.py [--records N] [--bootstrap-servers HOST:PORT]
                                                  [--store azure|hdfs] [--avro] [--metrics]

Without --bootstrap-servers (or KAFKA_BOOTSTRAP_SERVERS) a local broker is started and stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import shutil
import sys
import tempfile
import time
import uuid
from typing import Optional

import harness

ROOT = harness.ROOT
sys.path.insert(0, ROOT)

PARTITIONS = 4

BARE_CONSUMER = r"""
import sys, time
from confluent_kafka import Consumer, TopicPartition
servers, topic, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
limit = int(sys.argv[4]) if len(sys.argv) > 4 else 0  # 0: every record
c = Consumer({"bootstrap.servers": servers, "group.id": "bench-bare", "enable.auto.commit": False,
              "enable.partition.eof": True, "fetch.queue.backoff.ms": 10,
              "queued.min.messages": 200000})
ends = {}
for p in range(partitions):
    ends[p] = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
n, done = 0, set(p for p, e in ends.items() if e == 0)
total = min(sum(ends.values()), limit or sum(ends.values()))
while len(done) < partitions and n < total:
    # asking for no more than is left: consume() returns once it has them, not after its timeout
    for m in c.consume(min(10000, total - n), timeout=1.0):
        if m.error() is None:
            n += 1
            if m.offset() + 1 >= ends[m.partition()]:
                done.add(m.partition())
        elif m.offset() >= ends[m.partition()]:
            done.add(m.partition())
c.close()
print(n)
"""

# (c): what a hand-written job does with the same records: each partition in turn, a Parquet file per
# window of flush-size records, the values read by pyarrow.json (types inferred, as the sink does for
# schemaless JSON). Arguments: servers, topic, partitions, output directory, flush size, max records
# (0: all).
HANDWRITTEN = r"""
import io, os, sys
import pyarrow.json as pj
import pyarrow.parquet as pq
from confluent_kafka import Consumer, TopicPartition
servers, topic, partitions, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
flush, limit = int(sys.argv[5]), int(sys.argv[6])
# fetch.wait.max.ms: a fetch left waiting at a partition's end would hold up the next one for 500 ms
c = Consumer({"bootstrap.servers": servers, "group.id": "bench-handwritten", "enable.auto.commit": False,
              "enable.partition.eof": True, "fetch.queue.backoff.ms": 10,
              "queued.min.messages": 200000, "fetch.wait.max.ms": 10})
total = 0

def write(p, first, values):
    table = pj.read_json(io.BytesIO(b"\n".join(values)))
    pq.write_table(table, os.path.join(out, "%s+%d+%010d.snappy.parquet" % (topic, p, first)))

for p in range(partitions):
    end = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
    if limit:
        end = min(end, limit - total)
    if end <= 0:
        continue
    c.assign([TopicPartition(topic, p, 0)])
    values, first, offset = [], 0, -1
    while offset + 1 < end:  # asking for no more than is left: consume() returns once it has them
        for m in c.consume(min(10000, end - offset - 1), timeout=1.0):
            if m.error() is not None or m.offset() >= end:
                continue
            offset = m.offset()
            values.append(m.value())
            if len(values) == flush:
                write(p, first, values)
                values, first = [], offset + 1
    if values:
        write(p, first, values)
    total += end
c.close()
print(total)
"""


def _value(rng: random.Random, i: int) -> bytes:
    record = {"id": i, "user": "user-%06d" % rng.randrange(1_000_000), "event": rng.choice(
        ["view", "click", "purchase", "signup"]), "amount": round(rng.uniform(0, 1000), 2),
        "ts": 1_767_225_600_000 + i, "country": rng.choice(["DE", "FR", "US", "JP", "BR"]),
        "tags": "a,b,c", "payload": "x" * rng.randrange(20, 40)}
    return json.dumps(record, separators=(",", ":")).encode()


def produce(servers: str, topic: str, count: int) -> None:
    rng = random.Random(1)
    harness.produce(servers, topic, PARTITIONS,
                    ((_value(rng, i), i % PARTITIONS) for i in range(count)))


AVRO_SCHEMA = json.dumps({
    "type": "record", "name": "Event", "namespace": "bench", "fields": [
        {"name": "id", "type": "long"}, {"name": "user", "type": "string"},
        {"name": "event", "type": "string"}, {"name": "amount", "type": "double"},
        {"name": "ts", "type": "long"}, {"name": "country", "type": "string"},
        {"name": "tags", "type": "string"}, {"name": "payload", "type": "string"}]})

BARE_AVRO_CONSUMER = BARE_CONSUMER.replace("n += 1", "n += 1; read(io.BytesIO(m.value()[5:]), parsed)") \
    .replace("import sys, time", "import io, json, sys, time\nfrom fastavro import parse_schema\n"
             "from fastavro import schemaless_reader as read\nparsed = parse_schema(json.loads(sys.argv[5]))")


def produce_avro(servers: str, topic: str, count: int, registry_url: str) -> None:
    """The records of :func:`produce` (the same values), written by AvroSerializer to ``topic``."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    serialize = AvroSerializer(SchemaRegistryClient({"url": registry_url}), AVRO_SCHEMA)
    context = SerializationContext(topic, MessageField.VALUE)
    rng = random.Random(1)
    harness.produce(servers, topic, PARTITIONS,
                    ((serialize(json.loads(_value(rng, i)), context), i % PARTITIONS)
                     for i in range(count)))


def _count(path: str) -> int:
    """Records in one written file (Parquet, JSON lines or Avro, by its name)."""
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq
        return pq.ParquetFile(path).metadata.num_rows
    if path.endswith(".avro"):
        import fastavro
        with open(path, "rb") as f:
            return sum(block.num_records for block in fastavro.block_reader(f))
    with open(path, "rb") as f:
        return f.read().count(b"\n")


def _check_written(out: str, expected: int) -> None:
    written = sum(_count(os.path.join(d, n)) for d, _, names in os.walk(out) for n in names)
    if written != expected:
        raise SystemExit("%s holds %d records, expected %d" % (out, written, expected))


TWO_TASKS = "tasks.max=2\n"
# a local Dask cluster of tasks.max workers, started by the run (its start is part of the run's time)
DASK = ("--runner", "DaskRunner")

SMT_CHAIN = """transforms=rename,add,cast
transforms.rename.type=org.apache.kafka.connect.transforms.ReplaceField$Value
transforms.rename.renames=user:user_name,country:country_code
transforms.add.type=org.apache.kafka.connect.transforms.InsertField$Value
transforms.add.topic.field=source_topic
transforms.add.offset.field=source_offset
transforms.cast.type=org.apache.kafka.connect.transforms.Cast$Value
transforms.cast.spec=amount:float32,id:int32
"""


def _config(store: str, name: str, topic: str, out: str, flush_size: int, extra: str = "",
            url: str = "", fmt: str = "parquet") -> str:
    """Writes a files connector's properties (schemaless JSON to ``fmt`` files) for ``store/out`` (or
    ``url``); returns the path."""
    path = os.path.join(store, name + ".properties")
    with open(path, "w") as f:
        f.write("name=%s\nconnector.class=files\ntopics=%s\n"
                "key.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n"
                "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
                "value.converter.schemas.enable=false\nstore.url=%s\nformat.class=%s\n"
                "flush.size=%d\n%s" % (name, topic, url or os.path.join(store, out), fmt, flush_size,
                                       extra))
    return path


class _AzureStore:
    """--store azure: a new container in the account AZURE_STORAGE_CONNECTION_STRING names, or in a
    local Azurite started for the run; removed afterwards."""

    label = "Azure Blob"

    def __enter__(self) -> "_AzureStore":
        from tests.servers.azurite import CONNECTION_STRING_VARIABLE, AzureAccount, LocalAzurite

        connection = os.environ.get(CONNECTION_STRING_VARIABLE)
        self._server = None if connection else LocalAzurite().start()
        account = AzureAccount.from_connection_string(connection) if connection else self._server.account
        self.keys = "azblob.connection.string=%s\n" % account.connection_string
        self.name = "bench-%s" % uuid.uuid4().hex[:8]
        self.container = account.service().create_container(self.name)
        return self

    def url(self, prefix: str) -> str:
        return "az://%s/%s" % (self.name, prefix)

    def check_written(self, prefix: str, expected: int) -> None:
        import io
        import pyarrow.parquet as pq
        blobs = self.container.list_blobs(name_starts_with=prefix + "/")
        written = sum(pq.ParquetFile(io.BytesIO(self.container.download_blob(b.name).readall()))
                      .metadata.num_rows for b in blobs)
        if written != expected:
            raise SystemExit("beamconnect wrote %d records to Azure, expected %d" % (written, expected))

    def __exit__(self, *exc_info) -> None:
        self.container.delete_container()
        if self._server is not None:
            self._server.stop()


class _HdfsStore:
    """--store hdfs: a new directory in the HDFS BEAMCONNECT_WEBHDFS_URL names, or in a local
    MiniDFSCluster started for the run; removed afterwards."""

    label = "HDFS"

    def __enter__(self) -> "_HdfsStore":
        from tests.servers.hdfs import LocalHdfs, conf_dir, from_environment

        self.hdfs = from_environment()
        self._server = None if self.hdfs else LocalHdfs(quick_start=False).start(timeout=180)
        self.hdfs = self.hdfs or self._server.hdfs
        self._conf = tempfile.mkdtemp(prefix="bench-hadoop-")
        self.keys = "hadoop.conf.dir=%s\n" % conf_dir(pathlib.Path(self._conf), self.hdfs)
        self.name = "/bench-%s" % uuid.uuid4().hex[:8]
        return self

    def url(self, prefix: str) -> str:
        return "%s%s/%s" % (self.hdfs.rpc or "hdfs://", self.name, prefix)

    def check_written(self, prefix: str, expected: int) -> None:
        import io
        import pyarrow.parquet as pq
        directory = "%s/%s" % (self.name, prefix)
        written = sum(pq.ParquetFile(io.BytesIO(self.hdfs.read("%s/%s" % (directory, name))))
                      .metadata.num_rows for name in self.hdfs.files(directory))
        if written != expected:
            raise SystemExit("beamconnect wrote %d records to HDFS, expected %d" % (written, expected))

    def __exit__(self, *exc_info) -> None:
        self.hdfs.delete(self.name)
        shutil.rmtree(self._conf, ignore_errors=True)
        if self._server is not None:
            self._server.stop()


def _report(label: str, records: int, wall: float, peak: float, start: Optional[float],
            bare: float, handwritten: float, extra: str = "") -> None:
    rate = records / wall
    print("%-34s %9.0f records/s  %5.2f of (a)  %5.2f of (c)  start-up %s  peak %4.0f MiB%s"
          % (label, rate, bare / wall, handwritten / wall,
             "%5.2fs" % start if start is not None else "    - ", peak, extra))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    parser.add_argument("--flush-size", type=int, default=100_000)
    parser.add_argument("--store", choices=("local", "azure", "hdfs"), default="local",
                        help="also time the run into this store (local: only the local-disk runs)")
    parser.add_argument("--prism", action="store_true",
                        help="also time the run on Beam's Prism runner (built by ./dev test)")
    parser.add_argument("--avro", action="store_true",
                        help="also time Avro values from a Schema Registry (AvroConverter) and its bare "
                             "baselines")
    parser.add_argument("--metrics", action="store_true",
                        help="also time (b) with --metrics-port, for the cost of the live metrics")
    parser.add_argument("--rounds", type=int, default=2,
                        help="runs of each variant, in turn; the best of each counts")
    args = parser.parse_args()

    harness.compile_project()
    broker = azure = registry = None
    servers = args.bootstrap_servers
    if not servers:
        from pipelines.dev_kafka import LocalKafka
        broker = LocalKafka().start()
        servers = broker.bootstrap_servers
    try:
        topic = "bench-%s" % uuid.uuid4().hex[:8]
        t0 = time.perf_counter()
        produce(servers, topic, args.records)
        print("produced %d records to %s in %.1fs" % (args.records, topic, time.perf_counter() - t0))
        env = {**os.environ, "PYTHONPATH": ROOT, "NO_GCE_CHECK": "true"}

        if args.avro:
            registry = harness.Registry().__enter__()
            avro_topic = "bench-avro-%s" % uuid.uuid4().hex[:8]
            t0 = time.perf_counter()
            produce_avro(servers, avro_topic, args.records, registry.url)
            print("produced %d Avro records to %s in %.1fs" % (args.records, avro_topic,
                                                                time.perf_counter() - t0))
            bare_cmd = [sys.executable, "-c", BARE_CONSUMER, servers, avro_topic, str(PARTITIONS)]
            decode_cmd = [sys.executable, "-c", BARE_AVRO_CONSUMER, servers, avro_topic, str(PARTITIONS),
                          "0", AVRO_SCHEMA]
            avro_bare = []
            for cmd in (bare_cmd, decode_cmd):  # the best of two runs each
                timings = []
                for _ in range(2):
                    wall, mem, out = harness.timed_alone(cmd, env)
                    if int(out.strip()) != args.records:
                        raise SystemExit("bare consumer read %s Avro records, expected %d"
                                         % (out.strip(), args.records))
                    timings.append((wall, mem))
                avro_bare.append((min(t[0] for t in timings), max(t[1] for t in timings)))

        azure = {"azure": _AzureStore, "hdfs": _HdfsStore}[args.store]().__enter__() \
            if args.store != "local" else None
        with tempfile.TemporaryDirectory() as store:
            def run(cfg: str, *extra: str) -> list:
                return [sys.executable, "-m", "pipelines", "run", cfg, "--bootstrap-servers", servers,
                        "--from", "earliest", *extra]

            def bare(limit: int) -> list:
                return [sys.executable, "-c", BARE_CONSUMER, servers, topic, str(PARTITIONS), str(limit)]

            def handwritten(out: str, limit: int) -> list:
                os.makedirs(os.path.join(store, out), exist_ok=True)
                return [sys.executable, "-c", HANDWRITTEN, servers, topic, str(PARTITIONS),
                        os.path.join(store, out), str(args.flush_size), str(limit)]

            def connector(key: str, out: str, fmt: str = "parquet", extra: str = "") -> str:
                return _config(store, "bench-%s-%s" % (key, topic), topic, out, args.flush_size, extra,
                               fmt=fmt)

            # key -> (command, output directory to check, None) and the start-up command
            variants = {
                "a": (bare(0), None, bare(4)),
                "c": (handwritten("out-c", 0), "out-c", handwritten("start-c", 4)),
                "b": (run(connector("b", "out")), "out",
                      run(connector("b0", "start-b"), "--max-records", "4")),
                "j": (run(connector("j", "out-j", "json")), "out-j",
                      run(connector("j0", "start-j", "json"), "--max-records", "4")),
                "v": (run(connector("v", "out-v", "avro")), "out-v",
                      run(connector("v0", "start-v", "avro"), "--max-records", "4")),
                "d": (run(connector("d", "out-smt", extra=SMT_CHAIN)), "out-smt",
                      run(connector("d0", "start-d", extra=SMT_CHAIN), "--max-records", "4")),
                "t": (run(connector("t", "out-t", extra=TWO_TASKS)), "out-t",
                      run(connector("t0", "start-t", extra=TWO_TASKS), "--max-records", "4")),
                "k": (run(connector("k", "out-k", extra=TWO_TASKS), *DASK), "out-k",
                      run(connector("k0", "start-k", extra=TWO_TASKS), "--max-records", "4", *DASK)),
            }
            if args.metrics:
                variants["i"] = (run(connector("i", "out-i"), "--metrics-port", "0"), "out-i", None)
            if args.avro:
                cfg = harness.write_properties(store, "bench-avro-" + avro_topic, (
                    "name=bench-avro-%s\nconnector.class=files\ntopics=%s\n"
                    "key.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n"
                    "value.converter=io.confluent.connect.avro.AvroConverter\n"
                    "value.converter.schema.registry.url=%s\nstore.url=%s\nformat.class=parquet\n"
                    "flush.size=%d\n" % (avro_topic, avro_topic, registry.url,
                                          os.path.join(store, "out-avro"), args.flush_size)))
                variants["h"] = (run(cfg), "out-avro", None)
            # every variant in turn, --rounds times, each from the earliest offset: the best of each,
            # so that none gains from running after another warmed the broker's page cache
            runs = {key: [] for key in [*variants, "e"]}
            for i in range(args.rounds):
                for key, (cmd, out, _) in variants.items():
                    wall, mem, printed = harness.timed_alone(cmd, env)
                    if out is None and int(printed.strip()) != args.records:
                        raise SystemExit("bare consumer read %s records, expected %d"
                                         % (printed.strip(), args.records))
                    if out is not None:
                        _check_written(os.path.join(store, out), args.records)
                    runs[key].append((wall, mem))
                if azure is not None:  # a fresh prefix: every file a new blob, not a replay
                    cfg = _config(store, "bench-az%d-%s" % (i, topic), topic, "", args.flush_size,
                                  azure.keys, url=azure.url("out-%d" % i))
                    runs["e"].append(harness.timed_alone(run(cfg), env)[:2])
                    azure.check_written("out-%d" % i, args.records)
            starts = {key: harness.timed_alone(start, env)[0]
                      for key, (_, _, start) in variants.items() if start is not None}
            if args.prism:
                from pipelines.dev_prism import ensure_prism, prism_args
                runs["p"] = [harness.timed_alone(run(connector("p", "out-p"), *prism_args(ensure_prism())),
                                                 env)[:2]]
                _check_written(os.path.join(store, "out-p"), args.records)

        best = {key: (min(w for w, _ in timings), max(m for _, m in timings))
                for key, timings in runs.items() if timings}
        n = args.records
        rate = {key: n / wall for key, (wall, _) in best.items()}
        bare_wall, hand_wall = best["a"][0], best["c"][0]
        labels = [("a", "(a) bare consumer"), ("c", "(c) hand-written -> parquet"),
                  ("b", "(b) beamconnect -> parquet"), ("j", "(j) beamconnect -> json lines"),
                  ("v", "(v) beamconnect -> avro"), ("d", "(d) with 3 SMTs -> parquet"),
                  ("t", "(t) (b) with tasks.max=2"), ("k", "(k) (b) on Dask, 2 workers"),
                  ("i", "(i) (b) with --metrics-port"), ("e", "(e) (b) into %s" % (azure.label if azure else "")),
                  ("p", "(p) (b) on Prism")]
        print("%d records, %d partitions, flush.size=%d, best of %d rounds"
              % (n, PARTITIONS, args.flush_size, args.rounds))
        for key, label in labels:
            if key in best:
                wall, peak = best[key]
                _report(label, n, wall, peak, starts.get(key), bare_wall, hand_wall)
        print("targets: b/c %.2f (>= 0.9); j/b %.2f (>= 0.8), j peak %.0f MiB against b's %.0f; "
              "v/b %.2f (>= 0.5)" % (rate["b"] / rate["c"], rate["j"] / rate["b"], best["j"][1],
                                     best["b"][1], rate["v"] / rate["b"]))
        print("SMT chain: d is %.0f%% of b's rate" % (100.0 * rate["d"] / rate["b"]))
        print("two tasks: t is %.2f times b's rate (target: >= 1.6); on Dask k is %.2f times"
              % (rate["t"] / rate["b"], rate["k"] / rate["b"]))
        if "i" in best:
            print("live metrics cost: %.1f%% of (b)'s rate (target: under 3%%)"
                  % (100.0 * (1 - rate["i"] / rate["b"])))
        if "e" in best:
            print("%s: e is %.0f%% of the local-disk b's rate" % (azure.label, 100.0 * rate["e"] / rate["b"]))
        if args.avro:
            (f_wall, f_mem), (g_wall, g_mem) = avro_bare
            h_wall, h_mem = best["h"]
            f_rate, g_rate, h_rate = (n / w for w in (f_wall, g_wall, h_wall))
            print("(f) bare consumer, Avro topic:   %10.0f records/s  (%.2fs, peak %.0f MiB)"
                  % (f_rate, f_wall, f_mem))
            print("(g) bare consumer + fastavro:    %10.0f records/s  (%.2fs, peak %.0f MiB)  g/f: %.2f"
                  % (g_rate, g_wall, g_mem, g_rate / f_rate))
            print("(h) beamconnect Avro -> parquet: %10.0f records/s  (%.2fs, peak %.0f MiB)  h/f: %.2f"
                  "  h/g: %.2f" % (h_rate, h_wall, h_mem, h_rate / f_rate, h_rate / g_rate))
            print("Avro with a registry: h/f is %.0f%% of the schemaless JSON b/a (target: at least 70%%)"
                  % (100.0 * (h_rate / f_rate) / (rate["b"] / rate["a"])))
    finally:
        if azure is not None:
            azure.__exit__(None, None, None)
        if registry is not None:
            registry.__exit__(None, None, None)
        if broker is not None:
            broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
