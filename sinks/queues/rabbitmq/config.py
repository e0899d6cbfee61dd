"""Config keys of the RabbitMQ sink: Confluent's ``rabbitmq.*`` names and defaults, parsed once.

The keys are those of Confluent's ``io.confluent.connect.rabbitmq.sink.RabbitMQSinkConnector``: the
connection (``rabbitmq.host`` ... ``rabbitmq.network.recovery.interval.ms``), the destination
(``rabbitmq.exchange``, ``rabbitmq.routing.key``, ``rabbitmq.delivery.mode``), what is forwarded
(``rabbitmq.forward.kafka.key``/``.metadata``/``.headers``), publishing (``rabbitmq.publish.*``) and
TLS (``rabbitmq.security.protocol`` and Kafka's client SSL keys under ``rabbitmq.https.``). Where this
sink departs from Confluent's, it accepts more, never less, so a Confluent config keeps its meaning:

- ``rabbitmq.routing.key`` and ``rabbitmq.delivery.mode`` are required there; here the routing key
  defaults to each record's target topic (its topic after the transforms) and the delivery mode to
  ``PERSISTENT``;
- ``rabbitmq.key.format``/``rabbitmq.value.format`` (``raw`` by default: the bytes as read, which is
  what Confluent's connector writes with ``ByteArrayConverter``), ``rabbitmq.publish.mandatory`` and
  ``flush.size`` are this sink's own.

TLS is Python's ``ssl`` (OpenSSL), not Java's: key and trust stores must be PEM files
(``ssl.*.type=PEM``); a JKS or PKCS12 store is refused with the conversion to use, as are Java cipher
suite names and a custom SSL engine factory.
"""

from __future__ import annotations

import dataclasses
import ssl
from typing import Any, Mapping, Optional

from common.configdef import NO_DEFAULT, ConfigDef, ConfigKey
from common.errors import ConfigError
from sinks.base import ConnectorContext
from sinks.encoding import check_raw_edits
from sinks.queues.messages import FORMATS
from sinks.queues.publish import PublishSettings

#: AMQP ``delivery_mode`` of each ``rabbitmq.delivery.mode``.
DELIVERY_MODES = {"PERSISTENT": 2, "TRANSIENT": 1}
#: Reconnects of a batch whose connection was lost, with ``rabbitmq.automatic.recovery.enabled``.
RECOVERY_TRIES = 30
#: The first wait before a reconnect; each further one may be twice as long, up to
#: ``rabbitmq.network.recovery.interval.ms``.
FIRST_BACKOFF_MS = 100
#: pika's bounds of a frame (``rabbitmq.requested.frame.max``; 0 is the largest).
FRAME_MIN, FRAME_MAX = 4096, 131072

_TLS = "rabbitmq.https."
_TLS_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
_HOST = r"[A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]+"


def _tls_key(name: str, type: str = "string", default: Any = None, doc: str = "", **kwargs) -> ConfigKey:
    return ConfigKey(_TLS + name, type, default, group="Security", doc=doc, **kwargs)


