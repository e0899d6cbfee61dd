"""The Redis sink's keys as a connector config is parsed, and the fields of an entry."""

import re

import pytest

from common.errors import ConfigError
from pipelines.config.connector import parse_connector_config
from sinks.queues.messages import Message
from sinks.queues.redis import RedisSink
from sinks.queues.redis.publisher import record_fields


def _parse(**overrides):
    raw = {"name": "to-redis", "connector.class": "redis", "topics": "orders",
           "bootstrap.servers": "kafka:9092", **overrides}
    return parse_connector_config({k: v for k, v in raw.items() if v is not None})


def test_redis_kafka_connects_keys_and_the_defaults():
    config = _parse(**{"redis.uri": "rediss://app:s3cret%21@cache.example:6380/2",
                       "redis.key": "kafka:${topic}", "redis.cacert": "/etc/ca.pem"})
    sink = config.sink_config

    assert isinstance(config.sink, RedisSink)
    target = sink.target
    assert (target.host, target.port, target.database, target.username, target.password) == (
        "cache.example", 6380, 2, "app", "s3cret!")
    assert (target.tls, target.cacert, target.timeout) == (True, "/etc/ca.pem", 60)
    assert target.describe() == "rediss://cache.example:6380/2"
    assert "s3cret" not in repr(config)
    assert (sink.stream("orders"), sink.body, sink.key_format, sink.value_format) == (
        "kafka:orders", "record", "raw", "raw")
    assert (sink.offsets_key, sink.maxlen, sink.wait_replicas, sink.flush_size) == (
        "beamconnect:offsets:to-redis", 0, 0, 1000)
    plain = _parse().sink_config
    assert (plain.target.describe(), plain.stream("orders")) == ("redis://localhost:6379/0", "orders")


def test_under_redis_kafka_connects_class_an_entry_holds_the_values_fields():
    config = _parse(**{"connector.class": "com.redis.kafka.connect.RedisSinkConnector",
                       "redis.command": "xadd", "redis.host": "h", "redis.port": "7000",
                       "redis.pool": "4", "redis.multiexec": "true"})
    assert (config.sink_config.body, config.sink_config.value_format) == ("value", "json")
    assert config.sink_config.target.describe() == "redis://h:7000/0"
    assert [w.split(" ", 1)[0] for w in config.warnings] == ["redis.pool", "redis.multiexec"]
    with pytest.raises(ConfigError, match=re.escape(
            "redis.entry.value.format applies to redis.stream.body=record; with redis.stream.body=value "
            "an entry holds the value's fields, got 'string'")):
        _parse(**{"redis.stream.body": "value", "redis.entry.value.format": "string"})


@pytest.mark.parametrize("overrides, message", [
    ({"redis.command": "HSET"}, "redis.command must be 'XADD' (stream entries; HSET, SET, JSONSET, "
                                "JSONMERGE, LPUSH, RPUSH, SADD, ZADD, TSADD and DEL are not "
                                "supported), got 'HSET'"),
    ({"redis.cluster": "true"}, "redis.cluster must be false, got 'true': Redis Cluster is not "
                                "supported"),
    ({"redis.charset": "ISO-8859-1"}, "redis.charset must be 'UTF-8' (keys and text are written as "
                                      "UTF-8), got 'ISO-8859-1'"),
    ({"redis.json.path": "p"}, "redis.json.path applies to redis.command=JSONMERGE, which is not "
                               "supported, got 'p'"),
    ({"redis.key": ""}, "redis.key must name the stream"),
    ({"redis.uri": "http://u:pw@h"}, "redis.uri must start with redis:// or rediss://, got 'http://h'"),
    ({"redis.uri": "redis://h/x"}, "redis.uri's path must be a database number, got 'redis://h/x'"),
    ({"redis.uri": "redis://u@h", "redis.username": "v"},
     "redis.uri names user 'u' but redis.username is 'v': set one of them"),
    ({"redis.uri": "redis://:a@h", "redis.password": "b"},
     "redis.uri holds a password that differs from redis.password: set one of them"),
    ({"redis.cacert": "/ca.pem"}, "redis.cacert is set but the connection is not TLS"),
    ({"redis.insecure": "true"}, "redis.insecure applies to TLS connections"),
    ({"transforms": "c", "transforms.c.type": "org.apache.kafka.connect.transforms.Cast$Value",
      "transforms.c.spec": "int32"},
     "transforms.c.type='org.apache.kafka.connect.transforms.Cast$Value' edits the record values, "
     "which redis.entry.value.format=raw writes as read: set redis.entry.value.format to string or "
     "json"),
])
def test_what_the_sink_does_not_do_is_refused_with_the_reason(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _parse(**overrides)


def test_an_entry_holds_the_record_with_its_coordinates():
    message = Message("orders", 3, 42, 1_700_000_000_000, "orders", b"\xff", b"{}",
                      (("trace", b"abc"), ("raw", b"\x00\xff"), ("nil", None)))
    assert record_fields(message) == [
        ("key", b"\xff"), ("value", b"{}"), ("topic", b"orders"), ("partition", b"3"),
        ("offset", b"42"), ("timestamp", b"1700000000000"),
        ("headers", b'[["trace","abc"],["raw",{"base64":"AP8="}],["nil",null]]')]
    assert record_fields(Message("orders", 0, 1, None, "orders", None, None)) == [
        ("topic", b"orders"), ("partition", b"0"), ("offset", b"1")]


def _template(name):
    import os

    from pipelines.config import load_config
    from tests.helpers import ROOT

    return parse_connector_config(load_config(os.path.join(ROOT, "templates", "connectors", name)),
                                  bootstrap_servers="127.0.0.1:9092")


def test_the_example_configs():
    orders = _template("redis-orders-stream.properties").sink_config
    assert (orders.target.describe(), orders.target.username, orders.stream("orders")) == (
        "rediss://cache.example:6380/0", "kafka-sink", "kafka:orders")
    assert (orders.body, orders.maxlen, orders.wait_replicas, orders.offsets_key) == (
        "record", 1_000_000, 1, "beamconnect:offsets:orders-to-redis")

    payments = _template("redis-kafka-connect-xadd.properties")
    assert (payments.sink_config.body, payments.sink_config.stream("payments")) == (
        "value", "stream:payments")
    assert payments.warnings == () and payments.tasks_max == 1
