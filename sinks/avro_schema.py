"""Avro schemas of Arrow values, as Confluent's AvroData.fromConnectSchema builds them.

Shared by every sink that writes Avro. Each derivation returns ``(schema, fix)``: the Avro schema as
JSON-ready data and a function making ``to_pylist()`` values fit it (None when they already do).

:func:`avro_schema_of` works from the values' Connect schema, an Arrow field whose metadata holds it
(see :mod:`transforms.schema`), and reproduces what Confluent's AvroFormat writes for it
(``connect.meta.data=true``), so an Avro topic read with AvroConverter and archived to Avro files keeps
its writer's schema: structs become records named by their Connect name (namespace and name split at
the last dot), with the record doc and field docs AvroConverter kept in parameters
(``io.confluent.connect.avro.record.doc``, ``...field.doc.<name>``); field defaults are the Connect
defaults in Avro's JSON form (bytes and decimals as ISO-8859-1 strings), optional fields are
``["null", T]`` defaulting to null, or ``[T, "null"]`` when their default is not null; every schema
carries ``connect.doc``, ``connect.version``, ``connect.parameters``, ``connect.default`` (not on a
field whose default came from Avro, ``...field.default``), ``connect.name`` and ``connect.type``
(int8, int16). Connect's Decimal is ``bytes`` with the decimal logical type (precision from
``connect.decimal.precision``, 64 without it, as AvroData), or a ``fixed`` when the parameters give
``connect.fixed.size``; Date, Time and Timestamp are ``date``, ``time-millis`` and
``timestamp-millis``. A Connect ``io.confluent.connect.avro.Union`` struct is an Avro union again,
branches in field order, each value written to the branch whose field it sets.

Decisions:
- A string with ``io.confluent.connect.avro.Enum`` parameters is an Avro enum, symbols in the order of
  their ``Enum.<symbol>`` parameters, as AvroData writes it with ``enhanced.avro.schema.support``:
  without that, an archived enum would read back as a plain string.
- A named type is defined where it first appears and named where it recurs, as Avro requires. A name
  that recurs with a definition differing only in ``connect.*`` properties (an enum on two fields, one
  with a default and its ``...field.default`` flag) is named too, with the first definition's
  properties, where Avro's Java library fails on the redefinition; a name given to two different
  types (other fields, symbols, size) is refused (:class:`AvroSchemaError`, a per-record DataError:
  the file sink hands those records to the error path), as one Avro schema cannot hold both.
  Unnamed structs and map entries get AvroData's numbered names (``ConnectDefault``,
  ``ConnectDefault2``..., ``MapEntry``...).
- A fixed decimal is a ``fixed`` named by its Connect name (Connect does not keep the Avro name); a
  second one of another size becomes ``bytes`` with the same decimal logical type.
- The top-level schema is the value's own, never a union with null: a value file holds no nulls.
- Connect keeps no micro-second logical types (AvroConverter reads ``time-micros`` and
  ``timestamp-micros`` as longs), so they are written as longs, as Confluent's files have them.

:func:`avro_schema` works from the Arrow type alone (schemaless values, or values a transform
reshaped): optional fields become ``["null", T]`` unions defaulting to null, Connect's Decimal, Date,
Time and Timestamp become Avro's logical types by their Arrow types, structs are ``ConnectDefault``
records. Maps with string keys are Avro maps; other maps are arrays of key/value records, as in
AvroData. A field without Connect metadata gives the same schema either way, but for the
``connect.type`` AvroData puts on Connect's int8 and int16.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any, Callable, Optional

import pyarrow as pa

from common.errors import ConfigError, DataError
from transforms.converters.avro_data import (DECIMAL_PRECISION, DECIMAL_PRECISION_DEFAULT, ENUM,
                                             ENUM_DOC_PREFIX, FIELD_DEFAULT_FLAG, FIELD_DOC_PREFIX,
                                             FIXED_SIZE, RECORD_DOC, UNION)
from transforms.schema import DATE, DECIMAL, TIME, TIMESTAMP, SchemaInfo, schema_info

NAMESPACE = "io.confluent.connect.avro"

ENUM_DEFAULT_PREFIX = "io.confluent.connect.avro.enum.default."

Fix = Optional[Callable[[Any], Any]]


class AvroSchemaError(DataError):
    """The records' Connect schema has no Avro schema: one name would stand for two types. A sink
    leaves those records out (the error path names them), as Confluent's AvroFormat fails on them."""


