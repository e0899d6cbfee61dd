"""The Redis publisher on its own against a real Redis server: the batch script, what it skips and
stores, refusals, and the write loop splitting a bundle around a refused record."""

import re
import uuid

import pyarrow as pa
import pytest

from common.errors import BeamConnectError, DataError, RejectedRecord
from sinks.base import Mode, WriteContext
from sinks.queues.messages import Message
from sinks.queues.publish import PublishSettings, PublishWriter
from sinks.queues.redis.config import RedisSinkConfig, RedisTarget
from sinks.queues.redis.publisher import RedisPublisher
from transforms.errors import ErrorPolicy
from transforms.records import ConvertedBundle, KafkaBundle


def _config(server, **overrides):
    import urllib.parse

    parsed = urllib.parse.urlsplit(server.url)
    target = RedisTarget(parsed.hostname, parsed.port or 6379, int(parsed.path.strip("/") or 0),
                         urllib.parse.unquote(parsed.username or ""),
                         urllib.parse.unquote(parsed.password or ""))
    values = {"name": "pub", "target": target, "offsets_key": "test:offsets:" + uuid.uuid4().hex[:8],
              **overrides}
    return RedisSinkConfig(**values)


def _messages(topic, offsets, stream=None, value=b"v"):
    return [Message(topic, 1, o, 1_700_000_000_000 + o, stream or topic, b"k%d" % o, value)
            for o in offsets]


def _publisher(config, replay=False):
    publisher = RedisPublisher(config, replay)
    publisher.connect()
    return publisher


def test_a_batch_sent_again_adds_nothing_twice_and_stores_the_next_offset(redis_server):
    topic = "t-" + uuid.uuid4().hex[:8]
    config = _config(redis_server)
    publisher = _publisher(config)
    try:
        publisher.publish(_messages(topic, range(0, 10)))
        publisher.publish(_messages(topic, range(0, 15)))  # a resend, with more: only 10..14 added
        publisher.publish(_messages(topic, [3, 4]))
    finally:
        publisher.close()
    offsets = [int(f[b"offset"]) for _, f in redis_server.entries(topic)]
    assert offsets == list(range(15))
    assert redis_server.client().hget(config.offsets_key, "%s/1" % topic) == b"15"


def test_a_refused_entry_stops_the_batch_there_so_the_offset_does_not_pass_it(redis_server):
    topic = "t-" + uuid.uuid4().hex[:8]
    blocked = topic + "-blocked"
    redis_server.client().hset(blocked, "a", "b")
    config = _config(redis_server)
    batch = _messages(topic, range(6))
    batch[3] = _messages(topic, [3], stream=blocked)[0]
    publisher = _publisher(config)
    try:
        with pytest.raises(DataError, match=re.escape(
                "the entry of topic=%s partition=1 offset=3 was refused: Redis refused the entry for "
                "stream '%s': WRONGTYPE" % (topic, blocked))):
            publisher.publish(batch)
        assert [int(f[b"offset"]) for _, f in redis_server.entries(topic)] == [0, 1, 2]
        assert redis_server.client().hget(config.offsets_key, "%s/1" % topic) == b"3"
        publisher.publish(batch[4:])  # once the refused record is dead-lettered, the rest goes on
    finally:
        publisher.close()
    assert [int(f[b"offset"]) for _, f in redis_server.entries(topic)] == [0, 1, 2, 4, 5]


def test_dead_letter_replays_skip_nothing_and_name_the_refused_entries(redis_server):
    topic = "t-" + uuid.uuid4().hex[:8]
    blocked = topic + "-blocked"
    redis_server.client().set(blocked, "x")
    config = _config(redis_server)
    batch = _messages(topic, [5, 9, 12])
    batch[1] = _messages(topic, [9], stream=blocked)[0]
    publisher = _publisher(config, replay=True)
    try:
        with pytest.raises(RejectedRecord) as refused:
            publisher.publish(batch)
        publisher.publish(_messages(topic, [5]))
    finally:
        publisher.close()
    assert refused.value.offsets == (9,)
    assert [int(f[b"offset"]) for _, f in redis_server.entries(topic)] == [5, 12, 5]
    assert redis_server.client().exists(config.offsets_key) == 0


def test_the_value_body_writes_the_values_fields_as_redis_kafka_connect_does(redis_server):
    topic = "t-" + uuid.uuid4().hex[:8]
    config = _config(redis_server, body="value", value_format="json")
    good = _messages(topic, [0], value=b'{"name":"a","n":1,"x":1.5,"ok":true,"nil":null,"l":[1,2]}')
    publisher = _publisher(config)
    try:
        publisher.publish(good)
        with pytest.raises(DataError, match=re.escape(
                "redis.stream.body=value writes a value's fields, but the value of topic=%s partition=1 "
                "offset=1 is a string (use a struct or map value, or redis.stream.body=record)" % topic)):
            publisher.publish(_messages(topic, [1], value=b'"text"'))
    finally:
        publisher.close()
    [(_, fields)] = redis_server.entries(topic)
    assert fields == {b"name": b"a", b"n": b"1", b"x": b"1.5", b"ok": b"true", b"l": b"[1,2]"}


def test_trimming_keeps_about_maxlen_entries(redis_server):
    topic = "t-" + uuid.uuid4().hex[:8]
    publisher = _publisher(_config(redis_server, maxlen=10, approximate=False))
    try:
        publisher.publish(_messages(topic, range(50)))
    finally:
        publisher.close()
    assert [int(f[b"offset"]) for _, f in redis_server.entries(topic)] == list(range(40, 50))


def test_an_offsets_key_of_another_type_is_a_clear_error(redis_server):
    config = _config(redis_server)
    redis_server.client().set(config.offsets_key, "x")
    with pytest.raises(BeamConnectError, match=re.escape(
            "redis.offsets.key=%r holds a string; the sink keeps its offsets in a hash there: name "
            "another key" % config.offsets_key)):
        _publisher(config)


def test_the_write_loop_isolates_a_refused_record_and_writes_the_rest_once(redis_server):
    topic = "t-" + uuid.uuid4().hex[:8]
    blocked = topic + "-blocked"
    redis_server.client().set(blocked, "x")
    config = _config(redis_server)
    count = 40
    offsets = list(range(100, 100 + count))
    raw = KafkaBundle(topic, 1, 100, offsets, [1] * count, [1] * count, [b"k"] * count,
                      [b"v%d" % o for o in offsets], [None] * count)
    topics = [blocked if o in (107, 131) else topic for o in offsets]
    bundle = ConvertedBundle(topic, 1, 100, offsets, [1] * count, pa.array([None] * count),
                             pa.array([None] * count), [None] * count, topics=topics, raw=raw,
                             rows=list(range(count)))
    context = WriteContext(Mode.BATCH, errors=ErrorPolicy(tolerance="all"), connector_class="redis")
    writer = PublishWriter(context, lambda: RedisPublisher(config), PublishSettings(batch_size=16))
    writer.setup()
    try:
        [result] = writer.process(bundle)
    finally:
        writer.teardown()
    assert [(f.offset, f.stage) for f in result.failed] == [(107, "TASK_PUT"), (131, "TASK_PUT")]
    assert [int(f[b"offset"]) for _, f in redis_server.entries(topic)] == [
        o for o in offsets if o not in (107, 131)]
    assert redis_server.client().hget(config.offsets_key, "%s/1" % topic) == b"140"
