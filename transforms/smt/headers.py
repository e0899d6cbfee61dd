"""Kafka Connect's header transforms: InsertHeader, DropHeaders and HeaderFrom (``$Key``/``$Value``).

Headers stay bytes: each record's headers are a list of ``(name, bytes)`` pairs (or None), as read.
A header these transforms add carries the bytes Kafka Connect's default header converter
(``SimpleHeaderConverter``) would write for its value, ``Values.convertToString`` as UTF-8:

- strings as they are; integers, booleans and decimals as their text (``42``, ``true``, ``1E+2``);
  floats as Java prints them (``1.5``, ``1.0E10``, a ``float`` field with float precision);
- bytes as base64; Date, Time and Timestamp values as Connect formats a ``java.util.Date``, in UTC:
  ``HH:mm:ss.SSS'Z'`` below one day after the epoch (so also every instant before 1970),
  ``yyyy-MM-dd`` on a midnight, else ``yyyy-MM-dd'T'HH:mm:ss.SSS'Z'``;
- structs and maps as ``{"name":value,...}``, arrays as ``[a,b]``, with strings inside them quoted
  and ``\\`` and ``"`` escaped; a struct's null field shows its default, as ``Struct.get`` gives it;
- a null value as a header whose value is None.

Floats get the shortest digits that identify them, as Java 19 and later print them (Java 17
sometimes prints one digit more: ``2.14748365E9`` for ``2.1474836E9``). Dates are written as a
worker in UTC writes them, on the proleptic Gregorian calendar. A schemaless object inside a
copied field shows every key of the bundle's inferred struct (null where a record lacks it), in
that order; Connect's map shows the record's own keys, in hash order.

The lists are rebuilt, never edited in place: bundles taken from one another share them.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import math
import re
import struct
from typing import Any, Callable, Mapping, Optional

import pyarrow as pa

from common.configdef import ConfigDef, ConfigKey
from common.errors import ConfigError
from transforms.records import ConvertedBundle
from transforms.schema import connect_field, schema_info
from transforms.smt.base import KEY, Transformation, Transformed, fail, names

_DAY = 86_400_000
_EPOCH = datetime.datetime(1970, 1, 1)
_EPOCH_DATE = datetime.date(1970, 1, 1)
_EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


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
        self.value = _header_bytes(_LiteralParser(config["value.literal"]).parse_top())

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
        ConfigKey("replace.null.with.default", "boolean", True,
                  doc="Whether to replace fields that have a default value and that are null to "
                      "the default value."),
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
        failures = self._failures(array, schema)
        if failures:
            failed = {i for i, _ in failures}
            keep = [i for i in range(len(bundle)) if i not in failed]
            if not keep:
                return Transformed(None, tuple(failures))
            bundle = bundle.take(keep)
            array = bundle.keys if keyed else bundle.values
        columns = dict(zip((f.name for f in array.type), array.flatten()))
        texts = {}
        for name in set(self.fields):
            if name not in columns:
                texts[name] = [None] * len(bundle)
                continue
            field = array.type.field(name)
            values = columns[name].to_pylist()
            if schema is not None and self.replace_null:
                values = _with_default(values, field)
            to_java = _java_value(field.type)
            texts[name] = [_header_bytes(None if v is None else to_java(v)) for v in values]
        pairs = tuple(zip(self.fields, self.headers))
        headers = [[*(old or ()), *((header, texts[name][i]) for name, header in pairs)]
                   for i, old in enumerate(bundle.headers)]
        changes: dict = {"headers": headers}
        if self.operation == "move":
            array, schema = self._without_fields(array, schema, columns)
            changes.update({"keys": array, "key_schema": schema} if keyed else
                           {"values": array, "value_schema": schema})
        return Transformed(dataclasses.replace(bundle, **changes), tuple(failures))

    def _failures(self, array: pa.Array, schema: Optional[pa.Field]) -> list:
        purpose = "header %s" % self.operation
        if schema is None:
            template = "Only Map objects supported in absence of schema for [%s], found: %%s" % purpose
        else:
            template = "Only Struct objects supported for [%s], found: %%s" % purpose
        if not pa.types.is_struct(array.type):
            found = _java_class(array.type)
            return [(i, fail(template % ("null" if null else found)))
                    for i, null in enumerate(array.is_null().to_pylist())]
        failures = [(i, fail(template % "null"))
                    for i, null in enumerate(array.is_null().to_pylist()) if null]
        missing = [name for name in self.fields if array.type.get_field_index(name) < 0]
        if schema is not None and missing:
            failed = {i for i, _ in failures}
            error = fail("%s is not a valid field name" % missing[0])
            failures += [(i, error) for i in range(len(array)) if i not in failed]
            failures.sort(key=lambda f: f[0])
        return failures

    def _without_fields(self, array: pa.StructArray, schema: Optional[pa.Field],
                        columns: dict) -> tuple:
        moved = set(self.fields)
        fields, children = [], []
        for field in array.type:
            if field.name in moved:
                continue
            child = columns[field.name]
            if schema is not None and self.replace_null and child.null_count and \
                    schema_info(field).default is not None:
                child = pa.array(_with_default(child.to_pylist(), field), type=field.type)
            fields.append(field)
            children.append(child)
        struct_type = pa.struct(fields)
        if children:
            moved_array = pa.StructArray.from_arrays(children, fields=fields)
        else:
            moved_array = pa.array([{}] * len(array), type=struct_type)
        if schema is None:
            return moved_array, None
        info = schema_info(schema)
        return moved_array, connect_field(schema.name, struct_type, False, schema_name=info.name,
                                          version=info.version, doc=info.doc,
                                          parameters=info.parameters)


def _non_empty_list(config: Mapping[str, Any], key: str, prefix: str) -> tuple:
    if not config[key]:
        raise ConfigError("%s%s must be a non-empty list, got %r" % (prefix, key, ",".join(config[key])))
    return tuple(config[key])


def _with_default(values: list, field: pa.Field) -> list:
    """``values`` with nulls replaced by the field's default, if it has one."""
    default = schema_info(field).default
    return values if default is None else [default if v is None else v for v in values]


