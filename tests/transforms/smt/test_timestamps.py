"""TimestampConverter and TimestampRouter, as Kafka Connect's TimestampConverterTest and
TimestampRouterTest expect."""

import datetime
import re

import pyarrow as pa
import pytest

from common.errors import ConfigError
from tests.transforms.smt.bundles import bundle
from transforms.schema import DATE, TIME, TIMESTAMP, connect_field, schema_info
from transforms.smt import parse_chain
from transforms.smt.base import KEY, VALUE
from transforms.smt.timestamps import TimestampConverter, TimestampRouter

UTC = datetime.timezone.utc
FORMAT = "yyyy MM dd HH mm ss SSS z"
DATE_PLUS_TIME_UNIX = 86_401_234
DATE_PLUS_TIME = datetime.datetime(1970, 1, 2, 0, 0, 1, 234000, tzinfo=UTC)
DATE_PLUS_TIME_STRING = "1970 01 02 00 00 01 234 UTC"
DAY = datetime.date(1970, 1, 2)
TIME_OF_DAY = datetime.time(0, 0, 1, 234000)

TIMESTAMP_FIELD = connect_field("value", pa.timestamp("ms", "UTC"), False, schema_name=TIMESTAMP,
                                version=1)
DATE_FIELD = connect_field("value", pa.date32(), False, schema_name=DATE, version=1)
TIME_FIELD = connect_field("value", pa.time32("ms"), False, schema_name=TIME, version=1)


def converter(side=VALUE, **props):
    return TimestampConverter("ts", {k.replace("_", "."): v for k, v in props.items()}, side)


def run(transform, records):
    result = transform.apply(records)
    return result.bundle, [(i, str(e)) for i, e in result.failures]


def describe(schema):
    info = schema_info(schema)
    return schema.type, schema.nullable, info.name, info.version


# ------------------------------------------------------------------------------------------- config

@pytest.mark.parametrize("props, message", [
    ({}, "transforms.ts.target.type is required"),
    ({"target.type": "invalid"}, "transforms.ts.target.type must be one of 'string', 'unix', "
                                 "'Date', 'Time', 'Timestamp', got 'invalid'"),
    ({"target.type": "unix", "unix.precision": "invalid"},
     "transforms.ts.unix.precision must be one of 'seconds', 'milliseconds', 'microseconds', "
     "'nanoseconds', got 'invalid'"),
    ({"target.type": "string"}, "transforms.ts.format is required when transforms.ts.target.type "
                                "is 'string', got '': TimestampConverter requires format option to "
                                "be specified when using string timestamps"),
    ({"target.type": "string", "format": "bad-format"},
     "transforms.ts.format must be a java.text.SimpleDateFormat pattern using the letters "
     "y M d H h k K m s S a E D z Z X, got 'bad-format': Illegal pattern character 'b'"),
    ({"target.type": "Timestamp", "format": "yyyy-ww"},
     "transforms.ts.format must be a java.text.SimpleDateFormat pattern using the letters "
     "y M d H h k K m s S a E D z Z X, got 'yyyy-ww': 'w' (week in year) is not supported"),
])
def test_config_errors(props, message):
    # TimestampConverterTest.testConfigNoTargetType ... testConfigInvalidFormat
    with pytest.raises(ConfigError, match=re.escape(message)):
        TimestampConverter("ts", props, VALUE)


def test_config_valid_unix_precision():
    converter(target_type="unix", unix_precision="seconds")


# ------------------------------------------------------------------------------------- schemaless

@pytest.mark.parametrize("target, expected, arrow_type", [
    ("Timestamp", DATE_PLUS_TIME, pa.timestamp("ms", "UTC")),
    ("Date", DAY, pa.date32()),
    ("Time", TIME_OF_DAY, pa.time32("ms")),
    ("unix", DATE_PLUS_TIME_UNIX, pa.int64()),
    ("string", DATE_PLUS_TIME_STRING, pa.string()),
])
def test_schemaless_timestamp_to(target, expected, arrow_type):
    # TimestampConverterTest.testSchemalessIdentity, ...TimestampToDate/Time/Unix/String
    records = bundle([None])
    records.values = pa.array([DATE_PLUS_TIME], pa.timestamp("ms", "UTC"))
    out, failures = run(converter(target_type=target, format=FORMAT), records)
    assert failures == [] and out.value_schema is None
    assert out.values.type == arrow_type and out.values.to_pylist() == [expected]


