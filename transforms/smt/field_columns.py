"""Column-level pieces the field transforms share: Connect's names for Arrow types, struct children with
their parents' nulls, schema defaults, and records that fail.

A schemaful struct column reads like a Connect ``Struct`` (its schema is the key's or value's
``pa.Field``); a schemaless one like the ``Map`` a schemaless converter makes (JSON objects are Arrow
structs, with a field per key seen in the batch; a key a record lacks reads as null). Messages name the
Java class Connect would have found, so that an error reads as Connect's would.
"""

from __future__ import annotations

from typing import Optional, Sequence

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
    (lambda t: pa.types.is_temporal(t), "java.util.Date"),
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


def java_class(arrow_type: pa.DataType, schemaful: bool) -> str:
    """The Java class of a value of ``arrow_type`` in Connect: ``java.lang.Integer`` for int32, a
    ``Struct`` for a schemaful struct and a ``HashMap`` for a schemaless one (a JSON object)."""
    if pa.types.is_struct(arrow_type):
        return "org.apache.kafka.connect.data.Struct" if schemaful else "java.util.HashMap"
    if pa.types.is_null(arrow_type):
        return NULL_CLASS
    for test, name in _CLASSES:
        if test(arrow_type):
            return name
    return str(arrow_type)


def connect_type(arrow_type: pa.DataType) -> str:
    """Connect's ``Schema.Type`` of a field of ``arrow_type`` (``INT64`` for a Timestamp)."""
    for test, name in _CONNECT_TYPES:
        if test(arrow_type):
            return name
    return str(arrow_type).upper()


def is_object(array: pa.Array) -> bool:
    """Whether the column holds Structs (schemaful) or Maps (schemaless): an Arrow struct."""
    return pa.types.is_struct(array.type)


def not_object_message(purpose: str, class_name: str, schemaful: bool) -> str:
    """Connect's ``Requirements.requireStruct`` / ``requireMap`` message."""
    if schemaful:
        return "Only Struct objects supported for [%s], found: %s" % (purpose, class_name)
    return "Only Map objects supported in absence of schema for [%s], found: %s" % (purpose,
                                                                                     class_name)


def require_objects(array: pa.Array, schemaful: bool, purpose: str,
                    nulls_pass: bool = True) -> list:
    """The failures of the records that are not Structs (or Maps when schemaless).

    Args:
      array: The key or value column.
      schemaful: Whether the column has a schema.
      purpose: What the transform does, as Connect's message names it (``field insertion``).
      nulls_pass: Whether a null passes (``requireStructOrNull``, or a transform that returns null
        records unchanged); if not, it fails with ``found: null``.

    Returns:
      ``(index, DataError)`` per failing record, in index order.
    """
    failures = []
    if not is_object(array):
        found = java_class(array.type, schemaful)
        if found != NULL_CLASS:
            failures = rows_where(array.is_valid(), not_object_message(purpose, found, schemaful))
    if not nulls_pass and array.null_count:
        failures += rows_where(array.is_null(),
                               not_object_message(purpose, NULL_CLASS, schemaful))
        failures.sort(key=lambda f: f[0])
    return failures


def rows_where(mask: pa.Array, message: str, error: type = DataError) -> list:
    """``(index, error(message))`` for every row where ``mask`` is true."""
    return [(i, error(message)) for i in pc.indices_nonzero(mask.fill_null(False)).to_pylist()]


def every_row(array: pa.Array, message: str, error: type = DataError) -> list:
    """``(index, error(message))`` for every row of ``array``."""
    return [(i, error(message)) for i in range(len(array))]


def without_failed(array: pa.Array, failures: Sequence) -> pa.Array:
    """``array`` without the rows of ``failures`` (``(index, error)`` pairs)."""
    if not failures:
        return array
    keep = [True] * len(array)
    for index, _ in failures:
        keep[index] = False
    return array.filter(pa.array(keep, pa.bool_()))


def merge_failures(*groups: Sequence) -> list:
    """Failures of several checks, the first error of each record kept, in index order."""
    first: dict = {}
    for group in groups:
        for index, error in group:
            first.setdefault(index, error)
    return sorted(first.items(), key=lambda f: f[0])


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


def children(array: pa.StructArray, fields: Sequence[pa.Field], defaults: bool) -> list:
    """The child columns of ``array`` (fields of its schema), defaults filled in when ``defaults``."""
    columns = [array.field(i) for i in range(array.type.num_fields)]
    if defaults:
        columns = [default_filled(c, f) for c, f in zip(columns, fields)]
    return columns


def rebuild(parent: pa.Array, fields: Sequence[pa.Field], columns: Sequence[pa.Array]) -> pa.Array:
    """A struct column of ``columns`` with the null rows of ``parent``."""
    return pa.StructArray.from_arrays(list(columns), fields=list(fields), mask=parent.is_null())


def struct_fields(array: pa.Array, schema: Optional[pa.Field]) -> list:
    """The fields of a struct column: the schema's (with their Connect metadata) when it has one."""
    return list(schema.type if schema is not None else array.type)


def struct_schema(like: pa.Field, fields: Sequence[pa.Field]) -> pa.Field:
    """A required struct schema of ``fields`` with the name, version, doc and parameters of ``like``
    (Connect's ``SchemaUtil.copySchemaBasics`` onto ``SchemaBuilder.struct()``)."""
    info = schema_info(like)
    return connect_field(like.name, pa.struct(list(fields)), False, schema_name=info.name,
                         version=info.version, doc=info.doc, parameters=info.parameters)


def duplicate(names: Sequence[str]) -> Optional[str]:
    """The first name that repeats an earlier one, as ``SchemaBuilder.field`` meets it."""
    seen = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def duplication_message(name: str) -> str:
    """Connect's ``SchemaBuilder.field`` message for a name used twice."""
    return "Cannot create field because of field name duplication " + name
