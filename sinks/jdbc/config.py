"""Config keys of the JDBC sink: Confluent's JDBC sink keys and defaults, and Debezium's JDBC sink keys
where they differ (``primary.key.mode``, ``collection.name.format``, ``schema.evolution``...)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping

from common.configdef import ConfigDef, ConfigKey, NO_DEFAULT
from common.errors import ConfigError
from sinks.jdbc.urls import Target, parse_url

INSERT_MODES = ("insert", "upsert", "update")
PK_MODES = ("none", "kafka", "record_key", "record_value")
SCHEMA_EVOLUTION = ("none", "basic")
TABLE_TYPES = ("TABLE",)
# Confluent's dialect class names and Debezium's dialect names, for dialect.name.
DIALECT_NAMES = {"PostgreSqlDatabaseDialect": "postgresql", "MySqlDatabaseDialect": "mysql",
                 "SqliteDatabaseDialect": "sqlite", "postgresql": "postgresql", "mysql": "mysql",
                 "mariadb": "mysql", "sqlite": "sqlite"}
KAFKA_PK_FIELDS = ("__connect_topic", "__connect_partition", "__connect_offset")

CONFIG_DEF = ConfigDef([
    ConfigKey("connection.url", "string", NO_DEFAULT, group="Connection",
              doc="jdbc:postgresql://HOST:PORT/DB, jdbc:mysql://, jdbc:mariadb:// or jdbc:sqlite:PATH "
                  "(query parameters such as sslmode, currentSchema), or a SQLAlchemy URL."),
    ConfigKey("connection.user", "string", None, group="Connection", doc="Database user."),
    ConfigKey("connection.username", "string", None, group="Connection",
              doc="Debezium's name for connection.user."),
    ConfigKey("connection.password", "password", None, group="Connection", doc="Database password."),
    ConfigKey("connection.attempts", "int", 3, min=1, group="Connection",
              doc="Attempts to connect before the run fails."),
    ConfigKey("connection.backoff.ms", "int", 10000, min=0, group="Connection",
              doc="Wait (ms) between two connection attempts."),
    ConfigKey("dialect.name", "string", None, group="Connection", choices=tuple(DIALECT_NAMES),
              doc="The database dialect; default: from connection.url."),
    ConfigKey("insert.mode", "string", "insert", choices=INSERT_MODES, group="Writes",
              doc="insert: INSERT (exactly once through the offsets table); upsert: insert or update "
                  "by primary key; update: update existing rows only."),
    ConfigKey("pk.mode", "string", "none", choices=PK_MODES, group="Writes",
              doc="Primary key: none, kafka (topic, partition, offset), record_key or record_value."),
    ConfigKey("pk.fields", "list", (), group="Writes",
              doc="Primary key fields (record_key/record_value), or the three kafka column names."),
    ConfigKey("primary.key.mode", "string", None, choices=PK_MODES, group="Writes",
              doc="Debezium's name for pk.mode."),
    ConfigKey("primary.key.fields", "list", None, group="Writes",
              doc="Debezium's name for pk.fields."),
    ConfigKey("fields.whitelist", "list", (), group="Writes",
              doc="Value fields to write (default: all)."),
    ConfigKey("field.include.list", "list", None, group="Writes",
              doc="Debezium's name for fields.whitelist (topic:field entries are not supported)."),
    ConfigKey("delete.enabled", "boolean", False, group="Writes",
              doc="A tombstone (null value) deletes the row of its key; needs pk.mode=record_key."),
    ConfigKey("table.name.format", "string", "${topic}", group="Tables",
              doc="The table of each record; ${topic} is its (target) topic."),
    ConfigKey("collection.name.format", "string", None, group="Tables",
              doc="Debezium's name for table.name.format."),
    ConfigKey("auto.create", "boolean", False, group="Tables",
              doc="Create a missing table from the record schema (primary key per pk.mode)."),
    ConfigKey("auto.evolve", "boolean", False, group="Tables",
              doc="Add missing columns (nullable); columns are never dropped."),
    ConfigKey("schema.evolution", "string", None, choices=SCHEMA_EVOLUTION, group="Tables",
              doc="Debezium's auto.create + auto.evolve in one: none or basic."),
    ConfigKey("quote.sql.identifiers", "string", "always", choices=("always", "never"),
              group="Tables",
              doc="Table and column names are always quoted here; never is refused."),
    ConfigKey("table.types", "list", ("TABLE",), group="Tables",
              doc="Kinds of table written: TABLE (views are not written)."),
    ConfigKey("batch.size", "int", 3000, min=1, group="Writes",
              doc="Offsets per bundle: each is reduced, staged and merged in one transaction."),
    ConfigKey("max.retries", "int", 10, min=0, group="Retries",
              doc="Retries of a write that failed because the database was away."),
    ConfigKey("retry.backoff.ms", "int", 3000, min=0, group="Retries",
              doc="Wait (ms) between two retries of a write."),
    ConfigKey("db.timezone", "string", "UTC", group="Writes",
              doc="Time zone of Timestamp, Time and Date values in columns without a time zone."),
    ConfigKey("use.reduction.buffer", "boolean", False, group="Writes",
              doc="Debezium's key; upsert and update always reduce a bundle to the last record per "
                  "key, insert never does."),
    ConfigKey("truncate.enabled", "boolean", False, group="Writes",
              doc="Debezium: truncate events; refused (this sink reads no truncate events)."),
])

IGNORED_KEYS = {
    "database.time_zone": "use db.timezone",
    "connection.pool.min_size": "one connection per worker",
    "connection.pool.max_size": "one connection per worker",
    "connection.pool.acquire_increment": "one connection per worker",
    "connection.pool.timeout": "one connection per worker",
    "connection.provider": "SQLAlchemy makes the connections",
    "hibernate.c3p0.min_size": "no Hibernate here",
    "flush.max.retries": "use max.retries",
    "flush.retry.delay.ms": "use retry.backoff.ms",
    "dialect.postgres.postgis.schema": "PostGIS types are not written",
    "dialect.sqlserver.identity.insert": "SQL Server is not supported",
    "mssql.use.merge.holdlock": "SQL Server is not supported",
    "column.naming.strategy": "columns are named after the fields",
    "table.naming.strategy": "use table.name.format",
    "collection.naming.strategy": "use collection.name.format",
    "trim.sensitive.fields": "no effect",
}


@dataclasses.dataclass(frozen=True)
class JdbcSinkConfig:
    """The parsed JDBC sink config.

    Attributes:
      target: The database (dialect, host, database, user; the password hidden).
      insert_mode: insert, upsert or update.
      pk_mode: none, kafka, record_key or record_value.
      pk_fields: The primary key's fields (for kafka, the three column names).
      fields: The value fields written (empty: all).
      delete_enabled: Tombstones delete rows.
      table_format: table.name.format.
      auto_create: Create missing tables.
      auto_evolve: Add missing columns.
      batch_size: Offsets per bundle.
      max_retries: Retries of a write when the database is away.
      retry_backoff_ms: Wait between them.
      attempts: Connection attempts.
      backoff_ms: Wait between them.
      timezone: db.timezone.
    """

    target: Target
    insert_mode: str = "insert"
    pk_mode: str = "none"
    pk_fields: tuple = ()
    fields: tuple = ()
    delete_enabled: bool = False
    table_format: str = "${topic}"
    auto_create: bool = False
    auto_evolve: bool = False
    batch_size: int = 3000
    max_retries: int = 10
    retry_backoff_ms: int = 3000
    attempts: int = 3
    backoff_ms: int = 10000
    timezone: str = "UTC"

    @property
    def flush_size(self) -> int:
        """Offsets per bundle (``batch.size``), as every sink's config names it."""
        return self.batch_size

    @property
    def conditional(self) -> bool:
        """Whether rows carry their source coordinates and writes compare offsets (upsert, update)."""
        return self.insert_mode != "insert"

    def table_name(self, topic: str) -> str:
        return self.table_format.replace("${topic}", topic)

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> "JdbcSinkConfig":
        def either(confluent: str, debezium: str):
            if values[debezium] is not None and values[confluent] != CONFIG_DEF[confluent].default:
                if values[debezium] != values[confluent]:
                    raise ConfigError("%s=%r and %s=%r conflict: set one of them"
                                      % (confluent, _text(values[confluent]), debezium,
                                         _text(values[debezium])))
            return values[debezium] if values[debezium] is not None else values[confluent]

        dialect = DIALECT_NAMES[values["dialect.name"]] if values["dialect.name"] else None
        user = values["connection.user"]
        if values["connection.username"] is not None:
            if user is not None and user != values["connection.username"]:
                raise ConfigError("connection.user=%r and connection.username=%r conflict: set one "
                                  "of them" % (user, values["connection.username"]))
            user = values["connection.username"]
        target = parse_url(values["connection.url"], user, values["connection.password"])
        if dialect is not None and dialect != target.dialect:
            raise ConfigError("dialect.name=%r does not match connection.url, a %s URL"
                              % (values["dialect.name"], target.dialect))
        insert_mode = values["insert.mode"]
        pk_mode = either("pk.mode", "primary.key.mode")
        pk_fields = tuple(either("pk.fields", "primary.key.fields"))
        if values["field.include.list"] is not None and values["fields.whitelist"]:
            raise ConfigError("fields.whitelist and field.include.list conflict: set one of them")
        fields = tuple(values["field.include.list"] or values["fields.whitelist"])
        if any(":" in f for f in fields):
            raise ConfigError("field.include.list entries must be field names, got %r (topic:field "
                              "entries are not supported)" % ",".join(fields))
        table_format = either("table.name.format", "collection.name.format")
        if not table_format.strip():
            raise ConfigError("table.name.format must not be empty, got %r" % table_format)
        unknown = set(re.findall(r"\$\{([^}]*)\}", table_format)) - {"topic"}
        if unknown:
            raise ConfigError("table.name.format may only use ${topic}, got %r" % table_format)
        auto_create, auto_evolve = values["auto.create"], values["auto.evolve"]
        if values["schema.evolution"] is not None:
            basic = values["schema.evolution"] == "basic"
            auto_create, auto_evolve = auto_create or basic, auto_evolve or basic
        if values["quote.sql.identifiers"] == "never":
            raise ConfigError("quote.sql.identifiers must be 'always', got 'never': table and column "
                              "names from topics and fields are always quoted identifiers")
        if tuple(t.upper() for t in values["table.types"]) != TABLE_TYPES:
            raise ConfigError("table.types must be 'TABLE', got %r: views are not written"
                              % ",".join(values["table.types"]))
        if values["truncate.enabled"]:
            raise ConfigError("truncate.enabled must be false, got 'true': this sink reads no "
                              "truncate events")
        if values["delete.enabled"] and pk_mode != "record_key":
            raise ConfigError("delete.enabled=true needs pk.mode=record_key, got pk.mode=%r" % pk_mode)
        if insert_mode != "insert" and pk_mode == "none":
            raise ConfigError("insert.mode=%s needs a primary key: pk.mode must be kafka, record_key "
                              "or record_value, got 'none'" % insert_mode)
        if pk_mode == "kafka":
            if not pk_fields:
                pk_fields = KAFKA_PK_FIELDS
            elif len(pk_fields) != 3:
                raise ConfigError("pk.fields with pk.mode=kafka must name 3 columns (topic, partition, "
                                  "offset), got %r" % ",".join(pk_fields))
        elif pk_mode == "none" and pk_fields:
            raise ConfigError("pk.fields must be empty with pk.mode=none, got %r" % ",".join(pk_fields))
        if len(set(pk_fields)) != len(pk_fields):
            raise ConfigError("pk.fields must not repeat a field, got %r" % ",".join(pk_fields))
        try:
            import zoneinfo

            zoneinfo.ZoneInfo(values["db.timezone"])
        except Exception:
            raise ConfigError("db.timezone must be an IANA time zone such as 'UTC', got %r"
                              % values["db.timezone"]) from None
        return cls(target=target, insert_mode=insert_mode, pk_mode=pk_mode, pk_fields=pk_fields,
                   fields=fields, delete_enabled=values["delete.enabled"], table_format=table_format,
                   auto_create=auto_create, auto_evolve=auto_evolve, batch_size=values["batch.size"],
                   max_retries=values["max.retries"], retry_backoff_ms=values["retry.backoff.ms"],
                   attempts=values["connection.attempts"], backoff_ms=values["connection.backoff.ms"],
                   timezone=values["db.timezone"])


def _text(value) -> str:
    return ",".join(value) if isinstance(value, tuple) else str(value)

