"""The NATS sink end to end through the CLI, against a real nats-server with JetStream."""

import time
import uuid

from tests.helpers import write_config
from tests.servers.nats import LocalNats
from tests.sinks.kafka.conftest import produce, read_committed
from tests.sinks.queues.helpers import bare_records, kill_when, records, run, start_run, stop, unique
from tests.sinks.queues.nats.conftest import NatsServer

BYTES = "org.apache.kafka.connect.converters.ByteArrayConverter"


def _config(name, topic, nats_url, **overrides):
    return {"name": name, "connector.class": "nats", "topics": topic, "key.converter": BYTES,
            "value.converter": BYTES, "nats.servers": nats_url, "flush.size": "100", **overrides}


def _records(count, start=0):
    return records(count, start, extra_headers=[("empty", None)])


def _offsets(messages):
    return sorted((m.headers["Kafka-Partition"], int(m.headers["Kafka-Offset"])) for m in messages)


def test_records_are_published_with_key_headers_and_coordinates_and_replays_vanish(
        kafka, nats_server, tmp_path):
    topic = kafka.topic(partitions=2)
    produce(kafka.servers, topic, _records(150), partition=0)
    produce(kafka.servers, topic, [(None, b"no-key", None, None)] + _records(29, start=1000),
            partition=1)
    name, prefix = unique("nats"), "kafka.%s" % uuid.uuid4().hex[:8]
    stream = "S" + uuid.uuid4().hex[:10]
    config = write_config(tmp_path / "c.json", _config(name, topic, nats_server.url, **{
        "nats.subject": prefix + ".${topic}.${partition}", "nats.stream": stream,
        "nats.stream.create": "true", "nats.stream.subjects": prefix + ".>"}))

    first = run(config, kafka.servers)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "created stream %s" % stream in first.stderr
    messages = nats_server.messages(stream)
    assert len(messages) == 180
    by_id = {m.headers["Nats-Msg-Id"]: m for m in messages}
    assert len(by_id) == 180
    m = by_id["%s-0-7" % topic]
    assert (m.subject, m.data) == ("%s.%s.0" % (prefix, topic), b"v7")
    assert m.headers == {"Nats-Msg-Id": "%s-0-7" % topic, "Nats-Expected-Stream": stream,
                         "Kafka-Topic": topic,
                         "Kafka-Partition": "0", "Kafka-Offset": "7",
                         "Kafka-Timestamp": "1700000000007", "Kafka-Key": "k7", "n": "7", "empty": ""}
    keyless = by_id["%s-1-0" % topic]
    assert (keyless.subject, keyless.data) == ("%s.%s.1" % (prefix, topic), b"no-key")
    assert "Kafka-Key" not in keyless.headers
    assert sorted((m.subject, m.data) for m in messages) == sorted(
        [("%s.%s.0" % (prefix, topic), b"v%d" % i) for i in range(150)]
        + [("%s.%s.1" % (prefix, topic), b"v%d" % i) for i in range(1000, 1029)]
        + [("%s.%s.1" % (prefix, topic), b"no-key")])
    assert kafka.committed("connect-" + name, topic, 2) == {0: 150, 1: 30}

    replay = run(config, kafka.servers, "--from", "earliest")  # within the duplicate window: dropped
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert "already in the stream" in replay.stderr
    assert nats_server.count(stream) == 180
    assert kafka.committed("connect-" + name, topic, 2) == {0: 150, 1: 30}


def test_killed_run_then_rerun_stores_every_record_once(kafka, nats_server, tmp_path):
    count = 6_000
    topic = kafka.topic()
    produce(kafka.servers, topic, bare_records(count))
    stream, [subject] = nats_server.stream()
    name = unique("nats")
    config = write_config(tmp_path / "c.json", _config(name, topic, nats_server.url, **{
        "nats.subject": subject, "nats.stream": stream, "flush.size": "1000"}))

    def a_thousand_stored():  # what the stream holds, once that is 1000 messages or more
        seen = nats_server.count(stream)
        return seen if seen >= 1000 else 0

    proc = start_run(config, kafka.servers, quiet=True)
    seen = kill_when(proc, a_thousand_stored)
    assert seen < count
    committed = kafka.committed("connect-" + name, topic, 1)[0]
    stored = nats_server.count(stream)
    assert committed < count and stored >= max(committed, 0)

    rerun = run(config, kafka.servers)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    if stored > max(committed, 0):  # published, not committed: published again, and dropped
        assert "already in the stream" in rerun.stderr
    assert nats_server.count(stream) == count
    assert _offsets(nats_server.messages(stream)) == [("0", i) for i in range(count)]
    assert kafka.committed("connect-" + name, topic, 1) == {0: count}


