"""Protobuf messages as Connect schemas, the way Confluent's ``ProtobufData`` maps them, in Arrow terms.

:func:`compile_message` turns a message descriptor into a :class:`CompiledProtobuf`: the message class
the protobuf runtime decodes with, the Connect schema as an Arrow field (see :mod:`transforms.schema`),
and a function turning a decoded message into a value ``pa.array`` takes for that field's type. The
function reads the message's attributes directly (no detour through JSON or ``MessageToDict``).

Types: ``int32``, ``sint32``, ``sfixed32`` to INT32 (INT8/INT16 when the field's
``confluent.field_meta`` parameter ``connect.type`` says so); ``uint32``, ``fixed32`` and the 64-bit
integers to INT64 (``uint64``/``fixed64`` values above 2^63 wrap to negative, as in Java); a type other
than ``int32``/``int64`` is kept in the parameter ``io.confluent.connect.protobuf.Type``. ``float``,
``double``, ``bool``, ``string``, ``bytes`` map to themselves. An enum is a string (an INT32 with
``int.for.enums``) named by the enum's name, with parameters ``io.confluent.connect.protobuf.Enum``
(the enum's name) and ``io.confluent.connect.protobuf.Enum.<symbol>`` (its number). ``repeated`` is an
array, ``map<>`` a map named after its entry (``AttrsEntry`` → ``attrs``), a message a struct named by
its name (its full name with ``enhanced.protobuf.schema.support``). A ``oneof`` is an optional struct
field ``<oneof>_<index>`` (``<oneof>`` without ``generate.index.for.unions``) named
``io.confluent.connect.protobuf.Union.<oneof>``, one optional field per member, the member that is set
filled; with ``flatten.unions`` its members are fields of the message instead. As in ``ProtobufData``
a message's oneofs come before its other fields. Every field carries its number in the parameter
``io.confluent.connect.protobuf.Tag``.

Well-known messages: ``google.protobuf.Timestamp`` to Timestamp (milliseconds, truncated),
``google.type.Date`` to Date, ``google.type.TimeOfDay`` to Time, ``confluent.type.Decimal`` to Decimal
(scale and precision from the field's ``confluent.field_meta`` parameters ``scale`` and
``precision``; 38 digits when it names none). With ``wrapper.for.nullables`` the ``google.protobuf.*Value``
wrappers are their optional primitive (``UInt32Value`` and ``UInt64Value`` INT64); without it they are
structs with one ``value`` field. A message that is itself a wrapper (``wrapper.for.raw.primitives``,
the default) is read as its primitive.

Optionality, as ``ProtobufData``: enums, messages and arrays are always optional; other fields are
optional unless ``optional.for.nullables`` (then only those declared ``optional``) or
``wrapper.for.nullables`` is set. A scalar field without presence always has its value (proto3's zero
default when absent); a message field, or one declared ``optional``, is null when absent (its default
message with ``generate.struct.for.nulls``).

A recursive message has no Arrow type and is refused (:class:`ProtobufSchemaError`).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import re
from typing import Any, Callable, List, Optional

import pyarrow as pa

from common.errors import BeamConnectError
from transforms.schema import DATE, DECIMAL, TIME, TIMESTAMP, connect_field

NAMESPACE = "io.confluent.connect.protobuf"
ENUM = NAMESPACE + ".Enum"
UNION = NAMESPACE + ".Union"
TAG = NAMESPACE + ".Tag"
TYPE = NAMESPACE + ".Type"
WRAPPER = NAMESPACE + ".Wrapper"
DECIMAL_PRECISION = "connect.decimal.precision"
DECIMAL_TYPE = "confluent.type.Decimal"
DATE_TYPE = "google.type.Date"
TIME_TYPE = "google.type.TimeOfDay"
TIMESTAMP_TYPE = "google.protobuf.Timestamp"
_DEFAULT_PRECISION = 38

# FieldDescriptor type numbers (descriptor.proto).
_DOUBLE, _FLOAT, _INT64, _UINT64, _INT32, _FIXED64, _FIXED32, _BOOL, _STRING = range(1, 10)
_GROUP, _MESSAGE, _BYTES, _UINT32, _ENUM, _SFIXED32, _SFIXED64, _SINT32, _SINT64 = range(10, 19)
_TYPE_NAMES = {_INT64: "int64", _UINT64: "uint64", _INT32: "int32", _FIXED64: "fixed64",
               _FIXED32: "fixed32", _UINT32: "uint32", _SFIXED32: "sfixed32", _SFIXED64: "sfixed64",
               _SINT32: "sint32", _SINT64: "sint64"}
_SCALARS = {_DOUBLE: pa.float64(), _FLOAT: pa.float32(), _BOOL: pa.bool_(), _STRING: pa.string(),
            _BYTES: pa.binary()}
_INT32S = (_INT32, _SINT32, _SFIXED32)
_INT64S = (_INT64, _UINT64, _FIXED64, _SINT64, _SFIXED64, _UINT32, _FIXED32)
_WRAPPERS = {"google.protobuf.DoubleValue": pa.float64(), "google.protobuf.FloatValue": pa.float32(),
             "google.protobuf.Int64Value": pa.int64(), "google.protobuf.UInt64Value": pa.int64(),
             "google.protobuf.Int32Value": pa.int32(), "google.protobuf.UInt32Value": pa.int64(),
             "google.protobuf.BoolValue": pa.bool_(), "google.protobuf.StringValue": pa.string(),
             "google.protobuf.BytesValue": pa.binary()}
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


class ProtobufSchemaError(BeamConnectError, ValueError):
    """A message has no Connect equivalent (a recursive message, a proto2 group)."""


@dataclasses.dataclass(frozen=True)
class ProtobufOptions:
    """The ``ProtobufData`` settings that shape the Connect schema (see the module docstring)."""

    enhanced: bool = False
    int_for_enums: bool = False
    optional_for_nullables: bool = False
    optional_for_proto2: bool = True
    wrapper_for_nullables: bool = False
    wrapper_for_raw_primitives: bool = True
    generate_index_for_unions: bool = True
    flatten_unions: bool = False
    generate_struct_for_nulls: bool = False


@dataclasses.dataclass(frozen=True)
class CompiledProtobuf:
    """One message type of a schema, compiled.

    Attributes:
      message_class: The protobuf runtime's class, to decode the payload with ``FromString``.
      field: The Connect schema as an Arrow field named ``value``.
      convert: A decoded message to a value for ``pa.array``.
    """

    message_class: Any
    field: pa.Field
    convert: Callable[[Any], Any]


@dataclasses.dataclass(frozen=True)
class _Node:
    arrow_type: pa.DataType
    optional: bool
    convert: Optional[Callable[[Any], Any]]
    name: Optional[str] = None
    version: Optional[int] = None
    parameters: Optional[dict] = None

    def field(self, name: str) -> pa.Field:
        return connect_field(name, self.arrow_type, self.optional, schema_name=self.name,
                             version=self.version, parameters=self.parameters)


def compile_message(descriptor, message_class, options: ProtobufOptions = ProtobufOptions(),
                    version: Optional[int] = None) -> CompiledProtobuf:
    """Compiles a message type.

    Args:
      descriptor: The message's ``Descriptor``.
      message_class: Its class (``message_factory.GetMessageClass(descriptor)``).
      options: The converter's ``ProtobufData`` settings.
      version: The Connect version of the schema (its version in the registry), if known.

    Raises:
      ProtobufSchemaError: The message cannot be a Connect schema.
    """
    compiler = _Compiler(options)
    if options.wrapper_for_raw_primitives and descriptor.full_name in _WRAPPERS:
        value_field = descriptor.fields_by_name["value"]
        convert = _scalar_convert(value_field.type)
        node = _Node(_WRAPPERS[descriptor.full_name], False,
                     (lambda m: m.value) if convert is None else (lambda m: convert(m.value)))
    else:
        node = compiler.struct(descriptor, ())
    field = connect_field("value", node.arrow_type, False, schema_name=node.name, version=version,
                          parameters=node.parameters)
    return CompiledProtobuf(message_class, field, node.convert)


def _scalar_convert(kind: int) -> Optional[Callable[[Any], Any]]:
    if kind in (_UINT64, _FIXED64):
        return lambda v: v - (1 << 64) if v >= (1 << 63) else v
    return None


def _field_params(field) -> dict:
    """The ``params`` of a field's ``confluent.field_meta`` option (empty without it)."""
    from confluent_kafka.schema_registry.confluent import meta_pb2
    from google.protobuf import descriptor_pb2

    options = field.GetOptions()
    parsed = descriptor_pb2.FieldOptions.FromString(options.SerializeToString())
    if not parsed.HasExtension(meta_pb2.field_meta):
        return {}
    return dict(parsed.Extensions[meta_pb2.field_meta].params)


