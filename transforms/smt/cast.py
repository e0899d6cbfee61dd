"""Kafka Connect's Cast: fields of a struct, or the whole key or value, to another primitive type.

``spec`` is either one type (the whole key or value) or ``field:type`` pairs (top-level fields);
types are ``int8`` ``int16`` ``int32`` ``int64`` ``float32`` ``float64`` ``boolean`` ``string``.
Values cast as Java casts them in Connect's Cast, column at a time:

- numbers narrow as Java's ``Number.intValue()`` and its kin do: integers and Decimals wrap, floating
  point truncates toward zero and saturates at the int (int8, int16, int32) or long range first, NaN
  is 0;
- to ``boolean``, a number is true when its ``longValue()`` is not 0 (so 0.5 is false), a string when it
  is ``true`` in any case;
- strings parse as ``Integer.parseInt``/``Double.parseDouble`` (a value that does not parse fails the
  record: ``Value (abc) was out of range for requested data type``);
- to ``string``: floating point as ``Double.toString`` (``1.0``, ``1.0E10``), bytes as base64, a
  Decimal as ``BigDecimal.toString``, Date, Time and Timestamp as ``Values.dateFormatFor`` picks by the
  instant (``HH:mm:ss.SSS'Z'`` within the first day of 1970, ``yyyy-MM-dd`` at midnight, else
  ``yyyy-MM-dd'T'HH:mm:ss.SSS'Z'``), in UTC (the text is :mod:`transforms.smt.javatext`'s);
- Date, Time and Timestamp to numbers as days, milliseconds of the day and epoch milliseconds.

As in Connect, structs, maps and arrays cannot be cast (``Cast transformation does not support casting
from STRUCT; ...``); a schemaless value is cast by its runtime type; null values and tombstones pass
through; with ``replace.null.with.default`` (the default) a null top-level field of a schemaful struct
takes its default. A cast field's schema keeps the field's optionality and its default, cast; a whole
value keeps its schema's name, version and doc (a logical type's name is dropped with its type).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from common.configdef import NO_DEFAULT, ConfigDef, ConfigKey
from common.errors import ConfigError, DataError
from transforms.records import ConvertedBundle
from transforms.schema import DATE, DECIMAL, TIME, TIMESTAMP, connect_field, schema_info
from transforms.smt.base import FieldTransformation, names
from transforms.smt.columns import (
    REPLACE_NULL_WITH_DEFAULT, RowErrors, connect_type, java_class, non_null, rebuild_struct,
    require_objects, struct_children)
from transforms.smt.dateformat import as_timestamps
from transforms.smt.javatext import (
    base64_strings, date_strings, java_float_strings, parse_floats, parse_integers)

SPEC = "spec"

TARGET_TYPES = {"INT8": pa.int8(), "INT16": pa.int16(), "INT32": pa.int32(), "INT64": pa.int64(),
                "FLOAT32": pa.float32(), "FLOAT64": pa.float64(), "BOOLEAN": pa.bool_(),
                "STRING": pa.string()}
CONNECT_TYPES = ("INT8", "INT16", "INT32", "INT64", "FLOAT32", "FLOAT64", "BOOLEAN", "STRING",
                 "BYTES", "ARRAY", "MAP", "STRUCT")
_INPUT_TYPES = CONNECT_TYPES[:9]
_INTEGERS = CONNECT_TYPES[:4]
_LOGICAL_NAMES = (DECIMAL, DATE, TIME, TIMESTAMP)

_UNSUPPORTED_FROM = ("Cast transformation does not support casting from %%s; supported types are [%s]"
                     % ", ".join(_INPUT_TYPES))
_UNSUPPORTED_TO = ("Cast transformation does not support casting to %%s; supported types are [%s]"
                   % ", ".join(TARGET_TYPES))
_OUT_OF_RANGE = "Value (%s) was out of range for requested data type"
_NOT_CONNECT_DATA = ("Cast transformation was passed a value of type class %s which is not supported "
                     "by Connect's data API")
_PURPOSE = "cast types"

_NUMPY_INTS = {"INT8": np.int8, "INT16": np.int16, "INT32": np.int32}


# ------------------------------------------------------------------------------- casting a column


def cast_values(values: pa.Array, target: str, schemaless: bool = False) -> tuple[pa.Array, dict]:
    """``values`` cast to the Connect type ``target`` as Connect's Cast casts each one.

    Args:
      values: One column; its Arrow type is its Connect type (schemaful) or runtime type (schemaless).
      target: One of :data:`TARGET_TYPES`.
      schemaless: Whether the values have no schema: then Decimal, Date, ... are not Connect data and
        a struct is a map.

    Returns:
      The cast column (null where a value failed) and ``{row: message}`` of the values that failed.
    """
    t = values.type
    arrow_target = TARGET_TYPES[target]
    n = len(values)
    if pa.types.is_null(t):
        return pa.nulls(n, arrow_target), {}
    source = connect_type(t)
    if schemaless and (pa.types.is_decimal(t) or pa.types.is_temporal(t)):
        return _failed(values, arrow_target, _NOT_CONNECT_DATA % java_class(t))
    if source not in _INPUT_TYPES:
        return _failed(values, arrow_target, _UNSUPPORTED_FROM % ("MAP" if schemaless and source
                                                                  == "STRUCT" else source))
    errors: dict = {}
    if pa.types.is_temporal(t):
        if target == "STRING":
            return date_strings(values), errors
        values = (values.cast(pa.int32()) if not pa.types.is_timestamp(t)
                  else as_timestamps(values).cast(pa.int64()))
        t = values.type
    if source == "BYTES" and not pa.types.is_decimal(t):
        if target == "STRING":
            return base64_strings(values), errors
        return _failed(values, arrow_target, "Unexpected type in Cast transformation: class [B")
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return _from_strings(values.cast(pa.string()), target, errors), errors
    if target == "STRING":
        if pa.types.is_floating(t):
            return java_float_strings(values), errors
        return values.cast(pa.string()), errors
    if target == "BOOLEAN":
        if pa.types.is_floating(t):
            return pc.greater_equal(pc.abs(values), 1.0), errors  # (long) x != 0
        if pa.types.is_decimal(t):
            values = values.cast(pa.int64(), safe=False)
        return values if pa.types.is_boolean(t) else pc.not_equal(values, 0), errors
    if pa.types.is_floating(t) and target in _INTEGERS:
        return _float_to_int(values, target), errors
    return values.cast(arrow_target, safe=False), errors


def _failed(values: pa.Array, arrow_target: pa.DataType, message: str) -> tuple[pa.Array, dict]:
    rows = np.flatnonzero(non_null(values)).tolist()
    return pa.nulls(len(values), arrow_target), {row: message for row in rows}


def _float_to_int(values: pa.Array, target: str) -> pa.Array:
    """Java's ``(int) x`` (or ``(long) x``) then, for int8 and int16, the narrowing that wraps."""
    x = np.trunc(values.cast(pa.float64()).to_numpy(zero_copy_only=False))
    x[np.isnan(x)] = 0.0
    if target == "INT64":
        out = np.clip(x, -9.223372036854775808e18, 9.2233720368547748e18).astype(np.int64)
        out[x >= 9.223372036854775808e18] = (1 << 63) - 1
    else:
        out = np.clip(x, -2147483648.0, 2147483647.0).astype(np.int64)
        out = out.astype(_NUMPY_INTS[target])  # wraps, as Java's (byte) and (short)
    mask = np.asarray(values.is_null()) if values.null_count else None
    return pa.array(out, TARGET_TYPES[target], mask=mask)