def avro_schema(arrow: pa.DataType) -> tuple:
    """The Avro schema of non-null values of ``arrow``, and a function that makes ``to_pylist()``
    values fit it (None when they already do)."""
    names = _Names()
    return _schema(arrow, names)


class _Names:
    """Record names unique within one schema, as AvroData numbers them."""

    def __init__(self):
        self.counts = {}

    def next(self, base: str = "ConnectDefault") -> str:
        count = self.counts[base] = self.counts.get(base, 0) + 1
        return base if count == 1 else "%s%d" % (base, count)


def _schema(t: pa.DataType, names: _Names) -> tuple:
    if pa.types.is_null(t):
        return "null", None
    if pa.types.is_boolean(t):
        return "boolean", None
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_int32(t) or pa.types.is_uint8(t) \
            or pa.types.is_uint16(t):
        return "int", None
    if pa.types.is_integer(t):
        return "long", None
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "float", None
    if pa.types.is_float64(t):
        return "double", None
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string", None
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "bytes", None
    if pa.types.is_decimal(t):
        return {"type": "bytes", "logicalType": "decimal", "precision": t.precision,
                "scale": t.scale}, None
    if pa.types.is_date(t):
        return {"type": "int", "logicalType": "date"}, None
    if pa.types.is_time(t):
        if t.unit in ("s", "ms"):
            return {"type": "int", "logicalType": "time-millis"}, None
        return {"type": "long", "logicalType": "time-micros"}, None
    if pa.types.is_timestamp(t):
        if t.unit in ("s", "ms"):
            return {"type": "long", "logicalType": "timestamp-millis"}, None
        return {"type": "long", "logicalType": "timestamp-micros"}, None
    if pa.types.is_struct(t):
        return _record(t, names)
    if pa.types.is_map(t):
        return _map(t, names)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        item, fix = _field_schema(t.value_field, names)
        if fix is None:
            return {"type": "array", "items": item}, None
        return {"type": "array", "items": item}, lambda v: [fix(x) for x in v]
    raise ConfigError("values of Arrow type %s cannot be written as Avro" % t)


def _field_schema(field: pa.Field, names: _Names) -> tuple:
    schema, fix = _schema(field.type, names)
    if field.nullable and schema != "null":
        schema = ["null", schema]
        if fix is not None:
            inner = fix
            fix = lambda v: None if v is None else inner(v)  # noqa: E731
    return schema, fix


def _record(t: pa.StructType, names: _Names) -> tuple:
    name = names.next()
    fields, fixes = [], []
    for i in range(t.num_fields):
        child = t.field(i)
        schema, fix = _field_schema(child, names)
        field = {"name": child.name, "type": schema}
        if isinstance(schema, list) or schema == "null":
            field["default"] = None
        fields.append(field)
        if fix is not None:
            fixes.append((child.name, fix))
    schema = {"type": "record", "name": name, "namespace": NAMESPACE, "fields": fields}
    if not fixes:
        return schema, None

    def fix_record(record: dict) -> dict:
        record = dict(record)
        for key, fix in fixes:
            record[key] = fix(record[key])
        return record

    return schema, fix_record


