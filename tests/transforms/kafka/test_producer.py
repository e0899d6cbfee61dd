"""The shared producer, its errors and topic creation, against the real broker."""

import logging
import re
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from common.errors import BeamConnectError, RetriableError
from pipelines.processes import free_ports
from transforms.kafka.producer import (PRODUCER_DEFAULTS, ProducerRecord, client_settings,
                                       close_producer, ensure_topic, make_producer, produce_all,
                                       redacted, scrubbed)


def consume(servers, topic, partition, count, timeout=30.0):
    """The first ``count`` messages of ``topic``/``partition``."""
    consumer = Consumer({"bootstrap.servers": servers, "group.id": "test-" + uuid.uuid4().hex,
                         "enable.auto.commit": "false"})
    consumer.assign([TopicPartition(topic, partition, 0)])
    messages = []
    try:
        while len(messages) < count:
            batch = consumer.consume(count - len(messages), timeout)
            if not batch:
                raise AssertionError("only %d of %d messages arrived" % (len(messages), count))
            messages += [m for m in batch if m.error() is None]
    finally:
        consumer.close()
    return messages


def closed_port_servers():
    return "127.0.0.1:%d" % free_ports(1)[0]


# Producing.

def test_records_arrive_with_their_bytes_timestamps_headers_and_partitions(kafka):
    topic = kafka.topic(partitions=2)
    records = [
        ProducerRecord(b"k0", b"v0", 1_700_000_000_000, [("h", b"1"), ("h", b"2"), ("n", None)], 0),
        ProducerRecord(None, b"v1", 1_700_000_000_001, None, partition=1),
        ProducerRecord(b"k2", None, 1_700_000_000_002, [], partition=1),
    ]
    producer = make_producer({"bootstrap.servers": kafka.servers})
    try:
        delivered = produce_all(producer, topic, records)
    finally:
        close_producer(producer)

    assert delivered == [(0, 0), (1, 0), (1, 1)]
    messages = consume(kafka.servers, topic, 0, 1) + consume(kafka.servers, topic, 1, 2)
    assert [(m.key(), m.value(), m.timestamp(), m.headers()) for m in messages] == [
        (b"k0", b"v0", (1, 1_700_000_000_000), [("h", b"1"), ("h", b"2"), ("n", None)]),
        (None, b"v1", (1, 1_700_000_000_001), None),
        (b"k2", None, (1, 1_700_000_000_002), None),
    ]


def test_keys_land_on_the_partitions_java_producers_choose(kafka):
    # Kafka's Java client: (Utils.murmur2(key) & 0x7fffffff) % 4 is 0 for "a", 1 for "key", 3 for
    # "orders-1".
    topic = kafka.topic(partitions=4)
    producer = make_producer({"bootstrap.servers": kafka.servers})
    try:
        delivered = produce_all(producer, topic, [ProducerRecord(k, b"v")
                                                  for k in (b"a", b"key", b"orders-1")])
    finally:
        close_producer(producer)
    assert [p for p, _ in delivered] == [0, 1, 3]


def test_a_record_larger_than_the_producer_allows_is_not_retriable(kafka):
    topic = kafka.topic()
    producer = make_producer({"bootstrap.servers": kafka.servers, "message.max.bytes": "2000"})
    try:
        with pytest.raises(BeamConnectError) as raised:
            produce_all(producer, topic, [ProducerRecord(b"k", b"small"), ProducerRecord(b"k", b"x" * 5000)])
    finally:
        close_producer(producer)
    assert not isinstance(raised.value, RetriableError)
    assert str(raised.value) == ("producing 2 records to topic %s failed: Unable to produce message: Broker: "
                                 "Message size too large (MSG_SIZE_TOO_LARGE)" % topic)


def test_a_delivery_timeout_is_retriable():
    producer = make_producer({"bootstrap.servers": closed_port_servers(), "delivery.timeout.ms": "500"})
    with pytest.raises(RetriableError, match=re.escape(
            "producing 1 records to topic dlq failed: Local: Message timed out (_MSG_TIMED_OUT)")):
        produce_all(producer, "dlq", [ProducerRecord(b"k", b"v")])
    close_producer(producer, timeout=0)


