"""The RabbitMQ sink: records published to one exchange with publisher confirms, at least once.

``connector.class=io.confluent.connect.rabbitmq.sink.RabbitMQSinkConnector`` (or ``rabbitmq``) with
Confluent's ``rabbitmq.*`` keys (:mod:`sinks.queues.rabbitmq.config`). Each record becomes one AMQP
message on ``rabbitmq.exchange``, with ``rabbitmq.routing.key`` (by default the record's target
topic), the value's bytes as its body and ``rabbitmq.delivery.mode``.

Delivery: at least once. A bundle's messages are published in batches of
``rabbitmq.publish.max.batch.size``, each confirmed by the broker (publisher confirms) before the next
(:mod:`sinks.queues.rabbitmq.publisher`); the bundle's offsets are committed only once every batch of
it is confirmed (:class:`~sinks.queues.publish.PublishWriter`). With ``PERSISTENT`` delivery a durable
queue has written a message to disk before its confirm, so a broker restart loses nothing confirmed.
A lost connection or a confirm that does not come in time is reconnected with backoff and the
unconfirmed batch published again. Messages no queue takes (``mandatory``), that the broker keeps
nacking, or that cannot be encoded go to the error path (``errors.tolerance``) with their offsets.

Replays publish again: a batch whose confirms were lost, and every bundle a killed run published but
did not commit, are published a second time on reconnect or on the next run. RabbitMQ does not
deduplicate, so a queue may hold a message twice; each message's ``message_id`` is
``<topic>-<partition>-<offset>`` of its source record, the same on every publish, so consumers drop
the copies by it (and ``rabbitmq.forward.kafka.metadata=true`` adds the coordinates as headers).
"""

from __future__ import annotations

import functools
from typing import Any, Mapping

import apache_beam as beam

from sinks.base import Bundling, ConnectorContext, Sink, WriteContext
from sinks.queues.publish import PublishWriter, WriteToQueue, check_publisher
from sinks.queues.rabbitmq.config import CONFIG_DEF, IGNORED_KEYS, RabbitMQSinkConfig
from sinks.queues.rabbitmq.publisher import RabbitMQPublisher


class RabbitMQSink(Sink):
    """Confluent's RabbitMQ sink keys; confirmed batches to one exchange."""

    config_def = CONFIG_DEF
    ignored_keys = IGNORED_KEYS
    target_noun = "exchanges"

    def parse(self, values: Mapping[str, Any]) -> RabbitMQSinkConfig:
        return RabbitMQSinkConfig.from_values(values, ConnectorContext(name="rabbitmq"))

    def configure(self, values: Mapping[str, Any], connector: ConnectorContext) -> RabbitMQSinkConfig:
        return RabbitMQSinkConfig.from_values(values, connector)

    def check(self, config: RabbitMQSinkConfig) -> None:
        """Logs in (refused credentials or virtual host, an unreachable broker, a TLS failure are
        errors naming host, port, virtual host and user) and makes sure the exchange exists."""
        publisher = RabbitMQPublisher(config)
        check_publisher(publisher, publisher.check_exchange)

    def bundling(self, config: RabbitMQSinkConfig) -> Bundling:
        # streaming: what a partition has now is published now, not once flush.size records came
        return Bundling(config.flush_size, close_caught_up=True)

    def write(self, config: RabbitMQSinkConfig, context: WriteContext) -> beam.PTransform:
        writer = PublishWriter(context, functools.partial(RabbitMQPublisher, config),
                               config.publish_settings(), target=config.target())
        return WriteToQueue(writer, "PublishToRabbitMQ")
