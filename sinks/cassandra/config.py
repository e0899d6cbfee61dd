"""Config keys of the Cassandra sink: the DataStax Apache Kafka Connector's keys and defaults.

Global keys (``contactPoints``, ``port``, ``loadBalancing.localDc``, ``auth.*``, ``ssl.*``,
``maxConcurrentRequests``, ``maxNumberOfRecordsInBatch``, ``queryExecutionTimeout``, ``ignoreErrors``,
``compression``) are a :class:`~common.configdef.ConfigDef`. The keys naming a topic, keyspace and
table are only known from the config itself, so the sink declares their prefixes
(:data:`KEY_PREFIXES`) and reads them here, as the DataStax connector does:

- ``topic.<topic>.<keyspace>.<table>.<setting>`` with ``mapping`` (required), ``consistencyLevel``,
  ``ttl``, ``ttlTimeUnit``, ``timestampTimeUnit``, ``nullToUnset``, ``deletesEnabled``, ``query``:
  one :class:`TableConfig` each (a topic may feed several tables);
- ``topic.<topic>.codec.<setting>`` with ``locale``, ``timeZone``, ``timestamp``, ``date``, ``time``,
  ``unit``: how strings and numbers become CQL temporal values (:mod:`sinks.cassandra.codecs`);
- ``datastax-java-driver.basic.contact-points`` and ``.basic.load-balancing-policy.local-datacenter``,
  the two Java driver settings that say where the cluster is; other ``datastax-java-driver.*`` keys
  tune a driver that is not used here and are refused.

Each topic of ``topics`` needs its table settings. Keyspace and table names are taken as written
(case-sensitive), or as CQL when double-quoted. Parsing never contacts the cluster: the mapping is
checked against the tables' schemas by :meth:`~sinks.cassandra.sink.CassandraSink.check`.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping, Optional

from common.configdef import NO_DEFAULT, ConfigDef, ConfigKey, Password
from common.errors import ConfigError
from sinks.base import ConnectorContext
from sinks.cassandra.codecs import CodecSettings
from sinks.cassandra.mapping import Mapping as FieldMapping
from sinks.cassandra.mapping import parse_mapping

#: The ``connector.class`` names of this sink.
CONNECTOR_CLASSES = ("com.datastax.oss.kafka.sink.CassandraSinkConnector",
                     "com.datastax.kafkaconnector.DseSinkConnector", "cassandra")
#: Prefixes of the keys whose names hold a topic, keyspace and table (see the module docstring).
KEY_PREFIXES = ("topic.", "datastax-java-driver.")

CONSISTENCY_LEVELS = ("ANY", "ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM",
                      "LOCAL_ONE")
TIME_UNITS = ("NANOSECONDS", "MICROSECONDS", "MILLISECONDS", "SECONDS", "MINUTES", "HOURS", "DAYS")
IGNORE_ERRORS = ("None", "All", "Driver")

_TABLE_KEY = re.compile(r'topic\.([a-zA-Z0-9._-]+)\.([^."]+|"(?:[^"]|"")+")\.([^."]+|"(?:[^"]|"")+")\.'
                        r'(mapping|consistencyLevel|ttl|nullToUnset|deletesEnabled|ttlTimeUnit|'
                        r'timestampTimeUnit|query)$')
_CODEC_KEY = re.compile(r'topic\.([a-zA-Z0-9._-]+)\.codec\.(locale|timeZone|timestamp|date|time|unit)$')
_DRIVER_CONTACT_POINTS = "datastax-java-driver.basic.contact-points"
_DRIVER_LOCAL_DC = "datastax-java-driver.basic.load-balancing-policy.local-datacenter"
_HOST = re.compile(r"[A-Za-z0-9._\-]+|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:]+")

CONFIG_DEF = ConfigDef([
    ConfigKey("contactPoints", "list", (), group="Cassandra connection",
              doc="Hosts of the cluster to connect to first (the port is port); empty: 127.0.0.1."),
    ConfigKey("port", "int", 9042, min=1, max=65535, group="Cassandra connection",
              doc="Native transport (CQL) port of the contact points."),
    ConfigKey("loadBalancing.localDc", "string", "", group="Cassandra connection",
              doc="The data center written to; required with contactPoints."),
    ConfigKey("queryExecutionTimeout", "int", 30, min=1, group="Cassandra connection",
              doc="Seconds a CQL request may take before it fails (and is retried per "
                  "errors.retry.timeout)."),
    ConfigKey("compression", "string", "None", choices=("None", "LZ4", "Snappy"),
              group="Cassandra connection",
              doc="Compression of requests: None, LZ4 (needs the lz4 package) or Snappy (python-snappy)."),
    ConfigKey("cloud.secureConnectBundle", "string", "", group="Cassandra connection",
              doc="DataStax Astra's secure connect bundle: not supported."),
    ConfigKey("auth.provider", "string", "None", choices=("None", "PLAIN", "GSSAPI"),
              group="Cassandra authentication",
              doc="None or PLAIN (username and password; implied when auth.username is set)."),
    ConfigKey("auth.username", "string", "", group="Cassandra authentication",
              doc="User name for PLAIN authentication."),
    ConfigKey("auth.password", "password", "", group="Cassandra authentication",
              doc="Password for PLAIN authentication."),
    ConfigKey("auth.gssapi.keyTab", "string", "", group="Cassandra authentication",
              doc="Kerberos (GSSAPI): not supported."),
    ConfigKey("auth.gssapi.principal", "string", "", group="Cassandra authentication",
              doc="Kerberos (GSSAPI): not supported."),
    ConfigKey("auth.gssapi.service", "string", "dse", group="Cassandra authentication",
              doc="Kerberos (GSSAPI): not supported."),
    ConfigKey("ssl.provider", "string", "None", choices=("None", "JDK", "OpenSSL"),
              group="Cassandra TLS",
              doc="None, or JDK / OpenSSL (both: Python's ssl module) for TLS to the cluster."),
    ConfigKey("ssl.hostnameValidation", "boolean", True, group="Cassandra TLS",
              doc="Check that a node's certificate names the host connected to."),
    ConfigKey("ssl.truststore.path", "string", "", group="Cassandra TLS",
              doc="CA certificates to trust, as a PEM file (a Java key store is refused)."),
    ConfigKey("ssl.truststore.password", "password", "", group="Cassandra TLS",
              doc="A Java trust store's password: refused (the trust store is PEM)."),
    ConfigKey("ssl.keystore.path", "string", "", group="Cassandra TLS",
              doc="A Java key store: refused; use ssl.openssl.keyCertChain and ssl.openssl.privateKey."),
    ConfigKey("ssl.keystore.password", "password", "", group="Cassandra TLS",
              doc="A Java key store's password: refused."),
    ConfigKey("ssl.openssl.keyCertChain", "string", "", group="Cassandra TLS",
              doc="The client certificate chain (PEM), for nodes that require client certificates."),
    ConfigKey("ssl.openssl.privateKey", "string", "", group="Cassandra TLS",
              doc="The client certificate's private key (PEM, unencrypted)."),
    ConfigKey("ssl.cipherSuites", "list", (), group="Cassandra TLS",
              doc="Cipher suites to offer, in OpenSSL's names (empty: Python's defaults)."),
    ConfigKey("maxConcurrentRequests", "int", 500, min=1, group="Cassandra writes",
              doc="Requests in flight at once per worker."),
    ConfigKey("maxNumberOfRecordsInBatch", "int", 32, min=1, group="Cassandra writes",
              doc="Records of one partition key sent in one unlogged batch."),
    ConfigKey("ignoreErrors", "string", "None", choices=("None", "All", "Driver", "true", "false"),
              group="Cassandra writes",
              doc="None: records the sink cannot write follow errors.tolerance; All: they are "
                  "skipped (logged) even with errors.tolerance=none; Driver: only those the "
                  "cluster refused are."),
    ConfigKey("flush.size", "int", 1000, min=1, group="Cassandra writes",
              doc="Offsets per bundle: the records written (concurrently) before a bundle is done."),
])

IGNORED_KEYS = {
    "connectionPoolLocalSize": "the Python driver multiplexes requests on one connection per node",
    "jmx": "metrics are the pipeline's (no JMX here)",
    "jmxConnectorDomain": "metrics are the pipeline's (no JMX here)",
    "metricsHighestLatency": "metrics are the pipeline's (no JMX here)",
}


@dataclasses.dataclass(frozen=True)
class TableConfig:
    """The settings of one topic-to-table mapping, ``topic.<topic>.<keyspace>.<table>.*``.

    Attributes:
      topic: The (target) topic whose records are written.
      keyspace: The keyspace, as Cassandra names it (case-sensitive).
      table: The table, likewise.
      prefix: ``topic.<topic>.<keyspace>.<table>.`` as written, for error messages.
      mapping: The parsed ``mapping``.
      consistency_level: ``consistencyLevel``, upper case.
      ttl: ``ttl`` in ``ttl_unit`` (-1: none).
      ttl_unit: ``ttlTimeUnit``.
      timestamp_unit: ``timestampTimeUnit``: the unit of a mapped ``__timestamp`` field.
      null_to_unset: ``nullToUnset``: a null field leaves its column as it is.
      deletes_enabled: ``deletesEnabled``.
      query: ``query``: a CQL statement of the user's, or None.
    """

    topic: str
    keyspace: str
    table: str
    prefix: str
    mapping: FieldMapping
    consistency_level: str = "LOCAL_ONE"
    ttl: int = -1
    ttl_unit: str = "SECONDS"
    timestamp_unit: str = "MICROSECONDS"
    null_to_unset: bool = True
    deletes_enabled: bool = True
    query: Optional[str] = None

    @property
    def cql_name(self) -> str:
        """``"keyspace"."table"`` in CQL."""
        return "%s.%s" % (quote(self.keyspace), quote(self.table))

    @property
    def name(self) -> str:
        """``keyspace.table``, for messages and results."""
        return "%s.%s" % (self.keyspace, self.table)

    @property
    def mapping_key(self) -> str:
        return self.prefix + "mapping"

    @property
    def ttl_seconds(self) -> Optional[int]:
        """The static TTL in seconds, or None."""
        return None if self.ttl == -1 else to_seconds(self.ttl, self.ttl_unit)


@dataclasses.dataclass(frozen=True)
class SslSettings:
    """TLS to the cluster.

    Attributes:
      hostname_validation: ``ssl.hostnameValidation``.
      truststore: ``ssl.truststore.path`` (PEM CA certificates), or None for the system's.
      cert_chain: ``ssl.openssl.keyCertChain``, or None.
      private_key: ``ssl.openssl.privateKey``, or None.
      cipher_suites: ``ssl.cipherSuites``.
    """

    hostname_validation: bool = True
    truststore: Optional[str] = None
    cert_chain: Optional[str] = None
    private_key: Optional[str] = None
    cipher_suites: tuple = ()


@dataclasses.dataclass(frozen=True)
class CassandraSinkConfig:
    """The Cassandra sink's parsed config.

    Attributes:
      name: The connector's name.
      contact_points: ``(host, port)`` of each contact point.
      local_dc: ``loadBalancing.localDc``, or None (the contact points' data center).
      username: The PLAIN login, or None for none.
      password: Its password (hidden in ``repr``).
      ssl: TLS settings, or None for plain connections.
      compression: None, ``lz4`` or ``snappy``.
      request_timeout: ``queryExecutionTimeout`` (seconds).
      max_concurrent_requests: ``maxConcurrentRequests``.
      max_batch_records: ``maxNumberOfRecordsInBatch``.
      ignore_errors: ``none``, ``all`` or ``driver``.
      flush_size: Offsets per bundle.
      tables: Every :class:`TableConfig`, in the order of their keys.
      codecs: :class:`~sinks.cassandra.codecs.CodecSettings` per topic (topics without codec keys
        use the defaults).
    """

    name: str
    contact_points: tuple
    local_dc: Optional[str]
    username: Optional[str]
    password: Optional[Password] = dataclasses.field(repr=False)
    ssl: Optional[SslSettings]
    compression: Optional[str]
    request_timeout: float
    max_concurrent_requests: int
    max_batch_records: int
    ignore_errors: str
    flush_size: int
    tables: tuple
    codecs: Mapping[str, CodecSettings] = dataclasses.field(default_factory=dict)

    def tables_of(self, topic: str) -> tuple:
        """The tables ``topic``'s records are written to (none: the topic is not configured)."""
        return tuple(t for t in self.tables if t.topic == topic)

    def codec(self, topic: str) -> CodecSettings:
        return self.codecs.get(topic) or CodecSettings()

    def describe(self) -> str:
        """Where the cluster is and who logs in, for error messages (never the password)."""
        points = ",".join("%s:%d" % p for p in self.contact_points)
        return "Cassandra at %s%s" % (points, " as auth.username=%r" % self.username
                                      if self.username else "")

    @classmethod
    def from_values(cls, values: Mapping[str, Any], connector: ConnectorContext) -> "CassandraSinkConfig":
        """Builds the config from :data:`CONFIG_DEF`'s parsed values and the prefixed keys.

        Raises:
          ConfigError: naming the key, the value and what is allowed.
        """
        raw = dict(connector.sink_keys)
        driver = {k: v for k, v in raw.items() if k.startswith("datastax-java-driver.")}
        for key in sorted(driver):
            if key not in (_DRIVER_CONTACT_POINTS, _DRIVER_LOCAL_DC):
                raise ConfigError(
                    "%s configures DataStax's Java driver, which is not used here: only %s and %s "
                    "are read; the connector's own keys (contactPoints, port, loadBalancing.localDc, "
                    "queryExecutionTimeout, compression) set the rest" % (key, _DRIVER_CONTACT_POINTS,
                                                                          _DRIVER_LOCAL_DC))
        for key in ("cloud.secureConnectBundle", "auth.gssapi.keyTab", "auth.gssapi.principal"):
            if values[key]:
                raise ConfigError("%s=%r is not supported: %s" % (
                    key, values[key], "connect to the cluster's contact points instead"
                    if key.startswith("cloud") else "Kerberos (GSSAPI) authentication is not "
                                                    "available; use auth.provider=PLAIN"))
        if values["auth.provider"] == "GSSAPI":
            raise ConfigError("auth.provider='GSSAPI' is not supported: Kerberos authentication is "
                              "not available; use PLAIN (auth.username, auth.password)")
        contact_points, local_dc = _contact_points(values, driver)
        username, password = values["auth.username"] or None, values["auth.password"]
        if password and not username:
            raise ConfigError("auth.password was specified without auth.username")
        tables, codecs = _topic_settings(raw, connector.topics)
        compression = values["compression"].lower()
        if compression != "none":
            module = "lz4" if compression == "lz4" else "snappy"
            try:
                __import__(module)
            except ImportError:
                raise ConfigError("compression=%r needs the %s package: pip install %s"
                                  % (values["compression"], module,
                                     "lz4" if module == "lz4" else "python-snappy")) from None
        ignore = values["ignoreErrors"].lower()
        ignore = {"true": "driver", "false": "none"}.get(ignore, ignore)
        return cls(name=connector.name, contact_points=contact_points, local_dc=local_dc,
                   username=username, password=password if username else None,
                   ssl=_ssl(values), compression=None if compression == "none" else compression,
                   request_timeout=float(values["queryExecutionTimeout"]),
                   max_concurrent_requests=values["maxConcurrentRequests"],
                   max_batch_records=values["maxNumberOfRecordsInBatch"], ignore_errors=ignore,
                   flush_size=values["flush.size"], tables=tables, codecs=codecs)


def quote(identifier: str) -> str:
    """A CQL identifier, double-quoted (case kept)."""
    return '"%s"' % identifier.replace('"', '""')


def identifier(text: str) -> str:
    """A keyspace or table name as written: double-quoted CQL, or else taken as it is."""
    if len(text) > 1 and text.startswith('"') and text.endswith('"'):
        return text[1:-1].replace('""', '"')
    return text


_SECONDS = {"NANOSECONDS": 1e-9, "MICROSECONDS": 1e-6, "MILLISECONDS": 1e-3, "SECONDS": 1,
            "MINUTES": 60, "HOURS": 3600, "DAYS": 86400}
_MICROS = {"NANOSECONDS": 1e-3, "MICROSECONDS": 1, "MILLISECONDS": 1000, "SECONDS": 1_000_000,
           "MINUTES": 60_000_000, "HOURS": 3_600_000_000, "DAYS": 86_400_000_000}


def to_seconds(value: int, unit: str) -> int:
    """``value`` of ``unit`` in whole seconds, truncated (as Java's ``TimeUnit.toSeconds``)."""
    factor = _SECONDS[unit]
    return int(value * factor) if factor >= 1 else int(value / round(1 / factor))


def to_micros(value: int, unit: str) -> int:
    """``value`` of ``unit`` in whole microseconds, truncated (as Java's ``TimeUnit.toMicros``)."""
    return int(value) * _MICROS[unit] if unit != "NANOSECONDS" else int(value) // 1000


def _contact_points(values: Mapping[str, Any], driver: Mapping[str, str]) -> tuple:
    hosts, port = values["contactPoints"], values["port"]
    local_dc = values["loadBalancing.localDc"].strip() or None
    driver_points = driver.get(_DRIVER_CONTACT_POINTS, "").strip()
    driver_dc = driver.get(_DRIVER_LOCAL_DC, "").strip() or None
    if hosts and driver_points:
        raise ConfigError("contactPoints and %s must not both be set, got %r and %r"
                          % (_DRIVER_CONTACT_POINTS, ",".join(hosts), driver_points))
    if local_dc and driver_dc and local_dc != driver_dc:
        raise ConfigError("loadBalancing.localDc=%r and %s=%r name different data centers"
                          % (local_dc, _DRIVER_LOCAL_DC, driver_dc))
    local_dc = local_dc or driver_dc
    points = []
    for host in hosts:
        if not _HOST.fullmatch(host) or host.count(":") == 1:
            raise ConfigError("contactPoints must list host names or addresses (the port is port), "
                              "got %r" % host)
        points.append((host.strip("[]"), port))
    for entry in filter(None, (e.strip() for e in driver_points.split(","))):
        host, _, number = entry.rpartition(":")
        if not host or not number.isdigit() or not 0 < int(number) < 65536:
            raise ConfigError("%s must list HOST:PORT entries, got %r" % (_DRIVER_CONTACT_POINTS, entry))
        points.append((host.strip("[]"), int(number)))
    if points and not local_dc:
        raise ConfigError("contactPoints=%r: when contact points are provided, loadBalancing.localDc "
                          "must also be specified" % ",".join("%s:%d" % p for p in points))
    return tuple(points) or (("127.0.0.1", port),), local_dc


def _ssl(values: Mapping[str, Any]) -> Optional[SslSettings]:
    provider = values["ssl.provider"]
    given = [k for k in ("ssl.truststore.path", "ssl.openssl.keyCertChain", "ssl.openssl.privateKey")
             if values[k]]
    if provider == "None":
        if given:
            raise ConfigError("%s is set but ssl.provider is 'None': set ssl.provider=JDK or OpenSSL "
                              "to connect with TLS" % given[0])
        return None
    for key in ("ssl.keystore.path", "ssl.keystore.password", "ssl.truststore.password"):
        if values[key]:
            shown = "[hidden]" if key.endswith("password") else repr(values[key])
            raise ConfigError(
                "%s=%s: Java key stores cannot be read here; give the CA certificates as a PEM file "
                "in ssl.truststore.path (keytool -exportcert -rfc -keystore STORE -alias ALIAS), and a "
                "client certificate as ssl.openssl.keyCertChain and ssl.openssl.privateKey (PEM)"
                % (key, shown))
    cert, key = values["ssl.openssl.keyCertChain"] or None, values["ssl.openssl.privateKey"] or None
    if (cert is None) != (key is None):
        raise ConfigError("ssl.openssl.keyCertChain cannot be set without ssl.openssl.privateKey and "
                          "vice-versa: %s is not set" % ("ssl.openssl.keyCertChain" if cert is None
                                                         else "ssl.openssl.privateKey"))
    truststore = values["ssl.truststore.path"] or None
    for name, path in (("ssl.truststore.path", truststore), ("ssl.openssl.keyCertChain", cert),
                       ("ssl.openssl.privateKey", key)):
        if path is None:
            continue
        try:
            with open(path, "rb") as handle:
                head = handle.read(4096)
        except OSError as exc:
            raise ConfigError("%s=%r cannot be read: %s" % (name, path, exc.strerror)) from None
        if b"-----BEGIN" not in head:
            raise ConfigError("%s=%r is not a PEM file%s" % (
                name, path, " (a Java key store? export its certificates with keytool -exportcert "
                            "-rfc)" if name == "ssl.truststore.path" else ""))
    return SslSettings(hostname_validation=values["ssl.hostnameValidation"], truststore=truststore,
                       cert_chain=cert, private_key=key, cipher_suites=tuple(values["ssl.cipherSuites"]))


def _table_def(prefix: str) -> ConfigDef:
    return ConfigDef([
        ConfigKey(prefix + "mapping", "string", NO_DEFAULT),
        ConfigKey(prefix + "consistencyLevel", "string", "LOCAL_ONE"),
        ConfigKey(prefix + "ttl", "int", -1, min=-1),
        ConfigKey(prefix + "ttlTimeUnit", "string", "SECONDS", choices=TIME_UNITS),
        ConfigKey(prefix + "timestampTimeUnit", "string", "MICROSECONDS", choices=TIME_UNITS),
        ConfigKey(prefix + "nullToUnset", "boolean", True),
        ConfigKey(prefix + "deletesEnabled", "boolean", True),
        ConfigKey(prefix + "query", "string", None),
    ])


def _topic_settings(raw: Mapping[str, str], topics: tuple) -> tuple:
    """``(tables, codecs)`` from the ``topic.*`` keys."""
    groups: dict = {}
    codec_keys: dict = {}
    for key in raw:
        if not key.startswith("topic."):
            continue
        codec = _CODEC_KEY.fullmatch(key)
        if codec:
            codec_keys.setdefault(codec.group(1), {})[codec.group(2)] = raw[key]
            continue
        match = _TABLE_KEY.fullmatch(key)
        if match is None:
            raise ConfigError(
                "%s matches neither topic.<topic>.<keyspace>.<table>.<setting> (settings: mapping, "
                "consistencyLevel, ttl, ttlTimeUnit, timestampTimeUnit, nullToUnset, deletesEnabled, "
                "query) nor topic.<topic>.codec.<setting> (locale, timeZone, timestamp, date, time, "
                "unit)" % key)
        topic, keyspace, table, _ = match.groups()
        prefix = "topic.%s.%s.%s." % (topic, keyspace, table)
        groups.setdefault(prefix, (topic, keyspace, table))
    tables = []
    for prefix, (topic, keyspace, table) in groups.items():
        values = _table_def(prefix).parse(raw)
        level = values[prefix + "consistencyLevel"].strip().upper()
        if level in ("SERIAL", "LOCAL_SERIAL"):
            raise ConfigError("%sconsistencyLevel=%r: a serial consistency level is for conditional "
                              "updates, not for these writes; use one of %s"
                              % (prefix, values[prefix + "consistencyLevel"], ", ".join(CONSISTENCY_LEVELS)))
        if level not in CONSISTENCY_LEVELS:
            raise ConfigError("%sconsistencyLevel must be one of %s, got %r"
                              % (prefix, ", ".join(CONSISTENCY_LEVELS), values[prefix + "consistencyLevel"]))
        query = (values[prefix + "query"] or "").strip() or None
        deletes = values[prefix + "deletesEnabled"]
        if query is not None and deletes:
            raise ConfigError("You cannot provide both %squery and %sdeletesEnabled. If you want to "
                              "provide own query, set the deletesEnabled to false." % (prefix, prefix))
        mapping = parse_mapping(values[prefix + "mapping"], prefix + "mapping")
        ttl = values[prefix + "ttl"]
        if mapping.ttl is not None and ttl != -1:
            raise ConfigError("%smapping maps __ttl and %sttl=%d is set too: keep one of them"
                              % (prefix, prefix, ttl))
        tables.append(TableConfig(
            topic=topic, keyspace=identifier(keyspace), table=identifier(table), prefix=prefix,
            mapping=mapping, consistency_level=level, ttl=ttl,
            ttl_unit=values[prefix + "ttlTimeUnit"], timestamp_unit=values[prefix + "timestampTimeUnit"],
            null_to_unset=values[prefix + "nullToUnset"], deletes_enabled=deletes, query=query))
    configured = {t.topic for t in tables}
    for topic in topics:
        if topic not in configured:
            raise ConfigError("topics=%r: missing topic settings (topic.%s.<keyspace>.<table>.mapping) "
                              "for topic %s" % (",".join(topics), topic, topic))
    for topic in codec_keys:
        if topic not in configured:
            raise ConfigError("topic.%s.codec.* is set but topic %s has no table settings "
                              "(topic.%s.<keyspace>.<table>.mapping)" % (topic, topic, topic))
    codecs = {topic: CodecSettings.from_values(topic, keys) for topic, keys in codec_keys.items()}
    return tuple(tables), codecs
