"""The RabbitMQ sink's config: Confluent's keys and defaults, deliberate refusals; no broker."""

import pickle
import re
import ssl

import pytest

from common.errors import ConfigError
from pipelines.config.connector import parse_connector_config
from sinks import find_sink
from sinks.queues.rabbitmq import RabbitMQSink
from sinks.queues.rabbitmq.publisher import header_value

CONFLUENT = "io.confluent.connect.rabbitmq.sink.RabbitMQSinkConnector"


def _connector(**overrides):
    raw = {"name": "orders-to-rabbit", "connector.class": CONFLUENT, "topics": "orders",
           "bootstrap.servers": "kafka:9092", "rabbitmq.exchange": "orders", **overrides}
    return parse_connector_config({k: v for k, v in raw.items() if v is not None})


def _parse(**overrides):
    return _connector(**overrides).sink_config


def test_both_class_names_find_the_sink():
    assert isinstance(find_sink(CONFLUENT), RabbitMQSink)
    assert find_sink("rabbitmq") is find_sink(CONFLUENT)


def test_defaults_are_confluents_with_the_routing_key_from_the_topic():
    config = _parse()

    assert (config.host, config.port, config.username, config.password, config.virtual_host) == (
        "localhost", 5672, "guest", "guest", "/")
    assert (config.exchange, config.routing_key, config.delivery_mode, config.mandatory) == (
        "orders", None, 2, True)
    assert (config.forward_key, config.forward_metadata, config.forward_headers) == (False,) * 3
    assert (config.batch_size, config.ack_timeout_ms, config.nack_retries) == (100, 10000, 1)
    assert (config.key_format, config.value_format, config.flush_size) == ("raw", "raw", 1000)
    assert (config.heartbeat_s, config.channel_max, config.frame_max) == (60, 2047, 131072)
    assert config.tls is None
    settings = config.publish_settings()
    assert (settings.batch_size, settings.max_retries, settings.backoff_ms,
            settings.max_backoff_ms) == (100, 30, 100, 10000)
    assert _connector().sink.bundling(config).flush_size == 1000


def test_a_confluent_config_is_taken_as_written():
    connector = _connector(**{
        "rabbitmq.host": "mq.internal", "rabbitmq.port": "5673", "rabbitmq.username": "sink",
        "rabbitmq.password": "s3cret-pass", "rabbitmq.virtual.host": "prod",
        "rabbitmq.routing.key": "orders.created", "rabbitmq.delivery.mode": "transient",
        "rabbitmq.forward.kafka.key": "true", "rabbitmq.forward.kafka.metadata": "true",
        "rabbitmq.forward.kafka.headers": "true", "rabbitmq.publish.max.batch.size": "500",
        "rabbitmq.publish.ack.timeout": "2000", "rabbitmq.publish.max.retries": "3",
        "rabbitmq.automatic.recovery.enabled": "false", "rabbitmq.requested.frame.max": "8192",
        "rabbitmq.requested.heartbeat.seconds": "0", "rabbitmq.topology.recovery.enabled": "true",
        "rabbitmq.shutdown.timeout.ms": "5000", "confluent.topic.bootstrap.servers": "kafka:9092",
        "confluent.topic.replication.factor": "1", "tasks.max": "2"})
    config = connector.sink_config

    assert (config.host, config.port, config.username, config.virtual_host) == (
        "mq.internal", 5673, "sink", "prod")
    assert (config.routing_key, config.delivery_mode, config.frame_max, config.heartbeat_s) == (
        "orders.created", 1, 8192, 0)
    assert (config.forward_key, config.forward_metadata, config.forward_headers) == (True,) * 3
    assert (config.batch_size, config.ack_timeout_ms, config.nack_retries) == (500, 2000, 3)
    assert config.publish_settings().max_retries == 0  # no automatic recovery: no reconnects
    assert sorted(w.split(" ", 1)[0] for w in connector.warnings) == [
        "confluent.topic.bootstrap.servers", "confluent.topic.replication.factor",
        "rabbitmq.shutdown.timeout.ms", "rabbitmq.topology.recovery.enabled"]
    assert connector.tasks_max == 2
    assert config.describe() == "RabbitMQ at mq.internal:5673 (virtual host 'prod', user 'sink')"
    assert "s3cret-pass" not in repr(config) + config.describe()
    assert pickle.loads(pickle.dumps(config)) == config  # DoFns are pickled with it


