"""Cast, schemaful and schemaless, as Kafka Connect's CastTest expects, plus Java's cast semantics."""

import base64
import datetime
import decimal
import re

import pyarrow as pa
import pytest

from common.errors import ConfigError
from tests.transforms.smt.bundles import bundle
from transforms.schema import DATE, DECIMAL, TIME, TIMESTAMP, connect_field, schema_info
from transforms.smt import parse_chain
from transforms.smt.base import KEY, VALUE
from transforms.smt.cast import Cast, cast_values
from transforms.smt.javatext import java_float_strings

MILLIS_PER_DAY = 86_400_000
UTC = datetime.timezone.utc
SUPPORTED_FROM = ("supported types are [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, "
                  "STRING, BYTES]")


def cast(spec, side=VALUE, **props):
    return Cast("c", {"spec": spec, **{k.replace("_", "."): v for k, v in props.items()}}, side)


def run(transform, records):
    result = transform.apply(records)
    return result.bundle, [(i, str(e)) for i, e in result.failures]


def when(millis):
    return datetime.datetime.fromtimestamp(millis / 1000, UTC)


def one(values, target):
    out, errors = cast_values(values, target)
    assert errors == {}
    return out.to_pylist()


# ------------------------------------------------------------------------------------------- config

@pytest.mark.parametrize("spec, message", [
    ("", "transforms.c.spec must specify at least one field to cast, got ''"),
    ("foo:faketype", "transforms.c.spec must use the types int8, int16, int32, int64, float32, "
                     "float64, boolean, string, got 'foo:faketype': Invalid type found in casting "
                     "spec: faketype"),
    ("foo:array", "got 'foo:array': Cast transformation does not support casting to ARRAY; "
                  "supported types are [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]"),
    ("array", "Cast transformation does not support casting to ARRAY"),
    ("foo:bytes", "Cast transformation does not support casting to BYTES"),
    ("foo:int8:extra", "transforms.c.spec must list field:type pairs, or one type for the whole "
                       "value, got 'foo:int8:extra': invalid cast mapping 'foo:int8:extra'"),
    ("foo:int8,int32", "transforms.c.spec must hold a single type when it casts the whole value, "
                       "got 'foo:int8,int32': Cast transformations that specify a type to cast the "
                       "entire value to may only specify a single cast in their spec"),
])
def test_config_errors(spec, message):
    # CastTest.testConfigEmpty ... testConfigMixWholeAndFieldTransformation
    with pytest.raises(ConfigError, match=re.escape(message)):
        cast(spec)


def test_config_spec_required():
    with pytest.raises(ConfigError, match=re.escape("transforms.c.spec is required")):
        Cast("c", {}, VALUE)


def test_config_replace_null_with_default_must_be_boolean():
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.c.replace.null.with.default must be 'true' or 'false', got 'maybe'")):
        cast("int8", replace_null_with_default="maybe")


def test_types_case_insensitive():
    out, _ = run(cast("Int8"), bundle([42]))
    assert out.values.type == pa.int8()


# ----------------------------------------------------------------------------------- whole values

@pytest.mark.parametrize("target, arrow_type, expected", [
    ("int8", pa.int8(), 42), ("int16", pa.int16(), 42), ("int32", pa.int32(), 42),
    ("int64", pa.int64(), 42), ("float32", pa.float32(), 42.0), ("float64", pa.float64(), 42.0),
    ("boolean", pa.bool_(), True), ("string", pa.string(), "42"),
])
def test_whole_value_with_schema(target, arrow_type, expected):
    # CastTest.castWholeRecordValueWithSchemaInt8 ... String
    out, failures = run(cast(target), bundle([42], connect_field("value", pa.int32(), False)))
    assert failures == []
    assert out.values.type == arrow_type and out.value_schema.type == arrow_type
    assert out.values.to_pylist() == [expected]
    assert not out.value_schema.nullable