@pytest.mark.parametrize("values, arrow_type", [
    ([DAY], pa.date32()), ([TIME_OF_DAY], pa.time32("ms")), ([DATE_PLUS_TIME_UNIX], pa.int64()),
    ([DATE_PLUS_TIME_STRING], pa.string()),
])
def test_schemaless_to_timestamp(values, arrow_type):
    # TimestampConverterTest.testSchemalessDateToTimestamp, ...TimeTo, UnixTo, StringToTimestamp
    records = bundle([None])
    records.values = pa.array(values, arrow_type)
    out, _ = run(converter(target_type="Timestamp", format=FORMAT), records)
    expected = {pa.date32(): datetime.datetime(1970, 1, 2, tzinfo=UTC),
                pa.time32("ms"): datetime.datetime(1970, 1, 1, 0, 0, 1, 234000, tzinfo=UTC)}
    assert out.values.to_pylist() == [expected.get(arrow_type, DATE_PLUS_TIME)]


@pytest.mark.parametrize("target", ["string", "Date", "Timestamp", "unix", "Time"])
def test_schemaless_null_value_and_field(target):
    # TimestampConverterTest.testSchemalessNullValueTo*
    out, failures = run(converter(target_type=target, format=FORMAT), bundle([None]))
    assert failures == [] and out.values.to_pylist() == [None] and out.value_schema is None
    out, failures = run(converter(target_type=target, format=FORMAT, field="ts"), bundle([None]))
    assert failures == [] and out.values.to_pylist() == [None]


def test_schemaless_field_conversion():
    # TimestampConverterTest.testSchemalessFieldConversion
    out, _ = run(converter(target_type="Date", field="ts"),
                 bundle([{"ts": DATE_PLUS_TIME_UNIX, "other": "x"}, {"ts": None, "other": "y"}]))
    assert out.values.to_pylist() == [{"ts": DAY, "other": "x"}, {"ts": None, "other": "y"}]
    assert out.values.type.field("ts").type == pa.date32()


def test_schemaless_missing_field_is_put_null():
    out, _ = run(converter(target_type="unix", field="ts"), bundle([{"other": 1}]))
    assert out.values.to_pylist() == [{"other": 1, "ts": None}]


@pytest.mark.parametrize("precision, expected", [
    ("microseconds", 86_401_234_000), ("nanoseconds", 86_401_234_000_000),
    ("seconds", 86_401), ("milliseconds", 86_401_234)])
def test_schemaless_string_to_unix(precision, expected):
    # TimestampConverterTest.testSchemalessStringToUnix_Micros/_Nanos/_Seconds
    out, _ = run(converter(target_type="unix", unix_precision=precision, format=FORMAT),
                 bundle([DATE_PLUS_TIME_STRING]))
    assert out.values.to_pylist() == [expected]


def test_schemaless_unsupported_type_fails_only_that_record():
    out, failures = run(converter(target_type="Timestamp", field="ts"),
                        bundle([{"ts": 1.5}, None]))
    assert failures == [(0, "TimestampConverter does not support class java.lang.Double objects "
                            "as timestamps")]
    assert out.values.to_pylist() == [None]


def test_unparseable_string_fails_only_that_record():
    out, failures = run(converter(target_type="unix", format="yyyy-MM-dd", field="day"),
                        bundle([{"day": "2024-02-30"}, {"day": "soon"}, {"day": None}]))
    assert failures == [(1, "Could not parse timestamp: value (soon) does not match pattern "
                            "(yyyy-MM-dd)")]
    # SimpleDateFormat is lenient: February 30th is March 1st.
    march_first = int(datetime.datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)
    assert out.values.to_pylist() == [{"day": march_first}, {"day": None}]


def test_string_without_format_fails_records():
    out, failures = run(converter(target_type="unix"), bundle(["2024"]))
    assert failures == [(0, "TimestampConverter requires format option to be specified when using "
                            "string timestamps")]


