"""Dead letters on a Kafka topic, as Kafka Connect writes them, and back to bundles: against the real
broker."""

import pickle
import re
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from common.errors import BeamConnectError, ConfigError, DataError
from transforms.errors import ErrorPolicy, FailureRouter
from transforms.kafka.deadletter import TopicDeadLetters, context_headers, restore
from transforms.records import FailedRecord, KafkaBundle, Stage

JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
DATA_EXCEPTION = "org.apache.kafka.connect.errors.DataException"


def read_bundle(servers, topic, count, timeout=30.0):
    """The first ``count`` records of ``topic``'s partition 0 as the Kafka read bundles them."""
    consumer = Consumer({"bootstrap.servers": servers, "group.id": "test-" + uuid.uuid4().hex,
                         "enable.auto.commit": "false"})
    consumer.assign([TopicPartition(topic, 0, 0)])
    messages = []
    try:
        while len(messages) < count:
            batch = consumer.consume(count - len(messages), timeout)
            if not batch:
                raise AssertionError("only %d of %d records arrived" % (len(messages), count))
            messages += [m for m in batch if m.error() is None]
    finally:
        consumer.close()
    types, stamps = zip(*(m.timestamp() for m in messages))
    return KafkaBundle(topic, 0, messages[0].offset(), [m.offset() for m in messages], list(stamps),
                       list(types), [m.key() for m in messages], [m.value() for m in messages],
                       [m.headers() for m in messages])


def source_bundle(topic="orders", partition=3, start=40):
    return KafkaBundle(topic, partition, start, [start, start + 2, start + 5],
                       [1_700_000_000_000, 1_700_000_000_002, 1_700_000_000_005], [1, 1, 1],
                       [b"k0", None, b"k5"], [b"{bad", b"\x00\xff", None],
                       [[("trace", b"abc"), ("trace", b"def"), ("empty", None)], None, [("h", b"")]])


def failure(bundle, index, error=None):
    if error is None:
        try:
            raise DataError("Converting byte[] to Kafka Connect data failed due to serialization error")
        except DataError as exc:
            error = exc
    return FailedRecord.of(bundle, index, Stage.VALUE_CONVERTER, JSON_CONVERTER, error)


def dlq_name():
    return "dlq-%s" % uuid.uuid4().hex[:10]


def writer(kafka, topic, **kwargs):
    return TopicDeadLetters({"bootstrap.servers": kafka.servers}, topic,
                            **{"replication_factor": 1, **kwargs})


def write(dead_letters, failed):
    dead_letters.open()
    try:
        dead_letters.write(failed)
    finally:
        dead_letters.close()


# The topic.

def test_a_missing_topic_is_created_with_one_partition_and_the_replication_factor(kafka):
    topic = dlq_name()
    write(writer(kafka, topic), [failure(source_bundle(), 0)])

    metadata = AdminClient({"bootstrap.servers": kafka.servers}).list_topics(topic, timeout=10)
    partitions = metadata.topics[topic].partitions
    assert list(partitions) == [0] and len(partitions[0].replicas) == 1
    assert len(read_bundle(kafka.servers, topic, 1)) == 1


def test_an_existing_topic_is_used_as_it_is(kafka):
    topic = kafka.topic(partitions=2, prefix="dlq")
    write(writer(kafka, topic, replication_factor=3), [failure(source_bundle(), 0)])

    metadata = AdminClient({"bootstrap.servers": kafka.servers}).list_topics(topic, timeout=10)
    assert len(metadata.topics[topic].partitions) == 2


def test_a_replication_factor_larger_than_the_cluster_is_a_clear_error(kafka):
    topic = dlq_name()
    dead_letters = writer(kafka, topic, replication_factor=3)

    with pytest.raises(BeamConnectError) as raised:
        dead_letters.open()
    assert str(raised.value).startswith(
        "could not create topic %s (partitions=1, replication.factor=3) on bootstrap.servers=%s: "
        "Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be "
        "reached because only 1 broker(s) are registered" % (topic, kafka.servers))


