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
  ``yyyy-MM-dd'T'HH:mm:ss.SSS'Z'``), in UTC;
- Date, Time and Timestamp to numbers as days, milliseconds of the day and epoch milliseconds.

As in Connect, structs, maps and arrays cannot be cast (``Cast transformation does not support casting
from STRUCT; ...``); a schemaless value is cast by its runtime type; null values and tombstones pass
through; with ``replace.null.with.default`` (the default) a null top-level field of a schemaful struct
takes its default. A cast field's schema keeps the field's optionality and its default, cast; a whole
value keeps its schema's name, version and doc (a logical type's name is dropped with its type).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from common.configdef import NO_DEFAULT, ConfigDef, ConfigKey
from common.errors import ConfigError, DataError
from transforms.records import ConvertedBundle
from transforms.schema import DATE, DECIMAL, TIME, TIMESTAMP, connect_field, schema_info
from transforms.smt.base import FieldTransformation, fail, names
from transforms.smt.dateformat import MILLIS_PER_DAY, DateFormat, as_timestamps

SPEC = "spec"
REPLACE_NULL_WITH_DEFAULT = "replace.null.with.default"

TARGET_TYPES = {"INT8": pa.int8(), "INT16": pa.int16(), "INT32": pa.int32(), "INT64": pa.int64(),
                "FLOAT32": pa.float32(), "FLOAT64": pa.float64(), "BOOLEAN": pa.bool_(),
                "STRING": pa.string()}
CONNECT_TYPES = ("INT8", "INT16", "INT32", "INT64", "FLOAT32", "FLOAT64", "BOOLEAN", "STRING",
                 "BYTES", "ARRAY", "MAP", "STRUCT")
_INPUT_TYPES = CONNECT_TYPES[:9]
_LOGICAL_NAMES = (DECIMAL, DATE, TIME, TIMESTAMP)

_UNSUPPORTED_FROM = ("Cast transformation does not support casting from %%s; supported types are [%s]"
                     % ", ".join(_INPUT_TYPES))
_UNSUPPORTED_TO = ("Cast transformation does not support casting to %%s; supported types are [%s]"
                   % ", ".join(TARGET_TYPES))
_OUT_OF_RANGE = "Value (%s) was out of range for requested data type"
_NOT_CONNECT_DATA = ("Cast transformation was passed a value of type class %s which is not supported "
                     "by Connect's data API")
_PURPOSE = "cast types"

_INT_RANGES = {"INT8": (-(1 << 7), (1 << 7) - 1), "INT16": (-(1 << 15), (1 << 15) - 1),
               "INT32": (-(1 << 31), (1 << 31) - 1), "INT64": (-(1 << 63), (1 << 63) - 1)}
_NUMPY_INTS = {"INT8": np.int8, "INT16": np.int16, "INT32": np.int32}
_JAVA_WHITESPACE = "".join(chr(c) for c in range(33))  # what String.trim() removes
_JAVA_DECIMAL = r"^[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?)$"
_JAVA_HEX = r"^[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+[fFdD]?$"
_BASE64 = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", np.uint8)

_ISO_TIME = DateFormat("HH:mm:ss.SSS'Z'")
_ISO_DATE = DateFormat("yyyy-MM-dd")
_ISO_TIMESTAMP = DateFormat("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")


# ------------------------------------------------------------------------ Connect's view of a type


def connect_type(arrow_type: pa.DataType) -> str:
    """The Connect schema type (``INT32``, ``STRUCT``, ...) an Arrow type stands for; logical types
    give their base type (Date ``INT32``, Decimal ``BYTES``)."""
    t = arrow_type
    for name, target in TARGET_TYPES.items():
        if t == target:
            return name
    if pa.types.is_large_string(t):
        return "STRING"
    if pa.types.is_date32(t) or pa.types.is_time32(t):
        return "INT32"
    if pa.types.is_timestamp(t):
        return "INT64"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_decimal(t):
        return "BYTES"
    if pa.types.is_map(t):
        return "MAP"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "ARRAY"
    if pa.types.is_struct(t):
        return "STRUCT"
    return str(t).upper()