def test_schemaless_field_needs_a_map():
    _, failures = run(converter(target_type="unix", field="ts"), bundle([5]))
    assert failures == [(0, "Only Map objects supported in absence of schema for [converting "
                            "timestamp formats], found: java.lang.Long")]


# ---------------------------------------------------------------------------------------- schemas

@pytest.mark.parametrize("target, expected, schema", [
    ("Timestamp", DATE_PLUS_TIME, (pa.timestamp("ms", "UTC"), False, TIMESTAMP, 1)),
    ("Date", DAY, (pa.date32(), False, DATE, 1)),
    ("Time", TIME_OF_DAY, (pa.time32("ms"), False, TIME, 1)),
    ("unix", DATE_PLUS_TIME_UNIX, (pa.int64(), False, None, None)),
    ("string", DATE_PLUS_TIME_STRING, (pa.string(), False, None, None)),
])
def test_with_schema_timestamp_to(target, expected, schema):
    # TimestampConverterTest.testWithSchemaIdentity, ...TimestampToDate/Time/Unix/String
    out, _ = run(converter(target_type=target, format=FORMAT),
                 bundle([DATE_PLUS_TIME], TIMESTAMP_FIELD))
    assert out.values.to_pylist() == [expected]
    assert describe(out.value_schema) == schema


@pytest.mark.parametrize("field, value", [
    (DATE_FIELD, DAY), (TIME_FIELD, TIME_OF_DAY),
    (connect_field("value", pa.int64(), False), DATE_PLUS_TIME_UNIX),
    (connect_field("value", pa.string(), False), DATE_PLUS_TIME_STRING),
])
def test_with_schema_to_timestamp(field, value):
    # TimestampConverterTest.testWithSchemaDateToTimestamp, ...TimeTo, UnixTo, StringToTimestamp
    out, _ = run(converter(target_type="Timestamp", format=FORMAT), bundle([value], field))
    expected = {DAY: datetime.datetime(1970, 1, 2, tzinfo=UTC),
                TIME_OF_DAY: datetime.datetime(1970, 1, 1, 0, 0, 1, 234000, tzinfo=UTC)}
    assert out.values.to_pylist() == [expected.get(value, DATE_PLUS_TIME)]
    assert describe(out.value_schema) == (pa.timestamp("ms", "UTC"), False, TIMESTAMP, 1)


@pytest.mark.parametrize("target, arrow_type", [
    ("Timestamp", pa.timestamp("ms", "UTC")), ("Time", pa.time32("ms")), ("Date", pa.date32()),
    ("string", pa.string()), ("unix", pa.int64())])
@pytest.mark.parametrize("source", [pa.int64(), pa.time32("ms"), pa.date32(), pa.string(),
                                    pa.timestamp("ms", "UTC")])
def test_with_schema_null_value_and_field(target, arrow_type, source):
    # TimestampConverterTest.testWithSchemaNullValueTo*, testWithSchemaNullFieldTo*
    out, failures = run(converter(target_type=target, format=FORMAT),
                        bundle([None], connect_field("value", source, True)))
    assert failures == [] and out.values.to_pylist() == [None]
    assert out.value_schema.type == arrow_type and out.value_schema.nullable
    struct = pa.struct([connect_field("ts", source, True), connect_field("other", pa.string(), False)])
    out, failures = run(converter(target_type=target, format=FORMAT, field="ts"),
                        bundle([{"ts": None, "other": "test"}, None],
                               connect_field("value", struct, True)))
    assert failures == []
    assert out.values.to_pylist() == [{"ts": None, "other": "test"}, None]
    ts = out.value_schema.type.field("ts")
    assert ts.type == arrow_type and ts.nullable
    assert out.value_schema.type.field("other").type == pa.string()


def test_with_schema_field_conversion():
    # TimestampConverterTest.testWithSchemaFieldConversion
    struct = pa.struct([connect_field("ts", pa.int64(), False),
                        connect_field("other", pa.string(), False)])
    out, _ = run(converter(target_type="Timestamp", field="ts"),
                 bundle([{"ts": DATE_PLUS_TIME_UNIX, "other": "test"}],
                        connect_field("value", struct, False)))
    assert out.values.to_pylist() == [{"ts": DATE_PLUS_TIME, "other": "test"}]
    assert describe(out.value_schema.type.field("ts")) == (
        pa.timestamp("ms", "UTC"), False, TIMESTAMP, 1)


