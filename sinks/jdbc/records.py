"""From a converted bundle to table rows: columns with their Connect types, keys, the reduction buffer.

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
    """

    name: str
    kind: Optional[str]
    optional: bool = True
    scale: int = 0
    key: bool = False


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
    return Column(field.name, kind_of(field), field.nullable and not key, scale, key)


@dataclasses.dataclass
class Records:
    """The records of one bundle bound for one table, as rows.

    Attributes:
      columns: Every column the rows may fill, key columns first (only these are written: a row may
        hold other fields, such as those fields.whitelist leaves out).
      rows: ``(offset, row dict or None for a delete, key dict)`` in offset order.
      keys: The primary key columns' names.
    """

    columns: list
    rows: list
    keys: tuple


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
        cfg = self._config
        values_type = bundle.values.type
        value_fields = list(values_type) if pa.types.is_struct(values_type) else []
        if bundle.value_schema is not None and pa.types.is_struct(bundle.value_schema.type):
            value_fields = list(bundle.value_schema.type)
        if cfg.fields:
            value_fields = [f for f in value_fields if f.name in cfg.fields]
        values = _pylist(_take(bundle.values, indices))
        keys = None
        key_columns: list = []
        if cfg.pk_mode == "kafka":
            key_columns = [Column(cfg.pk_fields[0], "string", False, key=True),
                           Column(cfg.pk_fields[1], "int32", False, key=True),
                           Column(cfg.pk_fields[2], "int64", False, key=True)]
        elif cfg.pk_mode == "record_key":
            key_columns, keys = self._key_columns(bundle, indices)
        elif cfg.pk_mode == "record_value":
            names = cfg.pk_fields or tuple(f.name for f in value_fields)
            by_name = {f.name: f for f in value_fields}
            missing = [n for n in names if n not in by_name]
            if missing and value_fields:
                raise BeamConnectError("pk.fields names %s, which the values of topic %s lack "
                                       "(fields: %s)" % (", ".join(map(repr, missing)), topic,
                                                         ", ".join(by_name) or "none"))
            key_columns = [_column(by_name[n], key=True) for n in names if n in by_name]
        key_names = tuple(c.name for c in key_columns)
        columns = key_columns + [_column(f) for f in value_fields if f.name not in key_names]
        rows = []
        for position, index in enumerate(indices):
            offset = bundle.offsets[index]
            value = values[position]
            if value is not None and not isinstance(value, dict):
                rejected.append((offset, "the value is %s, not a struct: a table row needs named "
                                         "fields" % type(value).__name__))
                continue
            if cfg.pk_mode == "kafka":
                key = {key_names[0]: bundle.topic, key_names[1]: bundle.partition,
                       key_names[2]: offset}
            elif cfg.pk_mode == "record_key":
                key = keys[position]
                if key is None or (isinstance(key, dict) and any(key.get(n) is None
                                                                  for n in key_names)):
                    rejected.append((offset, "the record has a null key (or key field) and "
                                             "pk.mode=record_key"))
                    continue
                key = ({n: key.get(n) for n in key_names} if isinstance(key, dict)
                       else {key_names[0]: key})
            elif cfg.pk_mode == "record_value" and value is not None:
                key = {n: value.get(n) for n in key_names}
                if any(v is None for v in key.values()):
                    rejected.append((offset, "the value has a null primary key field (pk.fields "
                                             "%s)" % ",".join(key_names)))
                    continue
            else:
                key = {}
            if value is None:
                if cfg.pk_mode == "record_key" and cfg.delete_enabled:
                    rows.append((offset, None, key))
                continue  # a tombstone is ignored unless it deletes, as in Confluent's sink
            if cfg.pk_mode in ("kafka", "record_key"):
                value.update(key)  # the key's fields win over value fields of the same name
            rows.append((offset, value, key))  # the converted dict is the row: only columns are read
        return Records(columns, rows, key_names)

    def _key_columns(self, bundle, indices) -> tuple:
        cfg = self._config
        keys = _pylist(_take(bundle.keys, indices))
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
