"""Config keys of the ActiveMQ sink: Confluent's ``activemq.*`` and ``jms.*`` names and defaults.

The keys are those of Confluent's ``io.confluent.connect.jms.ActiveMqSinkConnector``: the broker
(``activemq.url``, ``activemq.username``, ``activemq.password``), the destination
(``jms.destination.name``, ``jms.destination.type``), the body (``jms.message.format``), what is
forwarded (``jms.forward.kafka.key``/``.metadata``/``.headers``) and how messages are sent
(``jms.delivery.mode``, ``jms.time.to.live.ms``, ``jms.priority``). ``flush.size`` and the
``activemq.publish.*``, ``activemq.retry.*`` and ``activemq.ssl.ca.location`` keys are this sink's own.

Confluent's connector speaks OpenWire, ActiveMQ's own Java protocol, which no Python client speaks.
This sink speaks STOMP and AMQP 1.0, which ActiveMQ Classic and Artemis both offer, chosen by the
scheme of ``activemq.url``: ``stomp://`` and ``stomp+ssl://`` (STOMP 1.2), ``amqp://`` and ``amqps://``.
An OpenWire URL (``tcp://``, ``ssl://``, ``nio://``, ``failover:(...)``...) is refused when the config is
validated, with the URL to use instead: ActiveMQ's default configuration opens STOMP on port 61613
and AMQP on 5672 beside OpenWire's 61616.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from typing import Any, Mapping, Optional

from common.configdef import NO_DEFAULT, ConfigDef, ConfigKey
from common.errors import ConfigError
from sinks.base import ConnectorContext
from sinks.encoding import check_raw_edits
from sinks.queues.publish import PublishSettings

#: ``jms.message.format`` values and the body each sends: a text or a bytes message.
MESSAGE_FORMATS = ("string", "json", "bytes")
#: Formats of Confluent's connector that need a Schema Registry; refused with a pointer to where they
#: come.
REGISTRY_FORMATS = ("avro", "protobuf", "json_sr", "jsonschema")
#: ``jms.delivery.mode`` values.
DELIVERY_MODES = ("persistent", "non_persistent")

#: Each accepted ``activemq.url`` scheme: (protocol, TLS, default port).
SCHEMES = {
    "stomp": ("stomp", False, 61613), "stomp+nio": ("stomp", False, 61613),
    "stomp+ssl": ("stomp", True, 61612), "stomp+nio+ssl": ("stomp", True, 61612),
    "amqp": ("amqp", False, 5672), "amqp+nio": ("amqp", False, 5672),
    "amqps": ("amqp", True, 5671), "amqp+ssl": ("amqp", True, 5671),
    "amqp+nio+ssl": ("amqp", True, 5671),
}
# The transports of ActiveMQ's OpenWire Java client, and whether each is TLS.
_OPENWIRE = {"tcp": False, "nio": False, "auto": False, "auto+nio": False, "ssl": True,
             "nio+ssl": True, "auto+ssl": True, "auto+nio+ssl": True, "vm": False, "http": False,
             "https": True, "ws": False, "wss": True, "udp": False}
_COMPOSITE = ("failover", "discovery", "fanout", "static", "multicast", "masterslave")
_HOST = re.compile(r"[A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:.]+\]")

CONFIG_DEF = ConfigDef([
    ConfigKey("activemq.url", "string", NO_DEFAULT, group="ActiveMQ Connection",
              doc="The broker: stomp://HOST:PORT or stomp+ssl:// (STOMP 1.2, default ports 61613 and "
                  "61612), amqp://HOST:PORT or amqps:// (AMQP 1.0, default ports 5672 and 5671). "
                  "OpenWire URLs (tcp://, ssl://, nio://, failover:) are refused with the one to use."),
    ConfigKey("activemq.username", "string", "", group="ActiveMQ Connection",
              doc="The user to log in as; empty for an anonymous login."),
    ConfigKey("activemq.password", "password", "", group="ActiveMQ Connection",
              doc="The user's password (never printed)."),
    ConfigKey("activemq.ssl.ca.location", "string", None, group="ActiveMQ Connection",
              doc="stomp+ssl:// and amqps://: a PEM file of the CA certificates to trust (default: "
                  "the system's); the broker's certificate must name the URL's host."),
    ConfigKey("jms.destination.name", "string", NO_DEFAULT, regex=r"[^\s/][^\s]*", group="JMS",
              doc="The queue or topic every message is sent to."),
    ConfigKey("jms.destination.type", "string", "queue", choices=("queue", "topic"), group="JMS",
              doc="queue, or topic (a topic keeps a message only for the subscribers it has then)."),
    ConfigKey("jms.message.format", "string", "string", group="JMS",
              doc="The message body: string (the converted value as a text message), json (the "
                  "converted value as schemaless JSON text) or bytes (the value's bytes as read, as a "
                  "bytes message)."),
    ConfigKey("jms.forward.kafka.key", "boolean", False, group="JMS",
              doc="Send the record key, as a string, as the message's JMSCorrelationID."),
    ConfigKey("jms.forward.kafka.metadata", "boolean", False, group="JMS",
              doc="Add the properties KAFKA_TOPIC, KAFKA_PARTITION and KAFKA_OFFSET."),
    ConfigKey("jms.forward.kafka.headers", "boolean", False, group="JMS",
              doc="Add the record's headers as string properties."),
    ConfigKey("jms.delivery.mode", "string", "persistent", choices=DELIVERY_MODES, group="JMS",
              doc="persistent (the broker stores a message before it confirms it) or non_persistent."),
    ConfigKey("jms.time.to.live.ms", "int", 0, min=0, group="JMS",
              doc="How long (ms) a message lives before the broker expires it; 0: forever."),
    ConfigKey("jms.priority", "int", 4, min=0, max=9, group="JMS",
              doc="The JMS priority of every message, 0 (lowest) to 9."),
    ConfigKey("flush.size", "int", 1000, min=1, group="ActiveMQ Publishing",
              doc="Offsets per bundle: a bundle's offsets are committed once all its messages are "
                  "confirmed."),
    ConfigKey("activemq.publish.batch.size", "int", 500, min=1, group="ActiveMQ Publishing",
              doc="Messages sent before waiting for the broker's confirmation of them all (STOMP "
                  "receipts, AMQP settlements)."),
    ConfigKey("activemq.publish.timeout.ms", "int", 30000, min=1, group="ActiveMQ Publishing",
              doc="How long (ms) to wait for a batch's confirmations (and for a login) before the "
                  "connection counts as lost."),
    ConfigKey("activemq.retry.max", "int", 10, min=0, group="ActiveMQ Publishing",
              doc="Reconnects of a batch whose connection was lost before the run stops."),
    ConfigKey("activemq.retry.backoff.ms", "int", 100, min=1, group="ActiveMQ Publishing",
              doc="The first wait (ms) before a reconnect; each further one may be twice as long, "
                  "up to activemq.retry.backoff.max.ms."),
    ConfigKey("activemq.retry.backoff.max.ms", "int", 10000, min=1, group="ActiveMQ Publishing",
              doc="The longest wait (ms) between two reconnects."),
])

#: Keys of Confluent's connector that are accepted and have no effect here.
IGNORED_KEYS = {
    "confluent.license": "the sink needs no license",
    "confluent.topic": "the sink needs no license topic",
    "confluent.topic.bootstrap.servers": "the sink needs no license topic",
    "confluent.topic.replication.factor": "the sink needs no license topic",
}


@dataclasses.dataclass(frozen=True)
class BrokerUrl:
    """``activemq.url``, parsed.

    Attributes:
      protocol: ``stomp`` or ``amqp``.
      host: The broker's host (an IPv6 address without brackets).
      port: Its port.
      tls: Whether the connection is TLS.
    """

    protocol: str
    host: str
    port: int
    tls: bool = False

    def __str__(self) -> str:
        scheme = {"stomp": "stomp+ssl", "amqp": "amqps"}[self.protocol] if self.tls else self.protocol
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d" % (scheme, host, self.port)


def parse_url(url: str) -> BrokerUrl:
    """Parses ``activemq.url``.

    Raises:
      ConfigError: an OpenWire URL (naming the STOMP and AMQP URLs to use instead), an unknown
        scheme, credentials or transport options in the URL, or no host. The URL is shown with any
        password in it hidden.
    """
    text = url.strip()
    url = _shown(text)
    scheme = text.split(":", 1)[0].lower() if ":" in text else ""
    if scheme in _COMPOSITE:
        inner = re.findall(r"([A-Za-z+]+)://(?:[^@,/?)\s]*@)?([^,/?)\s]+)", text)
        if not inner:
            raise ConfigError("activemq.url must be a stomp:// or amqp:// URL, got %r" % url)
        tls = any(_OPENWIRE.get(s.lower(), False) or SCHEMES.get(s.lower(), ("", False, 0))[1]
                  for s, _ in inner)
        raise ConfigError(
            "activemq.url=%r is a %s: URL of ActiveMQ's OpenWire Java client, which this sink does "
            "not speak: it speaks STOMP and AMQP 1.0 (and reconnects itself); use one broker's "
            "STOMP or AMQP port, e.g. activemq.url=%s or activemq.url=%s (ActiveMQ's default "
            "configuration opens STOMP on 61613 and AMQP on 5672)"
            % (url, scheme, *_instead(_split_host(inner[0][1])[0], tls)))
    if scheme in _OPENWIRE:
        parsed = urllib.parse.urlsplit(text)
        host = parsed.hostname or "localhost"
        raise ConfigError(
            "activemq.url=%r is an OpenWire URL (ActiveMQ's Java protocol, port 61616 by default), "
            "which this sink does not speak: use the broker's STOMP or AMQP 1.0 port, e.g. "
            "activemq.url=%s or activemq.url=%s (ActiveMQ's default configuration opens STOMP on "
            "61613 and AMQP on 5672)" % (url, *_instead(host, _OPENWIRE[scheme])))
    if scheme not in SCHEMES:
        raise ConfigError("activemq.url must start with one of %s, got %r"
                          % (", ".join("%s://" % s for s in ("stomp", "stomp+ssl", "amqp", "amqps")),
                             url))
    protocol, tls, default_port = SCHEMES[scheme]
    parsed = urllib.parse.urlsplit(text)
    if parsed.username is not None or parsed.password is not None:
        raise ConfigError("activemq.url must not hold credentials: set activemq.username and "
                          "activemq.password (got a URL with a user part for host %r)"
                          % parsed.hostname)
    if parsed.query or parsed.fragment or parsed.path not in ("", "/"):
        raise ConfigError("activemq.url must be SCHEME://HOST:PORT, without a path or options (the "
                          "options of a broker's transport connector are the broker's), got %r" % url)
    host, port = _split_host(parsed.netloc)
    if not host or not _HOST.fullmatch(host):
        raise ConfigError("activemq.url must name a host, got %r" % url)
    if port is None:
        port = default_port
    elif not 0 < port < 65536:
        raise ConfigError("activemq.url must have a port between 1 and 65535, got %r" % url)
    return BrokerUrl(protocol, host.strip("[]"), port, tls)


def _shown(url: str) -> str:
    """``url`` with the password of a user part and of ``...password=`` options hidden."""
    url = re.sub(r"//([^/@:]*):[^/@]*@", r"//\1:[hidden]@", url)
    return re.sub(r"((?:password|passcode)=)[^&)\s]*", r"\1[hidden]", url, flags=re.IGNORECASE)


def _split_host(netloc: str) -> tuple:
    match = re.fullmatch(r"(\[[^\]]*\]|[^:]*)(?::([0-9]*))?", netloc)
    if match is None:
        return netloc, None
    port = match.group(2)
    if port == "":
        return match.group(1), -1
    return match.group(1), int(port) if port else None


def _instead(host: str, tls: bool) -> tuple:
    host = "[%s]" % host.strip("[]") if ":" in host else host or "localhost"
    if tls:
        return "stomp+ssl://%s:61612" % host, "amqps://%s:5671" % host
    return "stomp://%s:61613" % host, "amqp://%s:5672" % host


@dataclasses.dataclass(frozen=True)
class ActiveMQSinkConfig:
    """The ActiveMQ sink's parsed config.

    Attributes:
      url: ``activemq.url``.
      username: ``activemq.username`` ('' for an anonymous login).
      password: ``activemq.password``; never printed.
      ca_location: ``activemq.ssl.ca.location``, or None for the system's CAs.
      destination: ``jms.destination.name``.
      destination_type: ``queue`` or ``topic``.
      message_format: One of :data:`MESSAGE_FORMATS`.
      forward_key: The key as JMSCorrelationID.
      forward_metadata: ``KAFKA_TOPIC``, ``KAFKA_PARTITION``, ``KAFKA_OFFSET`` properties.
      forward_headers: The record's headers as string properties.
      persistent: ``jms.delivery.mode=persistent``.
      ttl_ms: ``jms.time.to.live.ms`` (0: forever).
      priority: ``jms.priority``.
      flush_size: Offsets per bundle.
      batch_size: Messages per confirmed batch.
      timeout_ms: The wait for a batch's confirmations, and for a login.
      max_retries: Reconnects of a batch whose connection was lost.
      backoff_ms: The first wait before a reconnect.
      max_backoff_ms: The longest wait between two reconnects.
    """

    url: BrokerUrl
    username: str
    password: str = dataclasses.field(repr=False)
    destination: str = ""
    destination_type: str = "queue"
    message_format: str = "string"
    forward_key: bool = False
    forward_metadata: bool = False
    forward_headers: bool = False
    persistent: bool = True
    ttl_ms: int = 0
    priority: int = 4
    flush_size: int = 1000
    batch_size: int = 500
    timeout_ms: int = 30000
    max_retries: int = 10
    backoff_ms: int = 100
    max_backoff_ms: int = 10000
    ca_location: Optional[str] = None

    @property
    def text(self) -> bool:
        """Whether bodies are text (``string``, ``json``) rather than bytes."""
        return self.message_format != "bytes"

    def describe(self) -> str:
        """``ActiveMQ at stomp://HOST:PORT (user 'U')``: for errors; never the password."""
        return "ActiveMQ at %s (%s)" % (self.url, "user %r" % self.username if self.username
                                        else "anonymous")

    def target(self) -> str:
        """The destination as the run summary names it: ``queue://NAME`` or ``topic://NAME``."""
        return "%s://%s" % (self.destination_type, self.destination)

    def publish_settings(self) -> PublishSettings:
        """Batching and reconnects for :class:`~sinks.queues.publish.PublishWriter`."""
        return PublishSettings(batch_size=self.batch_size, max_retries=self.max_retries,
                               backoff_ms=min(self.backoff_ms, self.max_backoff_ms),
                               max_backoff_ms=self.max_backoff_ms, key_format="string",
                               value_format={"bytes": "raw"}.get(self.message_format,
                                                                 self.message_format))

    @classmethod
    def from_values(cls, values: Mapping[str, Any],
                    connector: ConnectorContext) -> "ActiveMQSinkConfig":
        """Builds the config from :data:`CONFIG_DEF`'s parsed values and the connector's settings.

        Raises:
          ConfigError: an OpenWire or otherwise unusable ``activemq.url``, a format that needs a
            Schema Registry or is unknown, a CA file without TLS, or a transform editing values that
            ``jms.message.format=bytes`` sends as read.
        """
        url = parse_url(values["activemq.url"])
        message_format = _message_format(values["jms.message.format"])
        check_raw_edits(connector.transforms, {"value": ("jms.message.format", message_format)},
                        raw="bytes")
        ca_location = values["activemq.ssl.ca.location"]
        if ca_location is not None and not url.tls:
            raise ConfigError("activemq.ssl.ca.location is set but activemq.url=%r connects without "
                              "TLS: use stomp+ssl:// or amqps://, or remove it" % str(url))
        return cls(url=url, username=values["activemq.username"],
                   password=values["activemq.password"], ca_location=ca_location,
                   destination=values["jms.destination.name"],
                   destination_type=values["jms.destination.type"],
                   message_format=message_format,
                   forward_key=values["jms.forward.kafka.key"],
                   forward_metadata=values["jms.forward.kafka.metadata"],
                   forward_headers=values["jms.forward.kafka.headers"],
                   persistent=values["jms.delivery.mode"] == "persistent",
                   ttl_ms=values["jms.time.to.live.ms"], priority=values["jms.priority"],
                   flush_size=values["flush.size"], batch_size=values["activemq.publish.batch.size"],
                   timeout_ms=values["activemq.publish.timeout.ms"],
                   max_retries=values["activemq.retry.max"],
                   backoff_ms=values["activemq.retry.backoff.ms"],
                   max_backoff_ms=values["activemq.retry.backoff.max.ms"])


def _message_format(value: str) -> str:
    lowered = value.strip().lower()
    if lowered in REGISTRY_FORMATS:
        raise ConfigError("jms.message.format=%r needs a Schema Registry, which is not supported yet "
                          "(see the Schema Registry converters issue); use one of %s"
                          % (value, ", ".join(map(repr, MESSAGE_FORMATS))))
    if lowered not in MESSAGE_FORMATS:
        raise ConfigError("jms.message.format must be one of %s, got %r"
                          % (", ".join(map(repr, MESSAGE_FORMATS)), value))
    return lowered
