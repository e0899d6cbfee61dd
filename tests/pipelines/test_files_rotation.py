"""File rotation end to end against the real broker: held partial files in bounded runs, wall-clock and
idle rotation in streaming (with a kill and restart that must leave every record once), tombstones."""

import glob
import json
import os
import signal
import threading
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from pipelines.cli import main
from pipelines.config.connector import parse_connector_config
from pipelines.run import RunOptions, run_connector
from tests.helpers import json_files_config, start_cli, write_config

BASE = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _run(raw, servers, **options):
    return run_connector(parse_connector_config(raw, bootstrap_servers=servers), RunOptions(**options))


def _produce(kafka, topic, partition, items):
    """items: (i, timestamp ms or None); the value is {"p": partition, "i": i}, the key "k<i>"."""
    producer = Producer({"bootstrap.servers": kafka.servers, "linger.ms": 5})
    for i, ts in items:
        kwargs = {"timestamp": ts} if ts is not None else {}
        producer.produce(topic, json.dumps({"p": partition, "i": i}).encode(), b"k%d" % i,
                         partition=partition, **kwargs)
    assert producer.flush(30) == 0


def _chain(store, topic):
    """{relative path: [record i...]} of every JSON file of the topic."""
    files = {}
    for path in sorted(glob.glob(os.path.join(str(store), "topics", topic, "**", "*.json"),
                                 recursive=True)):
        with open(path) as f:
            files[os.path.relpath(path, str(store))] = [json.loads(line)["i"] for line in f]
    return files


def _names(topic, partition, offsets):
    return ["topics/%s/partition=%d/%s+%d+%010d.json" % (topic, partition, topic, partition, o)
            for o in offsets]


def test_two_held_runs_over_a_growing_topic_leave_the_chain_of_one_run(kafka, tmp_path):
    """--hold-partial (micro-batch mode's default): a partial last file is neither written nor
    committed; the next run reads it again, so the files are those one run over everything writes."""
    topic = kafka.topic(partitions=2)
    _produce(kafka, topic, 0, [(i, None) for i in range(23)])
    _produce(kafka, topic, 1, [(i, None) for i in range(7)])
    held = json_files_config("held-" + topic, topic, tmp_path / "held", **{"format.class": "json"})

    first = _run(held, kafka.servers, hold_partial=True)

    assert sorted(_chain(tmp_path / "held", topic)) == _names(topic, 0, (0, 10))
    # the held tails' offsets stay uncommitted: 20..22 of partition 0, all of partition 1
    assert kafka.committed("connect-held-" + topic, topic, 2) == {0: 20, 1: 0}
    assert first.committed == {(topic, 0): 20, (topic, 1): 0}

    _produce(kafka, topic, 0, [(i, None) for i in range(23, 40)])
    _produce(kafka, topic, 1, [(i, None) for i in range(7, 10)])
    _run(held, kafka.servers, hold_partial=True)
    one = json_files_config("one-" + topic, topic, tmp_path / "one", **{"format.class": "json"})
    _run(one, kafka.servers)

    chain = _chain(tmp_path / "held", topic)
    assert chain == _chain(tmp_path / "one", topic)
    assert sorted(chain) == _names(topic, 0, (0, 10, 20, 30)) + _names(topic, 1, (0,))
    assert [i for name in sorted(chain) for i in chain[name]] == list(range(40)) + list(range(10))
    assert kafka.committed("connect-held-" + topic, topic, 2) == {0: 40, 1: 10}


def test_held_runs_cut_files_by_record_time_and_write_a_tail_the_schedule_says_is_due(kafka, tmp_path):
    """With rotate.interval.ms a held run ends files before a record that far past the file's first,
    as streaming and Confluent do, and the chain still does not depend on where runs ended; with
    rotate.schedule.interval.ms a tail whose first record is older than the last point of the grid
    is due, so it is written and committed."""
    topic = kafka.topic(partitions=1)
    _produce(kafka, topic, 0, [(i, BASE + 1000 * i) for i in range(14)])
    keys = {"format.class": "json", "rotate.interval.ms": "3500"}
    held = json_files_config("rt-" + topic, topic, tmp_path / "held", **keys)

    _run(held, kafka.servers, hold_partial=True)
    assert sorted(_chain(tmp_path / "held", topic)) == _names(topic, 0, (0, 4, 8))
    assert kafka.committed("connect-rt-" + topic, topic, 1) == {0: 12}

    _produce(kafka, topic, 0, [(i, BASE + 1000 * i) for i in range(14, 24)])
    _run(held, kafka.servers, hold_partial=True)
    once = json_files_config("rt1-" + topic, topic, tmp_path / "once", **keys)
    _run(once, kafka.servers, hold_partial=True)

    chain = _chain(tmp_path / "held", topic)
    assert chain == _chain(tmp_path / "once", topic)
    assert chain == dict(zip(_names(topic, 0, (0, 4, 8, 12, 16)),
                             [list(range(o, o + 4)) for o in (0, 4, 8, 12, 16)]))
    assert kafka.committed("connect-rt-" + topic, topic, 1) == {0: 20}

    due = json_files_config("due-" + topic, topic, tmp_path / "due", **{
        **keys, "rotate.schedule.interval.ms": "3600000", "timezone": "UTC"})
    _run(due, kafka.servers, hold_partial=True)
    assert sorted(_chain(tmp_path / "due", topic)) == _names(topic, 0, (0, 4, 8, 12, 16, 20))
    assert kafka.committed("connect-due-" + topic, topic, 1) == {0: 24}