def _from_strings(values: pa.Array, target: str, errors: dict) -> pa.Array:
    if target == "STRING":
        return values
    if target == "BOOLEAN":
        return pc.equal(pc.utf8_lower(values), "true")  # Boolean.parseBoolean
    parse = parse_integers if target in _INTEGERS else parse_floats
    result, bad = parse(values, TARGET_TYPES[target])
    for row in np.flatnonzero(bad).tolist():
        errors[row] = _OUT_OF_RANGE % values[row].as_py()
    return result


# ------------------------------------------------------------------------------------ the transform


def _parse_spec(items: tuple, key: str) -> tuple[Optional[str], dict]:
    """``(whole value type or None, {field: type})`` of ``spec``, as Connect's parseFieldTypes."""
    shown = ",".join(items)
    allowed = ", ".join(t.lower() for t in TARGET_TYPES)
    if not items:
        raise ConfigError("%s must specify at least one field to cast, got %r" % (key, shown))

    def target(name: str) -> str:
        upper = name.strip().upper()
        if upper not in CONNECT_TYPES:
            raise ConfigError("%s must use the types %s, got %r: Invalid type found in casting "
                              "spec: %s" % (key, allowed, shown, name.strip()))
        if upper not in TARGET_TYPES:
            raise ConfigError("%s must use the types %s, got %r: %s"
                              % (key, allowed, shown, _UNSUPPORTED_TO % upper))
        return upper

    whole, casts = None, {}
    for item in items:
        parts = item.split(":")
        while len(parts) > 1 and parts[-1] == "":  # as Java's String.split
            parts.pop()
        if len(parts) > 2:
            raise ConfigError("%s must list field:type pairs, or one type for the whole value, "
                              "got %r: invalid cast mapping %r" % (key, shown, item))
        if len(parts) == 1:
            whole = target(parts[0])
        else:
            casts[parts[0].strip()] = target(parts[1])
    if whole is not None and len(items) > 1:
        raise ConfigError("%s must hold a single type when it casts the whole value, got %r: Cast "
                          "transformations that specify a type to cast the entire value to may only "
                          "specify a single cast in their spec" % (key, shown))
    return whole, casts