@pytest.mark.parametrize("target, arrow_type, expected", [
    ("int8", pa.int8(), [42, 0]), ("int16", pa.int16(), [42, 0]), ("int32", pa.int32(), [42, 0]),
    ("int64", pa.int64(), [42, 0]), ("float32", pa.float32(), [42.0, 0.0]),
    ("float64", pa.float64(), [42.0, 0.0]), ("boolean", pa.bool_(), [True, False]),
    ("string", pa.string(), ["42", "0"]),
])
def test_whole_value_schemaless(target, arrow_type, expected):
    # CastTest.castWholeRecordValueSchemalessInt8 ... String, BooleanFalse
    out, failures = run(cast(target), bundle([42, 0]))
    assert failures == [] and out.value_schema is None
    assert out.values.type == arrow_type
    assert out.values.to_pylist() == expected


def test_whole_key_with_schema_and_schemaless():
    # CastTest.castWholeRecordKeyWithSchema, castWholeRecordKeySchemaless
    records = bundle(["bogus"], connect_field("value", pa.string(), False), keys=[42],
                     key_schema=connect_field("key", pa.int32(), False))
    out, _ = run(cast("int8", side=KEY), records)
    assert out.keys.type == pa.int8() and out.keys.to_pylist() == [42]
    assert out.key_schema.type == pa.int8()
    assert out.values.to_pylist() == ["bogus"]
    out, _ = run(cast("int8", side=KEY), bundle(["bogus"], keys=[42]))
    assert out.key_schema is None and out.keys.to_pylist() == [42]


def test_null_values_pass_through():
    # CastTest.castNullValueRecordWithSchema, castNullValueRecordSchemaless, castNullKey...
    schema = connect_field("value", pa.string(), True)
    out, failures = run(cast("foo:int64"), bundle([None], schema))
    assert failures == [] and out.values.to_pylist() == [None]
    out, failures = run(cast("foo:int64"), bundle([None]))
    assert failures == [] and out.values.to_pylist() == [None]
    out, failures = run(cast("foo:int64", side=KEY), bundle(["value"], keys=[None]))
    assert failures == [] and out.keys.to_pylist() == [None]


def test_whole_decimal_to_string():
    # CastTest.castWholeBigDecimalRecordValueWithSchemaString
    schema = connect_field("value", pa.decimal128(38, 0), False, schema_name=DECIMAL,
                           parameters={"scale": "0"})
    out, _ = run(cast("string"), bundle([decimal.Decimal(42)], schema))
    assert out.values.to_pylist() == ["42"]
    assert schema_info(out.value_schema).name is None  # the logical name goes with its type


def test_whole_timestamp_to_string():
    # CastTest.castWholeDateRecordValueWithSchemaString
    schema = connect_field("value", pa.timestamp("ms", "UTC"), False, schema_name=TIMESTAMP,
                           version=1)
    out, _ = run(cast("string"), bundle([when(MILLIS_PER_DAY + 1)], schema))
    assert out.values.to_pylist() == ["1970-01-02T00:00:00.001Z"]
    assert out.value_schema.type == pa.string()


def test_whole_value_default_cast():
    # CastTest.castWholeRecordDefaultValue
    schema = connect_field("value", pa.float32(), False, default=-42.125)
    out, _ = run(cast("int32"), bundle([42.125], schema))
    assert out.values.to_pylist() == [42]
    assert schema_info(out.value_schema).default == -42


def test_whole_value_keeps_name_version_doc():
    schema = connect_field("value", pa.int64(), True, schema_name="com.example.Id", version=3,
                           doc="an id")
    out, _ = run(cast("string"), bundle([7, None], schema))
    info = schema_info(out.value_schema)
    assert (info.name, info.version, info.doc) == ("com.example.Id", 3, "an id")
    assert out.value_schema.nullable and out.values.to_pylist() == ["7", None]


def test_whole_value_schemaless_unsupported_type():
    # CastTest.castWholeRecordValueSchemalessUnsupportedType: only that record fails
    records = bundle([["foo"], None, ["bar"]])
    out, failures = run(cast("int8"), records)
    assert failures == [(0, "Cast transformation does not support casting from ARRAY; "
                            + SUPPORTED_FROM),
                        (2, "Cast transformation does not support casting from ARRAY; "
                            + SUPPORTED_FROM)]
    assert out.values.to_pylist() == [None]


