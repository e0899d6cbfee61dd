"""Unit tests of the header transforms (``transforms.smt.headers``), after Connect's
``InsertHeaderTest``, ``DropHeadersTest`` and ``HeaderFromTest``.

Header bytes are compared with what Connect's SimpleHeaderConverter writes for the same value
(``Values.convertToString`` as UTF-8; for InsertHeader, of ``Values.parseString(value.literal)``),
as a Connect worker in UTC prints them.
"""

from __future__ import annotations

import datetime
import decimal
import pickle
import re

import pyarrow as pa
import pytest

from common.errors import ConfigError, DataError
from tests.transforms.smt.bundles import bundle
from transforms.records import exception_class
from transforms.schema import DATE, TIME, TIMESTAMP, connect_field, schema_info
from transforms.smt.base import KEY, VALUE
from transforms.smt.headers import DropHeaders, HeaderFrom, InsertHeader
from transforms.smt.registry import TRANSFORMATIONS

UTC = datetime.timezone.utc
EXISTING = [("existing", b"existing-value")]


def records(headers, n=1):
    return bundle([{"a": i} for i in range(n)], keys=["key"] * n, headers=[headers] * n)


def inserted(literal):
    result = InsertHeader("ins", {"header": "inserted", "value.literal": literal}).apply(records([]))
    [[(name, value)]] = result.bundle.headers
    assert name == "inserted"
    return value


# --- InsertHeader ---------------------------------------------------------------------------


def test_insertion_with_existing_other_header():
    source = records(list(EXISTING))
    result = InsertHeader("ins", {"header": "inserted", "value.literal": "inserted-value"}).apply(source)
    assert result.bundle.headers == [EXISTING + [("inserted", b"inserted-value")]]
    assert source.headers == [EXISTING]
    assert result.bundle.values.equals(source.values) and result.bundle.keys.equals(source.keys)


def test_insertion_with_existing_same_header():
    source = records([("existing", b"preexisting-value")])
    result = InsertHeader("ins", {"header": "existing", "value.literal": "inserted-value"}).apply(source)
    assert result.bundle.headers == [[("existing", b"preexisting-value"),
                                      ("existing", b"inserted-value")]]


def test_insertion_with_byte_header():
    assert inserted("1") == b"1"


def test_insertion_into_records_without_headers():
    source = bundle([{"a": 1}, {"a": 2}])
    result = InsertHeader("ins", {"header": "h", "value.literal": "v"}).apply(source)
    assert result.bundle.headers == [[("h", b"v")], [("h", b"v")]]
    assert result.bundle.headers[0] is not result.bundle.headers[1]


def test_header_lists_are_new_and_the_input_unchanged():
    shared = [("a", b"1")]
    source = bundle([{"a": 1}, {"a": 2}], headers=[shared, shared])
    result = InsertHeader("ins", {"header": "h", "value.literal": "v"}).apply(source)
    assert shared == [("a", b"1")]
    assert result.bundle.headers[0] is not shared and result.bundle.headers[0] is not \
        result.bundle.headers[1]


@pytest.mark.parametrize("literal,expected", [
    ("inserted-value", b"inserted-value"),
    ("hello world", b"hello world"),
    ("", b""),
    ("  padded  ", b"padded"),  # config values are trimmed, as in Connect
    ("null", None),
    ("true", b"true"),
    ("-5", b"-5"),
    ("+7", b"7"),
    ("1.0", b"1"),
    ("1.5", b"1.5"),
    ("3.14159265358979", b"3.1415927"),  # a float: Connect keeps float precision
    ("1e30", b"1.0E30"),
    ("123456789012345678901234", b"123456789012345678901234"),
    ("1.5e400", b"1.5E+400"),
    ("1e2147483648", b"1e2147483648"),  # beyond BigDecimal: a string
    ("42,43", b"42"),  # parsing stops after the first value
    ("[1, 2.5]", b"[1.0,2.5]"),
    ("[1,300,70000]", b"[1,300,70000]"),
    ("[1,2.5,1e300]", b"[1.0,2.5,1.0E300]"),
    ("[1,]", b"[1]"),
    ("[null]", b"[null]"),
    ("[1, null]", b"[1, null]"),  # a null where the elements have a schema: a string
    ('{"a":1,"b":[true,false]}', b'{"a":1,"b":[true,false]}'),
    ("{a:1}", b"{a:1}"),  # an unquoted key: a string
    ('["a\\"b", "c,d"]', b'["a\\\\\\"b","c,d"]'),
    ("2024-01-01", b"2024-01-01"),
    ("2024-13-45", b"2025-02-14"),  # SimpleDateFormat is lenient
    ("12:34:56.789Z", b"12:34:56.789Z"),
    ("2024-01-31T12:34:56.789Z", b"2024-01-31T12:34:56.789Z"),
    ("2024-01-01T00:00:00.000Z", b"2024-01-01"),  # a midnight prints as a date
])
def test_value_literal_is_parsed_and_written_as_connect_does(literal, expected):
    assert inserted(literal) == expected