def _map(t: pa.MapType, names: _Names) -> tuple:
    value, value_fix = _field_schema(t.item_field, names)
    if pa.types.is_string(t.key_type) or pa.types.is_large_string(t.key_type):
        if value_fix is None:
            return {"type": "map", "values": value}, lambda pairs: dict(pairs)
        return {"type": "map", "values": value}, lambda pairs: {k: value_fix(v) for k, v in pairs}
    key, key_fix = _schema(t.key_type, names)
    entry = {"type": "record", "name": names.next("MapEntry"), "namespace": NAMESPACE,
             "fields": [{"name": "key", "type": key}, {"name": "value", "type": value}]}
    key_fix = key_fix or (lambda k: k)
    value_fix = value_fix or (lambda v: v)
    return {"type": "array", "items": entry}, \
        lambda pairs: [{"key": key_fix(k), "value": value_fix(v)} for k, v in pairs]


def avro_schema_of(field: Optional[pa.Field], arrow: Optional[pa.DataType] = None) -> tuple:
    """The writer's schema of values whose Connect schema is ``field``, as AvroData.fromConnectSchema
    builds it, and a function that makes ``to_pylist()`` values fit it (None when they already do).

    Args:
      field: The values' Connect schema as an Arrow field (see :mod:`transforms.schema`); None for
        schemaless values, which get :func:`avro_schema` of ``arrow``.
      arrow: The values' Arrow type; when it differs from the field's, the field no longer describes
        the values (a transform changed them) and :func:`avro_schema` of ``arrow`` is used.
    """
    if field is None or (arrow is not None and not field.type.equals(arrow)):
        if arrow is None:
            raise ValueError("avro_schema_of() needs a field or an Arrow type")
        return avro_schema(arrow)
    return _Writer().top(field)