@pytest.mark.parametrize("replace, expected", [
    ("false", None), ("true", datetime.datetime(1970, 1, 1, tzinfo=UTC))])
def test_with_schema_null_field_with_default(replace, expected):
    # TimestampConverterTest.testWithSchemaNullFieldWithDefaultConversion
    struct = pa.struct([connect_field("ts", pa.int64(), True, default=0),
                        connect_field("other", pa.string(), False)])
    out, _ = run(converter(target_type="Timestamp", field="ts", replace_null_with_default=replace),
                 bundle([{"ts": None, "other": "test"}], connect_field("value", struct, False)))
    assert out.values.to_pylist() == [{"ts": expected, "other": "test"}]
    ts = out.value_schema.type.field("ts")
    assert ts.nullable and not schema_info(ts).has_default


@pytest.mark.parametrize("precision, value", [
    ("microseconds", 86_401_234_123), ("nanoseconds", 86_401_234_123_456), ("seconds", 86_401)])
def test_with_schema_field_precision(precision, value):
    # TimestampConverterTest.testWithSchemaFieldConversion_Micros/_Nanos/_Seconds
    struct = pa.struct([connect_field("ts", pa.int64(), False)])
    out, _ = run(converter(target_type="Timestamp", field="ts", unix_precision=precision),
                 bundle([{"ts": value}], connect_field("value", struct, False)))
    expected = DATE_PLUS_TIME if precision != "seconds" else datetime.datetime(
        1970, 1, 2, 0, 0, 1, tzinfo=UTC)
    assert out.values.to_pylist() == [{"ts": expected}]


def test_unix_precision_truncates_toward_zero_and_saturates():
    instants = [datetime.datetime(1969, 12, 31, 23, 59, 58, 500000, tzinfo=UTC),
                datetime.datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC)]
    out, _ = run(converter(target_type="unix", unix_precision="seconds"),
                 bundle(instants, TIMESTAMP_FIELD))
    assert out.values.to_pylist() == [-1, 1]  # TimeUnit.MILLISECONDS.toSeconds
    out, _ = run(converter(target_type="Timestamp", unix_precision="microseconds"),
                 bundle([-1500], connect_field("value", pa.int64(), False)))
    assert out.values.cast(pa.int64()).to_pylist() == [-1]
    records = bundle([None, None], TIMESTAMP_FIELD)
    records.values = pa.array([2 ** 62, -2 ** 62], pa.int64()).cast(pa.timestamp("ms", "UTC"))
    out, _ = run(converter(target_type="unix", unix_precision="nanoseconds"), records)
    assert out.values.to_pylist() == [2 ** 63 - 1, -2 ** 63]  # TimeUnit.MILLISECONDS.toNanos


def test_with_schema_unknown_type_fails():
    out, failures = run(converter(target_type="Timestamp"),
                        bundle([5, None], connect_field("value", pa.int32(), True)))
    assert failures == [(0, "Schema Schema{INT32} does not correspond to a known timestamp type "
                            "format")]
    assert out.values.to_pylist() == [None]
    struct = pa.struct([connect_field("ts", pa.float64(), True)])
    converter_ = converter(target_type="Timestamp", field="ts")
    result = converter_.apply(bundle([{"ts": None}], connect_field("value", struct, False)))
    # Connect reads the field's schema even when the field is null.
    assert str(result.failures[0][1]).startswith("Schema Schema{FLOAT64} does not correspond")
    assert result.failures[0][1].java_class == "org.apache.kafka.connect.errors.ConnectException"
    named = connect_field("value", pa.int32(), False, schema_name="com.example.Id")
    _, failures = run(converter(target_type="unix"), bundle([5], named))
    assert failures == [(0, "Schema Schema{com.example.Id:INT32} does not correspond to a known "
                            "timestamp type format")]