@pytest.mark.parametrize("props,message", [
    ({"value.literal": "1"}, "transforms.ins.header is required"),
    ({"header": "h"}, "transforms.ins.value.literal is required"),
])
def test_insert_header_config_errors(props, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        InsertHeader("ins", props)


# --- DropHeaders ----------------------------------------------------------------------------


def dropped(names, headers):
    return DropHeaders("drop", {"headers": names}).apply(records(headers)).bundle.headers[0]


def test_drop_existing_header():
    assert dropped("to-drop", EXISTING + [("to-drop", b"existing-value")]) == EXISTING


def test_drop_existing_header_with_multiple_values():
    headers = EXISTING + [("to-drop", b"existing-value"), ("to-drop", b"existing-other-value")]
    assert dropped("to-drop", headers) == EXISTING


def test_drop_non_existing_header():
    assert dropped("to-drop", list(EXISTING)) == EXISTING


def test_drop_several_names_keeps_order_and_case():
    headers = [("a", b"1"), ("B", b"2"), ("b", b"3"), ("c", b"4"), ("a", b"5")]
    assert dropped("a, b", headers) == [("B", b"2"), ("c", b"4")]


def test_drop_leaves_records_without_headers_alone_and_the_input_unchanged():
    headers = [("a", b"1")]
    source = bundle([{"a": 1}, {"a": 2}], headers=[headers, None])
    result = DropHeaders("drop", {"headers": "a"}).apply(source)
    assert result.bundle.headers == [[], None]
    assert headers == [("a", b"1")]
    assert result.bundle.values.equals(source.values)


def test_drop_config_rejects_empty_list():
    with pytest.raises(ConfigError, match=re.escape("transforms.drop.headers must be a non-empty "
                                                    "list, got ''")):
        DropHeaders("drop", {"headers": " , "})
    with pytest.raises(ConfigError, match=re.escape("transforms.drop.headers is required")):
        DropHeaders("drop", {})


# --- HeaderFrom: Connect's HeaderFromTest ---------------------------------------------------

STRING = pa.string()
OPTIONAL_WITH_DEFAULT = dict(optional=True, default="default")
WITH_NULL_FIELD2 = [("field1", STRING, "field1-value", OPTIONAL_WITH_DEFAULT),
                    ("field2", STRING, None, OPTIONAL_WITH_DEFAULT)]
FOO = pa.struct([pa.field("foo", pa.string(), False)])
FOO_VALUE = {"foo": "foo-value"}


def record_with(fields, headers, side, schemaful):
    """One record whose key or value is a struct of ``fields`` (name, type, value, field options)."""
    value = {name: v for name, _, v, _ in fields}
    schema = None
    if schemaful:
        schema = connect_field(side, pa.struct([
            connect_field(name, t, **({"optional": False} | opts)) for name, t, _, opts in fields]),
            optional=False)
    values, keys = ([value], ["key"]) if side == VALUE else (["value"], [value])
    return bundle(values, schema if side == VALUE else None, keys=keys,
                  key_schema=schema if side == KEY else None, headers=[list(headers)])


CASES = [
    # description, fields, from fields, to headers, operation, replace.null.with.default,
    # fields left, headers added
    ("basic copy", [("field1", STRING, "field1-value", {}), ("field2", STRING, "field2-value", {})],
     ["field1"], ["inserted1"], "copy", True, ["field1", "field2"], [("inserted1", b"field1-value")]),
    ("basic move", [("field1", STRING, "field1-value", {}), ("field2", STRING, "field2-value", {})],
     ["field1"], ["inserted1"], "move", True, ["field2"], [("inserted1", b"field1-value")]),
    ("copy with struct value", [("field1", FOO, FOO_VALUE, {}), ("field2", STRING, "field2-value", {})],
     ["field1"], ["inserted1"], "copy", True, ["field1", "field2"],
     [("inserted1", b'{"foo":"foo-value"}')]),
    ("move with struct value", [("field1", FOO, FOO_VALUE, {}), ("field2", STRING, "field2-value", {})],
     ["field1"], ["inserted1"], "move", True, ["field2"], [("inserted1", b'{"foo":"foo-value"}')]),
    ("two headers from same field",
     [("field1", STRING, "field1-value", {}), ("field2", STRING, "field2-value", {})],
     ["field1", "field1"], ["inserted1", "inserted2"], "move", True, ["field2"],
     [("inserted1", b"field1-value"), ("inserted2", b"field1-value")]),
    ("two fields to same header",
     [("field1", STRING, "field1-value", {}), ("field2", STRING, "field2-value", {})],
     ["field1", "field2"], ["inserted1", "inserted1"], "move", True, [],
     [("inserted1", b"field1-value"), ("inserted1", b"field2-value")]),
    ("copy null field without default", WITH_NULL_FIELD2,
     ["field1", "field2"], ["inserted1", "inserted2"], "copy", False, ["field1", "field2"],
     [("inserted1", b"field1-value"), ("inserted2", None)]),
    ("move null field without default", WITH_NULL_FIELD2,
     ["field1", "field2"], ["inserted1", "inserted2"], "move", False, [],
     [("inserted1", b"field1-value"), ("inserted2", None)]),
]


@pytest.mark.parametrize("side", [KEY, VALUE])
@pytest.mark.parametrize("schemaful", [True, False], ids=["withSchema", "schemaless"])
@pytest.mark.parametrize("description,fields,from_fields,to_headers,operation,replace,left,added",
                         CASES, ids=[c[0] for c in CASES])
def test_connect_cases(description, fields, from_fields, to_headers, operation, replace, left,
                       added, side, schemaful):
    for preexisting in ([("header1", b"existing-value")], [("inserted1", b"existing-value")]):
        source = record_with(fields, preexisting, side, schemaful)
        transform = HeaderFrom("hf", {"fields": ",".join(from_fields), "headers": ",".join(to_headers),
                                      "operation": operation,
                                      "replace.null.with.default": str(replace).lower()}, side)
        result = transform.apply(source)
        assert result.failures == ()
        out = result.bundle
        assert out.headers == [preexisting + added]
        array, schema = (out.values, out.value_schema) if side == VALUE else (out.keys, out.key_schema)
        original = {name: v for name, _, v, _ in fields}
        assert array.to_pylist() == [{name: original[name] for name in left}]
        assert [f.name for f in array.type] == left
        other = out.keys if side == VALUE else out.values
        assert other.equals(source.keys if side == VALUE else source.values)
        if schemaful:
            assert schema.type == array.type
            assert not schema.nullable
        else:
            assert schema is None


@pytest.mark.parametrize("fields,headers", [("foo,bar", "foo"), ("foo", "foo,bar")])
def test_config_rejects_lists_of_different_lengths(fields, headers):
    with pytest.raises(ConfigError, match=re.escape(
            "'transforms.hf.fields' config must have the same number of elements as "
            "'transforms.hf.headers' config, got ")):
        HeaderFrom("hf", {"fields": fields, "headers": headers, "operation": "copy"}, VALUE)


@pytest.mark.parametrize("props,message", [
    ({"fields": "", "headers": "", "operation": "copy"},
     "transforms.hf.fields must be a non-empty list, got ''"),
    ({"fields": "a", "headers": "", "operation": "copy"},
     "transforms.hf.headers must be a non-empty list, got ''"),
    ({"fields": "a", "headers": "b", "operation": "cut"},
     "transforms.hf.operation must be one of 'move', 'copy', got 'cut'"),
    ({"fields": "a", "headers": "b"}, "transforms.hf.operation is required"),
    ({"fields": "a", "headers": "b", "operation": "copy", "replace.null.with.default": "yes"},
     "transforms.hf.replace.null.with.default must be 'true' or 'false', got 'yes'"),
])
def test_config_errors(props, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        HeaderFrom("hf", props, VALUE)


# --- HeaderFrom: header bytes of typed fields -----------------------------------------------


def header_of(arrow_type, value, **field_options):
    schema = connect_field("v", pa.struct([connect_field("f", arrow_type, **field_options)]),
                           optional=False)
    source = bundle([{"f": value}], schema)
    result = HeaderFrom("hf", {"fields": "f", "headers": "h", "operation": "copy"}, VALUE).apply(source)
    [[(name, data)]] = result.bundle.headers
    return data


@pytest.mark.parametrize("arrow_type,value,expected", [
    (pa.int8(), -5, b"-5"),
    (pa.int64(), 9_007_199_254_740_993, b"9007199254740993"),
    (pa.bool_(), True, b"true"),
    (pa.float32(), 1.1, b"1.1"),
    (pa.float32(), 1e10, b"1.0E10"),
    (pa.float64(), 100.0, b"100.0"),
    (pa.float64(), 1234567.0, b"1234567.0"),
    (pa.float64(), 12345678.0, b"1.2345678E7"),
    (pa.float64(), 1e-5, b"1.0E-5"),
    (pa.float64(), 0.001, b"0.001"),
    (pa.float64(), -0.0, b"-0.0"),
    (pa.float64(), float("nan"), b"NaN"),
    (pa.decimal128(10, 2), decimal.Decimal("12.30"), b"12.30"),
    (pa.decimal128(10, 8), decimal.Decimal("0.00000010"), b"1.0E-7"),
    (pa.binary(), b"\x00\xff", b"AP8="),
    (pa.string(), 'say "hi"', b'say "hi"'),
    (pa.list_(pa.string()), ["a", 'b"\\'], b'["a","b\\"\\\\"]'),
    (pa.list_(pa.float32()), [1.5, None], b"[1.5,null]"),
    (pa.map_(pa.string(), pa.int32()), [("k", 1), ("j", 2)], b'{"k":1,"j":2}'),
    (pa.struct([pa.field("x", pa.binary())]), {"x": b"\x01"}, b'{"x":"AQ=="}'),
])
def test_header_bytes_are_simple_header_converter_s(arrow_type, value, expected):
    assert header_of(arrow_type, value) == expected


@pytest.mark.parametrize("arrow_type,name,value,expected", [
    (pa.date32(), DATE, datetime.date(2024, 1, 31), b"2024-01-31"),
    # Connect prints a java.util.Date below one day after the epoch as a time of day
    (pa.date32(), DATE, datetime.date(1960, 5, 1), b"00:00:00.000Z"),
    (pa.time32("ms"), TIME, datetime.time(12, 34, 56, 789000), b"12:34:56.789Z"),
    (pa.timestamp("ms", tz="UTC"), TIMESTAMP,
     datetime.datetime(2024, 1, 31, 12, 34, 56, 789000, tzinfo=UTC), b"2024-01-31T12:34:56.789Z"),
    (pa.timestamp("ms", tz="UTC"), TIMESTAMP, datetime.datetime(2024, 1, 31, tzinfo=UTC),
     b"2024-01-31"),
])
def test_logical_types_are_written_as_java_dates(arrow_type, name, value, expected):
    assert header_of(arrow_type, value, schema_name=name) == expected


def test_nested_null_field_shows_its_default():
    inner = pa.struct([connect_field("x", pa.int32(), True, default=7), pa.field("y", pa.int32())])
    assert header_of(inner, {"x": None, "y": None}) == b'{"x":7,"y":null}'


def test_replace_null_with_default():
    def run(replace, operation):
        schema = connect_field("v", pa.struct([
            connect_field("a", pa.string(), True, default="dflt"),
            connect_field("b", pa.int32(), True, default=5)]), optional=False, schema_name="my.V",
            version=3, doc="the value", parameters={"p": "1"}, default={"a": "x", "b": 1})
        source = bundle([{"a": None, "b": None}, {"a": "set", "b": 2}], schema)
        return HeaderFrom("hf", {"fields": "a", "headers": "h", "operation": operation,
                                 "replace.null.with.default": replace}, VALUE).apply(source).bundle

    out = run("true", "copy")
    assert out.headers == [[("h", b"dflt")], [("h", b"set")]]
    assert out.values.to_pylist() == [{"a": None, "b": None}, {"a": "set", "b": 2}]
    assert run("false", "copy").headers == [[("h", None)], [("h", b"set")]]
    moved = run("true", "move")
    assert moved.values.to_pylist() == [{"b": 5}, {"b": 2}]  # copied with Struct.get
    assert run("false", "move").values.to_pylist() == [{"b": None}, {"b": 2}]
    info = schema_info(moved.value_schema)
    assert (info.name, info.version, info.doc, info.parameters) == ("my.V", 3, "the value", {"p": "1"})
    assert not info.has_default and not moved.value_schema.nullable
    assert schema_info(moved.value_schema.type.field("b")).default == 5


def test_schemaless_missing_field_gives_a_null_header():
    source = bundle([{"a": 1}, {"a": 2, "b": "x"}])
    result = HeaderFrom("hf", {"fields": "b,c", "headers": "hb,hc", "operation": "move"},
                        VALUE).apply(source)
    assert result.bundle.headers == [[("hb", None), ("hc", None)], [("hb", b"x"), ("hc", None)]]
    assert result.bundle.values.to_pylist() == [{"a": 1}, {"a": 2}]


def test_schemaless_numbers_are_long_and_double():
    source = bundle([{"i": 3, "d": 2.0, "o": {"k": "v"}, "l": [1, 2]}])
    result = HeaderFrom("hf", {"fields": "i,d,o,l", "headers": "i,d,o,l", "operation": "copy"},
                        VALUE).apply(source)
    assert result.bundle.headers == [[("i", b"3"), ("d", b"2.0"), ("o", b'{"k":"v"}'),
                                      ("l", b"[1,2]")]]


# --- HeaderFrom: failures -------------------------------------------------------------------


def test_null_and_non_struct_records_fail_with_connect_s_messages():
    schema = connect_field("v", pa.struct([pa.field("a", pa.int64())]), optional=True)
    source = bundle([{"a": 1}, None, {"a": 3}], schema, headers=[None, [("x", b"1")], None])
    result = HeaderFrom("hf", {"fields": "a", "headers": "h", "operation": "copy"}, VALUE).apply(source)
    [(index, error)] = result.failures
    assert index == 1 and isinstance(error, DataError)
    assert str(error) == "Only Struct objects supported for [header copy], found: null"
    assert exception_class(error) == "org.apache.kafka.connect.errors.DataException"
    assert result.bundle.offsets == [0, 2]
    assert result.bundle.headers == [[("h", b"1")], [("h", b"3")]]


def test_schemaless_value_that_is_not_a_map_fails():
    source = bundle(["text", None])
    result = HeaderFrom("hf", {"fields": "a", "headers": "h", "operation": "move"}, VALUE).apply(source)
    assert result.bundle is None
    assert [(i, str(e)) for i, e in result.failures] == [
        (0, "Only Map objects supported in absence of schema for [header move], found: "
            "java.lang.String"),
        (1, "Only Map objects supported in absence of schema for [header move], found: null")]


def test_schemaful_key_that_is_not_a_struct_fails():
    source = bundle([{"a": 1}], keys=[7], key_schema=pa.field("k", pa.int32(), False))
    result = HeaderFrom("hf", {"fields": "a", "headers": "h", "operation": "copy"}, KEY).apply(source)
    assert [(i, str(e)) for i, e in result.failures] == [
        (0, "Only Struct objects supported for [header copy], found: java.lang.Integer")]


def test_schemaful_field_missing_from_the_schema_fails_every_record():
    schema = connect_field("v", pa.struct([pa.field("a", pa.int64())]), optional=True)
    source = bundle([{"a": 1}, None], schema)
    result = HeaderFrom("hf", {"fields": "a,nope", "headers": "h,n", "operation": "copy"},
                        VALUE).apply(source)
    assert result.bundle is None
    assert [(i, str(e)) for i, e in result.failures] == [
        (0, "nope is not a valid field name"),
        (1, "Only Struct objects supported for [header copy], found: null")]


def test_registered_under_connect_names_and_pickles():
    key = "org.apache.kafka.connect.transforms."
    assert TRANSFORMATIONS[key + "HeaderFrom$Key"] == (HeaderFrom, KEY)
    assert TRANSFORMATIONS["HeaderFrom$Value"] == (HeaderFrom, VALUE)
    assert TRANSFORMATIONS[key + "InsertHeader"] == (InsertHeader, None)
    assert TRANSFORMATIONS["DropHeaders"] == (DropHeaders, None)
    transform = pickle.loads(pickle.dumps(InsertHeader("i", {"header": "h", "value.literal": "[1]"})))
    assert transform.apply(records([])).bundle.headers == [[("h", b"[1]")]]
