"""The Kafka sink end to end through the CLI, on the suite's broker and on a second cluster."""

import json
import os
import signal
import subprocess
import time
import uuid

from confluent_kafka import Consumer, TopicPartition

from tests.helpers import ROOT, cli_command, cli_env, write_config
from tests.sinks.kafka.conftest import create_topic, produce, read_committed

ROUTER = {"transforms": "route",
          "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
          "transforms.route.regex": "(.*)", "transforms.route.replacement": "$1-copy"}


def _config(name, topic, servers, **overrides):
    return {"name": name, "connector.class": "kafka", "topics": topic, "bootstrap.servers": servers,
            "key.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
            "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
            "flush.size": "100", **overrides}


def _run(config, servers, *args, timeout=300):
    return subprocess.run(cli_command("run", config, "--bootstrap-servers", servers, *args),
                          cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=timeout)


def _records(count, start=0):
    return [(b"k%d" % i, b"v%d" % i, 1_700_000_000_000 + i, [("n", b"%d" % i), ("h", None)])
            for i in range(start, start + count)]


def _name():
    return "kafka-" + uuid.uuid4().hex[:8]


def test_records_forwarded_with_keys_headers_and_timestamps_offsets_in_the_transaction(kafka, tmp_path):
    topic = kafka.topic(partitions=2)
    target = create_topic(kafka.servers, topic + "-copy", partitions=2)
    produce(kafka.servers, topic, _records(250), partition=0)
    produce(kafka.servers, topic, _records(30, start=1000), partition=1)
    name = _name()
    config = write_config(tmp_path / "c.json", _config(name, topic, kafka.servers, **ROUTER))

    first = _run(config, kafka.servers)
    assert first.returncode == 0, first.stderr[-3000:]
    messages = read_committed(kafka.servers, target, partitions=2)
    got = sorted((m.key(), m.value(), m.timestamp()[1], m.headers()) for m in messages)
    assert got == sorted((k, v, t, h) for k, v, t, h in _records(250) + _records(30, start=1000))
    assert kafka.committed("connect-" + name, topic, 2) == {0: 250, 1: 30}

    again = _run(config, kafka.servers)  # nothing new: nothing written
    assert again.returncode == 0, again.stderr[-3000:]
    replay = _run(config, kafka.servers, "--from", "earliest")  # everything again: still once
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert len(read_committed(kafka.servers, target, partitions=2)) == 280

    produce(kafka.servers, topic, _records(20, start=250), partition=0)
    more = _run(config, kafka.servers)
    assert more.returncode == 0, more.stderr[-3000:]
    values = sorted(m.value() for m in read_committed(kafka.servers, target, partitions=2))
    assert values == sorted(v for _, v, _, _ in _records(270) + _records(30, start=1000))
    assert kafka.committed("connect-" + name, topic, 2) == {0: 270, 1: 30}


