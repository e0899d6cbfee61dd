"""MaskField: fields replaced by an empty value of their type, or by a configured replacement."""

from __future__ import annotations

import decimal
from typing import Any, Mapping, Optional

import pyarrow as pa
import pyarrow.compute as pc

from common.configdef import ConfigDef, ConfigKey
from common.errors import ConfigError
from transforms.smt.base import FieldTransformation
from transforms.smt.columns import (
    REPLACE_NULL_WITH_DEFAULT, RowErrors, java_class, rebuild_struct, struct_columns)
from transforms.smt.values import BIG_DECIMAL, wrap

_INTEGER_BITS = {pa.int8(): 8, pa.int16(): 16, pa.int32(): 32, pa.int64(): 64}


class MaskField(FieldTransformation):
    """Masks fields of the key or value (``MaskField$Key`` / ``$Value``).

    Without ``replacement`` a non-null value becomes the empty value of its type, as Connect's:
    ``false``, ``0`` of the same integer or float type, ``""``, the epoch for Date, Time and
    Timestamp, a zero Decimal, an empty array or map (and an empty map for a schemaless nested
    object). Bytes and schemaful structs cannot be masked: the record fails with Connect's
    ``Cannot mask value of type: ...``. With ``replacement`` numbers and strings get the replacement
    read as their type (integers as Java narrows them: truncated, wrapped to the type's width); other
    types fail the record (``Cannot mask value of type ... with custom replacement.``).

    Nulls stay null (a null with a schema default is the default, masked, unless
    ``replace.null.with.default=false``). The schema is unchanged. A schemaless record gets a null entry
    for a listed field it lacks. A null record fails, as in Connect: MaskField needs a Struct or Map.

    Keys:
      fields: Names of the top-level fields to mask; required, non-empty.
      replacement: A value for numeric and string fields instead of the empty one; non-empty.
      replace.null.with.default: Whether a null field with a schema default is read as the default
        (default true).
    """

    config_def = ConfigDef([
        ConfigKey("fields", "list", doc="Names of fields to mask."),
        ConfigKey("replacement", "string", None,
                  doc="Custom replacement for numeric and string fields."),
        REPLACE_NULL_WITH_DEFAULT,
    ])
    PURPOSE = "mask fields"

    def configure(self, config: Mapping[str, Any]) -> None:
        if not config["fields"]:
            raise ConfigError("%sfields must be a non-empty list, got ''" % self.prefix)
        self.fields = tuple(dict.fromkeys(config["fields"]))
        self.replacement: Optional[str] = config["replacement"]
        if self.replacement == "":
            raise ConfigError("%sreplacement must be a non-empty string, got ''" % self.prefix)
        self.replace_null_with_default = config["replace.null.with.default"]

    def transform(self, array, schema, bundle):
        schemaful = schema is not None
        errors = RowErrors(len(array))
        struct = struct_columns(errors, array, schema, self.PURPOSE, self.replace_null_with_default,
                                nulls_pass=False)
        if struct is None:
            return errors.result(array, schema)
        fields, columns = struct
        for i, field in enumerate(fields):
            if field.name in self.fields:
                fields[i], columns[i], message = self._mask(field, columns[i], schemaful)
                if message is not None:
                    errors.add(pc.and_(columns[i].is_valid(), array.is_valid()), message)
        if not schemaful:
            present = {f.name for f in fields}
            for name in self.fields:
                if name not in present:  # Connect puts the masked null under the key
                    fields.append(pa.field(name, pa.null()))
                    columns.append(pa.nulls(len(array)))
        return errors.result(rebuild_struct(array, fields, columns), schema)

    def _mask(self, field: pa.Field, column: pa.Array, schemaful: bool) -> tuple:
        """``(field, masked column, None)``, or the column and the message of the records that
        cannot be masked."""
        arrow_type = column.type
        if pa.types.is_null(arrow_type):
            return field, column, None
        if self.replacement is None:
            if pa.types.is_struct(arrow_type) and not schemaful:
                return (field.with_type(pa.struct([])),
                        pa.StructArray.from_arrays([], fields=[], mask=column.is_null()), None)
            value = _empty(arrow_type)
            if value is None:
                return field, column, "Cannot mask value of type: class %s" % java_class(
                    arrow_type, schemaful)
        else:
            value, message = _replacement(self.replacement, arrow_type, schemaful)
            if message is not None:
                return field, column, message
        scalar = pa.scalar(value, type=arrow_type)
        return field, pc.if_else(column.is_null(), pa.scalar(None, type=arrow_type), scalar), None


def _empty(arrow_type: pa.DataType) -> Any:
    """Connect's masked value of a type (``MaskField.maskWithNullValue``); None if it has none."""
    if pa.types.is_boolean(arrow_type):
        return False
    if pa.types.is_integer(arrow_type) or pa.types.is_temporal(arrow_type):
        return 0
    if pa.types.is_floating(arrow_type):
        return 0.0
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return ""
    if pa.types.is_decimal(arrow_type):
        return decimal.Decimal(0)
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_map(
            arrow_type):
        return []
    return None


def _replacement(text: str, arrow_type: pa.DataType, schemaful: bool) -> tuple:
    """``(value, None)``: ``text`` read as a value of ``arrow_type`` as Connect reads it for the
    value's Java class; or ``(None, message)``."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return text, None
    number = decimal.Decimal(text) if BIG_DECIMAL.fullmatch(text) else None
    if arrow_type in _INTEGER_BITS or pa.types.is_floating(arrow_type):
        if number is None:
            return None, "Unable to convert %s (class java.lang.String) to a number" % text
        if pa.types.is_floating(arrow_type):
            double = pa.array([float(number)], pa.float64())
            return double.cast(arrow_type, safe=False)[0].as_py(), None
        return wrap(_long_value(number), _INTEGER_BITS[arrow_type]), None
    if pa.types.is_decimal(arrow_type):
        if number is None:
            return None, "Unable to convert %s (class java.lang.String) to number" % text
        try:
            return pa.scalar(number, type=arrow_type).as_py(), None
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None, "Unable to use %s as a value of Decimal(precision=%d, scale=%d)" % (
                text, arrow_type.precision, arrow_type.scale)
    return None, "Cannot mask value of type class %s with custom replacement." % java_class(
        arrow_type, schemaful)


def _long_value(number: decimal.Decimal) -> int:
    """``BigDecimal.longValue()``: the integer part, its low 64 bits (no huge powers built)."""
    sign, digits, exponent = number.as_tuple()
    coefficient = int("".join(map(str, digits)) or "0")
    if exponent >= 0:
        magnitude = coefficient * pow(10, exponent, 1 << 64)
    elif -exponent >= len(digits):
        magnitude = 0
    else:
        magnitude = coefficient // 10 ** -exponent
    return wrap(-magnitude if sign else magnitude, 64)