def test_tombstones_are_kept_as_keys_and_a_rerun_rewrites_the_same_files(kafka, tmp_path):
    topic = kafka.topic(partitions=1)
    producer = Producer({"bootstrap.servers": kafka.servers})
    for i in range(6):
        value = None if i in (2, 3) else json.dumps({"i": i}).encode()
        producer.produce(topic, value, b"k%d" % i, partition=0)
    producer.flush(30)
    raw = json_files_config("tomb-" + topic, topic, tmp_path, **{
        "format.class": "json", "flush.size": "4", "behavior.on.null.values": "write",
        "store.kafka.keys": "true", "keys.format.class": "json"})

    _run(raw, kafka.servers)
    _run(raw, kafka.servers, start="earliest")

    base = tmp_path / "topics" / topic
    found = sorted(os.path.relpath(p, base) for p in glob.glob(str(base / "**" / "*"), recursive=True)
                   if os.path.isfile(p))
    assert found == ["partition=0/%s+0+%010d.%s" % (topic, o, ext)
                     for o, ext in ((0, "json"), (0, "keys.json"), (4, "json"), (4, "keys.json"))] + [
        "tombstone/%s+0+0000000002.keys.json" % topic]
    with open(base / "tombstone" / ("%s+0+0000000002.keys.json" % topic)) as f:
        assert [json.loads(line) for line in f] == ["k2", "k3"]
    with open(base / "partition=0" / ("%s+0+0000000000.json" % topic)) as f:
        assert [json.loads(line) for line in f] == [{"i": 0}, {"i": 1}]
    assert kafka.committed("connect-tomb-" + topic, topic, 1) == {0: 6}


def _streaming(kafka, config, spawned):
    spawned.append(start_cli("run", config, "--bootstrap-servers", kafka.servers, "--mode", "streaming",
                             "--runner", "DirectRunner", start_new_session=True))
    return spawned[-1]


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]


def test_wall_clock_rotation_survives_a_kill_with_uncommitted_files_and_writes_every_record_once(
        kafka, tmp_path, spawned):
    """rotate.schedule.interval.ms closes files every 2 s of wall clock while records trickle in. The
    run is killed with SIGKILL, and the group's offset is set back two files, as if those files had been
    written and not yet committed when it died. The restarted run reads the backlog at once, so it
    cuts its files elsewhere; it first removes the files past the committed offset, so every record is
    in the store exactly once."""
    topic = kafka.topic(partitions=1)
    group = "connect-clock-" + topic
    config = write_config(tmp_path / "c.json", json_files_config("clock-" + topic, topic, tmp_path / "out", **{
        "format.class": "json", "flush.size": "100000", "rotate.schedule.interval.ms": "2000",
        "timezone": "UTC"}))
    stop = threading.Event()
    produced = []

    def trickle():
        while not stop.is_set():
            batch = list(range(len(produced), len(produced) + 5))
            _produce(kafka, topic, 0, [(i, None) for i in batch])
            produced.extend(batch)
            time.sleep(0.25)

    proc = _streaming(kafka, config, spawned)
    producer = threading.Thread(target=trickle, daemon=True)
    producer.start()
    part = tmp_path / "out" / "topics" / topic / "partition=0"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(os.listdir(part) if part.exists() else ()) < 4:
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        time.sleep(0.2)
    stop.set()
    producer.join()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    before = sorted(os.listdir(part))
    assert len(before) >= 4
    starts = [int(name.split("+")[2].split(".")[0]) for name in before]
    back = starts[-2] if len(before) >= 3 else starts[0]
    consumer = Consumer({"bootstrap.servers": kafka.servers, "group.id": group})
    consumer.commit(offsets=[TopicPartition(topic, 0, back)], asynchronous=False)
    consumer.close()

    proc = _streaming(kafka, config, spawned)
    kafka.wait_committed(group, topic, {0: len(produced)}, proc)
    _stop(proc)

    chain = _chain(tmp_path / "out", topic)
    records = [i for name in sorted(chain) for i in chain[name]]
    assert records == list(range(len(produced)))
    assert not glob.glob(str(part / ".*"))
    assert set(before) - set(os.listdir(part)), "the restart should have cut its files elsewhere"


