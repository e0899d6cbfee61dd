"""Kafka Connect schemas, as JsonConverter writes them, read into Arrow types and payload converters.

A schema is compiled once into a :class:`ConnectSchema`: its Arrow type, and a function turning a
parsed JSON payload into a value ``pa.array`` accepts for that type, checking it against the schema as
Connect does (types, ranges, required fields, defaults, logical types). A payload that does not match
raises :class:`PayloadError` naming the field path.

Types: ``int8`` ``int16`` ``int32`` ``int64`` to Arrow integers, ``float``/``float32`` and
``double``/``float64`` to floats, ``boolean``, ``string``, ``bytes`` (base64 in JSON) to ``binary``,
``array`` to lists, ``map`` to maps (a JSON object when keys are strings, else ``[key, value]`` pairs),
``struct`` to structs. Logical types: Decimal to ``decimal128(precision or 38, scale)`` (``decimal256``
beyond 38 digits), Date to ``date32``, Time to ``time32[ms]``, Timestamp to ``timestamp[ms, UTC]``.
Arrow nullability follows ``optional``. As in Connect, a number with a fraction in an integer field is
truncated toward zero; unlike Connect, a value out of the integer's range is an error, not wrapped.
"""

from __future__ import annotations

import binascii
import dataclasses
import decimal
import math
from typing import Any, Callable, Optional

import pyarrow as pa

from common.errors import BeamConnectError
from transforms.converters.unify import format_path
from transforms.schema import connect_field

DECIMAL = "org.apache.kafka.connect.data.Decimal"
DATE = "org.apache.kafka.connect.data.Date"
TIME = "org.apache.kafka.connect.data.Time"
TIMESTAMP = "org.apache.kafka.connect.data.Timestamp"
DECIMAL_PRECISION = "connect.decimal.precision"

_INTEGERS = {"int8": (8, pa.int8()), "int16": (16, pa.int16()), "int32": (32, pa.int32()),
             "int64": (64, pa.int64())}
# JsonConverter writes "float" and "double"; the Connect type names are accepted too.
_FLOATS = {"float": pa.float32(), "float32": pa.float32(), "double": pa.float64(),
           "float64": pa.float64()}
_LOGICAL_BASE = {DECIMAL: "bytes", DATE: "int32", TIME: "int32", TIMESTAMP: "int64"}
_MILLIS_PER_DAY = 86_400_000
_CONTEXT = decimal.Context(prec=100, traps=[decimal.Inexact, decimal.InvalidOperation])


class SchemaError(BeamConnectError, ValueError):
    """A record's Connect schema is not one JsonConverter reads."""


class PayloadError(Exception):
    """A payload does not match its schema; ``path`` names the field, from the top."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
        self.path: list[str] = []

    def reason(self) -> str:
        if self.path:
            return "payload does not match its schema at field %r: %s" % (format_path(self.path),
                                                                         self.message)
        return "payload does not match its schema: %s" % self.message


class NeedsExactNumbers(Exception):
    """A NUMERIC decimal was parsed as a binary float; parse the record again with exact decimals."""


@dataclasses.dataclass(frozen=True)
class ConnectSchema:
    """A compiled Connect schema.

    Attributes:
      arrow_type: The Arrow type of its values.
      optional: Whether the value may be null.
      convert: Parsed JSON payload to a value ``pa.array(..., type=arrow_type)`` accepts; None gives
        the default (with ``replace.null.with.default``), None if optional, else a PayloadError.
      vectorisable: Whether ``pa.array(payloads, type=arrow_type)`` converts payloads as ``convert``
        would, once nulls in required fields are checked: no bytes, Decimal, Time, maps, lists of
        strings or lists (Arrow reads a string as a list), or defaults.
      fixups: For a struct, ``(name, convert)`` of the fields that are not vectorisable: converting
        just those in a payload object leaves the rest to ``pa.array``. None for other types.
    """

    arrow_type: pa.DataType
    optional: bool
    convert: Callable[[Any], Any]
    vectorisable: bool
    fixups: Optional[tuple[tuple[str, Callable[[Any], Any]], ...]] = None
    name: Optional[str] = None
    version: Optional[int] = None
    doc: Optional[str] = None
    parameters: Optional[dict] = None
    default: Any = None

    def arrow_field(self, name: str) -> pa.Field:
        """The schema as an Arrow field, its Connect name, version, doc, parameters and default in the
        field's metadata (see :mod:`transforms.schema`)."""
        return connect_field(name, self.arrow_type, self.optional, schema_name=self.name,
                             version=self.version, doc=self.doc, parameters=self.parameters,
                             default=self.default)


