"""The local development broker: jar cache, a real broker round trip and ``beamconnect dev-kafka``."""

import os
import pathlib
import re
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from pipelines import dev_kafka
from common.errors import BeamConnectError
from pipelines.dev_kafka import LocalKafka, ensure_kafka_jars

REPO = pathlib.Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 180.0


@pytest.fixture(scope="module")
def kafka():
    with LocalKafka() as broker:
        yield broker


def _write_script(path: pathlib.Path, body: str) -> pathlib.Path:
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


def test_produce_and_consume_on_a_three_partition_topic(kafka):
    assert re.fullmatch(r"127\.0\.0\.1:\d+", kafka.bootstrap_servers)
    topic = "dev-kafka-%s" % uuid.uuid4().hex[:8]
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(timeout=30)
    assert len(admin.list_topics(topic, timeout=10).topics[topic].partitions) == 3

    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    sent = {(partition, b"value-%d-%d" % (partition, i)) for partition in range(3) for i in range(2)}
    for partition, value in sorted(sent):
        producer.produce(topic, value=value, key=b"k", partition=partition)
    assert producer.flush(30) == 0

    consumer = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": "test-" + topic,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    received = set()
    deadline = time.monotonic() + 60
    try:
        while len(received) < len(sent) and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                received.add((message.partition(), message.value()))
    finally:
        consumer.close()
    assert received == sent


def test_topics_are_not_created_automatically(kafka):
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    assert "never-created" not in admin.list_topics(timeout=10).topics


def test_run_dev_kafka_prints_ready_line_and_stops_on_sigterm(tmp_path):
    ensure_kafka_jars()  # Downloads outside the readiness deadline below when the cache is empty.
    stderr = open(tmp_path / "stderr.txt", "w+")
    process = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from pipelines.dev_kafka import run_dev_kafka; sys.exit(run_dev_kafka(None))"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], READY_TIMEOUT_S)
        line = process.stdout.readline() if ready else ""
        match = re.fullmatch(r"bootstrap\.servers=(127\.0\.0\.1:\d+)\n", line)
        assert match, "unexpected first line %r; stderr: %s" % (line, (tmp_path / "stderr.txt").read_text())
        admin = AdminClient({"bootstrap.servers": match.group(1)})
        admin.list_topics(timeout=30)
        java_pids = _kafka_children(process.pid)
        assert len(java_pids) == 1

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert process.stdout.read() == ""  # Exactly one line on stdout.
        assert not any(_is_kafka_process(pid) for pid in java_pids)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        stderr.close()


def _kafka_children(parent: int) -> list:
    children = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit() and _is_kafka_process(int(entry.name)):
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                children.append(int(entry.name))
    return children


def _is_kafka_process(pid: int) -> bool:
    try:
        return b"kafka.Kafka" in pathlib.Path("/proc/%d/cmdline" % pid).read_bytes().split(b"\0")
    except OSError:
        return False


def test_jars_are_downloaded_once_even_with_concurrent_callers(tmp_path, monkeypatch):
    calls = tmp_path / "calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _write_script(bin_dir / "mvn", """\
        echo call >> %s
        sleep 0.5
        for arg in "$@"; do
          case "$arg" in -DoutputDirectory=*) out="${arg#-DoutputDirectory=}";; esac
        done
        mkdir -p "$out" && touch "$out/kafka_2.13-%s.jar" "$out/kafka-clients-%s.jar"
        """ % (calls, dev_kafka.KAFKA_VERSION, dev_kafka.KAFKA_VERSION))
    monkeypatch.setenv("PATH", "%s%s%s" % (bin_dir, os.pathsep, os.environ["PATH"]))
    monkeypatch.setenv("BEAMCONNECT_CACHE", str(tmp_path / "cache"))
    home = tmp_path / "cache" / ("kafka-%s" % dev_kafka.KAFKA_VERSION)
    (home / "libs.partial").mkdir(parents=True)  # An interrupted download: redone from scratch.
    (home / "libs.partial" / "stale.jar").touch()

    results = []
    threads = [threading.Thread(target=lambda: results.append(ensure_kafka_jars())) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [home / "libs", home / "libs"]
    assert calls.read_text().splitlines() == ["call"]
    assert sorted(p.name for p in (home / "libs").iterdir()) == [
        "kafka-clients-%s.jar" % dev_kafka.KAFKA_VERSION, "kafka_2.13-%s.jar" % dev_kafka.KAFKA_VERSION]
    assert (home / "complete.stamp").is_file()
    assert ensure_kafka_jars() == home / "libs"
    assert calls.read_text().splitlines() == ["call"]


def test_missing_maven_is_reported(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(dev_kafka.java_executable(), bin_dir / "java")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("BEAMCONNECT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(BeamConnectError, match=re.escape(
            "mvn was not found on PATH. Java 17+ and Maven are required to run a local Kafka broker; "
            "the setup command in README.md installs them.")):
        ensure_kafka_jars()


def test_missing_java_is_reported(tmp_path, monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BeamConnectError, match=re.escape("java was not found on PATH. Java 17+ and Maven")):
        ensure_kafka_jars()


@pytest.mark.parametrize("banner, major", [('openjdk version "11.0.22" 2024-01-16', 11),
                                           ('java version "1.8.0_392"', 8)])
def test_old_java_is_reported(tmp_path, monkeypatch, banner, major):
    (tmp_path / "bin").mkdir()
    _write_script(tmp_path / "bin" / "java", "echo '%s' >&2\n" % banner)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(BeamConnectError, match=re.escape(
            "%s is Java %d; Apache Kafka %s needs Java 17 or newer. Java 17+ and Maven are required"
            % (tmp_path / "bin" / "java", major, dev_kafka.KAFKA_VERSION))):
        LocalKafka().start()


def test_stop_is_idempotent_and_bootstrap_servers_needs_start():
    broker = LocalKafka()
    broker.stop()
    broker.stop()
    with pytest.raises(BeamConnectError, match=re.escape("the local Kafka broker has not been started")):
        broker.bootstrap_servers  # pylint: disable=pointless-statement


def test_cluster_id_has_kafka_uuid_form():
    for _ in range(100):
        cluster_id = dev_kafka._cluster_id()
        assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", cluster_id)
