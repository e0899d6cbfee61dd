"""Avro container files, as Confluent's AvroFormat: the value's schema is the file's schema.

The Avro schema is derived from the values' Arrow type, which follows the Connect schema (or what the
converter inferred): optional fields become ``["null", T]`` unions defaulting to null, Connect's
Decimal, Date, Time and Timestamp become Avro's logical types, and structs without a name are records
named as Confluent's AvroData names them (``io.confluent.connect.avro.ConnectDefault``,
``ConnectDefault2``...). Maps with string keys are Avro maps; other maps are arrays of key/value
records, as in AvroData.

Files are byte-for-byte reproducible: the sync marker is derived from the schema, so a replayed window
writes the same bytes under the same name.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import sys
from typing import Any, Callable, Optional

import pyarrow as pa

from common.errors import ConfigError
from sinks.files.formats.base import Format, rows

NAMESPACE = "io.confluent.connect.avro"
# avro.codec -> the module fastavro needs for it
CODECS = {"null": None, "deflate": None, "bzip2": None, "xz": None, "snappy": "cramjam",
          "zstandard": "compression.zstd" if sys.version_info >= (3, 14) else "backports.zstd"}


class AvroFormat(Format):
    """Args:
      codec: ``avro.codec``: null, deflate, snappy, bzip2, xz or zstandard.
    """

    def __init__(self, codec: str = "null"):
        if codec not in CODECS:
            raise ConfigError("avro.codec must be one of %s, got %r"
                              % (", ".join(repr(c) for c in CODECS), codec))
        if CODECS[codec] is not None and not _installed(CODECS[codec]):
            raise ConfigError("avro.codec=%s needs the %s module; pip install %s"
                              % (codec, CODECS[codec], CODECS[codec]))
        self.codec = codec

    @property
    def extension(self) -> str:
        return ".avro"

    def serialize(self, values: pa.Array) -> bytes:
        import fastavro

        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        schema, fix = avro_schema(values.type)
        records = rows(values)
        if fix is not None:
            records = [fix(r) for r in records]
        text = json.dumps(schema, sort_keys=True)
        out = io.BytesIO()
        fastavro.writer(out, fastavro.parse_schema(schema), records, codec=self.codec,
                        sync_marker=hashlib.md5(text.encode()).digest())
        return out.getvalue()


Fix = Optional[Callable[[Any], Any]]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def avro_schema(arrow: pa.DataType) -> tuple:
    """The Avro schema of non-null values of ``arrow``, and a function that makes ``to_pylist()``
    values fit it (None when they already do)."""
    names = _Names()
    return _schema(arrow, names)


class _Names:
    """Record names unique within one schema, as AvroData numbers them."""

    def __init__(self):
        self.counts = {}

    def next(self, base: str = "ConnectDefault") -> str:
        count = self.counts[base] = self.counts.get(base, 0) + 1
        return base if count == 1 else "%s%d" % (base, count)


def _schema(t: pa.DataType, names: _Names) -> tuple:
    if pa.types.is_null(t):
        return "null", None
    if pa.types.is_boolean(t):
        return "boolean", None
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_int32(t) or pa.types.is_uint8(t) \
            or pa.types.is_uint16(t):
        return "int", None
    if pa.types.is_integer(t):
        return "long", None
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "float", None
    if pa.types.is_float64(t):
        return "double", None
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string", None
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "bytes", None
    if pa.types.is_decimal(t):
        return {"type": "bytes", "logicalType": "decimal", "precision": t.precision,
                "scale": t.scale}, None
    if pa.types.is_date(t):
        return {"type": "int", "logicalType": "date"}, None
    if pa.types.is_time(t):
        if t.unit in ("s", "ms"):
            return {"type": "int", "logicalType": "time-millis"}, None
        return {"type": "long", "logicalType": "time-micros"}, None
    if pa.types.is_timestamp(t):
        if t.unit in ("s", "ms"):
            return {"type": "long", "logicalType": "timestamp-millis"}, None
        return {"type": "long", "logicalType": "timestamp-micros"}, None
    if pa.types.is_struct(t):
        return _record(t, names)
    if pa.types.is_map(t):
        return _map(t, names)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        item, fix = _field_schema(t.value_field, names)
        if fix is None:
            return {"type": "array", "items": item}, None
        return {"type": "array", "items": item}, lambda v: [fix(x) for x in v]
    raise ConfigError("values of Arrow type %s cannot be written as Avro" % t)


def _field_schema(field: pa.Field, names: _Names) -> tuple:
    schema, fix = _schema(field.type, names)
    if field.nullable and schema != "null":
        schema = ["null", schema]
        if fix is not None:
            inner = fix
            fix = lambda v: None if v is None else inner(v)  # noqa: E731
    return schema, fix


def _record(t: pa.StructType, names: _Names) -> tuple:
    name = names.next()
    fields, fixes = [], []
    for i in range(t.num_fields):
        child = t.field(i)
        schema, fix = _field_schema(child, names)
        field = {"name": child.name, "type": schema}
        if isinstance(schema, list) or schema == "null":
            field["default"] = None
        fields.append(field)
        if fix is not None:
            fixes.append((child.name, fix))
    schema = {"type": "record", "name": name, "namespace": NAMESPACE, "fields": fields}
    if not fixes:
        return schema, None

    def fix_record(record: dict) -> dict:
        record = dict(record)
        for key, fix in fixes:
            record[key] = fix(record[key])
        return record

    return schema, fix_record


def _map(t: pa.MapType, names: _Names) -> tuple:
    value, value_fix = _field_schema(t.item_field, names)
    if pa.types.is_string(t.key_type) or pa.types.is_large_string(t.key_type):
        if value_fix is None:
            return {"type": "map", "values": value}, lambda pairs: dict(pairs)
        return {"type": "map", "values": value}, lambda pairs: {k: value_fix(v) for k, v in pairs}
    key, key_fix = _schema(t.key_type, names)
    entry = {"type": "record", "name": names.next("MapEntry"), "namespace": NAMESPACE,
             "fields": [{"name": "key", "type": key}, {"name": "value", "type": value}]}
    key_fix = key_fix or (lambda k: k)
    value_fix = value_fix or (lambda v: v)
    return {"type": "array", "items": entry}, \
        lambda pairs: [{"key": key_fix(k), "value": value_fix(v)} for k, v in pairs]
