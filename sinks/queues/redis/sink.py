"""The Redis Streams sink: each record one stream entry (``XADD``), written exactly once.

The stream of a record is ``redis.key`` (``${topic}``, the record's topic after the transforms, by
default). With ``redis.stream.body=record`` (``connector.class=redis``) an entry holds the record:
``key``, ``value``, ``topic``, ``partition``, ``offset``, ``timestamp`` and ``headers`` fields; with
``value`` (the default under redis-kafka-connect's class name, as it writes streams) the value's
top-level fields. Redis chooses the entry ids (``*``, time-based), so any number of topics and
partitions may share a stream.

Delivery: exactly once per connector and source topic-partition, in bounded and streaming runs. Each
batch is one atomic Lua script that adds its entries and stores the partition's next offset in the
connector's offsets hash (``redis.offsets.key``, default ``beamconnect:offsets:<name>``, field
``<topic>/<partition>``), and skips the records below the offset it finds there
(:mod:`sinks.queues.redis.publisher`). So a batch sent again after a lost reply, a rerun after a run
killed before its commit, and ``--from earliest`` add nothing twice; the group's offsets are committed
once a bundle's scripts (and ``redis.wait.replicas``' WAIT) answered. The offsets hash is the record of
what was written: delete it (or its field) to write a partition's records again. ``replay-dlq``
writes its dead letters at least once (nothing is skipped for scattered offsets).

How durable a written entry is depends on the server: with ``appendonly yes`` and ``appendfsync
everysec`` a crash of Redis itself may lose the last second, entries and offsets together, which the
next run then writes again. Records Redis refuses (``WRONGTYPE``: the key is not a stream) go to the
error path with their offsets; the stored offset never passes a refused record before it is
dead-lettered.
"""

from __future__ import annotations

import functools
from typing import Any, Mapping

import apache_beam as beam

from common.errors import ConfigError
from sinks.base import Bundling, ConnectorContext, Mode, Sink, WriteContext
from sinks.queues.messages import Message
from sinks.queues.publish import PublishSettings, PublishWriter, WriteToQueue, check_publisher
from sinks.queues.redis.config import IGNORED_KEYS, RedisSinkConfig, config_def
from sinks.queues.redis.publisher import RedisPublisher


class RedisSink(Sink):
    """``connector.class=redis`` (``record`` entries) or
    ``com.redis.kafka.connect.RedisSinkConnector`` (``value`` entries, as redis-kafka-connect writes).

    Args:
      body: The default of ``redis.stream.body``.
    """

    ignored_keys = IGNORED_KEYS
    target_noun = "streams"

    def __init__(self, body: str = "record"):
        self.config_def = config_def(body)

    def parse(self, values: Mapping[str, Any]) -> RedisSinkConfig:
        raise ConfigError("connector.class=redis needs the connector's settings: build it with "
                          "configure(values, connector)")

    def configure(self, values: Mapping[str, Any], connector: ConnectorContext) -> RedisSinkConfig:
        return RedisSinkConfig.from_values(values, connector)

    def check(self, config: RedisSinkConfig) -> None:
        """Connects and loads the script once: an unreachable server, refused credentials or an
        offsets key of another type fail before any record is read."""
        check_publisher(RedisPublisher(config))

    def bundling(self, config: RedisSinkConfig) -> Bundling:
        return Bundling(config.flush_size, close_caught_up=True)

    def write(self, config: RedisSinkConfig, context: WriteContext) -> beam.PTransform:
        settings = PublishSettings(key_format=config.key_format, value_format=config.value_format)
        publisher = functools.partial(RedisPublisher, config, context.mode is Mode.REPLAY)
        writer = PublishWriter(context, publisher, settings,
                               target=functools.partial(_stream_of, config))
        return WriteToQueue(writer, label="AddToRedisStreams")


def _stream_of(config: RedisSinkConfig, message: Message) -> str:
    return config.stream(message.target)