def java_class(arrow_type: pa.DataType, schemaless: bool = True) -> str:
    """The Java class of a Connect value of this type, as Connect's error messages name it."""
    t = arrow_type
    if pa.types.is_decimal(t):
        return "java.math.BigDecimal"
    if pa.types.is_temporal(t):
        return "java.util.Date"
    if pa.types.is_struct(t):
        return "java.util.HashMap" if schemaless else "org.apache.kafka.connect.data.Struct"
    return {"INT8": "java.lang.Byte", "INT16": "java.lang.Short", "INT32": "java.lang.Integer",
            "INT64": "java.lang.Long", "FLOAT32": "java.lang.Float", "FLOAT64": "java.lang.Double",
            "BOOLEAN": "java.lang.Boolean", "STRING": "java.lang.String", "BYTES": "[B",
            "ARRAY": "java.util.ArrayList", "MAP": "java.util.HashMap"}.get(connect_type(t), str(t))


def struct_children(array: pa.StructArray, schema: pa.Field,
                    replace_null_with_default: bool) -> list:
    """The fields of a struct column, null where the struct is; a null field takes its default in
    ``schema`` when ``replace_null_with_default`` is set (Connect's ``Struct.get``)."""
    children = array.flatten()
    if not replace_null_with_default:
        return children
    for i, field in enumerate(schema.type):
        info = schema_info(field)
        if info.default is not None and children[i].null_count:
            children[i] = pc.fill_null(children[i], pa.scalar(info.default, field.type))
    return children


def rebuild_struct(like: pa.StructArray, children: list, fields: list) -> pa.StructArray:
    """A struct column of ``children`` typed by ``fields``, null where ``like`` is."""
    mask = like.is_null() if like.null_count else None
    return pa.StructArray.from_arrays(children, fields=fields, mask=mask)


