"""Kafka Connect's header transforms: InsertHeader, DropHeaders and HeaderFrom (``$Key``/``$Value``).

Headers stay bytes: each record's headers are a list of ``(name, bytes)`` pairs (or None), as read.
A header these transforms add carries the bytes Kafka Connect's default header converter
(``SimpleHeaderConverter``) would write for its value: ``Values.convertToString`` as UTF-8 (see
:mod:`transforms.smt.values`: strings as they are, ``42``, ``true``, ``1.0E10``, bytes as base64,
dates as Connect formats a ``java.util.Date`` in UTC, ``{"name":value,...}`` and ``[a,b]``), and a
null value as a header whose value is None.

A schemaless object inside a copied field shows every key of the bundle's inferred struct (null
where a record lacks it), in that order; Connect's map shows the record's own keys, in hash order.

The lists are rebuilt, never edited in place: bundles taken from one another share them.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional

import pyarrow as pa

from common.configdef import ConfigDef, ConfigKey
from common.errors import ConfigError
from transforms.records import ConvertedBundle
from transforms.schema import schema_info
from transforms.smt.base import KEY, Transformation, Transformed, names
from transforms.smt.columns import (
    REPLACE_NULL_WITH_DEFAULT, RowErrors, rebuild_struct, require_objects, struct_children,
    struct_schema)
from transforms.smt.values import convert_to_string, java_values, parse_string


class InsertHeader(Transformation):
    """Adds one header with a fixed value to every record.

    Keys:
      header: The header's name; required.
      value.literal: Its value, read as Connect's ``Values.parseString`` reads it: ``1`` is a
        number, ``true`` a boolean, ``[1,2]`` an array, ``{"a":1}`` a map, ``2024-01-31`` a date,
        ``null`` no value, anything else the string itself; required.

    The header is appended, after any of the same name. Its bytes are what SimpleHeaderConverter
    writes for the parsed value, so a literal may come out normalised (``1.50`` as ``1.5``,
    ``[1, 2]`` as ``[1,2]``), as in Connect.
    """

    config_def = ConfigDef([
        ConfigKey("header", "string", doc="The name of the header."),
        ConfigKey("value.literal", "string",
                  doc="The literal value that is to be set as the header value on all records."),
    ])

    def configure(self, config: Mapping[str, Any]) -> None:
        self.header = config["header"]
        self.value = _header_bytes(parse_string(config["value.literal"]))

    def apply(self, bundle: ConvertedBundle) -> Transformed:
        added = (self.header, self.value)
        headers = [[*(pairs or ()), added] for pairs in bundle.headers]
        return Transformed(dataclasses.replace(bundle, headers=headers))


class DropHeaders(Transformation):
    """Removes every header with one of the given names (matched exactly) from every record.

    Keys:
      headers: The names of the headers to remove; a non-empty list, required.
    """

    config_def = ConfigDef([
        ConfigKey("headers", "list", doc="The name of the headers to be removed."),
    ])

    def configure(self, config: Mapping[str, Any]) -> None:
        self.names = frozenset(_non_empty_list(config, "headers", self.prefix))

    def apply(self, bundle: ConvertedBundle) -> Transformed:
        drop = self.names
        headers = [None if pairs is None else [p for p in pairs if p[0] not in drop]
                   for pairs in bundle.headers]
        return Transformed(dataclasses.replace(bundle, headers=headers))


class HeaderFrom(Transformation):
    """Copies or moves fields of the key (``HeaderFrom$Key``) or value (``HeaderFrom$Value``) into
    headers.

    Keys:
      fields: The field names; a non-empty list, required.
      headers: The header names, one for each field, in the same order; a non-empty list, required.
      operation: ``copy`` (the fields stay) or ``move`` (they are removed from the key or value, and
        from its schema); required.
      replace.null.with.default: Whether a null field of a schemaful struct gives its default value
        (true, the default) or null.

    Each record gets one header per entry of ``fields``, appended in order, whose bytes are what
    SimpleHeaderConverter writes for the field's value (None when it is null). A field may feed
    several headers, and several fields one header name. With a schema, a ``move`` gives a struct
    schema with the same name, version, doc and parameters, required and without a default, as
    Connect's ``SchemaUtil.copySchemaBasics``; with ``replace.null.with.default`` the remaining
    fields' nulls become their defaults, as Connect copies them with ``Struct.get``.

    Failures, with Connect's messages: a record whose key or value is null or not a struct
    (``Only Struct objects supported for [header copy], found: null``; schemaless, ``Only Map
    objects supported in absence of schema for [header move], found: java.lang.String``). With a
    schema, a field the schema lacks fails every record (``x is not a valid field name``; Connect
    fails there too, with a NullPointerException). Schemaless, a missing field gives a null header.
    """

    config_def = ConfigDef([
        ConfigKey("fields", "list",
                  doc="Field names in the record whose values are to be copied or moved to headers."),
        ConfigKey("headers", "list",
                  doc="Header names, in the same order as the field names listed in the fields "
                      "configuration property."),
        ConfigKey("operation", "string", choices=("move", "copy"),
                  doc="Either move if the fields are to be moved to the headers (removed from the "
                      "key/value), or copy if the fields are to be copied to the headers (retained "
                      "in the key/value)."),
        REPLACE_NULL_WITH_DEFAULT,
    ])

    def configure(self, config: Mapping[str, Any]) -> None:
        self.fields = _non_empty_list(config, "fields", self.prefix)
        self.headers = _non_empty_list(config, "headers", self.prefix)
        if len(self.fields) != len(self.headers):
            raise ConfigError("'%sfields' config must have the same number of elements as "
                              "'%sheaders' config, got %d fields %r and %d headers %r"
                              % (self.prefix, self.prefix, len(self.fields), self.fields,
                                 len(self.headers), self.headers))
        self.operation = config["operation"]
        self.replace_null = config["replace.null.with.default"]

    def apply(self, bundle: ConvertedBundle) -> Transformed:
        keyed = self.side == KEY
        array, schema = (bundle.keys, bundle.key_schema) if keyed else (bundle.values,
                                                                         bundle.value_schema)
        errors = self._failures(array, schema)
        if errors:
            keep = [i for i in range(len(bundle)) if i not in errors]
            if not keep:
                return Transformed(None, tuple(errors.failures()))
            bundle = bundle.take(keep)
            array = bundle.keys if keyed else bundle.values
        columns = dict(zip((f.name for f in array.type), array.flatten()))
        texts = {}
        for name in set(self.fields):
            if name not in columns:
                texts[name] = [None] * len(bundle)
                continue
            default = None
            if schema is not None and self.replace_null:
                default = schema_info(array.type.field(name)).default
            texts[name] = [_header_bytes(v) for v in java_values(columns[name], default)]
        pairs = tuple(zip(self.fields, self.headers))
        headers = [[*(old or ()), *((header, texts[name][i]) for name, header in pairs)]
                   for i, old in enumerate(bundle.headers)]
        changes: dict = {"headers": headers}
        if self.operation == "move":
            array, schema = self._without_fields(array, schema)
            changes.update({"keys": array, "key_schema": schema} if keyed else
                           {"values": array, "value_schema": schema})
        return Transformed(dataclasses.replace(bundle, **changes), tuple(errors.failures()))

    def _failures(self, array: pa.Array, schema: Optional[pa.Field]) -> RowErrors:
        errors = RowErrors(len(array))
        schemaful = schema is not None
        purpose = "header %s" % self.operation
        if require_objects(errors, array, schemaful, purpose, nulls_pass=False) and schemaful:
            missing = [name for name in self.fields if array.type.get_field_index(name) < 0]
            if missing:
                errors.add(range(len(array)), "%s is not a valid field name" % missing[0])
        return errors

    def _without_fields(self, array: pa.StructArray, schema: Optional[pa.Field]) -> tuple:
        """``array`` (none of whose records is null) without the moved fields, and its schema."""
        all_fields = list(array.type)
        children = struct_children(array, all_fields, schema is not None and self.replace_null)
        moved = set(self.fields)
        kept = [(f, c) for f, c in zip(all_fields, children) if f.name not in moved]
        fields = [f for f, _ in kept]
        out = rebuild_struct(array, fields, [c for _, c in kept])
        return out, None if schema is None else struct_schema(schema, fields)


def _non_empty_list(config: Mapping[str, Any], key: str, prefix: str) -> tuple:
    if not config[key]:
        raise ConfigError("%s%s must be a non-empty list, got %r" % (prefix, key, ",".join(config[key])))
    return tuple(config[key])


def _header_bytes(value: Any) -> Optional[bytes]:
    """SimpleHeaderConverter's bytes for a value in its Java form (None for null)."""
    return None if value is None else convert_to_string(value).encode("utf-8")


TRANSFORMATIONS = {**names("InsertHeader", InsertHeader, sides=False),
                   **names("DropHeaders", DropHeaders, sides=False),
                   **names("HeaderFrom", HeaderFrom)}