def test_json_values_are_written_from_the_converted_records(kafka, tmp_path):
    topic = kafka.topic()
    target = create_topic(kafka.servers, topic + "-copy")
    produce(kafka.servers, topic, [(b"k", b'{"a": 1, "b": "x"}', 1_700_000_000_000, None)])
    config = write_config(tmp_path / "c.json", _config(
        _name(), topic, kafka.servers, **{
            **ROUTER, "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false", "key.converter": "StringConverter",
            "kafka.value.format": "json", "kafka.key.format": "string",
            "transforms": "route,add", "transforms.add.type":
                "org.apache.kafka.connect.transforms.InsertField$Value",
            "transforms.add.static.field": "c", "transforms.add.static.value": "y"}))

    result = _run(config, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    [message] = read_committed(kafka.servers, target)
    assert (message.key(), json.loads(message.value())) == (b"k", {"a": 1, "b": "x", "c": "y"})


def test_writing_into_a_source_topic_is_a_config_error(kafka, tmp_path):
    topic = kafka.topic()
    config = write_config(tmp_path / "c.json", _config(_name(), topic, kafka.servers))
    result = subprocess.run(cli_command("validate", config), cwd=ROOT, env=cli_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "goes back to the topic it was read from" in result.stderr


def test_a_record_routed_into_a_source_topic_stops_the_run_with_nothing_committed(kafka, tmp_path):
    topic = kafka.topic()
    other = kafka.topic()
    produce(kafka.servers, topic, _records(5))
    name = _name()
    config = write_config(tmp_path / "c.json", _config(
        name, "%s,%s" % (topic, other), kafka.servers, **{
            **ROUTER, "transforms.route.regex": topic, "transforms.route.replacement": other}))
    result = _run(config, kafka.servers)
    assert result.returncode != 0
    assert "which the connector reads on the same cluster" in " ".join(result.stderr.split())
    assert kafka.committed("connect-" + name, topic, 1) == {0: -1001}
    assert read_committed(kafka.servers, other) == []


def test_wrong_target_bootstrap_is_a_clear_error_before_any_record_is_read(kafka, tmp_path):
    from pipelines.processes import free_ports

    topic = kafka.topic()
    produce(kafka.servers, topic, _records(5))
    name = _name()
    wrong = "127.0.0.1:%d" % free_ports(1)[0]
    config = write_config(tmp_path / "c.json", _config(
        name, topic, kafka.servers, **{"producer.override.bootstrap.servers": wrong}))
    result = _run(config, kafka.servers)
    assert result.returncode != 0
    assert "could not reach the target cluster at producer.override.bootstrap.servers=%s" % wrong \
        in result.stderr
    assert "planned" not in result.stderr
    assert kafka.committed("connect-" + name, topic, 1) == {0: -1001}


def test_a_record_the_target_refuses_goes_to_the_dead_letter_queue(kafka, tmp_path):
    topic = kafka.topic()
    target = create_topic(kafka.servers, topic + "-copy", config={"max.message.bytes": "2000"})
    big = (b"big", b"x" * 5000, 1_700_000_000_100, None)
    produce(kafka.servers, topic, _records(10) + [big] + _records(10, start=11))
    name = _name()
    dlq = topic + "-dlq"
    config = write_config(tmp_path / "c.json", _config(name, topic, kafka.servers, **ROUTER, **{
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"}))

    result = _run(config, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(m.value() for m in read_committed(kafka.servers, target)) == sorted(
        v for _, v, _, _ in _records(10) + _records(10, start=11))
    [dead] = read_committed(kafka.servers, dlq)
    assert (dead.key(), dead.value()) == (b"big", b"x" * 5000)
    assert dict(dead.headers())["__connect.errors.offset"] == b"10"
    assert kafka.committed("connect-" + name, topic, 1) == {0: 21}


def test_a_refused_record_replayed_once_the_target_takes_it(kafka, tmp_path):
    from confluent_kafka.admin import AdminClient, ConfigResource

    topic = kafka.topic()
    target = create_topic(kafka.servers, topic + "-copy", config={"max.message.bytes": "2000"})
    produce(kafka.servers, topic, _records(3) + [(b"big", b"x" * 5000, 1_700_000_000_100, None)])
    dlq = topic + "-dlq"
    config = write_config(tmp_path / "c.json", _config(_name(), topic, kafka.servers, **ROUTER, **{
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"}))
    assert _run(config, kafka.servers).returncode == 0
    admin = AdminClient({"bootstrap.servers": kafka.servers})
    resource = ConfigResource(ConfigResource.Type.TOPIC, target,
                              set_config={"max.message.bytes": "100000"})
    for future in admin.alter_configs([resource]).values():
        future.result()

    replay = subprocess.run(cli_command("replay-dlq", config, "--from-topic", dlq,
                                        "--bootstrap-servers", kafka.servers),
                            cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=300)
    assert replay.returncode == 0, replay.stderr[-3000:]
    values = sorted(m.value() for m in read_committed(kafka.servers, target))
    assert values == sorted([b"v0", b"v1", b"v2", b"x" * 5000])


def test_a_refused_record_without_tolerance_fails_the_run_with_nothing_committed(kafka, tmp_path):
    topic = kafka.topic()
    target = create_topic(kafka.servers, topic + "-copy", config={"max.message.bytes": "2000"})
    produce(kafka.servers, topic, _records(3) + [(b"big", b"x" * 5000, 1_700_000_000_100, None)])
    name = _name()
    config = write_config(tmp_path / "c.json", _config(name, topic, kafka.servers, **ROUTER))
    result = _run(config, kafka.servers)
    assert result.returncode != 0
    assert "offset=3" in result.stderr
    assert kafka.committed("connect-" + name, topic, 1) == {0: -1001}
    assert read_committed(kafka.servers, target) == []


def _kill_and_rerun(kafka, target_servers, target, config, count, tmp_path):
    cmd = cli_command("run", config, "--bootstrap-servers", kafka.servers)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    seen = 0
    while time.monotonic() < deadline and proc.poll() is None:
        seen = _uncommitted_count(target_servers, target)
        if seen >= 2000:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert seen < count

    rerun = _run(config, kafka.servers)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    values = [m.value() for m in read_committed(target_servers, target)]
    assert len(values) == len(set(values)) == count


def _uncommitted_count(servers, topic):
    consumer = Consumer({"bootstrap.servers": servers, "group.id": "peek"})
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)
    finally:
        consumer.close()
    return high


def test_killed_run_then_rerun_writes_every_record_once_on_the_same_cluster(kafka, tmp_path):
    count = 40_000
    topic = kafka.topic()
    target = create_topic(kafka.servers, topic + "-copy")
    produce(kafka.servers, topic, [(b"k%d" % i, b"v%d" % i, None, None) for i in range(count)])
    name = _name()
    config = write_config(tmp_path / "c.json", _config(name, topic, kafka.servers, **ROUTER))
    _kill_and_rerun(kafka, kafka.servers, target, config, count, tmp_path)
    assert kafka.committed("connect-" + name, topic, 1) == {0: count}


def test_killed_run_then_rerun_writes_every_record_once_on_another_cluster(kafka, other_kafka,
                                                                           tmp_path):
    count = 40_000
    topic = kafka.topic()
    target = create_topic(other_kafka.servers, topic)  # the same name, on the other cluster
    produce(kafka.servers, topic, [(b"k%d" % i, b"v%d" % i, None, None) for i in range(count)])
    name = _name()
    config = write_config(tmp_path / "c.json", _config(name, topic, kafka.servers, **{
        "producer.override.bootstrap.servers": other_kafka.servers,
        "kafka.offsets.topic.replication.factor": "1"}))
    _kill_and_rerun(kafka, other_kafka.servers, target, config, count, tmp_path)
    assert kafka.committed("connect-" + name, topic, 1) == {0: count}  # mirrored
    again = _run(config, kafka.servers, "--from", "earliest")
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(read_committed(other_kafka.servers, target)) == count


def test_the_target_cluster_stopped_and_restarted_mid_run_loses_nothing(kafka, other_kafka,
                                                                         tmp_path):
    count = 30_000
    topic = kafka.topic()
    target = create_topic(other_kafka.servers, topic)
    produce(kafka.servers, topic, [(b"k%d" % i, b"v%d" % i, None, None) for i in range(count)])
    name = _name()
    config = write_config(tmp_path / "c.json", _config(name, topic, kafka.servers, **{
        "producer.override.bootstrap.servers": other_kafka.servers}))
    proc = subprocess.Popen(cli_command("run", config, "--bootstrap-servers", kafka.servers),
                            cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while _uncommitted_count(other_kafka.servers, target) < 3000:
            assert proc.poll() is None, "the run ended before the broker could be stopped"
            assert time.monotonic() < deadline, "the run wrote nothing within 120 s"
            time.sleep(0.05)
        other_kafka.broker.pause()
        time.sleep(3)
        assert proc.poll() is None
    finally:
        other_kafka.broker.resume()
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    values = [m.value() for m in read_committed(other_kafka.servers, target)]
    assert len(values) == len(set(values)) == count
    assert kafka.committed("connect-" + name, topic, 1) == {0: count}


def test_streaming_commits_each_bundle_in_its_transaction(kafka, tmp_path):
    from tests.helpers import start_cli

    topic = kafka.topic()
    target = create_topic(kafka.servers, topic + "-copy")
    produce(kafka.servers, topic, _records(200))
    name = _name()
    config = write_config(tmp_path / "c.json", _config(name, topic, kafka.servers, **ROUTER))
    proc = start_cli("run", config, "--bootstrap-servers", kafka.servers, "--mode", "streaming",
                     start_new_session=True)
    try:
        kafka.wait_committed("connect-" + name, topic, {0: 200}, proc)
        produce(kafka.servers, topic, _records(100, start=200))
        kafka.wait_committed("connect-" + name, topic, {0: 300}, proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    values = sorted(m.value() for m in read_committed(kafka.servers, target))
    assert values == sorted(v for _, v, _, _ in _records(300))
