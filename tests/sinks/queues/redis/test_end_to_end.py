"""The Redis Streams sink end to end through the CLI, against a real Redis server and Kafka broker."""

import json
import time
import uuid

import pytest

from tests.helpers import write_config
from tests.servers.redis import LocalRedis
from tests.sinks.kafka.conftest import produce, read_committed
from tests.sinks.queues.helpers import bare_records, kill_when, records, run, start_run, stop, unique

BYTES = "org.apache.kafka.connect.converters.ByteArrayConverter"


def _config(name, topic, server, **overrides):
    return {"name": name, "connector.class": "redis", "topics": topic, "redis.uri": server.url,
            "key.converter": BYTES, "value.converter": BYTES, "flush.size": "100", **overrides}


def _offsets(entries, partition=0):
    return [int(f[b"offset"]) for _, f in entries if int(f[b"partition"]) == partition]


def test_records_are_entries_with_key_headers_and_coordinates_written_once(kafka, redis_server,
                                                                           tmp_path):
    topic = kafka.topic(partitions=2)
    produce(kafka.servers, topic, [
        (b"k0", b'{"a": 1}', 1_700_000_000_000, [("trace", b"t-0"), ("bin", b"\xff\x00"), ("nil", None)]),
        (None, b"no key", 1_700_000_000_001, None),
        (b"\xfe\xff", None, 1_700_000_000_002, None),  # a binary key and a tombstone
    ] + records(47, start=3), partition=0)
    produce(kafka.servers, topic, records(20, start=100), partition=1)
    name = unique("redis")
    stream = "kafka:" + topic
    config = write_config(tmp_path / "c.json", _config(name, topic, redis_server,
                                                       **{"redis.key": "kafka:${topic}"}))

    result = run(config, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    entries = redis_server.entries(stream)
    assert len(entries) == 70
    assert _offsets(entries, 0) == list(range(50)) and _offsets(entries, 1) == list(range(20))
    by = {(int(f[b"partition"]), int(f[b"offset"])): f for _, f in entries}
    assert by[(0, 0)] == {b"key": b"k0", b"value": b'{"a": 1}', b"topic": topic.encode(),
                          b"partition": b"0", b"offset": b"0", b"timestamp": b"1700000000000",
                          b"headers": b'[["trace","t-0"],["bin",{"base64":"/wA="}],["nil",null]]'}
    assert b"key" not in by[(0, 1)] and by[(0, 1)][b"value"] == b"no key"
    assert (by[(0, 2)][b"key"], b"value" in by[(0, 2)]) == (b"\xfe\xff", False)
    assert [(by[(1, o)][b"value"], json.loads(by[(1, o)][b"headers"])) for o in range(3)] == [
        (b"v%d" % i, [["n", "%d" % i]]) for i in range(100, 103)]
    assert kafka.committed("connect-" + name, topic, 2) == {0: 50, 1: 20}
    assert redis_server.client().hgetall("beamconnect:offsets:" + name) == {
        ("%s/0" % topic).encode(): b"50", ("%s/1" % topic).encode(): b"20"}

    replay = run(config, kafka.servers, "--from", "earliest")  # everything read again: none twice
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert redis_server.entries(stream) == entries


def test_an_entry_redis_refuses_goes_to_the_dead_letter_queue(kafka, redis_server, tmp_path):
    topic = kafka.topic()
    blocked = "blocked-" + uuid.uuid4().hex[:8]
    redis_server.client().set(blocked, "not a stream")
    denied = (b"bad", b"refused value", 1_700_000_000_500, [("route", b"yes")])
    produce(kafka.servers, topic, records(10) + [denied] + records(9, start=11))
    name, dlq = unique("redis"), topic + "-dlq"
    config = write_config(tmp_path / "c.json", _config(name, topic, redis_server, **{
        "transforms": "block", "transforms.block.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.block.regex": ".*", "transforms.block.replacement": blocked,
        "transforms.block.predicate": "routed", "predicates": "routed",
        "predicates.routed.type": "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
        "predicates.routed.name": "route",
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"}))

    result = run(config, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _offsets(redis_server.entries(topic)) == [o for o in range(20) if o != 10]
    [dead] = read_committed(kafka.servers, dlq)
    assert (dead.key(), dead.value()) == (b"bad", b"refused value")
    headers = dict(dead.headers())
    assert headers["__connect.errors.offset"] == b"10"
    assert (b"Redis refused the entry for stream '%s': WRONGTYPE" % blocked.encode()
            in headers["__connect.errors.exception.message"])
    assert redis_server.client().get(blocked) == b"not a stream"
    assert kafka.committed("connect-" + name, topic, 1) == {0: 20}


def test_a_killed_run_then_a_rerun_writes_every_record_once(kafka, redis_server, tmp_path):
    count = 20_000
    topic = kafka.topic()
    produce(kafka.servers, topic, bare_records(count))
    client = redis_server.client()
    name = unique("redis")
    group = "connect-" + name
    config = write_config(tmp_path / "c.json", _config(name, topic, redis_server, **{"flush.size": "500"}))

    # Streaming commits bundle by bundle: what is committed when the run dies must be written.
    proc = start_run(config, kafka.servers, "--mode", "streaming")
    kill_when(proc, lambda: kafka.committed(group, topic, 1)[0] > 0 and client.xlen(topic) < count)
    committed = kafka.committed(group, topic, 1)[0]
    written = _offsets(redis_server.entries(topic))
    assert 0 < committed <= len(written) < count
    assert written == list(range(len(written)))  # in order, from the first, none twice

    rerun = run(config, kafka.servers)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    entries = redis_server.entries(topic)
    assert _offsets(entries) == list(range(count))
    assert all(f[b"value"] == b"v%s" % f[b"offset"] for _, f in entries)
    assert kafka.committed(group, topic, 1) == {0: count}
    assert client.hget("beamconnect:offsets:" + name, "%s/0" % topic) == b"%d" % count


def test_redis_stopped_and_restarted_mid_run_loses_nothing_and_doubles_nothing(kafka, redis_server,
                                                                               tmp_path):
    if redis_server.local is None:
        pytest.skip("needs the suite's own server, which the test stops and restarts")
    count = 10_000
    topic = kafka.topic()
    produce(kafka.servers, topic, bare_records(count))
    name = unique("redis")
    config = write_config(tmp_path / "c.json", _config(name, topic, redis_server, **{"flush.size": "500"}))

    proc = start_run(config, kafka.servers)
    try:
        deadline = time.monotonic() + 120
        while redis_server.client().xlen(topic) < 500:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()[-3000:]
            time.sleep(0.02)
        redis_server.local.pause()
        time.sleep(1.5)
        redis_server.local.resume()
        _, stderr = proc.communicate(timeout=180)
    finally:
        stop(proc)
    assert proc.returncode == 0, stderr[-3000:]
    assert "reconnecting" in stderr
    assert _offsets(redis_server.entries(topic)) == list(range(count))
    assert kafka.committed("connect-" + name, topic, 1) == {0: count}


def test_wrong_credentials_are_a_clear_error_before_any_record_is_read(kafka, tmp_path):
    password = "right-" + uuid.uuid4().hex
    wrong = "wrong-" + uuid.uuid4().hex
    topic = kafka.topic()
    produce(kafka.servers, topic, records(5))
    name = unique("redis")
    with LocalRedis(users={"sink": password}) as server:
        config = write_config(tmp_path / "c.json", {
            **_config(name, topic, server), "redis.uri": "redis://sink:%s@%s:%d" % (
                wrong, server.host, server.port)})
        result = run(config, kafka.servers)
    assert result.returncode != 0
    assert ("Redis at redis://%s:%d/0 refused the login as user 'sink': invalid username-password "
            "pair or user is disabled.; check redis.username and redis.password"
            % (server.host, server.port)) in " ".join(result.stderr.split())
    assert wrong not in result.stdout + result.stderr
    assert "planned" not in result.stderr
    assert kafka.committed("connect-" + name, topic, 1) == {0: -1001}
