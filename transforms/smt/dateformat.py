"""Java ``SimpleDateFormat`` patterns, in UTC, over whole Arrow columns.

TimestampConverter (``format``), TimestampRouter (``timestamp.format``) and Cast (Date, Time and
Timestamp to string) write and read dates as Kafka Connect does, with ``java.text.SimpleDateFormat``
in the ``UTC`` time zone and an English locale. A pattern is compiled once, when the pipeline is built,
into tokens; both directions then work column at a time:

- :meth:`DateFormat.format` builds each field from Arrow's temporal kernels (``pc.year``,
  ``pc.month``, ...), pads and names it as Java does, and joins the pieces.
- :meth:`DateFormat.parse` turns the pattern into one regular expression run by ``pc.extract_regex``
  and computes epoch milliseconds from the captured fields with NumPy. It follows ``SimpleDateFormat``
  in its default lenient mode: spaces and tabs before a field are skipped, a numeric field takes every
  digit unless the next field is numeric too (then it takes as many digits as it has letters), text
  after the pattern is ignored, out-of-range values roll over (month 13 is January of the next year,
  hour 25 the next day), ``yy`` years resolve within 80 years before and 20 after now, and a parsed
  zone (``z``, ``Z``, ``X``) shifts the result.

Letters supported: ``y M d H h k K m s S a E D z Z X`` and quoted text (``'T'``, ``''`` for a quote).
Where it differs from Java: dates are proleptic Gregorian (no Julian calendar before 1582, no eras), a
day-of-week (``E``) is checked but does not move the parsed date, and the zone names read are ``UTC``,
``Coordinated Universal Time`` and ``GMT[+-]h:mm`` (Java knows every zone's names).
"""

from __future__ import annotations

import dataclasses
import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from common.errors import ConfigError

MILLIS_PER_DAY = 86_400_000

_JAVA_LETTERS = "GyMdkHmsSEDFwWahKzZYuXL"
SUPPORTED_LETTERS = "yMdHhkKmsSaEDzZX"
_UNSUPPORTED = {"G": "era", "w": "week in year", "W": "week in month", "F": "day of week in month",
                "Y": "week year", "u": "day number of week", "L": "stand-alone month"}
# Letters whose field is a number when parsing (``M`` only as ``M`` or ``MM``).
_NUMERIC = set("ydHhkKmsSD")

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_UTC_NAMES = ("Coordinated Universal Time", "UTC")
_INT32 = 1 << 32


@dataclasses.dataclass(frozen=True)
class _Field:
    letter: str
    count: int


class DateFormat:
    """One compiled ``SimpleDateFormat`` pattern, always in UTC.

    Args:
      pattern: The pattern as Java writes it (``yyyy-MM-dd'T'HH:mm:ss.SSS'Z'``).
      key: The config key the pattern comes from, for errors.

    Raises:
      ConfigError: The pattern is not one ``SimpleDateFormat`` accepts (an unknown letter, an
        unterminated quote), or uses a letter this module does not support; naming ``key``, the
        pattern and the letters allowed.
    """

    def __init__(self, pattern: str, key: str = "pattern"):
        self.pattern = pattern
        self.key = key
        self.tokens = _compile(pattern, key)
        self._regex, self._groups = _regex(self.tokens)

    def __repr__(self) -> str:
        return "DateFormat(%r)" % self.pattern

    def __reduce__(self):
        return DateFormat, (self.pattern, self.key)

    # ----------------------------------------------------------------------------------- formatting

    def format(self, instants: pa.Array) -> pa.Array:
        """The instants written with the pattern; nulls stay null.

        Args:
          instants: Epoch milliseconds (``int64``) or a timestamp array.
        """
        ts = as_timestamps(instants)
        parts: list = []
        cache: dict = {}
        for token in self.tokens:
            piece = token if isinstance(token, str) else _format_field(ts, token, cache)
            if isinstance(piece, str) and parts and isinstance(parts[-1], str):
                parts[-1] += piece
            else:
                parts.append(piece)
        if not any(isinstance(p, pa.Array) for p in parts):
            text = "".join(parts)
            return pc.if_else(ts.is_valid(), pa.scalar(text), pa.scalar(None, pa.string()))
        if len(parts) == 1:
            return parts[0]
        return pc.binary_join_element_wise(*parts, "")

    # -------------------------------------------------------------------------------------- parsing

    def parse(self, texts: pa.Array) -> pa.Array:
        """Epoch milliseconds (``int64``) of each text read with the pattern, as ``SimpleDateFormat``
        reads it leniently; null where the text is null or does not match."""
        texts = texts.cast(pa.string()) if texts.type != pa.string() else texts
        n = len(texts)
        if not self._groups:  # only literals and day names: every match is the epoch
            valid = np.asarray(pc.match_substring_regex(texts, self._regex).fill_null(False))
            return pa.array(np.zeros(n, np.int64), pa.int64(), mask=~valid)
        matched = pc.extract_regex(texts, self._regex)
        columns = {g.name: c for g, c in zip(self._groups, matched.flatten())}
        valid = np.asarray(matched.is_valid())
        fields: dict = {}
        for group in self._groups:
            value, ok = _group_value(group, columns[group.name])
            valid &= ok
            fields[group.role] = (value, group.position)
        millis = _epoch_millis(fields, n)
        return pa.array(np.where(valid, millis, 0), pa.int64(), mask=~valid)