def arrow_type(connect_schema: dict) -> pa.DataType:
    """The Arrow type of values of a Connect schema (the ``schema`` of a JsonConverter envelope).

    Raises:
      SchemaError: The schema is not a valid Connect schema.
    """
    return compile_schema(connect_schema).arrow_type


def arrow_field(name: str, connect_schema: dict) -> pa.Field:
    """An Arrow field for a Connect schema, nullable when the schema is optional."""
    return compile_schema(connect_schema).arrow_field(name)


def compile_schema(node: Any, replace_null_with_default: bool = True, path: str = "") -> ConnectSchema:
    """Compiles a Connect schema given as parsed JSON.

    Args:
      node: The schema.
      replace_null_with_default: Whether a null or missing value takes the schema default.
      path: Where the schema sits in an enclosing one, for messages.

    Raises:
      SchemaError: The schema is not a valid Connect schema.
    """
    where = "schema of field %r: " % path if path else ""
    fixups = None
    if not isinstance(node, dict):
        raise SchemaError("%sa schema must be a JSON object, got %s" % (where, _describe(node)))
    type_name = node.get("type")
    if not isinstance(type_name, str):
        raise SchemaError("%sschema must contain a 'type' field" % where)
    optional = node.get("optional") is True
    name = node.get("name") if isinstance(node.get("name"), str) else None
    parameters = node.get("parameters")
    if not isinstance(parameters, dict):
        parameters = {}
    elif not all(isinstance(v, str) for v in parameters.values()):
        raise SchemaError("%sschema parameters must have string values" % where)
    if name in _LOGICAL_BASE and type_name != _LOGICAL_BASE[name]:
        raise SchemaError("%s%s must have type %r, got %r"
                          % (where, name, _LOGICAL_BASE[name], type_name))

    if type_name in _INTEGERS:
        bits, arrow = _INTEGERS[type_name]
        inner, vectorisable = _integer(bits, type_name), True
        if name == DATE:
            arrow = pa.date32()
        elif name == TIME:
            # Arrow would take an int past midnight, so times are checked per value.
            arrow, inner, vectorisable = pa.time32("ms"), _time(inner), False
        elif name == TIMESTAMP:
            arrow = pa.timestamp("ms", tz="UTC")
    elif type_name in _FLOATS:
        arrow, inner, vectorisable = _FLOATS[type_name], _float(type_name), True
    elif type_name == "boolean":
        arrow, inner, vectorisable = pa.bool_(), _boolean, True
    elif type_name == "string":
        arrow, inner, vectorisable = pa.string(), _string, True
    elif type_name == "bytes" and name == DECIMAL:
        arrow, inner = _decimal(parameters, where)
        vectorisable = False
    elif type_name == "bytes":
        arrow, inner, vectorisable = pa.binary(), _bytes, False
    elif type_name == "array":
        arrow, inner, vectorisable = _array(node, replace_null_with_default, path, where)
    elif type_name == "map":
        arrow, inner, vectorisable = _map(node, replace_null_with_default, path, where)
    elif type_name == "struct":
        arrow, inner, vectorisable, fixups = _struct(node, replace_null_with_default, path, where)
    else:
        raise SchemaError("%sunknown schema type %r" % (where, type_name))

    default = node.get("default")
    if default is not None:
        try:
            try:
                default = inner(default)
            except NeedsExactNumbers:
                default = inner(_floats_as_decimals(default))
        except PayloadError as e:
            raise SchemaError("%sinvalid default value: %s" % (where, e.reason())) from None
    if default is not None and replace_null_with_default:
        convert, vectorisable = _or_default(inner, default), False
    elif optional:
        convert = _or_null(inner)
    else:
        convert = _required(inner, type_name)
    version = node.get("version")
    doc = node.get("doc")
    return ConnectSchema(arrow, optional, convert, vectorisable, fixups, name=name,
                         version=version if isinstance(version, int) else None,
                         doc=doc if isinstance(doc, str) else None,
                         parameters=parameters or None, default=default)


