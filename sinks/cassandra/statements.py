"""Prepared statements per table, and each record bound to one.

For every ``topic.<topic>.<keyspace>.<table>`` the sink prepares, once per worker (and once in
``check``, which is where a bad mapping or query is found):

- ``INSERT INTO ks.table (c1, c2, ...) VALUES (?, ?, ...) USING TIMESTAMP ? [AND TTL ?|n]``: the
  mapped columns, the write timestamp, and the TTL (``__ttl`` mapped: bound per record; ``ttl``: a
  constant, in seconds after ``ttlTimeUnit``), as the DataStax connector writes it;
- ``DELETE FROM ks.table USING TIMESTAMP ? WHERE pk1 = ? AND ...`` when ``deletesEnabled`` and the
  mapping maps every column of the table (the connector's condition): a record whose non-null
  fields all go to primary key columns (a tombstone, with the key mapped) deletes the row;
- or the user's ``query``, bound by its bind markers' names (``__ttl`` and ``__timestamp`` are the
  markers ``:message_internal_ttl`` and ``:message_internal_timestamp``, as in the connector).

The write timestamp is the record's: its Kafka timestamp in milliseconds times 1000 (what the DataStax
connector binds), or the ``__timestamp`` field: a number in ``timestampTimeUnit``, or a Connect
``Timestamp`` (which the connector refuses; here it is taken at its microsecond); a delete whose
record has no ``__timestamp`` field (a tombstone) is at its Kafka timestamp. Unlike the
connector, deletes carry it too (the connector deletes at the time of the write, so that a replayed older record, or a
newer one written after the delete, is decided by when the sink ran). Every cell a record writes thus
has the same timestamp on every run: a replay writes the same cells again, and an older record never
wins over a newer one. Records with the same timestamp tie as Cassandra ties cells: a delete wins, else
the greater value. A user ``query`` writes what it says: it is replay-safe when it carries ``USING
TIMESTAMP`` bound from the record.

``now()`` binds a time-based UUID made from the record, not from the clock: its time is the record's
timestamp (plus up to a millisecond from its coordinates) and its clock sequence and node are digests
of ``topic/partition/offset``, so a replay writes the same UUID (the connector's is new on every
write, which would make a replay add rows).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import uuid
from typing import Any, Optional, Sequence

from common.errors import ConfigError
from sinks.cassandra.codecs import CodecError, CodecSettings, decode_header, encoder
from sinks.cassandra.config import TableConfig, quote, to_micros, to_seconds
from sinks.cassandra.mapping import Field, TableSchema, check_bind_markers, check_columns

TTL_MARKER = "message_internal_ttl"
TIMESTAMP_MARKER = "message_internal_timestamp"
_UUID_EPOCH_TICKS = 0x01B21DD213814000  # 100 ns ticks from 1582-10-15 to 1970-01-01
_MISSING = object()
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


class Refused(Exception):
    """A record that cannot be bound (a missing field, a value its column refuses)."""


def insert_cql(table: TableConfig) -> str:
    columns = [c for c, _ in table.mapping.columns]
    cql = "INSERT INTO %s (%s) VALUES (%s) USING TIMESTAMP ?" % (
        table.cql_name, ", ".join(quote(c) for c in columns), ", ".join("?" for _ in columns))
    if table.mapping.ttl is not None:
        cql += " AND TTL ?"
    elif table.ttl_seconds is not None:
        cql += " AND TTL %d" % table.ttl_seconds
    return cql


def delete_cql(table: TableConfig, schema: TableSchema) -> str:
    return "DELETE FROM %s USING TIMESTAMP ? WHERE %s" % (
        table.cql_name, " AND ".join("%s = ?" % quote(c) for c in schema.primary_key))


def time_uuid(timestamp_ms: int, topic: str, partition: int, offset: int) -> uuid.UUID:
    """The version 1 UUID ``now()`` binds for a record: the record's time, stable across replays."""
    digest = hashlib.sha1(("%s/%d/%d" % (topic, partition, offset)).encode("utf-8")).digest()
    ticks = max(timestamp_ms, 0) * 10_000 + _UUID_EPOCH_TICKS + int.from_bytes(digest[:2], "big") % 10_000
    clock_seq = int.from_bytes(digest[2:4], "big") & 0x3FFF
    node = int.from_bytes(digest[4:10], "big") | 0x010000000000  # multicast bit: not a MAC address
    return uuid.UUID(fields=(ticks & 0xFFFFFFFF, (ticks >> 32) & 0xFFFF,
                             ((ticks >> 48) & 0x0FFF) | 0x1000, 0x80 | (clock_seq >> 8),
                             clock_seq & 0xFF, node))


