"""How Java writes numbers, bytes and dates as text, and reads numbers from text.

Each rendering comes in the form its caller needs: a column at a time on Arrow arrays (Cast casts
whole columns) or one value at a time (``Values.convertToString`` for header values, which are
nested Java objects). The two forms give the same text for every value.

- ``Double.toString``/``Float.toString``: the shortest digits that read back, plain from 10^-3 up to
  10^7 (``100.0``, ``0.001``), else ``d.dddE±n`` (``1.0E10``, ``1.5E-5``); ``NaN``, ``Infinity``. The
  shortest digits are the ones Java 19 and later print (Java 17 sometimes prints one digit more:
  ``2.14748365E9`` for ``2.1474836E9``).
- A ``java.util.Date`` as ``Values.dateFormatFor`` picks its format by the instant, in UTC:
  ``HH:mm:ss.SSS'Z'`` below one day after the epoch (so also every instant before 1970),
  ``yyyy-MM-dd`` on a midnight, else ``yyyy-MM-dd'T'HH:mm:ss.SSS'Z'``, on the proleptic Gregorian
  calendar.
- Bytes as standard base64 (``Base64.getEncoder()``).
- ``Long.parseLong`` and ``Double.parseDouble``/``Float.parseFloat`` of string columns.
"""

from __future__ import annotations

import datetime
import decimal
import math
import struct

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.smt.dateformat import MILLIS_PER_DAY, DateFormat, as_timestamps

JAVA_WHITESPACE = "".join(chr(c) for c in range(33))  # what String.trim() removes

_JAVA_DECIMAL = r"^[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?)$"
_JAVA_HEX = r"^[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+[fFdD]?$"
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1
_BASE64 = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", np.uint8)
_EPOCH = datetime.datetime(1970, 1, 1)

_ISO_TIME = DateFormat("HH:mm:ss.SSS'Z'")
_ISO_DATE = DateFormat("yyyy-MM-dd")
_ISO_TIMESTAMP = DateFormat("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")


# ------------------------------------------------------------------------- floating point numbers


def java_float_strings(values: pa.Array) -> pa.Array:
    """A float32 or float64 column as ``Float.toString``/``Double.toString`` write its values."""
    text = values.cast(pa.string())  # Arrow's shortest digits: plain from 1e-6 up to 1e10
    magnitude = pc.abs(values.cast(pa.float64()))
    finite = pc.is_finite(magnitude)
    plain = pc.or_(pc.equal(magnitude, 0.0),
                   pc.and_(pc.greater_equal(magnitude, 1e-3), pc.less(magnitude, 1e7)))
    out = text
    integral = np.asarray(pc.and_(plain, pc.invert(pc.match_substring(text, "."))).fill_null(False))
    if integral.any():  # 100 -> 100.0
        mask = pa.array(integral)
        out = pc.replace_with_mask(out, mask, pc.binary_join_element_wise(text.filter(mask), ".0",
                                                                          ""))
    scientific = np.asarray(pc.and_(finite, pc.invert(plain)).fill_null(False))
    if scientific.any():
        mask = pa.array(scientific)
        out = pc.replace_with_mask(out, mask, _java_scientific(text.filter(mask)))
    special = np.asarray(pc.invert(finite).fill_null(False))
    if special.any():
        mask = pa.array(special)
        names = pc.replace_substring_regex(pc.replace_substring(text.filter(mask), "inf",
                                                                "Infinity"), "^-?nan$", "NaN")
        out = pc.replace_with_mask(out, mask, names)
    return out


def _java_scientific(text: pa.Array) -> pa.Array:
    """Arrow's text of numbers outside [1e-3, 1e7) in Java's ``d.dddE±n``."""
    r = pc.replace_substring_regex
    text = r(text, r"^(-?\d)e", r"\1.0e")  # 1e+22 -> 1.0e+22
    text = r(r(text, r"e\+", "E"), "e-", "E-")
    for digits in (7, 8, 9):  # 12345678.5 -> 1.23456785E7
        text = r(text, r"^(-?)(\d)(\d{%d})(?:\.(\d+))?$" % digits, r"\1\2.\3\4E%d" % digits)
    for zeros in (3, 4, 5):  # 0.000015 -> 1.5E-5
        text = r(text, r"^(-?)0\.0{%d}([1-9])(\d*)$" % zeros, r"\1\2.\3E-%d" % (zeros + 1))
    text = r(text, r"^(-?\d\.\d*?)0+E", r"\1E")  # 1.0000000E7 -> 1.E7
    return r(text, r"\.E", ".0E")


def java_float(value: float, single: bool) -> str:
    """One value as ``Float.toString`` (``single``) or ``Double.toString`` writes it."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    text = repr(value)
    if single:
        text = next(t for t in ("%.*e" % (p - 1, value) for p in range(1, 10))
                    if to_float32(float(t)) == value)
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


def to_float32(value: float) -> float:
    """Java's ``(float)`` of a double: the nearest float, infinite beyond the float range."""
    try:
        return struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


# ------------------------------------------------------------------------------- dates and bytes


def date_strings(values: pa.Array) -> pa.Array:
    """A Date, Time or Timestamp column as ``Values.dateFormatFor(value).format(value)``."""
    ts = as_timestamps(values)
    millis = ts.cast(pa.int64())
    time_rows = pc.less(millis, MILLIS_PER_DAY).fill_null(False)
    date_rows = pc.and_(pc.invert(time_rows),
                        pc.equal(pc.subtract(millis, pc.multiply(pc.divide(millis, MILLIS_PER_DAY),
                                                                 MILLIS_PER_DAY)), 0)).fill_null(False)
    out = pa.nulls(len(values), pa.string())
    for rows, form in ((time_rows, _ISO_TIME), (date_rows, _ISO_DATE),
                       (pc.invert(pc.or_(time_rows, date_rows)), _ISO_TIMESTAMP)):
        rows = pc.and_(rows, ts.is_valid())
        if pc.any(rows).as_py():
            out = pc.if_else(rows, form.format(ts), out)
    return out


