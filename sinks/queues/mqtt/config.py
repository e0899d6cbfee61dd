"""Config keys of the MQTT sink: those of Confluent's MQTT sink (``mqtt.*``), and a few of its own.

Confluent's keys keep their names and meaning: ``mqtt.server.uri`` (a list, tried in order, ``tcp://``
or ``ssl://``), ``mqtt.username`` / ``mqtt.password``, ``mqtt.qos``, ``mqtt.retained.enabled``,
``mqtt.connect.timeout.seconds``, ``mqtt.keepalive.interval.seconds``. Where the answer differs, it
is said, never silently dropped:

- ``mqtt.qos`` is 1 by default (Confluent's is 0), and must be 1: QoS 0 has no acknowledgement, so an
  offset could be committed for a message the broker never got; QoS 2's handshake only spans one
  connection (a resent batch or a rerun publishes new messages anyway), and the client ignores the
  refusal codes its PUBREC may carry, so a refused message would count as delivered.
- The Java key stores (``mqtt.ssl.trust.store.*``, ``mqtt.ssl.key.store.*``) are refused with the PEM
  key to use instead (``mqtt.ssl.ca.location``, ``mqtt.ssl.certificate.location``,
  ``mqtt.ssl.key.location``); ``mqtt.ssl.key.password`` keeps its meaning, the private key's password.
- ``mqtt.clean.session.enabled`` is accepted with a warning: each connection starts clean, since a
  batch whose acknowledgements were lost with a connection is published again on the next one.

Added here: ``mqtt.protocol.version`` (MQTT 5 by default, whose PUBACK reason codes say when the
broker refuses a message and whose user properties carry the record's key, headers and Kafka
coordinates; 3.1.1 for brokers without it), ``mqtt.topic.format`` (the MQTT topic, ``${topic}`` being
the record's topic after the transforms: Confluent's sink publishes to that topic as is),
``mqtt.key.format`` / ``mqtt.value.format`` and ``flush.size``.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from typing import Any, Mapping, Optional

from common.configdef import ConfigDef, ConfigKey, NO_DEFAULT, Password
from common.errors import ConfigError
from sinks.base import ConnectorContext
from sinks.encoding import check_raw_edits
from sinks.queues.messages import FORMATS

TOPIC_TOKEN = "${topic}"
PROTOCOLS = ("5", "3.1.1")
#: ``scheme: (TLS, default port)`` of the URIs ``mqtt.server.uri`` may list, as Paho's Java client.
SCHEMES = {"tcp": (False, 1883), "ssl": (True, 8883)}
#: Characters an MQTT topic name may not hold (wildcards, and NUL).
_NOT_IN_TOPICS = re.compile(r"[+#\x00]")

# Confluent's Java key store keys, and the PEM keys to use instead.
KEY_STORES = {
    "mqtt.ssl.trust.store.path": "mqtt.ssl.ca.location (a PEM file)",
    "mqtt.ssl.trust.store.password": "mqtt.ssl.ca.location (a PEM file)",
    "mqtt.ssl.key.store.path": "mqtt.ssl.certificate.location and mqtt.ssl.key.location (PEM files)",
    "mqtt.ssl.key.store.password": "mqtt.ssl.key.password",
}

IGNORED_KEYS = {
    "mqtt.clean.session.enabled": "each connection starts a clean session: a batch whose "
                                  "acknowledgements were lost with a connection is published again "
                                  "on the next one",
    "confluent.license": "Confluent's license check does not apply here",
    "confluent.topic": "Confluent's license topic does not apply here",
    "confluent.topic.bootstrap.servers": "Confluent's license topic does not apply here",
    "confluent.topic.replication.factor": "Confluent's license topic does not apply here",
}

_GROUP = "MQTT sink"

CONFIG_DEF = ConfigDef([
    ConfigKey("mqtt.server.uri", "list", NO_DEFAULT, group=_GROUP,
              doc="MQTT brokers, tcp://host:port or ssl://host:port, tried in order at each connect."),
    ConfigKey("mqtt.username", "string", "", group=_GROUP,
              doc="User to connect as; empty to connect without a user name."),
    ConfigKey("mqtt.password", "password", "", group=_GROUP, doc="The user's password."),
    ConfigKey("mqtt.qos", "int", 1, min=0, max=2, group=_GROUP,
              doc="QoS of the publishes: 1 (each message acknowledged by a PUBACK)."),
    ConfigKey("mqtt.retained.enabled", "boolean", False, group=_GROUP,
              doc="Publish with the retain flag: the broker keeps the last message of each topic."),
    ConfigKey("mqtt.connect.timeout.seconds", "int", 30, min=1, group=_GROUP,
              doc="How long a connection (TCP, TLS and CONNACK) may take."),
    ConfigKey("mqtt.keepalive.interval.seconds", "int", 60, min=1, group=_GROUP,
              doc="The MQTT keep-alive interval."),
    ConfigKey("mqtt.protocol.version", "string", "5", choices=PROTOCOLS, group=_GROUP,
              doc="MQTT protocol version: 5 (refusals reported, key, headers and coordinates as user "
                  "properties) or 3.1.1 (the value only; a refused message is dropped unseen)."),
    ConfigKey("mqtt.topic.format", "string", TOPIC_TOKEN, group=_GROUP,
              doc="The MQTT topic of each record; ${topic} is its topic after the transforms."),
    ConfigKey("mqtt.key.format", "string", "raw", choices=FORMATS, group=_GROUP,
              doc="How keys are written (MQTT 5 user property kafka.key): raw (the bytes as read), "
                  "string or json (the converted key)."),
    ConfigKey("mqtt.value.format", "string", "raw", choices=FORMATS, group=_GROUP,
              doc="How values are written as the payload: raw (the bytes as read), string or json "
                  "(the converted value)."),
    ConfigKey("mqtt.ssl.ca.location", "string", None, group=_GROUP,
              doc="PEM file of the certificate authorities to verify the broker with (ssl:// URIs; "
                  "the system's by default)."),
    ConfigKey("mqtt.ssl.certificate.location", "string", None, group=_GROUP,
              doc="PEM file of the client certificate, for brokers that authenticate clients by it."),
    ConfigKey("mqtt.ssl.key.location", "string", None, group=_GROUP,
              doc="PEM file of the client certificate's private key."),
    ConfigKey("mqtt.ssl.key.password", "password", "", group=_GROUP,
              doc="Password of the private key, if it has one."),
    ConfigKey("mqtt.ssl.trust.store.path", "string", None, group=_GROUP,
              doc="Confluent's Java trust store: refused, use mqtt.ssl.ca.location."),
    ConfigKey("mqtt.ssl.trust.store.password", "password", "", group=_GROUP,
              doc="Confluent's Java trust store password: refused, use mqtt.ssl.ca.location."),
    ConfigKey("mqtt.ssl.key.store.path", "string", None, group=_GROUP,
              doc="Confluent's Java key store: refused, use mqtt.ssl.certificate.location and "
                  "mqtt.ssl.key.location."),
    ConfigKey("mqtt.ssl.key.store.password", "password", "", group=_GROUP,
              doc="Confluent's Java key store password: refused, use mqtt.ssl.key.password."),
    ConfigKey("flush.size", "int", 1000, min=1, group=_GROUP,
              doc="Offsets per bundle: a bundle's offsets are committed once every message of it is "
                  "acknowledged."),
])


@dataclasses.dataclass(frozen=True)
class Server:
    """One broker of ``mqtt.server.uri``.

    Attributes:
      uri: As written.
      host: Its host.
      port: Its port (1883 for tcp://, 8883 for ssl:// when left out).
      tls: Whether the connection is TLS (``ssl://``).
    """

    uri: str
    host: str
    port: int
    tls: bool


@dataclasses.dataclass(frozen=True)
class MqttSinkConfig:
    """The MQTT sink's parsed config.

    Attributes:
      name: The connector's name (in the client ids).
      servers: The brokers, in the order they are tried.
      username: The user, or "" for none.
      password: Its password (hidden in ``repr``).
      qos: 1.
      retain: ``mqtt.retained.enabled``.
      connect_timeout: Seconds a connection may take.
      keepalive: The keep-alive interval in seconds.
      protocol: ``5`` or ``3.1.1``.
      topic_format: The MQTT topic, with ``${topic}`` for the record's target topic.
      key_format: One of :data:`~sinks.queues.messages.FORMATS`.
      value_format: Likewise.
      ca_location: PEM CA file, or None for the system's.
      certificate_location: PEM client certificate, or None.
      key_location: PEM private key, or None.
      key_password: The private key's password (hidden), or "".
      flush_size: Offsets per bundle.
    """

    name: str
    servers: tuple
    username: str = ""
    password: Password = dataclasses.field(default=Password(""), repr=False)
    qos: int = 1
    retain: bool = False
    connect_timeout: int = 30
    keepalive: int = 60
    protocol: str = "5"
    topic_format: str = TOPIC_TOKEN
    key_format: str = "raw"
    value_format: str = "raw"
    ca_location: Optional[str] = None
    certificate_location: Optional[str] = None
    key_location: Optional[str] = None
    key_password: Password = dataclasses.field(default=Password(""), repr=False)
    flush_size: int = 1000

    @property
    def describe_servers(self) -> str:
        """``mqtt.server.uri`` as written, for errors (it never holds a password)."""
        return ",".join(server.uri for server in self.servers)

    def topic(self, target: str) -> str:
        """The MQTT topic of a record whose topic after the transforms is ``target``."""
        return self.topic_format.replace(TOPIC_TOKEN, target)

    @classmethod
    def from_values(cls, values: Mapping[str, Any], connector: ConnectorContext) -> "MqttSinkConfig":
        """Builds the config from :data:`CONFIG_DEF`'s parsed values.

        Raises:
          ConfigError: a URI is invalid or holds credentials, the QoS is not 1, a Java key store is
            set, TLS files are set without an ``ssl://`` URI, the topic format can never make a valid
            topic, or a transform edits keys or values that ``raw`` would write as read.
        """
        for key, instead in KEY_STORES.items():
            if values[key]:
                raise ConfigError("%s is a Java key store setting, which cannot be read here: use %s "
                                  "instead" % (key, instead))
        qos = values["mqtt.qos"]
        if qos != 1:
            raise ConfigError(
                "mqtt.qos must be 1, got %r: %s" % (str(qos), "QoS 0 has no acknowledgement, so an "
                "offset could be committed for a message the broker never got" if qos == 0 else
                "QoS 2's handshake spans one connection only (a resent batch or a rerun publishes "
                "new messages all the same) and a refusal in its PUBREC would go unseen"))
        servers = tuple(_server(uri) for uri in values["mqtt.server.uri"])
        if not servers:
            raise ConfigError("mqtt.server.uri must name at least one broker, got %r"
                              % ",".join(values["mqtt.server.uri"]))
        tls_files = [k for k in ("mqtt.ssl.ca.location", "mqtt.ssl.certificate.location",
                                 "mqtt.ssl.key.location") if values[k]]
        if tls_files and not any(server.tls for server in servers):
            raise ConfigError("%s is set but mqtt.server.uri names no ssl:// broker, got %r"
                              % (tls_files[0], ",".join(s.uri for s in servers)))
        if bool(values["mqtt.ssl.certificate.location"]) != bool(values["mqtt.ssl.key.location"]):
            raise ConfigError("mqtt.ssl.certificate.location and mqtt.ssl.key.location must be set "
                              "together, got %r and %r" % (values["mqtt.ssl.certificate.location"],
                                                           values["mqtt.ssl.key.location"]))
        if values["mqtt.password"] and not values["mqtt.username"]:
            raise ConfigError("mqtt.password is set but mqtt.username is empty: MQTT sends a password "
                              "only with a user name")
        topic_format = values["mqtt.topic.format"]
        problem = topic_problem(topic_format.replace(TOPIC_TOKEN, "t"))
        if problem:
            raise ConfigError("mqtt.topic.format must make valid MQTT topic names (%s), got %r"
                              % (problem, topic_format))
        key_format, value_format = values["mqtt.key.format"], values["mqtt.value.format"]
        if values["mqtt.protocol.version"] == "3.1.1" and key_format != "raw":
            raise ConfigError("mqtt.key.format=%r has no effect with mqtt.protocol.version=3.1.1, "
                              "which publishes values only: leave it out or use MQTT 5" % key_format)
        check_raw_edits(connector.transforms, {"key": ("mqtt.key.format", key_format),
                                              "value": ("mqtt.value.format", value_format)})
        return cls(
            name=connector.name, servers=servers, username=values["mqtt.username"],
            password=Password(values["mqtt.password"]), qos=qos,
            retain=values["mqtt.retained.enabled"],
            connect_timeout=values["mqtt.connect.timeout.seconds"],
            keepalive=values["mqtt.keepalive.interval.seconds"],
            protocol=values["mqtt.protocol.version"], topic_format=topic_format,
            key_format=key_format, value_format=value_format,
            ca_location=values["mqtt.ssl.ca.location"],
            certificate_location=values["mqtt.ssl.certificate.location"],
            key_location=values["mqtt.ssl.key.location"],
            key_password=Password(values["mqtt.ssl.key.password"]), flush_size=values["flush.size"])


def topic_problem(topic: str) -> Optional[str]:
    """What makes ``topic`` an invalid MQTT topic name to publish to, or None."""
    if not topic:
        return "a topic may not be empty"
    if _NOT_IN_TOPICS.search(topic):
        return "a topic may not hold the wildcards + and # or NUL"
    if len(topic.encode("utf-8")) > 65535:
        return "a topic may hold at most 65535 bytes"
    return None


def _server(uri: str) -> Server:
    parsed = urllib.parse.urlsplit(uri)
    scheme = parsed.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError("mqtt.server.uri must list tcp://host:port or ssl://host:port URIs, got %r"
                          % uri)
    if parsed.username is not None or parsed.password is not None:
        raise ConfigError("mqtt.server.uri must not hold credentials (use mqtt.username and "
                          "mqtt.password), got a URI with a user for host %r" % parsed.hostname)
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment:
        raise ConfigError("mqtt.server.uri must list URIs without a path or query, got %r" % uri)
    try:
        port = parsed.port
    except ValueError:
        raise ConfigError("mqtt.server.uri has an invalid port in %r" % uri) from None
    if not parsed.hostname:
        raise ConfigError("mqtt.server.uri must name a host in %r" % uri)
    tls, default_port = SCHEMES[scheme]
    return Server(uri, parsed.hostname, port or default_port, tls)
