"""End to end against the real broker: Kafka -> converters -> Parquet/JSON files -> committed offsets."""

import decimal
import glob
import json
import os
import signal
import subprocess
import time

import pyarrow.parquet as pq
import pytest

from pipelines.cli import main
from pipelines.config.connector import parse_connector_config
from pipelines.dev_prism import prism_args
from tests.helpers import ROOT, cli_command, cli_env
from pipelines.run import RunOptions, run_connector



def _config(topic, servers, store, **overrides):
    raw = {
        "name": "it-%s" % topic,
        "connector.class": "files",
        "topics": topic,
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "store.url": str(store),
        "format.class": "parquet",
        "flush.size": "10",
    }
    raw.update(overrides)
    return raw


def _run(raw, servers, **options):
    config = parse_connector_config(raw, bootstrap_servers=servers)
    return run_connector(config, RunOptions(**options))


def _files(store, topic):
    pattern = os.path.join(str(store), "topics", topic, "partition=*", "*")
    return sorted(os.path.relpath(p, str(store)) for p in glob.glob(pattern))


def _rows(store, topic):
    rows = []
    for path in sorted(glob.glob(os.path.join(str(store), "topics", topic, "partition=*", "*.parquet"))):
        rows.extend(pq.read_table(path).to_pylist())
    return rows


def _records(partition, start, count, extra_every=None):
    for i in range(start, start + count):
        value = {"id": "%d-%d" % (partition, i), "n": i}
        if extra_every and i % extra_every == 0:
            value["extra"] = "x%d" % i
        yield b"k%d" % i, json.dumps(value).encode()


def test_backfill_writes_confluent_layout_commits_and_reruns_idempotently(kafka, tmp_path):
    topic = kafka.topic(partitions=3)
    kafka.produce(topic, _records(0, 0, 25, extra_every=7), partition=0)
    kafka.produce(topic, _records(1, 0, 10), partition=1)
    raw = _config(topic, kafka.servers, tmp_path)

    result = _run(raw, kafka.servers)

    assert _files(tmp_path, topic) == [
        "topics/%s/partition=0/%s+0+0000000000.snappy.parquet" % (topic, topic),
        "topics/%s/partition=0/%s+0+0000000010.snappy.parquet" % (topic, topic),
        "topics/%s/partition=0/%s+0+0000000020.snappy.parquet" % (topic, topic),
        "topics/%s/partition=1/%s+1+0000000000.snappy.parquet" % (topic, topic),
    ]
    last = pq.read_table(os.path.join(tmp_path, _files(tmp_path, topic)[2]))
    assert last.num_rows == 5
    rows = _rows(tmp_path, topic)
    assert [r["id"] for r in rows] == ["0-%d" % i for i in range(25)] + ["1-%d" % i for i in range(10)]
    # schemaless values with a field only some records have: the field is kept, null elsewhere
    assert rows[7]["extra"] == "x7" and rows[8]["extra"] is None
    assert kafka.committed("connect-it-%s" % topic, topic, 3) == {0: 25, 1: 10, 2: 0}
    assert result.records_read == 35 and result.files_written == 4

    mtimes = {f: os.stat(os.path.join(tmp_path, f)).st_mtime_ns for f in _files(tmp_path, topic)}
    again = _run(raw, kafka.servers)
    assert again.records_read == 0 and again.files_written == 0
    assert {f: os.stat(os.path.join(tmp_path, f)).st_mtime_ns for f in _files(tmp_path, topic)} == mtimes

    kafka.produce(topic, _records(1, 10, 4), partition=1)
    _run(raw, kafka.servers)
    new = set(_files(tmp_path, topic)) - set(mtimes)
    assert new == {"topics/%s/partition=1/%s+1+0000000010.snappy.parquet" % (topic, topic)}
    assert [r["id"] for r in pq.read_table(os.path.join(tmp_path, new.pop())).to_pylist()] == [
        "1-10", "1-11", "1-12", "1-13"]
    assert kafka.committed("connect-it-%s" % topic, topic, 3) == {0: 25, 1: 14, 2: 0}


