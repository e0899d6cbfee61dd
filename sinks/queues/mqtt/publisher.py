"""Publishing a batch to an MQTT broker with QoS 1, confirmed when every PUBACK of it is in.

One :class:`MqttPublisher` is one Paho (``paho-mqtt`` 2) client and its network loop thread. A batch is
published at once (up to the broker's Receive Maximum in flight) and ``publish`` waits until a PUBACK
came back for each message: that is the batch's confirm. A PUBACK with a reason code of 0x80 or more
(MQTT 5; mosquitto answers 0x87 *Not authorized* to a publish its ACL denies) is the broker refusing
that message, which becomes a :class:`~common.errors.RejectedRecord`; so is a message larger than the
broker's Maximum Packet Size (MQTT 5's CONNACK says it), which is never sent. MQTT 3.1.1 has no such
answer: a broker drops what it refuses and acknowledges it all the same.

With MQTT 5 each message carries the record's coordinates and key as user properties
(``kafka.topic``, ``kafka.partition``, ``kafka.offset``, ``kafka.timestamp``, ``kafka.key``) and then
each header under its own name; the payload is the value (empty for a tombstone). Keys and header
values that are not UTF-8 text are written base64-encoded, under the name with ``.base64`` appended
(``kafka.key.base64``); a null header value is written as an empty string.

The client never reconnects on its own: a lost connection (or PUBACKs not all in within
:data:`CONFIRM_TIMEOUT`) is :class:`~sinks.queues.publish.ConnectionLost`, and the write loop makes a new
publisher and publishes the whole batch again.
"""

from __future__ import annotations

import base64
import logging
import secrets
import ssl
import threading
import time
from typing import List, Optional, Sequence, Tuple

from common.errors import BeamConnectError, RejectedRecord
from sinks.queues.messages import Message, describe_range
from sinks.queues.mqtt.config import MqttSinkConfig, Server, topic_problem
from sinks.queues.publish import ConnectionLost, Publisher

_LOGGER = logging.getLogger(__name__)

#: Seconds the PUBACKs of a batch may take once it is published.
CONFIRM_TIMEOUT = 60.0
#: Most messages in flight, whatever Receive Maximum an MQTT 5 broker allows.
MAX_IN_FLIGHT = 1000
#: Messages in flight with MQTT 3.1.1, which has no Receive Maximum.
IN_FLIGHT_3 = 100
#: CONNACK reason codes after which connecting again may work (the broker is busy or going away).
_PASSING = {"Server unavailable", "Server busy", "Connection rate exceeded", "Use another server",
            "Server moved", "Quota exceeded", "Unspecified error"}
#: Refusals named in errors, with the shortest hint that fixes them.
_HINTS = {"Bad user name or password": "check mqtt.username and mqtt.password",
          "Not authorized": "check mqtt.username and mqtt.password (mosquitto answers a wrong "
                            "password so)",
          "Unsupported protocol version": "the broker does not speak this MQTT version: set "
                                          "mqtt.protocol.version=3.1.1"}
#: Fields of the user properties a message carries besides its headers.
COORDINATES = ("kafka.topic", "kafka.partition", "kafka.offset", "kafka.timestamp")
KEY_PROPERTY = "kafka.key"
BASE64_SUFFIX = ".base64"


def text_property(name: str, value: Optional[bytes]) -> Tuple[str, str]:
    """A user property for a key or header value: UTF-8 text as it is, other bytes as base64 under
    ``<name>.base64``, None as an empty string."""
    if value is None:
        return name, ""
    try:
        return name, bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        return name + BASE64_SUFFIX, base64.b64encode(bytes(value)).decode("ascii")


def user_properties(message: Message) -> List[Tuple[str, str]]:
    """The MQTT 5 user properties of ``message``: coordinates, key, then headers in order."""
    pairs = [("kafka.topic", message.topic), ("kafka.partition", str(message.partition)),
             ("kafka.offset", str(message.offset))]
    if message.timestamp is not None:
        pairs.append(("kafka.timestamp", str(message.timestamp)))
    if message.key is not None:
        pairs.append(text_property(KEY_PROPERTY, message.key))
    pairs.extend(text_property(name, value) for name, value in message.headers)
    return pairs