CONFIG_DEF = ConfigDef([
    ConfigKey("rabbitmq.host", "string", "localhost", regex=_HOST, group="Connection",
              doc="The RabbitMQ host to connect to."),
    ConfigKey("rabbitmq.port", "int", 5672, min=1, max=65535, group="Connection",
              doc="The RabbitMQ port to connect to."),
    ConfigKey("rabbitmq.username", "string", "guest", group="Connection",
              doc="The username to authenticate to RabbitMQ with."),
    ConfigKey("rabbitmq.password", "password", "guest", group="Connection",
              doc="The password to authenticate to RabbitMQ with (never printed)."),
    ConfigKey("rabbitmq.virtual.host", "string", "/", group="Connection",
              doc="The virtual host to use when connecting to the broker."),
    ConfigKey("rabbitmq.requested.channel.max", "int", 2047, min=0, max=65535, group="Connection",
              doc="Initially requested maximum channel number; 0 for unlimited."),
    ConfigKey("rabbitmq.requested.frame.max", "int", 0, min=0, group="Connection",
              doc="Initially requested maximum frame size in octets; 0 for the largest pika takes "
                  "(%d)." % FRAME_MAX),
    ConfigKey("rabbitmq.connection.timeout.ms", "int", 60000, min=0, group="Connection",
              doc="TCP connection establishment timeout in milliseconds; 0 for none."),
    ConfigKey("rabbitmq.handshake.timeout.ms", "int", 10000, min=0, group="Connection",
              doc="The AMQP 0-9-1 (and TLS) handshake timeout in milliseconds."),
    ConfigKey("rabbitmq.requested.heartbeat.seconds", "int", 60, min=0, group="Connection",
              doc="The requested heartbeat timeout in seconds; 0 turns heartbeats off."),
    ConfigKey("rabbitmq.automatic.recovery.enabled", "boolean", True, group="Connection",
              doc="Reconnect and publish the unconfirmed batch again when the connection is lost "
                  "(up to %d times); false: a lost connection stops the run." % RECOVERY_TRIES),
    ConfigKey("rabbitmq.network.recovery.interval.ms", "int", 10000, min=1, group="Connection",
              doc="The longest wait between two reconnects (waits double from %d ms)."
                  % FIRST_BACKOFF_MS),
    ConfigKey("rabbitmq.exchange", "string", NO_DEFAULT, group="RabbitMQ",
              doc="The exchange every message is published to; empty for the default exchange "
                  "(which routes to the queue the routing key names)."),
    ConfigKey("rabbitmq.routing.key", "string", None, group="RabbitMQ",
              doc="The routing key of every message; by default each record's target topic (its "
                  "topic after the transforms)."),
    ConfigKey("rabbitmq.delivery.mode", "string", "PERSISTENT", choices=tuple(DELIVERY_MODES),
              group="RabbitMQ",
              doc="PERSISTENT (kept on disk by durable queues) or TRANSIENT."),
    ConfigKey("rabbitmq.forward.kafka.key", "boolean", False, group="RabbitMQ",
              doc="Send the record key as the message's correlation_id (none for a null key)."),
    ConfigKey("rabbitmq.forward.kafka.metadata", "boolean", False, group="RabbitMQ",
              doc="Add the headers KAFKA_TOPIC, KAFKA_PARTITION and KAFKA_OFFSET."),
    ConfigKey("rabbitmq.forward.kafka.headers", "boolean", False, group="RabbitMQ",
              doc="Add the record's headers as message headers."),
    ConfigKey("rabbitmq.key.format", "string", "raw", choices=FORMATS, group="RabbitMQ",
              doc="How the key is forwarded: raw (the bytes as read), string or json (the converted "
                  "key)."),
    ConfigKey("rabbitmq.value.format", "string", "raw", choices=FORMATS, group="RabbitMQ",
              doc="How the message body is written: raw (the value's bytes as read), string or json "
                  "(the converted value)."),
    ConfigKey("rabbitmq.publish.max.batch.size", "int", 100, min=1, group="RabbitMQ Publishing",
              doc="Messages published before waiting for the broker's confirms of them all."),
    ConfigKey("rabbitmq.publish.ack.timeout", "int", 10000, min=0, group="RabbitMQ Publishing",
              doc="How long (ms) to wait for a batch's confirms before the connection counts as "
                  "lost; 0 waits without end."),
    ConfigKey("rabbitmq.publish.max.retries", "int", 1, min=0, group="RabbitMQ Publishing",
              doc="How many times a message the broker nacks is published again before it counts "
                  "as refused (errors.tolerance)."),
    ConfigKey("rabbitmq.publish.mandatory", "boolean", True, group="RabbitMQ Publishing",
              doc="Publish as mandatory: a message no queue takes is returned and counts as refused "
                  "(errors.tolerance); false: the exchange drops it."),
    ConfigKey("flush.size", "int", 1000, min=1, group="RabbitMQ Publishing",
              doc="Offsets per bundle: a bundle's offsets are committed once all its messages are "
                  "confirmed."),
    ConfigKey("rabbitmq.security.protocol", "string", "PLAINTEXT", choices=("PLAINTEXT", "SSL"),
              group="Security", doc="PLAINTEXT, or SSL for TLS with the rabbitmq.https.ssl.* keys."),
    _tls_key("ssl.protocol", default="TLSv1.3", choices=("TLS", "TLSv1.2", "TLSv1.3"),
             doc="The newest TLS version to use (TLS: the newest there is)."),
    _tls_key("ssl.enabled.protocols", "list", ("TLSv1.2", "TLSv1.3"),
             doc="The TLS versions allowed: TLSv1.2 and/or TLSv1.3."),
    _tls_key("ssl.truststore.type", default="JKS", choices=("JKS", "PKCS12", "PEM"),
             doc="PEM: the only trust store type read here."),
    _tls_key("ssl.truststore.location", doc="A PEM file of the CA certificates to trust (default: the "
                                            "system's)."),
    _tls_key("ssl.truststore.certificates", "password",
             doc="The CA certificates to trust, as PEM text."),
    _tls_key("ssl.truststore.password", "password", doc="Not used by PEM trust stores: refused."),
    _tls_key("ssl.keystore.type", default="JKS", choices=("JKS", "PKCS12", "PEM"),
             doc="PEM: the only key store type read here."),
    _tls_key("ssl.keystore.location",
             doc="A PEM file with the client's private key and certificate chain."),
    _tls_key("ssl.keystore.password", "password", doc="Not used by PEM key stores: refused."),
    _tls_key("ssl.key.password", "password", doc="The password of an encrypted private key."),
    _tls_key("ssl.keystore.key", "password", doc="An inline private key: refused (use a PEM file)."),
    _tls_key("ssl.keystore.certificate.chain", "password",
             doc="An inline certificate chain: refused (use a PEM file)."),
    _tls_key("ssl.endpoint.identification.algorithm", default="https",
             doc="https: the broker's certificate must name rabbitmq.host; empty: it need not."),
    _tls_key("ssl.cipher.suites", "list", (), doc="Java cipher suite names: refused (OpenSSL's "
                                                  "defaults apply)."),
    _tls_key("ssl.engine.factory.class", "class", doc="A Java SSL engine factory: refused."),
])

