"""Session fixtures for the ActiveMQ sink's tests: real brokers, and helpers to feed and read them.

``activemq`` (ActiveMQ Classic) and ``artemis`` (Apache Artemis) are
:class:`~tests.servers.activemq.ActiveMQBroker` logins: the suite's own brokers
(:mod:`tests.servers.activemq`, each started once per session when a test first asks for it), or the
ones ``BEAMCONNECT_ACTIVEMQ_URL`` / ``BEAMCONNECT_ARTEMIS_URL`` name
(``activemq://USER:PASSWORD@HOST/?stomp=PORT&amqp=PORT``, ports 61613 and 5672 when left out). The
tests that stop and restart a broker, or need the suite's broker settings to have a message refused
(Classic's ``maxFrameSize``), are skipped with a broker of one's own. Tests name their destinations
uniquely.
"""

import os
import time

import pytest

from tests.servers.activemq import ActiveMQBroker, ActiveMQClassicServer, ArtemisServer

URL_VARIABLES = {"classic": "BEAMCONNECT_ACTIVEMQ_URL", "artemis": "BEAMCONNECT_ARTEMIS_URL"}
CONNECTOR_CLASS = "io.confluent.connect.jms.ActiveMqSinkConnector"
#: (broker fixture, protocol) of every way the sink reaches a broker.
TARGETS = [("activemq", "stomp"), ("activemq", "amqp"), ("artemis", "stomp"), ("artemis", "amqp")]


def _broker(kind, launcher):
    variable = URL_VARIABLES[kind]
    url = os.environ.get(variable)
    if url:
        broker = ActiveMQBroker.from_url(url, kind, variable)
        drain(broker, "stomp", "beamconnect-probe", idle=0.1)  # fails early, and clearly, when unusable
        yield broker
        return
    server = launcher().start()
    try:
        yield server.broker
    finally:
        server.stop()


@pytest.fixture(scope="session")
def activemq():
    """An ActiveMQ Classic broker: the one ``BEAMCONNECT_ACTIVEMQ_URL`` names, else the suite's own."""
    yield from _broker("classic", ActiveMQClassicServer)


@pytest.fixture(scope="session")
def artemis():
    """An Apache Artemis broker: the one ``BEAMCONNECT_ARTEMIS_URL`` names, else the suite's own."""
    yield from _broker("artemis", ArtemisServer)


def own_server(broker):
    """The suite's own server of ``broker`` (skips the test for a broker an environment variable names)."""
    if broker.server is None:
        pytest.skip("%s names an existing broker, which this test would stop or reconfigure"
                    % URL_VARIABLES[broker.kind])
    return broker.server


def sink_config(name, topic, broker, protocol, destination, **overrides):
    """A connector config reading string keys and values of ``topic`` into ``destination``."""
    return {"name": name, "connector.class": CONNECTOR_CLASS, "topics": topic,
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "activemq.url": broker.url(protocol), "activemq.username": broker.user,
            "activemq.password": broker.password, "jms.destination.name": destination,
            **overrides}


class Received:
    """One message read back: its id, body, properties and what the protocol tells of it."""

    def __init__(self, id, body, properties, correlation_id=None, persistent=None, priority=None,
                 expires_in_ms=None, text=None):
        self.id, self.body, self.properties = id, body, properties
        self.correlation_id, self.persistent, self.priority = correlation_id, persistent, priority
        self.expires_in_ms, self.text = expires_in_ms, text

    def __repr__(self):
        return "Received(%r, %r)" % (self.id, self.body[:40] if self.body else self.body)


def drain(broker, protocol, destination, expected=None, timeout=60.0, idle=1.0, until=None,
          into=None):
    """Every message of queue ``destination``, consumed with ``protocol``'s client: until ``expected``
    messages came (then ``idle`` s more, for copies), or until none came for ``idle`` s; with
    ``until`` (an Event), until it is set and then none came for ``idle`` s. ``into``: the list to
    append them to as they come."""
    reader = _drain_stomp if protocol == "stomp" else _drain_amqp
    messages = [] if into is None else into
    reader(broker, destination, messages, _done(messages, expected, idle, until), timeout)
    return messages


def _done(messages, expected, idle, until):
    """A function telling whether draining may stop, called between messages and while none come."""
    state = {"seen": -1, "last": 0.0}

    def done():
        now = time.monotonic()
        if len(messages) != state["seen"]:
            state["seen"], state["last"] = len(messages), now
        if until is not None and not until.is_set():
            return False
        return now - state["last"] > idle and (expected is None or len(messages) >= expected)

    return done


def _drain_stomp(broker, destination, messages, done, timeout):
    import stomp

    class Listener(stomp.ConnectionListener):
        def on_message(self, frame):
            headers = frame.headers
            expires = int(headers.get("expires", "0") or 0)
            messages.append(Received(
                headers.get("KAFKA_MESSAGE_ID"), frame.body, dict(headers),
                correlation_id=headers.get("correlation-id"),
                persistent=headers.get("persistent") == "true", priority=int(headers["priority"]),
                expires_in_ms=expires - int(time.time() * 1000) if expires else None,
                # Artemis's MESSAGE frames do not tell text from bytes messages
                text=None if broker.kind == "artemis" else headers.get("amq-msg-type") == "text"))

    connection = stomp.Connection12([(broker.host, broker.stomp_port)], auto_decode=False,
                                    reconnect_attempts_max=1)
    connection.set_listener("drain", Listener())
    connection.connect(broker.user, broker.password, wait=True)
    try:
        connection.subscribe("/queue/%s" % destination, id="drain", ack="auto")
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        connection.disconnect()


def _drain_amqp(broker, destination, messages, done, timeout):
    from proton import Timeout
    from proton.utils import BlockingConnection

    connection = BlockingConnection(broker.url("amqp"), user=broker.user, password=broker.password,
                                    allow_insecure_mechs=True, timeout=timeout)
    try:
        receiver = connection.create_receiver(destination, credit=500)
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            try:
                message = receiver.receive(timeout=0.1)
            except Timeout:
                continue
            receiver.accept()
            body = message.body
            annotations = message.annotations or {}
            messages.append(Received(
                message.id, body.encode("utf-8") if isinstance(body, str) else
                None if body is None else bytes(body), dict(message.properties or {}),
                correlation_id=message.correlation_id, persistent=message.durable,
                priority=message.priority,
                expires_in_ms=int(message.ttl * 1000) if message.ttl else None,
                text=int(annotations.get("x-opt-jms-msg-type", 5)) == 5))
    finally:
        connection.close()