def test_whole_struct_with_schema_fails():
    schema = connect_field("value", pa.struct([connect_field("a", pa.int32(), True)]), True)
    out, failures = run(cast("string"), bundle([{"a": 1}, None], schema))
    assert failures == [(0, "Cast transformation does not support casting from STRUCT; "
                            + SUPPORTED_FROM)]
    assert out.values.to_pylist() == [None]


def test_schemaless_struct_whole_is_a_map():
    out, failures = run(cast("string"), bundle([{"a": 1}]))
    assert out is None
    assert failures == [(0, "Cast transformation does not support casting from MAP; "
                            + SUPPORTED_FROM)]


# ----------------------------------------------------------------------------------------- fields

def test_logical_to_primitive():
    # CastTest.castLogicalToPrimitive
    schema = connect_field("value", pa.struct([
        connect_field("date_to_int32", pa.date32(), False, schema_name=DATE, version=1),
        connect_field("timestamp_to_int64", pa.timestamp("ms", "UTC"), False,
                      schema_name=TIMESTAMP, version=1),
        connect_field("time_to_int64", pa.time32("ms"), False, schema_name=TIME, version=1),
        connect_field("decimal_to_int32", pa.decimal128(38, 0), False, schema_name=DECIMAL,
                      parameters={"scale": "0"}),
        connect_field("timestamp_to_float64", pa.timestamp("ms", "UTC"), False,
                      schema_name=TIMESTAMP, version=1),
        connect_field("null_timestamp_to_int32", pa.timestamp("ms", "UTC"), True,
                      schema_name=TIMESTAMP, version=1),
    ]), False)
    value = {"date_to_int32": datetime.date(1970, 1, 2), "timestamp_to_int64": when(0),
             "time_to_int64": datetime.time(0, 0, 0, 1000),
             "decimal_to_int32": decimal.Decimal(2 ** 31),
             "timestamp_to_float64": None, "null_timestamp_to_int32": None}
    records = bundle([value], schema)
    # Long.MAX_VALUE ms is beyond Python's datetime: set it as Arrow's int64.
    values = records.values
    children = values.flatten()
    children[4] = pa.array([2 ** 63 - 1], pa.int64()).cast(pa.timestamp("ms", "UTC"))
    records.values = pa.StructArray.from_arrays(children, fields=list(values.type))
    out, failures = run(cast("date_to_int32:int32,timestamp_to_int64:int64,time_to_int64:int64,"
                             "decimal_to_int32:int32,timestamp_to_float64:float64,"
                             "null_timestamp_to_int32:int32"), records)
    assert failures == []
    assert out.values.to_pylist() == [{
        "date_to_int32": 1, "timestamp_to_int64": 0, "time_to_int64": 1,
        "decimal_to_int32": -2 ** 31, "timestamp_to_float64": 9.223372036854776e18,
        "null_timestamp_to_int32": None}]
    types = {f.name: f.type for f in out.value_schema.type}
    assert types == {"date_to_int32": pa.int32(), "timestamp_to_int64": pa.int64(),
                     "time_to_int64": pa.int64(), "decimal_to_int32": pa.int32(),
                     "timestamp_to_float64": pa.float64(), "null_timestamp_to_int32": pa.int32()}
    assert all(schema_info(f).name is None for f in out.value_schema.type)


def test_logical_to_string():
    # CastTest.castLogicalToString (Values.dateFormatFor picks the pattern by the instant)
    schema = connect_field("value", pa.struct([
        connect_field("date", pa.date32(), False, schema_name=DATE, version=1),
        connect_field("decimal", pa.decimal128(38, 0), False, schema_name=DECIMAL),
        connect_field("time", pa.time32("ms"), False, schema_name=TIME, version=1),
        connect_field("timestamp", pa.timestamp("ms", "UTC"), False, schema_name=TIMESTAMP),
        connect_field("midnight", pa.timestamp("ms", "UTC"), False, schema_name=TIMESTAMP),
        connect_field("epoch_date", pa.date32(), False, schema_name=DATE, version=1),
    ]), False)
    value = {"date": datetime.date(1970, 1, 2), "decimal": decimal.Decimal(1982),
             "time": datetime.time(1), "timestamp": when(1_700_000_000_123),
             "midnight": when(1_699_920_000_000), "epoch_date": datetime.date(1970, 1, 1)}
    out, failures = run(cast("date:string,decimal:string,time:string,timestamp:string,"
                             "midnight:string,epoch_date:string"), bundle([value], schema))
    assert failures == []
    assert out.values.to_pylist() == [{
        "date": "1970-01-02", "decimal": "1982", "time": "01:00:00.000Z",
        "timestamp": "2023-11-14T22:13:20.123Z", "midnight": "2023-11-14",
        "epoch_date": "00:00:00.000Z"}]
    assert all(f.type == pa.string() for f in out.value_schema.type)


