import json
import os
import re
import signal
import threading
import time

import pyarrow.parquet as pq
import pytest

from common.errors import ConfigError
from pipelines.dev_prism import prism_args
from pipelines.modes import micro_batches, parse_interval
from tests.helpers import json_files_config, start_cli, write_config



def test_parse_interval():
    assert parse_interval("30s") == 30.0
    assert parse_interval("5m") == 300.0
    assert parse_interval("500ms") == 0.5
    assert parse_interval("2") == 2.0
    with pytest.raises(ConfigError, match=re.escape(
            "--interval must be a positive duration such as 30s, 5m or 1h, got '0s'")):
        parse_interval("0s")
    with pytest.raises(ConfigError, match=re.escape("got 'soon'")):
        parse_interval("soon")


def test_micro_batches_repeat_until_stopped():
    stop = threading.Event()
    calls = []

    def run_once():
        calls.append(time.monotonic())
        if len(calls) == 3:
            stop.set()

    assert micro_batches(run_once, 0.01, stop) == 3
    assert micro_batches(lambda: None, 0.0, threading.Event(), max_runs=4) == 4


def test_micro_batch_mode_picks_up_new_records_and_stops_cleanly_on_sigterm(kafka, tmp_path):
    topic = kafka.topic(partitions=1)
    kafka.produce(topic, [(None, json.dumps({"n": i}).encode()) for i in range(30)], partition=0)
    config = write_config(tmp_path / "c.json", json_files_config(
        "mb-" + topic, topic, tmp_path / "out", **{"flush.size": "25"}))
    proc = start_cli("run", config, "--bootstrap-servers", kafka.servers, "--mode", "micro-batch",
                     "--interval", "1s")
    try:
        # micro-batch runs hold the partial last file (offsets 25..29) for the next run
        kafka.wait_committed("connect-mb-" + topic, topic, {0: 25}, proc)
        kafka.produce(topic, [(None, json.dumps({"n": i}).encode()) for i in range(30, 50)],
                      partition=0)
        kafka.wait_committed("connect-mb-" + topic, topic, {0: 50}, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "stop requested" in err
    part = tmp_path / "out" / "topics" / topic / "partition=0"
    names = sorted(os.listdir(part))
    # the second run reads the held window again from offset 25: files of flush.size records
    assert names == ["%s+0+%010d.snappy.parquet" % (topic, o) for o in (0, 25)]
    values = [r["n"] for n in names for r in pq.read_table(part / n).to_pylist()]
    assert values == list(range(50))


def _produce_at(kafka, topic, partition, items):
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": kafka.servers})
    for i, ts in items:
        producer.produce(topic, json.dumps({"p": partition, "i": i}).encode(), partition=partition,
                         timestamp=ts)
    producer.flush(30)



def _streaming(kafka, config, runner_args, spawned):
    spawned.append(start_cli("run", config, "--bootstrap-servers", kafka.servers, "--mode", "streaming",
                             *runner_args, start_new_session=True))
    return spawned[-1]


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]