def test_json_lines_with_connect_schemas_and_max_records(kafka, tmp_path):
    topic = kafka.topic(partitions=1)
    schema = {"type": "struct", "optional": False, "fields": [
        {"field": "id", "type": "int64", "optional": False},
        {"field": "day", "type": "int32", "optional": True, "name": "org.apache.kafka.connect.data.Date"},
    ]}
    kafka.produce(topic, [(None, json.dumps({"schema": schema, "payload": {"id": i, "day": 19000 + i}})
                           .encode()) for i in range(8)], partition=0)
    raw = _config(topic, kafka.servers, tmp_path, **{
        "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
        "value.converter.schemas.enable": "true", "flush.size": "3"})

    _run(raw, kafka.servers, max_records=5)

    files = _files(tmp_path, topic)
    assert [os.path.basename(f) for f in files] == [
        "%s+0+0000000000.json" % topic, "%s+0+0000000003.json" % topic]
    lines = [json.loads(line) for f in files for line in open(os.path.join(tmp_path, f))]
    assert lines == [{"id": i, "day": "2022-%s" % d} for i, d in
                     enumerate(["01-08", "01-09", "01-10", "01-11", "01-12"])]
    assert kafka.committed("connect-it-%s" % topic, topic, 1) == {0: 5}


def test_avro_files_with_connect_schemas_and_schemaless_values(kafka, tmp_path):
    import datetime

    import fastavro

    schema = {"type": "struct", "optional": False, "fields": [
        {"field": "id", "type": "int64", "optional": False},
        {"field": "price", "type": "bytes", "optional": False, "name": "org.apache.kafka.connect.data.Decimal",
         "parameters": {"scale": "2", "connect.decimal.precision": "8"}},
        {"field": "at", "type": "int64", "optional": True, "name": "org.apache.kafka.connect.data.Timestamp"},
    ]}
    with_schema, schemaless = kafka.topic(partitions=1), kafka.topic(partitions=1)
    kafka.produce(with_schema, [(None, json.dumps({"schema": schema, "payload": {
        "id": i, "price": "AJg=", "at": 1_767_225_600_000 + i}}).encode()) for i in range(4)], partition=0)
    kafka.produce(schemaless, [(None, json.dumps({"id": i, "when": "2026-01-01T00:00:0%dZ" % i,
                                                  **({"extra": [i]} if i % 2 else {})}).encode())
                               for i in range(4)], partition=0)
    utc = datetime.timezone.utc

    for topic, schemas_enable in ((with_schema, "true"), (schemaless, "false")):
        raw = _config(topic, kafka.servers, tmp_path, **{
            "format.class": "io.confluent.connect.s3.format.avro.AvroFormat", "avro.codec": "snappy",
            "value.converter.schemas.enable": schemas_enable, "flush.size": "2"})
        _run(raw, kafka.servers)
        assert [os.path.basename(f) for f in _files(tmp_path, topic)] == [
            "%s+0+0000000000.avro" % topic, "%s+0+0000000002.avro" % topic]

    def read(topic):
        records = []
        for f in _files(tmp_path, topic):
            with open(os.path.join(tmp_path, f), "rb") as fo:
                reader = fastavro.reader(fo)
                assert reader.codec == "snappy"
                records.extend(reader)
        return records

    assert read(with_schema) == [{"id": i, "price": decimal.Decimal("1.52"),
                                  "at": datetime.datetime(2026, 1, 1, 0, 0, 0, 1000 * i, utc)}
                                 for i in range(4)]
    rows = read(schemaless)
    assert [r["id"] for r in rows] == [0, 1, 2, 3]
    assert [r.get("extra") for r in rows] == [None, [1], None, [3]]
    assert kafka.committed("connect-it-%s" % schemaless, schemaless, 1) == {0: 4}


