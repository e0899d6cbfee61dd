"""The NATS JetStream sink: records as acknowledged, deduplicated messages.

See :mod:`sinks.queues.nats.sink` for its delivery guarantee.
"""

from sinks.queues.nats.sink import NatsSink

__all__ = ["NatsSink"]