def test_an_idle_partition_gets_its_open_file_closed_and_committed(kafka, tmp_path, spawned):
    """idle.flush.ms: without rotate.interval.ms or a schedule, a partition that gets nothing for that
    long still has its partial file written and committed; a busy partition's files close by count."""
    topic = kafka.topic(partitions=2)
    group = "connect-idle-" + topic
    config = write_config(tmp_path / "c.json", json_files_config("idle-" + topic, topic, tmp_path / "out", **{
        "format.class": "json", "flush.size": "10", "idle.flush.ms": "1500"}))
    _produce(kafka, topic, 0, [(i, None) for i in range(7)])
    _produce(kafka, topic, 1, [(i, None) for i in range(20)])

    proc = _streaming(kafka, config, spawned)
    kafka.wait_committed(group, topic, {0: 7, 1: 20}, proc)
    _produce(kafka, topic, 0, [(i, None) for i in range(7, 10)])
    kafka.wait_committed(group, topic, {0: 10, 1: 20}, proc)
    _stop(proc)

    assert _chain(tmp_path / "out", topic) == {
        **dict(zip(_names(topic, 0, (0, 7)), [list(range(7)), [7, 8, 9]])),
        **dict(zip(_names(topic, 1, (0, 10)), [list(range(10)), list(range(10, 20))]))}


@pytest.mark.parametrize("hold", ["--hold-partial", "--no-hold-partial"])
def test_hold_partial_is_refused_in_streaming(tmp_path, capsys, hold):
    config = write_config(tmp_path / "c.json", json_files_config("x", "t", tmp_path / "out"))

    assert main(["run", str(config), "--bootstrap-servers", "127.0.0.1:9", "--mode", "streaming",
                 hold]) == 2
    assert ("--hold-partial applies to bounded runs; --mode streaming always keeps a partition's "
            "open file for later") in " ".join(capsys.readouterr().err.split())


V1 = {"type": "struct", "version": 1, "optional": False,
      "fields": [{"field": "i", "type": "int32"}, {"field": "note", "type": "string", "optional": True}]}
V2 = {"type": "struct", "version": 2, "optional": False,
      "fields": [{"field": "i", "type": "int64"},
                 {"field": "qty", "type": "int32", "optional": True, "default": 1}]}


def test_a_schema_change_closes_the_file_under_none_and_is_projected_under_backward(kafka, tmp_path):
    """JsonConverter envelopes whose schema changes from version 1 to 2 and back, in one window."""
    topic = kafka.topic(partitions=1)
    producer = Producer({"bootstrap.servers": kafka.servers})
    for i, schema in enumerate([V1, V1, V2, V1, V2, V2, V1]):
        payload = {"i": i, "note": "n%d" % i} if schema is V1 else {"i": i, "qty": 10 + i}
        producer.produce(topic, json.dumps({"schema": schema, "payload": payload}).encode(), partition=0)
    producer.flush(30)
    chains = {}
    for rule in ("NONE", "BACKWARD"):
        raw = json_files_config("sc%s-%s" % (rule, topic), topic, tmp_path / rule, **{
            "format.class": "json", "flush.size": "10", "value.converter.schemas.enable": "true",
            "schema.compatibility": rule})
        _run(raw, kafka.servers)
        part = tmp_path / rule / "topics" / topic / "partition=0"
        chains[rule] = {name: [json.loads(line) for line in open(part / name)]
                        for name in sorted(os.listdir(part))}
        assert kafka.committed("connect-sc%s-%s" % (rule, topic), topic, 1) == {0: 7}

    name = "%s+0+%010d.json"
    assert chains["NONE"] == {
        name % (topic, 0): [{"i": 0, "note": "n0"}, {"i": 1, "note": "n1"}],
        name % (topic, 2): [{"i": 2, "qty": 12}],
        name % (topic, 3): [{"i": 3, "note": "n3"}],
        name % (topic, 4): [{"i": 4, "qty": 14}, {"i": 5, "qty": 15}],
        name % (topic, 6): [{"i": 6, "note": "n6"}],
    }
    assert chains["BACKWARD"] == {
        name % (topic, 0): [{"i": 0, "note": "n0"}, {"i": 1, "note": "n1"}],
        name % (topic, 2): [{"i": 2, "qty": 12}, {"i": 3, "qty": 1}, {"i": 4, "qty": 14},
                            {"i": 5, "qty": 15}, {"i": 6, "qty": 1}],
    }
