"""Config keys of the Redis Streams sink: those of redis-kafka-connect (``redis.*``), and a few more.

redis-kafka-connect's keys keep their names and meaning: ``redis.uri`` (``redis://`` or ``rediss://``,
a user, password and database in it allowed) or ``redis.host`` / ``redis.port``, ``redis.username`` /
``redis.password``, ``redis.timeout`` (seconds), ``redis.tls``, ``redis.insecure``, ``redis.cacert``,
``redis.key.cert`` / ``redis.key.file`` / ``redis.key.password`` (PEM files), ``redis.command``,
``redis.key`` (the stream, ``${topic}`` standing for the record's topic after the transforms),
``redis.wait.replicas`` / ``redis.wait.timeout``. Where the answer differs, it is said:

- ``redis.command`` must be ``XADD`` (its default): this sink writes streams only;
- ``redis.cluster=true`` is refused: a batch is one script over its streams and the sink's offsets,
  which Redis Cluster only runs when every key shares a hash slot;
- ``redis.charset`` must be UTF-8 (keys and text are written as UTF-8); ``redis.json.path`` and
  ``redis.json.path.fixed`` (for ``JSONMERGE``) are refused;
- ``redis.pool``, ``redis.separator`` and ``redis.multiexec`` are accepted with a warning (one connection
  per worker; no key is built with the separator for streams; each batch is atomic already).

Added here: ``redis.stream.body`` (what an entry holds: the record with its coordinates, or the
value's fields as redis-kafka-connect writes them), ``redis.entry.key.format`` /
``redis.entry.value.format``, ``redis.stream.maxlen`` (trimming), ``redis.offsets.key`` (where the
sink keeps what it wrote, see :mod:`sinks.queues.redis.sink`) and ``flush.size``.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from typing import Any, Mapping

from common.configdef import ConfigDef, ConfigKey, Password
from common.errors import ConfigError
from sinks.base import ConnectorContext
from sinks.encoding import check_raw_edits
from sinks.queues.messages import FORMATS

TOPIC_TOKEN = "${topic}"
#: ``record``: key, value, coordinates and headers as fields; ``value``: the value's own fields.
BODIES = ("record", "value")
SCHEMES = {"redis": False, "rediss": True}

IGNORED_KEYS = {
    "redis.pool": "each worker writes through one connection",
    "redis.separator": "it joins keys of hashes and strings; streams are named by redis.key alone",
    "redis.multiexec": "each batch is written by one script, which Redis runs atomically",
}

_GROUP = "Redis sink"


def config_def(body: str = "record") -> ConfigDef:
    """The sink's keys, ``redis.stream.body`` defaulting to ``body``."""
    return ConfigDef([
        ConfigKey("redis.uri", "string", "", group=_GROUP,
                  doc="redis://[user[:password]@]host[:port][/database], or rediss:// for TLS; "
                      "redis.host and redis.port when empty."),
        ConfigKey("redis.host", "string", "localhost", group=_GROUP,
                  doc="The Redis host, when redis.uri is empty."),
        ConfigKey("redis.port", "int", 6379, min=1, max=65535, group=_GROUP,
                  doc="The Redis port, when redis.uri is empty."),
        ConfigKey("redis.username", "string", "", group=_GROUP,
                  doc="ACL user to authenticate as (empty: the default user)."),
        ConfigKey("redis.password", "password", "", group=_GROUP, doc="The user's password."),
        ConfigKey("redis.timeout", "int", 60, min=1, group=_GROUP,
                  doc="Seconds a connection or a command may take."),
        ConfigKey("redis.tls", "boolean", False, group=_GROUP, doc="Connect with TLS."),
        ConfigKey("redis.insecure", "boolean", False, group=_GROUP,
                  doc="With TLS, accept any certificate (no verification)."),
        ConfigKey("redis.cacert", "string", "", group=_GROUP,
                  doc="PEM file of the certificate authorities to verify Redis with."),
        ConfigKey("redis.key.cert", "string", "", group=_GROUP,
                  doc="PEM file of the client certificate chain."),
        ConfigKey("redis.key.file", "string", "", group=_GROUP,
                  doc="PEM file of the client's private key (PKCS#8)."),
        ConfigKey("redis.key.password", "password", "", group=_GROUP,
                  doc="Password of the private key, if it has one."),
        ConfigKey("redis.cluster", "boolean", False, group=_GROUP,
                  doc="Redis Cluster: not supported (false only)."),
        ConfigKey("redis.charset", "string", "UTF-8", group=_GROUP,
                  doc="Character set of keys and text: UTF-8 only."),
        ConfigKey("redis.command", "string", "XADD", group=_GROUP,
                  doc="The Redis command: XADD (one stream entry per record) only."),
        ConfigKey("redis.key", "string", TOPIC_TOKEN, group=_GROUP,
                  doc="The stream key; ${topic} is the record's topic after the transforms."),
        ConfigKey("redis.wait.replicas", "int", 0, min=0, group=_GROUP,
                  doc="Replicas that must have each batch (WAIT) before it counts as written; 0 for "
                      "none."),
        ConfigKey("redis.wait.timeout", "int", 1000, min=0, group=_GROUP,
                  doc="Milliseconds WAIT waits for the replicas."),
        ConfigKey("redis.json.path", "string", None, group=_GROUP,
                  doc="For JSONMERGE, which is not supported: refused."),
        ConfigKey("redis.json.path.fixed", "string", None, group=_GROUP,
                  doc="For JSONMERGE, which is not supported: refused."),
        ConfigKey("redis.stream.body", "string", body, choices=BODIES, group=_GROUP,
                  doc="What an entry holds: record (key, value, topic, partition, offset, timestamp, "
                      "headers) or value (the value's top-level fields, as redis-kafka-connect "
                      "writes them)."),
        ConfigKey("redis.entry.key.format", "string", None, choices=FORMATS, group=_GROUP,
                  doc="redis.stream.body=record: how the key field is written: raw (the bytes as "
                      "read, the default), string or json (the converted key)."),
        ConfigKey("redis.entry.value.format", "string", None, choices=FORMATS, group=_GROUP,
                  doc="redis.stream.body=record: how the value field is written: raw (the default), "
                      "string or json."),
        ConfigKey("redis.stream.maxlen", "int", 0, min=0, group=_GROUP,
                  doc="Trim each stream to about this many entries as the sink adds to it (XADD "
                      "MAXLEN); 0 for no trimming."),
        ConfigKey("redis.stream.maxlen.approximate", "boolean", True, group=_GROUP,
                  doc="Trim with MAXLEN ~ (whole nodes, cheap) rather than to the exact length."),
        ConfigKey("redis.offsets.key", "string", None, group=_GROUP,
                  doc="The hash where the sink keeps the next offset of each source partition it "
                      "wrote (default beamconnect:offsets:<connector name>)."),
        ConfigKey("flush.size", "int", 1000, min=1, group=_GROUP,
                  doc="Offsets per bundle: a bundle's offsets are committed once all of it is "
                      "written."),
    ])


