"""Column-level pieces the transforms share: Connect's names for Arrow types, struct children with
their parents' nulls and their schema defaults, rebuilt structs, and the records that fail.

A schemaful struct column reads like a Connect ``Struct`` (its schema is the key's or value's
``pa.Field``); a schemaless one like the ``Map`` a schemaless converter makes (JSON objects are Arrow
structs, with a field per key seen in the batch; a key a record lacks reads as null). Messages name the
Java class Connect would have found, so that an error reads as Connect's would.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping, Optional, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from common.configdef import ConfigKey
from common.errors import DataError
from transforms.schema import connect_field, schema_info

NULL_CLASS = "null"

REPLACE_NULL_WITH_DEFAULT = ConfigKey(
    "replace.null.with.default", "boolean", True,
    doc="Whether a null field whose schema has a default reads as that default (Struct.get); "
        "false keeps the null.")


class SchemaBuilderError(DataError):
    """A schema Connect could not build (a field name used twice)."""

    java_class = "org.apache.kafka.connect.errors.SchemaBuilderException"


class UnknownFieldError(DataError):
    """A field path that the record's schema does not have (Connect raises IllegalArgumentException)."""

    java_class = "java.lang.IllegalArgumentException"


# ------------------------------------------------------------------------ Connect's view of a type

_CLASSES = (
    (pa.types.is_int8, "java.lang.Byte"),
    (pa.types.is_int16, "java.lang.Short"),
    (pa.types.is_int32, "java.lang.Integer"),
    (pa.types.is_int64, "java.lang.Long"),
    (pa.types.is_float32, "java.lang.Float"),
    (pa.types.is_float64, "java.lang.Double"),
    (pa.types.is_boolean, "java.lang.Boolean"),
    (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), "java.lang.String"),
    (lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t)
     or pa.types.is_fixed_size_binary(t), "[B"),
    (pa.types.is_decimal, "java.math.BigDecimal"),
    (pa.types.is_temporal, "java.util.Date"),
    (lambda t: pa.types.is_list(t) or pa.types.is_large_list(t), "java.util.ArrayList"),
    (pa.types.is_map, "java.util.HashMap"),
)

_CONNECT_TYPES = (
    (pa.types.is_int8, "INT8"), (pa.types.is_int16, "INT16"), (pa.types.is_int32, "INT32"),
    (pa.types.is_int64, "INT64"), (pa.types.is_float32, "FLOAT32"), (pa.types.is_float64, "FLOAT64"),
    (pa.types.is_boolean, "BOOLEAN"),
    (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), "STRING"),
    (lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_decimal(t),
     "BYTES"),
    (lambda t: pa.types.is_date32(t) or pa.types.is_time32(t), "INT32"),
    (pa.types.is_timestamp, "INT64"),
    (lambda t: pa.types.is_list(t) or pa.types.is_large_list(t), "ARRAY"),
    (pa.types.is_map, "MAP"),
    (pa.types.is_struct, "STRUCT"),
)


def java_class(arrow_type: pa.DataType, schemaful: bool = False) -> str:
    """The Java class of a value of ``arrow_type`` in Connect, as Connect's messages name it.

    Args:
      arrow_type: The value's Arrow type (its Connect type, or its runtime type when schemaless).
      schemaful: Whether the value has a schema; it decides only what a struct is: a ``Struct``
        with a schema, a ``HashMap`` (a JSON object) without.

    Returns:
      ``java.lang.Integer`` for int32, ``java.util.Date`` for every temporal type, ``null`` for the
      null type; the Arrow type's own name for a type Connect has no class for.
    """
    if pa.types.is_struct(arrow_type):
        return "org.apache.kafka.connect.data.Struct" if schemaful else "java.util.HashMap"
    if pa.types.is_null(arrow_type):
        return NULL_CLASS
    for test, name in _CLASSES:
        if test(arrow_type):
            return name
    return str(arrow_type)