#: Keys of Confluent's connector that are accepted and have no effect here.
IGNORED_KEYS = {
    "rabbitmq.shutdown.timeout.ms": "it bounds consumer callbacks, and the sink has no consumers",
    "rabbitmq.topology.recovery.enabled": "the sink declares no exchanges, queues or bindings, so "
                                          "there is nothing to recover",
    _TLS + "ssl.provider": "TLS is Python's ssl module (OpenSSL) here, not a Java security provider",
    _TLS + "ssl.keymanager.algorithm": "TLS is Python's ssl module (OpenSSL) here, not Java's JSSE",
    _TLS + "ssl.trustmanager.algorithm": "TLS is Python's ssl module (OpenSSL) here, not Java's JSSE",
    _TLS + "ssl.secure.random.implementation": "OpenSSL's random generator is used",
    "confluent.license": "the sink needs no license",
    "confluent.topic": "the sink needs no license topic",
    "confluent.topic.bootstrap.servers": "the sink needs no license topic",
    "confluent.topic.replication.factor": "the sink needs no license topic",
}


@dataclasses.dataclass(frozen=True)
class TlsSettings:
    """How the connection's TLS is set up (an ``ssl.SSLContext`` is made from it on each worker).

    Attributes:
      ca_file: A PEM file of the CAs to trust, or None.
      ca_data: PEM text of the CAs to trust, or None (neither: the system's CAs).
      cert_file: A PEM file with the client key and certificate chain, or None.
      key_password: The client key's password, or None.
      check_hostname: Whether the broker's certificate must name the host.
      minimum_version: The oldest TLS version allowed.
      maximum_version: The newest.
    """

    ca_file: Optional[str] = None
    ca_data: Optional[str] = dataclasses.field(default=None, repr=False)
    cert_file: Optional[str] = None
    key_password: Optional[str] = dataclasses.field(default=None, repr=False)
    check_hostname: bool = True
    minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    maximum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3

    def context(self) -> ssl.SSLContext:
        """A client context verifying the broker's certificate.

        Raises:
          ConfigError: a PEM file cannot be read or holds no usable certificate or key.
        """
        try:
            context = ssl.create_default_context(cafile=self.ca_file, cadata=self.ca_data)
            if self.cert_file:
                context.load_cert_chain(self.cert_file, password=self.key_password)
        except (OSError, ssl.SSLError, ValueError) as exc:
            what = ("%sssl.keystore.location=%r" % (_TLS, self.cert_file) if self.cert_file else
                    "%sssl.truststore.location=%r" % (_TLS, self.ca_file) if self.ca_file else
                    "%sssl.truststore.certificates" % _TLS)
            raise ConfigError("%s cannot be used: %s" % (what, exc)) from None
        context.check_hostname = self.check_hostname
        context.minimum_version = self.minimum_version
        context.maximum_version = self.maximum_version
        return context


