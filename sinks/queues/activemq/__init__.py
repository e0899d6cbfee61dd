"""The ActiveMQ sink: records sent to a queue or topic of ActiveMQ Classic or Artemis over STOMP or
AMQP 1.0 (see :mod:`sinks.queues.activemq.sink`)."""

from sinks.queues.activemq.sink import ActiveMQSink

__all__ = ["ActiveMQSink"]
