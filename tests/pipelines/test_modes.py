import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pyarrow.parquet as pq
import pytest
from confluent_kafka import Consumer, TopicPartition

from pipelines.config.errors import ConfigError
from pipelines.modes import micro_batches, parse_interval

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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


def _committed(servers, group, topic):
    consumer = Consumer({"bootstrap.servers": servers, "group.id": group})
    try:
        return consumer.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
    finally:
        consumer.close()


def _wait_committed(servers, group, topic, offset, proc, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _committed(servers, group, topic) == offset:
            return
        assert proc.poll() is None, "micro-batch run ended early"
        time.sleep(0.3)
    raise AssertionError("offset %d was not committed within %ds" % (offset, timeout))


def test_micro_batch_mode_picks_up_new_records_and_stops_cleanly_on_sigterm(kafka, tmp_path):
    topic = kafka.topic(partitions=1)
    kafka.produce(topic, [(None, json.dumps({"n": i}).encode()) for i in range(30)], partition=0)
    config = tmp_path / "c.json"
    config.write_text(json.dumps({
        "name": "mb-" + topic, "connector.class": "files", "topics": topic,
        "key.converter": "StringConverter", "value.converter": "JsonConverter",
        "value.converter.schemas.enable": "false", "store.url": str(tmp_path / "out"),
        "format.class": "parquet", "flush.size": "25"}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "run", str(config), "--bootstrap-servers", kafka.servers,
         "--mode", "micro-batch", "--interval", "1s"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        _wait_committed(kafka.servers, "connect-mb-" + topic, topic, 30, proc)
        kafka.produce(topic, [(None, json.dumps({"n": i}).encode()) for i in range(30, 50)],
                      partition=0)
        _wait_committed(kafka.servers, "connect-mb-" + topic, topic, 50, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "stop requested" in err
    part = tmp_path / "out" / "topics" / topic / "partition=0"
    names = sorted(os.listdir(part))
    # the second run starts its windows at offset 30, where the first run stopped
    assert names == ["%s+0+%010d.snappy.parquet" % (topic, o) for o in (0, 25, 30)]
    values = [r["n"] for n in names for r in pq.read_table(part / n).to_pylist()]
    assert values == list(range(50))