class _Writer:
    """One writer's schema made from Connect metadata: each named type defined once, then named."""

    def __init__(self):
        self.names = _Names()
        self.defined = {}  # full name -> (Connect field it was made of, its flat definition, fix)

    def top(self, field: pa.Field) -> tuple:
        # A file holds non-null values only: its schema is the value's own, not a union with null.
        return self.schema(field.with_nullable(False), "")

    def schema(self, field: pa.Field, space: str, bare: bool = False) -> tuple:
        """``field``'s Avro schema inside namespace ``space``: a union with null when it is optional,
        unless ``bare`` (a union's branch, or the inside of that union)."""
        info = schema_info(field)
        t = field.type
        if pa.types.is_struct(t) and info.name == UNION:
            return self._union(field, space)
        if field.nullable and not bare:
            base, fix = self.schema(field, space, bare=True)
            # AvroData puts null last when the default is not null: a union's default is its first type's
            schema = [base, "null"] if info.has_default and info.default is not None else ["null", base]
            if fix is not None:
                inner = fix
                fix = lambda v: None if v is None else inner(v)  # noqa: E731
            return schema, fix
        if pa.types.is_struct(t):
            return self._record(field, info, space)
        if pa.types.is_map(t):
            return self._map(field, info, space)
        if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
            item, fix = self.schema(t.value_field, space)
            schema = self._props({"type": "array", "items": item}, field, info)
            return schema, None if fix is None else (lambda v: [fix(x) for x in v])
        return self._leaf(field, info, space), None

    def _leaf(self, field: pa.Field, info: SchemaInfo, space: str):
        t, parameters = field.type, info.parameters or {}
        if pa.types.is_string(t) and ENUM in parameters:
            return self._enum(field, info, space)
        if FIXED_SIZE in parameters and info.name is not None and \
                (pa.types.is_binary(t) or pa.types.is_decimal(t)):
            fixed = self._fixed(field, info, space)
            if fixed is not None:
                return fixed
        if pa.types.is_decimal(t) and info.name == DECIMAL:
            schema = {"type": "bytes", **_decimal(t, parameters)}
        else:
            schema, fix = _schema(t, self.names)
            if fix is not None:  # containers are handled by the caller
                raise ConfigError("values of Arrow type %s cannot be written as Avro" % t)
            if not isinstance(schema, dict):
                schema = {"type": schema}
        connect_type = "int8" if pa.types.is_int8(t) else "int16" if pa.types.is_int16(t) else None
        schema = self._props(schema, field, info, connect_type)
        return schema["type"] if len(schema) == 1 else schema

    def _enum(self, field: pa.Field, info: SchemaInfo, space: str):
        parameters = info.parameters
        full = parameters[ENUM]

        def build() -> tuple:
            namespace, name = _split(full)
            schema = _named("enum", name, namespace, space)
            if parameters.get(ENUM_DOC_PREFIX + name) is not None:
                schema["doc"] = parameters[ENUM_DOC_PREFIX + name]
            prefix = ENUM + "."
            schema["symbols"] = [v for k, v in parameters.items() if k.startswith(prefix)]
            if parameters.get(ENUM_DEFAULT_PREFIX + name) is not None:
                schema["default"] = parameters[ENUM_DEFAULT_PREFIX + name]
            return self._props(schema, field, info), None
        return self._named_type(full, field, space, build)[0]

    def _fixed(self, field: pa.Field, info: SchemaInfo, space: str):
        """A fixed named by the Connect name; None (bytes instead) when another type has that name,
        as two fixed decimals of different sizes would."""
        def build() -> tuple:
            namespace, name = _split(info.name)
            schema = _named("fixed", name, namespace, space)
            schema["size"] = int(info.parameters[FIXED_SIZE])
            if pa.types.is_decimal(field.type):
                schema.update(_decimal(field.type, info.parameters))
            return self._props(schema, field, info), None
        try:
            return self._named_type(info.name, field, space, build)[0]
        except AvroSchemaError:
            return None

    def _record(self, field: pa.Field, info: SchemaInfo, space: str) -> tuple:
        t, parameters = field.type, info.parameters or {}
        if info.name is not None:
            full = info.name
            namespace, name = _split(full)
        else:
            namespace, name = NAMESPACE, self.names.next()
            full = "%s.%s" % (namespace, name)

        def build() -> tuple:
            schema = _named("record", name, namespace, space)
            if parameters.get(RECORD_DOC) is not None:
                schema["doc"] = parameters[RECORD_DOC]
            fields, fixes = [], []
            for i in range(t.num_fields):
                child = t.field(i)
                child_schema, fix = self.schema(child, namespace)
                entry = {"name": child.name, "type": child_schema}
                if parameters.get(FIELD_DOC_PREFIX + child.name) is not None:
                    entry["doc"] = parameters[FIELD_DOC_PREFIX + child.name]
                child_info = schema_info(child)
                if child_info.has_default and child_info.default is not None and child_info.name != UNION:
                    entry["default"] = _default(child_info.default, child)
                elif child.nullable or child_schema == "null":
                    entry["default"] = None
                fields.append(entry)
                if fix is not None:
                    fixes.append((child.name, fix))
            schema["fields"] = fields
            return self._props(schema, field, info), _fix_fields(tuple(fixes)) if fixes else None
        return self._named_type(full, field, space, build)

    def _map(self, field: pa.Field, info: SchemaInfo, space: str) -> tuple:
        t = field.type
        value, value_fix = self.schema(t.item_field, space)
        if pa.types.is_string(t.key_type) or pa.types.is_large_string(t.key_type):
            schema = self._props({"type": "map", "values": value}, field, info)
            if value_fix is None:
                return schema, lambda pairs: dict(pairs)
            return schema, lambda pairs: {k: value_fix(v) for k, v in pairs}
        key, key_fix = self.schema(t.key_field, space)
        if info.name is not None:  # AvroData names the entry record after the map
            namespace, name = _split(info.name)
        else:
            namespace, name = NAMESPACE, self.names.next("MapEntry")

        def build() -> tuple:
            entry = _named("record", name, namespace, space)
            entry["fields"] = [{"name": "key", "type": key}, {"name": "value", "type": value}]
            if info.name is not None:
                entry["connect.internal.type"] = "MapEntry"
            return entry, None
        entry = self._named_type(_full(name, namespace), field, space, build)[0]
        key_fix = key_fix or (lambda k: k)
        value_fix = value_fix or (lambda v: v)
        return self._props({"type": "array", "items": entry}, field, info), \
            lambda pairs: [{"key": key_fix(k), "value": value_fix(v)} for k, v in pairs]

    def _union(self, field: pa.Field, space: str) -> tuple:
        """Connect's ``io.confluent.connect.avro.Union`` struct: one branch per field (null first when
        optional); the field a value sets says its branch, which is written by name (fastavro's tuple
        notation), so a value goes to its own branch even where another would take it."""
        t = field.type
        schemas = ["null"] if field.nullable else []
        branches = []
        for i in range(t.num_fields):
            child = t.field(i)
            schema, fix = self.schema(child, space, bare=True)
            schemas.append(schema)
            branches.append((child.name, _branch(schema, space), fix))
        branches = tuple(branches)

        def fix_union(value: Optional[dict]):
            if value is None:
                return None
            for name, tag, fix in branches:
                item = value.get(name)
                if item is not None:
                    return tag, item if fix is None else fix(item)
            return None
        return schemas, fix_union

    def _named_type(self, full: str, field: pa.Field, space: str, build: Callable[[], tuple]) -> tuple:
        """``build()``'s ``(schema, fix)`` where the named type ``full`` first appears; its name where
        it recurs, as AvroData's schemas are written (the same Connect schema, or one making the same
        definition). Raises when a name would stand for two definitions, which one Avro schema cannot
        hold."""
        known = self.defined.get(full)
        if known is not None and _same(known[0], field):
            return full, known[2]
        schema, fix = build()
        flat = _flat(schema, space)
        known = self.defined.get(full)  # also when one of its own fields took the name
        if known is None:
            self.defined[full] = (field, flat, fix)
            return schema, fix
        if known[1] != flat:
            raise AvroSchemaError("the value schema defines the %s %r twice, differently; an Avro "
                                  "schema names each type once" % (schema["type"], full))
        return full, known[2]

    @staticmethod
    def _props(schema: dict, field: pa.Field, info: SchemaInfo, connect_type: Optional[str] = None) -> dict:
        """``schema`` with the properties AvroData adds with ``connect.meta.data=true``."""
        parameters = info.parameters or {}
        if info.doc is not None:
            schema["connect.doc"] = info.doc
        if info.version is not None:
            schema["connect.version"] = info.version
        if parameters:
            schema["connect.parameters"] = dict(parameters)
        if info.has_default and info.default is not None and FIELD_DEFAULT_FLAG not in parameters:
            schema["connect.default"] = _default(info.default, field)
        if info.name is not None:
            schema["connect.name"] = info.name
        if connect_type is not None:
            schema["connect.type"] = connect_type
        logical = _LOGICAL.get(info.name)
        if logical is not None and schema.get("type") in ("int", "long"):
            schema["logicalType"] = logical
        for key, value in parameters.items():
            if key.startswith("avro"):
                schema[key] = value
        return schema