@pytest.mark.parametrize("runner", ["DirectRunner", "PrismRunner"])
def test_streaming_mode_closes_files_by_count_and_record_time_and_resumes_after_restart(
        kafka, tmp_path, runner, prism, spawned):
    """Windows close at flush.size records or rotate.interval.ms of record time; each file commits.

    Runs on Beam's Python DirectRunner and on Prism, Beam's portable runner with streaming support.
    """
    runner_args = prism_args(prism) if runner == "PrismRunner" else ["--runner", "DirectRunner"]
    topic = kafka.topic(partitions=2)
    group = "connect-st-" + topic
    base = 1_767_225_600_000
    _produce_at(kafka, topic, 0, [(i, base + 1000 * i) for i in range(13)])  # by time: 3 per file
    _produce_at(kafka, topic, 1, [(i, base) for i in range(12)])             # by count: 5 per file
    config = write_config(tmp_path / "c.json", json_files_config(
        "st-" + topic, topic, tmp_path / "out", **{"flush.size": "5", "rotate.interval.ms": "3000"}))

    proc = _streaming(kafka, config, runner_args, spawned)
    kafka.wait_committed(group, topic, {0: 12, 1: 10}, proc)
    _produce_at(kafka, topic, 1, [(i, base) for i in range(12, 15)])
    kafka.wait_committed(group, topic, {0: 12, 1: 15}, proc)
    _stop(proc)

    # restarted, it reads the open window again from the committed offset
    _produce_at(kafka, topic, 0, [(i, base + 1000 * i) for i in range(13, 16)])
    proc = _streaming(kafka, config, runner_args, spawned)
    kafka.wait_committed(group, topic, {0: 15, 1: 15}, proc)
    _stop(proc)

    out = tmp_path / "out" / "topics" / topic
    assert sorted(os.listdir(out / "partition=0")) == [
        "%s+0+%010d.snappy.parquet" % (topic, o) for o in (0, 3, 6, 9, 12)]
    assert sorted(os.listdir(out / "partition=1")) == [
        "%s+1+%010d.snappy.parquet" % (topic, o) for o in (0, 5, 10)]
    for p, count in ((0, 15), (1, 15)):
        names = sorted(os.listdir(out / ("partition=%d" % p)))
        values = [r["i"] for n in names for r in pq.read_table(out / ("partition=%d" % p) / n).to_pylist()]
        assert values == list(range(count))


def test_streaming_stops_on_a_poison_record_without_committing_its_window(kafka, tmp_path, spawned):
    topic = kafka.topic(partitions=1)
    values = [json.dumps({"i": i}).encode() for i in range(5)] + [b"{oops"] + [b"{}"] * 3
    kafka.produce(topic, [(None, v) for v in values], partition=0)
    config = write_config(tmp_path / "c.json", json_files_config(
        "sp-" + topic, topic, tmp_path / "out", **{"format.class": "json", "flush.size": "3"}))

    proc = _streaming(kafka, config, ["--runner", "DirectRunner"], spawned)
    out, err = proc.communicate(timeout=120)

    assert proc.returncode == 1
    assert "VALUE_CONVERTER (org.apache.kafka.connect.json.JsonConverter) failed on record topic=%s partition=0 offset=5" % topic in " ".join(err.split())
    assert kafka.committed("connect-sp-" + topic, topic, 1) == {0: 3}
    assert os.listdir(tmp_path / "out" / "topics" / topic / "partition=0") == [
        "%s+0+0000000000.json" % topic]


def test_streaming_into_a_bucket_commits_each_uploaded_file(kafka, tmp_path, bucket, spawned):
    """Streaming into S3 and GCS: each object, once uploaded, commits its offsets; the open window
    (records 10 and 11) is neither uploaded nor committed when the run stops."""
    import io

    topic = kafka.topic(partitions=1)
    group = "connect-sb-" + topic
    _produce_at(kafka, topic, 0, [(i, 1_767_225_600_000 + i) for i in range(12)])
    raw = json_files_config("sb-" + topic, topic, "", **{**bucket.config(prefix="stream"),
                                                        "flush.size": "5"})
    config = write_config(tmp_path / "c.json", raw)

    proc = _streaming(kafka, config, ["--runner", "DirectRunner"], spawned)
    kafka.wait_committed(group, topic, {0: 10}, proc)
    _stop(proc)

    keys = bucket.keys()
    assert keys == ["stream/topics/%s/partition=0/%s+0+%010d.snappy.parquet" % (topic, topic, o)
                    for o in (0, 5)]
    values = [r["i"] for k in keys for r in pq.read_table(io.BytesIO(bucket.read(k))).to_pylist()]
    assert values == list(range(10))
    assert kafka.committed(group, topic, 1) == {0: 10}
