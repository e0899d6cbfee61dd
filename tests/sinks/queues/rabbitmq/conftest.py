"""Session fixtures for the RabbitMQ sink's tests: a real broker, and helpers to set up and read it.

``rabbitmq`` is a :class:`~tests.servers.rabbitmq.RabbitMQBroker`: the suite's own broker (Debian's
``rabbitmq-server``, :class:`~tests.servers.rabbitmq.RabbitMQServer`, started on first use and stopped
with the session), or the one ``BEAMCONNECT_RABBITMQ_URL`` names
(``amqp://USER:PASSWORD@HOST:PORT/VHOST``; the user needs configure, write and read permissions on
the virtual host). ``rabbitmq_server`` is the suite's own broker only, for the tests that stop and
restart it or use its TLS listener; they are skipped when the variable is set. Tests name their
exchanges and queues uniquely.
"""

import os
import time

import pytest

from tests.servers.rabbitmq import RabbitMQBroker, RabbitMQServer
from tests.sinks.queues.helpers import unique

URL_VARIABLE = "BEAMCONNECT_RABBITMQ_URL"
#: The suite's broker refuses larger messages (RabbitMQ's default is 128 MiB), so a test can send one.
MAX_MESSAGE_SIZE = 1024 * 1024


@pytest.fixture(scope="session")
def rabbitmq_server():
    """The suite's own RabbitMQ broker (skipped when ``BEAMCONNECT_RABBITMQ_URL`` names another)."""
    if os.environ.get(URL_VARIABLE):
        pytest.skip("%s names an existing broker; this test needs the suite's own (it stops it, "
                    "or uses its TLS listener or max_message_size)" % URL_VARIABLE)
    server = RabbitMQServer(["max_message_size = %d" % MAX_MESSAGE_SIZE]).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def rabbitmq(request):
    """A RabbitMQ broker: the one ``BEAMCONNECT_RABBITMQ_URL`` names, else the suite's own."""
    url = os.environ.get(URL_VARIABLE)
    if url:
        broker = RabbitMQBroker.from_url(url, URL_VARIABLE)
        connect(broker).close()  # fail early, and clearly, when it cannot be used
        return broker
    return request.getfixturevalue("rabbitmq_server").broker


def connect(broker):
    import pika

    return pika.BlockingConnection(pika.ConnectionParameters(
        broker.host, broker.port, broker.vhost, pika.PlainCredentials(broker.user, broker.password),
        connection_attempts=1))


def exchange_with_queue(broker, routing_keys=("#",), exchange_type="topic", arguments=None):
    """A new durable exchange and a durable queue bound to it with ``routing_keys``; their names."""
    exchange, queue = unique("x"), unique("q")
    connection = connect(broker)
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange, exchange_type, durable=True)
        channel.queue_declare(queue, durable=True, arguments=arguments)
        for key in routing_keys:
            channel.queue_bind(queue, exchange, routing_key=key)
    finally:
        connection.close()
    return exchange, queue


def drain(broker, queue, expected=None, timeout=60.0, idle=1.0):
    """Every message of ``queue`` as ``(method, properties, body)``, acknowledged: once ``expected``
    messages came and no more for a moment, or (without ``expected``) once none came for ``idle`` s;
    at most until ``timeout``."""
    connection = connect(broker)
    messages, quiet, tick, acked = [], 0.0, 0.2, 0
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=1000)
        deadline = time.monotonic() + timeout
        for method, properties, body in channel.consume(queue, inactivity_timeout=tick):
            if method is not None:
                messages.append((method, properties, body))
                quiet = 0.0
                if method.delivery_tag % 500 == 0:
                    channel.basic_ack(method.delivery_tag, multiple=True)
                    acked = method.delivery_tag
                continue
            quiet += tick
            if (expected is not None and len(messages) >= expected) or (
                    expected is None and quiet >= idle) or time.monotonic() > deadline:
                break
        if messages and messages[-1][0].delivery_tag != acked:
            channel.basic_ack(messages[-1][0].delivery_tag, multiple=True)
        channel.cancel()
    finally:
        connection.close()
    return messages


def queue_length(broker, queue):
    connection = connect(broker)
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()
