"""Connect schemas carried as Arrow fields: the vocabulary converters, transforms and sinks share.

A schemaful key or value (JsonConverter with ``schemas.enable=true``, StringConverter, ByteArrayConverter,
and later the Schema Registry converters) travels as an Arrow array plus a :class:`pyarrow.Field`
describing its Connect schema; a schemaless one (plain JSON) has no field (None).

The Arrow type gives the Connect type (``int8`` ... ``int64``, ``float``/``double``, ``boolean``,
``string``, ``binary`` for bytes, lists for arrays, maps, structs), nullability gives ``optional``, and
the field metadata (here and on every nested struct field) the rest: ``connect.name``,
``connect.version``, ``connect.doc``, ``connect.parameters`` (JSON object) and ``connect.default``
(JSON, see :func:`encode_default`). Connect's logical types are Arrow types: Decimal is
``decimal128(p, s)`` (precision in ``connect.decimal.precision``), Date ``date32``, Time ``time32[ms]``,
Timestamp ``timestamp[ms, UTC]``; their Connect names are set as well.

Arrow types compare equal whatever their field metadata, so arrays of the same shape concatenate and
unify as before; metadata only informs what reads it.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import json
from typing import Any, Mapping, Optional

import pyarrow as pa

NAME = b"connect.name"
VERSION = b"connect.version"
DOC = b"connect.doc"
PARAMETERS = b"connect.parameters"
DEFAULT = b"connect.default"

DECIMAL = "org.apache.kafka.connect.data.Decimal"
DATE = "org.apache.kafka.connect.data.Date"
TIME = "org.apache.kafka.connect.data.Time"
TIMESTAMP = "org.apache.kafka.connect.data.Timestamp"

_OURS = (NAME, VERSION, DOC, PARAMETERS, DEFAULT)
_EPOCH = datetime.date(1970, 1, 1)
_MISSING = object()


@dataclasses.dataclass(frozen=True)
class SchemaInfo:
    """What a field's metadata says of its Connect schema (None where it says nothing)."""

    name: Optional[str] = None
    version: Optional[int] = None
    doc: Optional[str] = None
    parameters: Optional[Mapping[str, str]] = None
    default: Any = None
    has_default: bool = False


def connect_field(name: str, arrow_type: pa.DataType, optional: bool = True, *,
                  schema_name: Optional[str] = None, version: Optional[int] = None,
                  doc: Optional[str] = None, parameters: Optional[Mapping[str, str]] = None,
                  default: Any = _MISSING) -> pa.Field:
    """An Arrow field for a Connect schema; ``default`` is a value as ``pa.array`` takes it."""
    metadata = {}
    if schema_name is not None:
        metadata[NAME] = schema_name.encode()
    if version is not None:
        metadata[VERSION] = str(int(version)).encode()
    if doc is not None:
        metadata[DOC] = doc.encode()
    if parameters:
        # in their order: Connect's parameters are ordered, and an enum's symbols are its Enum.* ones
        metadata[PARAMETERS] = json.dumps(dict(parameters)).encode()
    if default is not _MISSING and default is not None:
        metadata[DEFAULT] = encode_default(default, arrow_type)
    return pa.field(name, arrow_type, nullable=optional, metadata=metadata or None)


def schema_info(field: Optional[pa.Field]) -> SchemaInfo:
    """The Connect name, version, doc, parameters and default of ``field``."""
    metadata = (field.metadata if field is not None else None) or {}
    version = metadata.get(VERSION)
    parameters = metadata.get(PARAMETERS)
    default_text = metadata.get(DEFAULT)
    return SchemaInfo(
        name=metadata[NAME].decode() if NAME in metadata else None,
        version=int(version) if version is not None else None,
        doc=metadata[DOC].decode() if DOC in metadata else None,
        parameters=json.loads(parameters) if parameters is not None else None,
        default=decode_default(default_text, field.type) if default_text is not None else None,
        has_default=default_text is not None)


def with_info(field: pa.Field, **changes: Any) -> pa.Field:
    """``field`` with some of ``schema_name``, ``version``, ``doc``, ``parameters``, ``default`` set
    (None removes one); the rest of its metadata is kept."""
    info = schema_info(field)
    current = {"schema_name": info.name, "version": info.version, "doc": info.doc,
               "parameters": info.parameters,
               "default": info.default if info.has_default else _MISSING}
    unknown = set(changes) - set(current)
    if unknown:
        raise TypeError("with_info() got unexpected keys %s" % sorted(unknown))
    current.update(changes)
    if current["default"] is None:
        current["default"] = _MISSING
    made = connect_field(field.name, field.type, field.nullable, **current)
    others = {k: v for k, v in (field.metadata or {}).items() if k not in _OURS}
    return made.with_metadata({**others, **(made.metadata or {})}) if others else made


def encode_default(value: Any, arrow_type: pa.DataType) -> bytes:
    """A default value as JSON: bytes base64, decimals as strings, dates as days, times as ms of day,
    timestamps as epoch ms; nested values likewise."""
    return json.dumps(_encode(value, arrow_type), sort_keys=True).encode()


def decode_default(text: bytes, arrow_type: pa.DataType) -> Any:
    """The value :func:`encode_default` wrote, as ``pa.array(..., type=arrow_type)`` takes it."""
    return _decode(json.loads(text), arrow_type)


def _encode(value: Any, t: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return base64.b64encode(bytes(value)).decode()
    if pa.types.is_decimal(t):
        return str(value)
    if pa.types.is_date32(t):
        return (value - _EPOCH).days if isinstance(value, datetime.date) else int(value)
    if pa.types.is_time32(t):
        if isinstance(value, datetime.time):
            return ((value.hour * 60 + value.minute) * 60 + value.second) * 1000 + value.microsecond // 1000
        return int(value)
    if pa.types.is_timestamp(t):
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=datetime.timezone.utc)
            return int(value.timestamp() * 1000)
        return int(value)
    if pa.types.is_struct(t):
        return {f.name: _encode(value.get(f.name), f.type) for f in t}
    if pa.types.is_map(t):
        return [[_encode(k, t.key_type), _encode(v, t.item_type)] for k, v in
                (value.items() if isinstance(value, dict) else value)]
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return [_encode(v, t.value_type) for v in value]
    return value


def _decode(value: Any, t: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return base64.b64decode(value)
    if pa.types.is_decimal(t):
        return decimal.Decimal(value)
    if pa.types.is_date32(t):
        return _EPOCH + datetime.timedelta(days=value)
    if pa.types.is_time32(t):
        return (datetime.datetime.min + datetime.timedelta(milliseconds=value)).time()
    if pa.types.is_timestamp(t):
        return datetime.datetime.fromtimestamp(value / 1000, datetime.timezone.utc)
    if pa.types.is_struct(t):
        return {f.name: _decode(value.get(f.name), f.type) for f in t}
    if pa.types.is_map(t):
        return [(_decode(k, t.key_type), _decode(v, t.item_type)) for k, v in value]
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return [_decode(v, t.value_type) for v in value]
    return value