# The records.

def test_records_keep_their_original_bytes_timestamps_and_headers_without_context(kafka):
    topic = dlq_name()
    source = source_bundle()
    write(writer(kafka, topic), [failure(source, i) for i in range(3)])

    got = read_bundle(kafka.servers, topic, 3)
    assert got.keys == source.keys
    assert got.values == source.values
    assert got.timestamps == source.timestamps and got.timestamp_types == [1, 1, 1]
    assert got.headers == [[("trace", b"abc"), ("trace", b"def"), ("empty", None)], None,
                           [("h", b"")]]


def test_context_headers_have_connect_s_names_and_encodings(kafka):
    topic = dlq_name()
    source = source_bundle()
    from_exception = failure(source, 0)
    from_reason = FailedRecord.of(source, 1, Stage.TRANSFORMATION, "Cast$Value", "Unknown type")
    without_message = failure(source, 2, error=DataError())
    write(writer(kafka, topic, context_headers=True, connector_name="orders-sink", task_id=2),
          [from_exception, from_reason, without_message])

    got = read_bundle(kafka.servers, topic, 3).headers
    assert got[0] == [
        ("trace", b"abc"), ("trace", b"def"), ("empty", None),
        ("__connect.errors.topic", b"orders"),
        ("__connect.errors.partition", b"3"),
        ("__connect.errors.offset", b"40"),
        ("__connect.errors.connector.name", b"orders-sink"),
        ("__connect.errors.task.id", b"2"),
        ("__connect.errors.stage", b"VALUE_CONVERTER"),
        ("__connect.errors.class.name", JSON_CONVERTER.encode()),
        ("__connect.errors.exception.class.name", DATA_EXCEPTION.encode()),
        ("__connect.errors.exception.message",
         b"Converting byte[] to Kafka Connect data failed due to serialization error"),
        ("__connect.errors.exception.stacktrace", from_exception.stacktrace.encode()),
    ]
    assert from_exception.stacktrace.startswith("Traceback (most recent call last):")
    assert got[1] == [
        ("__connect.errors.topic", b"orders"), ("__connect.errors.partition", b"3"),
        ("__connect.errors.offset", b"42"), ("__connect.errors.connector.name", b"orders-sink"),
        ("__connect.errors.task.id", b"2"), ("__connect.errors.stage", b"TRANSFORMATION"),
        ("__connect.errors.class.name", b"Cast$Value"),
        ("__connect.errors.exception.class.name", DATA_EXCEPTION.encode()),
        ("__connect.errors.exception.message", b"Unknown type"),
    ]
    assert dict(got[2])["__connect.errors.exception.message"] is None
    assert [name for name, _ in got[2]][:2] == ["h", "__connect.errors.topic"]


def test_the_failure_router_dead_letters_through_the_writer(kafka):
    topic = dlq_name()
    source = source_bundle()
    router = FailureRouter(ErrorPolicy(tolerance="all"), writer(kafka, topic, context_headers=True))
    router.setup()
    try:
        router.route([failure(source, 0), failure(source, 2)])
    finally:
        router.teardown()

    got = read_bundle(kafka.servers, topic, 2)
    assert [dict(h)["__connect.errors.offset"] for h in got.headers] == [b"40", b"45"]


# Back to bundles.

def test_restore_round_trips_failed_records_to_their_original_coordinates(kafka):
    topic = dlq_name()
    orders, payments = source_bundle("orders", 3, 40), source_bundle("payments", 0, 7)
    dead_letters = writer(kafka, topic, context_headers=True, connector_name="c")
    dead_letters.open()
    try:
        dead_letters.write([failure(orders, 1), failure(orders, 2)])
        dead_letters.write([failure(payments, 0)])
        dead_letters.write([failure(orders, 0), failure(orders, 1)])  # a retry: 42 again
    finally:
        dead_letters.close()

    restored = restore(read_bundle(kafka.servers, topic, 5))
    assert restored == [
        KafkaBundle("orders", 3, 40, [40, 42, 45], orders.timestamps, [1, 1, 1], orders.keys,
                    orders.values, orders.headers),
        KafkaBundle("payments", 0, 7, [7], payments.timestamps[:1], [1], payments.keys[:1],
                    payments.values[:1], payments.headers[:1]),
    ]


