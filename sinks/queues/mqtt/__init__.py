"""The MQTT sink: records published with QoS 1 to an MQTT broker (see :mod:`sinks.queues.mqtt.sink`)."""

from sinks.queues.mqtt.sink import MqttSink

__all__ = ["MqttSink"]
