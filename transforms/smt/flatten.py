"""Kafka Connect's Flatten: nested structs become top-level fields named ``parent<delimiter>child``.

Schemaful (a struct schema): every nested struct is replaced by its fields, recursively; other fields,
arrays included, are kept as they are. A flattened field keeps its own schema (name, version, doc,
parameters) and is optional when it or any struct above it is; its default is its own, else the one
the defaults of the structs above it give it. As Connect's ``Struct.get`` reads them, a null nested
struct that has a default contributes the default's fields, and a null field with a default takes it.
As in Connect, a map in a schema fails the record (``Flatten transformation does not support MAP for
record with schemas``), and so does a name that two fields flatten to.

Schemaless (JSON objects): nested objects are flattened the same way; arrays are kept. Where an
object holds the same flattened name twice, the later non-null value wins.

Null values (tombstones) pass through.
"""

from __future__ import annotations

from typing import Any, Optional

import pyarrow as pa
import pyarrow.compute as pc

from common.configdef import ConfigDef, ConfigKey
from transforms.converters.json_schemaless import from_python
from transforms.records import ConvertedBundle
from transforms.schema import schema_info, with_info
from transforms.smt.base import FieldTransformation, names
from transforms.smt.columns import (
    RowErrors, connect_type, duplication_message, java_class, non_null, not_object_message,
    rebuild_struct)

DELIMITER = "delimiter"
_PURPOSE = "flattening"


class _Unsupported(Exception):
    """A schema Flatten cannot flatten: every record with it fails."""


class Flatten(FieldTransformation):
    """Flattens nested structs of the key or value into top-level fields.

    Keys: ``delimiter`` (``.``), written between the names of a field and the fields nested in it.
    """

    config_def = ConfigDef([
        ConfigKey(DELIMITER, "string", ".",
                  doc="Delimiter to insert between field names from the input record when "
                      "generating field names for the output record."),
    ])

    def configure(self, config) -> None:
        self.delimiter = config[DELIMITER]

    def _name(self, prefix: str, name: str) -> str:
        return name if not prefix else prefix + self.delimiter + name

    def transform(self, array: pa.Array, schema: Optional[pa.Field],
                  bundle: ConvertedBundle) -> tuple[pa.Array, Optional[pa.Field], list]:
        errors = RowErrors(len(array))
        if schema is None:
            array = self._schemaless(array, errors)
        elif not pa.types.is_struct(schema.type):
            errors.add(non_null(array),
                       not_object_message(_PURPOSE, java_class(schema.type, True), True))
        else:
            fields, children = [], []
            try:
                self._flatten_schemaful(array, schema, "", schema.nullable,
                                        schema_info(schema).default, fields, children)
            except _Unsupported as e:
                errors.add(non_null(array), str(e))
            else:
                array = rebuild_struct(array, fields, children)
                # Connect copies the name, version, doc and parameters, not the default.
                schema = with_info(schema.with_type(array.type), default=None)
        return errors.result(array, schema)

    # ------------------------------------------------------------------------------------ schemaful

    def _flatten_schemaful(self, struct: pa.StructArray, schema: pa.Field, prefix: str,
                           optional: bool, parent_default: Optional[dict], fields: list,
                           children: list) -> None:
        seen = {f.name for f in fields}
        parent_valid = struct.is_valid()
        for field, child in zip(schema.type, struct.flatten()):
            name = self._name(prefix, field.name)
            info = schema_info(field)
            default = info.default
            if default is None and parent_default is not None:
                default = parent_default.get(field.name)
            if default is not None and child.null_count:  # Struct.get: a null takes the default
                missing = pc.and_(parent_valid, child.is_null())
                child = pc.if_else(missing, pa.scalar(default, field.type), child)
            kind = connect_type(field.type)
            if kind == "STRUCT":
                self._flatten_schemaful(child, field, name, optional or field.nullable, default,
                                        fields, children)
                seen = {f.name for f in fields}
                continue
            if kind == "MAP":
                raise _Unsupported("Flatten transformation does not support MAP for record with "
                                   "schemas (for field %s)." % name)
            if name in seen:
                raise _Unsupported(duplication_message(name))
            seen.add(name)
            flat = with_info(field.with_name(name).with_nullable(optional or field.nullable),
                             default=default)
            fields.append(flat)
            children.append(child)

    # ----------------------------------------------------------------------------------- schemaless

    def _schemaless(self, array: pa.Array, errors: RowErrors) -> pa.Array:
        if not pa.types.is_struct(array.type) and not pa.types.is_map(array.type):
            errors.add(non_null(array),
                       not_object_message(_PURPOSE, java_class(array.type, False), False))
            return array
        if _has_map(array.type):
            return self._schemaless_per_record(array, errors)
        columns: dict = {}
        self._flatten_schemaless(array, "", columns, errors)
        children = list(columns.values())
        fields = [pa.field(name, child.type) for name, child in columns.items()]
        return rebuild_struct(array, fields, children)

    def _flatten_schemaless(self, struct: pa.StructArray, prefix: str, columns: dict,
                            errors: RowErrors) -> None:
        for field, child in zip(struct.type, struct.flatten()):
            name = self._name(prefix, field.name)
            if pa.types.is_struct(field.type):
                self._flatten_schemaless(child, name, columns, errors)
                continue
            if pa.types.is_decimal(field.type) or pa.types.is_temporal(field.type):
                errors.add(non_null(child), "Flatten transformation was passed a value of type class "
                                            "%s which is not supported by Connect's data API"
                           % java_class(field.type))
            if name in columns:  # Connect's LinkedHashMap.put: first place, later value
                earlier = columns[name]
                if earlier.type == child.type:
                    child = pc.coalesce(child, earlier)
                else:
                    errors.add(non_null(earlier) & non_null(child),
                               "Flatten produced field %s twice, as %s and as %s"
                               % (name, connect_type(earlier.type), connect_type(child.type)))
            columns[name] = child

    def _schemaless_per_record(self, array: pa.Array, errors: RowErrors) -> pa.Array:
        # Map keys differ from record to record, so the flattened names are found per record.
        flat = [None if value is None else self._flatten_value(value, array.type, "", {})
                for value in array.to_pylist()]
        out, conflicts = from_python(list(enumerate(flat)))
        if conflicts:
            for row, reason in conflicts:
                errors.add([row], reason)
            out, _ = from_python([(i, None if i in errors else v)
                                  for i, v in enumerate(flat)])
        return out

    def _flatten_value(self, value: Any, arrow_type: pa.DataType, prefix: str, out: dict) -> dict:
        if pa.types.is_struct(arrow_type):
            items = [(f.name, value.get(f.name), f.type) for f in arrow_type]
        else:
            items = [(key, item, arrow_type.item_type) for key, item in value]
        for key, item, item_type in items:
            name = self._name(prefix, str(key))
            if item is not None and (pa.types.is_struct(item_type) or pa.types.is_map(item_type)):
                self._flatten_value(item, item_type, name, out)
            else:
                out[name] = item
        return out


def _has_map(arrow_type: pa.DataType) -> bool:
    if pa.types.is_map(arrow_type):
        return True
    return pa.types.is_struct(arrow_type) and any(_has_map(f.type) for f in arrow_type)


TRANSFORMATIONS = names("Flatten", Flatten)