def test_fields_with_schema():
    # CastTest.castFieldsWithSchema
    schema = connect_field("value", pa.struct([
        connect_field("int8", pa.int8(), False), connect_field("int16", pa.int16(), True),
        connect_field("int32", pa.int32(), False, default=2),
        connect_field("int64", pa.int64(), False), connect_field("float32", pa.float32(), False),
        connect_field("float64", pa.float64(), False, default=-1.125),
        connect_field("boolean", pa.bool_(), False), connect_field("string", pa.string(), False),
        connect_field("bigdecimal", pa.decimal128(38, 0), False, schema_name=DECIMAL),
        connect_field("date", pa.date32(), False, schema_name=DATE, version=1),
        connect_field("optional", pa.float32(), True),
        connect_field("timestamp", pa.timestamp("ms", "UTC"), False, schema_name=TIMESTAMP),
        connect_field("bytes", pa.binary(), False), connect_field("byteArray", pa.binary(), False),
    ]), False)
    raw = bytes([0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10])
    value = {"int8": 8, "int16": 16, "int32": 32, "int64": 64, "float32": 32.0, "float64": -64.0,
             "boolean": True, "string": "42", "bigdecimal": decimal.Decimal(42),
             "date": datetime.date(1970, 1, 2), "optional": None, "timestamp": when(0),
             "bytes": raw, "byteArray": raw}
    out, failures = run(cast("int8:int16,int16:int32,int32:int64,int64:boolean,float32:float64,"
                             "float64:boolean,boolean:int8,string:int32,bigdecimal:string,"
                             "date:string,optional:int32,bytes:string,byteArray:string"),
                        bundle([value], schema))
    assert failures == []
    assert out.values.to_pylist() == [{
        "int8": 8, "int16": 16, "int32": 32, "int64": True, "float32": 32.0, "float64": True,
        "boolean": 1, "string": 42, "bigdecimal": "42", "date": "1970-01-02", "optional": None,
        "timestamp": when(0), "bytes": "/ty6mHZUMhA=", "byteArray": "/ty6mHZUMhA="}]
    fields = {f.name: f for f in out.value_schema.type}
    assert {n: f.type for n, f in fields.items()} == {
        "int8": pa.int16(), "int16": pa.int32(), "int32": pa.int64(), "int64": pa.bool_(),
        "float32": pa.float64(), "float64": pa.bool_(), "boolean": pa.int8(),
        "string": pa.int32(), "bigdecimal": pa.string(), "date": pa.string(),
        "optional": pa.int32(), "timestamp": pa.timestamp("ms", "UTC"), "bytes": pa.string(),
        "byteArray": pa.string()}
    assert fields["int16"].nullable and fields["optional"].nullable and not fields["int8"].nullable
    assert schema_info(fields["int32"]).default == 2
    assert schema_info(fields["float64"]).default is True
    assert schema_info(fields["timestamp"]).name == TIMESTAMP  # not cast: unchanged


def test_fields_schemaless():
    # CastTest.castFieldsSchemaless
    value = {"int8": 8, "int16": 16, "int32": 32, "int64": 64, "float32": 32.0, "float64": -64.0,
             "boolean": True, "string": "42"}
    out, failures = run(cast("int8:int16,int16:int32,int32:int64,int64:boolean,float32:float64,"
                             "float64:boolean,boolean:int8,string:int32"), bundle([value]))
    assert failures == [] and out.value_schema is None
    assert out.values.to_pylist() == [{"int8": 8, "int16": 16, "int32": 32, "int64": True,
                                       "float32": 32.0, "float64": True, "boolean": 1,
                                       "string": 42}]
    types = {f.name: f.type for f in out.values.type}
    assert types["boolean"] == pa.int8() and types["int8"] == pa.int16()
    assert types["string"] == pa.int32()