def _map_name(entry_name: str) -> str:
    """``ProtobufSchema.toMapField``: ``AttrsEntry`` → ``attrs``."""
    parts = entry_name.split(".")
    last = parts[-1]
    if last.endswith("Entry"):
        last = re.sub(r"(?<!^)(?=[A-Z])", "_", last[:-len("Entry")]).lower()
        parts[-1] = last
    return ".".join(parts)


class _Compiler:
    def __init__(self, options: ProtobufOptions):
        self.options = options

    def struct(self, descriptor, stack: tuple) -> _Node:
        full = descriptor.full_name
        if full in stack:
            raise ProtobufSchemaError("message %r contains itself; Connect schemas cannot be recursive"
                                      % full)
        stack = stack + (full,)
        from google.protobuf import descriptor_pb2

        proto = descriptor_pb2.DescriptorProto()
        descriptor.CopyToProto(proto)
        proto3_optional = {f.name for f in proto.field if f.proto3_optional}
        proto2 = _is_proto2(descriptor.file)
        synthetic = {o.name for o in descriptor.oneofs
                     if all(f.name in proto3_optional for f in o.fields)}
        fields: List[pa.Field] = []
        readers: list = []
        for oneof in descriptor.oneofs:
            if oneof.name in synthetic:
                continue
            members = [(member, self.field(member, stack, oneof_member=True)) for member in oneof.fields]
            if self.options.flatten_unions:
                for member, node in members:
                    fields.append(node.field(member.name))
                    readers.append(_reader(member.name, node.convert, presence=True, oneof=oneof.name))
                continue
            name = oneof.name + ("_%d" % oneof.index if self.options.generate_index_for_unions else "")
            union_name = UNION + "." + (oneof.full_name if self.options.enhanced else oneof.name)
            arrow = pa.struct([node.field(member.name) for member, node in members])
            fields.append(connect_field(name, arrow, True, schema_name=union_name))
            readers.append(_union_reader(name, oneof.name, {m.name: n.convert for m, n in members}))
        for field in descriptor.fields:
            oneof = field.containing_oneof
            if oneof is not None and oneof.name not in synthetic:
                continue
            node = self.field(field, stack)
            has_keyword = field.name in proto3_optional or (
                proto2 and self.options.optional_for_proto2 and not field.is_repeated
                and oneof is None)
            primitive_or_repeated = field.type != _MESSAGE or field.is_repeated
            presence = not (primitive_or_repeated and not has_keyword) and \
                not self.options.generate_struct_for_nulls
            fields.append(node.field(field.name))
            readers.append(_reader(field.name, node.convert, presence))
        name = full if self.options.enhanced else descriptor.name
        return _Node(pa.struct(fields), False, _struct_convert(tuple(readers)), name)

    def field(self, field, stack: tuple, oneof_member: bool = False) -> _Node:
        node = self.element(field, stack)
        repeated = field.is_repeated
        if repeated and not pa.types.is_map(node.arrow_type):
            inner = node.convert
            item = dataclasses.replace(node, optional=True).field("item")
            node = _Node(pa.list_(item), True,
                         None if inner is None else (lambda values: [inner(v) for v in values]))
        optional = node.optional
        parameters = dict(node.parameters or {})
        if oneof_member:
            optional = True
            if (self.options.wrapper_for_nullables and field.type == _MESSAGE
                    and field.message_type.full_name in _WRAPPERS):
                parameters[WRAPPER] = "true"
        elif self.options.optional_for_nullables:
            proto = _field_proto(field)
            if proto.proto3_optional or (_is_proto2(field.file) and self.options.optional_for_proto2
                                         and not repeated and field.containing_oneof is None):
                optional = True
        elif not self.options.wrapper_for_nullables:
            optional = True
        parameters[TAG] = str(field.number)
        return dataclasses.replace(node, optional=optional, parameters=parameters)

    def element(self, field, stack: tuple) -> _Node:
        kind = field.type
        if kind in _INT32S:
            connect_type = _field_params(field).get("connect.type")
            if connect_type in ("int8", "int16"):
                return _Node(pa.int8() if connect_type == "int8" else pa.int16(), False, None)
            return _Node(pa.int32(), False, None,
                         parameters=None if kind == _INT32 else {TYPE: _TYPE_NAMES[kind]})
        if kind in _INT64S:
            return _Node(pa.int64(), False, _scalar_convert(kind),
                         parameters=None if kind == _INT64 else {TYPE: _TYPE_NAMES[kind]})
        if kind in _SCALARS:
            return _Node(_SCALARS[kind], False, None)
        if kind == _ENUM:
            return self.enum(field.enum_type)
        if kind == _GROUP:
            raise ProtobufSchemaError("field %r is a proto2 group, which Connect schemas do not have"
                                      % field.full_name)
        message = field.message_type
        full = message.full_name
        if full == DECIMAL_TYPE:
            return self.decimal(field)
        if full == DATE_TYPE:
            return _Node(pa.date32(), True, _date, DATE, 1)
        if full == TIME_TYPE:
            return _Node(pa.time32("ms"), True, _time, TIME, 1)
        if full == TIMESTAMP_TYPE:
            return _Node(pa.timestamp("ms", tz="UTC"), True, _timestamp, TIMESTAMP, 1)
        if self.options.wrapper_for_nullables and full in _WRAPPERS:
            inner = _scalar_convert(message.fields_by_name["value"].type)
            return _Node(_WRAPPERS[full], True,
                         (lambda m: m.value) if inner is None else (lambda m: inner(m.value)))
        if message.GetOptions().map_entry and field.is_repeated:
            key = self.field(message.fields_by_name["key"], stack)
            value = self.field(message.fields_by_name["value"], stack)
            arrow = pa.map_(key.field("key").with_nullable(False), value.field("value"))
            key_convert, value_convert = key.convert, value.convert
            if key_convert is None and value_convert is None:
                convert = lambda m: list(m.items())  # noqa: E731
            else:
                key_convert = key_convert or (lambda k: k)
                value_convert = value_convert or (lambda v: v)
                convert = lambda m: [(key_convert(k), value_convert(v)) for k, v in m.items()]  # noqa: E731
            name = _map_name(full if self.options.enhanced else message.name)
            return _Node(arrow, True, convert, name)
        return dataclasses.replace(self.struct(message, stack), optional=True)

    def enum(self, enum) -> _Node:
        name = enum.full_name if self.options.enhanced else enum.name
        parameters = {ENUM: enum.name}
        parameters.update(("%s.%s" % (ENUM, v.name), str(v.number)) for v in enum.values)
        if self.options.int_for_enums:
            return _Node(pa.int32(), True, None, name, parameters=parameters)
        names = {v.number: v.name for v in enum.values}
        unknown = "UNKNOWN_ENUM_VALUE_%s_%%d" % enum.name

        def convert(number):
            found = names.get(number)
            return found if found is not None else unknown % number
        return _Node(pa.string(), True, convert, name, parameters=parameters)

    def decimal(self, field) -> _Node:
        params = _field_params(field)
        try:
            scale = int(params.get("scale", 0))
        except ValueError:
            scale = 0
        precision = None
        try:
            precision = int(params["precision"]) if "precision" in params else None
        except ValueError:
            pass
        digits = precision or _DEFAULT_PRECISION
        if not 1 <= digits <= 76 or scale > digits:
            raise ProtobufSchemaError("field %r: decimal precision %d and scale %d have no Arrow type"
                                      % (field.full_name, digits, scale))
        arrow = pa.decimal128(digits, scale) if digits <= 38 else pa.decimal256(digits, scale)
        parameters = {"scale": str(scale)}
        if precision is not None:
            parameters[DECIMAL_PRECISION] = str(precision)
        return _Node(arrow, True, _decimal, DECIMAL, 1, parameters=parameters)


