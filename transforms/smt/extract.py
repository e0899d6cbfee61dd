"""ExtractField, HoistField and ValueToKey: a key or value taken out of, or put into, a struct."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import pyarrow as pa

from common.configdef import ConfigDef, ConfigKey
from common.errors import ConfigError, DataError
from transforms.records import ConvertedBundle
from transforms.smt.base import FieldTransformation, Transformation, Transformed
from transforms.smt.columns import (
    REPLACE_NULL_WITH_DEFAULT, RowErrors, UnknownFieldError, connect_type, default_filled,
    is_object, java_class, not_object_message, require_objects, require_unique)
from transforms.smt.paths import NOT_STRUCT, SYNTAX_VERSION, FieldPath


class ExtractField(FieldTransformation):
    """Replaces the key or value by one of its fields (``ExtractField$Key`` / ``$Value``).

    Schemaful: the struct's field at ``field`` with that field's schema; a null record stays null
    (with the field's schema), and a path the schema lacks fails every record with Connect's
    ``Unknown field: <path>``. Schemaless: the map's entry, null where it is missing. With
    ``field.syntax.version=V2`` the path may go into nested structs or maps (see
    :mod:`transforms.smt.paths`).

    Keys:
      field: The field (path) to extract; required.
      field.syntax.version: ``V1`` (default, a top-level name) or ``V2`` (dotted path).
      replace.null.with.default: Whether a null field with a schema default reads as the default
        (default true).
    """

    config_def = ConfigDef([
        ConfigKey("field", "string", doc="Field name to extract."),
        SYNTAX_VERSION,
        REPLACE_NULL_WITH_DEFAULT,
    ])
    PURPOSE = "field extraction"

    def configure(self, config: Mapping[str, Any]) -> None:
        self.path = FieldPath.from_config(config, "field", self.prefix)
        self.replace_null_with_default = config["replace.null.with.default"]

    def transform(self, array, schema, bundle):
        errors = RowErrors(len(array))
        if schema is None:
            if not require_objects(errors, array, False, self.PURPOSE):
                return errors.result(array, None)
            values, failures = self.path.values_from_map(array)
            errors.add_all(failures)
            return errors.result(values, None)
        every = range(len(array))
        if not is_object(array):
            # requireStructOrNull fails the values, then the schema lookup fails the nulls
            errors.add(array.is_valid(),
                       not_object_message(self.PURPOSE, java_class(array.type, True), True))
            errors.add(array.is_null(), NOT_STRUCT)
            return errors.result(array, schema)
        try:
            field = self.path.field_from(schema)
        except DataError as e:  # a step into a field that is not a struct
            errors.add(every, str(e))
            return errors.result(array, schema)
        if field is None:
            errors.add(every, "Unknown field: %s" % self.path, UnknownFieldError)
            return errors.result(array, schema)
        values = self.path.values_from_struct(array, schema, self.replace_null_with_default)
        return values, field.with_name(schema.name), []


class HoistField(FieldTransformation):
    """Wraps the key or value in a struct of one field (``HoistField$Key`` / ``$Value``).

    Schemaful: a required, unnamed struct schema whose one field has the original schema; a null
    under a required schema fails, as Connect's ``Struct.put`` does. Schemaless: a map of one entry,
    null records included (``{"field": null}``).

    Keys:
      field: Name of the one field of the new struct or map; required.
    """

    config_def = ConfigDef([
        ConfigKey("field", "string", doc="Field name for the single field of the struct or map."),
    ])

    def configure(self, config: Mapping[str, Any]) -> None:
        self.field = config["field"]

    def transform(self, array, schema, bundle):
        if schema is None:
            return pa.StructArray.from_arrays([array], names=[self.field]), None, []
        errors = RowErrors(len(array))
        if not schema.nullable and array.null_count:
            errors.add(array.is_null(), 'Invalid value: null used for required field: "%s", '
                       'schema type: %s' % (self.field, connect_type(schema.type)))
        inner = schema.with_name(self.field)
        hoisted = pa.StructArray.from_arrays([errors.keep(array)], fields=[inner])
        return hoisted, pa.field(schema.name, pa.struct([inner]), nullable=False), errors.failures()


class ValueToKey(Transformation):
    """Replaces the key by a struct (or map) of some fields of the value (``ValueToKey``).

    Schemaful: the key schema is a required, unnamed struct of those fields with their schemas, in
    the configured order; a field the value schema lacks fails every record (``Field does not exist:
    <name>``). Schemaless: a map of those entries, null for missing ones. A null value fails, as in
    Connect. The value is left as it is.

    Keys:
      fields: The value's fields that form the key; required, non-empty.
      replace.null.with.default: Whether a null field with a schema default is copied as the
        default (default true).
    """

    config_def = ConfigDef([
        ConfigKey("fields", "list", doc="Field names of the value to copy into the key."),
        REPLACE_NULL_WITH_DEFAULT,
    ])
    PURPOSE = "copying fields from value to key"

    def configure(self, config: Mapping[str, Any]) -> None:
        self.fields = config["fields"]
        if not self.fields:
            raise ConfigError("%sfields must be a non-empty list, got ''" % self.prefix)
        self.replace_null_with_default = config["replace.null.with.default"]

    def apply(self, bundle: ConvertedBundle) -> Transformed:
        values, schema = bundle.values, bundle.value_schema
        schemaful = schema is not None
        errors = RowErrors(len(values))
        if require_objects(errors, values, schemaful, self.PURPOSE, nulls_pass=False):
            if schemaful:
                names = [f.name for f in schema.type]
                missing = next((f for f in self.fields if f not in names), None)
                if missing is not None:
                    errors.add(values.is_valid(), "Field does not exist: %s" % missing)
                else:
                    require_unique(errors, values, self.fields)
            if len(errors) < len(bundle):
                name = bundle.key_schema.name if bundle.key_schema is not None else "key"
                keys, key_schema = self._keys(values, schema, name)
                kept = bundle.take([i for i in range(len(bundle)) if i not in errors]) if errors \
                    else bundle
                return Transformed(dataclasses.replace(
                    kept, keys=errors.keep(keys), key_schema=key_schema), tuple(errors.failures()))
        return Transformed(None, tuple(errors.failures()))

    def _keys(self, values: pa.StructArray, schema, name: str) -> tuple:
        if schema is None:
            names = list(dict.fromkeys(self.fields))  # a HashMap: a name given twice is one key
            columns = [values.field(name) if values.type.get_field_index(name) >= 0
                       else pa.nulls(len(values)) for name in names]
            return pa.StructArray.from_arrays(columns, names=names), None
        fields = [schema.type.field(name) for name in self.fields]
        columns = [values.field(name) for name in self.fields]
        if self.replace_null_with_default:
            columns = [default_filled(c, f) for c, f in zip(columns, fields)]
        key_schema = pa.field(name, pa.struct(fields), nullable=False)
        return pa.StructArray.from_arrays(columns, fields=fields), key_schema
