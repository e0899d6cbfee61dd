"""Unit tests of the Kafka Connect converters (``transforms.converters``)."""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import pickle
import random
import re

import orjson
import pyarrow as pa
import pytest

from common.errors import ConfigError
from transforms.converters import (
    CONVERTERS, ByteArrayConverter, Conversion, Converter, JsonConverter, StringConverter, arrow_field,
    arrow_type, make_converter)
from transforms.converters import connect_schema
from transforms.converters.json import ENVELOPE_REQUIRED
from transforms.converters.json_lines import read_objects
from transforms.converters.json_schemaless import from_python

DECIMAL = "org.apache.kafka.connect.data.Decimal"
DATE = "org.apache.kafka.connect.data.Date"
TIME = "org.apache.kafka.connect.data.Time"
TIMESTAMP = "org.apache.kafka.connect.data.Timestamp"
PRECISION = "connect.decimal.precision"
UTC = datetime.timezone.utc


def schemaless():
    return make_converter("value.converter", "JsonConverter", {"schemas.enable": "false"})


def with_schemas(**props):
    return make_converter("value.converter", "JsonConverter", props)


def envelope(schema, payload) -> bytes:
    return orjson.dumps({"schema": schema, "payload": payload})


def struct(*fields, **extra):
    return {"type": "struct", "fields": [dict(f) for f in fields], **extra}