class MqttPublisher(Publisher):
    """One connection to one of ``mqtt.server.uri``'s brokers.

    Args:
      config: The sink's config.
    """

    def __init__(self, config: MqttSinkConfig):
        self._config = config
        self._client = None
        self._server: Optional[Server] = None
        self._condition = threading.Condition()
        self._connack = None  # the CONNACK's reason code once it came
        self._lost: Optional[str] = None  # why the connection ended, once it did
        self._acks: dict = {}  # mid -> PUBACK reason code, for the batch being published
        self._max_packet: Optional[int] = None
        self._window = IN_FLIGHT_3  # messages in flight at most (MQTT 5: the broker's Receive Maximum)

    # --- connecting ----------------------------------------------------------------------------

    def connect(self) -> None:
        failures = []
        for server in self._config.servers:
            try:
                self._connect(server)
                return
            except ConnectionLost as lost:
                self.close()
                failures.append(str(lost))
        raise ConnectionLost("; ".join(failures))

    def _connect(self, server: Server) -> None:
        mqtt, CallbackAPIVersion, PacketTypes, Properties = _paho()
        config = self._config
        v5 = config.protocol == "5"
        client_id = "beamconnect-%s-%s" % (config.name, secrets.token_hex(4))
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             clean_session=None if v5 else True,
                             protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                             reconnect_on_failure=False)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.connect_timeout = float(config.connect_timeout)
        client.max_inflight_messages_set(0)  # in flight is bounded here, by the broker's maximum
        if config.username:
            client.username_pw_set(config.username, str(config.password) or None)
        if server.tls:
            try:
                client.tls_set(ca_certs=config.ca_location, certfile=config.certificate_location,
                               keyfile=config.key_location,
                               keyfile_password=str(config.key_password) or None)
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise BeamConnectError("the TLS files for %s cannot be used: %s"
                                       % (server.uri, exc)) from None
        self._client, self._server = client, server
        self._connack, self._lost = None, None
        properties = None
        if v5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = 0
        deadline = time.monotonic() + config.connect_timeout
        try:
            client.connect(server.host, server.port, config.keepalive,
                           **({"clean_start": True, "properties": properties} if v5 else {}))
        except ssl.SSLCertVerificationError as exc:
            raise BeamConnectError("the MQTT broker at %s failed TLS verification: %s (set "
                                   "mqtt.ssl.ca.location to its authority's certificate)"
                                   % (server.uri, exc.verify_message or exc)) from None
        except (OSError, ssl.SSLError) as exc:  # socket.timeout and refused connections included
            raise ConnectionLost("could not reach the MQTT broker at %s within %ds: %s"
                                 % (server.uri, config.connect_timeout, exc)) from None
        client.loop_start()
        with self._condition:
            while self._connack is None and self._lost is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConnectionLost("the MQTT broker at %s sent no CONNACK within %ds"
                                         % (server.uri, config.connect_timeout))
                self._condition.wait(min(remaining, 0.5))
            connack, lost = self._connack, self._lost
        if connack is None:
            raise ConnectionLost("the MQTT broker at %s closed the connection before its CONNACK: %s"
                                 % (server.uri, lost))
        if connack.is_failure:
            name = connack.getName()
            user = (" as user %r" % config.username) if config.username else " without a user name"
            what = "the MQTT broker at %s refused the connection%s: %s (CONNACK 0x%02X)" % (
                server.uri, user, name, connack.value)
            if name in _PASSING:
                raise ConnectionLost(what)
            raise BeamConnectError(what + ("; " + _HINTS[name] if name in _HINTS else ""))
        _LOGGER.info("connected to the MQTT broker at %s as client %s (MQTT %s)", server.uri,
                     client_id, config.protocol)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._condition:
            if self._config.protocol == "5":
                self._window = min(getattr(properties, "ReceiveMaximum", 65535), MAX_IN_FLIGHT)
                self._max_packet = getattr(properties, "MaximumPacketSize", None)
            self._connack = reason_code
            self._condition.notify_all()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._condition:
            self._lost = "the connection ended (%s)" % (
                reason_code.getName() if hasattr(reason_code, "getName") else reason_code)
            self._condition.notify_all()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._condition:
            self._acks[mid] = reason_code
            self._condition.notify_all()

    # --- publishing ----------------------------------------------------------------------------

    def publish(self, batch: Sequence[Message]) -> None:
        mqtt, _, PacketTypes, Properties = _paho()
        config, client = self._config, self._client
        v5 = config.protocol == "5"
        with self._condition:
            self._acks = {}
        refused: List[Tuple[Message, str]] = []
        sent: List[Tuple[int, Message, str]] = []
        for message in batch:
            topic = config.topic(message.target)
            problem = topic_problem(topic)
            if problem:
                refused.append((message, "its MQTT topic %r is invalid: %s" % (topic, problem)))
                continue
            properties = None
            if v5:
                properties = Properties(PacketTypes.PUBLISH)
                properties.UserProperty = user_properties(message)
            payload = message.value or b""
            size = _packet_size(topic, payload, properties)
            if self._max_packet is not None and size > self._max_packet:
                refused.append((message, "its PUBLISH of %d bytes to MQTT topic %r is larger than "
                                         "the broker's Maximum Packet Size of %d bytes"
                                % (size, topic, self._max_packet)))
                continue
            self._wait_for_room(len(sent), batch)
            info = client.publish(topic, payload, qos=config.qos, retain=config.retain,
                                  properties=properties)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise ConnectionLost("publishing to the MQTT broker at %s failed: %s"
                                     % (self._server.uri, mqtt.error_string(info.rc)))
            sent.append((info.mid, message, topic))
        self._wait_for(sent, batch)
        for mid, message, topic in sent:
            reason = self._acks[mid]
            if getattr(reason, "is_failure", False):
                refused.append((message, "the broker refused its publish to MQTT topic %r: %s "
                                         "(PUBACK 0x%02X)" % (topic, reason.getName(), reason.value)))
        if refused:
            raise RejectedRecord(_refusal(refused), [m.offset for m, _ in refused])

    def _wait_for_room(self, published: int, batch: Sequence[Message]) -> None:
        """Waits until fewer than the window's messages of ``published`` are unacknowledged."""
        deadline = time.monotonic() + CONFIRM_TIMEOUT
        with self._condition:
            while published - len(self._acks) >= self._window:
                self._check_waiting(deadline, batch)
                self._condition.wait(min(max(deadline - time.monotonic(), 0.01), 0.5))

    def _check_waiting(self, deadline: float, batch: Sequence[Message]) -> None:
        if self._lost is not None:
            raise ConnectionLost("the MQTT broker at %s: %s before every PUBACK of %s came in"
                                 % (self._server.uri, self._lost, describe_range(batch)))
        if time.monotonic() >= deadline:
            raise ConnectionLost("the MQTT broker at %s did not acknowledge every message of %s "
                                 "within %gs" % (self._server.uri, describe_range(batch),
                                                 CONFIRM_TIMEOUT))

    def _wait_for(self, sent: list, batch: Sequence[Message]) -> None:
        deadline = time.monotonic() + CONFIRM_TIMEOUT
        with self._condition:
            while True:
                if all(mid in self._acks for mid, _, _ in sent):
                    return
                self._check_waiting(deadline, batch)
                self._condition.wait(min(max(deadline - time.monotonic(), 0.01), 0.5))

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.disconnect()
        except Exception:  # noqa: BLE001 - closing must not raise
            pass
        try:
            client.loop_stop()
        except Exception:  # noqa: BLE001
            pass


