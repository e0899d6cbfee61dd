"""The Redis Streams sink: one stream entry per record, exactly once (see :mod:`sinks.queues.redis.sink`)."""

from sinks.queues.redis.sink import RedisSink

__all__ = ["RedisSink"]
