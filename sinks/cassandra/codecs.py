"""From a record's converted values to what each CQL column type takes, and the ``codec.*`` keys.

A column's value comes from a converted key, value or header (Python values from the Arrow columns:
``int``, ``float``, ``str``, ``bytes``, ``bool``, ``Decimal``, ``datetime``, ``date``, ``time``,
``list``, ``dict``) and goes to the column as the DataStax connector converts it:

- numbers go to any numeric column (an integral float to an integer column), strings are parsed
  into numbers, booleans (``true``/``false``, or 1 and 0), UUIDs, inet addresses, temporal types;
- ``timestamp``: a datetime, a number of ``codec.unit`` since the epoch (milliseconds by default),
  or a string in ``codec.timestamp`` (``CQL_TIMESTAMP``: ISO 8601 with ``T`` or a space, optional
  fraction and zone; ``ISO_*`` formatters; or a date-time pattern such as ``yyyy-MM-dd HH:mm:ss``),
  read in ``codec.timeZone`` when it has no zone; ``date`` and ``time`` likewise (``codec.date``,
  ``codec.time``);
- ``text`` takes any value (numbers and booleans as their text, structs, lists and maps as JSON);
  ``blob`` takes bytes, or a base64 string (as Kafka Connect's JSON writes bytes);
- collections, tuples and user-defined types take lists and objects (or their JSON text), each
  element converted to its own type;
- a header's value is its bytes: a ``blob`` column takes them as they are, other types their UTF-8
  text, converted as a string.

A value that cannot be converted raises :class:`CodecError` naming the value and the type: the record
is one the sink cannot write (see :mod:`sinks.cassandra.writer`).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import ipaddress
import json
import re
import uuid
import zoneinfo
from typing import Any, Callable, Mapping, Optional

from common.errors import ConfigError

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_UNIT_MS = {"NANOSECONDS": 1e-6, "MICROSECONDS": 1e-3, "MILLISECONDS": 1, "SECONDS": 1000,
            "MINUTES": 60_000, "HOURS": 3_600_000, "DAYS": 86_400_000}
_ISO_TIMESTAMPS = ("CQL_TIMESTAMP", "ISO_INSTANT", "ISO_ZONED_DATE_TIME", "ISO_OFFSET_DATE_TIME",
                   "ISO_LOCAL_DATE_TIME", "ISO_DATE_TIME")
_ISO_DATES = ("ISO_LOCAL_DATE", "ISO_DATE")
_ISO_TIMES = ("ISO_LOCAL_TIME", "ISO_TIME")
# Java DateTimeFormatter letters and the strptime directive of each (the rest are refused).
_PATTERN_LETTERS = {"yyyy": "%Y", "uuuu": "%Y", "yy": "%y", "MM": "%m", "dd": "%d", "HH": "%H",
                    "mm": "%M", "ss": "%S", "SSSSSS": "%f", "SSS": "%f", "XXX": "%z", "XX": "%z",
                    "X": "%z", "Z": "%z", "a": "%p", "hh": "%I", "MMM": "%b", "EEE": "%a"}
_DIGITS = re.compile(r"[+-]?\d+")


class CodecError(ValueError):
    """A value that its column's CQL type does not take."""


