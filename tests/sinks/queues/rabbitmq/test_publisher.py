"""The RabbitMQ publisher against a real broker: what the broker refuses, and confirms that do not come."""

import os
import re
import signal
import time

import pyarrow as pa
import pytest

from common.errors import BeamConnectError, DataError, RejectedRecord
from sinks.base import Mode, WriteContext
from sinks.queues.messages import Message
from sinks.queues.publish import ConnectionLost, PublishWriter
from sinks.queues.rabbitmq.config import RabbitMQSinkConfig
from sinks.queues.rabbitmq.publisher import RabbitMQPublisher
from tests.sinks.queues.rabbitmq.conftest import MAX_MESSAGE_SIZE, drain, exchange_with_queue
from transforms.errors import ErrorPolicy
from transforms.records import ConvertedBundle, KafkaBundle


def _config(broker, exchange, **overrides):
    return RabbitMQSinkConfig(name="test", host=broker.host, port=broker.port, username=broker.user,
                              password=broker.password, virtual_host=broker.vhost, exchange=exchange,
                              **overrides)


def _messages(count, target="orders", key=lambda i: b"k%d" % i, value=lambda i: b"v%d" % i):
    return [Message("orders", 0, i, 1_700_000_000_000, target, key(i), value(i)) for i in range(count)]


@pytest.fixture
def publisher_of():
    made = []

    def make(config):
        publisher = RabbitMQPublisher(config)
        publisher.connect()
        made.append(publisher)
        return publisher

    yield make
    for publisher in made:
        publisher.close()


def test_a_message_no_queue_takes_is_refused_and_the_others_are_confirmed(rabbitmq, publisher_of):
    exchange, queue = exchange_with_queue(rabbitmq, ["orders"], exchange_type="direct")
    publisher = publisher_of(_config(rabbitmq, exchange))
    batch = _messages(4) + [Message("orders", 0, 4, None, "nowhere", b"k", b"lost")]

    with pytest.raises(RejectedRecord, match=re.escape(
            "refused the message: it was returned with 312 NO_ROUTE: no queue is bound to exchange "
            "%r for routing key 'nowhere'" % exchange)) as refused:
        publisher.publish(batch)
    assert refused.value.offsets == (4,)
    assert sorted(p.message_id for _, p, _ in drain(rabbitmq, queue, expected=4)) == [
        "orders-0-%d" % i for i in range(4)]
    publisher.publish(_messages(2))  # the channel goes on
    assert len(drain(rabbitmq, queue, expected=2)) == 2


def test_a_key_too_long_for_a_correlation_id_is_refused(rabbitmq, publisher_of):
    exchange, queue = exchange_with_queue(rabbitmq)
    publisher = publisher_of(_config(rabbitmq, exchange, forward_key=True))
    batch = _messages(3, key=lambda i: b"x" * 300 if i == 1 else b"k%d" % i)

    with pytest.raises(RejectedRecord, match="its key of 300 bytes is longer than the 255") as refused:
        publisher.publish(batch)
    assert refused.value.offsets == (1,)
    assert sorted(p.correlation_id for _, p, _ in drain(rabbitmq, queue, expected=2)) == ["k0", "k2"]


def test_nacked_messages_are_published_again_then_refused(rabbitmq, publisher_of, caplog):
    exchange, queue = exchange_with_queue(rabbitmq, arguments={"x-max-length": 3,
                                                              "x-overflow": "reject-publish"})
    publisher = publisher_of(_config(rabbitmq, exchange, nack_retries=2))

    with pytest.raises(RejectedRecord, match="the broker nacked it 3 times") as refused:
        publisher.publish(_messages(5))
    assert refused.value.offsets == (3, 4)
    assert "the broker nacked 2 messages (topic=orders partition=0 offsets 3..4); publishing them " \
           "again (try 2 of 3)" in caplog.text
    assert [p.message_id for _, p, _ in drain(rabbitmq, queue, expected=3)] == [
        "orders-0-0", "orders-0-1", "orders-0-2"]