def test_hourly_partitioner_files_records_by_their_hour_and_reruns_idempotently(kafka, tmp_path):
    from confluent_kafka import Producer

    topic = kafka.topic(partitions=2)
    t0, hour = 1_767_225_600_000, 3_600_000
    producer = Producer({"bootstrap.servers": kafka.servers})
    for p in range(2):
        for i in range(12):  # hours 0,0,0,1,1,1,... with one late record in each window
            at = t0 + (i // 3) * hour + (hour if i == 5 else 0)
            producer.produce(topic, json.dumps({"p": p, "i": i}).encode(), partition=p, timestamp=at)
    producer.flush(30)
    raw = _config(topic, kafka.servers, tmp_path, **{
        "partitioner.class": "io.confluent.connect.storage.partitioner.HourlyPartitioner",
        "timezone": "UTC", "locale": "en-US", "flush.size": "6"})

    _run(raw, kafka.servers)

    def layout():
        return sorted(os.path.relpath(os.path.join(d, n), tmp_path / "topics" / topic)
                      for d, _, names in os.walk(tmp_path / "topics" / topic) for n in names)

    expected = sorted("year=2026/month=01/day=01/hour=%02d/%s+%d+%010d.snappy.parquet" % (h, topic, p, o)
                      for p in range(2) for h, o in ((0, 0), (1, 3), (2, 5), (2, 6), (3, 9)))
    assert layout() == expected
    for p in range(2):
        hour2 = tmp_path / "topics" / topic / "year=2026/month=01/day=01/hour=02"
        rows = [r for n in sorted(os.listdir(hour2)) if "+%d+" % p in n
                for r in pq.read_table(hour2 / n).to_pylist()]
        assert [r["i"] for r in rows] == [5, 6, 7, 8]
    assert kafka.committed("connect-it-%s" % topic, topic, 2) == {0: 12, 1: 12}

    stale = tmp_path / "topics" / topic / "year=2026/month=01/day=01/hour=07"
    stale.mkdir()
    (stale / ("%s+0+0000000012.snappy.parquet" % topic)).write_bytes(b"left by a killed run")
    kafka.produce(topic, [(None, json.dumps({"p": 0, "i": 12}).encode())], partition=0)
    _run(raw, kafka.servers)  # the new record is filed by its own (current) hour; the stale file goes

    assert not os.listdir(stale)
    assert len(layout()) == len(expected) + 1
    assert kafka.committed("connect-it-%s" % topic, topic, 2) == {0: 13, 1: 12}


def test_keys_and_headers_are_stored_next_to_the_values(kafka, tmp_path):
    import fastavro
    from confluent_kafka import Producer

    topic = kafka.topic(partitions=1)
    producer = Producer({"bootstrap.servers": kafka.servers})
    for i in range(5):
        producer.produce(topic, json.dumps({"i": i}).encode(), key=b"user-%d" % i, partition=0,
                         headers=[("trace", b"t%d" % i)] if i % 2 else None)
    producer.flush(30)
    raw = _config(topic, kafka.servers, tmp_path, **{
        "flush.size": "3", "store.kafka.keys": "true", "store.kafka.headers": "true",
        "keys.format.class": "io.confluent.connect.s3.format.avro.AvroFormat",
        "headers.format.class": "io.confluent.connect.s3.format.avro.AvroFormat"})

    _run(raw, kafka.servers)

    assert [os.path.basename(f) for f in _files(tmp_path, topic)] == sorted(
        "%s+0+%010d%s" % (topic, o, ext) for o in (0, 3)
        for ext in (".headers.avro", ".keys.avro", ".snappy.parquet"))

    def avro(offset, kind):
        path = tmp_path / "topics" / topic / "partition=0" / ("%s+0+%010d.%s.avro" % (topic, offset, kind))
        with open(path, "rb") as f:
            return list(fastavro.reader(f))

    assert [r["i"] for r in _rows(tmp_path, topic)] == [0, 1, 2, 3, 4]
    assert avro(0, "keys") + avro(3, "keys") == ["user-%d" % i for i in range(5)]
    assert avro(0, "headers") + avro(3, "headers") == [
        [{"key": "trace", "value": b"t%d" % i}] if i % 2 else [] for i in range(5)]
    assert kafka.committed("connect-it-%s" % topic, topic, 1) == {0: 5}


def test_bytearray_files_archive_values_as_produced(kafka, tmp_path):
    topic = kafka.topic(partitions=1)
    values = [b"plain", b"\x00\xffbinary", b'{"json": true}', b"last"]
    kafka.produce(topic, [(None, v) for v in values], partition=0)
    raw = _config(topic, kafka.servers, tmp_path, **{
        "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
        "format.class": "io.confluent.connect.s3.format.bytearray.ByteArrayFormat",
        "format.bytearray.separator": "\\u001e", "flush.size": "3"})
    del raw["value.converter.schemas.enable"]

    _run(raw, kafka.servers)

    files = _files(tmp_path, topic)
    assert [os.path.basename(f) for f in files] == ["%s+0+0000000000.bin" % topic,
                                                    "%s+0+0000000003.bin" % topic]
    content = b"".join(open(os.path.join(tmp_path, f), "rb").read() for f in files)
    assert content == b"".join(v + b"\x1e" for v in values)


def test_poison_record_stops_the_run_naming_it_and_commits_nothing(kafka, tmp_path, capsys):
    topic = kafka.topic(partitions=1)
    kafka.produce(topic, list(_records(0, 0, 5)) + [(b"bad", b"{not json")] + list(_records(0, 6, 3)),
                  partition=0)
    config = tmp_path / "c.json"
    config.write_text(json.dumps(_config(topic, kafka.servers, tmp_path / "out")))

    code = main(["run", str(config), "--bootstrap-servers", kafka.servers])

    assert code == 1
    err = capsys.readouterr().err
    assert "VALUE_CONVERTER (org.apache.kafka.connect.json.JsonConverter) failed on record topic=%s partition=0 offset=5" % topic in " ".join(err.split())
    assert kafka.committed("connect-it-%s" % topic, topic, 1) == {0: -1001}


def test_missing_topic_and_unreachable_broker_are_clear_errors(kafka, tmp_path, capsys):
    config = tmp_path / "c.properties"
    config.write_text("\n".join("%s=%s" % kv for kv in _config("no-such-topic", "", tmp_path).items()))
    assert main(["run", str(config), "--bootstrap-servers", kafka.servers]) == 1
    assert "topic 'no-such-topic' does not exist on bootstrap.servers=%s" % kafka.servers in \
        capsys.readouterr().err

    assert main(["run", str(config), "--bootstrap-servers", "127.0.0.1:1"]) == 1
    assert "could not reach Kafka at bootstrap.servers=127.0.0.1:1" in capsys.readouterr().err


def test_invalid_config_exits_2_with_did_you_mean(tmp_path, capsys):
    config = tmp_path / "c.properties"
    config.write_text("name=x\nconnector.class=files\ntopics=a\nstore.url=/tmp/x\n"
                      "format.class=parquet\nflush.sise=10\n")
    assert main(["validate", str(config), "--bootstrap-servers", "127.0.0.1:9"]) == 2
    assert "did you mean 'flush.size'?" in capsys.readouterr().err


@pytest.mark.parametrize("runner", ["DirectRunner", "PrismRunner"])
def test_killed_run_then_rerun_leaves_every_record_exactly_once(kafka, tmp_path, runner, request):
    """SIGKILL the whole run (its process group, a Prism job server too) mid-write, then rerun."""
    runner_args = (prism_args(request.getfixturevalue("prism")) if runner == "PrismRunner"
                   else ["--runner", "DirectRunner"])
    topic = kafka.topic(partitions=2)
    per_partition = 60_000
    for p in range(2):
        kafka.produce(topic, _records(p, 0, per_partition), partition=p)
    raw = _config(topic, kafka.servers, tmp_path / "out", **{"flush.size": "1000"})
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"name": raw.pop("name"), "config": raw}))
    cmd = cli_command("run", config, "--bootstrap-servers", kafka.servers, *runner_args)
    env = cli_env()

    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(_files(tmp_path / "out", topic)) >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    written_before = len(_files(tmp_path / "out", topic))
    assert 3 <= written_before <= 120
    assert kafka.committed("connect-%s" % json.loads(config.read_text())["name"], topic,
                      2) == {0: -1001, 1: -1001}

    rerun = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]

    files = _files(tmp_path / "out", topic)
    assert len(files) == 120
    assert not [f for f in glob.glob(str(tmp_path / "out" / "**" / ".*"), recursive=True)]
    ids = [r["id"] for r in _rows(tmp_path / "out", topic)]
    assert len(ids) == len(set(ids)) == 2 * per_partition
    assert kafka.committed("connect-%s" % json.loads(config.read_text())["name"], topic,
                      2) == {0: per_partition, 1: per_partition}


def test_files_left_by_an_uncommitted_run_are_replaced_or_removed(kafka, tmp_path):
    topic = kafka.topic(partitions=1)
    kafka.produce(topic, _records(0, 0, 12), partition=0)
    raw = _config(topic, kafka.servers, tmp_path)
    part = tmp_path / "topics" / topic / "partition=0"
    part.mkdir(parents=True)
    # a killed run that had planned further (and used another alignment) left these behind
    (part / ("%s+0+0000000005.snappy.parquet" % topic)).write_bytes(b"stale")
    (part / ("%s+0+0000000010.snappy.parquet" % topic)).write_bytes(b"stale")
    (part / (".%s+0+0000000020.snappy.parquet.0123abcd.tmp" % topic)).write_bytes(b"partial")
    (part / "README.txt").write_text("not ours")

    _run(raw, kafka.servers)

    assert sorted(os.listdir(part)) == sorted(["README.txt", "%s+0+0000000000.snappy.parquet" % topic,
                                               "%s+0+0000000010.snappy.parquet" % topic])
    assert [r["n"] for r in _rows(tmp_path, topic)] == list(range(12))