def test_the_exchange_is_required_and_may_be_the_default_one():
    with pytest.raises(ConfigError, match=re.escape("rabbitmq.exchange is required")):
        _parse(**{"rabbitmq.exchange": None})
    assert _parse(**{"rabbitmq.exchange": ""}).target() == "(default exchange)"


@pytest.mark.parametrize("key, value, message", [
    ("rabbitmq.delivery.mode", "durable",
     "rabbitmq.delivery.mode must be one of 'PERSISTENT', 'TRANSIENT', got 'durable'"),
    ("rabbitmq.publish.max.batch.size", "0", "rabbitmq.publish.max.batch.size must be at least 1, got '0'"),
    ("rabbitmq.requested.frame.max", "1000",
     "rabbitmq.requested.frame.max must be 0 or between 4096 and 131072, got 1000"),
    ("rabbitmq.routing.key", "k" * 256, "rabbitmq.routing.key must be at most 255 bytes"),
    ("rabbitmq.value.format", "avro", "rabbitmq.value.format must be one of 'raw', 'string', 'json'"),
    ("rabbitmq.port", "70000", "rabbitmq.port must be at most 65535, got '70000'"),
    ("rabbitmq.exchnage", "x", "unknown key 'rabbitmq.exchnage' for this connector; did you mean "
                               "'rabbitmq.exchange'?"),
])
def test_bad_values_name_the_key_and_value(key, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _parse(**{key: value})


def test_a_wrong_password_value_never_shows():
    with pytest.raises(ConfigError) as raised:
        _parse(**{"rabbitmq.password": "hunter2", "rabbitmq.port": "x"})
    assert "hunter2" not in str(raised.value)


def test_a_transform_editing_values_needs_a_format_that_shows_its_edits():
    edit = {"transforms": "add", "transforms.add.type":
            "org.apache.kafka.connect.transforms.InsertField$Value",
            "transforms.add.static.field": "f", "transforms.add.static.value": "v"}
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.add.type='org.apache.kafka.connect.transforms.InsertField$Value' edits the "
            "record values, which rabbitmq.value.format=raw writes as read: set "
            "rabbitmq.value.format to string or json")):
        _parse(**edit)
    assert _parse(**edit, **{"rabbitmq.value.format": "json"}).value_format == "json"


TLS = "rabbitmq.https."


def test_tls_with_pem_stores(tmp_path):
    config = _parse(**{"rabbitmq.security.protocol": "SSL",
                       TLS + "ssl.truststore.type": "PEM", TLS + "ssl.truststore.location": "/ca.pem",
                       TLS + "ssl.keystore.type": "PEM", TLS + "ssl.keystore.location": "/me.pem",
                       TLS + "ssl.key.password": "keypass", TLS + "ssl.enabled.protocols": "TLSv1.3",
                       TLS + "ssl.trustmanager.algorithm": "PKIX"})

    tls = config.tls
    assert (tls.ca_file, tls.cert_file, tls.key_password, tls.check_hostname) == (
        "/ca.pem", "/me.pem", "keypass", True)
    assert (tls.minimum_version, tls.maximum_version) == (ssl.TLSVersion.TLSv1_3,) * 2
    assert "keypass" not in repr(config)
    assert config.describe().startswith("RabbitMQ at localhost:5672 (TLS, ")
    missing = tmp_path / "missing.pem"
    unreadable = _parse(**{"rabbitmq.security.protocol": "SSL", TLS + "ssl.truststore.type": "PEM",
                           TLS + "ssl.truststore.location": str(missing)}).tls
    with pytest.raises(ConfigError, match=re.escape(
            "rabbitmq.https.ssl.truststore.location=%r cannot be used" % str(missing))):
        unreadable.context()
    no_check = _parse(**{"rabbitmq.security.protocol": "SSL",
                         TLS + "ssl.endpoint.identification.algorithm": ""}).tls
    assert not no_check.context().check_hostname and no_check.ca_file is None  # the system's CAs


