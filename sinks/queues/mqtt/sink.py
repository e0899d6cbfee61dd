"""The MQTT sink: each record published to an MQTT broker with QoS 1, as Confluent's MQTT sink does.

The MQTT topic of a record is its topic after the transforms (``mqtt.topic.format``, ``${topic}`` by
default; a ``RegexRouter`` renames it, as with Confluent's sink); the payload is its value, and with
MQTT 5 its coordinates, key and headers travel as user properties (:mod:`sinks.queues.mqtt.publisher`).

Delivery: at least once. A bundle's messages are published in batches, each confirmed when every
PUBACK of it is in; the bundle's offsets are committed only once all its batches are confirmed. A
batch whose PUBACKs were lost with the connection is published again on a new one, and a run killed
before its commit publishes the uncommitted records again when it is rerun (so does ``--from
earliest``). MQTT has no message id that holds across connections, so the broker cannot drop those
copies: a copy carries the same user properties ``kafka.topic``, ``kafka.partition`` and
``kafka.offset`` as the first publish (and the same payload), which is what a consumer dedupes on.
With MQTT 3.1.1 a copy cannot be told from a new message.

Records the broker refuses (MQTT 5: a PUBACK reason code of 0x80 or more, or larger than the broker's
Maximum Packet Size) go to the error path with their offsets (``errors.tolerance``,
``errors.deadletterqueue.topic.name``); the rest of their batch is published.
"""

from __future__ import annotations

import functools
from typing import Any, Mapping

import apache_beam as beam

from common.errors import ConfigError
from sinks.base import Bundling, ConnectorContext, Sink, WriteContext
from sinks.queues.messages import Message
from sinks.queues.mqtt.config import CONFIG_DEF, IGNORED_KEYS, MqttSinkConfig
from sinks.queues.mqtt.publisher import MqttPublisher
from sinks.queues.publish import PublishSettings, PublishWriter, WriteToQueue, check_publisher


class MqttSink(Sink):
    """``connector.class=mqtt`` (or ``io.confluent.connect.mqtt.MqttSinkConnector``)."""

    config_def = CONFIG_DEF
    ignored_keys = IGNORED_KEYS
    target_noun = "topics"

    def parse(self, values: Mapping[str, Any]) -> MqttSinkConfig:
        raise ConfigError("connector.class=mqtt needs the connector's settings: build it with "
                          "configure(values, connector)")

    def configure(self, values: Mapping[str, Any], connector: ConnectorContext) -> MqttSinkConfig:
        return MqttSinkConfig.from_values(values, connector)

    def check(self, config: MqttSinkConfig) -> None:
        """Connects once: an unreachable broker or refused credentials fail before any record is
        read."""
        check_publisher(MqttPublisher(config))

    def bundling(self, config: MqttSinkConfig) -> Bundling:
        return Bundling(config.flush_size, close_caught_up=True)

    def write(self, config: MqttSinkConfig, context: WriteContext) -> beam.PTransform:
        settings = PublishSettings(key_format=config.key_format, value_format=config.value_format)
        writer = PublishWriter(context, functools.partial(MqttPublisher, config), settings,
                               target=functools.partial(_mqtt_topic, config))
        return WriteToQueue(writer, label="PublishToMqtt")


def _mqtt_topic(config: MqttSinkConfig, message: Message) -> str:
    return config.topic(message.target)