def _paho() -> tuple:
    """Paho's client module, ``CallbackAPIVersion``, ``PacketTypes`` and ``Properties``."""
    try:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
    except ImportError:
        raise BeamConnectError("the MQTT sink needs paho-mqtt 2: pip install 'beamconnect[mqtt]'") from None
    return mqtt, CallbackAPIVersion, PacketTypes, Properties


def _packet_size(topic: str, payload: bytes, properties) -> int:
    """The bytes of a QoS 1 PUBLISH packet: fixed header, topic, packet id, properties, payload."""
    remaining = 2 + len(topic.encode("utf-8")) + 2 + len(payload)
    if properties is not None:
        remaining += len(properties.pack())
    length = 1
    while remaining >= 128 ** length:
        length += 1
    return 1 + length + remaining


def _refusal(refused: List[Tuple[Message, str]]) -> str:
    if len(refused) == 1:
        return "the MQTT message of %s was refused: %s" % (refused[0][0].describe(), refused[0][1])
    shown = "; ".join("offset %d: %s" % (m.offset, why) for m, why in refused[:5])
    more = "" if len(refused) <= 5 else "; and %d more" % (len(refused) - 5)
    return "%d MQTT messages of topic=%s partition=%d were refused: %s%s" % (
        len(refused), refused[0][0].topic, refused[0][0].partition, shown, more)