_LOGICAL = {DATE: "date", TIME: "time-millis", TIMESTAMP: "timestamp-millis"}
_NAMED = ("record", "enum", "fixed")
_EPOCH = datetime.date(1970, 1, 1)
_EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _same(a: pa.Field, b: pa.Field) -> bool:
    """Whether two fields hold one Connect schema, whatever their names and optionality."""
    return a is b or a.with_name("_").with_nullable(False).equals(b.with_name("_").with_nullable(False),
                                                                  check_metadata=True)


def _fix_fields(fixes: tuple) -> Callable[[dict], dict]:
    def fix_record(record: dict) -> dict:
        record = dict(record)
        for key, fix in fixes:
            record[key] = fix(record[key])
        return record
    return fix_record


def _split(full: str) -> tuple:
    """``(namespace, name)`` of a full name, as AvroData.splitName does."""
    namespace, _, name = full.rpartition(".")
    return namespace, name


def _named(kind: str, name: str, namespace: str, space: str) -> dict:
    """The start of a record, enum or fixed; a name without namespace inside a namespace says so
    (``"namespace": ""``), or it would take the enclosing one."""
    schema = {"type": kind, "name": name}
    if namespace or space:
        schema["namespace"] = namespace
    return schema


def _decimal(t: pa.DataType, parameters: dict) -> dict:
    """AvroData's decimal: precision from ``connect.decimal.precision`` (64 without it), scale from
    ``scale``."""
    return {"logicalType": "decimal",
            "precision": int(parameters.get(DECIMAL_PRECISION, DECIMAL_PRECISION_DEFAULT)),
            "scale": int(parameters.get("scale", t.scale))}