@pytest.mark.parametrize("replace, expected", [("false", None), ("true", "10")])
def test_field_with_default_value(replace, expected):
    # CastTest.castFieldWithDefaultValueRecordWithSchema
    schema = connect_field("value", pa.struct([
        connect_field("magic", pa.int32(), True, default=10),
        connect_field("other", pa.int32(), True, default=5)]), False)
    out, _ = run(cast("magic:string", replace_null_with_default=replace),
                 bundle([{"magic": None, "other": None}], schema))
    assert out.values.to_pylist() == [{"magic": expected,
                                       "other": None if replace == "false" else 5}]
    magic = out.value_schema.type.field("magic")
    assert magic.type == pa.string() and schema_info(magic).default == "10"


def test_only_the_bad_record_fails_schemaless():
    out, failures = run(cast("n:int32"), bundle([{"n": "1"}, {"n": "abc"}, {"n": "3"}, None]))
    assert failures == [(1, "Value (abc) was out of range for requested data type")]
    assert out.values.to_pylist() == [{"n": 1}, {"n": 3}, None]
    assert out.offsets == [0, 2, 3]


def test_only_the_bad_record_fails_with_schema():
    schema = connect_field("value", pa.struct([connect_field("n", pa.string(), True),
                                               connect_field("m", pa.string(), True)]), True)
    out, failures = run(cast("n:int8,m:int8"),
                        bundle([{"n": "1", "m": "2"}, {"n": "128", "m": "x"}, None,
                                {"n": None, "m": "-128"}], schema))
    assert failures == [(1, "Value (128) was out of range for requested data type")]
    assert out.values.to_pylist() == [{"n": 1, "m": 2}, None, {"n": None, "m": -128}]


def test_struct_field_cannot_be_cast():
    inner = pa.struct([connect_field("x", pa.int32(), True)])
    schema = connect_field("value", pa.struct([connect_field("s", inner, True)]), False)
    out, failures = run(cast("s:string"), bundle([{"s": {"x": 1}}, {"s": None}], schema))
    assert failures == [(0, "Cast transformation does not support casting from STRUCT; "
                            + SUPPORTED_FROM)]
    assert out.values.to_pylist() == [{"s": None}]


def test_bytes_only_to_string():
    schema = connect_field("value", pa.struct([connect_field("b", pa.binary(), True)]), False)
    out, failures = run(cast("b:int32"), bundle([{"b": b"x"}, {"b": None}], schema))
    assert failures == [(0, "Unexpected type in Cast transformation: class [B")]
    assert out.values.to_pylist() == [{"b": None}]


def test_unknown_fields_ignored_with_schema_and_added_schemaless():
    schema = connect_field("value", pa.struct([connect_field("a", pa.int64(), False)]), False)
    out, _ = run(cast("a:string,missing:int8"), bundle([{"a": 1}], schema))
    assert out.values.to_pylist() == [{"a": "1"}]
    out, _ = run(cast("a:string,missing:int8"), bundle([{"a": 1}]))
    # Connect's HashMap put: the schemaless value gains the field, null.
    assert out.values.to_pylist() == [{"a": "1", "missing": None}]
    assert out.values.type.field("missing").type == pa.int8()


def test_schemaless_field_cast_needs_a_map():
    out, failures = run(cast("a:string"), bundle([5, None]))
    assert failures == [(0, "Only Map objects supported in absence of schema for [cast types], "
                            "found: java.lang.Long")]
    assert out.values.to_pylist() == [None]


def test_field_cast_needs_a_struct_schema():
    out, failures = run(cast("a:string"), bundle([5, None], connect_field("value", pa.int64())))
    assert failures == [(0, "Cannot list fields on non-struct type")]