def test_struct_schema_basics_and_other_fields_kept():
    struct = pa.struct([connect_field("ts", pa.string(), True, doc="when"),
                        connect_field("n", pa.int32(), True, default=3)])
    schema = connect_field("value", struct, True, schema_name="com.example.Event", version=4,
                           doc="events", default={"ts": "2024-01-02", "n": 1})
    out, _ = run(converter(target_type="Date", field="ts", format="yyyy-MM-dd"),
                 bundle([{"ts": "2024-05-06", "n": None}], schema))
    assert out.values.to_pylist() == [{"ts": datetime.date(2024, 5, 6), "n": 3}]
    info = schema_info(out.value_schema)
    assert (info.name, info.version, info.doc) == ("com.example.Event", 4, "events")
    assert info.default == {"ts": datetime.date(2024, 1, 2), "n": 1}
    n = out.value_schema.type.field("n")
    assert schema_info(n).default == 3


def test_key():
    # TimestampConverterTest.testKey
    records = bundle([None], keys=[None])
    records.keys = pa.array([DATE_PLUS_TIME], pa.timestamp("ms", "UTC"))
    out, _ = run(converter(side=KEY, target_type="Timestamp"), records)
    assert out.key_schema is None and out.keys.to_pylist() == [DATE_PLUS_TIME]


def test_converter_through_parse_chain():
    chain = parse_chain({"transforms": "ts", "transforms.ts.type":
                         "org.apache.kafka.connect.transforms.TimestampConverter$Value",
                         "transforms.ts.field": "at", "transforms.ts.target.type": "string",
                         "transforms.ts.format": "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"})
    result = chain.apply(bundle([{"at": 1_700_000_000_123}]))
    assert result.bundle.values.to_pylist() == [{"at": "2023-11-14T22:13:20.123Z"}]


# ---------------------------------------------------------------------------------------- router

def router(**props):
    return TimestampRouter("route", {k.replace("_", "."): v for k, v in props.items()})


def test_router_default_configuration():
    # TimestampRouterTest.defaultConfiguration
    out = router().apply(bundle([None], topic="test", timestamps=[1483425001864])).bundle
    assert out.topics == ["test-20170103"]


def test_router_formats_and_current_target_topics():
    records = bundle([1, 2, 3], topic="orders",
                     timestamps=[1483425001864, 1700000000123, 1483425001864])
    records.topics = ["a", "b", "a"]
    out = router(topic_format="${topic}_${timestamp}_${timestamp}",
                 timestamp_format="yyyy-MM-dd'T'HH").apply(records).bundle
    assert out.topics == ["a_2017-01-03T06_2017-01-03T06", "b_2023-11-14T22_2023-11-14T22",
                          "a_2017-01-03T06_2017-01-03T06"]
    out = router(topic_format="archive").apply(records).bundle
    assert out.topics == ["archive"] * 3


def test_router_topic_holding_timestamp_placeholder():
    out = router().apply(bundle([1], topic="x${timestamp}", timestamps=[0])).bundle
    assert out.topics == ["x19700101-19700101"]  # Connect replaces ${topic} first


def test_router_missing_timestamp_fails_only_that_record():
    result = router().apply(bundle([1, 2], topic="t", timestamps=[None, 0]))
    assert [(i, str(e)) for i, e in result.failures] == [
        (0, "Timestamp missing on record: topic=t partition=0 offset=0")]
    assert result.bundle.topics == ["t-19700101"] and result.bundle.offsets == [1]


def test_router_config_error():
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.route.timestamp.format must be a java.text.SimpleDateFormat pattern using "
            "the letters y M d H h k K m s S a E D z Z X, got \"yyyy'\": Unterminated quote")):
        router(timestamp_format="yyyy'")


def test_router_through_parse_chain():
    chain = parse_chain({"transforms": "route", "transforms.route.type": "TimestampRouter",
                         "transforms.route.timestamp.format": "yyyyMM"})
    result = chain.apply(bundle([1], topic="t", timestamps=[1483425001864]))
    assert result.bundle.topics == ["t-201701"]
    with pytest.raises(ConfigError, match=re.escape("must be one of the transforms")):
        parse_chain({"transforms": "route", "transforms.route.type": "TimestampRouter$Value"})