@dataclasses.dataclass(frozen=True)
class CodecSettings:
    """``topic.<topic>.codec.*``: how strings and numbers become temporal values.

    Attributes:
      locale: ``codec.locale`` (English locales only).
      time_zone: ``codec.timeZone``: the zone of temporal strings without one.
      timestamp: ``codec.timestamp``.
      date: ``codec.date``.
      time: ``codec.time``.
      unit: ``codec.unit``: the unit of numbers (and digit strings) written to timestamp columns.
    """

    locale: str = "en_US"
    time_zone: str = "UTC"
    timestamp: str = "CQL_TIMESTAMP"
    date: str = "ISO_LOCAL_DATE"
    time: str = "ISO_LOCAL_TIME"
    unit: str = "MILLISECONDS"

    @classmethod
    def from_values(cls, topic: str, values: Mapping[str, str]) -> "CodecSettings":
        """From the ``codec.*`` keys of ``topic`` (names without the prefix).

        Raises:
          ConfigError: an unknown zone or unit, a locale other than English, a pattern with letters
            that are not supported.
        """
        prefix = "topic.%s.codec." % topic
        settings = cls(**{_FIELDS[k]: v.strip() for k, v in values.items()})
        if not re.fullmatch(r"en([_-][A-Za-z]{2})?", settings.locale):
            raise ConfigError("%slocale=%r: numbers and dates are read in English only; use en_US"
                              % (prefix, settings.locale))
        try:
            _zone(settings.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError("%stimeZone must be a time zone such as UTC or Europe/Paris, got %r"
                              % (prefix, settings.time_zone)) from None
        if settings.unit not in _UNIT_MS:
            raise ConfigError("%sunit must be one of %s, got %r"
                              % (prefix, ", ".join(_UNIT_MS), settings.unit))
        for name, named in (("timestamp", _ISO_TIMESTAMPS), ("date", _ISO_DATES),
                            ("time", _ISO_TIMES)):
            pattern = getattr(settings, name)
            if pattern not in named:
                _strptime_format(pattern, prefix + name)
        return settings


_FIELDS = {"locale": "locale", "timeZone": "time_zone", "timestamp": "timestamp", "date": "date",
           "time": "time", "unit": "unit"}


def encoder(cql_type, settings: CodecSettings) -> Callable[[Any], Any]:
    """A function converting one (non-null) value to what ``cassandra-driver`` binds for
    ``cql_type`` (a ``cassandra.cqltypes`` class); it raises :class:`CodecError`."""
    name = _type_name(cql_type)
    if name == "frozen":
        return encoder(cql_type.subtypes[0], settings)
    if name in ("list", "set", "vector"):
        element = encoder(cql_type.subtypes[0], settings)
        kind = list if name != "set" else _set_of
        return lambda v: kind([_none_or(element, e) for e in _collection(v, name)])
    if name == "map":
        keys, values = (encoder(t, settings) for t in cql_type.subtypes)
        return lambda v: {keys(k): _none_or(values, e) for k, e in _mapping(v, name).items()}
    if name == "tuple":
        parts = [encoder(t, settings) for t in cql_type.subtypes]
        return lambda v: tuple(_none_or(p, e) for p, e in zip(parts, _sequence(v, len(parts), name)))
    if name == "udt":
        fields = list(zip(cql_type.fieldnames, (encoder(t, settings) for t in cql_type.subtypes)))
        return lambda v: _udt(v, fields, cql_type.typename)
    make = _SCALARS.get(name)
    if make is None:
        return lambda v: v  # leave it to the driver (duration, custom types)
    return make(settings)


def decode_header(value: Optional[bytes], cql_type) -> Any:
    """A header's bytes as the value to convert for ``cql_type``: bytes for ``blob``, else text."""
    if value is None or _type_name(cql_type) == "blob":
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise CodecError("the header's value is not UTF-8 text") from None


def _type_name(cql_type) -> str:
    name = cql_type.typename
    if name == "org.apache.cassandra.db.marshal.UserType":
        return "udt"
    if name == "org.apache.cassandra.db.marshal.VectorType":
        return "vector"
    return name


def _none_or(convert, value):
    return None if value is None else convert(value)


def _set_of(items: list):
    try:
        return set(items)
    except TypeError:  # unhashable elements (a set of frozen lists): the driver takes a list too
        return items


def _parsed(value, name: str):
    if isinstance(value, (str, bytes)):
        try:
            return json.loads(value)
        except ValueError:
            raise CodecError("%s is not JSON text for a %s" % (_short(value), name)) from None
    return value


def _collection(value, name: str):
    value = _parsed(value, name)
    if isinstance(value, (list, tuple, set, frozenset)):
        return value
    raise CodecError("a %s needs a list, got %s" % (name, _short(value)))


def _mapping(value, name: str) -> dict:
    value = _parsed(value, name)
    if isinstance(value, dict):
        return value
    if isinstance(value, list) and all(isinstance(e, tuple) and len(e) == 2 for e in value):
        return dict(value)  # Arrow map entries
    raise CodecError("a %s needs an object, got %s" % (name, _short(value)))


def _sequence(value, size: int, name: str):
    value = _parsed(value, name)
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, (list, tuple)) or len(value) != size:
        raise CodecError("a %s of %d elements needs a list of as many, got %s" % (name, size, _short(value)))
    return value