@dataclasses.dataclass
class Record:
    """One record as the mapping reads it.

    Attributes:
      key: The converted key (Python data).
      value: The converted value.
      headers: ``(name, bytes)`` pairs, or None.
      timestamp: The Kafka timestamp (ms), or None.
      topic: The source topic (for ``now()``).
      partition: The source partition.
      offset: The source offset.
      key_fields: The key's field names when its schema is a struct (a field outside them is
        missing), else None.
      value_fields: Likewise for the value.
    """

    key: Any
    value: Any
    headers: Optional[list]
    timestamp: Optional[int]
    topic: str
    partition: int
    offset: int
    key_fields: Optional[frozenset] = None
    value_fields: Optional[frozenset] = None


@dataclasses.dataclass
class _Column:
    name: str
    field: Field
    cql_type: Any
    encode: Any
    primary: bool


class TablePlan:
    """A table's prepared statements and how a record binds to them.

    Built by :func:`prepare` with a live session; not picklable (made in a worker's ``setup``).
    """

    def __init__(self, table: TableConfig, insert, delete, columns: list, markers: Optional[list],
                 primary_key: tuple, unset):
        self.table = table
        self.insert = insert
        self.delete = delete
        self.columns = columns
        self.markers = markers
        self.primary_key = primary_key
        self._unset = unset
        self._by_name = {c.name: c for c in columns}
        from cassandra import ConsistencyLevel

        level = getattr(ConsistencyLevel, table.consistency_level)
        for statement in (insert, delete):
            if statement is not None:
                statement.consistency_level = level
                statement.is_idempotent = True

    def bind(self, record: Record):
        """The bound statement writing ``record`` (an insert, or a delete of its row).

        Raises:
          Refused: the record cannot be written, with the reason.
        """
        mapping = self.table.mapping
        values = {c.name: self._read(record, c.field, c) for c in self.columns}
        deleting = self.delete is not None and self._is_delete(record, values)
        for name in self.primary_key:
            if values.get(name) is None:
                raise Refused("Primary key column %s cannot be mapped to null (%s is null)"
                              % (quote(name), self._by_name[name].field.text))
        timestamp = self._timestamp(record, deleting)
        if deleting:
            return self._bound(self.delete, [timestamp] + [
                self._encoded(self._by_name[n], values[n]) for n in self.primary_key])
        if self.markers is not None:  # the user's query, bound by marker names
            bound = []
            for marker in self.markers:
                if marker == TTL_MARKER and mapping.ttl is not None:
                    bound.append(self._ttl(record))
                elif marker == TIMESTAMP_MARKER and mapping.timestamp is not None:
                    bound.append(timestamp)
                else:
                    column = self._by_name[marker]
                    bound.append(self._encoded(column, values[marker]))
            return self._bound(self.insert, bound)
        bound = [self._encoded(c, values[c.name]) for c in self.columns] + [timestamp]
        if mapping.ttl is not None:
            bound.append(self._ttl(record))
        return self._bound(self.insert, bound)

    def _bound(self, statement, values: list):
        try:
            return statement.bind(values)
        except Exception as exc:  # the driver serializes here: a value its type does not take
            raise Refused("a value cannot be bound to %s: %s" % (self.table.name, exc)) from None

    def _encoded(self, column: _Column, value):
        if value is None:
            return self._unset if self.table.null_to_unset else None
        try:
            return column.encode(value)
        except CodecError as exc:
            raise Refused("column %s (%s): %s" % (quote(column.name), column.field.text, exc)) from None

    def _is_delete(self, record: Record, values: dict) -> bool:
        """The connector's rule: a delete when no non-null field goes to a column outside the
        primary key (and the mapping maps more than the primary key)."""
        if set(self.primary_key) == {c.name for c in self.columns}:
            return False
        for column in self.columns:
            if not column.primary and column.field.source != "function" and values[column.name] is not None:
                return False
        mapping = self.table.mapping
        for field in (mapping.ttl, mapping.timestamp):
            if field is not None and self._read(record, field, None) is not None:
                return False
        return True

    def _timestamp(self, record: Record, deleting: bool = False):
        field = self.table.mapping.timestamp
        value = self._read(record, field, None) if field is not None else None
        if value is None and (field is None or deleting):  # a tombstone has no __timestamp field
            if record.timestamp is None or record.timestamp < 0:
                return self._unset  # a record without a timestamp is written at the server's time
            return record.timestamp * 1000
        if isinstance(value, datetime.datetime):  # a Connect Timestamp (InsertField's timestamp.field)
            if value.tzinfo is None:
                value = value.replace(tzinfo=datetime.timezone.utc)
            return (value - _EPOCH) // datetime.timedelta(microseconds=1)
        return to_micros(self._number(record, field, "Timestamp"), self.table.timestamp_unit)

    def _ttl(self, record: Record) -> int:
        return to_seconds(self._number(record, self.table.mapping.ttl, "TTL"), self.table.ttl_unit)

    def _number(self, record: Record, field: Field, what: str) -> int:
        value = self._read(record, field, None)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Refused("The value %r of field %s used as a %s is not a Number but should be"
                          % (value, field.text, what))
        return int(value)

    def _read(self, record: Record, field: Field, column: Optional[_Column]):
        if field.source == "function":
            return time_uuid(record.timestamp or 0, record.topic, record.partition, record.offset)
        if field.source == "header":
            for name, data in record.headers or ():
                if name == field.name:
                    if column is None:
                        return decode_header(data, _TEXT)
                    try:
                        return decode_header(data, column.cql_type)
                    except CodecError as exc:
                        raise Refused("header %s: %s" % (field.name, exc)) from None
            return self._missing(field, column)
        data = record.key if field.source == "key" else record.value
        known = record.key_fields if field.source == "key" else record.value_fields
        if field.name is None:
            return data
        if data is None and field.source == "value":
            return None  # a tombstone: its value fields are null
        found = _lookup(data, field.name, known)
        return self._missing(field, column) if found is _MISSING else found

    def _missing(self, field: Field, column: Optional[_Column]):
        raise Refused("Required field '%s'%s was missing from record"
                      % (field.text, " (mapped to column %s)" % quote(column.name) if column else ""))