@pytest.mark.parametrize("keys, message", [
    ({TLS + "ssl.truststore.location": "/ts.jks"},
     "rabbitmq.https.ssl.truststore.type must be 'PEM' here (Python's ssl module reads no Java key "
     "stores), got 'JKS': convert it to PEM"),
    ({TLS + "ssl.keystore.type": "PKCS12", TLS + "ssl.keystore.location": "/ks.p12"},
     "rabbitmq.https.ssl.keystore.type must be 'PEM' here"),
    ({TLS + "ssl.truststore.type": "PEM", TLS + "ssl.truststore.location": "/ca.pem",
      TLS + "ssl.truststore.password": "x"},
     "rabbitmq.https.ssl.truststore.password is not used by PEM truststores: remove it"),
    ({TLS + "ssl.keystore.key": "-----BEGIN PRIVATE KEY-----"},
     "rabbitmq.https.ssl.keystore.key cannot be used here: use ssl.keystore.location"),
    ({TLS + "ssl.cipher.suites": "TLS_AES_128_GCM_SHA256"},
     "rabbitmq.https.ssl.cipher.suites cannot be used here: Java cipher suite names"),
    ({TLS + "ssl.enabled.protocols": "TLSv1.1"},
     "rabbitmq.https.ssl.enabled.protocols must list TLSv1.2 and/or TLSv1.3, got 'TLSv1.1'"),
    ({TLS + "ssl.endpoint.identification.algorithm": "ldap"},
     "rabbitmq.https.ssl.endpoint.identification.algorithm must be 'https' or empty, got 'ldap'"),
])
def test_tls_settings_that_cannot_work_here_are_refused(keys, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _parse(**{"rabbitmq.security.protocol": "SSL", **keys})


def test_tls_keys_without_ssl_would_connect_in_the_clear_so_they_are_refused():
    with pytest.raises(ConfigError, match=re.escape(
            "rabbitmq.https.ssl.truststore.location is set but rabbitmq.security.protocol is "
            "'PLAINTEXT', which would connect without TLS")):
        _parse(**{TLS + "ssl.truststore.location": "/ca.pem"})


def test_header_values_are_text_when_they_can_be():
    assert header_value(b"caf\xc3\xa9") == "café"
    assert header_value(b"\xff\x00") == b"\xff\x00"
    assert header_value(None) is None


def test_the_example_configs():
    import os

    from pipelines.config import load_config

    templates = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "templates",
                             "connectors")
    orders = parse_connector_config(load_config(os.path.join(templates, "rabbitmq-orders.properties")))
    config = orders.sink_config
    assert (config.host, config.virtual_host, config.exchange, config.routing_key) == (
        "rabbitmq.internal", "shop", "orders", None)
    assert (config.forward_key, config.forward_metadata, config.forward_headers) == (True,) * 3
    assert (config.batch_size, orders.errors.tolerance, orders.warnings) == (500, "all", ())
    payments = parse_connector_config(load_config(os.path.join(templates,
                                                               "rabbitmq-tls-json.properties")))
    config = payments.sink_config
    assert (config.port, config.routing_key, config.value_format) == (5671, "payments.events", "json")
    assert (config.tls.ca_file, config.tls.cert_file) == ("/etc/beamconnect/rabbitmq-ca.pem",
                                                          "/etc/beamconnect/payments-sink.pem")
    assert config.publish_settings().max_backoff_ms == 5000
