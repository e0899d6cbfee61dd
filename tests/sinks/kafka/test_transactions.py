"""The shared producer module's transaction helpers, against the real broker."""

import re
import uuid

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource

from common.errors import BeamConnectError
from tests.sinks.kafka.conftest import read_committed
from transforms.kafka.producer import (ProducerRecord, close_producer, discard_producer,
                                       ensure_topic, is_rejection,
                                       make_producer, make_transactional_producer, produce_each,
                                       transaction_error)


def test_produce_each_returns_the_error_of_each_record_in_its_place(kafka):
    topic = kafka.topic()
    producer = make_producer({"bootstrap.servers": kafka.servers, "message.max.bytes": "2000"})
    try:
        errors = produce_each(producer, [(topic, ProducerRecord(b"a", b"1")),
                                         (topic, ProducerRecord(b"b", b"x" * 5000)),
                                         (topic, ProducerRecord(b"c", b"3"))])
    finally:
        close_producer(producer)
    assert errors[0] is None and errors[2] is None
    assert is_rejection(errors[1])


def test_a_new_transactional_producer_fences_the_old_one_and_aborts_its_transaction(kafka):
    topic = kafka.topic()
    transactional_id = "test-" + uuid.uuid4().hex
    old = make_transactional_producer({"bootstrap.servers": kafka.servers}, transactional_id)
    old.begin_transaction()
    assert produce_each(old, [(topic, ProducerRecord(b"k", b"zombie"))]) == [None]

    new = make_transactional_producer({"bootstrap.servers": kafka.servers}, transactional_id)
    try:
        with pytest.raises(KafkaException) as raised:
            old.commit_transaction(30)
        error = transaction_error(raised.value, "committing")
        assert type(error) is BeamConnectError
        assert "a newer producer with the same transactional.id (another run) took over" in str(error)
        new.begin_transaction()
        produce_each(new, [(topic, ProducerRecord(b"k", b"kept"))])
        new.commit_transaction(30)
    finally:
        close_producer(new)
        discard_producer(old, 0)
    assert [m.value() for m in read_committed(kafka.servers, topic)] == [b"kept"]


def test_a_transactional_producer_that_cannot_reach_its_cluster_is_retriable():
    from common.errors import RetriableError
    from pipelines.processes import free_ports

    with pytest.raises(RetriableError, match=re.escape("initialising the transactions of "
                                                       "transactional.id=x on bootstrap.servers=")):
        make_transactional_producer({"bootstrap.servers": "127.0.0.1:%d" % free_ports(1)[0]}, "x",
                                    timeout=2)


def test_ensure_topic_creates_a_compacted_topic(kafka):
    name = "compacted-" + uuid.uuid4().hex[:8]
    assert ensure_topic({"bootstrap.servers": kafka.servers}, name, 1, 1,
                        topic_config={"cleanup.policy": "compact"})
    admin = AdminClient({"bootstrap.servers": kafka.servers})
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    configs = admin.describe_configs([resource])[resource].result()
    assert configs["cleanup.policy"].value == "compact"
    assert not ensure_topic({"bootstrap.servers": kafka.servers}, name, 1, 1)