def test_struct_schema_basics_kept():
    schema = connect_field("value", pa.struct([connect_field("a", pa.int64(), False, doc="a")]),
                           True, schema_name="com.example.Order", version=2, doc="orders",
                           default={"a": 5})
    out, _ = run(cast("a:string"), bundle([{"a": 1}, None], schema))
    info = schema_info(out.value_schema)
    assert (info.name, info.version, info.doc) == ("com.example.Order", 2, "orders")
    assert info.default == {"a": "5"}
    assert out.value_schema.nullable
    assert out.values.to_pylist() == [{"a": "1"}, None]


def test_key_fields():
    records = bundle([1], keys=[{"id": 7}])
    out, _ = run(cast("id:string", side=KEY), records)
    assert out.keys.to_pylist() == [{"id": "7"}] and out.values.to_pylist() == [1]


def test_sliced_columns():
    records = bundle([{"a": 1.5, "b": b"ab"}, {"a": -2.5, "b": b"abc"}, {"a": None, "b": None},
                      {"a": 1e10, "b": b"a"}]).take([1, 2, 3])
    out, _ = run(cast("a:int32,b:string"), records)
    assert out.values.to_pylist() == [{"a": -2, "b": "YWJj"}, {"a": None, "b": None},
                                      {"a": 2147483647, "b": "YQ=="}]


def test_through_parse_chain():
    chain = parse_chain({"transforms": "c", "transforms.c.type": "Cast$Value",
                         "transforms.c.spec": "amount:int32, id:string"})
    result = chain.apply(bundle([{"id": 1, "amount": 9.99}, {"id": 2, "amount": -3.5}]))
    assert result.failures == ()
    assert result.bundle.values.to_pylist() == [{"id": "1", "amount": 9}, {"id": "2", "amount": -3}]
    result = chain.apply(bundle([{"id": 1, "amount": "9"}, {"id": 2, "amount": "x"}]))
    assert result.bundle.values.to_pylist() == [{"id": "1", "amount": 9}]
    [(index, step, error)] = result.failures
    assert (index, step.alias, str(error)) == (
        1, "c", "Value (x) was out of range for requested data type")


def test_parse_chain_config_error_names_full_key():
    with pytest.raises(ConfigError, match=re.escape("transforms.c.spec must use the types")):
        parse_chain({"transforms": "c", "transforms.c.type": "Cast$Key",
                     "transforms.c.spec": "id:uuid"})


# ------------------------------------------------------------------------------ Java's semantics

def test_boolean_to_int8_is_one():
    out, errors = cast_values(pa.array([True, False, None]), "INT8")
    assert out.type == pa.int8() and out.to_pylist() == [1, 0, None] and errors == {}


def test_floating_point_to_integers():
    values = pa.array([300.7, -129.9, 1e10, -1e10, float("nan"), 0.9, -0.9, None, 1e19, -1e19])
    assert one(values, "INT8") == [44, 127, -1, 0, 0, 0, 0, None, -1, 0]
    assert one(values, "INT16") == [300, -129, -1, 0, 0, 0, 0, None, -1, 0]
    assert one(values, "INT32") == [300, -129, 2147483647, -2147483648, 0, 0, 0, None, 2147483647,
                                    -2147483648]
    assert one(values, "INT64") == [300, -129, 10 ** 10, -10 ** 10, 0, 0, 0, None, 2 ** 63 - 1,
                                    -2 ** 63]


def test_integers_wrap():
    values = pa.array([300, -129, 2 ** 40 + 5, None], pa.int64())
    assert one(values, "INT8") == [44, 127, 5, None]
    assert one(values, "INT32") == [300, -129, 5, None]


def test_decimals_truncate_and_wrap():
    values = pa.array([decimal.Decimal("2147483648.0"), decimal.Decimal("-2.7"),
                       decimal.Decimal("0.5"), decimal.Decimal("18446744073709551621.0")],
                      pa.decimal128(38, 1))
    assert one(values, "INT32") == [-2147483648, -2, 0, 5]
    assert one(values, "INT64") == [2147483648, -2, 0, 5]
    assert one(values, "BOOLEAN") == [True, True, False, True]
    assert one(values, "STRING") == ["2147483648.0", "-2.7", "0.5", "18446744073709551621.0"]