class _TextType:
    typename = "text"


_TEXT = _TextType


def _lookup(data, name: str, known: Optional[frozenset]):
    """A field of a struct (dict): itself, else a nested path; a field the schema lacks (or a key or
    value that is not a struct) is missing; a schemaless field not present is null."""
    if not isinstance(data, dict):
        return _MISSING
    if name in data:
        return data[name]
    if "." in name:
        head, _, rest = name.partition(".")
        if head in data and (known is None or head in known):
            return _lookup(data[head], rest, None) if isinstance(data[head], dict) else _MISSING
    return _MISSING if known is not None else None


def schema_of(table_metadata) -> TableSchema:
    """A :class:`TableSchema` from ``cassandra-driver``'s table metadata."""
    return TableSchema(columns={name: c.cql_type for name, c in table_metadata.columns.items()},
                       partition_key=tuple(c.name for c in table_metadata.partition_key),
                       clustering_key=tuple(c.name for c in table_metadata.clustering_key))


def find_table(metadata, table: TableConfig):
    """The driver's metadata of ``table``.

    Raises:
      ConfigError: the keyspace or table does not exist (naming one that differs only by case).
    """
    keyspaces = metadata.keyspaces
    keyspace = keyspaces.get(table.keyspace)
    if keyspace is None:
        lowered = [k for k in keyspaces if k.lower() == table.keyspace.lower()]
        raise ConfigError("%smapping: keyspace %s does not exist%s" % (
            table.prefix, table.keyspace, ", however a keyspace %s was found; update the config to use "
            "%s if desired" % (lowered[0], lowered[0]) if lowered else ""))
    found = keyspace.tables.get(table.table)
    if found is None:
        lowered = [t for t in keyspace.tables if t.lower() == table.table.lower()]
        raise ConfigError("%smapping: table %s.%s does not exist%s" % (
            table.prefix, table.keyspace, table.table, ", however a table %s was found; update the "
            "config to use %s if desired" % (lowered[0], lowered[0]) if lowered else ""))
    return found