def test_server_stopped_and_restarted_mid_run_loses_nothing_stores_nothing_twice_and_commits_only_acks(
        kafka, own_nats_server, tmp_path):
    count = 8_000
    server = own_nats_server
    topic = kafka.topic()
    produce(kafka.servers, topic, bare_records(count))
    stream, [subject] = server.stream()
    name = unique("nats")
    group = "connect-" + name
    config = write_config(tmp_path / "c.json", _config(name, topic, server.url, **{
        "nats.subject": subject, "flush.size": "500", "nats.publish.ack.timeout.ms": "2000"}))
    proc = start_run(config, kafka.servers, "--mode", "streaming")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            committed = kafka.committed(group, topic, 1)[0]
            stored = server.count(stream)
            assert stored >= committed  # an offset is committed once its message is acknowledged
            if stored >= 1500:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before the server could be stopped"
        server.local.pause()
        paused = None
        for _ in range(10):  # until the commits of what was acknowledged before are done
            time.sleep(0.5)
            before, paused = paused, kafka.committed(group, topic, 1)[0]
            if before == paused:
                break
        time.sleep(1.0)
        assert kafka.committed(group, topic, 1)[0] == paused < count  # nothing acknowledged
        server.local.resume()
        kafka.wait_committed(group, topic, {0: count}, proc)
    finally:
        stderr = stop(proc)
    assert "reconnecting" in stderr
    assert server.count(stream) == count
    assert _offsets(server.messages(stream)) == [("0", i) for i in range(count)]


def test_refused_messages_go_to_the_dead_letter_queue(kafka, nats_server, tmp_path):
    topic, other = kafka.topic(), kafka.topic()
    big = (b"big", b"x" * 5000, 1_700_000_000_100, None)
    produce(kafka.servers, topic, _records(10) + [big] + _records(10, start=11))
    produce(kafka.servers, other, _records(3, start=100))
    stream, _ = nats_server.stream([topic], max_msg_size=2000)
    name = unique("nats")
    dlq = topic + "-dlq"
    config = write_config(tmp_path / "c.json", _config(name, "%s,%s" % (topic, other),
                                                       nats_server.url, **{
        "transforms": "route", "transforms.route.type": "RegexRouter",
        "transforms.route.regex": other, "transforms.route.replacement": other + ".unrouted",
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"}))

    result = run(config, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(m.data for m in nats_server.messages(stream)) == sorted(
        v for _, v, _, _ in _records(10) + _records(10, start=11))
    dead = {(h["__connect.errors.topic"], int(h["__connect.errors.offset"])): (m.value(), h)
            for m in read_committed(kafka.servers, dlq) for h in [dict(m.headers())]}
    assert sorted(dead) == [(t.encode(), o) for t, o in sorted(
        [(topic, 10), (other, 0), (other, 1), (other, 2)])]
    value, headers = dead[(topic.encode(), 10)]
    assert value == b"x" * 5000
    assert b"message size exceeds maximum allowed" in headers["__connect.errors.exception.message"]
    value, headers = dead[(other.encode(), 1)]
    assert value == b"v101"
    assert (b"no JetStream stream captures subject '%s.unrouted'" % other.encode()
            in headers["__connect.errors.exception.message"])
    assert kafka.committed("connect-" + name, topic, 1) == {0: 21}
    assert kafka.committed("connect-" + name, other, 1) == {0: 3}


def test_wrong_credentials_are_a_clear_error_before_any_record_is_read(kafka, tmp_path):
    topic = kafka.topic()
    produce(kafka.servers, topic, _records(3))
    password = "the-right-" + uuid.uuid4().hex
    wrong = "not-the-password-" + uuid.uuid4().hex
    with LocalNats(users={"beam": password}) as server:
        stream, [subject] = NatsServer(server.url, server, ("beam", password)).stream()
        name = unique("nats")
        config = write_config(tmp_path / "c.json", _config(name, topic, server.url, **{
            "nats.subject": subject, "nats.username": "beam", "nats.password": wrong}))
        result = run(config, kafka.servers)
    assert result.returncode == 1
    assert ("the NATS server at %s refused user 'beam' (nats.username, nats.password): "
            "Authorization Violation" % server.url) in " ".join(result.stderr.split())
    assert wrong not in result.stderr and wrong not in result.stdout
    assert "planned" not in result.stderr
    assert kafka.committed("connect-" + name, topic, 1) == {0: -1001}