@dataclasses.dataclass(frozen=True)
class RabbitMQSinkConfig:
    """The RabbitMQ sink's parsed config.

    Attributes:
      name: The connector name (the connection's name in RabbitMQ's management tools).
      host: ``rabbitmq.host``.
      port: ``rabbitmq.port``.
      username: ``rabbitmq.username``.
      password: ``rabbitmq.password``; never printed.
      virtual_host: ``rabbitmq.virtual.host``.
      exchange: ``rabbitmq.exchange`` ('' is the default exchange).
      routing_key: ``rabbitmq.routing.key``, or None for each record's target topic.
      delivery_mode: AMQP's 2 (persistent) or 1 (transient).
      mandatory: Whether a message no queue takes is returned (and refused).
      forward_key: The key as ``correlation_id``.
      forward_metadata: ``KAFKA_TOPIC``, ``KAFKA_PARTITION``, ``KAFKA_OFFSET`` headers.
      forward_headers: The record's headers as message headers.
      batch_size: Messages per confirmed batch.
      ack_timeout_ms: The wait for a batch's confirms (0: without end).
      nack_retries: Publishes again of a nacked message.
      flush_size: Offsets per bundle.
      key_format: One of :data:`~sinks.queues.messages.FORMATS`.
      value_format: Likewise.
      channel_max: ``rabbitmq.requested.channel.max``.
      frame_max: The frame size asked for (pika's bounds).
      heartbeat_s: ``rabbitmq.requested.heartbeat.seconds``.
      connection_timeout_ms: ``rabbitmq.connection.timeout.ms`` (0: none).
      handshake_timeout_ms: ``rabbitmq.handshake.timeout.ms``.
      automatic_recovery: ``rabbitmq.automatic.recovery.enabled``.
      recovery_interval_ms: ``rabbitmq.network.recovery.interval.ms``.
      tls: TLS settings with ``rabbitmq.security.protocol=SSL``, else None.
    """

    name: str
    host: str
    port: int
    username: str
    password: str = dataclasses.field(repr=False)
    virtual_host: str = "/"
    exchange: str = ""
    routing_key: Optional[str] = None
    delivery_mode: int = 2
    mandatory: bool = True
    forward_key: bool = False
    forward_metadata: bool = False
    forward_headers: bool = False
    batch_size: int = 100
    ack_timeout_ms: int = 10000
    nack_retries: int = 1
    flush_size: int = 1000
    key_format: str = "raw"
    value_format: str = "raw"
    channel_max: int = 2047
    frame_max: int = FRAME_MAX
    heartbeat_s: int = 60
    connection_timeout_ms: int = 60000
    handshake_timeout_ms: int = 10000
    automatic_recovery: bool = True
    recovery_interval_ms: int = 10000
    tls: Optional[TlsSettings] = None

    def describe(self) -> str:
        """``RabbitMQ at HOST:PORT (virtual host 'V', user 'U')``: for errors; never the password."""
        return "RabbitMQ at %s:%d (%svirtual host %r, user %r)" % (
            self.host, self.port, "TLS, " if self.tls else "", self.virtual_host, self.username)

    def target(self) -> str:
        """The exchange as the run summary names it."""
        return self.exchange or "(default exchange)"

    def publish_settings(self) -> PublishSettings:
        """Batching and reconnects for :class:`~sinks.queues.publish.PublishWriter`."""
        return PublishSettings(batch_size=self.batch_size,
                               max_retries=RECOVERY_TRIES if self.automatic_recovery else 0,
                               backoff_ms=min(FIRST_BACKOFF_MS, self.recovery_interval_ms),
                               max_backoff_ms=self.recovery_interval_ms,
                               key_format=self.key_format, value_format=self.value_format)

    @classmethod
    def from_values(cls, values: Mapping[str, Any], connector: ConnectorContext) -> "RabbitMQSinkConfig":
        """Builds the config from :data:`CONFIG_DEF`'s parsed values and the connector's settings.

        Raises:
          ConfigError: a frame size pika cannot use, a routing key longer than AMQP allows, TLS keys
            that cannot be used here or that ``rabbitmq.security.protocol=PLAINTEXT`` would leave
            unused, or a transform editing keys or values that ``raw`` writes as read.
        """
        frame_max = values["rabbitmq.requested.frame.max"] or FRAME_MAX
        if not FRAME_MIN <= frame_max <= FRAME_MAX:
            raise ConfigError("rabbitmq.requested.frame.max must be 0 or between %d and %d, got %r"
                              % (FRAME_MIN, FRAME_MAX, values["rabbitmq.requested.frame.max"]))
        routing_key = values["rabbitmq.routing.key"]
        if routing_key is not None and len(routing_key.encode("utf-8")) > 255:
            raise ConfigError("rabbitmq.routing.key must be at most 255 bytes (an AMQP short "
                              "string), got %r" % routing_key)
        key_format, value_format = values["rabbitmq.key.format"], values["rabbitmq.value.format"]
        check_raw_edits(connector.transforms, {"key": ("rabbitmq.key.format", key_format),
                                               "value": ("rabbitmq.value.format", value_format)})
        return cls(
            name=connector.name, host=values["rabbitmq.host"].strip("[]"),
            port=values["rabbitmq.port"], username=values["rabbitmq.username"],
            password=values["rabbitmq.password"], virtual_host=values["rabbitmq.virtual.host"],
            exchange=values["rabbitmq.exchange"], routing_key=routing_key,
            delivery_mode=DELIVERY_MODES[values["rabbitmq.delivery.mode"]],
            mandatory=values["rabbitmq.publish.mandatory"],
            forward_key=values["rabbitmq.forward.kafka.key"],
            forward_metadata=values["rabbitmq.forward.kafka.metadata"],
            forward_headers=values["rabbitmq.forward.kafka.headers"],
            batch_size=values["rabbitmq.publish.max.batch.size"],
            ack_timeout_ms=values["rabbitmq.publish.ack.timeout"],
            nack_retries=values["rabbitmq.publish.max.retries"], flush_size=values["flush.size"],
            key_format=key_format, value_format=value_format,
            channel_max=values["rabbitmq.requested.channel.max"], frame_max=frame_max,
            heartbeat_s=values["rabbitmq.requested.heartbeat.seconds"],
            connection_timeout_ms=values["rabbitmq.connection.timeout.ms"],
            handshake_timeout_ms=values["rabbitmq.handshake.timeout.ms"],
            automatic_recovery=values["rabbitmq.automatic.recovery.enabled"],
            recovery_interval_ms=values["rabbitmq.network.recovery.interval.ms"],
            tls=_tls(values))


