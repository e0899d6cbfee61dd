"""SimpleDateFormat patterns in UTC; every expectation is what java.text.SimpleDateFormat (UTC,
English locale) gives for the same pattern and input."""

import pickle
import re

import pyarrow as pa
import pytest

from common.errors import ConfigError
from transforms.smt.dateformat import DateFormat


def formatted(pattern, *millis):
    return DateFormat(pattern).format(pa.array(list(millis), pa.int64())).to_pylist()


def parsed(pattern, *texts):
    return DateFormat(pattern).parse(pa.array(list(texts), pa.string())).to_pylist()


@pytest.mark.parametrize("pattern, millis, expected", [
    ("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", 1700000000123, "2023-11-14T22:13:20.123Z"),
    ("EEE, d MMM yyyy HH:mm:ss Z", 1483425001864, "Tue, 3 Jan 2017 06:30:01 +0000"),
    ("EEEE MMMM dd yy hh 'o''clock' a", 1700000000123, "Tuesday November 14 23 10 o'clock PM"),
    ("h K k H", 0, "12 0 24 0"),
    ("D DDD S SSSS", 1700000000005, "318 318 5 0005"),
    ("z zzzz Z X XX XXX", 0, "UTC Coordinated Universal Time +0000 Z Z Z"),
    ("yyyyy y", 1700000000000, "02023 2023"),
    ("'literal only'", 5, "literal only"),
    ("yyyy-MM-dd", -1, "1969-12-31"),
    ("yyyyMMdd", 1483425001864, "20170103"),  # TimestampRouter's default
    ("yyyy MM dd HH mm ss SSS z", 86401234, "1970 01 02 00 00 01 234 UTC"),
])
def test_format(pattern, millis, expected):
    assert formatted(pattern, millis) == [expected]


def test_format_keeps_nulls_and_takes_timestamps():
    assert formatted("yyyy", 0, None) == ["1970", None]
    assert formatted("'x'", 0, None) == ["x", None]
    stamps = pa.array([0, None], pa.int64()).cast(pa.timestamp("ms", "UTC"))
    assert DateFormat("HH:mm").format(stamps).to_pylist() == ["00:00", None]


@pytest.mark.parametrize("pattern, text, expected", [
    # lenient: month 13 rolls over, text after the pattern is ignored
    ("yyyy-MM-dd", "2020-13-01 trailing", 1609459200000),
    # abutting numeric fields take as many digits as their letters, the last takes the rest
    ("yyyyMMdd", "2020115", 1604534400000),
    ("yyyy-MM-dd HH:mm:ss z", "2020-01-02 03:04:05 GMT+02:00", 1577927045000),
    ("yyyy-MM-dd HH:mm:ss Z", "2020-01-02 03:04:05 -0130", 1577939645000),
    ("yyyy-MM-dd'T'HH:mm:ssXXX", "2020-01-02T03:04:05+01:30", 1577928845000),
    ("yyyy-MM-dd'T'HH:mm:ss.SSSX", "2020-01-02T03:04:05.678Z", 1577934245678),
    ("dd MMM yyyy", "05 january 2020", 1578182400000),
    ("MM/dd/yy h:mm a", "01/05/20 12:30 AM", 1578184200000),
    ("MM/dd/yy h:mm a", "01/05/99 1:30 pm", 915543000000),
    ("yyyy-DDD", "2020-060", 1582934400000),
    ("yyyy-MM-dd", "  2020-1-5", 1578182400000),  # spaces before a field are skipped
    ("HH:mm", "24:61", 90060000),
    ("EEE, d MMM yyyy", "Sun, 5 Jan 2020", 1578182400000),
    ("'at' HH", "at 10", 36000000),
    ("yyyy MM dd HH mm ss SSS z", "1970 01 02 00 00 01 234 UTC", 86401234),
])
def test_parse(pattern, text, expected):
    assert parsed(pattern, text) == [expected]


@pytest.mark.parametrize("pattern, text", [
    ("yyyy-MM-dd HH:mm:ss Z", "2020-01-02 03:04:05 +2400"),
    ("yyyy-MM-dd", "2020/01/05"),
    ("yyyyMMdd", "2020"),
    ("dd MMM yyyy", "05 Foo 2020"),
    ("'at' HH", "At 10"),
    ("yyyy", ""),
])
def test_parse_failures_are_null(pattern, text):
    assert parsed(pattern, text) == [None]


def test_parse_keeps_nulls_and_rows_apart():
    assert parsed("yyyy-MM-dd", "1970-01-02", None, "bad", "1970-01-01") == [
        86_400_000, None, None, 0]


def test_parse_literal_only_pattern():
    assert parsed("'epoch'", "epoch!", "other") == [0, None]


@pytest.mark.parametrize("pattern, reason", [
    ("bad-format", "Illegal pattern character 'b'"),
    ("yyyy-ww", "'w' (week in year) is not supported"),
    ("G yyyy", "'G' (era) is not supported"),
    ("yyyy'T", "Unterminated quote"),
    ("XXXX", "invalid ISO 8601 format: length=4"),
])
def test_invalid_patterns(pattern, reason):
    message = ("transforms.t.format must be a java.text.SimpleDateFormat pattern using the letters "
               "y M d H h k K m s S a E D z Z X, got %r: %s" % (pattern, reason))
    with pytest.raises(ConfigError, match=re.escape(message)):
        DateFormat(pattern, "transforms.t.format")


def test_quotes():
    assert formatted("'It''s' HH 'o''clock'", 3_600_000) == ["It's 01 o'clock"]
    assert formatted("''", 0) == ["'"]


def test_pickles():
    fmt = pickle.loads(pickle.dumps(DateFormat("yyyy-MM-dd", "k")))
    assert fmt.pattern == "yyyy-MM-dd" and fmt.key == "k"
    assert fmt.format(pa.array([0], pa.int64())).to_pylist() == ["1970-01-01"]