@dataclasses.dataclass(frozen=True)
class RedisTarget:
    """Where Redis is and how to log in; the password hidden from ``repr``.

    Attributes:
      host: Host name.
      port: Port.
      database: Database number.
      username: ACL user, or "" for the default user.
      password: Password, or "".
      tls: Whether to connect with TLS.
      insecure: With TLS, whether to skip verifying the certificate.
      cacert: PEM CA file, or "".
      cert: PEM client certificate chain, or "".
      keyfile: PEM private key, or "".
      key_password: The private key's password, or "".
      timeout: Seconds a connection or command may take.
    """

    host: str
    port: int
    database: int = 0
    username: str = ""
    password: Password = dataclasses.field(default=Password(""), repr=False)
    tls: bool = False
    insecure: bool = False
    cacert: str = ""
    cert: str = ""
    keyfile: str = ""
    key_password: Password = dataclasses.field(default=Password(""), repr=False)
    timeout: int = 60

    def describe(self) -> str:
        """``redis://host:port/db`` (``rediss://`` with TLS), never with credentials."""
        return "%s://%s:%d/%d" % ("rediss" if self.tls else "redis", self.host, self.port,
                                  self.database)


@dataclasses.dataclass(frozen=True)
class RedisSinkConfig:
    """The Redis sink's parsed config.

    Attributes:
      name: The connector's name.
      target: The server and credentials.
      stream_format: The stream key, with ``${topic}`` for the record's target topic.
      body: One of :data:`BODIES`.
      key_format: How the ``key`` field is written (``record`` body).
      value_format: How the ``value`` field is written (``record`` body; ``json`` for ``value``).
      maxlen: Trim streams to about this many entries; 0 for never.
      approximate: ``MAXLEN ~`` rather than ``MAXLEN =``.
      offsets_key: The hash of next offsets per source topic-partition.
      wait_replicas: Replicas WAIT asks for after each batch; 0 for no WAIT.
      wait_timeout_ms: WAIT's timeout.
      flush_size: Offsets per bundle.
    """

    name: str
    target: RedisTarget
    stream_format: str = TOPIC_TOKEN
    body: str = "record"
    key_format: str = "raw"
    value_format: str = "raw"
    maxlen: int = 0
    approximate: bool = True
    offsets_key: str = ""
    wait_replicas: int = 0
    wait_timeout_ms: int = 1000
    flush_size: int = 1000

    def stream(self, target: str) -> str:
        """The stream key of a record whose topic after the transforms is ``target``."""
        return self.stream_format.replace(TOPIC_TOKEN, target)

    @classmethod
    def from_values(cls, values: Mapping[str, Any],
                    connector: ConnectorContext) -> "RedisSinkConfig":
        """Builds the config from :func:`config_def`'s parsed values.

        Raises:
          ConfigError: a key redis-kafka-connect has is set to what this sink does not do, the URI is
            invalid or conflicts with the user and password keys, or formats conflict with the body.
        """
        command = values["redis.command"].strip()
        if command.upper() != "XADD":
            raise ConfigError("redis.command must be 'XADD' (stream entries; HSET, SET, JSONSET, "
                              "JSONMERGE, LPUSH, RPUSH, SADD, ZADD, TSADD and DEL are not supported), "
                              "got %r" % command)
        if values["redis.cluster"]:
            raise ConfigError("redis.cluster must be false, got 'true': Redis Cluster is not supported "
                              "(each batch is one script over its streams and the sink's offsets, "
                              "which Redis Cluster runs only when all keys share one hash slot)")
        charset = values["redis.charset"].strip()
        if charset.upper().replace("-", "") != "UTF8":
            raise ConfigError("redis.charset must be 'UTF-8' (keys and text are written as UTF-8), "
                              "got %r" % charset)
        for key in ("redis.json.path", "redis.json.path.fixed"):
            if values[key] is not None:
                raise ConfigError("%s applies to redis.command=JSONMERGE, which is not supported, got "
                                  "%r" % (key, values[key]))
        stream_format = values["redis.key"]
        if not stream_format.strip():
            raise ConfigError("redis.key must name the stream (${topic} stands for the record's "
                              "topic), got %r" % stream_format)
        body = values["redis.stream.body"]
        key_format, value_format = values["redis.entry.key.format"], values["redis.entry.value.format"]
        if body == "value":
            for key, fmt in (("redis.entry.key.format", key_format),
                             ("redis.entry.value.format", value_format)):
                if fmt is not None:
                    raise ConfigError("%s applies to redis.stream.body=record; with "
                                      "redis.stream.body=value an entry holds the value's fields, "
                                      "got %r" % (key, fmt))
            key_format, value_format = "raw", "json"
        else:
            key_format, value_format = key_format or "raw", value_format or "raw"
            check_raw_edits(connector.transforms,
                            {"key": ("redis.entry.key.format", key_format),
                             "value": ("redis.entry.value.format", value_format)})
        return cls(name=connector.name, target=_target(values), stream_format=stream_format,
                   body=body, key_format=key_format, value_format=value_format,
                   maxlen=values["redis.stream.maxlen"],
                   approximate=values["redis.stream.maxlen.approximate"],
                   offsets_key=values["redis.offsets.key"] or "beamconnect:offsets:%s" % connector.name,
                   wait_replicas=values["redis.wait.replicas"],
                   wait_timeout_ms=values["redis.wait.timeout"], flush_size=values["flush.size"])