def _cast_default(field: pa.Field, target: str) -> Any:
    info = schema_info(field)
    if info.default is None:
        return None
    cast, errors = cast_values(pa.array([info.default], field.type), target)
    if errors:
        raise DataError(errors[0])
    return cast[0].as_py()


class Cast(FieldTransformation):
    """Casts fields of the key or value, or all of it, to another primitive type.

    Keys: ``spec`` (``type`` or ``field:type,...``), ``replace.null.with.default`` (true).
    """

    config_def = ConfigDef([
        ConfigKey(SPEC, "list", NO_DEFAULT,
                  doc="Fields and the type to cast them to (field1:type,field2:type), or a single "
                      "type to cast the entire value; int8, int16, int32, int64, float32, float64, "
                      "boolean or string."),
        REPLACE_NULL_WITH_DEFAULT,
    ])

    def configure(self, config) -> None:
        self.whole, self.casts = _parse_spec(config[SPEC], self.prefix + SPEC)
        self.replace_null_with_default = config[REPLACE_NULL_WITH_DEFAULT.name]

    def transform(self, array: pa.Array, schema: Optional[pa.Field],
                  bundle: ConvertedBundle) -> tuple[pa.Array, Optional[pa.Field], list]:
        errors = RowErrors(len(array))
        if self.whole is not None:
            array, schema = self._cast_whole(array, schema, errors)
        elif schema is None:
            array = self._cast_schemaless(array, errors)
        else:
            array, schema = self._cast_fields(array, schema, errors)
        return errors.result(array, schema)

    def _cast_whole(self, array, schema, errors: RowErrors):
        out, failed = cast_values(array, self.whole, schemaless=schema is None)
        errors.add_all(failed)
        if schema is None:
            return out, None
        info = schema_info(schema)
        logical = info.name in _LOGICAL_NAMES
        try:
            default = _cast_default(schema, self.whole)
        except DataError as e:
            errors.add(non_null(array), str(e))
            default = None
        return out, connect_field(
            schema.name, TARGET_TYPES[self.whole], schema.nullable,
            schema_name=None if logical else info.name, version=None if logical else info.version,
            doc=info.doc, parameters=None if logical else info.parameters, default=default)

    def _cast_schemaless(self, array, errors: RowErrors):
        if not require_objects(errors, array, False, _PURPOSE):
            return array
        children, fields = array.flatten(), list(array.type)
        present = {f.name: i for i, f in enumerate(fields)}
        for name, target in self.casts.items():
            if name in present:
                i = present[name]
                children[i], failed = cast_values(children[i], target, schemaless=True)
                errors.add_all(failed)
                fields[i] = pa.field(name, children[i].type)
            else:  # Connect puts the missing field, null
                children.append(pa.nulls(len(array), TARGET_TYPES[target]))
                fields.append(pa.field(name, TARGET_TYPES[target]))
        return rebuild_struct(array, fields, children)

    def _cast_fields(self, array, schema: pa.Field, errors: RowErrors):
        if not pa.types.is_struct(schema.type):
            errors.add(non_null(array), "Cannot list fields on non-struct type")
            return array, schema
        fields = list(schema.type)
        children = struct_children(array, fields, self.replace_null_with_default)
        for i, field in enumerate(fields):
            target = self.casts.get(field.name)
            if target is None:
                continue
            try:
                default = _cast_default(field, target)
            except DataError as e:  # Connect fails building the schema: every record fails
                errors.add(non_null(array), str(e))
                default = None
            children[i], failed = cast_values(children[i], target)
            errors.add_all(failed)
            fields[i] = connect_field(field.name, TARGET_TYPES[target], field.nullable,
                                      default=default)
        out = rebuild_struct(array, fields, children)
        info = schema_info(schema)
        try:
            default = self._cast_struct_default(schema)
        except DataError as e:
            errors.add(non_null(array), str(e))
            default = None
        return out, connect_field(schema.name, out.type, schema.nullable, schema_name=info.name,
                                  version=info.version, doc=info.doc, parameters=info.parameters,
                                  default=default)

    def _cast_struct_default(self, schema: pa.Field) -> Optional[dict]:
        """The struct's default with its cast fields cast. (Connect casts the default struct as a
        whole, which fails every record; casting its fields is what the schema needs.)"""
        default = schema_info(schema).default
        if default is None:
            return None
        default = dict(default)
        for field in schema.type:
            if field.name in self.casts and default.get(field.name) is not None:
                cast, errors = cast_values(pa.array([default[field.name]], field.type),
                                           self.casts[field.name])
                if errors:
                    raise DataError(errors[0])
                default[field.name] = cast[0].as_py()
        return default


TRANSFORMATIONS = names("Cast", Cast)