def connect_type(arrow_type: pa.DataType) -> str:
    """Connect's ``Schema.Type`` of a field of ``arrow_type``: a logical type gives its base type
    (``INT32`` for a Date, ``INT64`` for a Timestamp, ``BYTES`` for a Decimal)."""
    for test, name in _CONNECT_TYPES:
        if test(arrow_type):
            return name
    return str(arrow_type).upper()


# --------------------------------------------------------------------------- records that fail


class RowErrors:
    """The records of one column that failed, each with the first error it met.

    Args:
      n: How many records the column holds.
    """

    def __init__(self, n: int):
        self.n = n
        self._errors: dict = {}

    def __bool__(self) -> bool:
        return bool(self._errors)

    def __len__(self) -> int:
        return len(self._errors)

    def __contains__(self, row: int) -> bool:
        return row in self._errors

    def add(self, rows, message: str | DataError | Callable[[int], str],
            error: type = DataError) -> None:
        """Fails those of ``rows`` that have not failed yet.

        Args:
          rows: Row indices, or a mask: a NumPy boolean array, or an Arrow one (null reads as false).
          message: The message (or ``message(row)``, made only for rows that fail here), raised as
            ``error``; or a DataError, reported as it is.
          error: The DataError subclass a message is raised as (Connect's DataException by default).
        """
        if isinstance(rows, pa.Array):
            rows = rows.fill_null(False)
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        for row in rows.tolist():
            if row not in self._errors:
                text = message(row) if callable(message) else message
                self._errors[row] = text if isinstance(text, DataError) else error(text)

    def add_all(self, failures: Mapping | Iterable) -> None:
        """Adds ``{row: message or DataError}`` or ``(row, error)`` pairs, as :meth:`add` does."""
        items = failures.items() if isinstance(failures, Mapping) else failures
        for row, message in items:
            if row not in self._errors:
                self._errors[row] = message if isinstance(message, DataError) else DataError(message)

    def failures(self) -> list:
        """``(index, error)`` per failed record, in index order."""
        return sorted(self._errors.items(), key=lambda f: f[0])

    def keep(self, array: pa.Array) -> pa.Array:
        """``array`` without the rows of the failed records."""
        if not self._errors:
            return array
        mask = np.ones(self.n, bool)
        mask[list(self._errors)] = False
        return array.filter(pa.array(mask))

    def result(self, array: pa.Array, schema: Optional[pa.Field]) -> tuple:
        """``(array without the failed rows, schema, failures)``, as a field transform returns them."""
        return self.keep(array), schema, self.failures()


def non_null(array: pa.Array) -> np.ndarray:
    """Where ``array`` is not null, as a NumPy mask."""
    return np.asarray(array.is_valid())


def is_object(array: pa.Array) -> bool:
    """Whether the column holds Structs (schemaful) or Maps (schemaless): an Arrow struct."""
    return pa.types.is_struct(array.type)


def not_object_message(purpose: str, class_name: str, schemaful: bool) -> str:
    """Connect's ``Requirements.requireStruct`` / ``requireMap`` message."""
    if schemaful:
        return "Only Struct objects supported for [%s], found: %s" % (purpose, class_name)
    return "Only Map objects supported in absence of schema for [%s], found: %s" % (purpose,
                                                                                     class_name)


def require_objects(errors: RowErrors, array: pa.Array, schemaful: bool, purpose: str,
                    nulls_pass: bool = True) -> bool:
    """Fails the records that are not Structs (or Maps when schemaless).

    Args:
      errors: Where the failures go.
      array: The key or value column.
      schemaful: Whether the column has a schema.
      purpose: What the transform does, as Connect's message names it (``field insertion``).
      nulls_pass: Whether a null passes (``requireStructOrNull``, or a transform that returns null
        records unchanged); if not, it fails with ``found: null``.

    Returns:
      Whether the column holds objects (:func:`is_object`).
    """
    objects = is_object(array)
    if not objects:
        found = java_class(array.type, schemaful)
        if found != NULL_CLASS:
            errors.add(array.is_valid(), not_object_message(purpose, found, schemaful))
    if not nulls_pass and array.null_count:
        errors.add(array.is_null(), not_object_message(purpose, NULL_CLASS, schemaful))
    return objects