def test_numbers_to_boolean():
    assert one(pa.array([0.5, -1.0, 0.0, float("nan"), 1e300]), "BOOLEAN") == [
        False, True, False, False, True]
    assert one(pa.array([0, 2, -1], pa.int8()), "BOOLEAN") == [False, True, True]


def test_strings_to_boolean():
    assert one(pa.array(["true", "TRUE", "True", "yes", "1", "", None]), "BOOLEAN") == [
        True, True, True, False, False, False, None]


def test_strings_to_integers():
    values = pa.array(["42", "+42", "-42", "042", "-0", "127", "00000000000000000000000042",
                       "9223372036854775807"])
    out, errors = cast_values(values, "INT64")
    assert errors == {} and out.to_pylist() == [42, 42, -42, 42, 0, 127, 42, 2 ** 63 - 1]
    out, errors = cast_values(pa.array([" 42", "4.2", "1e3", "", "+", "128", "9223372036854775808"]),
                              "INT8")
    assert sorted(errors) == list(range(7))
    assert errors[5] == "Value (128) was out of range for requested data type"


def test_strings_to_floating_point():
    values = pa.array(["1.5", " 1.5 ", "1.5f", "2D", ".5", "5.", "1e3", "NaN", "-Infinity",
                       "0x1.8p1", "1e999"])
    out = one(values, "FLOAT64")
    assert out[:7] == [1.5, 1.5, 1.5, 2.0, 0.5, 5.0, 1000.0]
    assert out[7] != out[7] and out[8] == float("-inf") and out[9] == 3.0
    assert out[10] == float("inf")
    _, errors = cast_values(pa.array(["inf", "nan", "1_0", "abc", "1.2.3", "e5"]), "FLOAT32")
    assert sorted(errors) == list(range(6))
    assert errors[3] == "Value (abc) was out of range for requested data type"


def test_floating_point_to_string_as_java():
    values = pa.array([1.0, -0.0, 100.0, 0.001, 1234.5678, 9999999.5, 1e7, 12345678.5, 1e10,
                       1.5e-5, 9.99e-4, 1e-7, 1e22, 1.7976931348623157e308, float("nan"),
                       float("inf"), float("-inf"), None])
    assert java_float_strings(values).to_pylist() == [
        "1.0", "-0.0", "100.0", "0.001", "1234.5678", "9999999.5", "1.0E7", "1.23456785E7",
        "1.0E10", "1.5E-5", "9.99E-4", "1.0E-7", "1.0E22", "1.7976931348623157E308", "NaN",
        "Infinity", "-Infinity", None]
    assert java_float_strings(pa.array([0.1, 3.4e38, 16777216.0], pa.float32())).to_pylist() == [
        "0.1", "3.4E38", "1.6777216E7"]


def test_bytes_to_base64():
    values = pa.array([b"", b"a", b"ab", b"abc", b"abcd", None, bytes(range(256))])
    expected = ["", "YQ==", "YWI=", "YWJj", "YWJjZA==", None]
    expected.append(base64.b64encode(bytes(range(256))).decode())
    assert one(values, "STRING") == expected


def test_timestamps_to_string_by_instant():
    values = pa.array([0, 3_600_000, -1, MILLIS_PER_DAY, MILLIS_PER_DAY + 1, None],
                      pa.int64()).cast(pa.timestamp("ms", "UTC"))
    assert one(values, "STRING") == ["00:00:00.000Z", "01:00:00.000Z", "23:59:59.999Z",
                                     "1970-01-02", "1970-01-02T00:00:00.001Z", None]


def test_schemaless_logical_values_are_not_connect_data():
    _, errors = cast_values(pa.array([decimal.Decimal(1)]), "INT8", schemaless=True)
    assert errors == {0: "Cast transformation was passed a value of type class java.math.BigDecimal "
                         "which is not supported by Connect's data API"}


def test_all_null_column():
    out, errors = cast_values(pa.nulls(2), "INT16")
    assert out.type == pa.int16() and out.to_pylist() == [None, None] and errors == {}
