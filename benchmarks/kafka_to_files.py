"""Throughput of ``beamconnect run`` (Kafka -> Parquet, DirectRunner) against a bare consumer.

Produces N (default 1,000,000) ~200-byte JSON records into a 4-partition topic, then, in the same run,
times as whole processes:
  (a) a bare confluent-kafka consumer reading every record (``consume(10000)`` loop): the ceiling;
  (b) ``python -m pipelines run`` writing them as Parquet on DirectRunner;
  (c) with --prism, the same run on Beam's Prism runner (it rewrites the same files);
  (d) the same run as (b) with a chain of three single-message transforms (ReplaceField renaming two
      fields, InsertField adding the topic and offset, Cast of two fields), as another connector:
      every field is still written, two more per record.
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
(b), (d), (e), (h) and (i) run in turn --rounds times (default 2); the best of each counts.
Prints the rates in records/s, the ratios to (a), how far (d) stays from (b), and peak memory.

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

import harness

ROOT = harness.ROOT
sys.path.insert(0, ROOT)

PARTITIONS = 4

BARE_CONSUMER = r"""
import sys, time
from confluent_kafka import Consumer, TopicPartition
servers, topic, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Consumer({"bootstrap.servers": servers, "group.id": "bench-bare", "enable.auto.commit": False,
              "enable.partition.eof": True, "fetch.queue.backoff.ms": 10,
              "queued.min.messages": 200000})
ends = {}
for p in range(partitions):
    ends[p] = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
n, done = 0, set(p for p, e in ends.items() if e == 0)
while len(done) < partitions:
    for m in c.consume(10000, timeout=1.0):
        if m.error() is None:
            n += 1
            if m.offset() + 1 >= ends[m.partition()]:
                done.add(m.partition())
        elif m.offset() >= ends[m.partition()]:
            done.add(m.partition())
c.close()
print(n)
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
             "from fastavro import schemaless_reader as read\nparsed = parse_schema(json.loads(sys.argv[4]))")


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


