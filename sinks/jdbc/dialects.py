"""What differs between databases: column types, the staging load, the merge statements, errors.

Each :class:`Dialect` maps Connect types to column types as Confluent's JDBC dialects do (the README has
the table), loads a bundle's rows into a temporary staging table (PostgreSQL: ``COPY`` of text written
from the Arrow columns; MySQL/MariaDB: ``LOAD DATA LOCAL INFILE`` of the same text, or multi-row
``INSERT`` where the server refuses it or the load warns; SQLite: multi-row ``INSERT``), and writes from
there with one set-based statement per bundle and
table (``INSERT ... ON CONFLICT`` / ``ON DUPLICATE KEY UPDATE``, ``UPDATE ... FROM``, ``DELETE ...
WHERE EXISTS``). In upsert and update modes every write and delete is conditional on the source
coordinates kept with the row: a row is replaced only by a record of a later offset of its partition
(or of another partition or topic, where offsets do not compare), so a replay or an older bundle applied
late never leaves an older row.

Identifiers are always quoted by SQLAlchemy's identifier preparer of the dialect, never formatted in.
"""

from __future__ import annotations

import datetime
import decimal
import logging
import math
import os
import re
import tempfile
from typing import Optional, Sequence
from zoneinfo import ZoneInfo

from sinks.jdbc.records import HIDDEN, OFFSET_COLUMN, PARTITION_COLUMN, TOPIC_COLUMN, Column, to_json
from sinks.jdbc.staging import escape, literal_text

_LOGGER = logging.getLogger(__name__)

STAGE = "__beamconnect_stage"
OFFSETS_TABLE = "__beamconnect_offsets"


