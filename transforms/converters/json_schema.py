"""``JsonSchemaConverter``: JSON keys or values in Confluent's wire format, their JSON Schemas from a
Schema Registry.

Decisions: payloads are parsed with orjson, all payloads of one schema id at once, and when the schema
needs no per-value work (no bytes, decimals, times, maps, oneOf or defaults) Arrow converts them in one
``pa.array`` call, required fields checked on the result; otherwise each payload is checked and
converted against its Connect schema (see :mod:`transforms.converters.json_schema_data`). Validating
payloads against the JSON Schema itself (``json.fail.invalid.schema``) is off by default, as in
Confluent's deserializer, and done with the ``jsonschema`` package when on.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
from typing import Any, Callable, Mapping, Optional, Sequence

import orjson
import pyarrow as pa

from common.configdef import ConfigDef, ConfigKey
from common.errors import ConfigError
from transforms.converters.base import Conversion, Converter
from transforms.converters.json_schema_data import (
    CompiledJson, JsonSchemaError, ValueMismatch, compile_json_schema)
from transforms.converters.json_schemaless import build_array
from transforms.converters.registry import (
    REGISTRY_KEYS, BatchSchemas, RegistrySchemas, registry_client_config)
from transforms.converters.unify import TypeConflict, unify_types
from transforms.schema import connect_field

_LOGGER = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class _Schema:
    """What is kept per schema id: the compiled schema and, with validation, its validator."""

    compiled: CompiledJson
    validator: Any = None

    @property
    def field(self) -> pa.Field:
        return self.compiled.field


class JsonSchemaConverter(Converter):
    """Reads JSON keys or values written by Confluent's JSON Schema serializer (or Kafka Connect's
    JsonSchemaConverter).

    Each record is a magic byte 0, the 4-byte id of its writer's schema in the registry, and the JSON
    text. The schema of each id is fetched once per worker and compiled to a Connect schema as
    Confluent's ``JsonSchemaData`` does. Records of one batch written with different schemas are
    unified into one Arrow type, fields only some have becoming nullable, and each keeps its own
    schema (:attr:`Conversion.record_schemas`).

    Failures: a record that is not in the wire format ("Unknown magic byte!"), whose schema id the
    registry does not know or whose schema has no Connect equivalent, whose payload is not JSON, or
    does not match its Connect schema (or, with ``json.fail.invalid.schema``, its JSON Schema) is a
    per-record failure, routed by ``errors.tolerance``. A registry that cannot be reached raises
    :class:`~transforms.converters.registry.RegistryUnavailable` (retriable).

    Sub-keys: the registry keys of :data:`~transforms.converters.registry.REGISTRY_KEYS`, and
      use.optional.for.nonrequired: Properties not in ``required`` are optional fields (default false).
      flatten.singleton.unions: A oneOf of one schema is that schema (default true).
      generalized.sum.type.support: oneOf structs named ``connect_union_<N>`` (default false).
      json.fail.invalid.schema: Fail records that do not validate against their JSON Schema.
      object.additional.properties, decimal.format, ignore.default.for.nullables,
        ignore.modern.dialects, json.fail.unknown.properties: accepted; they change what a writer
        writes, or typed Java deserialization, not what is read here.
      preserve.additional.properties: must be false (needs Connect's Variant).
    """

    java_class = "io.confluent.connect.json.JsonSchemaConverter"

    config_def = REGISTRY_KEYS + ConfigDef([
        ConfigKey("use.optional.for.nonrequired", "boolean", False, group="JSON Schema"),
        ConfigKey("flatten.singleton.unions", "boolean", True, group="JSON Schema"),
        ConfigKey("generalized.sum.type.support", "boolean", False, group="JSON Schema"),
        ConfigKey("json.fail.invalid.schema", "boolean", False, group="JSON Schema",
                  doc="Validate each payload against its JSON Schema."),
        ConfigKey("object.additional.properties", "boolean", True, group="JSON Schema",
                  doc="A writer's setting (additionalProperties of generated schemas)."),
        ConfigKey("decimal.format", "string", "BASE64", choices=("BASE64", "NUMERIC"), group="JSON Schema",
                  doc="A writer's setting: decimals are read in both formats."),
        ConfigKey("ignore.default.for.nullables", "boolean", False, group="JSON Schema",
                  doc="A writer's setting."),
        ConfigKey("ignore.modern.dialects", "boolean", False, group="JSON Schema",
                  doc="Every dialect is read the same way here."),
        ConfigKey("json.fail.unknown.properties", "boolean", True, group="JSON Schema",
                  doc="Applies to typed Java deserialization only."),
        ConfigKey("preserve.additional.properties", "boolean", False, group="JSON Schema"),
    ])

    def __init__(self, props: Mapping[str, str], *, config_key: str):
        super().__init__(props, config_key=config_key)
        if self.config["preserve.additional.properties"]:
            raise ConfigError("%s.preserve.additional.properties must be false: undeclared properties "
                              "would be kept as Connect Variants, which are not supported here, got "
                              "'true'" % config_key)
        self.validate = self.config["json.fail.invalid.schema"]
        if self.validate:
            if importlib.util.find_spec("jsonschema") is None:
                raise ConfigError("%s.json.fail.invalid.schema=true needs the jsonschema package "
                                  "(pip install jsonschema)" % config_key)
        self.registry = RegistrySchemas(registry_client_config(self.config, config_key), self._compile,
                                        self.config["schemas.cache.config"], config_key)

    def _compile(self, schema, reference: Callable, versions: Callable) -> Any:
        """A :class:`_Schema` for a registry schema, or the reason its records fail.

        As Confluent's converter, the Connect version of a schema without ``connect.version`` is its
        version in the registry, when the id is registered under one version of one subject.
        """
        try:
            documents: dict = {}
            _referenced(schema, reference, documents, set())
            definition = orjson.loads(schema.schema_str)
            registrations = versions()
            version = registrations[0][1] if len(registrations) == 1 else None
            compiled = compile_json_schema(
                definition, documents, version=version,
                optional_for_nonrequired=self.config["use.optional.for.nonrequired"],
                flatten_singleton_unions=self.config["flatten.singleton.unions"],
                generalized_sum_types=self.config["generalized.sum.type.support"])
        except (orjson.JSONDecodeError, JsonSchemaError) as e:
            return "the writer's schema cannot be read as a Connect schema: %s" % e
        validator = None
        if self.validate:
            validator = _validator(definition, documents)
        return _Schema(compiled, validator)

    def convert(self, data: Sequence[Optional[bytes]]) -> Conversion:
        failures: list = []
        by_id: dict = {}  # schema id -> [(index, payload bytes)]
        nulls: list = []
        schemas = BatchSchemas(self.registry, "JSON")
        for index, raw in enumerate(data):
            if raw is None:
                nulls.append(index)
                continue
            schema_id, compiled, reason = schemas.resolve(raw)
            if compiled is None:
                failures.append((index, reason))
                continue
            by_id.setdefault(schema_id, []).append((index, raw))
        return self._assemble(by_id, schemas.found, nulls, failures, len(data))

    def _assemble(self, by_id: dict, schemas: dict, nulls: list, failures: list, total: int) -> Conversion:
        unified, rejected = pa.null(), set()
        for schema_id, schema in schemas.items():
            try:
                unified = unify_types(unified, schema.field.type)
            except TypeConflict as conflict:
                rejected.add(schema_id)
                reason = ("schema id %d does not match earlier records of the batch: %s"
                          % (schema_id, conflict.reason()))
                failures.extend((i, reason) for i, _ in by_id[schema_id])
        kept = [s for s in schemas if s not in rejected]
        if len(kept) == 1:
            schema_id = kept[0]
            field = schemas[schema_id].field
            array = self._one_schema(schema_id, schemas[schema_id], by_id[schema_id], nulls, failures)
            own = None
        else:  # several schemas unified: their names and docs no longer apply to all records
            field = connect_field("value", unified, True)
            entries = [(i, None) for i in nulls]
            own = {}
            for schema_id in kept:
                converted = self._parse(schema_id, schemas[schema_id], by_id[schema_id], failures)
                entries.extend(converted)
                own.update((i, schema_id) for i, _ in converted)
            entries.sort(key=lambda e: e[0])
            array, bad = build_array(entries, unified)
            failures.extend(bad)
        if field.type != array.type:  # a batch of nulls only: no schema seen
            field = field.with_type(array.type)
        record_schemas = None
        if own is not None and len(kept) > 1:
            failed = {i for i, _ in failures}
            record_schemas = tuple(schemas[own[i]].field if i in own else None
                                   for i in range(total) if i not in failed)
        return Conversion(array, tuple(sorted(failures)), field, record_schemas)

    def _one_schema(self, schema_id: int, schema: _Schema, records: list, nulls: list,
                    failures: list) -> pa.Array:
        """The batch's array when all its records have one schema: Arrow converts the parsed payloads
        in one call when the schema allows."""
        arrow_type = schema.field.type
        if schema.compiled.vectorisable and schema.validator is None:
            parsed, ok = [], True
            for index, raw in records:
                try:
                    value = orjson.loads(raw[5:])
                except orjson.JSONDecodeError:
                    ok = False
                    break
                if value is None:
                    ok = False
                    break
                parsed.append((index, value))
            if ok:
                if nulls:
                    parsed.extend((i, None) for i in nulls)
                    parsed.sort(key=lambda e: e[0])
                try:
                    array = pa.array([v for _, v in parsed], type=arrow_type)
                except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                    array = None
                if array is not None and not _has_required_nulls(array):
                    return array
        entries = [(i, None) for i in nulls]
        entries.extend(self._parse(schema_id, schema, records, failures))
        entries.sort(key=lambda e: e[0])
        array, bad = build_array(entries, arrow_type)
        failures.extend(bad)
        return array

    def _parse(self, schema_id: int, schema: _Schema, records: list, failures: list) -> list:
        """``(index, value)`` of each record that parses and matches its schema."""
        convert, validator, loads = schema.compiled.convert, schema.validator, orjson.loads
        out = []
        for index, raw in records:
            try:
                payload = loads(raw[5:])
            except orjson.JSONDecodeError as e:
                failures.append((index, "the payload of schema id %d is not valid JSON: %s" % (schema_id, e)))
                continue
            if validator is not None:
                error = next(iter(validator.iter_errors(payload)), None)
                if error is not None:
                    where = "/".join(str(p) for p in error.absolute_path)
                    failures.append((index, "the JSON does not validate against schema id %d%s: %s"
                                     % (schema_id, " at %r" % where if where else "", error.message)))
                    continue
            try:
                out.append((index, convert(payload)))
            except ValueMismatch as e:
                failures.append((index, "schema id %d: %s" % (schema_id, e.reason())))
        return out


def _referenced(schema, reference: Callable, documents: dict, seen: set) -> None:
    """Adds the parsed schemas ``schema`` references, by reference name, to ``documents``."""
    for ref in schema.references or ():
        key = (ref.subject, ref.version)
        if key in seen:
            continue
        seen.add(key)
        target = reference(ref.subject, ref.version)
        documents[ref.name] = orjson.loads(target.schema_str)
        _referenced(target, reference, documents, seen)


def _validator(definition: Any, documents: dict):
    """A ``jsonschema`` validator of the schema's dialect, its references resolvable by name."""
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    registry = Registry().with_resources(
        (name, Resource.from_contents(doc, default_specification=DRAFT7)) for name, doc in documents.items()
        if isinstance(doc, (dict, bool)))
    cls = jsonschema.validators.validator_for(definition, default=jsonschema.Draft7Validator)
    return cls(definition, registry=registry)


def _has_required_nulls(array: pa.Array) -> bool:
    """Whether a non-nullable field inside the array holds a null under a non-null parent."""
    arrow_type = array.type
    if pa.types.is_struct(arrow_type):
        for field, child in zip(arrow_type, array.flatten()):
            if not field.nullable and child.null_count > array.null_count:
                return True
            if _has_required_nulls(child):
                return True
    elif pa.types.is_list(arrow_type):
        items = array.flatten()
        if not arrow_type.value_field.nullable and items.null_count:
            return True
        return _has_required_nulls(items)
    return False