def prepare(session, table: TableConfig, codecs: CodecSettings) -> TablePlan:
    """Reads ``table``'s schema, checks the mapping against it and prepares its statements.

    Raises:
      ConfigError: the table is missing, the mapping does not fit it, or the cluster refused to
        prepare a statement (the user's query, or one made from the mapping).
    """
    from cassandra.query import UNSET_VALUE

    schema = schema_of(find_table(session.cluster.metadata, table))
    mapping = table.mapping
    delete = None
    if table.query is None:
        all_mapped = check_columns(mapping, schema, table.mapping_key, "%s.%s" % (table.keyspace,
                                                                                 table.table))
        insert = _prepare(session, insert_cql(table), table.mapping_key)
        if table.deletes_enabled and all_mapped:
            delete = _prepare(session, delete_cql(table, schema), table.mapping_key)
        types = {m.name: m.type for m in insert.column_metadata}
        markers, primary = None, schema.primary_key
    else:
        insert = _prepare(session, table.query, table.prefix + "query")
        markers = [m.name for m in insert.column_metadata]
        check_bind_markers(mapping, markers, table.mapping_key, table.prefix + "query")
        types = {m.name: m.type for m in insert.column_metadata}
        primary = ()  # the query's own business, as in the connector
    columns = [_Column(name, field, types[name], encoder(types[name], codecs), name in schema.primary_key
                       and table.query is None) for name, field in mapping.columns]
    return TablePlan(table, insert, delete, columns, markers, primary, UNSET_VALUE)


def _prepare(session, cql: str, key: str):
    from cassandra import DriverException, InvalidRequest, RequestExecutionException

    try:
        return session.prepare(cql)
    except (InvalidRequest, RequestExecutionException, DriverException) as exc:
        raise ConfigError("%s: Cassandra refused to prepare %r: %s" % (key, cql, _message(exc))) from None
    except Exception as exc:  # SyntaxException, ConfigurationException and the like
        if type(exc).__module__.startswith("cassandra"):
            raise ConfigError("%s: Cassandra refused to prepare %r: %s" % (key, cql, _message(exc))) from None
        raise


def _message(exc: Exception) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return text.split("message=", 1)[-1].strip('"}') if "message=" in text else text


def group_by_partition(statements: Sequence, limit: int) -> list:
    """``(indices, statements)`` groups of at most ``limit`` statements of one partition key (the
    connector's unlogged batches), in order of first appearance; statements without a routing key
    go alone."""
    groups: dict = {}
    singles = []
    for index, statement in enumerate(statements):
        key = getattr(statement, "routing_key", None)
        if key is None or limit <= 1:
            singles.append(([index], [statement]))
            continue
        group = groups.setdefault((id(statement.prepared_statement), key), ([], []))
        group[0].append(index)
        group[1].append(statement)
    out = list(singles)
    for indices, members in groups.values():
        for start in range(0, len(members), limit):
            out.append((indices[start:start + limit], members[start:start + limit]))
    return out
