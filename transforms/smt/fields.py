"""Kafka Connect's field transforms on Arrow columns: InsertField, ReplaceField, SetSchemaMetadata here;
MaskField in :mod:`transforms.smt.field_mask`; ExtractField, HoistField and ValueToKey in
:mod:`transforms.smt.extract`. :data:`TRANSFORMATIONS` registers them all.

Each follows its Connect class on schemaful records (a struct column and its schema, kept in step) and
on schemaless ones (maps, see :mod:`transforms.smt.columns`), with Connect's messages for the
records it fails. Schemas built anew are Connect's: InsertField and ReplaceField make a required struct
schema with the original's name, version, doc and parameters (``SchemaUtil.copySchemaBasics``); null
records keep their null under it, since a bundle carries one schema for all its records.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from common.configdef import ConfigDef, ConfigKey
from common.errors import ConfigError
from transforms.records import ConvertedBundle
from transforms.schema import TIMESTAMP, connect_field, with_info
from transforms.smt.base import FieldTransformation, names
from transforms.smt.extract import ExtractField, HoistField, ValueToKey
from transforms.smt.columns import (
    REPLACE_NULL_WITH_DEFAULT, RowErrors, is_object, rebuild_struct, require_unique, struct_children,
    struct_columns, struct_fields, struct_schema)
from transforms.smt.field_mask import MaskField

_LOGGER = logging.getLogger(__name__)

_OPTIONALITY = " Suffix with ! to make it a required field, or ? to keep it optional (the default)."
_TIMESTAMP_TYPE = pa.timestamp("ms", tz="UTC")


@dataclasses.dataclass(frozen=True)
class _Insertion:
    kind: str  # topic, partition, offset, timestamp or static
    name: str
    optional: bool


class InsertField(FieldTransformation):
    """Inserts record metadata or a static value as fields (``InsertField$Key`` / ``$Value``).

    The topic is the record's target topic (after any router), the partition and offset its source
    ones, the timestamp its Kafka timestamp; none for a record without one. Schemaful: the fields are
    appended to the struct schema, as optional ``string`` (topic, static), ``int32`` (partition),
    ``int64`` (offset) and Timestamp fields, or required ones with a ``!`` suffix; a field that the
    schema already has fails the record (Connect cannot build that schema). Schemaless: the entries
    are set in the map (replacing any of that name), the timestamp as epoch milliseconds as Connect
    puts it. A null record is left as it is.

    Keys:
      topic.field: Field name for the topic, with an optional ``!`` or ``?`` suffix.
      partition.field: Field name for the partition.
      offset.field: Field name for the offset.
      timestamp.field: Field name for the record timestamp.
      static.field: Field name for ``static.value``.
      static.value: The static value; required with ``static.field``.
      replace.null.with.default: Whether null fields of the struct with a schema default are copied
        as the default (default true).
    """

    KINDS = ("topic", "partition", "offset", "timestamp", "static")
    config_def = ConfigDef([
        ConfigKey("topic.field", "string", None, doc="Field name for the Kafka topic." + _OPTIONALITY),
        ConfigKey("partition.field", "string", None,
                  doc="Field name for the Kafka partition." + _OPTIONALITY),
        ConfigKey("offset.field", "string", None, doc="Field name for the Kafka offset." + _OPTIONALITY),
        ConfigKey("timestamp.field", "string", None,
                  doc="Field name for the record timestamp." + _OPTIONALITY),
        ConfigKey("static.field", "string", None,
                  doc="Field name for the static value." + _OPTIONALITY),
        ConfigKey("static.value", "string", None, doc="Static field value, if static.field is set."),
        REPLACE_NULL_WITH_DEFAULT,
    ])
    PURPOSE = "field insertion"

    def configure(self, config: Mapping[str, Any]) -> None:
        insertions, keys = [], {}
        for kind in self.KINDS:
            key = self.prefix + kind + ".field"
            spec = config[kind + ".field"]
            if spec is None:
                continue
            name, optional = (spec[:-1], spec[-1] == "?") if spec[-1:] in ("!", "?") else (spec, True)
            if not name:
                raise ConfigError("%s must be a field name, optionally followed by ! or ?, got %r"
                                  % (key, spec))
            if name in keys:
                raise ConfigError("%s and %s must name different fields, got %r for both"
                                  % (keys[name], key, name))
            keys[name] = key
            insertions.append(_Insertion(kind, name, optional))
        if not insertions:
            raise ConfigError("transform %r (InsertField) must set at least one of %s, got none" % (
                self.alias, ", ".join(self.prefix + kind + ".field" for kind in self.KINDS)))
        self.static_value = config["static.value"]
        if self.static_value is None and any(i.kind == "static" for i in insertions):
            raise ConfigError("%sstatic.value must be set when %sstatic.field is, got none"
                              % (self.prefix, self.prefix))
        self.insertions = tuple(insertions)
        self.replace_null_with_default = config["replace.null.with.default"]

    def transform(self, array, schema, bundle):
        schemaful = schema is not None
        errors = RowErrors(len(array))
        struct = struct_columns(errors, array, schema, self.PURPOSE, self.replace_null_with_default)
        if struct is None:
            return errors.result(array, schema)
        fields, columns = struct
        inserted = [(self._field(i, schemaful), self._column(i, bundle, schemaful))
                    for i in self.insertions]
        if schemaful:
            if not require_unique(errors, array, [f.name for f in fields]
                                  + [f.name for f, _ in inserted]):
                return errors.result(array, schema)
            fields += [f for f, _ in inserted]
            columns += [c for _, c in inserted]
            return rebuild_struct(array, fields, columns), struct_schema(schema, fields), []
        position = {f.name: i for i, f in enumerate(fields)}
        for field, column in inserted:
            if field.name in position:
                fields[position[field.name]], columns[position[field.name]] = field, column
            else:
                fields.append(field)
                columns.append(column)
        return rebuild_struct(array, fields, columns), None, []

    def _field(self, insertion: _Insertion, schemaful: bool) -> pa.Field:
        kind, name, optional = insertion.kind, insertion.name, insertion.optional
        if not schemaful:
            return pa.field(name, _SCHEMALESS_TYPES[kind])
        if kind == "timestamp":
            return connect_field(name, _TIMESTAMP_TYPE, optional, schema_name=TIMESTAMP, version=1)
        return connect_field(name, _SCHEMAFUL_TYPES[kind], optional)

    def _column(self, insertion: _Insertion, bundle: ConvertedBundle, schemaful: bool) -> pa.Array:
        n, kind = len(bundle), insertion.kind
        if kind == "topic":
            if bundle.topics is None:
                return pa.repeat(pa.scalar(bundle.topic, pa.string()), n)
            return pa.array(bundle.topics, pa.string())
        if kind == "partition":
            return pa.repeat(pa.scalar(bundle.partition, pa.int32()), n)
        if kind == "offset":
            return pa.array(bundle.offsets, pa.int64())
        if kind == "static":
            return pa.repeat(pa.scalar(self.static_value, pa.string()), n)
        # Kafka's "no timestamp" (-1) reaches a Connect transform as null
        millis = pa.array(bundle.timestamps, pa.int64())
        millis = pc.if_else(pc.less(millis, 0), pa.scalar(None, pa.int64()), millis)
        return millis.cast(_TIMESTAMP_TYPE) if schemaful else millis


_SCHEMAFUL_TYPES = {"topic": pa.string(), "partition": pa.int32(), "offset": pa.int64(),
                    "static": pa.string()}
_SCHEMALESS_TYPES = {**_SCHEMAFUL_TYPES, "timestamp": pa.int64()}


class ReplaceField(FieldTransformation):
    """Keeps, drops and renames top-level fields (``ReplaceField$Key`` / ``$Value``).

    A field is kept when it is not excluded and, if ``include`` lists any, included; kept fields are
    renamed by ``renames``. Schemaful: a required struct schema of the kept fields (their schemas as
    they were, under the new names) with the original's name, version, doc and parameters; two kept
    fields under one name fail the record, as Connect cannot build that schema. Schemaless: the map's
    kept entries, renamed (of two under one name, the later field wins). A null record is left as it
    is.

    Keys:
      exclude: Fields to drop; they win over ``include``. ``blacklist`` is its deprecated name.
      include: Fields to keep; all when empty. ``whitelist`` is its deprecated name.
      renames: Renames as ``old:new`` pairs, comma-separated (``foo:bar,abc:xyz``).
      replace.null.with.default: Whether null fields with a schema default are copied as the default
        (default true).
    """

    config_def = ConfigDef([
        ConfigKey("exclude", "list", None, doc="Fields to exclude; wins over include."),
        ConfigKey("blacklist", "list", None, doc="Deprecated: use exclude."),
        ConfigKey("include", "list", None, doc="Fields to include; if set, only these are kept."),
        ConfigKey("whitelist", "list", None, doc="Deprecated: use include."),
        ConfigKey("renames", "list", (), doc="Field rename mappings, e.g. foo:bar,abc:xyz."),
        REPLACE_NULL_WITH_DEFAULT,
    ])
    PURPOSE = "field replacement"

    def configure(self, config: Mapping[str, Any]) -> None:
        self.exclude = frozenset(self._either(config, "exclude", "blacklist"))
        self.include = frozenset(self._either(config, "include", "whitelist"))
        renames = {}
        for mapping in config["renames"]:
            parts = mapping.split(":")
            while len(parts) > 1 and not parts[-1]:  # Java's split drops trailing empty strings
                parts.pop()
            if len(parts) != 2:
                raise ConfigError("%srenames must list old:new pairs (foo:bar,abc:xyz), got %r"
                                  % (self.prefix, mapping))
            renames[parts[0]] = parts[1]
        self.renames = renames
        self.replace_null_with_default = config["replace.null.with.default"]

    def _either(self, config: Mapping[str, Any], key: str, deprecated: str) -> tuple:
        if config[deprecated] is None:
            return config[key] or ()
        if config[key] is not None:
            raise ConfigError("%s%s must not be set with %s%s, its deprecated name, got both"
                              % (self.prefix, key, self.prefix, deprecated))
        _LOGGER.warning("%s%s is deprecated and may be removed in the future; use %s%s instead",
                        self.prefix, deprecated, self.prefix, key)
        return config[deprecated]

    def keeps(self, name: str) -> bool:
        """Whether the field ``name`` is kept (Connect's ``ReplaceField.filter``)."""
        return name not in self.exclude and (not self.include or name in self.include)

    def transform(self, array, schema, bundle):
        schemaful = schema is not None
        errors = RowErrors(len(array))
        struct = struct_columns(errors, array, schema, self.PURPOSE, self.replace_null_with_default)
        if struct is None:
            return errors.result(array, schema)
        fields, columns = struct
        kept = [(f.with_name(self.renames.get(f.name, f.name)), c)
                for f, c in zip(fields, columns) if self.keeps(f.name)]
        if schemaful:
            if not require_unique(errors, array, [f.name for f, _ in kept]):
                return errors.result(array, schema)
        else:
            by_name: dict = {}
            for field, column in kept:
                by_name.pop(field.name, None)
                by_name[field.name] = (field, column)
            kept = list(by_name.values())
        fields, columns = [f for f, _ in kept], [c for _, c in kept]
        out_schema = struct_schema(schema, fields) if schemaful else None
        return rebuild_struct(array, fields, columns), out_schema, []


class SetSchemaMetadata(FieldTransformation):
    """Sets the Connect name and/or version of the key or value schema
    (``SetSchemaMetadata$Key`` / ``$Value``).

    The rest of the schema (optionality, default, doc, parameters, fields) is kept, and so are the
    values, but for null fields of a struct with a schema default, which are read as the default unless
    ``replace.null.with.default=false`` (Connect rebuilds the Struct with ``Struct.get``). A schemaless
    record fails with Connect's ``Schema required for [updating schema metadata]``, but for a null one,
    which passes.

    Keys:
      schema.name: The schema name to set.
      schema.version: The schema version to set (an integer).
      replace.null.with.default: Whether null struct fields with a default are read as the default
        (default true).
    """

    config_def = ConfigDef([
        ConfigKey("schema.name", "string", None, doc="Schema name to set."),
        ConfigKey("schema.version", "int", None, doc="Schema version to set."),
        REPLACE_NULL_WITH_DEFAULT,
    ])

    def configure(self, config: Mapping[str, Any]) -> None:
        self.changes = {}
        if config["schema.name"] is not None:
            self.changes["schema_name"] = config["schema.name"]
        if config["schema.version"] is not None:
            self.changes["version"] = config["schema.version"]
        if not self.changes:
            raise ConfigError("transform %r (SetSchemaMetadata) must set %sschema.name or "
                              "%sschema.version, got neither" % (self.alias, self.prefix,
                                                                 self.prefix))
        self.replace_null_with_default = config["replace.null.with.default"]

    def transform(self, array, schema, bundle):
        if schema is None:
            errors = RowErrors(len(array))
            errors.add(array.is_valid(), "Schema required for [updating schema metadata]")
            return errors.result(array, None)
        if is_object(array) and self.replace_null_with_default:
            fields = struct_fields(array, schema)
            array = rebuild_struct(array, fields, struct_children(array, fields, True))
        return array, with_info(schema, **self.changes), []


TRANSFORMATIONS = {
    **names("InsertField", InsertField),
    **names("ReplaceField", ReplaceField),
    **names("MaskField", MaskField),
    **names("ValueToKey", ValueToKey, sides=False),
    **names("HoistField", HoistField),
    **names("ExtractField", ExtractField),
    **names("SetSchemaMetadata", SetSchemaMetadata),
}
