"""The Kafka sink: records forwarded to Kafka topics exactly once (see :mod:`sinks.kafka.sink`)."""

from sinks.kafka.sink import KafkaSink

__all__ = ["KafkaSink"]