def _tls(values: Mapping[str, Any]) -> Optional[TlsSettings]:
    """The TLS settings of ``rabbitmq.security.protocol=SSL``; None for PLAINTEXT.

    Raises:
      ConfigError: a key that cannot be used here, or (PLAINTEXT) a store or key set that would go
        unused.
    """
    def get(name):
        return values[_TLS + name]

    stores = [name for name in ("ssl.truststore.location", "ssl.truststore.certificates",
                                "ssl.truststore.password", "ssl.keystore.location",
                                "ssl.keystore.password", "ssl.key.password", "ssl.keystore.key",
                                "ssl.keystore.certificate.chain") if get(name) is not None]
    if values["rabbitmq.security.protocol"] == "PLAINTEXT":
        if stores:
            raise ConfigError("%s%s is set but rabbitmq.security.protocol is 'PLAINTEXT', which "
                              "would connect without TLS: set rabbitmq.security.protocol=SSL or "
                              "remove it" % (_TLS, stores[0]))
        return None
    for name, why in (("ssl.keystore.key", "use ssl.keystore.location with a PEM file of the key "
                                           "and its certificate chain"),
                      ("ssl.keystore.certificate.chain", "use ssl.keystore.location with a PEM file "
                                                         "of the key and its certificate chain"),
                      ("ssl.cipher.suites", "Java cipher suite names do not apply to OpenSSL, "
                                            "whose defaults are used"),
                      ("ssl.engine.factory.class", "TLS is Python's ssl module (OpenSSL) here")):
        if get(name):
            raise ConfigError("%s%s cannot be used here: %s" % (_TLS, name, why))
    for store, conversion in (("truststore", "keytool -exportcert -rfc -keystore STORE -alias CA"),
                              ("keystore", "openssl pkcs12 -in STORE.p12 -nodes (after keytool "
                                           "-importkeystore -deststoretype PKCS12 for JKS)")):
        kind = get("ssl.%s.type" % store)
        given = get("ssl.%s.location" % store) is not None or (
            store == "truststore" and get("ssl.truststore.certificates") is not None)
        if given and kind != "PEM":
            raise ConfigError("%sssl.%s.type must be 'PEM' here (Python's ssl module reads no Java "
                              "key stores), got %r: convert it to PEM (%s) and set %sssl.%s.type=PEM"
                              % (_TLS, store, kind, conversion, _TLS, store))
        if given and get("ssl.%s.password" % store) is not None:
            raise ConfigError("%sssl.%s.password is not used by PEM %ss: remove it%s"
                              % (_TLS, store, store, " (an encrypted key's password is "
                                 "%sssl.key.password)" % _TLS if store == "keystore" else ""))
    if get("ssl.key.password") is not None and get("ssl.keystore.location") is None:
        raise ConfigError("%sssl.key.password is set without %sssl.keystore.location" % (_TLS, _TLS))
    if get("ssl.truststore.location") is not None and get("ssl.truststore.certificates") is not None:
        raise ConfigError("only one of %sssl.truststore.location and %sssl.truststore.certificates "
                          "may be set" % (_TLS, _TLS))
    enabled = get("ssl.enabled.protocols")
    unknown = [p for p in enabled if p not in _TLS_VERSIONS]
    if unknown or not enabled:
        raise ConfigError("%sssl.enabled.protocols must list TLSv1.2 and/or TLSv1.3, got %r"
                          % (_TLS, ",".join(enabled)))
    versions = sorted(_TLS_VERSIONS[p] for p in enabled)
    newest = _TLS_VERSIONS.get(get("ssl.protocol"), ssl.TLSVersion.TLSv1_3)
    if versions[0] > newest:
        raise ConfigError("%sssl.protocol=%r allows none of %sssl.enabled.protocols=%r"
                          % (_TLS, get("ssl.protocol"), _TLS, ",".join(enabled)))
    algorithm = get("ssl.endpoint.identification.algorithm").strip().lower()
    if algorithm not in ("https", ""):
        raise ConfigError("%sssl.endpoint.identification.algorithm must be 'https' or empty, got %r"
                          % (_TLS, get("ssl.endpoint.identification.algorithm")))
    certificates = get("ssl.truststore.certificates")
    return TlsSettings(ca_file=get("ssl.truststore.location"),
                       ca_data=str.__str__(certificates) if certificates is not None else None,
                       cert_file=get("ssl.keystore.location"),
                       key_password=(str.__str__(get("ssl.key.password"))
                                     if get("ssl.key.password") is not None else None),
                       check_hostname=algorithm == "https", minimum_version=versions[0],
                       maximum_version=min(versions[-1], newest))