def _target(values: Mapping[str, Any]) -> RedisTarget:
    username, password = values["redis.username"], values["redis.password"]
    host, port, database, tls = values["redis.host"], values["redis.port"], 0, values["redis.tls"]
    uri = values["redis.uri"].strip()
    if uri:
        parsed = urllib.parse.urlsplit(uri)
        shown = parsed._replace(netloc=parsed.netloc.rpartition("@")[2]).geturl()
        scheme = parsed.scheme.lower()
        if scheme not in SCHEMES:
            raise ConfigError("redis.uri must start with redis:// or rediss://, got %r" % shown)
        if parsed.query or parsed.fragment:
            raise ConfigError("redis.uri must not hold query parameters, got %r" % shown)
        try:
            port = parsed.port or 6379
        except ValueError:
            raise ConfigError("redis.uri has an invalid port, got %r" % shown) from None
        host = parsed.hostname
        if not host:
            raise ConfigError("redis.uri must name a host, got %r" % shown)
        path = parsed.path.strip("/")
        if path:
            if not path.isdigit():
                raise ConfigError("redis.uri's path must be a database number, got %r" % shown)
            database = int(path)
        tls = tls or SCHEMES[scheme]
        uri_user = urllib.parse.unquote(parsed.username or "")
        uri_password = urllib.parse.unquote(parsed.password or "")
        if uri_user and username and uri_user != username:
            raise ConfigError("redis.uri names user %r but redis.username is %r: set one of them"
                              % (uri_user, username))
        if uri_password and password and uri_password != password:
            raise ConfigError("redis.uri holds a password that differs from redis.password: set one "
                              "of them")
        username, password = username or uri_user, password or uri_password
    if values["redis.insecure"] and not tls:
        raise ConfigError("redis.insecure applies to TLS connections: set redis.tls=true or use a "
                          "rediss:// URI")
    tls_files = [k for k in ("redis.cacert", "redis.key.cert", "redis.key.file") if values[k]]
    if tls_files and not tls:
        raise ConfigError("%s is set but the connection is not TLS: set redis.tls=true or use a "
                          "rediss:// URI" % tls_files[0])
    if bool(values["redis.key.cert"]) != bool(values["redis.key.file"]):
        raise ConfigError("redis.key.cert and redis.key.file must be set together, got %r and %r"
                          % (values["redis.key.cert"], values["redis.key.file"]))
    return RedisTarget(host=host, port=port, database=database, username=username,
                       password=Password(password), tls=tls, insecure=values["redis.insecure"],
                       cacert=values["redis.cacert"], cert=values["redis.key.cert"],
                       keyfile=values["redis.key.file"],
                       key_password=Password(values["redis.key.password"]),
                       timeout=values["redis.timeout"])