def as_timestamps(instants: pa.Array) -> pa.Array:
    """``instants`` (epoch ms as ``int64``, a timestamp, ``date32`` or ``time32`` array) as
    ``timestamp[ms, UTC]``."""
    t = instants.type
    if pa.types.is_timestamp(t):
        if t.unit != "ms" or t.tz != "UTC":
            return pc.cast(instants.cast(pa.timestamp(t.unit, "UTC")) if t.tz is None else instants,
                           pa.timestamp("ms", "UTC"), safe=False)
        return instants
    if pa.types.is_date32(t):
        millis = pc.multiply(instants.cast(pa.int32()).cast(pa.int64()), MILLIS_PER_DAY)
        return millis.cast(pa.timestamp("ms", "UTC"))
    if pa.types.is_time32(t):
        return instants.cast(pa.int32()).cast(pa.int64()).cast(pa.timestamp("ms", "UTC"))
    return instants.cast(pa.int64()).cast(pa.timestamp("ms", "UTC"))


# ------------------------------------------------------------------------------------------ compile


def _compile(pattern: str, key: str) -> list:
    """Tokens of ``pattern``: literal strings and :class:`_Field`, as ``SimpleDateFormat.compile``."""

    def invalid(reason: str):
        raise ConfigError("%s must be a java.text.SimpleDateFormat pattern using the letters %s, "
                          "got %r: %s" % (key, " ".join(SUPPORTED_LETTERS), pattern, reason))

    tokens: list = []
    literal: list = []
    i, n, quoted = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "'":
            if i + 1 < n and pattern[i + 1] == "'":
                literal.append("'")
                i += 2
                continue
            quoted = not quoted
            i += 1
            continue
        if quoted or not ("a" <= c <= "z" or "A" <= c <= "Z"):
            literal.append(c)
            i += 1
            continue
        if c not in _JAVA_LETTERS:
            invalid("Illegal pattern character '%s'" % c)
        if c in _UNSUPPORTED:
            invalid("'%s' (%s) is not supported" % (c, _UNSUPPORTED[c]))
        count = 1
        while i + count < n and pattern[i + count] == c:
            count += 1
        if c == "X" and count > 3:
            invalid("invalid ISO 8601 format: length=%d" % count)
        if literal:
            tokens.append("".join(literal))
            literal = []
        tokens.append(_Field(c, count))
        i += count
    if quoted:
        invalid("Unterminated quote")
    if literal:
        tokens.append("".join(literal))
    return tokens


# --------------------------------------------------------------------------------------- formatting


def _component(ts: pa.Array, name: str, cache: dict) -> pa.Array:
    if name not in cache:
        cache[name] = getattr(pc, name)(ts)
    return cache[name]


def _padded(values: pa.Array, count: int) -> pa.Array:
    text = values.cast(pa.string())
    return pc.utf8_lpad(text, width=count, padding="0") if count > 1 else text


def _named(index: pa.Array, names) -> pa.Array:
    return pc.take(pa.array(names), index)


