"""Config keys of the NATS JetStream sink, and the subjects and headers its messages get.

No Kafka Connect NATS sink has JetStream keys worth following (Camel's kamelet takes a server list and
one subject, the older community sinks publish core NATS without acknowledgements), so the keys are
``nats.*`` in the style of Confluent's sinks: the connection (``nats.servers``, credentials, TLS),
where messages go (``nats.subject``, a template, and ``nats.stream``, the stream expected to capture
them), what they carry (key and coordinate headers, formats) and how they are published
(``nats.publish.*``). Parsing never contacts a server; :meth:`NatsSink.check` does.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from typing import Any, Mapping, Optional, Tuple

from common.configdef import ConfigDef, ConfigKey
from common.errors import ConfigError
from sinks.base import ConnectorContext
from sinks.encoding import check_raw_edits
from sinks.queues.messages import FORMATS, Message
from sinks.queues.publish import PublishSettings

#: Placeholders of ``nats.subject``: the record's topic after the transforms, its source partition.
PLACEHOLDERS = ("${topic}", "${partition}")
#: Header names the sink sets itself (besides ``nats.key.header``); a record header may not use them.
ID_HEADER = "Nats-Msg-Id"
EXPECTED_STREAM_HEADER = "Nats-Expected-Stream"
COORDINATE_HEADERS = ("Kafka-Topic", "Kafka-Partition", "Kafka-Offset", "Kafka-Timestamp")
#: JetStream reads headers starting with this (ids, expectations, rollups, TTLs): never from records.
RESERVED_PREFIX = "nats-"

DEFAULT_DUPLICATE_WINDOW_MS = 120_000  # JetStream's own default
_SCHEMES = ("nats", "tls")
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
# A header name as NATS (and nats-py) takes it: an HTTP token.
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


CONFIG_DEF = ConfigDef([
    ConfigKey("nats.servers", "list", group="NATS connection",
              doc="NATS servers to connect to, nats://host:port or tls://host:port (host:port alone "
                  "means nats://); the first that answers is used."),
    ConfigKey("nats.username", "string", None, group="NATS connection",
              doc="User of a server with password users (with nats.password)."),
    ConfigKey("nats.password", "password", None, group="NATS connection",
              doc="Password of nats.username."),
    ConfigKey("nats.token", "password", None, group="NATS connection",
              doc="Authentication token, instead of a user and password."),
    ConfigKey("nats.creds.file", "string", None, group="NATS connection",
              doc="A .creds file (user JWT and NKey seed) of a decentralised-auth account; needs the "
                  "nkeys package."),
    ConfigKey("nats.tls.enable", "boolean", False, group="NATS connection",
              doc="Connect with TLS (implied by tls:// server URLs)."),
    ConfigKey("nats.tls.ca.file", "string", None, group="NATS connection",
              doc="PEM file of the CAs the server certificate is checked against (default: the "
                  "system's)."),
    ConfigKey("nats.tls.cert.file", "string", None, group="NATS connection",
              doc="PEM client certificate, for servers that verify clients (with nats.tls.key.file)."),
    ConfigKey("nats.tls.key.file", "string", None, group="NATS connection",
              doc="PEM private key of nats.tls.cert.file."),
    ConfigKey("nats.tls.hostname", "string", None, group="NATS connection",
              doc="The name the server certificate must carry, when it is not the host of the URL."),
    ConfigKey("nats.connect.timeout.ms", "int", 5000, min=1, group="NATS connection",
              doc="How long connecting to one server may take."),
    ConfigKey("nats.subject", "string", "${topic}", group="NATS sink",
              doc="Subject of each message: a template of ${topic} (the record's topic after the "
                  "transforms) and ${partition} (its source partition)."),
    ConfigKey("nats.stream", "string", None, regex=r"[^\s.*>/\\]+", group="NATS sink",
              doc="The JetStream stream expected to capture the subjects: each publish carries "
                  "Nats-Expected-Stream, so a subject another stream captures is refused."),
    ConfigKey("nats.stream.create", "boolean", False, group="NATS sink",
              doc="Create nats.stream when it is missing (before any record is read)."),
    ConfigKey("nats.stream.subjects", "list", (), group="NATS sink",
              doc="Subjects (wildcards allowed) of the stream created; default: nats.subject when it "
                  "has no placeholder."),
    ConfigKey("nats.stream.duplicate.window.ms", "int", None, min=1, group="NATS sink",
              doc="Duplicate window of the stream created (default 120000, JetStream's): a message "
                  "published again within it is dropped."),
    ConfigKey("nats.stream.storage", "string", None, choices=("file", "memory"), group="NATS sink",
              doc="Storage of the stream created (default file)."),
    ConfigKey("nats.stream.replicas", "int", None, min=1, max=5, group="NATS sink",
              doc="Replicas of the stream created (default 1)."),
    ConfigKey("nats.key.header", "string", "Kafka-Key", group="NATS sink",
              doc="Header carrying the record key (as text); empty: keys are not sent."),
    ConfigKey("nats.coordinates.headers.enable", "boolean", True, group="NATS sink",
              doc="Add Kafka-Topic, Kafka-Partition, Kafka-Offset and Kafka-Timestamp headers."),
    ConfigKey("nats.value.format", "string", "raw", choices=FORMATS, group="NATS sink",
              doc="How values are written: raw (the bytes as read), string (the converted value as "
                  "UTF-8) or json (the converted value as schemaless JSON)."),
    ConfigKey("nats.key.format", "string", "raw", choices=FORMATS, group="NATS sink",
              doc="How keys are written into nats.key.header: raw, string or json."),
    ConfigKey("flush.size", "int", 1000, min=1, group="NATS sink",
              doc="Offsets per bundle: a bundle's offsets are committed once all its messages are "
                  "acknowledged."),
    ConfigKey("nats.publish.max.batch.size", "int", 500, min=1, max=100_000, group="NATS sink",
              doc="Messages published before waiting for their acknowledgements."),
    ConfigKey("nats.publish.ack.timeout.ms", "int", 10_000, min=1, group="NATS sink",
              doc="How long a batch's acknowledgements may take once it is sent; then the connection "
                  "is renewed and the batch published again."),
    ConfigKey("nats.publish.max.retries", "int", 10, min=0, group="NATS sink",
              doc="Times a batch is published again after a lost connection or missing "
                  "acknowledgements, with backoff, before the run fails."),
])


@dataclasses.dataclass(frozen=True)
class StreamSpec:
    """The stream :meth:`NatsSink.check` creates when ``nats.stream.create=true`` and it is missing.

    Attributes:
      subjects: Its subjects.
      duplicate_window_ms: Its duplicate window.
      storage: ``file`` or ``memory``.
      replicas: Its replicas.
    """

    subjects: Tuple[str, ...]
    duplicate_window_ms: int = DEFAULT_DUPLICATE_WINDOW_MS
    storage: str = "file"
    replicas: int = 1


@dataclasses.dataclass(frozen=True)
class NatsSinkConfig:
    """The NATS sink's parsed config.

    Attributes:
      servers: Server URLs (without credentials).
      username: User, or None.
      password: Its password (hidden in ``repr``), or None.
      token: Token (hidden), or None.
      creds_file: A .creds file, or None.
      tls: Whether to connect with TLS.
      tls_ca_file: CA file, or None (the system's CAs).
      tls_cert_file: Client certificate, or None.
      tls_key_file: Its key, or None.
      tls_hostname: Name to verify, or None.
      connect_timeout_ms: Per-server connect timeout.
      subject: The subject template.
      stream: The stream expected to capture the subjects, or None (any stream).
      create_stream: How to create ``stream`` when missing, or None (it must exist).
      key_header: Header of the key, or "" for none.
      coordinates: Whether coordinate headers are added.
      key_format: One of :data:`~sinks.queues.messages.FORMATS`.
      value_format: Likewise.
      flush_size: Offsets per bundle.
      batch_size: Messages per acknowledged batch.
      ack_timeout_ms: How long a batch's acknowledgements may take.
      max_retries: Republishes of a batch before the run fails.
      client_name: The connection's name as the server shows it.
    """

    servers: Tuple[str, ...]
    username: Optional[str] = None
    password: Optional[str] = dataclasses.field(default=None, repr=False)
    token: Optional[str] = dataclasses.field(default=None, repr=False)
    creds_file: Optional[str] = None
    tls: bool = False
    tls_ca_file: Optional[str] = None
    tls_cert_file: Optional[str] = None
    tls_key_file: Optional[str] = None
    tls_hostname: Optional[str] = None
    connect_timeout_ms: int = 5000
    subject: str = "${topic}"
    stream: Optional[str] = None
    create_stream: Optional[StreamSpec] = None
    key_header: str = "Kafka-Key"
    coordinates: bool = True
    key_format: str = "raw"
    value_format: str = "raw"
    flush_size: int = 1000
    batch_size: int = 500
    ack_timeout_ms: int = 10_000
    max_retries: int = 10
    client_name: str = "beamconnect"

    @property
    def constant_subject(self) -> Optional[str]:
        """``nats.subject`` when it has no placeholder (every message goes there), else None."""
        return None if _PLACEHOLDER.search(self.subject) else self.subject

    @property
    def publish_settings(self) -> PublishSettings:
        return PublishSettings(batch_size=self.batch_size, max_retries=self.max_retries,
                               key_format=self.key_format, value_format=self.value_format)

    @property
    def servers_text(self) -> str:
        """``nats.servers`` as errors name it."""
        return ",".join(self.servers)

    def subject_of(self, message: Message) -> str:
        """The subject ``message`` is published to (checked by :func:`subject_problem`)."""
        return self.subject.replace("${topic}", message.target).replace(
            "${partition}", str(message.partition))

    @classmethod
    def from_values(cls, values: Mapping[str, Any],
                    connector: Optional[ConnectorContext] = None) -> "NatsSinkConfig":
        """Builds the config from :data:`CONFIG_DEF`'s parsed values.

        Raises:
          ConfigError: a server URL is invalid or carries credentials, credentials or TLS settings
            conflict, the subject template is invalid, stream settings are given without
            ``nats.stream.create=true``, or a transform edits what ``raw`` writes as read.
        """
        servers = tuple(_server(url) for url in values["nats.servers"])
        if not servers:
            raise ConfigError("nats.servers must name at least one server, got ''")
        username, password = values["nats.username"], values["nats.password"]
        token, creds = values["nats.token"], values["nats.creds.file"]
        if password is not None and not username:
            raise ConfigError("nats.password is set but nats.username is not: set both")
        if username and password is None:
            raise ConfigError("nats.username=%r is set but nats.password is not: set both" % username)
        given = [k for k, v in (("nats.username", username), ("nats.token", token),
                                ("nats.creds.file", creds)) if v]
        if len(given) > 1:
            raise ConfigError("%s must not be set together: a connection authenticates one way"
                              % " and ".join(given))
        tls = values["nats.tls.enable"] or any(s.startswith("tls://") for s in servers)
        tls_files = {k: values[k] for k in ("nats.tls.ca.file", "nats.tls.cert.file",
                                            "nats.tls.key.file", "nats.tls.hostname")}
        for key, value in tls_files.items():
            if value and not tls:
                raise ConfigError("%s=%r is set but TLS is off: set nats.tls.enable=true or use "
                                  "tls:// server URLs" % (key, value))
        if bool(tls_files["nats.tls.cert.file"]) != bool(tls_files["nats.tls.key.file"]):
            raise ConfigError("nats.tls.cert.file and nats.tls.key.file must be set together, got "
                              "%r and %r" % (tls_files["nats.tls.cert.file"],
                                             tls_files["nats.tls.key.file"]))
        subject = values["nats.subject"].strip()
        _check_template(subject)
        key_header = values["nats.key.header"].strip()
        if key_header:
            problem = header_name_problem(key_header, values["nats.coordinates.headers.enable"])
            if problem:
                raise ConfigError("nats.key.header must be a header name the sink may set: %s, got %r"
                                  % (problem, key_header))
        stream = values["nats.stream"]
        create = _stream_spec(values, stream, subject)
        key_format, value_format = values["nats.key.format"], values["nats.value.format"]
        if connector is not None:
            check_raw_edits(connector.transforms, {"key": ("nats.key.format", key_format),
                                                   "value": ("nats.value.format", value_format)})
        return cls(servers=servers, username=username or None, password=password,
                   token=token or None, creds_file=creds or None, tls=tls,
                   tls_ca_file=tls_files["nats.tls.ca.file"] or None,
                   tls_cert_file=tls_files["nats.tls.cert.file"] or None,
                   tls_key_file=tls_files["nats.tls.key.file"] or None,
                   tls_hostname=tls_files["nats.tls.hostname"] or None,
                   connect_timeout_ms=values["nats.connect.timeout.ms"], subject=subject,
                   stream=stream or None, create_stream=create, key_header=key_header,
                   coordinates=values["nats.coordinates.headers.enable"], key_format=key_format,
                   value_format=value_format, flush_size=values["flush.size"],
                   batch_size=values["nats.publish.max.batch.size"],
                   ack_timeout_ms=values["nats.publish.ack.timeout.ms"],
                   max_retries=values["nats.publish.max.retries"],
                   client_name="beamconnect-%s" % connector.name if connector else "beamconnect")


def subject_problem(subject: str) -> Optional[str]:
    """Why NATS would not take ``subject`` for a publish, or None."""
    if not subject:
        return "it is empty"
    for token in subject.split("."):
        if not token:
            return "it has an empty token (a leading, trailing or doubled '.')"
        if token in ("*", ">"):
            return "it has the wildcard %r, which only subscriptions may use" % token
        if any(c.isspace() for c in token):
            return "it holds whitespace"
    return None


def subject_matches(pattern: str, subject: str) -> bool:
    """Whether a stream subject ``pattern`` (``*`` one token, ``>`` the rest) captures ``subject``."""
    wanted, tokens = pattern.split("."), subject.split(".")
    for i, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > i
        if i >= len(tokens) or token not in ("*", tokens[i]):
            return False
    return len(tokens) == len(wanted)


def header_name_problem(name: str, coordinates: bool = True) -> Optional[str]:
    """Why a header may not be called ``name`` on a published message, or None."""
    if not HEADER_NAME.fullmatch(name):
        return "NATS header names are letters, digits and !#$%&'*+-.^_`|~"
    if name.lower().startswith(RESERVED_PREFIX):
        return "Nats-* headers steer JetStream (Nats-Msg-Id, Nats-Rollup, ...)"
    if coordinates and name.lower() in {h.lower() for h in COORDINATE_HEADERS}:
        return "%s is a coordinate header (nats.coordinates.headers.enable)" % name
    return None


def _server(url: str) -> str:
    text = url if "://" in url else "nats://" + url
    try:
        parsed = urllib.parse.urlsplit(text)
        port = parsed.port
    except ValueError:
        parsed, port = None, None
    if parsed is not None and (parsed.username is not None or parsed.password is not None):
        shown = text.replace(parsed.netloc, parsed.netloc.rsplit("@", 1)[1])
        raise ConfigError("nats.servers must not carry credentials, got %r with a user part: set "
                          "nats.username and nats.password (or nats.token) instead" % shown)
    if parsed is None or parsed.scheme not in _SCHEMES or not parsed.hostname or (
            parsed.path not in ("", "/")) or parsed.query or parsed.fragment:
        raise ConfigError("nats.servers must be a list of nats://host:port or tls://host:port, got %r"
                          % url)
    host = "[%s]" % parsed.hostname if ":" in parsed.hostname else parsed.hostname
    return "%s://%s:%d" % (parsed.scheme, host, port or 4222)


def _check_template(subject: str) -> None:
    unknown = [m.group(0) for m in _PLACEHOLDER.finditer(subject) if m.group(0) not in PLACEHOLDERS]
    if unknown:
        raise ConfigError("nats.subject may only hold the placeholders %s, got %r with %s"
                          % (" and ".join(PLACEHOLDERS), subject, unknown[0]))
    problem = subject_problem(_PLACEHOLDER.sub("x", subject))
    if problem:
        raise ConfigError("nats.subject must be a subject NATS publishes to, got %r: %s"
                          % (subject, problem))


def _stream_spec(values: Mapping[str, Any], stream: Optional[str],
                 subject: str) -> Optional[StreamSpec]:
    only_created = [k for k in ("nats.stream.subjects", "nats.stream.duplicate.window.ms",
                                "nats.stream.storage", "nats.stream.replicas")
                    if values[k] not in (None, ())]
    if not values["nats.stream.create"]:
        if only_created:
            raise ConfigError("%s=%r applies to the stream the sink creates: set "
                              "nats.stream.create=true, or leave it out"
                              % (only_created[0], _shown(values[only_created[0]])))
        return None
    if not stream:
        raise ConfigError("nats.stream.create=true needs nats.stream, the stream's name")
    subjects = tuple(values["nats.stream.subjects"])
    if not subjects:
        if _PLACEHOLDER.search(subject):
            raise ConfigError("nats.stream.create=true with nats.subject=%r (a template) needs "
                              "nats.stream.subjects, the subjects the stream captures" % subject)
        subjects = (subject,)
    elif not _PLACEHOLDER.search(subject) and not any(subject_matches(p, subject) for p in subjects):
        raise ConfigError("nats.stream.subjects=%r does not capture nats.subject=%r"
                          % (",".join(subjects), subject))
    return StreamSpec(subjects=subjects,
                      duplicate_window_ms=values["nats.stream.duplicate.window.ms"]
                      or DEFAULT_DUPLICATE_WINDOW_MS,
                      storage=values["nats.stream.storage"] or "file",
                      replicas=values["nats.stream.replicas"] or 1)


def _shown(value: Any) -> str:
    return ",".join(value) if isinstance(value, tuple) else str(value)