def _check_written(out: str, expected: int) -> None:
    import pyarrow.parquet as pq
    written = sum(pq.ParquetFile(os.path.join(d, n)).metadata.num_rows
                  for d, _, names in os.walk(out) for n in names)
    if written != expected:
        raise SystemExit("beamconnect wrote %d records, expected %d" % (written, expected))


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
            url: str = "") -> str:
    """Writes a files connector's properties (schemaless JSON to Parquet) for ``store/out`` (or
    ``url``); returns the path."""
    path = os.path.join(store, name + ".properties")
    with open(path, "w") as f:
        f.write("name=%s\nconnector.class=files\ntopics=%s\n"
                "key.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n"
                "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
                "value.converter.schemas.enable=false\nstore.url=%s\nformat.class=parquet\n"
                "flush.size=%d\n%s" % (name, topic, url or os.path.join(store, out), flush_size, extra))
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
                        help="runs of each pipeline variant, in turn; the best of each counts")
    args = parser.parse_args()

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

        bare = []
        for _ in range(2 if args.avro else 1):  # with --avro, the best of two like (f) and (g)
            bare_wall, bare_mem, out = harness.timed([sys.executable, "-c", BARE_CONSUMER, servers,
                                                      topic, str(PARTITIONS)], env)
            if int(out.strip()) != args.records:
                raise SystemExit("bare consumer read %s records, expected %d" % (out.strip(), args.records))
            bare.append((bare_wall, bare_mem))
        bare_wall, bare_mem = min(bare)

        if args.avro:
            registry = harness.Registry().__enter__()
            avro_topic = "bench-avro-%s" % uuid.uuid4().hex[:8]
            t0 = time.perf_counter()
            produce_avro(servers, avro_topic, args.records, registry.url)
            print("produced %d Avro records to %s in %.1fs" % (args.records, avro_topic,
                                                                time.perf_counter() - t0))
            bare_cmd = [sys.executable, "-c", BARE_CONSUMER, servers, avro_topic, str(PARTITIONS)]
            decode_cmd = [sys.executable, "-c", BARE_AVRO_CONSUMER, servers, avro_topic, str(PARTITIONS),
                          AVRO_SCHEMA]
            avro_bare = []
            for cmd in (bare_cmd, decode_cmd):  # the best of two runs each
                timings = []
                for _ in range(2):
                    wall, mem, out = harness.timed(cmd, env)
                    if int(out.strip()) != args.records:
                        raise SystemExit("bare consumer read %s Avro records, expected %d"
                                         % (out.strip(), args.records))
                    timings.append((wall, mem))
                avro_bare.append(min(timings))

        azure = {"azure": _AzureStore, "hdfs": _HdfsStore}[args.store]().__enter__() \
            if args.store != "local" else None
        with tempfile.TemporaryDirectory() as store:
            config = _config(store, "bench-" + topic, topic, "out", args.flush_size)
            smt_config = _config(store, "bench-smt-" + topic, topic, "out-smt", args.flush_size,
                                 SMT_CHAIN)
            # (b) and (d) in turn, twice, each from the earliest offset: the best of each pair of
            # runs, so neither gains from running after the other warmed the broker's page cache
            runs = {"b": [], "d": [], "e": [], "i": []}
            variants = [("b", config, "out", ()), ("d", smt_config, "out-smt", ())]
            if args.metrics:
                variants.append(("i", config, "out", ("--metrics-port", "0")))
            for i in range(args.rounds):
                for key, cfg, out, extra in variants:
                    runs[key].append(harness.timed([sys.executable, "-m", "pipelines", "run", cfg,
                                            "--bootstrap-servers", servers, "--from", "earliest",
                                            *extra], env)[:2])
                    _check_written(os.path.join(store, out), args.records)
                if azure is not None:  # a fresh prefix: every file a new blob, not a replay
                    cfg = _config(store, "bench-az%d-%s" % (i, topic), topic, "", args.flush_size,
                                  azure.keys, url=azure.url("out-%d" % i))
                    runs["e"].append(harness.timed([sys.executable, "-m", "pipelines", "run", cfg,
                                                    "--bootstrap-servers", servers, "--from", "earliest"],
                                                   env)[:2])
                    azure.check_written("out-%d" % i, args.records)
                if args.avro:
                    cfg = harness.write_properties(store, "bench-avro-" + avro_topic, (
                        "name=bench-avro-%s\nconnector.class=files\ntopics=%s\n"
                        "key.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n"
                        "value.converter=io.confluent.connect.avro.AvroConverter\n"
                        "value.converter.schema.registry.url=%s\nstore.url=%s\nformat.class=parquet\n"
                        "flush.size=%d\n" % (avro_topic, avro_topic, registry.url,
                                              os.path.join(store, "out-avro"), args.flush_size)))
                    runs.setdefault("h", []).append(harness.timed(
                        [sys.executable, "-m", "pipelines", "run", cfg, "--bootstrap-servers", servers,
                         "--from", "earliest"], env)[:2])
                    _check_written(os.path.join(store, "out-avro"), args.records)
            run_wall, run_mem = min(runs["b"])
            smt_wall, smt_mem = min(runs["d"])
            if args.prism:
                from pipelines.dev_prism import ensure_prism, prism_args
                prism_wall, prism_mem, _ = harness.timed(
                    [sys.executable, "-m", "pipelines", "run", config, "--bootstrap-servers", servers,
                     "--from", "earliest", *prism_args(ensure_prism())], env)
                _check_written(os.path.join(store, "out"), args.records)

        bare_rate = args.records / bare_wall
        run_rate = args.records / run_wall
        print("(a) bare consumer:        %10.0f records/s  (%.2fs, peak %.0f MiB)"
              % (bare_rate, bare_wall, bare_mem))
        print("(b) beamconnect -> parquet: %8.0f records/s  (%.2fs, peak %.0f MiB)"
              % (run_rate, run_wall, run_mem))
        print("ratio b/a: %.2f" % (run_rate / bare_rate))
        smt_rate = args.records / smt_wall
        print("(d) with 3 SMTs -> parquet: %8.0f records/s  (%.2fs, peak %.0f MiB)  d/a: %.2f"
              % (smt_rate, smt_wall, smt_mem, smt_rate / bare_rate))
        print("SMT chain: d/a is %.0f%% of b/a" % (100.0 * smt_rate / run_rate))
        if args.metrics:
            metrics_wall, metrics_mem = min(runs["i"])
            metrics_rate = args.records / metrics_wall
            print("(i) with --metrics-port:   %8.0f records/s  (%.2fs, peak %.0f MiB)  i/b: %.3f"
                  % (metrics_rate, metrics_wall, metrics_mem, metrics_rate / run_rate))
            print("live metrics cost: %.1f%% of (b)'s rate (target: under 3%%)"
                  % (100.0 * (1 - metrics_rate / run_rate)))
        if azure is not None:
            azure_wall, azure_mem = min(runs["e"])
            azure_rate = args.records / azure_wall
            print("(e) beamconnect -> parquet in %s: %8.0f records/s  (%.2fs, peak %.0f MiB)  "
                  "e/a: %.2f"
                  % (azure.label, azure_rate, azure_wall, azure_mem, azure_rate / bare_rate))
            print("%s: e/a is %.0f%% of the local-disk b/a" % (azure.label, 100.0 * azure_rate / run_rate))
        if args.avro:
            (f_wall, f_mem), (g_wall, g_mem) = avro_bare
            h_wall, h_mem = min(runs["h"])
            f_rate, g_rate, h_rate = (args.records / w for w in (f_wall, g_wall, h_wall))
            print("(f) bare consumer, Avro topic:   %10.0f records/s  (%.2fs, peak %.0f MiB)"
                  % (f_rate, f_wall, f_mem))
            print("(g) bare consumer + fastavro:    %10.0f records/s  (%.2fs, peak %.0f MiB)  g/f: %.2f"
                  % (g_rate, g_wall, g_mem, g_rate / f_rate))
            print("(h) beamconnect Avro -> parquet: %10.0f records/s  (%.2fs, peak %.0f MiB)  h/f: %.2f"
                  "  h/g: %.2f" % (h_rate, h_wall, h_mem, h_rate / f_rate, h_rate / g_rate))
            print("Avro with a registry: h/f is %.0f%% of the schemaless JSON b/a (target: at least 70%%)"
                  % (100.0 * (h_rate / f_rate) / (run_rate / bare_rate)))
        if args.prism:
            prism_rate = args.records / prism_wall
            print("(c) same on Prism:          %8.0f records/s  (%.2fs, peak %.0f MiB)  c/a: %.2f"
                  % (prism_rate, prism_wall, prism_mem, prism_rate / bare_rate))
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