class Dialect:
    """One database family's SQL.

    Args:
      sa_dialect: The SQLAlchemy dialect (for identifier quoting).
      timezone: ``db.timezone``: timestamps are written as local times of this zone.
    """

    name = ""
    types: dict = {}
    key_types: dict = {}
    hidden_types = {TOPIC_COLUMN: "VARCHAR(255)", PARTITION_COLUMN: "INTEGER", OFFSET_COLUMN: "BIGINT"}
    rows_per_statement = 1000

    def __init__(self, sa_dialect, timezone: str = "UTC"):
        self._preparer = sa_dialect.identifier_preparer
        self._zone = ZoneInfo(timezone)
        self.zone_name = timezone

    # -- names and types

    def quote(self, name: str) -> str:
        return self._preparer.quote_identifier(name)

    def table(self, name: str, schema: Optional[str] = None) -> str:
        return (self.quote(schema) + "." if schema else "") + self.quote(name)

    def column_type(self, column: Column) -> str:
        if column.name in self.hidden_types and column.kind in (None, "string", "int32", "int64"):
            return self.hidden_types[column.name]
        if column.key and column.kind in self.key_types:
            return self.key_types[column.kind]
        if column.kind == "decimal":
            return self.decimal_type(column.scale)
        return self.types[column.kind]

    def decimal_type(self, scale: int) -> str:
        return "DECIMAL"

    def column_ddl(self, column: Column) -> str:
        default = self.default_literal(column)
        return "%s %s%s%s" % (self.quote(column.name), self.column_type(column),
                              "" if default is None else " DEFAULT " + default,
                              "" if column.optional else " NOT NULL")

    def default_literal(self, column: Column) -> Optional[str]:
        """The column's default as SQL, as Confluent's JDBC sink writes it in CREATE TABLE and ALTER
        TABLE ADD (so rows that were there before a column was added get its default); None for no
        default, or one of a kind written without (bytes, JSON, dates and times)."""
        value, kind = column.default, column.kind
        if value is None:
            return None
        if kind == "boolean":
            return "TRUE" if value else "FALSE"
        if kind in ("int8", "int16", "int32", "int64"):
            return str(int(value))
        if kind in ("float32", "float64"):
            return repr(float(value)) if math.isfinite(float(value)) else None
        if kind == "decimal":
            return str(value)
        if kind == "string":
            return self.string_literal(str(value))
        return None

    def string_literal(self, text: str) -> str:
        return "'%s'" % text.replace("'", "''")

    def create_table(self, table: str, columns: Sequence[Column], keys: Sequence[str]) -> str:
        parts = [self.column_ddl(c) for c in columns]
        if keys:
            parts.append("PRIMARY KEY (%s)" % ", ".join(self.quote(k) for k in keys))
        return "CREATE TABLE %s (%s)" % (table, ", ".join(parts))

    def add_column(self, table: str, column: Column) -> str:
        return "ALTER TABLE %s ADD COLUMN %s" % (table, self.column_ddl(column))

    def offsets_table(self, table: str) -> str:
        return ("CREATE TABLE %s (%s VARCHAR(255) NOT NULL, %s VARCHAR(255) NOT NULL, %s INTEGER NOT "
                "NULL, %s BIGINT NOT NULL, %s BIGINT NOT NULL, PRIMARY KEY (%s, %s, %s, %s))" % (
                    table, *map(self.quote, ("table_name", "kafka_topic", "kafka_partition",
                                             "start_offset", "end_offset", "table_name",
                                             "kafka_topic", "kafka_partition", "start_offset"))))

    def lock_suffix(self) -> str:
        return " FOR UPDATE"

    # -- values

    def binds_natively(self, kind: Optional[str]) -> bool:
        """Whether the driver takes values of ``kind`` as they come (no :meth:`adapt` needed)."""
        return kind in ("int8", "int16", "int32", "int64", "float32", "float64", "string", "boolean",
                        "bytes")

    def adapt(self, value, kind: Optional[str]):
        """A Python value as the driver should bind it into a column of ``kind``."""
        if value is None:
            return None
        if kind == "json" or isinstance(value, (dict, list, tuple)):
            return value if isinstance(value, str) else to_json(value)
        if kind == "timestamp" and isinstance(value, datetime.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(self._zone).replace(tzinfo=None)
            return value
        return value

    def literal(self, value) -> bytes:
        """The text of an adapted Python value in a staging payload (before escaping)."""
        return literal_text(value)

    def boolean_text(self, array):
        """A boolean Arrow array as payload text."""
        import pyarrow as pa
        import pyarrow.compute as pc

        return pc.cast(pc.cast(array, pa.large_string()), pa.large_binary())

    def bytes_text(self, array):
        """A binary Arrow array as payload text (escaped)."""
        import pyarrow as pa

        return escape(pa.array([None if v is None else self.literal(v) for v in array.to_pylist()],
                               pa.large_binary()))

    # -- staging and writes

    def create_stage(self, columns_sql: str, table: str) -> list:
        """Statements that make an empty session-private staging table shaped like ``columns_sql``
        of ``table`` (types only, no constraints)."""
        stage = self.quote(STAGE)
        return ["DROP TABLE IF EXISTS %s" % stage,
                "CREATE TEMPORARY TABLE %s AS SELECT %s FROM %s WHERE 1 = 0" % (stage, columns_sql,
                                                                                 table)]

    def drop_stage(self) -> str:
        return "DROP TABLE IF EXISTS %s" % self.quote(STAGE)

    def load(self, cursor, staged) -> None:
        """Loads a :class:`~sinks.jdbc.staging.Staged` into the staging table."""
        self.insert_rows(cursor, staged.names, staged.rows())

    def insert_rows(self, cursor, names: Sequence[str], rows: Sequence[tuple]) -> None:
        """Loads rows into the staging table with multi-row INSERTs."""
        stage = self.quote(STAGE)
        cols = ", ".join(self.quote(n) for n in names)
        one = "(%s)" % ", ".join([self.placeholder] * len(names))
        step = max(1, min(self.rows_per_statement, self.max_parameters // max(1, len(names))))
        for start in range(0, len(rows), step):
            chunk = rows[start:start + step]
            cursor.execute("INSERT INTO %s (%s) VALUES %s" % (stage, cols, ", ".join([one] * len(chunk))),
                           [v for row in chunk for v in row])

    placeholder = "%s"
    max_parameters = 60000

    def newer(self, target: str, source: str) -> str:
        """True where the ``source`` row's coordinates are later than the ``target`` row's."""
        t, p, o = (self.quote(c) for c in HIDDEN)
        return ("(%(T)s.%(o)s IS NULL OR %(T)s.%(t)s <> %(S)s.%(t)s OR %(T)s.%(p)s <> %(S)s.%(p)s "
                "OR %(T)s.%(o)s < %(S)s.%(o)s)" % {"T": target, "S": source, "t": t, "p": p, "o": o})

    def insert(self, table: str, names: Sequence[str]) -> str:
        cols = ", ".join(self.quote(n) for n in names)
        return "INSERT INTO %s (%s) SELECT %s FROM %s" % (table, cols, cols, self.quote(STAGE))

    def upsert(self, table: str, names: Sequence[str], keys: Sequence[str]) -> str:
        raise NotImplementedError

    def update(self, table: str, table_name: str, names: Sequence[str], keys: Sequence[str],
               conditional: bool) -> str:
        stage = self.quote(STAGE)
        target = table_name
        sets = ", ".join("%s = %s.%s" % (self.quote(n), stage, self.quote(n)) for n in names
                         if n not in keys)
        where = " AND ".join("%s.%s = %s.%s" % (target, self.quote(k), stage, self.quote(k))
                             for k in keys)
        if conditional:
            where += " AND " + self.newer(target, stage)
        return "UPDATE %s SET %s FROM %s WHERE %s" % (table, sets, stage, where)

    def delete(self, table: str, table_name: str, keys: Sequence[str], conditional: bool) -> str:
        stage = self.quote(STAGE)
        target = table_name
        where = " AND ".join("%s.%s = %s.%s" % (target, self.quote(k), stage, self.quote(k))
                             for k in keys)
        if conditional:
            where += " AND " + self.newer(target, stage)
        return "DELETE FROM %s WHERE EXISTS (SELECT 1 FROM %s WHERE %s)" % (table, stage, where)

    # -- errors

    def is_record_error(self, error: Exception) -> bool:
        """Whether a failed statement was refused for its data (a constraint, a value too long)."""
        return False


class PostgresDialect(Dialect):
    name = "postgresql"
    types = {"int8": "SMALLINT", "int16": "SMALLINT", "int32": "INT", "int64": "BIGINT",
             "float32": "REAL", "float64": "DOUBLE PRECISION", "boolean": "BOOLEAN", "string": "TEXT",
             "bytes": "BYTEA", "date": "DATE", "time": "TIME", "timestamp": "TIMESTAMP",
             "json": "JSONB"}
    hidden_types = {TOPIC_COLUMN: "TEXT", PARTITION_COLUMN: "INT", OFFSET_COLUMN: "BIGINT"}

    def create_stage(self, columns_sql: str, table: str) -> list:
        stage = self.quote(STAGE)
        return ["DROP TABLE IF EXISTS %s" % stage,
                "CREATE TEMPORARY TABLE %s ON COMMIT DROP AS SELECT %s FROM %s WHERE 1 = 0"
                % (stage, columns_sql, table)]

    def load(self, cursor, staged) -> None:
        """``COPY ... FROM STDIN`` (text format) of the staged columns' payload."""
        statement = "COPY %s (%s) FROM STDIN" % (self.quote(STAGE),
                                                ", ".join(self.quote(n) for n in staged.names))
        payload = staged.payload()
        with cursor.copy(statement) as copy:
            for start in range(0, len(payload), _COPY_CHUNK):
                copy.write(payload[start:start + _COPY_CHUNK])

    def literal(self, value) -> bytes:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return b"\\x" + bytes(value).hex().encode()  # bytea's hex input
        return literal_text(value)

    def upsert(self, table, names, keys) -> str:
        sets = ", ".join("%s = EXCLUDED.%s" % (self.quote(n), self.quote(n)) for n in names
                         if n not in keys)
        return "%s ON CONFLICT (%s) DO UPDATE SET %s WHERE %s" % (
            self.insert(table, names), ", ".join(self.quote(k) for k in keys), sets,
            self.newer(table, "EXCLUDED"))

    def is_record_error(self, error) -> bool:
        code = getattr(error, "sqlstate", None) or ""
        return code[:2] in ("22", "23")  # data exception, integrity constraint violation


class MySqlDialect(Dialect):
    name = "mysql"
    types = {"int8": "TINYINT", "int16": "SMALLINT", "int32": "INT", "int64": "BIGINT",
             "float32": "FLOAT", "float64": "DOUBLE", "boolean": "TINYINT", "string": "TEXT",
             "bytes": "VARBINARY(1024)", "date": "DATE", "time": "TIME(3)",
             "timestamp": "DATETIME(3)", "json": "JSON"}
    key_types = {"string": "VARCHAR(256)", "bytes": "VARBINARY(767)", "json": "VARCHAR(256)"}
    _RECORD_ERRORS = {1048, 1062, 1264, 1265, 1292, 1366, 1406, 1451, 1452, 1690, 3140, 3819, 4025}

    def decimal_type(self, scale: int) -> str:
        return "DECIMAL(65, %d)" % min(scale, 30)

    def default_literal(self, column: Column) -> Optional[str]:
        if column.kind == "string" and not column.key:  # TEXT takes no literal DEFAULT in MySQL
            return None
        return super().default_literal(column)

    def string_literal(self, text: str) -> str:
        return "'%s'" % text.replace("\\", "\\\\").replace("'", "''")

    def create_table(self, table, columns, keys) -> str:
        return super().create_table(table, columns, keys) + " DEFAULT CHARSET=utf8mb4"

    def offsets_table(self, table) -> str:
        return super().offsets_table(table) + " DEFAULT CHARSET=utf8mb4"

    def drop_stage(self) -> str:
        return "DROP TEMPORARY TABLE IF EXISTS %s" % self.quote(STAGE)

    def create_stage(self, columns_sql, table) -> list:
        stage = self.quote(STAGE)
        return ["DROP TEMPORARY TABLE IF EXISTS %s" % stage,
                "CREATE TEMPORARY TABLE %s AS SELECT %s FROM %s WHERE 1 = 0" % (stage, columns_sql,
                                                                                 table)]

    #: Errors of a server (or client) that does not take ``LOAD DATA LOCAL INFILE``.
    _NO_LOCAL_INFILE = {1148, 2068, 3948, 4166}

    def __init__(self, sa_dialect, timezone: str = "UTC", local_infile: bool = True):
        super().__init__(sa_dialect, timezone)
        self.local_infile = local_infile

    def adapt(self, value, kind):
        if isinstance(value, datetime.time) and value.tzinfo is not None:
            value = value.replace(tzinfo=None)
        return super().adapt(value, kind)

    def literal(self, value) -> bytes:
        if isinstance(value, bool):
            return b"1" if value else b"0"
        return literal_text(value)

    def boolean_text(self, array):
        import pyarrow as pa
        import pyarrow.compute as pc

        return pc.cast(pc.cast(pc.cast(array, pa.int8()), pa.large_string()), pa.large_binary())

    def bytes_text(self, array):
        import pyarrow as pa

        return escape(array.cast(pa.large_binary()))

    def load(self, cursor, staged) -> None:
        """``LOAD DATA LOCAL INFILE`` of the staged payload; multi-row INSERTs where the server refuses
        it, or where the load reported a warning (LOCAL turns data errors into warnings, so the INSERTs
        decide: they refuse what strict mode refuses, as they always did)."""
        if self.local_infile and self._load_data(cursor, staged):
            return
        self.insert_rows(cursor, staged.names, staged.rows())

    def _load_data(self, cursor, staged) -> bool:
        from sinks.jdbc import local_infile  # PyMySQL's, imported only with the driver

        payload = staged.payload()
        handle, path = tempfile.mkstemp(prefix="beamconnect-", suffix=".tsv")
        try:
            with os.fdopen(handle, "wb") as f:
                f.write(payload)
            statement = ("LOAD DATA LOCAL INFILE '%s' INTO TABLE %s CHARACTER SET binary FIELDS "
                         "TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (%s)"
                         % (path.replace("\\", "\\\\").replace("'", "\\'"), self.quote(STAGE),
                            ", ".join(self.quote(n) for n in staged.names)))
            try:
                with local_infile.offering(cursor, path):
                    cursor.execute(statement)
            except Exception as exc:
                error = getattr(exc, "orig", None) or exc
                args = getattr(error, "args", ())
                if not (args and args[0] in self._NO_LOCAL_INFILE):
                    raise
                _LOGGER.warning("the server refuses LOAD DATA LOCAL INFILE (%s); rows are staged "
                                "with multi-row INSERTs", args[1] if len(args) > 1 else args[0])
                self.local_infile = False
                return False
            loaded = cursor.rowcount
            cursor.execute("SELECT @@warning_count")
            (warnings,) = cursor.fetchone()
            if loaded == len(staged) and not int(warnings):
                return True
            cursor.execute("DELETE FROM %s" % self.quote(STAGE))
            return False
        finally:
            os.unlink(path)

    def upsert(self, table, names, keys) -> str:
        # Assignments run left to right and see the values already assigned: the source coordinates
        # go last, offset first, so every IF() compares against the row's old coordinates.
        hidden_order = (OFFSET_COLUMN, PARTITION_COLUMN, TOPIC_COLUMN)
        ordered = [n for n in names if n not in keys and n not in HIDDEN] + [
            n for n in hidden_order if n in names and n not in keys]
        t, p, o = (self.quote(c) for c in HIDDEN)
        newer = ("(%(T)s.%(o)s IS NULL OR %(T)s.%(t)s <> VALUES(%(t)s) OR %(T)s.%(p)s <> VALUES(%(p)s)"
                 " OR %(T)s.%(o)s < VALUES(%(o)s))" % {"T": table, "t": t, "p": p, "o": o})
        sets = ", ".join("%s.%s = IF(%s, VALUES(%s), %s.%s)" % (
            table, self.quote(n), newer, self.quote(n), table, self.quote(n)) for n in ordered)
        return "%s ON DUPLICATE KEY UPDATE %s" % (self.insert(table, names), sets)

    def update(self, table, table_name, names, keys, conditional) -> str:
        stage = self.quote(STAGE)
        on = " AND ".join("%s.%s = %s.%s" % (table, self.quote(k), stage, self.quote(k)) for k in keys)
        sets = ", ".join("%s.%s = %s.%s" % (table, self.quote(n), stage, self.quote(n)) for n in names
                         if n not in keys)
        where = (" WHERE " + self.newer(table, stage)) if conditional else ""
        return "UPDATE %s JOIN %s ON %s SET %s%s" % (table, stage, on, sets, where)

    def delete(self, table, table_name, keys, conditional) -> str:
        stage = self.quote(STAGE)
        on = " AND ".join("%s.%s = %s.%s" % (table, self.quote(k), stage, self.quote(k)) for k in keys)
        where = (" WHERE " + self.newer(table, stage)) if conditional else ""
        return "DELETE %s FROM %s JOIN %s ON %s%s" % (table, table, stage, on, where)

    def is_record_error(self, error) -> bool:
        args = getattr(error, "args", ())
        return bool(args) and args[0] in self._RECORD_ERRORS


class SqliteDialect(Dialect):
    name = "sqlite"
    types = {"int8": "INTEGER", "int16": "INTEGER", "int32": "INTEGER", "int64": "INTEGER",
             "float32": "REAL", "float64": "REAL", "boolean": "INTEGER", "string": "TEXT",
             "bytes": "BLOB", "date": "DATE", "time": "TIME", "timestamp": "DATETIME",
             "json": "TEXT"}
    hidden_types = {TOPIC_COLUMN: "TEXT", PARTITION_COLUMN: "INTEGER", OFFSET_COLUMN: "INTEGER"}
    placeholder = "?"
    max_parameters = 30000

    def decimal_type(self, scale: int) -> str:
        return "NUMERIC"

    def lock_suffix(self) -> str:
        return ""  # the write transaction is BEGIN IMMEDIATE: the whole database is locked

    def create_stage(self, columns_sql, table) -> list:
        stage = self.quote(STAGE)
        return ["DROP TABLE IF EXISTS temp.%s" % stage,
                "CREATE TEMPORARY TABLE %s AS SELECT %s FROM %s WHERE 1 = 0" % (stage, columns_sql,
                                                                                 table)]

    def drop_stage(self) -> str:
        return "DROP TABLE IF EXISTS temp.%s" % self.quote(STAGE)

    def adapt(self, value, kind):
        value = super().adapt(value, kind)
        if isinstance(value, decimal.Decimal):
            return str(value)
        if isinstance(value, datetime.datetime):
            return value.isoformat(sep=" ")
        if isinstance(value, (datetime.date, datetime.time)):
            return value.isoformat()
        return value

    def upsert(self, table, names, keys) -> str:
        sets = ", ".join("%s = excluded.%s" % (self.quote(n), self.quote(n)) for n in names
                         if n not in keys)
        # "WHERE true" keeps SQLite's parser from reading ON CONFLICT as a join's ON
        return "%s WHERE true ON CONFLICT (%s) DO UPDATE SET %s WHERE %s" % (
            self.insert(table, names), ", ".join(self.quote(k) for k in keys), sets,
            self.newer(table, "excluded"))

    def is_record_error(self, error) -> bool:
        import sqlite3

        return isinstance(error, sqlite3.IntegrityError) or (
            isinstance(error, sqlite3.DataError))


DIALECT_CLASSES = {"postgresql": PostgresDialect, "mysql": MySqlDialect, "sqlite": SqliteDialect}

_COPY_CHUNK = 1 << 20

_LINE = re.compile(r"COPY [^,]+, line (\d+)")


def copy_line(error) -> Optional[int]:
    """The 1-based line of a failed PostgreSQL COPY, from the error's context."""
    context = getattr(getattr(error, "diag", None), "context", None) or ""
    match = _LINE.search(context)
    return int(match.group(1)) if match else None
