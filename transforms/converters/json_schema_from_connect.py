"""Connect schemas (as Arrow fields) to JSON Schemas, the way Confluent's ``JsonSchemaData
.fromConnectSchema`` writes them, for sinks that write JSON Schema records (a Kafka sink).

:func:`json_schema_of` is the inverse of :func:`~transforms.converters.json_schema_data
.compile_json_schema` for what that reads: integers and floats carry their ``connect.type``, bytes are
base64 strings with ``connect.type: bytes`` (a Decimal a number with ``decimal.format=NUMERIC``),
Connect enums (``io.confluent.connect.json.Enum`` parameters) are ``enum`` schemas, maps of string
keys are objects with ``connect.type: map`` and ``additionalProperties``, other maps arrays of
``{key, value}`` objects; structs are objects whose properties carry ``connect.index`` and no
``required`` list (as Confluent writes them), ``io.confluent.connect.json.OneOf`` structs ``oneOf``s.
An optional schema is a ``oneOf`` of ``{"type": "null"}`` and itself. The Connect name is the
``title``, with ``connect.version``, ``description`` (the doc), ``connect.parameters`` (those outside
Confluent's ``io.confluent.connect.json`` namespace) and ``default``.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Optional

import pyarrow as pa

from transforms.converters.json_schema_data import ENUM, GENERALIZED_ENUM, GENERALIZED_UNION, NAMESPACE, ONE_OF
from transforms.schema import DATE, DECIMAL, TIME, TIMESTAMP, encode_default, schema_info

_INTEGERS = {pa.int8(): "int8", pa.int16(): "int16", pa.int32(): "int32", pa.int64(): "int64"}
_FLOATS = {pa.float32(): "float32", pa.float64(): "float64"}


def json_schema_of(field: pa.Field, *, decimal_format: str = "BASE64",
                   additional_properties: bool = True) -> dict:
    """The JSON Schema of a Connect schema.

    Args:
      field: The Connect schema as an Arrow field (see :mod:`transforms.schema`).
      decimal_format: ``decimal.format``: ``BASE64`` or ``NUMERIC``.
      additional_properties: ``object.additional.properties``; false writes
        ``"additionalProperties": false`` on structs.

    Raises:
      TypeError: An Arrow type with no Connect equivalent.
    """
    return _Writer(decimal_format.upper(), additional_properties).schema(field, None, False)


class _Writer:
    def __init__(self, decimal_format: str, additional_properties: bool):
        self.numeric = decimal_format == "NUMERIC"
        self.additional_properties = additional_properties

    def schema(self, field: pa.Field, index: Optional[int], ignore_optional: bool) -> dict:
        info = schema_info(field)
        arrow_type = field.type
        parameters = dict(info.parameters or {})
        if pa.types.is_struct(arrow_type):
            if info.name == ONE_OF or GENERALIZED_UNION in parameters:
                branches = [{"type": "null"}] if field.nullable else []
                branches += [self.schema(f.with_nullable(False), i, True) for i, f in enumerate(arrow_type)]
                return _indexed({"oneOf": branches}, index)
            if field.nullable and not ignore_optional:
                inner = self.schema(field.with_nullable(False), None, False)
                return _indexed({"oneOf": [{"type": "null"}, inner]}, index)
            out = {"type": "object",
                   "properties": {f.name: self.schema(f, i, False) for i, f in enumerate(arrow_type)}}
            if not self.additional_properties:
                out["additionalProperties"] = False
        else:
            out = self._simple(arrow_type, info.name, parameters)
        if info.name is not None and info.name != ONE_OF:
            out["title"] = info.name
        if info.version is not None:
            out["connect.version"] = info.version
        if info.doc is not None:
            out["description"] = info.doc
        kept = {k: v for k, v in parameters.items() if not k.startswith(NAMESPACE)}
        if kept:
            out["connect.parameters"] = kept
        if info.has_default:
            out["default"] = self._default(info.default, arrow_type)
        if field.nullable and not ignore_optional:
            return _indexed({"oneOf": [{"type": "null"}, out]}, index)
        return _indexed(out, index)

    def _simple(self, arrow_type: pa.DataType, name: Optional[str], parameters: dict) -> dict:
        if arrow_type in _INTEGERS:
            return {"type": "integer", "connect.type": _INTEGERS[arrow_type]}
        if arrow_type in _FLOATS:
            return {"type": "number", "connect.type": _FLOATS[arrow_type]}
        if pa.types.is_boolean(arrow_type):
            return {"type": "boolean"}
        if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
            for prefix in (ENUM, GENERALIZED_ENUM):
                if prefix in parameters:
                    symbols = [k[len(prefix) + 1:] for k in parameters if k.startswith(prefix + ".")]
                    return {"enum": [None if s == "<NULL>" else s for s in symbols]}
            return {"type": "string"}
        if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
            return {"type": "string", "connect.type": "bytes"}
        if pa.types.is_decimal(arrow_type):
            parameters.setdefault("scale", str(arrow_type.scale))
            if arrow_type.precision != 38 or "connect.decimal.precision" in parameters:
                parameters.setdefault("connect.decimal.precision", str(arrow_type.precision))
            return {"type": "number" if self.numeric else "string", "connect.type": "bytes",
                    "title": DECIMAL}
        if pa.types.is_date32(arrow_type):
            return {"type": "integer", "connect.type": "int32", "title": DATE}
        if pa.types.is_time32(arrow_type):
            return {"type": "integer", "connect.type": "int32", "title": TIME}
        if pa.types.is_timestamp(arrow_type):
            return {"type": "integer", "connect.type": "int64", "title": TIMESTAMP}
        if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
            return {"type": "array", "items": self.schema(arrow_type.value_field, None, False)}
        if pa.types.is_map(arrow_type):
            key, value = arrow_type.key_field, arrow_type.item_field
            if pa.types.is_string(key.type) and not key.nullable:
                return {"type": "object", "additionalProperties": self.schema(value, None, False),
                        "connect.type": "map"}
            entry = {"type": "object", "properties": {"key": self.schema(key, 0, False),
                                                      "value": self.schema(value, 1, False)}}
            return {"type": "array", "items": entry, "connect.type": "map"}
        raise TypeError("Arrow type %s has no Connect equivalent" % arrow_type)

    def _default(self, value: Any, arrow_type: pa.DataType) -> Any:
        if pa.types.is_decimal(arrow_type):
            if self.numeric:
                return json.loads(str(value))
            unscaled = int(value.scaleb(arrow_type.scale))
            size = (unscaled.bit_length() + 8) // 8
            return base64.b64encode(unscaled.to_bytes(size, "big", signed=True)).decode()
        return json.loads(encode_default(value, arrow_type))


def _indexed(schema: dict, index: Optional[int]) -> dict:
    if index is not None:
        schema["connect.index"] = index
    return schema