def test_records_unacknowledged_within_the_timeout_are_retriable():
    producer = make_producer({"bootstrap.servers": closed_port_servers()})
    with pytest.raises(RetriableError, match=re.escape(
            "2 of 2 records to topic dlq were not acknowledged within 0.5s")):
        produce_all(producer, "dlq", [ProducerRecord(b"k", b"v")] * 2, timeout=0.5)
    assert producer.flush(0) == 0  # purged: a retry does not also deliver these
    close_producer(producer, timeout=0)


def test_caller_settings_win_over_the_defaults(kafka):
    assert PRODUCER_DEFAULTS["acks"] == "all" and PRODUCER_DEFAULTS["enable.idempotence"] == "true"
    topic = kafka.topic()
    producer = make_producer({"bootstrap.servers": kafka.servers, "enable.idempotence": "false",
                              "acks": "1"})
    try:
        assert len(produce_all(producer, topic, [ProducerRecord(None, b"v")])) == 1
    finally:
        close_producer(producer)


# Secrets stay out of errors and logs.

def test_config_errors_hide_secret_values():
    with pytest.raises(BeamConnectError) as raised:
        make_producer({"bootstrap.servers": "127.0.0.1:1", "security.protocol": "SASL_PLAINTEXT",
                       "sasl.mechanism": "hunter2", "sasl.password": "hunter2"})
    assert str(raised.value) == ("could not make a Kafka producer for bootstrap.servers=127.0.0.1:1: "
                                 "Failed to create producer: Unsupported SASL mechanism: [hidden]")


def test_redacted_and_scrubbed_hide_every_secret_kind():
    config = {"bootstrap.servers": "b:9092", "sasl.password": "p4ss", "ssl.key.location": "/k.pem",
              "sasl.jaas.config": "jaas-text", "sasl.oauthbearer.client.secret": "s3cr3t",
              "ssl.keystore.password": "ks"}
    assert redacted(config) == {"bootstrap.servers": "b:9092", "sasl.password": "[hidden]",
                                "ssl.key.location": "[hidden]", "sasl.jaas.config": "[hidden]",
                                "sasl.oauthbearer.client.secret": "[hidden]",
                                "ssl.keystore.password": "[hidden]"}
    assert scrubbed("p4ss at /k.pem with s3cr3t, jaas-text, ks on b:9092", config) == \
        "[hidden] at [hidden] with [hidden], [hidden], [hidden] on b:9092"


def test_librdkafka_log_lines_are_scrubbed(caplog):
    logger = client_settings({"sasl.password": "hunter2"})["logger"]
    with caplog.at_level(logging.WARNING, logger="transforms.kafka.clients"):
        logger.log(logging.ERROR, "%s [%s] %s", "SASL", "rdkafka#producer-1", "bad password hunter2")
    assert caplog.messages == ["SASL [rdkafka#producer-1] bad password [hidden]"]


# Topics.

def test_ensure_topic_creates_a_missing_topic_and_leaves_an_existing_one(kafka):
    name = "made-%s" % uuid.uuid4().hex[:10]
    config = {"bootstrap.servers": kafka.servers}

    assert ensure_topic(config, name, 2, 1) is True
    assert ensure_topic(config, name, 5, 3) is False  # exists: neither partitions nor replicas matter

    topic = AdminClient(config).list_topics(name, timeout=10).topics[name]
    assert len(topic.partitions) == 2 and [len(p.replicas) for p in topic.partitions.values()] == [1, 1]


def test_a_replication_factor_larger_than_the_cluster_is_a_clear_error(kafka):
    name = "rf-%s" % uuid.uuid4().hex[:10]
    with pytest.raises(BeamConnectError) as raised:
        ensure_topic({"bootstrap.servers": kafka.servers}, name, 1, 3)
    message = str(raised.value)
    assert message.startswith("could not create topic %s (partitions=1, replication.factor=3) on "
                              "bootstrap.servers=%s: " % (name, kafka.servers))
    assert "replication factor of 3 cannot be reached because only 1 broker(s) are registered" in message
    assert name not in AdminClient({"bootstrap.servers": kafka.servers}).list_topics(timeout=10).topics


def test_an_unreachable_cluster_is_retriable_when_ensuring_a_topic():
    servers = closed_port_servers()
    with pytest.raises(RetriableError, match=re.escape(
            "could not list the topics on bootstrap.servers=%s to find topic dlq: " % servers)):
        ensure_topic({"bootstrap.servers": servers}, "dlq", 1, 1, timeout=0.5)
