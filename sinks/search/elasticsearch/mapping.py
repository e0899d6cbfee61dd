"""The index mapping of a Connect value schema, as Confluent's ``Mapping`` makes it.

Types: boolean, byte (int8), short (int16), integer (int32), long (int64), float, double, text with a
``keyword`` sub-field (``ignore_above`` 256) for strings, binary for bytes; Date, Time and Timestamp
are ``date`` (the documents carry epoch milliseconds, see :mod:`sinks.search.documents`), Decimal is
``double``; a struct is an object of its fields' mappings, an array maps as its items, a map as an
object of ``key`` and ``value``. A field's default becomes its ``null_value`` (not for text and
binary, which the engines refuse). Schemas arrive as Arrow fields (:mod:`transforms.schema`), so the
Arrow types of Connect's logical types map the same way when a field carries no Connect name.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any, Optional

import pyarrow as pa

from common.errors import BeamConnectError
from transforms.schema import DATE, DECIMAL, TIME, TIMESTAMP, schema_info

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_TEXT = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}


def build_mapping(field: pa.Field, what: str) -> dict:
    """The ``mappings`` body of an index whose documents have ``field``'s schema.

    Args:
      what: Names the schema in errors (``the value schema of topic=orders``).

    Raises:
      BeamConnectError: the schema is not a struct (a document is an object of fields) or holds a
        type no mapping has.
    """
    kind = field.type
    if not (pa.types.is_struct(kind) or pa.types.is_map(kind)):
        raise BeamConnectError("%s is %s, not a struct: an index mapping needs one (set schema.ignore=true "
                               "to leave the mapping to the cluster)" % (what, kind))
    return _mapping(field, what)


def _mapping(field: pa.Field, what: str) -> dict:
    kind = field.type
    info = schema_info(field)
    name = info.name
    if name in (DATE, TIME, TIMESTAMP) or pa.types.is_date(kind) or pa.types.is_timestamp(kind) \
            or pa.types.is_time(kind):
        return _primitive("date", _millis(info.default) if info.has_default else None)
    if name == DECIMAL or pa.types.is_decimal(kind):
        return _primitive("double", float(info.default) if info.default is not None else None)
    if pa.types.is_struct(kind):
        return {"properties": {child.name: _mapping(child, what) for child in kind}}
    if pa.types.is_map(kind):
        return {"properties": {"key": _mapping(kind.key_field, what),
                               "value": _mapping(kind.item_field, what)}}
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _mapping(kind.value_field, what)
    default = info.default if info.has_default else None
    if pa.types.is_boolean(kind):
        return _primitive("boolean", default)
    if pa.types.is_integer(kind):
        width = {8: "byte", 16: "short", 32: "integer", 64: "long"}[kind.bit_width]
        return _primitive(width, default)
    if pa.types.is_floating(kind):
        return _primitive("float" if kind.bit_width <= 32 else "double", default)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return dict(_TEXT)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return {"type": "binary"}
    raise BeamConnectError("%s holds field %r of type %s, which no index mapping type holds"
                           % (what, field.name, kind))


def _primitive(kind: str, default: Any) -> dict:
    made: dict = {"type": kind}
    if default is not None:
        made["null_value"] = default
    return made


def _millis(value: Any) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
        return (moment - _EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(value, datetime.date):
        return (value - _EPOCH.date()).days * 86_400_000
    if isinstance(value, datetime.time):
        return ((value.hour * 60 + value.minute) * 60 + value.second) * 1000 + value.microsecond // 1000
    if isinstance(value, decimal.Decimal):
        return int(value)
    return int(value)