def test_confirms_that_do_not_come_in_time_count_as_a_lost_connection(rabbitmq_server, publisher_of):
    broker = rabbitmq_server.broker
    exchange, queue = exchange_with_queue(broker)
    publisher = publisher_of(_config(broker, exchange, ack_timeout_ms=500))
    os.killpg(rabbitmq_server.pid, signal.SIGSTOP)  # the connection stays open, nothing answers
    try:
        started = time.monotonic()
        with pytest.raises(ConnectionLost, match=re.escape(
                "confirmed 0 of 3 messages of topic=orders partition=0 offsets 0..2 within "
                "rabbitmq.publish.ack.timeout=500 ms")):
            publisher.publish(_messages(3))
        assert 0.5 <= time.monotonic() - started < 3
    finally:
        os.killpg(rabbitmq_server.pid, signal.SIGCONT)
    publisher.close()


def test_a_missing_exchange_is_a_clear_error(rabbitmq, publisher_of):
    publisher = publisher_of(_config(rabbitmq, "no-such-exchange"))
    message = ("rabbitmq.exchange='no-such-exchange' cannot be used on RabbitMQ at %s:%d (virtual "
               "host %r, user %r): 404 NOT_FOUND - no exchange 'no-such-exchange' in vhost %r"
               % (rabbitmq.host, rabbitmq.port, rabbitmq.vhost, rabbitmq.user, rabbitmq.vhost))
    with pytest.raises(BeamConnectError, match=re.escape(message)):
        publisher.check_exchange()
    with pytest.raises(BeamConnectError, match=re.escape(message)):
        publisher.publish(_messages(1))


def _bundle(values):
    offsets = list(range(len(values)))
    raw = KafkaBundle("orders", 0, 0, offsets, [1_700_000_000_000] * len(values), [1] * len(values),
                      [b"k%d" % o for o in offsets], values, [None] * len(values))
    return ConvertedBundle("orders", 0, 0, offsets, raw.timestamps, pa.array([None] * len(values)),
                           pa.array([None] * len(values)), [None] * len(values), raw=raw,
                           rows=list(range(len(values))))


def test_a_message_the_broker_will_not_take_is_isolated_and_the_rest_of_its_bundle_lands(
        rabbitmq_server):
    broker = rabbitmq_server.broker
    exchange, queue = exchange_with_queue(broker)
    config = _config(broker, exchange, batch_size=4)
    context = WriteContext(Mode.BATCH, errors=ErrorPolicy(tolerance="all"),
                           connector_class="rabbitmq")
    writer = PublishWriter(context, lambda: RabbitMQPublisher(config), config.publish_settings())
    values = [b"v%d" % i for i in range(10)]
    values[6] = b"x" * (MAX_MESSAGE_SIZE + 1)
    writer.setup()
    try:
        [result] = writer.process(_bundle(values))
    finally:
        writer.teardown()

    assert [(f.offset, f.stage) for f in result.failed] == [(6, "TASK_PUT")]
    assert "406 PRECONDITION_FAILED" in result.failed[0].reason
    assert result.records == 9
    bodies = {p.message_id: body for _, p, body in drain(broker, queue, expected=9)}
    assert bodies == {"orders-0-%d" % i: b"v%d" % i for i in range(10) if i != 6}


def test_the_publisher_reopens_a_channel_the_broker_closed(rabbitmq_server, publisher_of):
    broker = rabbitmq_server.broker
    exchange, queue = exchange_with_queue(broker)
    publisher = publisher_of(_config(broker, exchange))
    with pytest.raises(DataError, match="406 PRECONDITION_FAILED"):
        publisher.publish(_messages(1, value=lambda i: b"x" * (MAX_MESSAGE_SIZE + 1)))
    publisher.publish(_messages(2))
    assert len(drain(broker, queue, expected=2)) == 2