class RowErrors:
    """Per-record failures of one column: the first error of each row wins. An error is a message
    (reported as Connect's DataException) or a DataError."""

    def __init__(self, n: int):
        self.n = n
        self.messages: dict = {}

    def __bool__(self) -> bool:
        return bool(self.messages)

    def add(self, rows, message: str | DataError | Callable[[int], str]) -> None:
        """Fails ``rows`` (indices, or a boolean mask) with ``message`` (or ``message(row)``)."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        for row in rows.tolist():
            if row not in self.messages:
                self.messages[row] = message(row) if callable(message) else message

    def add_all(self, other: dict) -> None:
        for row, message in other.items():
            self.messages.setdefault(row, message)

    def failures(self) -> list:
        return [(row, error if isinstance(error, DataError) else fail(error))
                for row, error in sorted(self.messages.items())]

    def keep(self, array: pa.Array) -> pa.Array:
        """``array`` without the failed rows."""
        if not self.messages:
            return array
        mask = np.ones(self.n, bool)
        mask[list(self.messages)] = False
        return array.filter(pa.array(mask))


def non_null(array: pa.Array) -> np.ndarray:
    """Where ``array`` is not null, as a NumPy mask."""
    return np.asarray(array.is_valid())


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
            return _date_strings(values), errors
        values = (values.cast(pa.int32()) if not pa.types.is_timestamp(t)
                  else as_timestamps(values).cast(pa.int64()))
        t = values.type
    if source == "BYTES" and not pa.types.is_decimal(t):
        if target == "STRING":
            return _base64(values), errors
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
    if pa.types.is_floating(t) and target in _INT_RANGES:
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

    def out_of_range(row: int) -> str:
        return _OUT_OF_RANGE % values[row].as_py()

    if target in _INT_RANGES:
        result, bad = _parse_ints(values, target)
    else:
        result, bad = _parse_floats(values, TARGET_TYPES[target])
    for row in np.flatnonzero(bad).tolist():
        errors[row] = out_of_range(row)
    return result


def _parse_ints(values: pa.Array, target: str) -> tuple[pa.Array, np.ndarray]:
    """``Long.parseLong`` (ASCII digits, an optional sign) and the range check of the target type."""
    null = pa.scalar(None, pa.string())
    syntax = pc.match_substring_regex(values, r"^[+-]?[0-9]+$").fill_null(False)
    text = pc.replace_substring_regex(pc.if_else(syntax, values, null), r"^\+", "")
    short = pc.less_equal(pc.utf8_length(text), 18).fill_null(False)
    numbers = pc.if_else(short, text, null).cast(pa.int64())
    long_rows = np.flatnonzero(np.asarray(syntax) & ~np.asarray(short))
    if len(long_rows):  # beyond 17 digits, rare: read in Python
        parsed = [int(values[int(row)].as_py()) for row in long_rows]
        fits = [_INT_RANGES["INT64"][0] <= v <= _INT_RANGES["INT64"][1] for v in parsed]
        mask = np.zeros(len(values), bool)
        mask[long_rows[fits]] = True
        numbers = pc.replace_with_mask(numbers, pa.array(mask),
                                       pa.array([v for v, ok in zip(parsed, fits) if ok], pa.int64()))
    low, high = _INT_RANGES[target]
    in_range = pc.and_(pc.greater_equal(numbers, low), pc.less_equal(numbers, high))
    bad = non_null(values) & ~np.asarray(in_range.fill_null(False))
    numbers = pc.if_else(in_range, numbers, pa.scalar(None, pa.int64()))
    return numbers.cast(TARGET_TYPES[target]), bad


def _parse_floats(values: pa.Array, arrow_target: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    """``Double.parseDouble``/``Float.parseFloat``: trimmed, ``NaN``, ``Infinity``, an optional
    ``f``/``d`` suffix, hexadecimal ``0x1.8p1``."""
    null = pa.scalar(None, pa.string())
    text = pc.utf8_trim(values, characters=_JAVA_WHITESPACE)
    decimal = pc.match_substring_regex(text, _JAVA_DECIMAL).fill_null(False)
    plain = pc.replace_substring_regex(pc.if_else(decimal, text, null), "[fFdD]$", "")
    numbers = plain.cast(arrow_target)
    hexadecimal = np.asarray(pc.match_substring_regex(text, _JAVA_HEX).fill_null(False))
    if hexadecimal.any():  # rare: Python reads hexadecimal floats
        rows = np.flatnonzero(hexadecimal)
        parsed = [float.fromhex(text[int(r)].as_py().rstrip("fFdD")) for r in rows]
        numbers = pc.replace_with_mask(numbers, pa.array(hexadecimal),
                                       pa.array(parsed, pa.float64()).cast(arrow_target))
    bad = non_null(values) & ~np.asarray(decimal) & ~hexadecimal
    return numbers, bad


def java_float_strings(values: pa.Array) -> pa.Array:
    """Floating point numbers as Java's ``Double.toString``/``Float.toString`` write them: the
    shortest digits that read back, plain from 10^-3 up to 10^7 (``100.0``, ``0.001``), else
    ``d.dddE±n`` (``1.0E10``, ``1.5E-5``); ``NaN``, ``Infinity``."""
    text = values.cast(pa.string())  # Arrow's shortest digits: plain from 1e-6 up to 1e10
    magnitude = pc.abs(values.cast(pa.float64()))
    finite = pc.is_finite(magnitude)
    plain = pc.or_(pc.equal(magnitude, 0.0),
                   pc.and_(pc.greater_equal(magnitude, 1e-3), pc.less(magnitude, 1e7)))
    out = text
    integral = np.asarray(pc.and_(plain, pc.invert(pc.match_substring(text, "."))).fill_null(False))
    if integral.any():  # 100 -> 100.0
        mask = pa.array(integral)
        out = pc.replace_with_mask(out, mask, pc.binary_join_element_wise(text.filter(mask), ".0",
                                                                          ""))
    scientific = np.asarray(pc.and_(finite, pc.invert(plain)).fill_null(False))
    if scientific.any():
        mask = pa.array(scientific)
        out = pc.replace_with_mask(out, mask, _java_scientific(text.filter(mask)))
    special = np.asarray(pc.invert(finite).fill_null(False))
    if special.any():
        mask = pa.array(special)
        names = pc.replace_substring_regex(pc.replace_substring(text.filter(mask), "inf",
                                                                "Infinity"), "^-?nan$", "NaN")
        out = pc.replace_with_mask(out, mask, names)
    return out


def _java_scientific(text: pa.Array) -> pa.Array:
    """Arrow's text of numbers outside [1e-3, 1e7) in Java's ``d.dddE±n``."""
    r = pc.replace_substring_regex
    text = r(text, r"^(-?\d)e", r"\1.0e")  # 1e+22 -> 1.0e+22
    text = r(r(text, r"e\+", "E"), "e-", "E-")
    for digits in (7, 8, 9):  # 12345678.5 -> 1.23456785E7
        text = r(text, r"^(-?)(\d)(\d{%d})(?:\.(\d+))?$" % digits, r"\1\2.\3\4E%d" % digits)
    for zeros in (3, 4, 5):  # 0.000015 -> 1.5E-5
        text = r(text, r"^(-?)0\.0{%d}([1-9])(\d*)$" % zeros, r"\1\2.\3E-%d" % (zeros + 1))
    text = r(text, r"^(-?\d\.\d*?)0+E", r"\1E")  # 1.0000000E7 -> 1.E7
    return r(text, r"\.E", ".0E")


def _date_strings(values: pa.Array) -> pa.Array:
    """Date, Time and Timestamp values as ``Values.dateFormatFor(value).format(value)``, in UTC."""
    ts = as_timestamps(values)
    millis = ts.cast(pa.int64())
    time_rows = pc.less(millis, MILLIS_PER_DAY).fill_null(False)
    date_rows = pc.and_(pc.invert(time_rows),
                        pc.equal(pc.subtract(millis, pc.multiply(pc.divide(millis, MILLIS_PER_DAY),
                                                                 MILLIS_PER_DAY)), 0)).fill_null(False)
    out = pa.nulls(len(values), pa.string())
    for rows, form in ((time_rows, _ISO_TIME), (date_rows, _ISO_DATE),
                       (pc.invert(pc.or_(time_rows, date_rows)), _ISO_TIMESTAMP)):
        rows = pc.and_(rows, ts.is_valid())
        if pc.any(rows).as_py():
            out = pc.if_else(rows, form.format(ts), out)
    return out


def _base64(values: pa.Array) -> pa.Array:
    """Bytes as standard base64 text (Java's ``Base64.getEncoder()``), with NumPy."""
    values = values.cast(pa.binary())
    n = len(values)
    validity, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int32, n + 1, values.offset * 4).astype(np.int64)
    data = np.frombuffer(data_buffer, np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    starts, ends = offsets[:-1], offsets[1:]
    valid = non_null(values)
    ends = np.where(valid, ends, starts)
    groups = (ends - starts + 2) // 3
    out_offsets = np.zeros(n + 1, np.int32)
    np.cumsum(groups * 4, out=out_offsets[1:])
    owner = np.repeat(np.arange(n), groups)
    index = np.arange(int(groups.sum())) - np.repeat(np.cumsum(groups) - groups, groups)
    source = starts[owner] + 3 * index
    end = ends[owner]
    padded = np.concatenate([data, np.zeros(3, np.uint8)]).astype(np.uint32)
    triple = ((padded[source] << 16) | (np.where(source + 1 < end, padded[source + 1], 0) << 8)
              | np.where(source + 2 < end, padded[source + 2], 0))
    chars = _BASE64[np.stack([(triple >> s) & 63 for s in (18, 12, 6, 0)], axis=1)]
    left = end - source
    chars[left == 1, 2:] = ord("=")
    chars[left == 2, 3] = ord("=")
    out = pa.StringArray.from_buffers(n, pa.py_buffer(out_offsets), pa.py_buffer(chars.tobytes()))
    return pc.if_else(values.is_valid(), out, pa.scalar(None, pa.string())) if values.null_count else out


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
        ConfigKey(REPLACE_NULL_WITH_DEFAULT, "boolean", True,
                  doc="Whether a null field that has a default value takes it."),
    ])

    def configure(self, config) -> None:
        self.whole, self.casts = _parse_spec(config[SPEC], self.prefix + SPEC)
        self.replace_null_with_default = config[REPLACE_NULL_WITH_DEFAULT]

    def transform(self, array: pa.Array, schema: Optional[pa.Field],
                  bundle: ConvertedBundle) -> tuple[pa.Array, Optional[pa.Field], list]:
        errors = RowErrors(len(array))
        if self.whole is not None:
            array, schema = self._cast_whole(array, schema, errors)
        elif schema is None:
            array = self._cast_schemaless(array, errors)
        else:
            array, schema = self._cast_fields(array, schema, errors)
        return errors.keep(array), schema, errors.failures()

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
        if not pa.types.is_struct(array.type):
            errors.add(non_null(array), "Only Map objects supported in absence of schema for [%s], "
                                        "found: %s" % (_PURPOSE, java_class(array.type)))
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
        return rebuild_struct(array, children, fields)

    def _cast_fields(self, array, schema: pa.Field, errors: RowErrors):
        if not pa.types.is_struct(schema.type):
            errors.add(non_null(array), "Cannot list fields on non-struct type")
            return array, schema
        children = struct_children(array, schema, self.replace_null_with_default)
        fields = list(schema.type)
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
        out = rebuild_struct(array, children, fields)
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
