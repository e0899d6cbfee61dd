"""Keys or values of a bundle as Schema Registry records: Avro, JSON Schema or Protobuf, from their
Connect schema.

:class:`RegistrySerializer` writes one part (keys or values) of a bundle. Each record's schema comes
from its Connect schema (the bundle's ``key_schema``/``value_schema``, or the record's own value
schema when the converter read several, see :meth:`~transforms.records.ConvertedBundle
.value_schemas`):

- ``avro``: the schema :mod:`sinks.avro_schema` derives (Confluent's AvroData mapping: optional
  fields as ``["null", T]`` unions, Connect's logical types as Avro's), the top-level record named by
  the Connect schema name (``shop.Order`` is record ``Order`` in namespace ``shop``, with
  ``connect.name``) or ``io.confluent.connect.avro.ConnectDefault`` without one; the payload is
  fastavro's binary encoding.
- ``json_sr``: :func:`~transforms.converters.json_schema_from_connect.json_schema_of` (Confluent's
  JsonSchemaData mapping); the payload is JSON as JsonSchemaConverter writes it: bytes and Decimals
  (``decimal.format=BASE64``) base64, Date days, Time and Timestamp milliseconds, maps of string
  keys objects and other maps arrays of ``{key, value}``, a ``OneOf`` struct its one set branch. The
  payload is not validated against the schema it was derived from (Java's
  ``json.fail.invalid.schema`` defaults to false too). NaN and infinities, which JSON has no
  numbers for, fail their records.
- ``protobuf``: a message type built from the Connect schema (:mod:`sinks.kafka.protobuf`).

A null stays null (a tombstone stays a tombstone) and is not framed. The top-level schema is the
non-null one: Confluent's converters would write an optional value schema as a union with null,
which only changes the registered text, since a null value is never serialized.

Failures are per record, raised as one :class:`~common.errors.RejectedRecord` per reason (the records
sharing it, so that ``BundleWriter`` leaves them out and writes the rest): no Connect schema
(schemaless data), a schema with no form in the format, a schema the registry refuses or does not
hold, a subject strategy that needs a name the schema lacks, a value that does not encode.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
from typing import Any, Callable, Dict, List, Optional

import pyarrow as pa

from common.errors import RejectedRecord
from sinks.kafka.protobuf import protobuf_writer
from sinks.kafka.registry import Registrations, RegistryOutput, SchemaRefused, frame
from transforms.converters.json_schema_data import GENERALIZED_UNION, ONE_OF
from transforms.converters.json_schema_from_connect import json_schema_of
from transforms.records import ConvertedBundle
from transforms.schema import schema_info

from sinks.avro_schema import avro_schema_of

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


class _Writer:
    """What a record of one Connect schema is written with.

    Attributes:
      text: The schema as registered.
      record_name: Its full name (for RecordNameStrategy), or None.
      write: Makes the payload of a value (``to_pylist()`` form).
      write_latest: Makes the payload of a value with another schema (the subject's latest,
        as ``compile_latest`` made it).
    """

    def __init__(self, text: str, record_name: Optional[str], write: Callable[[Any], bytes],
                 write_latest: Callable[[Any, Any], bytes]):
        self.text, self.record_name, self.write, self.write_latest = (text, record_name, write,
                                                                      write_latest)


def _avro_writer(field: pa.Field) -> _Writer:
    import fastavro

    schema, fix = avro_schema_of(field)
    if isinstance(schema, dict) and schema.get("type") == "record":
        record_name = schema["name"] if "." in schema["name"] or not schema.get("namespace") else (
            "%s.%s" % (schema["namespace"], schema["name"]))
    else:
        record_name = schema if isinstance(schema, str) else schema.get("type")
    parsed = fastavro.parse_schema(schema)
    fix = fix or (lambda v: v)

    def write_with(value: Any, writer_schema: Any) -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, writer_schema, fix(value))
        return out.getvalue()

    return _Writer(json.dumps(schema, separators=(",", ":")), record_name,
                   lambda value: write_with(value, parsed), write_with)


def _compile_avro(text: str) -> Any:
    import fastavro

    return fastavro.parse_schema(json.loads(text))


def _json_writer(field: pa.Field) -> _Writer:
    schema = json_schema_of(field.with_nullable(False))
    record_name = schema.get("title")
    encode = json_encoder(field)

    def write(value: Any, _latest: Any = None) -> bytes:
        return json.dumps(encode(value), separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")

    return _Writer(json.dumps(schema, separators=(",", ":")), record_name, write, write)


def json_encoder(field: pa.Field) -> Callable[[Any], Any]:
    """A function making a ``to_pylist()`` value of ``field`` the JSON JsonSchemaConverter writes."""
    t = field.type
    if pa.types.is_struct(t):
        children = [(f.name, json_encoder(f)) for f in t]
        info = schema_info(field)
        if info.name == ONE_OF or GENERALIZED_UNION in (info.parameters or {}):
            def one_of(value):
                if value is None:
                    return None
                for name, encode in children:
                    if value.get(name) is not None:
                        return encode(value[name])
                return None
            return one_of
        return lambda v: None if v is None else {name: encode(v.get(name)) for name, encode in children}
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        item = json_encoder(t.value_field)
        return lambda v: None if v is None else [item(x) for x in v]
    if pa.types.is_map(t):
        key, item = json_encoder(t.key_field), json_encoder(t.item_field)
        if pa.types.is_string(t.key_type) and not t.key_field.nullable:
            return lambda v: None if v is None else {k: item(x) for k, x in v}
        return lambda v: None if v is None else [{"key": key(k), "value": item(x)} for k, x in v]
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return lambda v: None if v is None else base64.b64encode(bytes(v)).decode("ascii")
    if pa.types.is_decimal(t):
        scale = t.scale

        def decimal_bytes(value):
            if value is None:
                return None
            unscaled = int(value.scaleb(scale))
            size = (unscaled.bit_length() + 8) // 8
            return base64.b64encode(unscaled.to_bytes(size, "big", signed=True)).decode("ascii")
        return decimal_bytes
    if pa.types.is_date(t):
        return lambda v: None if v is None else (v - _EPOCH.date()).days
    if pa.types.is_time(t):
        return lambda v: None if v is None else (
            ((v.hour * 60 + v.minute) * 60 + v.second) * 1000 + v.microsecond // 1000)
    if pa.types.is_timestamp(t):
        def millis(value):
            if value is None:
                return None
            if value.tzinfo is None:
                value = value.replace(tzinfo=datetime.timezone.utc)
            return (value - _EPOCH) // datetime.timedelta(milliseconds=1)
        return millis
    return lambda v: v


def _protobuf_writer(field: pa.Field) -> _Writer:
    text, full, write = protobuf_writer(field.with_nullable(False))
    return _Writer(text, full, write, None)


_WRITERS = {"avro": (_avro_writer, _compile_avro), "json_sr": (_json_writer, json.loads),
            "protobuf": (_protobuf_writer, None)}
_NAMES = {"avro": "Avro", "json_sr": "JSON Schema", "protobuf": "Protobuf"}


class RegistrySerializer:
    """Writes one part (keys or values) of bundles in Confluent's wire format.

    Args:
      output: The part's registry settings.
    """

    def __init__(self, output: RegistryOutput):
        self._output = output
        self.registrations = Registrations(output)
        self._make, self._compile_latest = _WRITERS[output.format]
        self._writers: Dict[bytes, Any] = {}

    def _writer(self, field: pa.Field) -> Any:
        """The :class:`_Writer` of ``field`` (or why it has none), made once per worker for each
        distinct schema: the key is the field's Arrow IPC form, metadata of nested fields included."""
        key = pa.schema([field]).serialize().to_pybytes()
        writer = self._writers.get(key)
        if writer is None:
            try:
                writer = self._make(field)
            except Exception as exc:  # a schema with no form in this format: its records fail
                writer = "its Connect schema has no %s form: %s" % (_NAMES[self._output.format], exc)
            if len(self._writers) >= max(self._output.capacity, 1):
                self._writers.pop(next(iter(self._writers)))
            self._writers[key] = writer
        return writer

    def close(self) -> None:
        self.registrations.close()

    def column(self, bundle: ConvertedBundle) -> List[Optional[bytes]]:
        """The framed key or value of each kept record of ``bundle``.

        Raises:
          RejectedRecord: records that cannot be written, those of the first reason met.
          RegistryUnavailable: the registry could not answer.
          RegistryRefused: the registry refuses the credentials.
        """
        output = self._output
        if output.part == "key":
            data, own = bundle.keys.to_pylist(), None
            shared = bundle.key_schema
        else:
            data, own = bundle.values.to_pylist(), bundle.value_schemas()
            shared = bundle.value_schema
        writers: Dict[int, Any] = {}
        ids: Dict[tuple, Any] = {}
        failures: Dict[str, list] = {}
        out: List[Optional[bytes]] = [None] * len(data)
        for index, value in enumerate(data):
            if value is None:
                continue
            field = own[index] if own is not None else shared
            try:
                out[index] = self._one(bundle, index, value, field, writers, ids)
            except _Failed as failed:
                failures.setdefault(str(failed), []).append(index)
        if failures:
            reason, indices = next(iter(failures.items()))
            more = len(indices) - 1
            raise RejectedRecord("%s=%r cannot write the %s of %s: %s%s" % (
                output.config_key, output.format, output.part, bundle.record_ref(indices[0]), reason,
                " (and %d more records of topic=%s partition=%d for the same reason)"
                % (more, bundle.topic, bundle.partition) if more else ""),
                [bundle.offsets[i] for i in indices])
        return out

    def _one(self, bundle, index, value, field, writers, ids) -> bytes:
        output = self._output
        if field is None:
            raise _Failed("it has no Connect schema (schemaless data, such as JsonConverter with "
                          "schemas.enable=false), and %s needs one" % _NAMES[output.format])
        writer = writers.get(id(field))
        if writer is None:
            writer = writers[id(field)] = self._writer(field)
        if isinstance(writer, str):
            raise _Failed(writer)
        topic = bundle.topic_of(index)
        key = (topic, writer.text)
        found = ids.get(key)
        if found is None:
            try:
                subject = output.subject(topic, writer.record_name)
                if output.use_latest:
                    found = self.registrations.latest(subject, self._compile_latest)
                else:
                    found = (self.registrations.id_of(subject, writer.text), None)
            except (ValueError, SchemaRefused) as exc:
                found = str(exc)
            ids[key] = found
        if isinstance(found, str):
            raise _Failed(found)
        schema_id, latest = found
        try:
            payload = writer.write(value) if latest is None else writer.write_latest(value, latest)
        except Exception as exc:  # fastavro and json raise whatever their writers meet
            raise _Failed("the %s does not encode with schema id %d: %s: %s"
                          % (output.part, schema_id, type(exc).__name__, exc)) from None
        return frame(schema_id, payload)


class _Failed(Exception):
    """One record's reason."""
