"""The MQTT sink's keys as a connector config is parsed, and the user properties of a message."""

import re

import pytest

from common.errors import ConfigError
from pipelines.config.connector import parse_connector_config
from sinks.queues.messages import Message
from sinks.queues.mqtt import MqttSink
from sinks.queues.mqtt.publisher import user_properties


def _parse(**overrides):
    raw = {"name": "to-mqtt", "connector.class": "io.confluent.connect.mqtt.MqttSinkConnector",
           "topics": "orders", "bootstrap.servers": "kafka:9092",
           "mqtt.server.uri": "tcp://broker:1883", **overrides}
    return parse_connector_config({k: v for k, v in raw.items() if v is not None})


def test_confluents_keys_and_the_defaults():
    config = _parse(**{"mqtt.server.uri": "tcp://a:1884, ssl://b", "mqtt.username": "u",
                       "mqtt.password": "secret-pw", "mqtt.retained.enabled": "true",
                       "mqtt.connect.timeout.seconds": "5", "mqtt.keepalive.interval.seconds": "10"})
    sink = config.sink_config

    assert isinstance(config.sink, MqttSink)
    assert [(s.host, s.port, s.tls) for s in sink.servers] == [("a", 1884, False), ("b", 8883, True)]
    assert (sink.username, sink.password, sink.qos, sink.retain) == ("u", "secret-pw", 1, True)
    assert (sink.connect_timeout, sink.keepalive, sink.protocol, sink.flush_size) == (5, 10, "5", 1000)
    assert (sink.key_format, sink.value_format) == ("raw", "raw")
    assert sink.topic("orders") == "orders"
    assert "secret-pw" not in repr(sink) and "secret-pw" not in repr(config)
    assert config.sink.bundling(sink).flush_size == 1000
    assert _parse(**{"connector.class": "mqtt"}).sink is config.sink


def test_the_topic_format_names_the_mqtt_topic():
    sink = _parse(**{"mqtt.topic.format": "kafka/${topic}/in"}).sink_config
    assert sink.topic("orders") == "kafka/orders/in"
    with pytest.raises(ConfigError, match=re.escape(
            "mqtt.topic.format must make valid MQTT topic names (a topic may not hold the wildcards + "
            "and # or NUL), got 'kafka/#'")):
        _parse(**{"mqtt.topic.format": "kafka/#"})


@pytest.mark.parametrize("qos, why", [("0", "QoS 0 has no acknowledgement"),
                                      ("2", "QoS 2's handshake spans one connection only")])
def test_a_qos_other_than_1_is_refused_with_the_reason(qos, why):
    with pytest.raises(ConfigError, match=re.escape("mqtt.qos must be 1, got %r: %s" % (qos, why))):
        _parse(**{"mqtt.qos": qos})


def test_java_key_stores_are_refused_with_the_pem_keys_to_use():
    with pytest.raises(ConfigError, match=re.escape(
            "mqtt.ssl.trust.store.path is a Java key store setting, which cannot be read here: use "
            "mqtt.ssl.ca.location (a PEM file) instead")):
        _parse(**{"mqtt.server.uri": "ssl://b:8883", "mqtt.ssl.trust.store.path": "/etc/ts.jks"})
    with pytest.raises(ConfigError, match=re.escape(
            "mqtt.ssl.ca.location is set but mqtt.server.uri names no ssl:// broker")):
        _parse(**{"mqtt.ssl.ca.location": "/etc/ca.pem"})
    sink = _parse(**{"mqtt.server.uri": "ssl://b", "mqtt.ssl.ca.location": "/etc/ca.pem",
                     "mqtt.ssl.certificate.location": "/etc/c.pem", "mqtt.ssl.key.location": "/etc/k.pem",
                     "mqtt.ssl.key.password": "kp"}).sink_config
    assert (sink.ca_location, sink.certificate_location, sink.key_location) == (
        "/etc/ca.pem", "/etc/c.pem", "/etc/k.pem")
    assert "kp" not in repr(sink)


@pytest.mark.parametrize("uri, message", [
    ("ws://b:80", "mqtt.server.uri must list tcp://host:port or ssl://host:port URIs, got 'ws://b:80'"),
    ("tcp://u:p@b:1883", "mqtt.server.uri must not hold credentials (use mqtt.username and "
                         "mqtt.password), got a URI with a user for host 'b'"),
    ("tcp://b:1883/x", "mqtt.server.uri must list URIs without a path or query, got 'tcp://b:1883/x'"),
])
def test_invalid_server_uris(uri, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _parse(**{"mqtt.server.uri": uri})


def test_conflicts_are_errors_and_clean_session_is_a_warning():
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.mask.type='org.apache.kafka.connect.transforms.MaskField$Value' edits the "
            "record values, which mqtt.value.format=raw writes as read: set mqtt.value.format to "
            "string or json")):
        _parse(**{"transforms": "mask", "transforms.mask.type":
                  "org.apache.kafka.connect.transforms.MaskField$Value", "transforms.mask.fields": "a"})
    with pytest.raises(ConfigError, match=re.escape(
            "mqtt.key.format='string' has no effect with mqtt.protocol.version=3.1.1")):
        _parse(**{"mqtt.protocol.version": "3.1.1", "mqtt.key.format": "string"})
    with pytest.raises(ConfigError, match=re.escape("mqtt.password is set but mqtt.username is empty")):
        _parse(**{"mqtt.password": "p"})
    config = _parse(**{"mqtt.clean.session.enabled": "false", "confluent.license": ""})
    assert [w.split(" ", 1)[0] for w in config.warnings] == ["mqtt.clean.session.enabled",
                                                             "confluent.license"]


def test_user_properties_carry_coordinates_key_and_headers_as_text():
    message = Message("orders", 3, 42, 1_700_000_000_000, "orders", b"\xff\xfe",
                      b"v", (("trace", b"abc"), ("raw", b"\x00\xff"), ("nil", None)))

    assert user_properties(message) == [
        ("kafka.topic", "orders"), ("kafka.partition", "3"), ("kafka.offset", "42"),
        ("kafka.timestamp", "1700000000000"), ("kafka.key.base64", "//4="), ("trace", "abc"),
        ("raw.base64", "AP8="), ("nil", "")]
    bare = Message("orders", 0, 1, None, "orders", None, None)
    assert user_properties(bare) == [("kafka.topic", "orders"), ("kafka.partition", "0"),
                                     ("kafka.offset", "1")]


def _template(name):
    import os

    from pipelines.config import load_config
    from tests.helpers import ROOT

    return parse_connector_config(load_config(os.path.join(ROOT, "templates", "connectors", name)),
                                  bootstrap_servers="127.0.0.1:9092")


def test_the_example_configs():
    telemetry = _template("mqtt-telemetry.properties")
    sink = telemetry.sink_config
    assert [s.uri for s in sink.servers] == ["ssl://mqtt-1.plant.example:8883",
                                            "ssl://mqtt-2.plant.example:8883"]
    assert (sink.username, sink.ca_location, sink.topic("telemetry.line1")) == (
        "kafka-bridge", "/etc/ssl/plant-ca.pem", "plant/telemetry.line1")
    assert telemetry.dead_letters is not None and telemetry.errors.tolerance == "all"

    states = _template("mqtt-json-retained.properties")
    assert states.topics_regex == r"devices\.state\..*"
    assert (states.sink_config.retain, states.sink_config.value_format) == (True, "json")
    assert [s.transformation.alias for s in states.transforms.steps] == ["stamp", "route"]