# ---------------------------------------------------------------------------------------------
# Values as Connect holds them in Java, and the text SimpleHeaderConverter writes for them.


class _Float32(float):
    """A Java ``float`` (Connect's FLOAT32), printed with float precision."""


class _JavaDate(int):
    """A ``java.util.Date`` (Connect's Date, Time and Timestamp): milliseconds since the epoch."""


class _Entries(tuple):
    """A Java ``Map`` or ``Struct``: its ``(key, value)`` pairs, in order."""


def _header_bytes(value: Any) -> Optional[bytes]:
    """SimpleHeaderConverter's bytes for a value (None for null)."""
    return None if value is None else _java_text(value, False).encode("utf-8")


def _java_text(value: Any, embedded: bool) -> str:
    """``Values.convertToString``; ``embedded`` for values inside an array, map or struct."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _JavaDate):
        return _java_date(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, _Float32):
        return _java_float(value, single=True)
    if isinstance(value, float):
        return _java_float(value, single=False)
    if isinstance(value, decimal.Decimal):
        return str(value.copy_abs() if value.is_zero() else value)
    if isinstance(value, str):
        if not embedded:
            return value
        return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')
    if isinstance(value, (bytes, bytearray)):
        text = base64.b64encode(bytes(value)).decode("ascii")
        return '"%s"' % text if embedded else text
    if isinstance(value, _Entries):
        return "{%s}" % ",".join("%s:%s" % (_java_text(k, True), _java_text(v, True))
                                 for k, v in value)
    if isinstance(value, list):
        return "[%s]" % ",".join(_java_text(v, True) for v in value)
    raise TypeError("no Java text for %r" % (value,))


def _java_float(value: float, single: bool) -> str:
    """``Float.toString``/``Double.toString``: the shortest digits that identify the value,
    plain from 10^-3 to 10^7, else as ``d.dddE[-]n``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    text = repr(value)
    if single:
        text = next(t for t in ("%.*e" % (p - 1, value) for p in range(1, 10))
                    if _to_float32(float(t)) == value)
    sign, digit_tuple, exponent = decimal.Decimal(text).as_tuple()
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    point = len(digits) + exponent  # the value is 0.<digits> * 10**point
    digits = digits.rstrip("0")
    if 1e-3 <= abs(value) < 1e7:
        if point <= 0:
            body = "0." + "0" * -point + digits
        elif point >= len(digits):
            body = digits + "0" * (point - len(digits)) + ".0"
        else:
            body = digits[:point] + "." + digits[point:]
    else:
        body = "%s.%sE%d" % (digits[0], digits[1:] or "0", point - 1)
    return "-" + body if sign else body


def _to_float32(value: float) -> float:
    try:
        return struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