def _is_proto2(file) -> bool:
    """Whether a file is proto2 (its ``syntax`` is empty or ``proto2``)."""
    from google.protobuf import descriptor_pb2

    syntax = descriptor_pb2.FileDescriptorProto.FromString(file.serialized_pb).syntax
    return syntax in ("", "proto2")


def _field_proto(field):
    from google.protobuf import descriptor_pb2

    proto = descriptor_pb2.DescriptorProto()
    field.containing_type.CopyToProto(proto)
    return proto.field[field.index]


def _reader(name: str, convert, presence: bool, oneof: Optional[str] = None):
    """``(name, read(message))`` for one field of a struct."""
    if oneof is not None:  # a flattened oneof member: set only when it is the member set
        def read(message):
            if message.WhichOneof(oneof) != name:
                return None
            value = getattr(message, name)
            return value if convert is None else convert(value)
    elif presence:
        def read(message):
            if not message.HasField(name):
                return None
            value = getattr(message, name)
            return value if convert is None else convert(value)
    elif convert is None:
        def read(message):
            return getattr(message, name)
    else:
        def read(message):
            return convert(getattr(message, name))
    return name, read


def _union_reader(name: str, oneof: str, members: dict):
    empty = dict.fromkeys(members)

    def read(message):
        which = message.WhichOneof(oneof)
        if which is None:
            return None
        out = empty.copy()
        convert = members[which]
        value = getattr(message, which)
        out[which] = value if convert is None else convert(value)
        return out
    return name, read


def _struct_convert(readers: tuple):
    def convert(message):
        return {name: read(message) for name, read in readers}
    return convert


def _timestamp(message) -> int:
    return message.seconds * 1000 + message.nanos // 1_000_000


def _date(message) -> int:
    return datetime.date(message.year, message.month, message.day).toordinal() - _EPOCH_ORDINAL


def _time(message) -> int:
    time = datetime.time(message.hours, message.minutes, message.seconds, message.nanos // 1000)
    return ((time.hour * 60 + time.minute) * 60 + time.second) * 1000 + message.nanos // 1_000_000


def _decimal(message) -> decimal.Decimal:
    unscaled = int.from_bytes(message.value, "big", signed=True) if message.value else 0
    return decimal.Decimal(unscaled).scaleb(-message.scale)