def _format_field(ts: pa.Array, field: _Field, cache: dict) -> pa.Array:
    letter, count = field.letter, field.count
    if letter == "y":
        year = _component(ts, "year", cache)
        if count == 2:
            return _padded(pc.subtract(year, pc.multiply(pc.divide(year, 100), 100)), 2)
        return _padded(year, count)
    if letter == "M":
        month = _component(ts, "month", cache)
        if count >= 3:
            names = MONTHS if count >= 4 else tuple(m[:3] for m in MONTHS)
            return _named(pc.subtract(month, 1), names)
        return _padded(month, count)
    if letter == "d":
        return _padded(_component(ts, "day", cache), count)
    if letter == "D":
        return _padded(_component(ts, "day_of_year", cache), count)
    if letter == "E":
        names = WEEKDAYS if count >= 4 else tuple(d[:3] for d in WEEKDAYS)
        return _named(_component(ts, "day_of_week", cache), names)
    if letter == "a":
        return _named(pc.divide(_component(ts, "hour", cache), 12), ("AM", "PM"))
    if letter in "HkhK":
        hour = _component(ts, "hour", cache)
        if letter in "hK":
            hour = pc.subtract(hour, pc.multiply(pc.divide(hour, 12), 12))
        if letter in "hk":
            hour = pc.if_else(pc.equal(hour, 0), 12 if letter == "h" else 24, hour)
        return _padded(hour, count)
    if letter == "m":
        return _padded(_component(ts, "minute", cache), count)
    if letter == "s":
        return _padded(_component(ts, "second", cache), count)
    if letter == "S":
        return _padded(_component(ts, "millisecond", cache), count)
    if letter == "z":
        return _constant(ts, _UTC_NAMES[0] if count >= 4 else "UTC")
    if letter == "Z":
        return _constant(ts, "+0000")
    return _constant(ts, "Z")  # X: ISO 8601 writes a zero offset as Z


def _constant(ts: pa.Array, text: str) -> pa.Array:
    return pc.if_else(ts.is_valid(), pa.scalar(text), pa.scalar(None, pa.string()))


# ------------------------------------------------------------------------------------------ parsing


@dataclasses.dataclass(frozen=True)
class _Group:
    name: str
    role: str  # the calendar field it sets, or a zone part
    position: int  # the token's index in the pattern: a later field wins, as in Calendar
    count: int = 0


def _escape(text: str) -> str:
    return "".join(c if c.isascii() and c.isalnum() else "\\x{%x}" % ord(c) for c in text)


def _names(names) -> str:
    return "(?i:%s)" % "|".join(_escape(n) for n in names)


def _regex(tokens: list) -> tuple[str, list]:
    parts, groups = ["^"], []

    def group(role: str, body: str, position: int, count: int = 0) -> str:
        name = "g%d" % len(groups)
        groups.append(_Group(name, role, position, count))
        return "(?P<%s>%s)" % (name, body)

    for position, token in enumerate(tokens):
        if isinstance(token, str):
            parts.append(_escape(token))
            continue
        letter, count = token.letter, token.count
        parts.append("[ \\t]*")
        numeric = letter in _NUMERIC or (letter == "M" and count <= 2)
        if numeric:
            following = tokens[position + 1] if position + 1 < len(tokens) else None
            abutting = isinstance(following, _Field) and (
                following.letter in _NUMERIC or (following.letter == "M" and following.count <= 2))
            # Java reads an abutting field from a window of ``count`` characters.
            digits = "\\d{%d}" % count if abutting else "-?\\d+"
            role = {"y": "year", "M": "month", "d": "day", "H": "hour_of_day", "k": "hour_of_day",
                    "h": "hour", "K": "hour", "m": "minute", "s": "second", "S": "milli",
                    "D": "day_of_year"}[letter]
            if letter == "y" and count <= 2:
                role = "year2"
            elif letter in "kh":
                role += "_1"  # 24 (k) and 12 (h) mean 0
            parts.append(group(role, digits, position, count))
        elif letter == "M":
            parts.append(group("month_name", _names(MONTHS + tuple(m[:3] for m in MONTHS)),
                               position))
        elif letter == "E":
            parts.append(_names(WEEKDAYS + tuple(d[:3] for d in WEEKDAYS)))
        elif letter == "a":
            parts.append(group("ampm", _names(("AM", "PM")), position))
        elif letter in "zZ":
            parts.append("(?:%s%s%s|(?i:GMT)(?:%s%s:%s)?|%s)" % (
                group("zone_sign", "[+-]", position), group("zone_hours", "\\d\\d", position),
                group("zone_minutes", "\\d\\d", position), group("gmt_sign", "[+-]", position),
                group("gmt_hours", "\\d\\d?", position), group("gmt_minutes", "\\d\\d", position),
                _names(_UTC_NAMES)))
        else:  # X
            sign = group("zone_sign", "[+-]", position)
            hours = group("zone_hours", "\\d\\d", position)
            minutes = "" if count == 1 else (":" if count == 3 else "") + group(
                "zone_minutes", "\\d\\d", position)
            parts.append("(?:Z|%s%s%s)" % (sign, hours, minutes))
    return "".join(parts), groups