def _full(name: str, namespace: str) -> str:
    return "%s.%s" % (namespace, name) if namespace else name


def _branch(schema: Any, space: str) -> str:
    """The name fastavro's tuple notation gives a union branch: a named type's full name, else its
    type."""
    if isinstance(schema, str):
        return schema
    kind = schema["type"]
    if kind in _NAMED:
        return _full(schema["name"], schema.get("namespace", space))
    return kind


def _flat(schema: Any, space: str) -> Any:
    """A named type's definition with the named types inside it replaced by their full names and
    without ``connect.*`` properties: what two definitions of one name must share to be one type."""
    def walk(node: Any, space: str, top: bool) -> Any:
        if isinstance(node, list):
            return [walk(n, space, False) for n in node]
        if not isinstance(node, dict):
            return node
        if node.get("type") in _NAMED:
            if not top:
                return _full(node["name"], node.get("namespace", space))
            space = node.get("namespace", space)
        out = {}
        for key, value in node.items():
            if key.startswith("connect."):
                continue
            if key == "fields":
                value = [{**f, "type": walk(f["type"], space, False)} for f in value]
            elif key in ("type", "items", "values"):
                value = walk(value, space, False)
            out[key] = value
        return out
    return walk(schema, space, True)


def _default(value: Any, field: pa.Field) -> Any:
    """A Connect default (as :func:`transforms.schema.schema_info` gives it) as Avro's JSON default:
    bytes and decimals as ISO-8859-1 strings of their bytes, dates as days, times and timestamps as
    numbers of their unit."""
    t = field.type
    if value is None:
        return None
    if pa.types.is_decimal(t):
        unscaled = int(decimal.Decimal(value).scaleb(t.scale).to_integral_value())
        size = (unscaled + (unscaled < 0)).bit_length() // 8 + 1
        return unscaled.to_bytes(size, "big", signed=True).decode("latin-1")
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return bytes(value).decode("latin-1")
    if pa.types.is_date(t):
        return (value - _EPOCH).days if isinstance(value, datetime.date) else int(value)
    if pa.types.is_time(t):
        if not isinstance(value, datetime.time):
            return int(value)
        micros = ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond
        return micros // 1000 if t.unit in ("s", "ms") else micros
    if pa.types.is_timestamp(t):
        if not isinstance(value, datetime.datetime):
            return int(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        micros = (value - _EPOCH_UTC) // datetime.timedelta(microseconds=1)
        return micros // 1000 if t.unit in ("s", "ms") else micros
    if pa.types.is_struct(t):
        return {f.name: _default(value.get(f.name), f) for f in t}
    if pa.types.is_map(t):
        pairs = value.items() if isinstance(value, dict) else value
        if pa.types.is_string(t.key_type) or pa.types.is_large_string(t.key_type):
            return {k: _default(v, t.item_field) for k, v in pairs}
        return [{"key": _default(k, t.key_field), "value": _default(v, t.item_field)} for k, v in pairs]
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return [_default(v, t.value_field) for v in value]
    return value
