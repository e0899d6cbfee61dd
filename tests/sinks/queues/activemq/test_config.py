"""The ActiveMQ sink's keys, URLs and what a record becomes, without a broker."""

import re

import pytest

from common.errors import ConfigError, RejectedRecord
from pipelines.config.connector import parse_connector_config
from sinks import find_sink
from sinks.queues.activemq import ActiveMQSink
from sinks.queues.activemq.config import BrokerUrl, parse_url
from sinks.queues.activemq.outgoing import outgoing
from sinks.queues.activemq.publisher import broker_text, denied, passing
from sinks.queues.activemq.stomp import RESERVED_HEADERS
from sinks.queues.messages import Message

SERVERS = "127.0.0.1:9092"


def _config(**overrides):
    raw = {"name": "orders-out", "connector.class": "io.confluent.connect.jms.ActiveMqSinkConnector",
           "topics": "orders", "activemq.url": "stomp://broker:61613",
           "jms.destination.name": "orders", **overrides}
    return parse_connector_config(raw, bootstrap_servers=SERVERS)


def test_confluents_keys_and_defaults():
    config = _config(**{"activemq.username": "app", "activemq.password": "s3cret",
                        "confluent.license": "", "confluent.topic.bootstrap.servers": SERVERS})

    assert isinstance(config.sink, ActiveMQSink) and find_sink("activemq") is config.sink
    sink = config.sink_config
    assert (sink.url, sink.username, sink.destination, sink.destination_type) == (
        BrokerUrl("stomp", "broker", 61613), "app", "orders", "queue")
    assert (sink.message_format, sink.forward_key, sink.forward_metadata, sink.forward_headers) == (
        "string", False, False, False)
    assert (sink.persistent, sink.ttl_ms, sink.priority) == (True, 0, 4)
    assert sink.target() == "queue://orders"
    assert sorted(w.split(" ", 1)[0] for w in config.warnings) == [
        "confluent.license", "confluent.topic.bootstrap.servers"]
    assert "s3cret" not in repr(sink)
    assert sink.describe() == "ActiveMQ at stomp://broker:61613 (user 'app')"


@pytest.mark.parametrize("url,parsed", [
    ("stomp://mq", BrokerUrl("stomp", "mq", 61613)),
    ("stomp+ssl://mq", BrokerUrl("stomp", "mq", 61612, True)),
    ("stomp+nio://mq:7000", BrokerUrl("stomp", "mq", 7000)),
    ("amqp://mq", BrokerUrl("amqp", "mq", 5672)),
    ("amqps://[::1]", BrokerUrl("amqp", "::1", 5671, True)),
    ("AMQP+SSL://mq:5999/", BrokerUrl("amqp", "mq", 5999, True)),
])
def test_stomp_and_amqp_urls(url, parsed):
    assert parse_url(url) == parsed


@pytest.mark.parametrize("url,instead", [
    ("tcp://broker:61616", "activemq.url=stomp://broker:61613 or activemq.url=amqp://broker:5672"),
    ("nio://broker:61616?wireFormat.maxInactivityDuration=0",
     "activemq.url=stomp://broker:61613 or activemq.url=amqp://broker:5672"),
    ("ssl://broker:61617", "activemq.url=stomp+ssl://broker:61612 or activemq.url=amqps://broker:5671"),
    ("failover:(tcp://a:61616,tcp://b:61616)?randomize=false",
     "activemq.url=stomp://a:61613 or activemq.url=amqp://a:5672"),
    ("failover:(ssl://a:61617)", "activemq.url=stomp+ssl://a:61612 or activemq.url=amqps://a:5671"),
])
def test_an_openwire_url_is_refused_when_validated_with_the_url_to_use(url, instead):
    with pytest.raises(ConfigError, match=re.escape(instead)) as refused:
        _config(**{"activemq.url": url})
    assert "OpenWire" in str(refused.value)


def test_an_openwire_url_error_hides_a_password_in_it():
    with pytest.raises(ConfigError) as refused:
        _config(**{"activemq.url": "failover:(tcp://app:pw1@a:61616)?jms.password=pw2"})
    assert "pw1" not in str(refused.value) and "pw2" not in str(refused.value)


