"""End to end against the real broker: errors.tolerance, dead-letter topics and stores, replays.

Poison records of each stage: bad JSON (VALUE_CONVERTER), a value a transform cannot cast
(TRANSFORMATION) and a tombstone the file sink refuses with behavior.on.null.values=fail (TASK_PUT).
"""

import glob
import json
import os
import signal
import subprocess
import time

import pyarrow.parquet as pq
from confluent_kafka import Consumer, TopicPartition

from pipelines.cli import main
from tests.helpers import ROOT, cli_command, cli_env, json_files_config, start_cli, write_config

BAD_JSON, BAD_NUMBER, TOMBSTONE = 3, 5, 7


def _values(count, start=0):
    """``{"id": i, "n": "<i>"}`` per offset, with the three poison records at their offsets."""
    for i in range(start, start + count):
        if i % 100 == BAD_JSON:
            yield b"k%d" % i, b"{not json"
        elif i % 100 == BAD_NUMBER:
            yield b"k%d" % i, json.dumps({"id": i, "n": "five"}).encode()
        elif i % 100 == TOMBSTONE:
            yield b"k%d" % i, None
        else:
            yield b"k%d" % i, json.dumps({"id": i, "n": str(i)}).encode()


def _config(name, topic, store, **overrides):
    return json_files_config(name, topic, store, **{
        "transforms": "cast", "transforms.cast.type": "org.apache.kafka.connect.transforms.Cast$Value",
        "transforms.cast.spec": "n:int32", **overrides})


def _rows(store, topic):
    rows = []
    for path in sorted(glob.glob(os.path.join(str(store), "topics", topic, "**", "*.parquet"),
                                 recursive=True)):
        rows.extend(pq.read_table(path).to_pylist())
    return rows


def _dead_letters(kafka, topic, timeout=60):
    """Every record of a dead-letter topic (one partition, as created), as dicts."""
    consumer = Consumer({"bootstrap.servers": kafka.servers, "group.id": "check-" + topic,
                         "enable.partition.eof": True})
    end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
    consumer.assign([TopicPartition(topic, 0, 0)])
    found, deadline = [], time.monotonic() + timeout
    try:
        while len(found) < end and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            found.append({"key": msg.key(), "value": msg.value(), "timestamp": msg.timestamp()[1],
                          "headers": {k: v for k, v in (msg.headers() or [])}})
    finally:
        consumer.close()
    assert len(found) == end
    return found


def test_tolerance_none_stops_at_the_first_bad_record_and_commits_nothing(kafka, tmp_path, capsys):
    topic = kafka.topic(partitions=1)
    kafka.produce(topic, _values(20), partition=0)
    config = write_config(tmp_path / "c.json", _config("en-" + topic, topic, tmp_path / "out"))

    assert main(["run", str(config), "--bootstrap-servers", kafka.servers]) == 1

    err = " ".join(capsys.readouterr().err.split())
    assert ("VALUE_CONVERTER (org.apache.kafka.connect.json.JsonConverter) failed on record "
            "topic=%s partition=0 offset=3" % topic) in err
    assert "errors.tolerance=none" in err
    assert kafka.committed("connect-en-" + topic, topic, 1) == {0: -1001}


def test_tolerance_none_names_a_record_the_sink_rejects(kafka, tmp_path, capsys):
    topic = kafka.topic(partitions=1)
    kafka.produce(topic, [(b"k", json.dumps({"id": i, "n": "1"}).encode()) for i in range(4)]
                  + [(b"k", None)], partition=0)
    config = write_config(tmp_path / "c.json", _config("es-" + topic, topic, tmp_path / "out"))

    assert main(["run", str(config), "--bootstrap-servers", kafka.servers]) == 1

    err = " ".join(capsys.readouterr().err.split())
    assert ("TASK_PUT (files) failed on record topic=%s partition=0 offset=4: the record has a null "
            "value and behavior.on.null.values=fail" % topic) in err
    assert kafka.committed("connect-es-" + topic, topic, 1) == {0: -1001}