def _udt(value, fields, typename: str) -> tuple:
    value = _parsed(value, "user-defined type")
    if not isinstance(value, dict):
        raise CodecError("a user-defined type needs an object, got %s" % _short(value))
    unknown = [k for k in value if k not in {f for f, _ in fields}]
    if unknown:
        raise CodecError("the user-defined type has no field %s" % ", ".join(map(repr, unknown)))
    return tuple(_none_or(convert, value.get(name)) for name, convert in fields)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _fail(value, name: str, why: str = ""):
    raise CodecError("%s cannot be written to a %s column%s" % (_short(value), name,
                                                                 ": " + why if why else ""))


def _integer(name: str, bits: Optional[int]):
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if bits else (None, None)

    def convert(value):
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, (float, decimal.Decimal)):
            if value != value or value in (float("inf"), float("-inf")) or value != int(value):
                _fail(value, name, "not a whole number")
            value = int(value)
        elif isinstance(value, str):
            text = value.strip().replace(",", "")
            try:
                number = decimal.Decimal(text)
            except decimal.InvalidOperation:
                _fail(value, name, "not a number")
            if number != number.to_integral_value():
                _fail(value, name, "not a whole number")
            value = int(number)
        elif not isinstance(value, int):
            _fail(value, name)
        if bits and not low <= value <= high:
            _fail(value, name, "out of range")
        return value

    return lambda settings: convert


def _floating(name: str):
    def convert(value):
        if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                _fail(value, name, "not a number")
        _fail(value, name)

    return lambda settings: convert


def _decimal(settings):
    def convert(value):
        if isinstance(value, decimal.Decimal):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return decimal.Decimal(repr(value)) if isinstance(value, float) else decimal.Decimal(value)
        if isinstance(value, str):
            try:
                return decimal.Decimal(value.strip())
            except decimal.InvalidOperation:
                _fail(value, "decimal", "not a number")
        _fail(value, "decimal")

    return convert


def _text(settings):
    def convert(value):
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float, decimal.Decimal)):
            return str(value)
        if isinstance(value, (bytes, bytearray)):
            try:
                return bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                _fail(value, "text", "not UTF-8")
        if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
            return value.isoformat()
        if isinstance(value, (dict, list, tuple)):
            return json.dumps(value, default=_json_default, separators=(",", ":"), ensure_ascii=False)
        return str(value)

    return convert


def _json_default(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def _blob(settings):
    def convert(value):
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except ValueError:
                _fail(value, "blob", "not base64")
        _fail(value, "blob")

    return convert


def _boolean(settings):
    def convert(value):
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1")
        _fail(value, "boolean")

    return convert


def _uuid(name: str):
    def convert(value):
        if isinstance(value, uuid.UUID):
            result = value
        elif isinstance(value, str):
            try:
                result = uuid.UUID(value.strip())
            except ValueError:
                _fail(value, name, "not a UUID")
        elif isinstance(value, (bytes, bytearray)) and len(value) == 16:
            result = uuid.UUID(bytes=bytes(value))
        else:
            _fail(value, name)
        if name == "timeuuid" and result.version != 1:
            _fail(value, name, "not a time-based (version 1) UUID")
        return result

    return lambda settings: convert


def _inet(settings):
    def convert(value):
        if isinstance(value, (bytes, bytearray)) and len(value) in (4, 16):
            return str(ipaddress.ip_address(bytes(value)))
        if isinstance(value, str):
            try:
                return str(ipaddress.ip_address(value.strip()))
            except ValueError:
                _fail(value, "inet", "not an IP address")
        _fail(value, "inet")

    return convert


def _zone(name: str):
    if name.upper() in ("UTC", "Z", "GMT"):
        return datetime.timezone.utc
    match = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d\d):?(\d\d)", name)
    if match:
        sign = 1 if match.group(1) == "+" else -1
        return datetime.timezone(sign * datetime.timedelta(hours=int(match.group(2)),
                                                           minutes=int(match.group(3))))
    return zoneinfo.ZoneInfo(name)


