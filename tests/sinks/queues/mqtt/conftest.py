"""Session fixture ``mosquitto``: a real MQTT broker, started when a test asks, and a subscriber.

The broker is the suite's own launcher (:class:`~tests.servers.mosquitto.LocalMosquitto`: Debian's
mosquitto 2.0, persistence in a temporary directory, stopped with the session). Set
``BEAMCONNECT_MQTT_URL`` (``tcp://HOST:PORT``, anonymous clients allowed, MQTT 5) to run against an
existing broker instead; the tests that need the suite's own broker (stopping and restarting it, its
ACL refusing a topic) are then skipped, and the credentials test starts a broker of its own anyway.
Every test uses uniquely named Kafka topics, and so MQTT topics.
"""

import dataclasses
import os
import threading
import time
import urllib.parse
import uuid
from typing import List, Optional

import pytest

from tests.servers.mosquitto import REFUSED_PREFIX, LocalMosquitto

MQTT_URL_VARIABLE = "BEAMCONNECT_MQTT_URL"


@dataclasses.dataclass
class Broker:
    """The broker the tests publish through.

    Attributes:
      url: ``tcp://HOST:PORT``.
      local: The launcher when the broker is this session's own (pause, resume, its ACL).
    """

    url: str
    local: Optional[LocalMosquitto] = None

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.url).hostname

    @property
    def port(self) -> int:
        return urllib.parse.urlsplit(self.url).port or 1883

    @property
    def refused_prefix(self) -> Optional[str]:
        """A topic prefix whose publishes the broker refuses (the local broker's ACL), or None."""
        return REFUSED_PREFIX if self.local is not None else None


@pytest.fixture(scope="session")
def mosquitto():
    """A mosquitto broker: this session's own, or the one ``BEAMCONNECT_MQTT_URL`` names."""
    url = os.environ.get(MQTT_URL_VARIABLE)
    if url:
        yield Broker(url)
        return
    server = LocalMosquitto().start()
    try:
        yield Broker(server.url, server)
    finally:
        server.stop()


@dataclasses.dataclass(frozen=True)
class Received:
    """One message a subscriber got: topic, payload and MQTT 5 user properties (in order)."""

    topic: str
    payload: bytes
    properties: tuple

    def user_property(self, name: str) -> Optional[str]:
        return next((v for k, v in self.properties if k == name), None)

    @property
    def coordinates(self) -> tuple:
        return (self.user_property("kafka.topic"), int(self.user_property("kafka.partition")),
                int(self.user_property("kafka.offset")))


class Subscriber:
    """A subscriber with a persistent session (QoS 1), reconnecting by itself, so that messages
    published while it (or the broker) was away are delivered once it is back.

    MQTT 5 shows the user properties; mosquitto 2.0.11 keeps the sessions of MQTT 3.1.1 clients across
    a restart of its own, but not those of MQTT 5 clients.

    Args:
      broker: The broker.
      topic: The topic filter to subscribe to.
      username: A user name, with ``password``.
      protocol: ``5`` or ``3.1.1``.
    """

    def __init__(self, broker: Broker, topic: str, username: str = None, password: str = None,
                 protocol: str = "5"):
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self.topic = topic
        self.messages: List[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.connects = 0
        v5 = protocol == "5"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="check-" + uuid.uuid4().hex[:12],
                             protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                             clean_session=None if v5 else False)
        if username:
            client.username_pw_set(username, password)
        client.reconnect_delay_set(0.05, 0.2)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_subscribe = lambda *args: self._subscribed.set()
        self._client = client
        if v5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = 3600  # kept across disconnects
            # a clean session the first time, the same one after each reconnect
            client.connect(broker.host, broker.port, 30, clean_start=mqtt.MQTT_CLEAN_START_FIRST_ONLY,
                           properties=properties)
        else:
            client.connect(broker.host, broker.port, 30)
        client.loop_start()
        if not self._subscribed.wait(10):
            raise AssertionError("the subscription to %s was not acknowledged" % topic)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if not flags.session_present:
            client.subscribe(self.topic, qos=1)
        with self._lock:
            self.connects += 1

    def wait_connected(self, connects: int, timeout: float = 30.0) -> None:
        """Waits until the subscriber has connected ``connects`` times in all."""
        deadline = time.monotonic() + timeout
        while self.connects < connects:
            if time.monotonic() > deadline:
                raise AssertionError("the subscriber did not reconnect within %gs" % timeout)
            time.sleep(0.01)

    def _on_message(self, client, userdata, message):
        properties = tuple(getattr(message.properties, "UserProperty", None) or ())
        with self._lock:
            self.messages.append(Received(message.topic, bytes(message.payload), properties))

    def received(self) -> List[Received]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, predicate, timeout: float = 60.0, what: str = "messages") -> List[Received]:
        """Waits until ``predicate(received messages)`` holds; returns the messages."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.received()
            if predicate(messages):
                return messages
            if time.monotonic() > deadline:
                raise AssertionError("%s did not arrive within %gs (got %d messages)"
                                     % (what, timeout, len(messages)))
            time.sleep(0.05)

    def close(self):
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def subscribe(mosquitto):
    """``subscribe(topic filter)``: a :class:`Subscriber`, closed after the test."""
    subscribers = []

    def make(topic, **kwargs):
        subscriber = Subscriber(kwargs.pop("broker", mosquitto), topic, **kwargs)
        subscribers.append(subscriber)
        return subscriber

    yield make
    for subscriber in subscribers:
        subscriber.close()

