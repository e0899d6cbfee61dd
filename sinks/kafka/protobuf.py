"""Protobuf message types built from Connect schemas, as Confluent's ``ProtobufData.fromConnectSchema``
builds them, for the Kafka sink's ``protobuf`` format.

:func:`protobuf_writer` turns a Connect struct schema (an Arrow field, see :mod:`transforms.schema`)
into a proto3 ``FileDescriptorProto``, loads it into a descriptor pool of its own, and returns the
schema text to register (the base64 ``FileDescriptorProto``, as confluent-kafka's ProtobufSerializer
registers it) with a function making the payload of a value. No ``.proto`` text is written or
parsed: the descriptor is built field by field with the protobuf runtime's ``descriptor_pb2``.

Mapping:
- The top level must be a struct: its message is named by the Connect name (``shop.Order`` is message
  ``Order`` in package ``shop``; ``ConnectDefault1`` without a name), in file ``<full name>.proto``.
- Field numbers are the ``io.confluent.connect.protobuf.Tag`` parameter (set by ProtobufConverter),
  else the field's position from 1 (or the next number no tag or earlier field holds). ``int8``/``int16``/``int32`` are ``int32``, ``int64`` is ``int64``
  (``io.confluent.connect.protobuf.Type`` keeps ``sint32``, ``uint64``... when the converter read
  them), ``float``, ``double``, ``bool``, ``string`` and ``bytes`` themselves; a string with the
  ``io.confluent.connect.protobuf.Enum`` parameters is an enum with their symbols and numbers.
- A nested struct is a nested message named by its Connect name's last part, else by the field name in
  CamelCase; an array is ``repeated`` (arrays of arrays or maps have no Protobuf form and fail), a map
  is ``map<K, V>`` (keys must be integers, strings or booleans).
- Decimal is ``confluent.type.Decimal``, Date ``google.type.Date``, Time ``google.type.TimeOfDay``,
  Timestamp ``google.protobuf.Timestamp``; those files are imports, not registered as references
  (as the Python serializer's ``skip.known.types`` default does).
- Optional scalars are plain proto3 fields, as ``ProtobufData`` writes them by default
  (``optional.for.nullables=false``): a null is written as nothing and reads back as the zero value;
  a null message, array or map is left unset.
- A ``OneOf``/Union struct is written as a nested message with its branches as fields (no ``oneof``).

The payload is Confluent's: the message indexes (``[0]``, one 0 byte: the file's first message) and
the serialized message.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any, Callable, List, Tuple

import pyarrow as pa

from transforms.schema import DATE, DECIMAL, TIME, TIMESTAMP, schema_info

_NAMESPACE = "io.confluent.connect.protobuf"
_TAG = _NAMESPACE + ".Tag"
_TYPE = _NAMESPACE + ".Type"
_ENUM = _NAMESPACE + ".Enum"
#: Message indexes ``[0]`` in Confluent's shorthand.
FIRST_MESSAGE = b"\x00"

_WELL_KNOWN = {
    TIMESTAMP: (".google.protobuf.Timestamp", "google/protobuf/timestamp.proto"),
    DATE: (".google.type.Date", "google/type/date.proto"),
    TIME: (".google.type.TimeOfDay", "google/type/timeofday.proto"),
    DECIMAL: (".confluent.type.Decimal", "confluent/type/decimal.proto"),
}


def well_known_file(name: str) -> bytes:
    """The serialized ``FileDescriptorProto`` of a well-known file the messages import."""
    if name == "google/protobuf/timestamp.proto":
        from google.protobuf import timestamp_pb2 as module
    elif name == "google/type/date.proto":
        from google.type import date_pb2 as module
    elif name == "google/type/timeofday.proto":
        from google.type import timeofday_pb2 as module
    else:
        from confluent_kafka.schema_registry.confluent.type import decimal_pb2 as module
    return module.DESCRIPTOR.serialized_pb


def protobuf_writer(field: pa.Field) -> Tuple[str, str, Callable[[Any], bytes]]:
    """``(schema text, message full name, payload of a value)`` for values of ``field``.

    Raises:
      ValueError: the schema has no Protobuf form (not a struct at the top, arrays of arrays, map
        keys that are not scalars, a field name Protobuf refuses).
    """
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    if not pa.types.is_struct(field.type):
        raise ValueError("Protobuf writes messages, and the schema is %s, not a struct" % field.type)
    full = schema_info(field).name or "ConnectDefault1"
    package, _, name = full.rpartition(".")
    proto = descriptor_pb2.FileDescriptorProto(name="%s.proto" % full, syntax="proto3")
    if package:
        proto.package = package
    dependencies: List[str] = []
    message = proto.message_type.add(name=name)
    fill = _Builder(dependencies).message(message, field.type, "." + full)
    proto.dependency.extend(dependencies)
    pool = descriptor_pool.DescriptorPool()
    for dependency in dependencies:
        pool.AddSerializedFile(well_known_file(dependency))
    try:
        pool.Add(proto)
        cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(full))
    except (TypeError, KeyError) as exc:
        raise ValueError("the message built from it is invalid: %s" % exc) from None

    def write(value: Any) -> bytes:
        out = cls()
        fill(out, value)
        return FIRST_MESSAGE + out.SerializeToString()

    return base64.standard_b64encode(proto.SerializeToString()).decode("ascii"), full, write


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) or "Field"


class _Builder:
    def __init__(self, dependencies: List[str]):
        self.dependencies = dependencies

    def message(self, proto, struct: pa.StructType, full: str) -> Callable:
        """Fills ``proto`` (a DescriptorProto) with the fields of ``struct``; returns the function
        setting a message's fields from a dict."""
        from google.protobuf import descriptor_pb2

        setters = []
        taken = set()
        tags = [(schema_info(child).parameters or {}).get(_TAG) for child in struct]
        used = {int(tag) for tag in tags if tag is not None}
        for index, child in enumerate(struct):
            if not child.name.isidentifier():
                raise ValueError("field %r is not a Protobuf field name" % child.name)
            if tags[index] is not None:
                number = int(tags[index])
            else:  # its position, or the next number no tag holds
                number = index + 1
                while number in used:
                    number += 1
                used.add(number)
            out = proto.field.add(name=child.name, number=number,
                                  label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
            t = child.type
            if pa.types.is_list(t) or pa.types.is_large_list(t):
                item = t.value_field
                if pa.types.is_list(item.type) or pa.types.is_large_list(item.type) or \
                        pa.types.is_map(item.type):
                    raise ValueError("field %r: arrays of arrays or maps have no Protobuf form"
                                     % child.name)
                out.label = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
                kind, inner = self._single(proto, out, item, child.name, full, taken)
                setters.append(_repeated(child.name, kind, inner))
            elif pa.types.is_map(t):
                entry_name = _unique(_camel(child.name) + "Entry", taken)
                entry = proto.nested_type.add(name=entry_name)
                entry.options.map_entry = True
                key = entry.field.add(name="key", number=1,
                                      label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
                if not (pa.types.is_integer(t.key_type) or pa.types.is_string(t.key_type)
                        or pa.types.is_boolean(t.key_type)):
                    raise ValueError("field %r: map keys of type %s have no Protobuf form"
                                     % (child.name, t.key_type))
                self._single(entry, key, t.key_field, "key", full + "." + entry_name, set())
                value = entry.field.add(name="value", number=2,
                                        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
                if pa.types.is_list(t.item_type) or pa.types.is_map(t.item_type):
                    raise ValueError("field %r: maps of arrays or maps have no Protobuf form"
                                     % child.name)
                kind, inner = self._single(proto, value, t.item_field, child.name + "_value", full,
                                           taken)
                out.label = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
                out.type = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
                out.type_name = "%s.%s" % (full, entry_name)
                setters.append(_map(child.name, kind, inner))
            else:
                kind, inner = self._single(proto, out, child, child.name, full, taken)
                setters.append(_single(child.name, kind, inner))

        def fill(message, value: dict) -> None:
            for setter in setters:
                setter(message, value)
        return fill

    def _single(self, proto, out, field: pa.Field, name: str, full: str, taken: set) -> tuple:
        """Sets ``out``'s type for one value of ``field``; ``(kind, helper)`` for its setter."""
        from google.protobuf import descriptor_pb2

        F = descriptor_pb2.FieldDescriptorProto
        t = field.type
        info = schema_info(field)
        parameters = info.parameters or {}
        if info.name in _WELL_KNOWN or pa.types.is_decimal(t) or pa.types.is_timestamp(t) or \
                pa.types.is_date(t) or pa.types.is_time(t):
            logical = info.name if info.name in _WELL_KNOWN else (
                DECIMAL if pa.types.is_decimal(t) else TIMESTAMP if pa.types.is_timestamp(t)
                else DATE if pa.types.is_date(t) else TIME)
            type_name, dependency = _WELL_KNOWN[logical]
            if dependency not in self.dependencies:
                self.dependencies.append(dependency)
            out.type, out.type_name = F.TYPE_MESSAGE, type_name
            return logical, t
        if pa.types.is_struct(t):
            nested = _unique(info.name.rpartition(".")[2] if info.name else _camel(name), taken)
            message = proto.nested_type.add(name=nested)
            fill = self.message(message, t, "%s.%s" % (full, nested))
            out.type, out.type_name = F.TYPE_MESSAGE, "%s.%s" % (full, nested)
            return "message", fill
        if (pa.types.is_string(t) or pa.types.is_large_string(t)) and _ENUM in parameters:
            enum_name = _unique(parameters[_ENUM].rpartition(".")[2], taken)
            enum = proto.enum_type.add(name=enum_name)
            symbols = sorted(((int(v), k[len(_ENUM) + 1:]) for k, v in parameters.items()
                              if k.startswith(_ENUM + ".")))
            if not symbols or symbols[0][0] != 0:
                raise ValueError("field %r: a proto3 enum needs a symbol numbered 0" % name)
            for number, symbol in symbols:
                enum.value.add(name=symbol, number=number)
            out.type, out.type_name = F.TYPE_ENUM, "%s.%s" % (full, enum_name)
            return "enum", {symbol: number for number, symbol in symbols}
        declared = parameters.get(_TYPE)
        if declared:
            kinds = {"sint32": F.TYPE_SINT32, "uint32": F.TYPE_UINT32, "fixed32": F.TYPE_FIXED32,
                     "sfixed32": F.TYPE_SFIXED32, "sint64": F.TYPE_SINT64, "uint64": F.TYPE_UINT64,
                     "fixed64": F.TYPE_FIXED64, "sfixed64": F.TYPE_SFIXED64}
            if declared in kinds:
                out.type = kinds[declared]
                return ("unsigned64" if declared in ("uint64", "fixed64") else "scalar"), None
        if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_int32(t):
            out.type = F.TYPE_INT32
        elif pa.types.is_integer(t):
            out.type = F.TYPE_INT64
        elif pa.types.is_float32(t) or pa.types.is_float16(t):
            out.type = F.TYPE_FLOAT
        elif pa.types.is_float64(t):
            out.type = F.TYPE_DOUBLE
        elif pa.types.is_boolean(t):
            out.type = F.TYPE_BOOL
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            out.type = F.TYPE_STRING
        elif pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
            out.type = F.TYPE_BYTES
        else:
            raise ValueError("field %r: Arrow type %s has no Protobuf form" % (name, t))
        return "scalar", None


def _unique(name: str, taken: set) -> str:
    chosen, count = name, 1
    while chosen in taken:
        count += 1
        chosen = "%s%d" % (name, count)
    taken.add(chosen)
    return chosen


def _convert(kind: str, helper: Any) -> Callable[[Any], Any]:
    """A scalar's or enum's value as the runtime takes it."""
    if kind == "enum":
        return lambda v: helper[v]
    if kind == "unsigned64":  # ProtobufConverter reads values above 2^63 as negative, as Java
        return lambda v: v % (1 << 64)
    return lambda v: v


def _put(kind: str, helper: Any, target, value: Any) -> None:
    """Sets the sub-message ``target`` from ``value``."""
    if kind == "message":
        target.SetInParent()
        helper(target, value)
    elif kind == TIMESTAMP:
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        target.FromDatetime(value)
    elif kind == DATE:
        target.year, target.month, target.day = value.year, value.month, value.day
    elif kind == TIME:
        target.hours, target.minutes, target.seconds = value.hour, value.minute, value.second
        target.nanos = value.microsecond * 1000
    else:  # confluent.type.Decimal: the unscaled value, big-endian two's complement
        unscaled = int(value.scaleb(helper.scale))
        target.value = unscaled.to_bytes((unscaled.bit_length() + 8) // 8, "big", signed=True)
        target.precision, target.scale = helper.precision, helper.scale


def _single(name: str, kind: str, helper: Any) -> Callable:
    if kind in ("scalar", "enum", "unsigned64"):
        convert = _convert(kind, helper)

        def set_scalar(message, value):
            item = value.get(name)
            if item is not None:
                setattr(message, name, convert(item))
        return set_scalar

    def set_message(message, value):
        item = value.get(name)
        if item is not None:
            _put(kind, helper, getattr(message, name), item)
    return set_message


def _repeated(name: str, kind: str, helper: Any) -> Callable:
    scalar = kind in ("scalar", "enum", "unsigned64")
    convert = _convert(kind, helper) if scalar else None

    def set_repeated(message, value):
        items = value.get(name)
        if not items:
            return
        if any(item is None for item in items):
            raise ValueError("field %r holds a null, which a repeated Protobuf field cannot" % name)
        target = getattr(message, name)
        if scalar:
            target.extend(convert(item) for item in items)
        else:
            for item in items:
                _put(kind, helper, target.add(), item)
    return set_repeated


def _map(name: str, kind: str, helper: Any) -> Callable:
    scalar = kind in ("scalar", "enum", "unsigned64")
    convert = _convert(kind, helper) if scalar else None

    def set_map(message, value):
        pairs = value.get(name)
        if not pairs:
            return
        target = getattr(message, name)
        for key, item in pairs:
            if item is None:
                raise ValueError("field %r maps %r to a null, which a Protobuf map cannot" % (name, key))
            if scalar:
                target[key] = convert(item)
            else:
                _put(kind, helper, target[key], item)
    return set_map