def test_restore_without_context_headers_names_the_dead_letter(kafka):
    topic = dlq_name()
    write(writer(kafka, topic), [failure(source_bundle(), 0)])

    with pytest.raises(BeamConnectError, match=re.escape(
            "dead-letter record topic=%s partition=0 offset=0 has no __connect.errors.topic header, so "
            "its source record is unknown; restoring needs dead letters written with "
            "errors.deadletterqueue.context.headers.enable=true" % topic)):
        restore(read_bundle(kafka.servers, topic, 1))


def test_restore_keeps_the_context_headers_of_an_earlier_dead_lettering():
    # A record dead-lettered, replayed and dead-lettered again: the first context block is part of
    # its original headers.
    first = FailedRecord("orders", 1, 5, Stage.TASK_PUT, "sink", "down", DATA_EXCEPTION,
                         timestamp=10, key=b"k", value=b"v", headers=[("h", b"1")])
    earlier = [("h", b"1")] + context_headers(first, "c", 0)
    second = FailedRecord("orders-dlq", 0, 0, Stage.TASK_PUT, "sink", "down again", DATA_EXCEPTION,
                          timestamp=10, key=b"k", value=b"v", headers=earlier)
    headers = earlier + context_headers(second, "c", 0)
    bundle = KafkaBundle("orders-dlq-dlq", 0, 0, [0], [10], [1], [b"k"], [b"v"], [headers])

    assert restore(bundle) == [KafkaBundle("orders-dlq", 0, 0, [0], [10], [1], [b"k"], [b"v"],
                                           [earlier])]


def test_restore_names_unreadable_coordinates():
    bundle = KafkaBundle("dlq", 0, 9, [9], [1], [1], [None], [b"v"],
                         [[("__connect.errors.topic", b"orders"),
                           ("__connect.errors.partition", b"three")]])
    with pytest.raises(BeamConnectError, match=re.escape(
            "dead-letter record topic=dlq partition=0 offset=9 has no readable __connect.errors.topic, "
            "__connect.errors.partition and __connect.errors.offset headers")):
        restore(bundle)


# The writer as a DoFn holds it.

def test_writers_pickle_unopened_and_opened(kafka):
    topic = dlq_name()
    dead_letters = writer(kafka, topic, context_headers=True, connector_name="c", task_id=1)
    copy = pickle.loads(pickle.dumps(dead_letters))
    assert (copy.topic, copy.replication_factor, copy.context_headers, copy.connector_name,
            copy.task_id) == (topic, 1, True, "c", 1)
    assert copy._producer is None

    dead_letters.open()
    try:
        opened = pickle.loads(pickle.dumps(dead_letters))
    finally:
        dead_letters.close()
    assert opened._producer is None
    opened.write([failure(source_bundle(), 0)])  # opens on the worker
    opened.close()
    assert len(read_bundle(kafka.servers, topic, 1)) == 1


def test_description_names_the_topic_only():
    dead_letters = TopicDeadLetters({"bootstrap.servers": "b:9092", "sasl.password": "p4ss"}, "dlq")
    assert dead_letters.description == "topic dlq"
    assert dead_letters.replication_factor == 3 and dead_letters.context_headers is False


@pytest.mark.parametrize("kwargs, message", [
    ({"topic": " "}, "errors.deadletterqueue.topic.name must be a topic name, got ''"),
    ({"topic": "dlq", "replication_factor": 0},
     "errors.deadletterqueue.topic.replication.factor must be a positive integer or -1, got 0"),
])
def test_settings_are_checked(kwargs, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        TopicDeadLetters({"bootstrap.servers": "b:9092"}, **kwargs)
