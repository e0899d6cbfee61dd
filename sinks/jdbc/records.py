"""From a converted bundle to table rows: columns with their Connect types, keys, the reduction buffer.

A bundle's records bound for one table become a :class:`Batch`: Arrow columns (the key's fields win over
value fields of the same name), each record's offset and whether it is a delete. The reduction to the
last record per key (:func:`reduce_batch`) works on those columns, grouping by the key columns with
Arrow; :class:`Records` and :func:`reduce_rows` are the same as Python rows.

A column's kind is its Connect type (``int8`` ... ``float64``, ``boolean``, ``string``, ``bytes``, the
logical types ``decimal``, ``date``, ``time``, ``timestamp``, and ``json`` for structs, arrays and maps),
read from the Arrow type and the Connect schema in its field metadata. Schemaless JSON has the same Arrow
types, inferred by the converter from the data; an all-null field has kind None (no column is made
from it until a value shows its type).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import json
from typing import Any, Optional, Sequence

import numpy as np
import pyarrow as pa

from common.errors import BeamConnectError
from transforms.schema import DATE, DECIMAL, TIME, TIMESTAMP, schema_info

#: The source coordinates kept with each row in upsert and update modes (and pk.mode=kafka's defaults).
TOPIC_COLUMN, PARTITION_COLUMN, OFFSET_COLUMN = "__connect_topic", "__connect_partition", "__connect_offset"
HIDDEN = (TOPIC_COLUMN, PARTITION_COLUMN, OFFSET_COLUMN)
KINDS = ("int8", "int16", "int32", "int64", "float32", "float64", "boolean", "string", "bytes",
         "decimal", "date", "time", "timestamp", "json")


@dataclasses.dataclass(frozen=True)
class Column:
    """A column as the records describe it.

    Attributes:
      name: The field's name.
      kind: One of :data:`KINDS`, or None when only nulls were seen (schemaless).
      optional: Whether it may be null.
      scale: Decimal scale.
      key: Whether it is part of the primary key.
      default: The Connect schema's default value (as ``pa.array`` takes it), or None; the column
        gets it as its SQL ``DEFAULT`` where the dialect can write it (see ``Dialect.default_literal``).
    """

    name: str
    kind: Optional[str]
    optional: bool = True
    scale: int = 0
    key: bool = False
    default: Any = None


def kind_of(field: pa.Field) -> Optional[str]:
    t, name = field.type, schema_info(field).name
    if pa.types.is_decimal(t) or name == DECIMAL:
        return "decimal"
    if pa.types.is_date(t) or name == DATE:
        return "date"
    if pa.types.is_time(t) or name == TIME:
        return "time"
    if pa.types.is_timestamp(t) or name == TIMESTAMP:
        return "timestamp"
    if pa.types.is_null(t):
        return None
    if pa.types.is_boolean(t):
        return "boolean"
    for width, kind in ((8, "int8"), (16, "int16"), (32, "int32")):
        if pa.types.is_signed_integer(t) and t.bit_width == width:
            return kind
    if pa.types.is_integer(t):
        return "int64"
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "float32"
    if pa.types.is_floating(t):
        return "float64"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "bytes"
    return "json"


def _column(field: pa.Field, key: bool = False) -> Column:
    scale = field.type.scale if pa.types.is_decimal(field.type) else 0
    info = schema_info(field)
    return Column(field.name, kind_of(field), field.nullable and not key, scale, key,
                  info.default if info.has_default else None)


@dataclasses.dataclass
class Records:
    """The records of one bundle bound for one table, as rows.

    Attributes:
      columns: Every column the rows may fill, key columns first.
      rows: ``(offset, row dict (column name to value) or None for a delete, key dict)`` in offset
        order.
      keys: The primary key columns' names.
    """

    columns: list
    rows: list
    keys: tuple


@dataclasses.dataclass
class Batch:
    """The records of one bundle bound for one table, as Arrow columns.

    Attributes:
      columns: As in :class:`Records`.
      keys: The primary key columns' names.
      table: One column per entry of ``columns`` (by name), one row per record kept, in offset order.
      offsets: Each row's offset (``int64``).
      deletes: Whether each row is a delete (a tombstone with ``delete.enabled``).
    """

    columns: list
    keys: tuple
    table: pa.Table
    offsets: np.ndarray
    deletes: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets)

    def filter(self, mask: np.ndarray) -> "Batch":
        """The rows where ``mask`` is true."""
        return dataclasses.replace(self, table=self.table.filter(pa.array(mask)),
                                   offsets=self.offsets[mask], deletes=self.deletes[mask])


_NOT_STRUCT = ("the value is %s, not a struct: a table row needs named fields")
_NULL_KEY = "the record has a null key (or key field) and pk.mode=record_key"
_NULL_VALUE_KEY = "the value has a null primary key field (pk.fields %s)"


class Shaper:
    """Turns records into rows per the sink's pk.mode, pk.fields and fields.whitelist.

    Args:
      config: The :class:`~sinks.jdbc.config.JdbcSinkConfig`.
    """

    def __init__(self, config):
        self._config = config

    def shape(self, bundle, indices: Sequence[int], topic: str, rejected: list) -> Records:
        """Rows of ``bundle``'s records at ``indices`` (kept records bound for ``topic``'s table).

        Records that cannot become rows (a value that is not a struct, a null key with
        pk.mode=record_key) are appended to ``rejected`` as ``(offset, reason)``.
        """
        batch = self.batch(bundle, indices, topic, rejected)
        names = batch.table.column_names
        columns = [c.to_pylist() for c in batch.table.columns]
        rows = []
        for i, values in enumerate(zip(*columns) if columns else [()] * len(batch)):
            row = dict(zip(names, values))
            key = {k: row[k] for k in batch.keys}
            rows.append((int(batch.offsets[i]), None if batch.deletes[i] else row, key))
        return Records(batch.columns, rows, batch.keys)

    def batch(self, bundle, indices: Optional[Sequence[int]], topic: str, rejected: list) -> Batch:
        """The records of ``bundle`` at ``indices`` (None: all) bound for ``topic``'s table, as Arrow
        columns; records that cannot become rows are appended to ``rejected`` as ``(offset,
        reason)``, in offset order."""
        cfg = self._config
        if indices is None:
            indices = range(len(bundle))
        values_type = bundle.values.type
        struct = pa.types.is_struct(values_type)
        value_fields = list(values_type) if struct else []
        if bundle.value_schema is not None and pa.types.is_struct(bundle.value_schema.type):
            value_fields = list(bundle.value_schema.type)
        if cfg.fields:
            value_fields = [f for f in value_fields if f.name in cfg.fields]
        values = _take(bundle.values, indices)
        n = len(values)
        offsets = np.asarray(bundle.offsets, dtype=np.int64)
        if n != len(offsets):
            offsets = offsets[np.asarray(indices, dtype=np.int64)]
        present = _valid(values)
        children = dict(zip((f.name for f in values_type), values.flatten())) if struct else {}
        key_columns: list = []
        key_data: dict = {}
        reasons = np.zeros(n, dtype=np.int8)  # 0: a row; 1: not a struct; 2: a null key
        if not struct:
            reasons[present] = 1
        if cfg.pk_mode == "kafka":
            key_columns = [Column(cfg.pk_fields[0], "string", False, key=True),
                           Column(cfg.pk_fields[1], "int32", False, key=True),
                           Column(cfg.pk_fields[2], "int64", False, key=True)]
            key_data = {cfg.pk_fields[0]: pa.repeat(pa.scalar(bundle.topic, pa.string()), n),
                        cfg.pk_fields[1]: pa.repeat(pa.scalar(bundle.partition, pa.int32()), n),
                        cfg.pk_fields[2]: pa.array(offsets, pa.int64())}
        elif cfg.pk_mode == "record_key":
            key_columns, key_data, null_key = self._key_data(bundle, indices)
            reasons[(reasons == 0) & null_key] = 2
        elif cfg.pk_mode == "record_value":
            names = cfg.pk_fields or tuple(f.name for f in value_fields)
            by_name = {f.name: f for f in value_fields}
            missing = [n_ for n_ in names if n_ not in by_name]
            if missing and value_fields:
                raise BeamConnectError("pk.fields names %s, which the values of topic %s lack "
                                       "(fields: %s)" % (", ".join(map(repr, missing)), topic,
                                                         ", ".join(by_name) or "none"))
            key_columns = [_column(by_name[n_], key=True) for n_ in names if n_ in by_name]
            null_field = np.zeros(n, dtype=bool)
            for c in key_columns:
                child = children.get(c.name)
                null_field |= ~_valid(child) if child is not None else True
            reasons[(reasons == 0) & present & null_field] = 3
        key_names = tuple(c.name for c in key_columns)
        columns = key_columns + [_column(f) for f in value_fields if f.name not in key_names]
        if reasons.any():
            bad = np.flatnonzero(reasons)
            shown = None
            if not struct:
                shown = _take(bundle.values, [indices[i] for i in bad]).to_pylist()
            for position, i in enumerate(bad):
                code = reasons[i]
                reason = (_NOT_STRUCT % type(shown[position]).__name__ if code == 1 else
                          _NULL_KEY if code == 2 else _NULL_VALUE_KEY % ",".join(key_names))
                rejected.append((int(offsets[i]), reason))
        deleting = cfg.pk_mode == "record_key" and cfg.delete_enabled
        # a tombstone is ignored unless it deletes, as in Confluent's sink
        keep = (reasons == 0) & (present | deleting)
        types = {f.name: f.type for f in value_fields}
        arrays = []
        for c in columns:
            if c.name in key_data:
                arrays.append(key_data[c.name])
            elif c.name in children:
                arrays.append(children[c.name])
            else:
                arrays.append(pa.nulls(n, types.get(c.name, pa.null())))
        table = pa.Table.from_arrays(arrays, names=[c.name for c in columns]) if columns else \
            pa.table({"__rows": pa.nulls(n)}).drop_columns(["__rows"])
        if not keep.all():
            table = table.filter(pa.array(keep))
        return Batch(columns, key_names, table, offsets[keep], ~present[keep])

    def _key_data(self, bundle, indices) -> tuple:
        """pk.mode=record_key: the key columns, their arrays, and where a key (or key field) is null."""
        keys = _take(bundle.keys, indices)
        columns, _ = self._key_columns(bundle, None)
        null = ~_valid(keys)
        if pa.types.is_struct(keys.type):
            children = dict(zip((f.name for f in keys.type), keys.flatten()))
            data = {}
            for c in columns:
                child = children.get(c.name)
                if child is None:
                    child = pa.nulls(len(keys))
                null |= ~_valid(child)
                data[c.name] = child
            return columns, data, null
        return columns, {columns[0].name: keys}, null

    def _key_columns(self, bundle, indices) -> tuple:
        cfg = self._config
        keys = None if indices is None else _pylist(_take(bundle.keys, indices))
        field = bundle.key_schema
        key_type = field.type if field is not None else bundle.keys.type
        if pa.types.is_struct(key_type):
            fields = list(key_type)
            names = cfg.pk_fields or tuple(f.name for f in fields)
            by_name = {f.name: f for f in fields}
            missing = [n for n in names if n not in by_name]
            if missing:
                raise BeamConnectError("pk.fields names %s, which the keys lack (fields: %s)"
                                       % (", ".join(map(repr, missing)), ", ".join(by_name)))
            return [_column(by_name[n], key=True) for n in names], keys
        if len(cfg.pk_fields) != 1:
            raise BeamConnectError("pk.mode=record_key with a primitive key needs exactly one name in "
                                   "pk.fields, got %r" % ",".join(cfg.pk_fields))
        kind = kind_of(pa.field(cfg.pk_fields[0], key_type)) or "string"
        return [Column(cfg.pk_fields[0], kind, False, key=True)], keys


def _take(array: pa.Array, indices: Sequence[int]) -> pa.Array:
    if len(indices) == len(array) and (not indices or indices[-1] == len(array) - 1):
        return array  # every record, in order
    return array.take(pa.array(indices, pa.int64()))


def _valid(array) -> np.ndarray:
    """Where ``array`` is not null, as a numpy bool array."""
    if array.null_count == 0:
        return np.ones(len(array), dtype=bool)
    if pa.types.is_null(array.type):
        return np.zeros(len(array), dtype=bool)
    return array.is_valid().to_numpy(zero_copy_only=False)


def _pylist(array: pa.Array) -> list:
    """``array.to_pylist()``; a struct array column by column, about twice as fast."""
    if not pa.types.is_struct(array.type) or not array.type.num_fields:
        return array.to_pylist()
    names = [f.name for f in array.type]
    rows = [dict(zip(names, row)) for row in zip(*(child.to_pylist() for child in array.flatten()))]
    if array.null_count:
        rows = [row if valid else None for row, valid in zip(rows, array.is_valid().to_pylist())]
    return rows


def reduce_rows(rows: list, mode: str) -> list:
    """The reduction buffer: the last record per key, deletes first.

    ``rows`` are ``(offset, row or None, key)``; the result is a list of segments ``(op, rows)`` to apply
    in order. In upsert and update modes, each key keeps its last record: keys whose last record is a
    tombstone are deleted (and, in update mode, keys deleted before their last update too, so the
    update finds no row, as applying the records one by one would), then the rest are written. Insert
    mode keeps every record, cut into runs of writes and deletes in offset order.
    """
    if mode == "insert":
        segments: list = []
        for item in rows:
            op = "delete" if item[1] is None else "write"
            if segments and segments[-1][0] == op:
                segments[-1][1].append(item)
            else:
                segments.append((op, [item]))
        return segments
    last: dict = {}
    deleted_before = set()
    for item in rows:
        key = _key(item[2])
        if item[1] is None:
            deleted_before.add(key)
        last[key] = item
    deletes = [item for key, item in last.items()
               if item[1] is None or (mode == "update" and key in deleted_before)]
    deletes = [(o, None, k) for o, _, k in deletes]
    writes = [item for item in last.values() if item[1] is not None]
    return [(op, items) for op, items in (("delete", sorted(deletes, key=lambda i: i[0])),
                                          ("write", sorted(writes, key=lambda i: i[0]))) if items]


def reduce_batch(batch: Batch, mode: str) -> list:
    """:func:`reduce_rows` on a :class:`Batch`: segments ``(op, row positions)`` to apply in order,
    each in offset order."""
    n = len(batch)
    if not n:
        return []
    deletes = batch.deletes
    if mode == "insert":
        cuts = [0, *(np.flatnonzero(deletes[1:] != deletes[:-1]) + 1).tolist(), n]
        return [("delete" if deletes[s] else "write", np.arange(s, e, dtype=np.int64))
                for s, e in zip(cuts, cuts[1:])]
    last, deleted_before = _last_per_key(batch, deletes)
    gone = deletes[last]
    segments = [("delete", np.sort(last[gone | deleted_before] if mode == "update" else last[gone])),
                ("write", np.sort(last[~gone]))]
    return [(op, positions) for op, positions in segments if len(positions)]


def _last_per_key(batch: Batch, deletes: np.ndarray) -> tuple:
    """The position of each key's last row, and whether a delete of that key came at all."""
    n = len(batch)
    columns = {}
    for i, name in enumerate(batch.keys):
        column = batch.table.column(name)
        if pa.types.is_nested(column.type):  # grouped by their JSON text
            column = pa.array([_key({0: v})[0] for v in column.to_pylist()], pa.string())
        columns["k%d" % i] = column
    columns["position"] = pa.array(np.arange(n, dtype=np.int64))
    columns["deleted"] = pa.array(deletes)
    try:
        grouped = pa.table(columns).group_by([c for c in columns if c[0] == "k"], use_threads=False) \
            .aggregate([("position", "max"), ("deleted", "any")])
        return (grouped.column("position_max").to_numpy(),
                grouped.column("deleted_any").to_numpy(zero_copy_only=False))
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError):  # key types Arrow does not group by
        last: dict = {}
        deleted: dict = {}
        keys = zip(*(columns[c].to_pylist() for c in columns if c[0] == "k"))
        for position, key in enumerate(keys):
            last[key] = position
            deleted[key] = deleted.get(key, False) or bool(deletes[position])
        return (np.fromiter(last.values(), dtype=np.int64, count=len(last)),
                np.fromiter((deleted[k] for k in last), dtype=bool, count=len(last)))


def _key(key: dict) -> tuple:
    return tuple(json.dumps(v, sort_keys=True, default=str) if isinstance(v, (dict, list)) else v
                 for v in key.values())


def to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"), sort_keys=False)


def _json_default(value):
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (datetime.date, datetime.time, decimal.Decimal)):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return str(value)