# ------------------------------------------------------------------------------ struct columns


def with_parent_nulls(child: pa.Array, parent: pa.Array) -> pa.Array:
    """A struct child, null where its parent struct is null (Arrow leaves those slots undefined)."""
    if parent.null_count == 0 or pa.types.is_null(child.type):
        return child
    return pc.if_else(parent.is_valid(), child, pa.nulls(len(child), child.type))


def default_filled(values: pa.Array, field: pa.Field) -> pa.Array:
    """``values`` with nulls replaced by the field's Connect default, as ``Struct.get`` reads them."""
    info = schema_info(field)
    if not info.has_default or info.default is None or values.null_count == 0:
        return values
    return pc.if_else(values.is_null(), pa.scalar(info.default, type=values.type), values)


def struct_fields(array: pa.Array, schema: Optional[pa.Field]) -> list:
    """The fields of a struct column: the schema's (with their Connect metadata) when it has one."""
    return list(schema.type if schema is not None else array.type)


def struct_children(array: pa.StructArray, fields: Sequence[pa.Field], defaults: bool) -> list:
    """The child columns of ``array``, null where the struct is.

    Args:
      array: A struct column.
      fields: Its fields, whose Connect defaults apply.
      defaults: Whether a null child takes its field's default (``replace.null.with.default``,
        Connect's ``Struct.get``).
    """
    columns = array.flatten()
    if defaults:
        columns = [default_filled(c, f) for c, f in zip(columns, fields)]
    return columns


def struct_columns(errors: RowErrors, array: pa.Array, schema: Optional[pa.Field], purpose: str,
                   replace_null_with_default: bool, nulls_pass: bool = True) -> Optional[tuple]:
    """The fields and child columns of a key or value that must hold Structs (Maps when
    schemaless), read as ``Struct.get`` reads them.

    Args:
      errors: Where the records that are not Structs (or Maps) fail, as :func:`require_objects`.
      array: The key or value column.
      schema: Its schema; None when schemaless.
      purpose: What the transform does, as Connect's message names it.
      replace_null_with_default: Whether a null field takes its schema default (with a schema).
      nulls_pass: Whether a null record passes.

    Returns:
      ``(fields, columns)`` (see :func:`struct_fields` and :func:`struct_children`), or None when
      the column does not hold objects.
    """
    if not require_objects(errors, array, schema is not None, purpose, nulls_pass):
        return None
    fields = struct_fields(array, schema)
    return fields, struct_children(array, fields, schema is not None and replace_null_with_default)


def rebuild_struct(parent: pa.Array, fields: Sequence[pa.Field],
                   columns: Sequence[pa.Array]) -> pa.StructArray:
    """A struct column of ``columns`` typed by ``fields``, with the length and null rows of
    ``parent`` (also when there are no columns)."""
    return pa.StructArray.from_arrays(list(columns), fields=list(fields), mask=parent.is_null())


def struct_schema(like: pa.Field, fields: Sequence[pa.Field]) -> pa.Field:
    """A required struct schema of ``fields`` with the name, version, doc and parameters of ``like``
    (Connect's ``SchemaUtil.copySchemaBasics`` onto ``SchemaBuilder.struct()``)."""
    info = schema_info(like)
    return connect_field(like.name, pa.struct(list(fields)), False, schema_name=info.name,
                         version=info.version, doc=info.doc, parameters=info.parameters)


def duplication_message(name: str) -> str:
    """Connect's ``SchemaBuilder.field`` message for a name used twice."""
    return "Cannot create field because of field name duplication " + name


def require_unique(errors: RowErrors, array: pa.Array, names: Sequence[str]) -> bool:
    """Fails every non-null record when a name repeats an earlier one: Connect's ``SchemaBuilder``
    cannot build the schema (``SchemaBuilderException``, named by the first repeat it meets).

    Returns:
      Whether the names are unique.
    """
    seen = set()
    for name in names:
        if name in seen:
            errors.add(array.is_valid(), duplication_message(name), SchemaBuilderError)
            return False
        seen.add(name)
    return True
