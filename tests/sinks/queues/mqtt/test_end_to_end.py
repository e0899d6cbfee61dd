"""The MQTT sink end to end through the CLI, against a real mosquitto broker and Kafka broker."""

import base64
import os
import signal
import time
import uuid

import pytest

from tests.helpers import write_config
from tests.servers.mosquitto import LocalMosquitto
from tests.sinks.kafka.conftest import produce, read_committed
from tests.sinks.queues.helpers import bare_records, kill_when, records, run, start_run, stop, unique

BYTES = "org.apache.kafka.connect.converters.ByteArrayConverter"


def _config(name, topic, broker, **overrides):
    return {"name": name, "connector.class": "io.confluent.connect.mqtt.MqttSinkConnector",
            "topics": topic, "mqtt.server.uri": broker.url, "key.converter": BYTES,
            "value.converter": BYTES, "flush.size": "100", **overrides}


def _offsets(messages):
    return {m.coordinates[2] for m in messages}


def test_records_are_published_with_key_headers_and_coordinates(kafka, mosquitto, subscribe,
                                                                tmp_path):
    topic = kafka.topic(partitions=2)
    produce(kafka.servers, topic, [
        (b"k0", b'{"a": 1}', 1_700_000_000_000, [("trace", b"t-0"), ("bin", b"\xff\x00"), ("nil", None)]),
        (None, b"no key", 1_700_000_000_001, None),
        (b"\xfe\xff", None, 1_700_000_000_002, None),  # a binary key and a tombstone
    ] + records(47, start=3), partition=0)
    produce(kafka.servers, topic, records(20, start=100), partition=1)
    subscriber = subscribe("beam/%s" % topic)
    name = unique("mqtt")
    config = write_config(tmp_path / "c.json", _config(name, topic, mosquitto,
                                                       **{"mqtt.topic.format": "beam/${topic}"}))

    result = run(config, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    messages = subscriber.wait_for(lambda got: len(got) >= 70)
    assert kafka.committed("connect-" + name, topic, 2) == {0: 50, 1: 20}
    by = {m.coordinates: m for m in messages}
    assert len(messages) == len(by) == 70
    assert {m.topic for m in messages} == {"beam/" + topic}
    first = by[(topic, 0, 0)]
    assert first.payload == b'{"a": 1}'
    assert first.properties == (("kafka.topic", topic), ("kafka.partition", "0"), ("kafka.offset", "0"),
                                ("kafka.timestamp", "1700000000000"), ("kafka.key", "k0"),
                                ("trace", "t-0"), ("bin.base64", base64.b64encode(b"\xff\x00").decode()),
                                ("nil", ""))
    assert by[(topic, 0, 1)].user_property("kafka.key") is None and by[(topic, 0, 1)].payload == b"no key"
    tombstone = by[(topic, 0, 2)]
    assert (tombstone.payload, tombstone.user_property("kafka.key.base64")) == (b"", "/v8=")
    for offset in range(3, 50):
        assert (by[(topic, 0, offset)].payload, by[(topic, 0, offset)].user_property("n")) == (
            b"v%d" % offset, "%d" % offset)
    assert sorted(m.payload for m in messages if m.coordinates[1] == 1) == sorted(
        b"v%d" % i for i in range(100, 120))
    assert "mqtt.clean.session.enabled" not in result.stderr


def test_a_refused_message_goes_to_the_dead_letter_queue(kafka, mosquitto, subscribe, tmp_path):
    if mosquitto.refused_prefix is None:
        pytest.skip("needs the suite's own broker, whose ACL refuses a topic")
    topic = kafka.topic()
    denied = (b"bad", b"denied value", 1_700_000_000_500, [("deny", b"yes")])
    produce(kafka.servers, topic, records(10) + [denied] + records(9, start=11))
    subscriber = subscribe(topic)
    name, dlq = unique("mqtt"), topic + "-dlq"
    config = write_config(tmp_path / "c.json", _config(name, topic, mosquitto, **{
        "transforms": "deny", "transforms.deny.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.deny.regex": ".*", "transforms.deny.replacement": mosquitto.refused_prefix,
        "transforms.deny.predicate": "denied", "predicates": "denied",
        "predicates.denied.type": "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
        "predicates.denied.name": "deny",
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"}))

    result = run(config, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    messages = subscriber.wait_for(lambda got: len(got) >= 19)
    assert sorted(_offsets(messages)) == [o for o in range(20) if o != 10]
    [dead] = read_committed(kafka.servers, dlq)
    assert (dead.key(), dead.value()) == (b"bad", b"denied value")
    headers = dict(dead.headers())
    assert headers["__connect.errors.offset"] == b"10"
    assert b"Not authorized (PUBACK 0x87)" in headers["__connect.errors.exception.message"]
    assert kafka.committed("connect-" + name, topic, 1) == {0: 20}


def test_a_killed_run_then_a_rerun_delivers_every_record_at_least_once(kafka, mosquitto, subscribe,
                                                                       tmp_path):
    count = 12_000
    topic = kafka.topic()
    produce(kafka.servers, topic, bare_records(count))
    subscriber = subscribe(topic)
    name = unique("mqtt")
    group = "connect-" + name
    config = write_config(tmp_path / "c.json", _config(name, topic, mosquitto, **{"flush.size": "500"}))

    # Streaming commits bundle by bundle: what is committed when the run dies must have arrived.
    proc = start_run(config, kafka.servers, "--mode", "streaming")
    kill_when(proc, lambda: kafka.committed(group, topic, 1)[0] > 0
              and len(subscriber.received()) < count)
    committed = kafka.committed(group, topic, 1)[0]
    assert 0 < committed < count
    subscriber.wait_for(lambda got: _offsets(got) >= set(range(committed)), timeout=30,
                        what="every committed record")

    rerun = run(config, kafka.servers)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    messages = subscriber.wait_for(lambda got: len(_offsets(got)) >= count, what="every record")
    assert _offsets(messages) == set(range(count))
    for message in messages:  # a copy is the same message: same payload, same coordinates
        offset = message.coordinates[2]
        assert message.coordinates == (topic, 0, offset) and message.payload == b"v%d" % offset
        assert message.user_property("kafka.key") == "k%d" % offset
    assert kafka.committed(group, topic, 1) == {0: count}


def test_the_broker_stopped_and_restarted_mid_run_loses_nothing(kafka, mosquitto, subscribe,
                                                                tmp_path):
    if mosquitto.local is None:
        pytest.skip("needs the suite's own broker, which the test stops and restarts")
    count = 8_000
    topic = kafka.topic()
    produce(kafka.servers, topic, bare_records(count))
    subscriber = subscribe(topic, protocol="3.1.1")  # whose session mosquitto restores
    name = unique("mqtt")
    config = write_config(tmp_path / "c.json", _config(name, topic, mosquitto, **{"flush.size": "500"}))

    def values(messages):
        return {int(m.payload[1:]) for m in messages}

    proc = start_run(config, kafka.servers)
    try:
        subscriber.wait_for(lambda got: len(got) >= 500, timeout=120, what="the first messages")
        mosquitto.local.pause()
        time.sleep(1.5)  # the sink loses its connection and fails to reconnect a few times
        # mosquitto 2.0.11 restores a persistent session after a restart, but routes nothing to it
        # until its client is back: hold the sink until the subscriber has reconnected.
        os.killpg(proc.pid, signal.SIGSTOP)
        connects = subscriber.connects
        mosquitto.local.resume()
        subscriber.wait_connected(connects + 1)
        os.killpg(proc.pid, signal.SIGCONT)
        _, stderr = proc.communicate(timeout=180)
    finally:
        stop(proc)
    assert proc.returncode == 0, stderr[-3000:]
    assert "reconnecting" in stderr
    messages = subscriber.wait_for(lambda got: len(values(got)) >= count, what="every record")
    assert values(messages) == set(range(count))
    assert kafka.committed("connect-" + name, topic, 1) == {0: count}


def test_wrong_credentials_are_a_clear_error_before_any_record_is_read(kafka, tmp_path):
    password = "right-" + uuid.uuid4().hex
    wrong = "wrong-" + uuid.uuid4().hex
    topic = kafka.topic()
    produce(kafka.servers, topic, records(5))
    name = unique("mqtt")
    with LocalMosquitto(users={"sink": password}) as broker:
        config = write_config(tmp_path / "c.json", _config(name, topic, broker, **{
            "mqtt.username": "sink", "mqtt.password": wrong}))
        result = run(config, kafka.servers)
    assert result.returncode != 0
    assert ("the MQTT broker at %s refused the connection as user 'sink': Not authorized (CONNACK "
            "0x87); check mqtt.username and mqtt.password" % broker.url) in " ".join(result.stderr.split())
    assert wrong not in result.stdout + result.stderr
    assert "planned" not in result.stderr
    assert kafka.committed("connect-" + name, topic, 1) == {0: -1001}