def _strptime_format(pattern: str, key: str) -> str:
    """A Java date-time pattern as a ``strptime`` format.

    Raises:
      ConfigError: a letter this translation does not know.
    """
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "'":
            end = pattern.find("'", i + 1)
            if end < 0:
                raise ConfigError("%s=%r has an unclosed quote" % (key, pattern))
            out.append(pattern[i + 1:end].replace("%", "%%") or "'")
            i = end + 1
            continue
        if c.isalpha():
            j = i
            while j < len(pattern) and pattern[j] == c:
                j += 1
            letters = pattern[i:j]
            if letters not in _PATTERN_LETTERS:
                raise ConfigError("%s=%r: %r is not supported in patterns here (supported: %s, and "
                                  "the named formatters CQL_TIMESTAMP, ISO_*)"
                                  % (key, pattern, letters, " ".join(_PATTERN_LETTERS)))
            out.append(_PATTERN_LETTERS[letters])
            i = j
            continue
        out.append("%%" if c == "%" else c)
        i += 1
    return "".join(out)


def _parse_instant(text: str, settings: CodecSettings) -> datetime.datetime:
    text = text.strip()
    if settings.timestamp in _ISO_TIMESTAMPS:
        candidate = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
        try:
            parsed = datetime.datetime.fromisoformat(candidate)
        except ValueError:
            if _DIGITS.fullmatch(text):
                return _from_units(int(text), settings)
            raise CodecError("%s is not a timestamp (%s)" % (_short(text), settings.timestamp)) from None
    else:
        try:
            parsed = datetime.datetime.strptime(text, _strptime_format(settings.timestamp, "codec.timestamp"))
        except ValueError:
            if _DIGITS.fullmatch(text):
                return _from_units(int(text), settings)
            raise CodecError("%s does not match codec.timestamp=%r"
                             % (_short(text), settings.timestamp)) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_zone(settings.time_zone))
    return parsed


def _from_units(number, settings: CodecSettings) -> datetime.datetime:
    millis = number * _UNIT_MS[settings.unit]
    try:
        return _EPOCH + datetime.timedelta(milliseconds=millis)
    except OverflowError:
        raise CodecError("%r %s since the epoch is out of range" % (number, settings.unit.lower())) from None


def _timestamp(settings):
    def convert(value):
        if isinstance(value, datetime.datetime):
            return value if value.tzinfo is not None else value.replace(tzinfo=datetime.timezone.utc)
        if isinstance(value, datetime.date):
            return datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.timezone.utc)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _from_units(value, settings)
        if isinstance(value, str):
            return _parse_instant(value, settings)
        _fail(value, "timestamp")

    return convert


def _date(settings):
    def convert(value):
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return (_EPOCH + datetime.timedelta(days=value)).date()
        if isinstance(value, str):
            text = value.strip()
            try:
                if settings.date in _ISO_DATES:
                    return datetime.date.fromisoformat(text)
                return datetime.datetime.strptime(text, _strptime_format(settings.date, "codec.date")).date()
            except ValueError:
                _fail(value, "date", "does not match codec.date=%r" % settings.date)
        _fail(value, "date")

    return convert


def _time(settings):
    def convert(value):
        if isinstance(value, datetime.time):
            return value.replace(tzinfo=None)
        if isinstance(value, datetime.datetime):
            return value.time()
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < 86_400_000_000_000:
                _fail(value, "time", "not nanoseconds of a day")
            return value  # nanoseconds of the day, as the driver takes them
        if isinstance(value, str):
            text = value.strip()
            try:
                if settings.time in _ISO_TIMES:
                    return datetime.time.fromisoformat(text).replace(tzinfo=None)
                return datetime.datetime.strptime(text, _strptime_format(settings.time, "codec.time")).time()
            except ValueError:
                _fail(value, "time", "does not match codec.time=%r" % settings.time)
        _fail(value, "time")

    return convert


_SCALARS = {
    "tinyint": _integer("tinyint", 8), "smallint": _integer("smallint", 16),
    "int": _integer("int", 32), "bigint": _integer("bigint", 64), "counter": _integer("counter", 64),
    "varint": _integer("varint", None), "float": _floating("float"), "double": _floating("double"),
    "decimal": _decimal, "text": _text, "varchar": _text, "ascii": _text, "blob": _blob,
    "boolean": _boolean, "uuid": _uuid("uuid"), "timeuuid": _uuid("timeuuid"), "inet": _inet,
    "timestamp": _timestamp, "date": _date, "time": _time,
}