def test_tolerance_all_writes_every_good_record_once_and_dead_letters_the_rest(kafka, tmp_path):
    topic, dlq = kafka.topic(partitions=2), "dlq-" + kafka.topic(partitions=1)
    for p in range(2):
        kafka.produce(topic, _values(30), partition=p)
    config = write_config(tmp_path / "c.json", _config("ea-" + topic, topic, tmp_path / "out", **{
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true", "errors.log.enable": "true"}))

    run = subprocess.run(cli_command("run", config, "--bootstrap-servers", kafka.servers), cwd=ROOT,
                         env=cli_env(), capture_output=True, text=True, timeout=300)

    assert run.returncode == 0, run.stderr[-3000:]
    rows = _rows(tmp_path / "out", topic)
    assert sorted(r["id"] for r in rows) == sorted(2 * [i for i in range(30) if i not in (3, 5, 7)])
    assert all(type(r["n"]) is int and r["n"] == r["id"] for r in rows)  # cast to int32
    assert kafka.committed("connect-ea-" + topic, topic, 2) == {0: 30, 1: 30}
    letters = _dead_letters(kafka, dlq)
    stages = {}
    for letter in letters:
        h = letter["headers"]
        assert h["__connect.errors.topic"] == topic.encode()
        assert h["__connect.errors.connector.name"] == ("ea-" + topic).encode()
        offset = int(h["__connect.errors.offset"])
        stages[(int(h["__connect.errors.partition"]), offset)] = h["__connect.errors.stage"].decode()
        assert letter["key"] == b"k%d" % offset
        assert letter["value"] == dict(_values(1, offset))[b"k%d" % offset]
        assert h["__connect.errors.exception.class.name"]
    assert len(letters) == 6 and stages == {(p, o): s for p in range(2) for o, s in
                      ((3, "VALUE_CONVERTER"), (5, "TRANSFORMATION"), (7, "TASK_PUT"))}
    # the run's summary counts each stage's failures; the log names the records, not their content
    assert "failed value_converter" in run.stdout and "dead-lettered" in run.stdout
    assert "Error encountered in stage VALUE_CONVERTER" in run.stderr
    assert "not json" not in run.stderr


def test_a_killed_run_with_dead_letters_reruns_without_duplicates_in_the_sink(kafka, tmp_path):
    """The sink holds every good record once; the dead-letter topic may hold a bad one twice (it was
    dead-lettered by the killed run and again by the rerun), never none."""
    topic, dlq = kafka.topic(partitions=2), "dlq-" + kafka.topic(partitions=1)
    per_partition = 30_000
    for p in range(2):
        kafka.produce(topic, _values(per_partition), partition=p)
    config = write_config(tmp_path / "c.json", _config("ek-" + topic, topic, tmp_path / "out", **{
        "flush.size": "1000", "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"}))
    cmd = cli_command("run", config, "--bootstrap-servers", kafka.servers)

    proc = subprocess.Popen(cmd, cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    pattern = os.path.join(str(tmp_path / "out"), "topics", topic, "partition=*", "*.parquet")
    while time.monotonic() < deadline and proc.poll() is None and len(glob.glob(pattern)) < 3:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert kafka.committed("connect-ek-" + topic, topic, 2) == {0: -1001, 1: -1001}

    rerun = subprocess.run(cmd, cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=300)

    assert rerun.returncode == 0, rerun.stderr[-3000:]
    ids = [r["id"] for r in _rows(tmp_path / "out", topic)]
    good = [i for i in range(per_partition) if i % 100 not in (BAD_JSON, BAD_NUMBER, TOMBSTONE)]
    assert len(ids) == 2 * len(good) and sorted(set(ids)) == good
    assert kafka.committed("connect-ek-" + topic, topic, 2) == {0: per_partition, 1: per_partition}
    expected = {(p, o) for p in range(2) for o in range(per_partition)
                if o % 100 in (BAD_JSON, BAD_NUMBER, TOMBSTONE)}
    letters = _dead_letters(kafka, dlq)
    seen = {(int(l["headers"]["__connect.errors.partition"]), int(l["headers"]["__connect.errors.offset"]))
            for l in letters}
    assert seen == expected



def test_streaming_goes_on_past_poison_records_with_tolerance_all(kafka, tmp_path, spawned):
    topic = kafka.topic(partitions=1)
    kafka.produce(topic, _values(12), partition=0)
    dlq = tmp_path / "dlq"
    config = write_config(tmp_path / "c.json", _config("et-" + topic, topic, tmp_path / "out", **{
        "flush.size": "4", "format.class": "json", "errors.tolerance": "all",
        "errors.deadletterqueue.store.url": str(dlq)}))

    spawned.append(start_cli("run", config, "--bootstrap-servers", kafka.servers, "--mode",
                             "streaming", start_new_session=True))
    kafka.wait_committed("connect-et-" + topic, topic, {0: 12}, spawned[-1])
    spawned[-1].send_signal(signal.SIGTERM)
    spawned[-1].communicate(timeout=60)

    out = tmp_path / "out" / "topics" / topic / "partition=0"
    ids = [json.loads(line)["id"] for name in sorted(os.listdir(out))
           for line in (out / name).read_text().splitlines()]
    assert ids == [0, 1, 2, 4, 6, 8, 9, 10, 11]
    lines = [json.loads(line) for path in sorted(glob.glob(str(dlq / "**" / "*.jsonl"), recursive=True))
             for line in open(path)]
    assert sorted((l["offset"], l["stage"]) for l in lines) == [
        (3, "VALUE_CONVERTER"), (5, "TRANSFORMATION"), (7, "TASK_PUT")]


def test_replay_dlq_from_topic_writes_the_records_once_the_cause_is_fixed(kafka, tmp_path):
    """Records without the partitioning field are dead-lettered; replayed with the default
    partitioner they land under their original coordinates, and a second replay finds nothing new."""
    topic, dlq = kafka.topic(partitions=1), "dlq-" + kafka.topic(partitions=1)
    values = [{"id": i, "region": "eu"} if i % 4 else {"id": i} for i in range(12)]
    kafka.produce(topic, [(b"k", json.dumps(v).encode()) for v in values], partition=0)
    raw = json_files_config("er-" + topic, topic, tmp_path / "out", **{
        "partitioner.class": "field", "partition.field.name": "region", "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"})
    assert main(["run", str(write_config(tmp_path / "c.json", raw)),
                 "--bootstrap-servers", kafka.servers]) == 0
    assert sorted(r["id"] for r in _rows(tmp_path / "out", topic)) == [1, 2, 3, 5, 6, 7, 9, 10, 11]

    fixed = write_config(tmp_path / "fixed.json", {**{k: v for k, v in raw.items() if k != "partition.field.name"},
                                                       "partitioner.class": "default"})
    assert main(["replay-dlq", str(fixed), "--from-topic", dlq,
                 "--bootstrap-servers", kafka.servers]) == 0

    part = tmp_path / "out" / "topics" / topic / "partition=0"
    assert os.listdir(part) == ["%s+0+0000000000.snappy.parquet" % topic]
    assert [r["id"] for r in pq.read_table(part / os.listdir(part)[0]).to_pylist()] == [0, 4, 8]
    assert kafka.committed("connect-er-%s-dlq-replay" % topic, dlq, 1) == {0: 3}
    assert main(["replay-dlq", str(fixed), "--from-topic", dlq,
                 "--bootstrap-servers", kafka.servers]) == 0
    assert os.listdir(part) == ["%s+0+0000000000.snappy.parquet" % topic]


def test_replay_dlq_from_a_store(kafka, tmp_path):
    topic = kafka.topic(partitions=1)
    values = [{"id": i, "region": "eu"} if i % 4 else {"id": i} for i in range(8)]
    kafka.produce(topic, [(b"k", json.dumps(v).encode()) for v in values], partition=0)
    raw = json_files_config("eq-" + topic, topic, tmp_path / "out", **{
        "partitioner.class": "field", "partition.field.name": "region", "errors.tolerance": "all",
        "errors.deadletterqueue.store.url": str(tmp_path / "dlq")})
    assert main(["run", str(write_config(tmp_path / "c.json", raw)),
                 "--bootstrap-servers", kafka.servers]) == 0

    fixed = write_config(tmp_path / "fixed.json", {**{k: v for k, v in raw.items() if k != "partition.field.name"},
                                                       "partitioner.class": "default"})
    for _ in range(2):  # a second replay rewrites the same file
        assert main(["replay-dlq", str(fixed), "--from-store", str(tmp_path / "dlq"),
                     "--bootstrap-servers", kafka.servers]) == 0

    part = tmp_path / "out" / "topics" / topic / "partition=0"
    assert os.listdir(part) == ["%s+0+0000000000.snappy.parquet" % topic]
    assert [r["id"] for r in pq.read_table(part / os.listdir(part)[0]).to_pylist()] == [0, 4]


def test_a_payload_that_does_not_match_its_schema_is_dead_lettered(kafka, tmp_path):
    """Connect's JSON envelopes: a payload breaking its own schema fails VALUE_CONVERTER alone."""
    topic = kafka.topic(partitions=1)
    schema = {"type": "struct", "name": "Order", "optional": False,
              "fields": [{"field": "id", "type": "int32"}, {"field": "amount", "type": "double"}]}
    payloads = [{"id": 1, "amount": 2.5}, {"id": "two", "amount": 1.0}, {"id": 3, "amount": 0.5}]
    kafka.produce(topic, [(b"k", json.dumps({"schema": schema, "payload": p}).encode())
                          for p in payloads], partition=0)
    raw = json_files_config("ew-" + topic, topic, tmp_path / "out", **{
        "value.converter.schemas.enable": "true", "errors.tolerance": "all",
        "errors.deadletterqueue.store.url": str(tmp_path / "dlq")})

    assert main(["run", str(write_config(tmp_path / "c.json", raw)),
                 "--bootstrap-servers", kafka.servers]) == 0

    assert [(r["id"], r["amount"]) for r in _rows(tmp_path / "out", topic)] == [(1, 2.5), (3, 0.5)]
    [path] = glob.glob(str(tmp_path / "dlq" / "**" / "*.jsonl"), recursive=True)
    [letter] = [json.loads(line) for line in open(path)]
    assert (letter["offset"], letter["stage"]) == (1, "VALUE_CONVERTER")
    assert "field 'id'" in letter["exception_message"]
    assert kafka.committed("connect-ew-" + topic, topic, 1) == {0: 3}
