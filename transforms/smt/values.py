"""Kafka Connect's ``Values``: values in the form Connect holds them in Java, the text
``convertToString`` writes for them, and ``parseString``, which reads such text back.

A value in its Java form is a Python value: None for null, ``bool``, ``int`` (Byte to Long), ``float``
(a Double; :class:`Float32` for a Float), ``decimal.Decimal``, ``str``, ``bytes``, :class:`JavaDate` (a
``java.util.Date``, for Date, Time and Timestamp), a ``list`` (an array) and :class:`Entries` (a
``Map`` or ``Struct``). :func:`java_value` turns Arrow values into that form.

:func:`convert_to_string` writes:

- strings as they are; integers, booleans and decimals as their text (``42``, ``true``, ``1E+2``);
  floats as Java prints them (``1.5``, ``1.0E10``, a ``float`` with float precision);
- bytes as base64; a ``java.util.Date`` as Connect formats one, in UTC: ``HH:mm:ss.SSS'Z'`` below one
  day after the epoch, ``yyyy-MM-dd`` on a midnight, else ``yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`` (see
  :mod:`transforms.smt.javatext`);
- structs and maps as ``{"name":value,...}``, arrays as ``[a,b]``, with strings inside them quoted
  and ``\\`` and ``"`` escaped; a struct's null field shows its default, as ``Struct.get`` gives it.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import math
import re
from typing import Any, Callable, Optional

import pyarrow as pa

from transforms.schema import schema_info
from transforms.smt.dateformat import MILLIS_PER_DAY
from transforms.smt.javatext import JAVA_WHITESPACE, java_date, java_float, to_float32

_EPOCH = datetime.datetime(1970, 1, 1)
_EPOCH_DATE = datetime.date(1970, 1, 1)
_EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


class Float32(float):
    """A Java ``float`` (Connect's FLOAT32), printed with float precision."""


class JavaDate(int):
    """A ``java.util.Date`` (Connect's Date, Time and Timestamp): milliseconds since the epoch."""


class Entries(tuple):
    """A Java ``Map`` or ``Struct``: its ``(key, value)`` pairs, in order."""


def wrap(number: int, bits: int) -> int:
    """A Java narrowing cast of an integer to ``bits`` bits (two's complement)."""
    half = 1 << (bits - 1)
    return (number + half) % (1 << bits) - half


def convert_to_string(value: Any, embedded: bool = False) -> str:
    """``Values.convertToString``; ``embedded`` for values inside an array, map or struct."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, JavaDate):
        return java_date(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Float32):
        return java_float(value, single=True)
    if isinstance(value, float):
        return java_float(value, single=False)
    if isinstance(value, decimal.Decimal):
        return str(value.copy_abs() if value.is_zero() else value)
    if isinstance(value, str):
        if not embedded:
            return value
        return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')
    if isinstance(value, (bytes, bytearray)):
        text = base64.b64encode(bytes(value)).decode("ascii")
        return '"%s"' % text if embedded else text
    if isinstance(value, Entries):
        return "{%s}" % ",".join("%s:%s" % (convert_to_string(k, True), convert_to_string(v, True))
                                 for k, v in value)
    if isinstance(value, list):
        return "[%s]" % ",".join(convert_to_string(v, True) for v in value)
    raise TypeError("no Java text for %r" % (value,))


def java_values(values: pa.Array, default: Any = None) -> list:
    """The values of a column in their Java form, None for null.

    Args:
      values: The column.
      default: What a null reads as (a schema default, as ``Struct.get`` gives it), as
        ``to_pylist`` would give it; None keeps nulls.
    """
    to_java = java_value(values.type)
    return [None if v is None else to_java(v)
            for v in (default if v is None else v for v in values.to_pylist())]


def java_value(arrow_type: pa.DataType) -> Callable[[Any], Any]:
    """Turns a non-null value of ``arrow_type`` (as ``to_pylist`` gives it) into its Java form."""
    t = arrow_type
    if pa.types.is_struct(t):
        parts = [(f.name, java_value(f.type), schema_info(f).default) for f in t]

        def struct_value(value: dict) -> Entries:
            entries = []
            for name, to_java, default in parts:
                item = value.get(name)
                item = default if item is None else item
                entries.append((name, None if item is None else to_java(item)))
            return Entries(entries)

        return struct_value
    if pa.types.is_map(t):
        key, item = java_value(t.key_type), java_value(t.item_type)
        return lambda v: Entries((key(k), None if x is None else item(x)) for k, x in v)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        item = java_value(t.value_type)
        return lambda v: [None if x is None else item(x) for x in v]
    if pa.types.is_float32(t):
        return Float32
    if pa.types.is_floating(t):
        return float
    if pa.types.is_date(t):
        return lambda v: JavaDate((v - _EPOCH_DATE).days * MILLIS_PER_DAY)
    if pa.types.is_time(t):
        return lambda v: JavaDate(((v.hour * 60 + v.minute) * 60 + v.second) * 1000
                                   + v.microsecond // 1000)
    if pa.types.is_timestamp(t):
        return lambda v: JavaDate(
            (v - (_EPOCH_UTC if v.tzinfo is not None else _EPOCH)) // datetime.timedelta(milliseconds=1))
    return lambda v: v


# ------------------------------------------------------------------------------------ parseString

_DELIMITERS = frozenset(':,{}[]"')
# java.math.BigDecimal's string syntax (what Values.convertTo* and new BigDecimal() accept)
BIG_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?([0-9]*)|\.([0-9]+))(?:[eE]([+-]?[0-9]+))?")
_INT32 = (-(1 << 31), (1 << 31) - 1)
_INTEGERS = (("int8", 8), ("int16", 16), ("int32", 32), ("int64", 64))
# Connect's type of each parsed schema, and the order in which numeric types widen.
_TYPE = {"decimal": "bytes", "date": "int32", "time": "int32", "timestamp": "int64"}
_WIDTH = {"int8": 0, "int16": 1, "int32": 2, "int64": 3, "float32": 4, "float64": 5}
_DATE = re.compile(r"([0-9]+)-([0-9]+)-([0-9]+)")
_TIME = re.compile(r"([0-9]+):([0-9]+):([0-9]+)\.([0-9]+)Z")
_TIMESTAMP = re.compile(_DATE.pattern + "T" + _TIME.pattern)


def parse_string(text: str) -> Any:
    """``Values.parseString``: the value ``text`` stands for, in its Java form (None for null).

    The text is split into tokens at unescaped ``: , { } [ ] "``; a top-level value that is not
    null, a boolean, a number, a date/time or a well-formed array or map is the whole text, as a
    string. Parsing stops after the first value, so ``42,43`` is ``42``, as in Connect.
    """
    return _LiteralParser(text).parse_top()


class _NotParsed(Exception):
    """The literal is not an array or map after all (Connect then reads it as a string)."""


class _LiteralParser:
    """The parser of :func:`parse_string`: the text's tokens and a position in them."""

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
        while i + 1 < len(self.tokens) and not self.tokens[i].strip(JAVA_WHITESPACE):
            i += 1
        if self.tokens[i].strip(JAVA_WHITESPACE) == expected:
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
        if not token.strip(JAVA_WHITESPACE):
            return "string", token
        return self.scalar(embedded, token.strip(JAVA_WHITESPACE))

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
                        converted[(keys.kind, convert_to_string(k, True))] = (k, v)
                    pairs = list(converted.values())
                return "map", Entries(pairs)
            if self.consume(","):
                raise _NotParsed()
            key = self.parse(True)
            if key is None or key[1] is None or not self.consume(":"):
                raise _NotParsed()
            value = self.parse(True)
            identity = (key[0], convert_to_string(key[1], True))
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
        if isinstance(value, JavaDate):
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _NotParsed()
        number = int(value) if kind == "timestamp" else wrap(int(value), 32)
        if kind == "date":
            return JavaDate(number * MILLIS_PER_DAY)
        if kind == "time" and not 0 <= number <= MILLIS_PER_DAY:
            raise _NotParsed()
        return JavaDate(number)
    if kind in _WIDTH:
        if isinstance(value, (JavaDate, bool)) or not isinstance(value, (int, float)):
            raise _NotParsed()
        if kind == "float32":
            return Float32(to_float32(float(value)))
        if kind == "float64":
            return float(value)
        return wrap(int(value), dict(_INTEGERS)[kind])
    return value


def _number(token: str) -> Optional[tuple]:
    """A number as Connect reads one: the narrowest integer type, else float, double or
    decimal."""
    match = BIG_DECIMAL.fullmatch(token)
    if match is None:
        return None
    fraction, exponent = match.group(1) or match.group(2) or "", int(match.group(3) or 0)
    if not _INT32[0] <= exponent <= _INT32[1] or not _INT32[0] <= len(fraction) - exponent <= _INT32[1]:
        return None  # BigDecimal's exponent and scale are ints
    number = decimal.Decimal(token)
    if number.adjusted() < 19 and number == number.to_integral_value():
        integer = int(number)
        for kind, bits in _INTEGERS:
            if wrap(integer, bits) == integer:
                return kind, integer
    if number.as_tuple().exponent != 0:
        double = float(number)
        single = to_float32(double)
        if not math.isinf(single):
            return "float32", Float32(single)
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
        millis += ((first - _EPOCH_DATE).days + day - 1) * MILLIS_PER_DAY
    return kind, JavaDate(millis)


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
