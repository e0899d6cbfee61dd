"""A second Kafka cluster for the cross-cluster cases, and helpers for the target topics."""

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.conftest import KafkaHelper


@pytest.fixture(scope="session")
def other_kafka():
    """Another single-broker cluster from the project's launcher, for the whole session (``.broker``
    is the launcher, for tests that stop and restart it)."""
    from pipelines.dev_kafka import LocalKafka

    broker = LocalKafka().start()
    try:
        helper = KafkaHelper(broker.bootstrap_servers)
        helper.broker = broker
        yield helper
    finally:
        broker.stop()


def create_topic(servers, name, partitions=1, config=None):
    admin = AdminClient({"bootstrap.servers": servers})
    for future in admin.create_topics([NewTopic(name, partitions, 1, config=config or {})]).values():
        future.result()
    return name


def produce(servers, topic, records, partition=0):
    """records: (key, value, timestamp ms, headers) tuples."""
    producer = Producer({"bootstrap.servers": servers, "linger.ms": 5, "enable.idempotence": True})
    for key, value, timestamp, headers in records:
        while True:
            kwargs = {"timestamp": timestamp} if timestamp is not None else {}
            try:
                producer.produce(topic, key=key, value=value, headers=headers, partition=partition,
                                 **kwargs)
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(60):
        raise RuntimeError("records were not delivered")


def read_committed(servers, topic, partitions=1, timeout=30.0):
    """Every record of ``topic`` a read_committed consumer sees, partition by partition."""
    consumer = Consumer({"bootstrap.servers": servers, "group.id": "check-" + uuid.uuid4().hex,
                         "enable.auto.commit": "false", "isolation.level": "read_committed",
                         "enable.partition.eof": "true"})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    messages, done = [], set()
    try:
        deadline = time.monotonic() + timeout
        while len(done) < partitions:
            if time.monotonic() > deadline:
                raise AssertionError("topic %s did not reach its end within %gs" % (topic, timeout))
            for message in consumer.consume(1000, 1.0):
                if message.error() is not None:
                    if message.error().code() == KafkaError._PARTITION_EOF:
                        done.add(message.partition())
                        continue
                    raise AssertionError(message.error())
                messages.append(message)
    finally:
        consumer.close()
    return messages