def _or_default(inner, default):
    def convert(value):
        return default if value is None else inner(value)
    return convert


def _or_null(inner):
    def convert(value):
        return None if value is None else inner(value)
    return convert


def _required(inner, type_name):
    def convert(value):
        if value is None:
            raise PayloadError("null value for required %s" % type_name)
        return inner(value)
    return convert


def _integer(bits: int, type_name: str):
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1

    def convert(value):
        kind = type(value)
        if kind is int:
            if low <= value <= high:
                return value
        elif (kind is float or kind is decimal.Decimal) and math.isfinite(value):
            # As Connect's intValue() (and Arrow): a fraction is truncated toward zero.
            truncated = int(value)
            if low <= truncated <= high:
                return truncated
        raise PayloadError("expected %s, got %s" % (type_name, _describe(value)))
    return convert


def _time(integer):
    def convert(value):
        millis = integer(value)
        if not 0 <= millis < _MILLIS_PER_DAY:
            raise PayloadError("Time must be milliseconds since midnight, from 0 to %d, got %d"
                               % (_MILLIS_PER_DAY - 1, millis))
        return millis
    return convert


def _float(type_name: str):
    def convert(value):
        kind = type(value)
        if kind is float or kind is int:
            return value
        if kind is decimal.Decimal:
            return float(value)
        raise PayloadError("expected %s, got %s" % (type_name, _describe(value)))
    return convert


def _boolean(value):
    if value is True or value is False:
        return value
    raise PayloadError("expected boolean, got %s" % _describe(value))


def _string(value):
    if type(value) is str:
        return value
    raise PayloadError("expected string, got %s" % _describe(value))


def _bytes(value):
    if type(value) is not str:
        raise PayloadError("expected bytes as a base64 string, got %s" % _describe(value))
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except binascii.Error as e:
        raise PayloadError("invalid base64: %s" % e) from None


def _decimal(parameters: dict, where: str):
    try:
        scale = int(parameters["scale"])
    except KeyError:
        raise SchemaError("%sinvalid Decimal schema: scale parameter not found" % where) from None
    except ValueError:
        raise SchemaError("%sinvalid Decimal scale %r" % (where, parameters["scale"])) from None
    try:
        precision = int(parameters.get(DECIMAL_PRECISION, "38"))
    except ValueError:
        precision = 0
    if not 1 <= precision <= 76:
        raise SchemaError("%sinvalid Decimal %s %r, must be from 1 to 76"
                          % (where, DECIMAL_PRECISION, parameters[DECIMAL_PRECISION]))
    arrow = pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    quantum, limit = decimal.Decimal(1).scaleb(-scale), 10 ** precision

    def convert(value):
        kind = type(value)
        if kind is str:
            unscaled = int.from_bytes(_bytes(value), "big", signed=True)
            number = decimal.Decimal(unscaled).scaleb(-scale, _CONTEXT)
        elif kind is int or kind is decimal.Decimal:
            number = decimal.Decimal(value)
        elif kind is float:
            raise NeedsExactNumbers()
        else:
            raise PayloadError("expected a Decimal as base64 bytes or a number, got %s"
                               % _describe(value))
        try:
            number = number.quantize(quantum, context=_CONTEXT)
        except (decimal.Inexact, decimal.InvalidOperation):
            raise PayloadError("Decimal %s has more than %d decimal places" % (number, scale)) from None
        if abs(int(number.scaleb(scale, _CONTEXT))) >= limit:
            raise PayloadError("Decimal %s has more than %d digits" % (number, precision))
        return number
    return arrow, convert


