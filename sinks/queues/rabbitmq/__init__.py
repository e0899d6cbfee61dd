"""The RabbitMQ sink: records published to one exchange, at least once (see
:mod:`sinks.queues.rabbitmq.sink`)."""

from sinks.queues.rabbitmq.sink import RabbitMQSink

__all__ = ["RabbitMQSink"]