def java_date(millis: int) -> str:
    """One ``java.util.Date`` (milliseconds since the epoch) as ``Values.dateFormatFor`` writes it."""
    moment = _EPOCH + datetime.timedelta(milliseconds=int(millis))
    clock = "%02d:%02d:%02d.%03dZ" % (moment.hour, moment.minute, moment.second,
                                      moment.microsecond // 1000)
    if millis < MILLIS_PER_DAY:
        return clock
    day = "%04d-%02d-%02d" % (moment.year, moment.month, moment.day)
    return day if millis % MILLIS_PER_DAY == 0 else day + "T" + clock


def base64_strings(values: pa.Array) -> pa.Array:
    """A bytes column as standard base64 text (Java's ``Base64.getEncoder()``), with NumPy."""
    values = values.cast(pa.binary())
    n = len(values)
    validity, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int32, n + 1, values.offset * 4).astype(np.int64)
    data = np.frombuffer(data_buffer, np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    starts, ends = offsets[:-1], offsets[1:]
    ends = np.where(np.asarray(values.is_valid()), ends, starts)
    groups = (ends - starts + 2) // 3
    out_offsets = np.zeros(n + 1, np.int32)
    np.cumsum(groups * 4, out=out_offsets[1:])
    owner = np.repeat(np.arange(n), groups)
    index = np.arange(int(groups.sum())) - np.repeat(np.cumsum(groups) - groups, groups)
    source = starts[owner] + 3 * index
    end = ends[owner]
    padded = np.concatenate([data, np.zeros(3, np.uint8)]).astype(np.uint32)
    triple = ((padded[source] << 16) | (np.where(source + 1 < end, padded[source + 1], 0) << 8)
              | np.where(source + 2 < end, padded[source + 2], 0))
    chars = _BASE64[np.stack([(triple >> s) & 63 for s in (18, 12, 6, 0)], axis=1)]
    left = end - source
    chars[left == 1, 2:] = ord("=")
    chars[left == 2, 3] = ord("=")
    out = pa.StringArray.from_buffers(n, pa.py_buffer(out_offsets), pa.py_buffer(chars.tobytes()))
    return pc.if_else(values.is_valid(), out, pa.scalar(None, pa.string())) if values.null_count else out


# --------------------------------------------------------------------------------- reading numbers


def parse_integers(values: pa.Array, arrow_type: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    """A string column read by ``Long.parseLong`` (ASCII digits, an optional sign), then checked
    against the range of the integer ``arrow_type``.

    Returns:
      The numbers as ``arrow_type`` (null where a value does not parse or fit), and a NumPy mask of
      the non-null values that do not.
    """
    null = pa.scalar(None, pa.string())
    syntax = pc.match_substring_regex(values, r"^[+-]?[0-9]+$").fill_null(False)
    text = pc.replace_substring_regex(pc.if_else(syntax, values, null), r"^\+", "")
    short = pc.less_equal(pc.utf8_length(text), 18).fill_null(False)
    numbers = pc.if_else(short, text, null).cast(pa.int64())
    long_rows = np.flatnonzero(np.asarray(syntax) & ~np.asarray(short))
    if len(long_rows):  # beyond 17 digits, rare: read in Python
        parsed = [int(values[int(row)].as_py()) for row in long_rows]
        fits = [_LONG_MIN <= v <= _LONG_MAX for v in parsed]
        mask = np.zeros(len(values), bool)
        mask[long_rows[fits]] = True
        numbers = pc.replace_with_mask(numbers, pa.array(mask),
                                       pa.array([v for v, ok in zip(parsed, fits) if ok], pa.int64()))
    half = 1 << (arrow_type.bit_width - 1)
    in_range = pc.and_(pc.greater_equal(numbers, -half), pc.less_equal(numbers, half - 1))
    bad = np.asarray(values.is_valid()) & ~np.asarray(in_range.fill_null(False))
    numbers = pc.if_else(in_range, numbers, pa.scalar(None, pa.int64()))
    return numbers.cast(arrow_type), bad


def parse_floats(values: pa.Array, arrow_type: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    """A string column read by ``Double.parseDouble``/``Float.parseFloat``: trimmed, ``NaN``,
    ``Infinity``, an optional ``f``/``d`` suffix, hexadecimal ``0x1.8p1``.

    Returns:
      The numbers as ``arrow_type`` (null where a value does not parse), and a NumPy mask of the
      non-null values that do not.
    """
    null = pa.scalar(None, pa.string())
    text = pc.utf8_trim(values, characters=JAVA_WHITESPACE)
    decimal_syntax = pc.match_substring_regex(text, _JAVA_DECIMAL).fill_null(False)
    plain = pc.replace_substring_regex(pc.if_else(decimal_syntax, text, null), "[fFdD]$", "")
    numbers = plain.cast(arrow_type)
    hexadecimal = np.asarray(pc.match_substring_regex(text, _JAVA_HEX).fill_null(False))
    if hexadecimal.any():  # rare: Python reads hexadecimal floats
        rows = np.flatnonzero(hexadecimal)
        parsed = [float.fromhex(text[int(r)].as_py().rstrip("fFdD")) for r in rows]
        numbers = pc.replace_with_mask(numbers, pa.array(hexadecimal),
                                       pa.array(parsed, pa.float64()).cast(arrow_type))
    bad = np.asarray(values.is_valid()) & ~np.asarray(decimal_syntax) & ~hexadecimal
    return numbers, bad
