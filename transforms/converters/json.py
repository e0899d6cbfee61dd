"""``JsonConverter``: JSON keys or values, with or without Connect's schema envelope."""

from __future__ import annotations

import collections
import decimal
import json
import logging
from typing import Any, Mapping, Optional, Sequence

import orjson
import pyarrow as pa

from common.configdef import ConfigDef, ConfigKey
from transforms.converters.base import Conversion, Converter
from transforms.converters.connect_schema import (
    ConnectSchema, NeedsExactNumbers, PayloadError, SchemaError, arrow_field, arrow_type, compile_schema)
from transforms.converters.json_schemaless import build_array, convert_schemaless, from_python
from transforms.converters.unify import TypeConflict, unify_types
from transforms.schema import connect_field

_LOGGER = logging.getLogger(__name__)

ENVELOPE_REQUIRED = (
    'JsonConverter with schemas.enable requires "schema" and "payload" fields and may not contain '
    "additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in "
    "your converter configuration.")

_NO_SCHEMA = object()  # An envelope whose "schema" is null: its payload is plain JSON.


class JsonConverter(Converter):
    """Reads JSON keys or values into Arrow.

    With ``schemas.enable`` (the default) each record is an envelope ``{"schema": ..., "payload": ...}``
    and the payload is converted to the Arrow type of its Connect schema (see
    :mod:`transforms.converters.connect_schema`). Records of one batch may carry different schemas: they
    are unified into one type, fields added by some schemas becoming nullable; records whose schema
    cannot be unified with the ones before them are failures. Without it, each record is plain JSON and
    types are inferred over the batch (see :mod:`transforms.converters.json_schemaless`).

    Sub-keys:
      schemas.enable: ``true`` (default) or ``false``.
      schemas.cache.size: How many parsed schemas to keep between batches (default 1000).
      decimal.format: ``BASE64`` (default) or ``NUMERIC``, the format Connect writes decimals in; both
        are read whatever it says.
      replace.null.with.default: Whether a null or missing value takes its schema's default (default
        ``true``).
    """

    java_class = "org.apache.kafka.connect.json.JsonConverter"

    config_def = ConfigDef([
        ConfigKey("schemas.enable", "boolean", True),
        ConfigKey("schemas.cache.size", "int", 1000, min=0),
        ConfigKey("decimal.format", "string", "BASE64", choices=("BASE64", "NUMERIC")),
        ConfigKey("replace.null.with.default", "boolean", True),
    ])

    def __init__(self, props: Mapping[str, str], *, config_key: str):
        super().__init__(props, config_key=config_key)
        self.schemas_enable = self.config["schemas.enable"]
        self.schemas_cache_size = self.config["schemas.cache.size"]
        self.decimal_format = self.config["decimal.format"]
        self.replace_null_with_default = self.config["replace.null.with.default"]
        self._schemas: collections.OrderedDict = collections.OrderedDict()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_schemas"] = collections.OrderedDict()
        return state

    def convert(self, data: Sequence[Optional[bytes]]) -> Conversion:
        if not self.schemas_enable:
            return convert_schemaless(data)
        return self._convert_envelopes(data)

    def _convert_envelopes(self, data: Sequence[Optional[bytes]]) -> Conversion:
        failures: list[tuple[int, str]] = []
        records = self._parse(data, failures)
        schemas = {id(s): s for _, s, _, _ in records if isinstance(s, ConnectSchema)}
        if any(s is _NO_SCHEMA for _, s, _, _ in records):
            if not schemas:
                array, conflicts = from_python([(i, p) for i, _, p, _ in records])
                return Conversion(array, tuple(sorted(failures + conflicts)))
            reason = 'the record has no schema ("schema" is null) but others in the batch do'
            failures.extend((i, reason) for i, s, _, _ in records if s is _NO_SCHEMA)
            records = [r for r in records if r[1] is not _NO_SCHEMA]

        unified, rejected = pa.null(), {}
        for key, schema in schemas.items():
            try:
                unified = unify_types(unified, schema.arrow_type)
            except TypeConflict as conflict:
                rejected[key] = ("schema does not match earlier records of the batch: "
                                 + conflict.reason())
        if rejected:
            _LOGGER.debug("%d of %d schemas in a batch conflict", len(rejected), len(schemas))
            failures.extend((i, rejected[id(s)]) for i, s, _, _ in records if id(s) in rejected)
            records = [r for r in records if id(r[1]) not in rejected]

        array = None
        kept = [s for key, s in schemas.items() if key not in rejected]
        if len(kept) == 1:
            schema_field = kept[0].arrow_field("value")
        else:  # several schemas unified: their names and docs no longer apply to all records
            schema_field = connect_field("value", unified, any(s.optional for s in kept) or not kept)
        if len(schemas) == 1 and not rejected:
            # One schema (the common case): let Arrow convert the payloads.
            array = _vectorised(records, next(iter(schemas.values())), failures)
        if array is None:
            entries = []
            for index, schema, payload, raw in records:
                if schema is None:
                    entries.append((index, None))
                    continue
                try:
                    try:
                        entries.append((index, schema.convert(payload)))
                    except NeedsExactNumbers:
                        entries.append((index, schema.convert(_exact_payload(raw))))
                except PayloadError as e:
                    failures.append((index, e.reason()))
            array, bad = build_array(entries, unified)
            failures.extend(bad)
        if schema_field.type != array.type:  # e.g. a batch of tombstones only: no schema seen
            schema_field = schema_field.with_type(array.type)
        own = None
        if len(kept) > 1:  # each record's own schema, for sinks that keep schemas apart
            fields = {id(s): s.arrow_field("value") for s in kept}
            of_record = {i: fields.get(id(s)) for i, s, _, _ in records}
            failed = {i for i, _ in failures}
            own = tuple(of_record.get(i) for i in range(len(data)) if i not in failed)
        return Conversion(array, tuple(sorted(failures)), schema_field, own)

    def _parse(self, data: Sequence[Optional[bytes]], failures: list) -> list[tuple]:
        """``(index, schema, payload, raw)`` per record; schema None for a tombstone.

        Connect writes the schema first, so a record starting with the same ``{"schema":...,"payload":``
        text as the one before (written compactly as Connect does, or as Python's json.dumps does) only
        has its payload parsed.
        """
        records, batch_schemas, prefixes = [], {}, {}
        loads, dumps = orjson.loads, orjson.dumps
        prefix, prefix_schema = None, None
        for index, raw in enumerate(data):
            if raw is None:
                records.append((index, None, None, None))
                continue
            if prefix is not None and raw.startswith(prefix) and raw.endswith(b"}"):
                try:
                    records.append((index, prefix_schema, loads(raw[len(prefix):-1]), raw))
                    continue
                except orjson.JSONDecodeError:
                    pass
            try:
                envelope = loads(raw)
            except orjson.JSONDecodeError as e:
                failures.append((index, "not valid JSON: %s" % e))
                continue
            if (type(envelope) is not dict or len(envelope) != 2 or "schema" not in envelope
                    or "payload" not in envelope):
                failures.append((index, ENVELOPE_REQUIRED))
                continue
            node = envelope["schema"]
            key = dumps(node)
            if node is None:
                schema = _NO_SCHEMA
            else:
                schema = batch_schemas.get(key)
                if schema is None:
                    schema = batch_schemas[key] = self._schema(key, node)
                if isinstance(schema, SchemaError):
                    failures.append((index, "invalid schema: %s" % schema))
                    continue
            if key not in prefixes:
                prefixes[key] = _envelope_prefix(raw, key, node)
            prefix, prefix_schema = prefixes[key], schema
            records.append((index, schema, envelope["payload"], raw))
        return records

    def _schema(self, key: bytes, node: Any):
        """The compiled schema, or the SchemaError it raised, for its JSON text (LRU-cached)."""
        cache = self._schemas
        schema = cache.get(key)
        if schema is not None:
            cache.move_to_end(key)
            return schema
        try:
            schema = compile_schema(node, self.replace_null_with_default)
        except SchemaError as e:
            schema = e
        if self.schemas_cache_size:
            cache[key] = schema
            if len(cache) > self.schemas_cache_size:
                cache.popitem(last=False)
        return schema