def _group_value(group: _Group, column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The captured values of one group as int64 (0 where absent) and where they are acceptable."""
    n = len(column)
    present = np.asarray(pc.and_(column.is_valid(), pc.not_equal(column, "")).fill_null(False))
    role = group.role
    if role == "month_name":
        names = [m.lower() for m in MONTHS] + [m[:3].lower() for m in MONTHS]
        index = pc.index_in(pc.utf8_lower(column), value_set=pa.array(names))
        return np.asarray(index.fill_null(0)).astype(np.int64) % 12 + 1, np.ones(n, bool)
    if role == "ampm":
        return np.asarray(pc.equal(pc.utf8_lower(column), "pm").fill_null(False)).astype(
            np.int64), np.ones(n, bool)
    if role in ("zone_sign", "gmt_sign"):
        return np.where(np.asarray(pc.equal(column, "-").fill_null(False)), -1, 1), np.ones(n, bool)
    text = pc.if_else(present, column, pa.scalar(None, pa.string()))
    ok = np.asarray(pc.less_equal(pc.utf8_length(text), 18).fill_null(True))
    text = pc.if_else(ok, text, pa.scalar(None, pa.string()))
    values = np.asarray(text.cast(pa.int64()).fill_null(0))
    if role in ("zone_hours", "gmt_hours"):
        ok &= values <= 23
    elif role in ("zone_minutes", "gmt_minutes"):
        ok &= values <= 59
    else:
        # Java reads the digits as a long and keeps its int value.
        values = (values + (1 << 31)) % _INT32 - (1 << 31)
        if role == "year2":
            two_digits = np.asarray(pc.match_substring_regex(text, "^\\d\\d$").fill_null(False))
            values = np.where(two_digits, _resolve_two_digit_years(values), values)
    return values.astype(np.int64), ok | ~present


def _resolve_two_digit_years(values: np.ndarray) -> np.ndarray:
    """``yy`` years as ``SimpleDateFormat`` reads them: within 80 years before and 20 after now."""
    start = datetime.datetime.now(datetime.timezone.utc).year - 80
    century, ambiguous = start // 100 * 100, start % 100
    return values + century + np.where(values < ambiguous, 100, 0)


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (month 1..12)."""
    year = year - (month <= 2)
    era = np.floor_divide(year, 400)
    year_of_era = year - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _epoch_millis(fields: dict, n: int) -> np.ndarray:
    """Epoch ms from the parsed calendar fields, resolved as a lenient GregorianCalendar does."""
    zero = np.zeros(n, np.int64)

    def get(role: str, default: int = 0) -> np.ndarray:
        return fields[role][0] if role in fields else zero + default

    def position(*roles: str) -> int:
        return max((fields[r][1] for r in roles if r in fields), default=-1)

    year_role = "year" if position("year") >= position("year2") else "year2"
    year = get(year_role, 1970)
    month = get("month", 1)
    if position("month_name") > position("month"):
        month = get("month_name", 1)
    if "day_of_year" in fields and position("day", "month", "month_name") < 0:
        days = _days_from_civil(year, zero + 1, zero + 1) + get("day_of_year") - 1
    else:
        month0 = month - 1
        year = year + np.floor_divide(month0, 12)
        days = _days_from_civil(year, np.mod(month0, 12) + 1, zero + 1) + get("day", 1) - 1
    hour_of_day = get("hour_of_day")
    if "hour_of_day_1" in fields and position("hour_of_day_1") > position("hour_of_day"):
        hour_of_day = np.where(fields["hour_of_day_1"][0] == 24, 0, fields["hour_of_day_1"][0])
    hour = get("hour")
    if "hour_1" in fields and position("hour_1") > position("hour"):
        hour = np.where(fields["hour_1"][0] == 12, 0, fields["hour_1"][0])
    twelve_hour = position("hour", "hour_1")
    twenty_four = position("hour_of_day", "hour_of_day_1")
    if twenty_four >= 0 and (twelve_hour < 0 or "ampm" not in fields
                             or max(twelve_hour, position("ampm")) < twenty_four):
        time_of_day = hour_of_day
    else:
        time_of_day = hour + 12 * get("ampm")
    millis = (days * MILLIS_PER_DAY + time_of_day * 3_600_000 + get("minute") * 60_000
              + get("second") * 1000 + get("milli"))
    offset = zero
    if "zone_hours" in fields:
        offset = get("zone_sign", 1) * (get("zone_hours") * 60 + get("zone_minutes"))
    if "gmt_hours" in fields:
        offset = offset + get("gmt_sign", 1) * (get("gmt_hours") * 60 + get("gmt_minutes"))
    return millis - offset * 60_000
