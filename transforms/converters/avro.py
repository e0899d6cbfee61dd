"""``AvroConverter``: Avro keys or values in Confluent's wire format, their schemas from a Schema Registry."""

from __future__ import annotations

import io
import json
import logging
from typing import Any, Callable, Mapping, Optional, Sequence

import pyarrow as pa

from common.configdef import ConfigDef, ConfigKey
from common.errors import ConfigError
from transforms.converters import avro_blocks
from transforms.converters.avro_data import AvroSchemaError, CompiledAvro, compile_avro, named_types
from transforms.converters.base import Conversion, Converter
from transforms.converters.registry import (
    REGISTRY_KEYS, BatchSchemas, RegistrySchemas, UnknownSchema, assemble, registry_client_config,
    split_header)
from transforms.schema import schema_info, with_info

_LOGGER = logging.getLogger(__name__)
_EXTRA_HINT = "pip install 'beamconnect[schema-registry]'"


class AvroConverter(Converter):
    """Reads Avro keys or values written by Confluent's Avro serializer (or Kafka Connect's AvroConverter).

    Each record is a magic byte 0, the 4-byte id of its writer's schema in the registry, and the Avro
    binary encoding. The schema of each id is fetched once per worker and compiled (see
    :mod:`transforms.converters.avro_data` for the types); records are decoded with fastavro. Records
    of one batch written with different schemas (versions of one subject) are unified into one Arrow
    type, fields only some have becoming nullable, and each keeps its own schema
    (:attr:`Conversion.record_schemas`) for sinks that rotate on a schema change.

    Failures: a record that is not in the wire format ("Unknown magic byte!"), whose schema id the
    registry does not know, or whose bytes do not decode is a per-record failure, routed by
    ``errors.tolerance``. A registry that cannot be reached raises
    :class:`~transforms.converters.registry.RegistryUnavailable` (retriable) for the whole batch, one
    that refuses the credentials :class:`~transforms.converters.registry.RegistryRefused`.

    Sub-keys: the registry keys of :data:`~transforms.converters.registry.REGISTRY_KEYS`, and
      connect.meta.data: Keep Connect's names, versions, docs and parameters (default ``true``).
      enhanced.avro.schema.support: Union fields of records, enums and fixed named by their full names
        (default ``false``).
    """

    java_class = "io.confluent.connect.avro.AvroConverter"

    config_def = REGISTRY_KEYS + ConfigDef([
        ConfigKey("connect.meta.data", "boolean", True, group="Avro"),
        ConfigKey("enhanced.avro.schema.support", "boolean", False, group="Avro"),
        ConfigKey("scrub.invalid.names", "boolean", False, group="Avro"),
        ConfigKey("generalized.sum.type.support", "boolean", False, group="Avro"),
    ])

    def __init__(self, props: Mapping[str, str], *, config_key: str):
        super().__init__(props, config_key=config_key)
        try:
            import fastavro  # noqa: F401
        except ImportError:
            raise ConfigError("%s=io.confluent.connect.avro.AvroConverter needs fastavro (%s)"
                              % (config_key, _EXTRA_HINT)) from None
        if self.config["generalized.sum.type.support"]:
            raise ConfigError("%s.generalized.sum.type.support must be false: unions are read as "
                              "Confluent's io.confluent.connect.avro.Union structs, got 'true'" % config_key)
        self.connect_meta_data = self.config["connect.meta.data"]
        self.enhanced = self.config["enhanced.avro.schema.support"]
        self.registry = RegistrySchemas(registry_client_config(self.config, config_key), self._compile,
                                        self.config["schemas.cache.config"], config_key)
        self._blocks = avro_blocks.available()

    def _compile(self, schema, reference: Callable, versions: Callable) -> Any:
        """What is kept per schema id: a :class:`CompiledAvro` with its parsed reader schema, or the
        reason its records fail.

        As Confluent's converter, the Connect version of a schema without ``connect.version`` is its
        version in the registry: here, the version the id has under its subject when it is registered
        under one version of one subject (ids shared by several subjects keep none).
        """
        import fastavro

        try:
            named: dict = {}
            parsed_named: dict = {}
            for schema_text in _referenced(schema, reference, set()):
                definition = json.loads(schema_text)
                named.update(named_types(definition))
                fastavro.parse_schema(definition, named_schemas=parsed_named)
            definition = json.loads(schema.schema_str)
            compiled = compile_avro(definition, named, connect_meta_data=self.connect_meta_data,
                                    enhanced=self.enhanced)
            parsed = fastavro.parse_schema(compiled.reader_schema, named_schemas=parsed_named)
        except (ValueError, TypeError, KeyError, AvroSchemaError, fastavro.schema.SchemaParseException) as e:
            return "the writer's schema cannot be read as a Connect schema: %s" % e
        field = compiled.field
        if schema_info(field).version is None and isinstance(definition, dict):
            registrations = versions()
            if len(registrations) == 1:
                field = with_info(field, version=registrations[0][1])
        block = (avro_blocks.block_schema(definition, bool(named), field)
                 if compiled.convert is None and self._blocks else None)
        return CompiledAvro(parsed, field, compiled.convert, block)

    def convert(self, data: Sequence[Optional[bytes]]) -> Conversion:
        fast = self._convert_block(data) if self._blocks else None
        return fast if fast is not None else self._convert_each(data)

    def _convert_block(self, data: Sequence[Optional[bytes]]) -> Optional[Conversion]:
        """The batch decoded in one call (:mod:`avro_blocks`) when every value is null or framed
        with one schema id whose schema allows it; None otherwise."""
        first = next((raw for raw in data if raw is not None), None)
        if first is None or len(data) < avro_blocks.MIN_RECORDS:
            return None
        schema_id, _ = split_header(first)
        if schema_id is None:
            return None
        header = first[:5]
        bodies, nulls = [], []
        for index, raw in enumerate(data):
            if raw is None:
                nulls.append(index)
            elif raw[:5] != header:
                return None
            else:
                bodies.append(raw[5:])
        try:
            compiled = self.registry.get(schema_id)
        except UnknownSchema:
            return None
        if isinstance(compiled, str):
            return None
        if compiled.block_schema is None:
            return None
        values = avro_blocks.decode(compiled.block_schema, bodies, compiled.field.type)
        if values is None:
            return None
        if nulls:  # tombstones stay null entries in their places
            positions, at = [], 0
            missing = set(nulls)
            for index in range(len(data)):
                positions.append(None if index in missing else at)
                at += index not in missing
            values = values.take(pa.array(positions, pa.int64()))
        return Conversion(values, (), compiled.field, None)

    def _convert_each(self, data: Sequence[Optional[bytes]]) -> Conversion:
        from fastavro import schemaless_reader

        failures: list = []
        entries: list = []
        schemas = BatchSchemas(self.registry, "Avro")
        own: dict = {}
        for index, raw in enumerate(data):
            if raw is None:
                entries.append((index, None))
                continue
            schema_id, compiled, reason = schemas.resolve(raw)
            if compiled is None:
                failures.append((index, reason))
                continue
            try:
                value = schemaless_reader(io.BytesIO(raw[5:]), compiled.reader_schema, None,
                                          return_named_type=True)
                if compiled.convert is not None:
                    value = compiled.convert(value)
            except Exception as e:  # fastavro raises whatever its readers meet (EOFError, ValueError...)
                failures.append((index, "the Avro data does not decode with schema id %d: %s: %s"
                                 % (schema_id, type(e).__name__, e)))
                continue
            entries.append((index, value))
            own[index] = schema_id
        return assemble(entries, failures, schemas.found, own, len(data),
                        lambda schema_id: "schema id %d" % schema_id)


def _referenced(schema, reference: Callable, seen: set) -> list:
    """The texts of the schemas ``schema`` references, dependencies first."""
    texts = []
    for ref in schema.references or ():
        key = (ref.subject, ref.version)
        if key in seen:
            continue
        seen.add(key)
        target = reference(ref.subject, ref.version)
        texts.extend(_referenced(target, reference, seen))
        texts.append(target.schema_str)
    return texts