def field(field_name, type_name, /, **extra):
    return {"field": field_name, "type": type_name, **extra}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decimal_bytes(unscaled: int) -> str:
    return b64(unscaled.to_bytes(max(1, (unscaled.bit_length() + 8) // 8), "big", signed=True))


def user(i: int) -> bytes:
    return orjson.dumps({
        "id": i, "name": "user-%d" % i, "email": "user-%d@example.com" % i, "amount": i * 1.25,
        "active": i % 2 == 0, "created": "2024-05-01T12:%02d:00Z" % (i % 60),
        "address": {"city": "Lyon", "zip": "69001"}, "tags": ["a", "b"], "plan": "premium"})


# Registry and configuration.

@pytest.mark.parametrize("name, cls", [
    ("org.apache.kafka.connect.converters.ByteArrayConverter", ByteArrayConverter),
    ("org.apache.kafka.connect.storage.StringConverter", StringConverter),
    ("org.apache.kafka.connect.json.JsonConverter", JsonConverter),
    ("ByteArrayConverter", ByteArrayConverter),
    ("StringConverter", StringConverter),
    ("JsonConverter", JsonConverter),
    ("bytearray", ByteArrayConverter),
    ("string", StringConverter),
    ("json", JsonConverter),
])
def test_every_name_makes_its_converter(name, cls):
    converter = make_converter("key.converter", name, {})
    assert type(converter) is cls
    assert isinstance(converter, Converter)
    assert CONVERTERS[name] is cls


def test_unknown_class_name_lists_the_short_names():
    msg = ("value.converter must be one of 'ByteArrayConverter', 'StringConverter', 'JsonConverter', "
           "'AvroConverter', 'JsonSchemaConverter', 'ProtobufConverter', got 'io.example.XmlConverter'")
    with pytest.raises(ConfigError, match=re.escape(msg)):
        make_converter("value.converter", "io.example.XmlConverter", {})


def test_names_are_case_sensitive():
    with pytest.raises(ConfigError, match=re.escape("got 'jsonconverter'")):
        make_converter("key.converter", "jsonconverter", {})


@pytest.mark.parametrize("props, msg", [
    ({"schemas.enable": "maybe"}, "value.converter.schemas.enable must be 'true' or 'false', got 'maybe'"),
    ({"replace.null.with.default": "1"},
     "value.converter.replace.null.with.default must be 'true' or 'false', got '1'"),
    ({"schemas.cache.size": "-1"},
     "value.converter.schemas.cache.size must be at least 0, got '-1'"),
    ({"schemas.cache.size": "many"},
     "value.converter.schemas.cache.size must be an integer, got 'many'"),
    ({"decimal.format": "HEX"},
     "value.converter.decimal.format must be one of 'BASE64', 'NUMERIC', got 'HEX'"),
])
def test_bad_sub_key_values(props, msg):
    with pytest.raises(ConfigError, match=re.escape(msg)):
        make_converter("value.converter", "JsonConverter", props)


def test_sub_key_values_are_read_as_connect_reads_them():
    converter = make_converter("value.converter", "JsonConverter", {
        "schemas.enable": " FALSE ", "schemas.cache.size": "5", "decimal.format": "numeric",
        "replace.null.with.default": "True"})
    assert converter.schemas_enable is False
    assert converter.schemas_cache_size == 5
    assert converter.decimal_format == "NUMERIC"
    assert converter.replace_null_with_default is True


def test_json_defaults():
    converter = make_converter("value.converter", "json", {})
    assert (converter.schemas_enable, converter.schemas_cache_size, converter.decimal_format,
            converter.replace_null_with_default) == (True, 1000, "BASE64", True)


def test_unknown_sub_key_names_the_full_key_and_the_allowed_ones():
    msg = ("value.converter.schema.enable is not a setting of JsonConverter; allowed sub-keys are "
           "'schemas.enable', 'schemas.cache.size', 'decimal.format', 'replace.null.with.default'")
    with pytest.raises(ConfigError, match=re.escape(msg)):
        make_converter("value.converter", "JsonConverter", {"schema.enable": "false"})


def test_byte_array_converter_takes_no_sub_keys():
    msg = "key.converter.converter.encoding is not a setting of ByteArrayConverter; it takes no sub-keys"
    with pytest.raises(ConfigError, match=re.escape(msg)):
        make_converter("key.converter", "ByteArrayConverter", {"converter.encoding": "UTF-8"})


def test_unknown_encoding():
    msg = "key.converter.converter.encoding must be a character encoding, got 'klingon'"
    with pytest.raises(ConfigError, match=re.escape(msg)):
        make_converter("key.converter", "StringConverter", {"converter.encoding": "klingon"})
    with pytest.raises(ConfigError, match=re.escape("got 'zlib'")):
        make_converter("key.converter", "StringConverter", {"converter.encoding": "zlib"})


@pytest.mark.parametrize("name, props", [
    ("ByteArrayConverter", {}), ("StringConverter", {"converter.encoding": "latin-1"}),
    ("JsonConverter", {"schemas.enable": "false"}), ("JsonConverter", {})])
def test_converters_pickle(name, props):
    converter = make_converter("value.converter", name, props)
    if name == "JsonConverter" and not props:
        converter.convert([envelope({"type": "string"}, "warm the cache")])
    clone = pickle.loads(pickle.dumps(converter))
    assert type(clone) is type(converter)
    assert clone.convert([None]).values.to_pylist() == [None]


# ByteArrayConverter and StringConverter.

def test_byte_array_passes_bytes_through_and_tombstones_are_null():
    conversion = make_converter("value.converter", "bytearray", {}).convert([b"\x00\xff", None, b""])
    assert conversion == Conversion(conversion.values)
    assert conversion.values.type == pa.binary()
    assert conversion.values.to_pylist() == [b"\x00\xff", None, b""]


def test_string_utf8():
    conversion = make_converter("key.converter", "string", {}).convert(["café".encode(), None, b""])
    assert conversion.values.type == pa.string()
    assert conversion.values.to_pylist() == ["café", None, ""]
    assert conversion.failures == ()


def test_string_bad_utf8_is_a_failure_and_the_others_convert():
    data = [b"ok", b"\xff\xfe", None, "žluť".encode(), b"\xc3"]
    converter = make_converter("key.converter", "StringConverter", {"converter.encoding": "utf8"})
    conversion = converter.convert(data)
    assert conversion.values.to_pylist() == ["ok", None, "žluť"]
    assert [i for i, _ in conversion.failures] == [1, 4]
    assert conversion.failures[0][1].startswith("not valid UTF-8: 'utf-8' codec can't decode byte 0xff")


def test_string_latin1():
    converter = make_converter("value.converter", "StringConverter",
                               {"converter.encoding": "ISO-8859-1"})
    conversion = converter.convert([b"caf\xe9", None])
    assert conversion.values.to_pylist() == ["café", None]
    assert conversion.failures == ()


def test_string_other_encoding_failure():
    converter = make_converter("value.converter", "StringConverter", {"converter.encoding": "ascii"})
    conversion = converter.convert([b"abc", b"caf\xe9"])
    assert conversion.values.to_pylist() == ["abc"]
    assert conversion.failures[0][0] == 1
    assert conversion.failures[0][1].startswith("not valid ascii: ")


# JsonConverter without schemas.

def test_schemaless_varying_and_nested_fields_are_all_kept():
    data = [b'{"id": 1, "name": "a", "address": {"city": "Lyon"}}',
            None,
            b'{"id": 2, "price": 2.5, "address": {"zip": "69001", "geo": {"lat": 45.7}}, "tags": ["x"]}',
            b'{"id": 3, "extra": null, "flag": true}']
    conversion = schemaless().convert(data)
    assert conversion.failures == ()
    values = conversion.values
    assert isinstance(values, pa.StructArray)
    assert [f.name for f in values.type] == ["id", "name", "address", "price", "tags", "extra", "flag"]
    assert values.type.field("id").type == pa.int64()
    assert values.type.field("price").type == pa.float64()
    assert values.to_pylist() == [
        {"id": 1, "name": "a", "address": {"city": "Lyon", "zip": None, "geo": None}, "price": None,
         "tags": None, "extra": None, "flag": None},
        None,
        {"id": 2, "name": None, "address": {"city": None, "zip": "69001", "geo": {"lat": 45.7}},
         "price": 2.5, "tags": ["x"], "extra": None, "flag": None},
        {"id": 3, "name": None, "address": None, "price": None, "tags": None, "extra": None,
         "flag": True},
    ]
    table = pa.Table.from_batches([pa.RecordBatch.from_struct_array(values)])
    assert table.num_rows == 4


def test_schemaless_iso_strings_stay_strings():
    data = [b'{"at": "2024-01-02T03:04:05Z", "day": "2024-01-02"}',
            b'{"at": "2024-01-03T00:00:00Z", "n": {"when": "2024-02-01"}}']
    values = schemaless().convert(data).values
    assert values.type == pa.struct([("at", pa.string()), ("day", pa.string()),
                                     ("n", pa.struct([("when", pa.string())]))])
    assert values.to_pylist()[0]["at"] == "2024-01-02T03:04:05Z"


def test_schemaless_invalid_json_is_a_failure_and_the_others_convert():
    data = [b'{"a": 1}', b'{"a": 2', None, b"", b'{"a": 3}']
    conversion = schemaless().convert(data)
    assert conversion.values.to_pylist() == [{"a": 1}, None, {"a": 3}]
    assert [i for i, _ in conversion.failures] == [1, 3]
    assert all(reason.startswith("not valid JSON: ") for _, reason in conversion.failures)


def test_schemaless_nan_is_not_json():
    conversion = schemaless().convert([b'{"a": 1.5}', b'{"a": NaN}'])
    assert conversion.values.to_pylist() == [{"a": 1.5}]
    assert conversion.failures[0][0] == 1


def test_schemaless_type_conflict_fails_only_the_conflicting_records():
    data = [b'{"x": 1, "y": "a"}', b'{"x": "one"}', b'{"x": 2.5}', b'{"y": {"z": 1}}', b'[1, 2]']
    conversion = schemaless().convert(data)
    assert conversion.values.type == pa.struct([("x", pa.float64()), ("y", pa.string())])
    assert conversion.values.to_pylist() == [{"x": 1.0, "y": "a"}, {"x": 2.5, "y": None}]
    assert conversion.failures == (
        (1, "field 'x' is string here but int64 in earlier records"),
        (3, "field 'y' is struct here but string in earlier records"),
        (4, "the value is list here but struct in earlier records"),
    )


def test_schemaless_nested_conflict_names_the_path():
    conversion = schemaless().convert([b'{"a": {"b": [1]}}', b'{"a": {"b": ["s"]}}'])
    assert conversion.failures == ((1, "field 'a.b[]' is string here but int64 in earlier records"),)


def test_schemaless_values_other_than_objects():
    conversion = schemaless().convert([b"1", b"null", b"-7", None])
    assert conversion.values.type == pa.int64()
    assert conversion.values.to_pylist() == [1, None, -7, None]
    conversion = schemaless().convert([b'"a"', b"[1, 2]"])
    assert conversion.values.to_pylist() == ["a"]
    assert conversion.failures == ((1, "the value is list here but string in earlier records"),)


def test_schemaless_empty_and_all_null_batches():
    assert len(schemaless().convert([]).values) == 0
    assert schemaless().convert([None, None]).values.to_pylist() == [None, None]


def test_schemaless_fast_path_agrees_with_record_by_record_path():
    rng = random.Random(7)

    def record(i):
        value = {}
        for key in rng.sample(["a", "ts", "n", "l", "late"], rng.randint(0, 5)):
            if key == "a":
                value[key] = rng.choice([1, None, 3.5])
            elif key == "ts":
                value[key] = "2024-01-0%dT00:00:00Z" % rng.randint(1, 9)
            elif key == "n":
                value[key] = {"x": rng.choice([None, 1]), "when": "2024-02-01"}
            elif key == "l":
                value[key] = [{"t": "2024-01-01", "v": rng.randint(0, 5)}] if rng.random() < .5 else []
            elif i > 150:
                value[key] = {"when": "2024-03-03", "z": 1}
        return orjson.dumps(value)

    for _ in range(10):
        data = [record(i) if rng.random() > .05 else None for i in range(300)]
        fast = read_objects(data)
        slow, failures = from_python([(i, None if raw is None else orjson.loads(raw))
                                      for i, raw in enumerate(data)])
        assert failures == []
        assert fast is not None
        assert fast.type == slow.type
        assert fast.to_pylist() == slow.to_pylist()


def test_schemaless_200k_records():
    data = [user(i) for i in range(200_000)]
    conversion = schemaless().convert(data)
    assert conversion.failures == ()
    assert len(conversion.values) == 200_000
    assert conversion.values.type.field("created").type == pa.string()
    assert conversion.values[199_999].as_py()["id"] == 199_999


# JsonConverter with schemas.

def test_missing_envelope_is_a_failure():
    data = [b'{"a": 1}', envelope({"type": "int32"}, 5), b'{"schema": null, "payload": 1, "x": 2}',
            b"[]", b"null", None]
    conversion = with_schemas().convert(data)
    assert conversion.values.to_pylist() == [5, None]
    assert conversion.failures == tuple((i, ENVELOPE_REQUIRED) for i in (0, 2, 3, 4))
    assert ENVELOPE_REQUIRED.startswith(
        'JsonConverter with schemas.enable requires "schema" and "payload" fields and may not contain '
        "additional fields")


@pytest.mark.parametrize("dumps", [orjson.dumps, lambda value: json.dumps(value).encode()])
def test_envelopes_sharing_a_schema_text(dumps):
    schema = struct(field("id", "int64"), field("tags", "array", items={"type": "string"}, optional=True))
    data = [dumps({"schema": schema, "payload": {"id": 1, "tags": ["a"]}}),
            dumps({"schema": schema, "payload": {"id": 2}}),
            dumps({"schema": schema, "payload": {"id": 3}, "extra": 1}),
            dumps({"schema": schema, "payload": {"id": 4}})[:-1] + b"  }",
            dumps({"schema": schema, "payload": {"id": "five"}}),
            dumps({"payload": {"id": 6}, "schema": schema})]
    conversion = with_schemas().convert(data)
    assert conversion.values.to_pylist() == [{"id": 1, "tags": ["a"]}, {"id": 2, "tags": None},
                                             {"id": 4, "tags": None}, {"id": 6, "tags": None}]
    assert [i for i, _ in conversion.failures] == [2, 4]
    assert conversion.failures[0][1] == ENVELOPE_REQUIRED


@pytest.mark.parametrize("type_name, payload, expected_type, expected", [
    ("int8", -128, pa.int8(), -128),
    ("int16", 32767, pa.int16(), 32767),
    ("int32", -5, pa.int32(), -5),
    ("int64", 2 ** 62, pa.int64(), 2 ** 62),
    ("float", 1.5, pa.float32(), 1.5),
    ("float32", 2, pa.float32(), 2.0),
    ("double", 0.1, pa.float64(), 0.1),
    ("float64", -3.25, pa.float64(), -3.25),
    ("boolean", True, pa.bool_(), True),
    ("string", "héllo", pa.string(), "héllo"),
    ("bytes", b64(b"\x00\x01\xff"), pa.binary(), b"\x00\x01\xff"),
])
def test_primitive_types(type_name, payload, expected_type, expected):
    schema = {"type": type_name}
    conversion = with_schemas().convert([envelope(schema, payload), None])
    assert conversion.failures == ()
    assert conversion.values.type == expected_type
    assert conversion.values.to_pylist() == [expected, None]
    assert arrow_type(schema) == expected_type


def test_logical_types():
    schema = struct(
        field("price", "bytes", name=DECIMAL, parameters={"scale": "2"}),
        field("exact", "bytes", name=DECIMAL, parameters={"scale": "3", PRECISION: "10"}),
        field("day", "int32", name=DATE),
        field("at", "int32", name=TIME),
        field("ts", "int64", name=TIMESTAMP))
    payload = {"price": decimal_bytes(1234), "exact": -1.5, "day": 19_000, "at": 45_296_789,
               "ts": 1_700_000_000_123}
    conversion = with_schemas().convert([envelope(schema, payload)])
    assert conversion.failures == ()
    assert conversion.values.type == pa.struct([
        pa.field("price", pa.decimal128(38, 2), nullable=False),
        pa.field("exact", pa.decimal128(10, 3), nullable=False),
        pa.field("day", pa.date32(), nullable=False),
        pa.field("at", pa.time32("ms"), nullable=False),
        pa.field("ts", pa.timestamp("ms", tz="UTC"), nullable=False)])
    row = conversion.values.to_pylist()[0]
    assert row["price"] == decimal.Decimal("12.34")
    assert row["exact"] == decimal.Decimal("-1.500")
    assert row["day"] == datetime.date(2022, 1, 8)
    assert row["at"] == datetime.time(12, 34, 56, 789_000)
    assert row["ts"] == datetime.datetime(2023, 11, 14, 22, 13, 20, 123_000, tzinfo=UTC)
    assert row["ts"].utcoffset() == datetime.timedelta(0)


def test_decimal_numeric_format_is_exact():
    schema = {"type": "bytes", "name": DECIMAL, "optional": True,
              "parameters": {"scale": "10", "connect.decimal.precision": "30"}}
    data = [b'{"schema": %s, "payload": 12345678901234567890.1234567891}' % orjson.dumps(schema),
            envelope(schema, decimal_bytes(-5)), envelope(schema, 7), envelope(schema, None)]
    conversion = with_schemas(**{"decimal.format": "NUMERIC"}).convert(data)
    assert conversion.failures == ()
    assert conversion.values.to_pylist() == [decimal.Decimal("12345678901234567890.1234567891"),
                                             decimal.Decimal("-5E-10"), decimal.Decimal("7"), None]


def test_decimal_numeric_inside_a_struct_is_exact():
    schema = struct(field("id", "int64"),
                    field("amount", "bytes", name=DECIMAL, parameters={"scale": "4", PRECISION: "24"}))
    data = [b'{"schema":%s,"payload":{"id":%d,"amount":%s}}' % (orjson.dumps(schema), i, amount)
            for i, amount in enumerate([b"12345678901234567890.1234", b"0.1", b"-3"])]
    conversion = with_schemas().convert(data)
    assert conversion.failures == ()
    assert conversion.values.type.field("amount").type == pa.decimal128(24, 4)
    assert [row["amount"] for row in conversion.values.to_pylist()] == [
        decimal.Decimal("12345678901234567890.1234"), decimal.Decimal("0.1000"),
        decimal.Decimal("-3.0000")]


def test_bad_records_among_good_ones_with_per_value_fields():
    schema = struct(field("id", "int32"), field("raw", "bytes"),
                    field("tags", "array", items={"type": "string"}))
    good = [envelope(schema, {"id": i, "raw": b64(bytes([i])), "tags": ["t%d" % i]}) for i in range(5)]
    data = good[:2] + [envelope(schema, {"id": 2, "raw": "%%%", "tags": []}),
                       envelope(schema, {"id": "three", "raw": "", "tags": []})] + good[2:]
    conversion = with_schemas().convert(data)
    assert [row["id"] for row in conversion.values.to_pylist()] == [0, 1, 2, 3, 4]
    assert conversion.values.to_pylist()[4] == {"id": 4, "raw": b"\x04", "tags": ["t4"]}
    assert [i for i, _ in conversion.failures] == [2, 3]
    assert "at field 'raw': invalid base64" in conversion.failures[0][1]
    assert "at field 'id': expected int32, got string" in conversion.failures[1][1]


def test_decimal_wider_than_38_digits():
    schema = {"type": "bytes", "name": DECIMAL, "parameters": {"scale": "0", PRECISION: "50"}}
    assert arrow_type(schema) == pa.decimal256(50, 0)
    conversion = with_schemas().convert([envelope(schema, decimal_bytes(10 ** 45))])
    assert conversion.values.to_pylist() == [decimal.Decimal(10 ** 45)]


def test_array_map_and_nested_struct():
    schema = struct(
        field("tags", "array", items={"type": "string"}),
        field("scores", "map", keys={"type": "string"}, values={"type": "int32", "optional": True}),
        field("by_id", "map", keys={"type": "int64"}, values={"type": "string"}, optional=True),
        field("owner", "struct", fields=[field("name", "string"), field("age", "int8", optional=True)]),
        field("blobs", "array", items={"type": "bytes"}, optional=True))
    payload = {"tags": ["a", "b"], "scores": {"x": 1, "y": None}, "by_id": [[7, "seven"], [8, "eight"]],
               "owner": {"name": "Ann", "age": 30, "ignored": "extra field"}, "blobs": [b64(b"\x01")]}
    conversion = with_schemas().convert([envelope(schema, payload)])
    assert conversion.failures == ()
    values = conversion.values
    assert values.type.field("tags").type == pa.list_(pa.field("item", pa.string(), nullable=False))
    assert values.type.field("scores").type == pa.map_(pa.string(), pa.int32())
    assert values.type.field("by_id").type == pa.map_(pa.int64(), pa.field("value", pa.string(), False))
    assert values.type.field("owner").type == pa.struct(
        [pa.field("name", pa.string(), nullable=False), pa.field("age", pa.int8())])
    row = values.to_pylist()[0]
    assert row["tags"] == ["a", "b"]
    assert row["scores"] == [("x", 1), ("y", None)]
    assert row["by_id"] == [(7, "seven"), (8, "eight")]
    assert row["owner"] == {"name": "Ann", "age": 30}
    assert row["blobs"] == [b"\x01"]
    batch = pa.RecordBatch.from_struct_array(values)
    assert batch.schema.names == ["tags", "scores", "by_id", "owner", "blobs"]


def test_fractions_in_integer_fields_are_truncated_as_connect_does():
    schema = struct(field("n", "int32"), field("day", "int32", name=DATE, optional=True))
    simple = with_schemas().convert([envelope(schema, {"n": 1.9}), envelope(schema, {"n": -2.5})])
    per_value = with_schemas().convert([envelope(schema, {"n": 1.9, "day": 1.5})])
    assert simple.values.to_pylist() == [{"n": 1, "day": None}, {"n": -2, "day": None}]
    assert per_value.values.to_pylist() == [{"n": 1, "day": datetime.date(1970, 1, 2)}]


def test_optional_and_required_fields():
    schema = struct(field("id", "int64"), field("note", "string", optional=True), optional=True)
    assert arrow_field("v", schema) == pa.field(
        "v", pa.struct([pa.field("id", pa.int64(), nullable=False), pa.field("note", pa.string())]))
    data = [envelope(schema, {"id": 1}), envelope(schema, None), envelope(schema, {"note": "no id"}),
            envelope(schema, {"id": None, "note": "null id"}), envelope({"type": "string"}, None)]
    conversion = with_schemas().convert(data)
    assert conversion.values.to_pylist() == [{"id": 1, "note": None}, None]
    assert conversion.failures == (
        (2, "payload does not match its schema at field 'id': null value for required int64"),
        (3, "payload does not match its schema at field 'id': null value for required int64"),
        (4, "schema does not match earlier records of the batch: the value is string here but struct "
            "in earlier records"),
    )


def test_defaults():
    schema = struct(field("id", "int64"), field("status", "string", default="new"),
                    field("n", "int32", optional=True, default=7))
    data = [envelope(schema, {"id": 1}), envelope(schema, {"id": 2, "status": "done", "n": None})]
    assert with_schemas().convert(data).values.to_pylist() == [
        {"id": 1, "status": "new", "n": 7}, {"id": 2, "status": "done", "n": 7}]
    conversion = with_schemas(**{"replace.null.with.default": "false"}).convert(data)
    assert conversion.values.to_pylist() == [{"id": 2, "status": "done", "n": None}]
    assert conversion.failures == (
        (0, "payload does not match its schema at field 'status': null value for required string"),)


def test_top_level_default_and_bad_default():
    conversion = with_schemas().convert([envelope({"type": "int32", "default": 3}, None)])
    assert conversion.values.to_pylist() == [3]
    conversion = with_schemas().convert([envelope({"type": "int8", "default": 1000}, 1)])
    assert conversion.failures == ((0, "invalid schema: invalid default value: payload does not match "
                                       "its schema: expected int8, got number 1000"),)


def test_schema_evolution_within_a_batch():
    v1 = struct(field("id", "int32"), field("name", "string"), name="com.example.User", version=1)
    v2 = struct(field("id", "int64"), field("name", "string"), field("email", "string", optional=True),
                name="com.example.User", version=2)
    v3 = struct(field("id", "string"))
    data = [envelope(v1, {"id": 1, "name": "a"}), envelope(v2, {"id": 2, "name": "b", "email": "b@x"}),
            None, envelope(v3, {"id": "three"}), envelope(v1, {"id": 4, "name": "d"})]
    conversion = with_schemas().convert(data)
    assert conversion.values.type == pa.struct([
        pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string(), nullable=False),
        pa.field("email", pa.string())])
    assert conversion.values.to_pylist() == [
        {"id": 1, "name": "a", "email": None}, {"id": 2, "name": "b", "email": "b@x"}, None,
        {"id": 4, "name": "d", "email": None}]
    assert conversion.failures == ((3, "schema does not match earlier records of the batch: field 'id' "
                                       "is string here but int64 in earlier records"),)


def test_removed_fields_become_nullable():
    v1 = struct(field("id", "int64"), field("legacy", "string"))
    v2 = struct(field("id", "int64"))
    data = [envelope(v1, {"id": 1, "legacy": "x"}), envelope(v2, {"id": 2})]
    conversion = with_schemas().convert(data)
    assert conversion.values.type == pa.struct([pa.field("id", pa.int64(), nullable=False),
                                                pa.field("legacy", pa.string())])
    assert conversion.values.to_pylist() == [{"id": 1, "legacy": "x"}, {"id": 2, "legacy": None}]


@pytest.mark.parametrize("schema, payload, reason", [
    (struct(field("id", "int32")), {"id": "7"}, "at field 'id': expected int32, got string"),
    (struct(field("id", "int32")), {"id": True}, "at field 'id': expected int32, got boolean"),
    (struct(field("id", "int64")), {"id": 1e19}, "at field 'id': expected int64, got number 1e+19"),
    (struct(field("id", "int32")), [1],
     "payload does not match its schema: expected a struct (JSON object), got array"),
    (struct(field("n", "struct", fields=[field("x", "int8")])), {"n": {"x": 200}},
     "at field 'n.x': expected int8, got number 200"),
    (struct(field("n", "struct", fields=[field("x", "int8")])), {"n": {}},
     "at field 'n.x': null value for required int8"),
    (struct(field("b", "boolean")), {"b": 1}, "at field 'b': expected boolean, got number 1"),
    (struct(field("s", "string")), {"s": 1}, "at field 's': expected string, got number 1"),
    (struct(field("l", "array", items={"type": "int64"})), {"l": [1, "x"]},
     "at field 'l[1]': expected int64, got string"),
    (struct(field("l", "array", items={"type": "string"})), {"l": "abc"},
     "at field 'l': expected an array, got string"),
    (struct(field("raw", "bytes")), {"raw": "not base64!"}, "at field 'raw': invalid base64"),
    (struct(field("m", "map", keys={"type": "string"}, values={"type": "int32"})), {"m": {"k": "v"}},
     "at field \"m['k']\": expected int32, got string"),
    (struct(field("m", "map", keys={"type": "int32"}, values={"type": "int32"})), {"m": [[1]]},
     "at field 'm[0]': a map entry must be a [key, value] array, got array"),
    (struct(field("p", "bytes", name=DECIMAL, parameters={"scale": "1"})), {"p": 1.25},
     "at field 'p': Decimal 1.25 has more than 1 decimal places"),
    (struct(field("p", "bytes", name=DECIMAL, parameters={"scale": "0", PRECISION: "2"})),
     {"p": decimal_bytes(123)}, "at field 'p': Decimal 123 has more than 2 digits"),
    (struct(field("t", "int32", name=TIME)), {"t": 86_400_000},
     "at field 't': Time must be milliseconds"),
    (struct(field("d", "int32", name=DATE)), {"d": "2024-01-01"},
     "at field 'd': expected int32, got string"),
])
def test_bad_payloads(schema, payload, reason):
    good = envelope(schema, None) if schema.get("optional") else None
    conversion = with_schemas().convert([good, envelope(schema, payload)])
    assert len(conversion.values) == 1
    assert [i for i, _ in conversion.failures] == [1]
    assert reason in conversion.failures[0][1]
    assert conversion.failures[0][1].startswith("payload does not match its schema")


@pytest.mark.parametrize("schema, reason", [
    ({"type": "uuid"}, "unknown schema type 'uuid'"),
    ({"optional": True}, "schema must contain a 'type' field"),
    ({"type": "array"}, "array schema did not specify the element type"),
    ({"type": "map", "keys": {"type": "string"}}, "map schema did not specify the value type"),
    ({"type": "struct", "fields": [{"type": "int32"}]},
     "struct schema's field name not specified properly"),
    ({"type": "bytes", "name": DECIMAL}, "invalid Decimal schema: scale parameter not found"),
    ({"type": "int64", "name": DATE},
     "org.apache.kafka.connect.data.Date must have type 'int32', got 'int64'"),
    (struct(field("a", "struct", fields=[field("b", "varchar")])),
     "schema of field 'a.b': unknown schema type"),
])
def test_invalid_schemas(schema, reason):
    conversion = with_schemas().convert([envelope(schema, 1), envelope({"type": "int32"}, 2)])
    assert conversion.values.to_pylist() == [2]
    assert conversion.failures[0][0] == 0
    assert conversion.failures[0][1].startswith("invalid schema: ")
    assert reason in conversion.failures[0][1]
    with pytest.raises(connect_schema.SchemaError):
        arrow_type(schema)


def test_null_schema_envelopes_are_plain_json():
    data = [envelope(None, {"a": 1}), envelope(None, {"b": "x"}), None]
    assert with_schemas().convert(data).values.to_pylist() == [
        {"a": 1, "b": None}, {"a": None, "b": "x"}, None]
    conversion = with_schemas().convert([envelope({"type": "int64"}, 1), envelope(None, 2)])
    assert conversion.values.to_pylist() == [1]
    assert conversion.failures[0][0] == 1


def test_vectorised_and_per_value_paths_agree():
    schema = struct(field("id", "int64"), field("name", "string", optional=True),
                    field("scores", "array", items={"type": "double"}, optional=True),
                    field("inner", "struct", optional=True, fields=[field("ok", "boolean")]),
                    field("day", "int32", name=DATE),
                    field("ts", "int64", name=TIMESTAMP, optional=True))
    payloads = [{"id": i, "name": "n%d" % i if i % 3 else None, "scores": [i / 2],
                 "inner": {"ok": i % 2 == 0} if i % 4 else None, "day": 19_000 + i,
                 "ts": 1_700_000_000_000 + i if i % 5 else None} for i in range(50)]
    data = [envelope(schema, p) for p in payloads]
    clean = with_schemas().convert(data)
    broken = with_schemas().convert(data + [envelope(schema, {"id": "x"})])
    assert clean.failures == ()
    assert [i for i, _ in broken.failures] == [50]
    assert clean.values.equals(broken.values)
    rows = clean.values.to_pylist()
    assert [{k: row[k] for k in ("id", "name", "scores", "inner")} for row in rows] == [
        {"id": p["id"], "name": p["name"], "scores": p["scores"], "inner": p["inner"]} for p in payloads]
    assert rows[1]["day"] == datetime.date(2022, 1, 9)
    assert rows[1]["ts"] == datetime.datetime(2023, 11, 14, 22, 13, 20, 1000, tzinfo=UTC)
    assert rows[0]["ts"] is None


def test_a_repeated_schema_is_parsed_once(monkeypatch):
    calls = []
    original = connect_schema.compile_schema

    def counting(node, *args, **kwargs):
        calls.append(node)
        return original(node, *args, **kwargs)

    monkeypatch.setattr("transforms.converters.json.compile_schema", counting)
    converter = with_schemas()
    schema = struct(field("id", "int64"), field("at", "int64", name=TIMESTAMP))
    converter.convert([envelope(schema, {"id": i, "at": i}) for i in range(100)])
    converter.convert([envelope(schema, {"id": i, "at": i}) for i in range(100)])
    assert len(calls) == 1


def test_schema_cache_is_bounded():
    converter = with_schemas(**{"schemas.cache.size": "2"})
    for width in range(1, 6):
        schema = {"type": "bytes", "name": DECIMAL, "parameters": {"scale": str(width)}}
        converter.convert([envelope(schema, decimal_bytes(width))])
    assert len(converter._schemas) == 2


def test_json_with_schemas_reports_the_connect_schema_as_an_arrow_field():
    from transforms.schema import schema_info

    schema = {"type": "struct", "name": "com.example.Order", "version": 3, "doc": "an order",
              "optional": False, "fields": [
                  {"field": "id", "type": "int32"},
                  {"field": "note", "type": "string", "optional": True, "default": "none"}]}
    data = [json.dumps({"schema": schema, "payload": {"id": i, "note": None}}).encode() for i in range(2)]

    conversion = make_converter("value.converter", "JsonConverter", {}).convert(data)

    field = conversion.schema
    assert field.type == conversion.values.type and field.nullable is False
    info = schema_info(field)
    assert (info.name, info.version, info.doc) == ("com.example.Order", 3, "an order")
    note = schema_info(field.type.field("note"))
    assert note.has_default and note.default == "none"


def test_schemaless_json_has_no_schema_and_string_and_bytes_have_theirs():
    import pyarrow as pa

    assert make_converter("value.converter", "JsonConverter",
                          {"schemas.enable": "false"}).convert([b'{"a": 1}']).schema is None
    assert make_converter("value.converter", "StringConverter", {}).schema.type == pa.string()
    assert make_converter("value.converter", "ByteArrayConverter", {}).schema.type == pa.binary()