def _array(node: dict, replace: bool, path: str, where: str):
    items = node.get("items")
    if items is None:
        raise SchemaError("%sarray schema did not specify the element type" % where)
    element = compile_schema(items, replace, path + "[]")
    convert_element = element.convert
    arrow = pa.list_(element.arrow_field("item"))
    # A string is a sequence to pa.array, so lists of strings or lists are checked per value.
    vectorisable = element.vectorisable and not (
        pa.types.is_string(element.arrow_type) or pa.types.is_list(element.arrow_type))

    def convert(value):
        if type(value) is not list:
            raise PayloadError("expected an array, got %s" % _describe(value))
        try:
            return [convert_element(item) for item in value]
        except PayloadError:
            _locate(convert_element, enumerate(value), "[%d]")
            raise
    return arrow, convert, vectorisable


def _map(node: dict, replace: bool, path: str, where: str):
    if node.get("keys") is None:
        raise SchemaError("%smap schema did not specify the key type" % where)
    if node.get("values") is None:
        raise SchemaError("%smap schema did not specify the value type" % where)
    key = compile_schema(node["keys"], replace, path + "{key}")
    item = compile_schema(node["values"], replace, path + "{}")
    arrow = pa.map_(key.arrow_field("key").with_nullable(False), item.arrow_field("value"))
    convert_key, convert_item = key.convert, item.convert

    if pa.types.is_string(key.arrow_type):
        def convert(value):
            if type(value) is not dict:
                raise PayloadError("a map with string keys must be a JSON object, got %s"
                                   % _describe(value))
            try:
                return [(k, convert_item(v)) for k, v in value.items()]
            except PayloadError:
                _locate(convert_item, ((repr(k), v) for k, v in value.items()), "[%s]")
                raise
        return arrow, convert, False

    def convert_pair(pair):
        if type(pair) is not list or len(pair) != 2:
            raise PayloadError("a map entry must be a [key, value] array, got %s" % _describe(pair))
        if pair[0] is None:
            raise PayloadError("a map key may not be null")
        return convert_key(pair[0]), convert_item(pair[1])

    def convert(value):
        if type(value) is not list:
            raise PayloadError("a map with non-string keys must be an array of [key, value] pairs, "
                               "got %s" % _describe(value))
        try:
            return [convert_pair(pair) for pair in value]
        except PayloadError:
            _locate(convert_pair, enumerate(value), "[%d]")
            raise
    return arrow, convert, False


def _struct(node: dict, replace: bool, path: str, where: str):
    fields = node.get("fields")
    if not isinstance(fields, list):
        raise SchemaError("%sstruct schema's \"fields\" is not an array" % where)
    converters, arrow_fields, fixups = [], [], []
    for field in fields:
        name = field.get("field") if isinstance(field, dict) else None
        if not isinstance(name, str):
            raise SchemaError("%sstruct schema's field name not specified properly" % where)
        if any(f.name == name for f in arrow_fields):
            raise SchemaError("%sstruct schema has field %r twice" % (where, name))
        schema = compile_schema(field, replace, path + "." + name if path else name)
        converters.append((name, schema.convert))
        arrow_fields.append(schema.arrow_field(name))
        if not schema.vectorisable:
            fixups.append((name, schema.convert))
    converters = tuple(converters)

    def convert(value):
        if type(value) is not dict:
            raise PayloadError("expected a struct (JSON object), got %s" % _describe(value))
        get = value.get
        try:
            return {name: convert_field(get(name)) for name, convert_field in converters}
        except PayloadError:
            for name, convert_field in converters:
                try:
                    convert_field(get(name))
                except PayloadError as e:
                    e.path.insert(0, name)
                    raise e from None
            raise
    return pa.struct(arrow_fields), convert, not fixups, tuple(fixups)


def _locate(convert, items, label: str):
    """Re-raises the PayloadError of the first failing item with ``label % key`` on its path."""
    for key, item in items:
        try:
            convert(item)
        except PayloadError as e:
            e.path.insert(0, label % key)
            raise e from None


def _floats_as_decimals(value):
    """A parsed value with its floats as decimals of their shortest repr (for schema defaults)."""
    if type(value) is float:
        return decimal.Decimal(repr(value))
    if type(value) is list:
        return [_floats_as_decimals(v) for v in value]
    if type(value) is dict:
        return {k: _floats_as_decimals(v) for k, v in value.items()}
    return value


def _describe(value) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "boolean"
    if isinstance(value, (int, float, decimal.Decimal)):
        return "number %s" % value
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