def _java_date(millis: int) -> str:
    """How Connect writes a ``java.util.Date`` (``Values.dateFormatFor``), in UTC."""
    moment = _EPOCH + datetime.timedelta(milliseconds=int(millis))
    clock = "%02d:%02d:%02d.%03dZ" % (moment.hour, moment.minute, moment.second,
                                      moment.microsecond // 1000)
    if millis < _DAY:
        return clock
    day = "%04d-%02d-%02d" % (moment.year, moment.month, moment.day)
    return day if millis % _DAY == 0 else day + "T" + clock


def _java_value(arrow_type: pa.DataType) -> Callable[[Any], Any]:
    """Turns a non-null value of ``arrow_type`` (as ``to_pylist`` gives it) into its Java form."""
    t = arrow_type
    if pa.types.is_struct(t):
        parts = [(f.name, _java_value(f.type), schema_info(f).default) for f in t]

        def struct_value(value: dict) -> _Entries:
            entries = []
            for name, to_java, default in parts:
                item = value.get(name)
                item = default if item is None else item
                entries.append((name, None if item is None else to_java(item)))
            return _Entries(entries)

        return struct_value
    if pa.types.is_map(t):
        key, item = _java_value(t.key_type), _java_value(t.item_type)
        return lambda v: _Entries((key(k), None if x is None else item(x)) for k, x in v)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        item = _java_value(t.value_type)
        return lambda v: [None if x is None else item(x) for x in v]
    if pa.types.is_float32(t):
        return _Float32
    if pa.types.is_floating(t):
        return float
    if pa.types.is_date(t):
        return lambda v: _JavaDate((v - _EPOCH_DATE).days * _DAY)
    if pa.types.is_time(t):
        return lambda v: _JavaDate(((v.hour * 60 + v.minute) * 60 + v.second) * 1000
                                   + v.microsecond // 1000)
    if pa.types.is_timestamp(t):
        return lambda v: _JavaDate(
            (v - (_EPOCH_UTC if v.tzinfo is not None else _EPOCH)) // datetime.timedelta(milliseconds=1))
    return lambda v: v


def _java_class(arrow_type: pa.DataType) -> str:
    """The Java class a Connect value of this type has, as Connect's errors name it."""
    for test, name in _JAVA_CLASSES:
        if test(arrow_type):
            return name
    return "java.lang.String"


_JAVA_CLASSES = (
    (pa.types.is_null, "null"), (pa.types.is_boolean, "java.lang.Boolean"),
    (pa.types.is_int8, "java.lang.Byte"), (pa.types.is_int16, "java.lang.Short"),
    (pa.types.is_int32, "java.lang.Integer"), (pa.types.is_int64, "java.lang.Long"),
    (pa.types.is_float32, "java.lang.Float"), (pa.types.is_floating, "java.lang.Double"),
    (pa.types.is_decimal, "java.math.BigDecimal"), (pa.types.is_temporal, "java.util.Date"),
    (pa.types.is_map, "java.util.HashMap"), (pa.types.is_list, "java.util.ArrayList"),
    (pa.types.is_large_list, "java.util.ArrayList"), (pa.types.is_binary, "[B"),
    (pa.types.is_large_binary, "[B"),
)


# ---------------------------------------------------------------------------------------------
# Values.parseString: how InsertHeader reads value.literal.

_DELIMITERS = frozenset(':,{}[]"')
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?([0-9]*)|\.([0-9]+))(?:[eE]([+-]?[0-9]+))?")
_INT32 = (-(1 << 31), (1 << 31) - 1)
_INTEGERS = (("int8", 8), ("int16", 16), ("int32", 32), ("int64", 64))
# Connect's type of each parsed schema, and the order in which numeric types widen.
_TYPE = {"decimal": "bytes", "date": "int32", "time": "int32", "timestamp": "int64"}
_WIDTH = {"int8": 0, "int16": 1, "int32": 2, "int64": 3, "float32": 4, "float64": 5}
_DATE = re.compile(r"([0-9]+)-([0-9]+)-([0-9]+)")
_TIME = re.compile(r"([0-9]+):([0-9]+):([0-9]+)\.([0-9]+)Z")
_TIMESTAMP = re.compile(_DATE.pattern + "T" + _TIME.pattern)
_JAVA_BLANK = "".join(map(chr, range(33)))  # what Java's String.trim() removes


class _NotParsed(Exception):
    """The literal is not an array or map after all (Connect then reads it as a string)."""


class _LiteralParser:
    """``Values.parseString``, giving the value in its Java form (None for null).

    The text is split into tokens at unescaped ``: , { } [ ] "``; a top-level value that is not
    null, a boolean, a number, a date/time or a well-formed array or map is the whole text, as a
    string. Parsing stops after the first value, so ``42,43`` is ``42``, as in Connect.
    """

    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0

    def parse_top(self) -> Any:
        if not self.text:
            return ""
        parsed = self.parse(False)
        return None if parsed is None else parsed[1]

    def more(self) -> bool:
        return self.pos < len(self.tokens)

    def next(self) -> str:
        self.pos += 1
        return self.tokens[self.pos - 1]

    def consume(self, expected: str) -> bool:
        """Takes the next token if, blank tokens skipped and trimmed, it is ``expected``."""
        if not self.more():
            return False
        i = self.pos
        while i + 1 < len(self.tokens) and not self.tokens[i].strip(_JAVA_BLANK):
            i += 1
        if self.tokens[i].strip(_JAVA_BLANK) == expected:
            self.pos = i + 1
            return True
        self.pos = i
        return False

    def parse(self, embedded: bool) -> Optional[tuple]:
        """``(kind, value)`` of the next value, None for null."""
        if not self.more():
            return None
        if embedded and self.consume('"'):
            return self.quoted()
        for literal, parsed in (("null", None), ("true", ("boolean", True)),
                                ("false", ("boolean", False))):
            mark = self.pos
            if self.consume(literal) and (embedded or not self.more()):
                return parsed
            self.pos = mark
        mark = self.pos
        try:
            if self.consume("["):
                return self.array()
            if self.consume("{"):
                return self.map()
        except _NotParsed:
            self.pos = mark
        token = self.next()
        if not token.strip(_JAVA_BLANK):
            return "string", token
        return self.scalar(embedded, token.strip(_JAVA_BLANK))

    def scalar(self, embedded: bool, token: str) -> tuple:
        if token[0].isdecimal():
            mark = self.pos
            rest = "".join(self.tokens[self.pos:self.pos + 4])
            if self.pos + 4 <= len(self.tokens):
                self.pos += 4
                parsed = _temporal(token + rest)
                if parsed is not None:
                    return parsed
            self.pos = mark
            parsed = _temporal(token)
            if parsed is not None:
                return parsed
        if token[0].isdecimal() or token[0] in "+-":
            parsed = _number(token)
            if parsed is not None:
                return parsed
        if embedded:
            raise _NotParsed()
        return "string", self.text

    def quoted(self) -> tuple:
        parts = []
        while self.more() and not self.consume('"'):
            parts.append(self.next())
        content = "".join(parts)
        return _temporal(content) or ("string", content)

    def array(self) -> tuple:
        items, common = [], _Common()
        while self.more():
            if self.consume("]"):
                if common.kind is not None:
                    items = [_convert(common.kind, v) for v in items]
                return "array", items
            if self.consume(","):
                raise _NotParsed()
            element = self.parse(True)
            common.add(element)
            items.append(None if element is None else element[1])
            mark = self.pos
            if self.consume("]"):
                self.pos = mark
            elif not self.consume(","):
                raise _NotParsed()
        raise _NotParsed()

    def map(self) -> tuple:
        entries: dict = {}
        keys, values = _Common(), _Common()
        while self.more():
            if self.consume("}"):
                pairs = list(entries.values())
                if keys.kind is not None:
                    converted: dict = {}
                    for k, v in pairs:
                        k = _convert(keys.kind, k)
                        v = _convert(values.kind, v) if values.kind is not None else v
                        converted[(keys.kind, _java_text(k, True))] = (k, v)
                    pairs = list(converted.values())
                return "map", _Entries(pairs)
            if self.consume(","):
                raise _NotParsed()
            key = self.parse(True)
            if key is None or key[1] is None or not self.consume(":"):
                raise _NotParsed()
            value = self.parse(True)
            identity = (key[0], _java_text(key[1], True))
            entries[identity] = (key[1], None if value is None else value[1])
            self.consume(",")
            keys.add(key)
            values.add(value)
        raise _NotParsed()


class _Common:
    """The schema that Connect's ``SchemaMerger`` finds for the elements of an array or map."""

    def __init__(self):
        self.kind: Optional[str] = None
        self.compatible = True

    def add(self, parsed: Optional[tuple]) -> None:
        if parsed is None or not self.compatible:
            return
        kind = parsed[0]
        if self.kind is not None:
            kind = _merge(self.kind, kind)
            self.compatible = kind is not None
        self.kind = kind


def _merge(earlier: str, later: str) -> Optional[str]:
    a, b = _TYPE.get(earlier, earlier), _TYPE.get(later, later)
    if a == b:
        return later
    if a in _WIDTH and b in _WIDTH:
        return earlier if _WIDTH[a] > _WIDTH[b] else later
    return None


def _convert(kind: str, value: Any) -> Any:
    """``Values.convertTo`` an element's common schema; fails the array or map where Connect does."""
    if value is None:
        raise _NotParsed()  # the common schema is required
    if kind in ("date", "time", "timestamp"):
        if isinstance(value, _JavaDate):
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _NotParsed()
        number = int(value) if kind == "timestamp" else _wrap(int(value), 32)
        if kind == "date":
            return _JavaDate(number * _DAY)
        if kind == "time" and not 0 <= number <= _DAY:
            raise _NotParsed()
        return _JavaDate(number)
    if kind in _WIDTH:
        if isinstance(value, (_JavaDate, bool)) or not isinstance(value, (int, float)):
            raise _NotParsed()
        if kind == "float32":
            return _Float32(_to_float32(float(value)))
        if kind == "float64":
            return float(value)
        return _wrap(int(value), dict(_INTEGERS)[kind])
    return value


def _wrap(number: int, bits: int) -> int:
    """A Java narrowing cast to a ``bits``-wide integer."""
    half = 1 << (bits - 1)
    return (number + half) % (1 << bits) - half


def _number(token: str) -> Optional[tuple]:
    """A number as Connect reads one: the narrowest integer type, else float, double or
    decimal."""
    match = _NUMBER.fullmatch(token)
    if match is None:
        return None
    fraction, exponent = match.group(1) or match.group(2) or "", int(match.group(3) or 0)
    if not _INT32[0] <= exponent <= _INT32[1] or not _INT32[0] <= len(fraction) - exponent <= _INT32[1]:
        return None  # BigDecimal's exponent and scale are ints
    number = decimal.Decimal(token)
    if number.adjusted() < 19 and number == number.to_integral_value():
        integer = int(number)
        for kind, bits in _INTEGERS:
            if _wrap(integer, bits) == integer:
                return kind, integer
    if number.as_tuple().exponent != 0:
        double = float(number)
        single = _to_float32(double)
        if not math.isinf(single):
            return "float32", _Float32(single)
        if not math.isinf(double):
            return "float64", double
    return "decimal", number


def _temporal(token: str) -> Optional[tuple]:
    """A date (``yyyy-MM-dd``), time (``HH:mm:ss.SSS'Z'``) or timestamp, read leniently by length
    as Java's SimpleDateFormat does (``2024-13-01`` is January 2025), in UTC."""
    token = token.replace("\\:", ":")
    pattern, kind = {10: (_DATE, "date"), 13: (_TIME, "time"),
                     24: (_TIMESTAMP, "timestamp")}.get(len(token), (None, None))
    match = pattern.match(token) if pattern is not None else None
    if match is None:
        return None
    numbers = [int(g) for g in match.groups()]
    millis = 0
    if kind != "date":
        hour, minute, second, milli = numbers[-4:]
        millis = ((hour * 60 + minute) * 60 + second) * 1000 + milli
    if kind != "time":
        year, month, day = numbers[:3]
        year, month = divmod(year * 12 + month - 1, 12)
        try:
            first = datetime.date(year, month + 1, 1)
        except ValueError:
            return None
        millis += ((first - _EPOCH_DATE).days + day - 1) * _DAY
    return kind, _JavaDate(millis)


def _tokens(text: str) -> list:
    tokens, start, escaped = [], 0, False
    for i, c in enumerate(text):
        if c == "\\":
            escaped = not escaped
            continue
        if c in _DELIMITERS and not escaped:
            if start < i:
                tokens.append(text[start:i])
            tokens.append(c)
            start = i + 1
        escaped = False
    if start < len(text):
        tokens.append(text[start:])
    return tokens


TRANSFORMATIONS = {**names("InsertHeader", InsertHeader, sides=False),
                   **names("DropHeaders", DropHeaders, sides=False),
                   **names("HeaderFrom", HeaderFrom)}