@pytest.mark.parametrize("url,message", [
    ("stomp://app:pw@mq", "activemq.url must not hold credentials: set activemq.username and "
                          "activemq.password"),
    ("stomp://mq?transport.maxFrameSize=1", "activemq.url must be SCHEME://HOST:PORT, without a path "
                                            "or options"),
    ("mqtt+ws://mq", "activemq.url must start with one of stomp://, stomp+ssl://, amqp://, amqps://"),
    ("stomp://mq:0", "activemq.url must have a port between 1 and 65535, got 'stomp://mq:0'"),
])
def test_unusable_urls(url, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as refused:
        _config(**{"activemq.url": url})
    assert ":pw@" not in str(refused.value)


def test_avro_is_refused_with_the_reason():
    with pytest.raises(ConfigError, match=re.escape(
            "jms.message.format='avro' needs a Schema Registry, which is not supported yet")):
        _config(**{"jms.message.format": "avro"})
    with pytest.raises(ConfigError, match=re.escape(
            "jms.message.format must be one of 'string', 'json', 'bytes', got 'xml'")):
        _config(**{"jms.message.format": "xml"})


def test_checked_values():
    with pytest.raises(ConfigError, match=re.escape("jms.priority must be at most 9, got '10'")):
        _config(**{"jms.priority": "10"})
    with pytest.raises(ConfigError, match=re.escape(
            "jms.delivery.mode must be one of 'persistent', 'non_persistent', got 'transient'")):
        _config(**{"jms.delivery.mode": "transient"})
    with pytest.raises(ConfigError, match=re.escape("jms.destination.type must be one of 'queue', "
                                                    "'topic', got 'exchange'")):
        _config(**{"jms.destination.type": "exchange"})
    with pytest.raises(ConfigError, match=re.escape("activemq.ssl.ca.location is set but "
                                                    "activemq.url='stomp://broker:61613' connects "
                                                    "without TLS")):
        _config(**{"activemq.ssl.ca.location": "/etc/ca.pem"})
    assert not _config(**{"jms.delivery.mode": "NON_PERSISTENT"}).sink_config.persistent


def test_bytes_sends_values_as_read_so_value_edits_are_refused():
    assert _config(**{"jms.message.format": "bytes"}).sink_config.publish_settings().value_format == "raw"
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.mask.type='org.apache.kafka.connect.transforms.MaskField$Value' edits the "
            "record values, which jms.message.format=bytes writes as read")):
        _config(**{"jms.message.format": "bytes", "transforms": "mask",
                   "transforms.mask.type": "org.apache.kafka.connect.transforms.MaskField$Value",
                   "transforms.mask.fields": "card"})


def _message(key=b"k", value=b"v", headers=()):
    return Message("orders", 3, 42, 1_700_000_000_000, "orders-routed", key, value, tuple(headers))


def test_a_record_becomes_a_message_with_its_id_key_coordinates_and_headers():
    sink = _config(**{"jms.forward.kafka.key": "true", "jms.forward.kafka.metadata": "true",
                      "jms.forward.kafka.headers": "true"}).sink_config
    sent = outgoing(_message(headers=[("trace", b"abc"), ("gone", None), ("trace", b"last")]), sink,
                    RESERVED_HEADERS)

    assert (sent.id, sent.body, sent.text, sent.correlation_id) == ("orders-3-42", b"v", True, "k")
    assert sent.properties == (("KAFKA_MESSAGE_ID", "orders-3-42"), ("KAFKA_TOPIC", "orders-routed"),
                               ("KAFKA_PARTITION", 3), ("KAFKA_OFFSET", 42), ("trace", "last"))
    plain = outgoing(_message(key=None, value=None), _config().sink_config, ())
    assert (plain.body, plain.correlation_id, plain.properties) == (
        b"", None, (("KAFKA_MESSAGE_ID", "orders-3-42"),))


@pytest.mark.parametrize("headers,message", [
    ([("priority", b"9")], "the header 'priority' of topic=orders partition=3 offset=42 has a name "
                           "that the broker reads itself"),
    ([("Content-Type", b"x")], "the header 'Content-Type' of topic=orders partition=3 offset=42"),
    ([("_AMQ_SCHED_DELIVERY", b"1")], "the header '_AMQ_SCHED_DELIVERY'"),
    ([("KAFKA_OFFSET", b"1")], "has a name that this sink sets itself"),
    ([("h", b"\xff")], "the header 'h' of topic=orders partition=3 offset=42 is not UTF-8 text"),
])
def test_a_header_that_cannot_be_sent_refuses_the_record(headers, message):
    sink = _config(**{"jms.forward.kafka.headers": "true"}).sink_config
    with pytest.raises(RejectedRecord, match=re.escape(message)) as refused:
        outgoing(_message(headers=headers), sink, RESERVED_HEADERS)
    assert refused.value.offsets == (42,)


def test_text_bodies_and_keys_must_be_utf8():
    with pytest.raises(RejectedRecord, match=re.escape(
            "the value of topic=orders partition=3 offset=42 is not UTF-8 text")):
        outgoing(_message(value=b"\xc3("), _config().sink_config, ())
    assert outgoing(_message(value=b"\xc3("), _config(**{"jms.message.format": "bytes"}).sink_config,
                    ()).text is False
    with pytest.raises(RejectedRecord, match=re.escape("the key of topic=orders partition=3")):
        outgoing(_message(key=b"\xff"), _config(**{"jms.forward.kafka.key": "true"}).sink_config, ())


def test_broker_errors_are_sorted_and_cut_before_the_message_dump():
    artemis = ("AMQ339011 Error sending message CoreMessage[messageID=171, durable=true, "
               "properties=TypedProperties[bulk=yyyy]]@1457352669")
    assert broker_text(artemis) == "AMQ339011 Error sending message"
    assert broker_text("x" * 400).endswith("...") and len(broker_text("x" * 400)) == 303
    assert denied("User beam is not authorized to write to: queue://orders")
    assert denied("amqp:unauthorized-access: AMQ229032: User: beam does not have permission='SEND'")
    assert passing("amqp:resource-limit-exceeded: AMQ229102: Address \"orders\" is full")
    assert not denied("The maximum frame size was exceeded") and not passing("AMQ149005: too big")