def _envelope_prefix(raw: bytes, key: bytes, node: Any) -> Optional[bytes]:
    """The envelope text before the payload, if ``raw`` is written in a known way; else None."""
    for prefix in (b'{"schema":' + key + b',"payload":',
                   ('{"schema": %s, "payload": ' % json.dumps(node)).encode()):
        if raw.startswith(prefix):
            return prefix
    return None


def _vectorised(records: list, schema: ConnectSchema, failures: list) -> Optional[pa.Array]:
    """All payloads of one schema converted by Arrow at once; None if Arrow rejects any.

    Fields Arrow cannot convert alone (bytes, decimals, maps...) are converted first, per value, in a
    copy of each payload object.
    """
    fixups = schema.fixups
    if fixups is None and not schema.vectorisable:
        return None
    values, own_failures = [], []
    for index, record_schema, payload, raw in records:
        if record_schema is None:
            values.append(None)
            continue
        try:
            if payload is None:
                payload = schema.convert(None)
            elif fixups:
                if type(payload) is not dict:
                    return None
                try:
                    payload = _fix(payload, fixups)
                except NeedsExactNumbers:
                    payload = _fix(_exact_payload(raw), fixups)
        except PayloadError as e:
            own_failures.append((index, e.reason()))
            continue
        values.append(payload)
    try:
        array = pa.array(values, type=schema.arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return None
    if _has_required_nulls(array):
        return None
    failures.extend(own_failures)
    return array


def _fix(payload: dict, fixups) -> dict:
    fixed = payload.copy()
    get = payload.get
    for name, convert in fixups:
        try:
            fixed[name] = convert(get(name))
        except PayloadError as e:
            e.path.insert(0, name)
            raise
    return fixed


def _has_required_nulls(array: pa.Array) -> bool:
    """Whether a non-nullable field inside the array holds a null under a non-null parent."""
    arrow_type = array.type
    if pa.types.is_struct(arrow_type):
        for field, child in zip(arrow_type, array.flatten()):
            # Flattened children are also null where the parent is.
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


def _exact_payload(raw: bytes) -> Any:
    """The payload parsed again with exact decimals for non-integer numbers."""
    return json.loads(raw, parse_float=decimal.Decimal)["payload"]


__all__ = ["ENVELOPE_REQUIRED", "JsonConverter", "arrow_field", "arrow_type"]
