"""Unit tests of the field transforms (``transforms.smt.fields``): InsertField, ReplaceField,
MaskField, ValueToKey, HoistField, ExtractField and SetSchemaMetadata, after Connect's own tests
(``InsertFieldTest`` and the like) and the Connect sources where those tests say nothing."""

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
from transforms.schema import TIMESTAMP, connect_field, schema_info
from transforms.smt import fields
from transforms.smt.base import KEY, VALUE
from transforms.smt.config import parse_chain
from transforms.smt.fields import (
    TRANSFORMATIONS, ExtractField, HoistField, InsertField, MaskField, ReplaceField,
    SetSchemaMetadata, ValueToKey)
from transforms.smt.registry import TRANSFORMATIONS as REGISTRY

UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
DATA_EXCEPTION = "org.apache.kafka.connect.errors.DataException"


def make(cls, props, side=VALUE, alias="t"):
    return cls(alias, props, side)


def struct_schema(*children, optional=False, **info):
    return connect_field("value", pa.struct(list(children)), optional, **info)


def field(name, arrow_type, optional=True, **info):
    return connect_field(name, arrow_type, optional, **info)


def values(result):
    return result.bundle.values.to_pylist()


def keys(result):
    return result.bundle.keys.to_pylist()


def failed(result):
    return [(i, str(e)) for i, e in result.failures]


def typed(result, name, side=VALUE):
    array = result.bundle.values if side == VALUE else result.bundle.keys
    return array.type.field(name).type


# -- registry -------------------------------------------------------------------------------------


def test_every_transform_is_registered_under_connects_names():
    for simple in ("InsertField", "ReplaceField", "MaskField", "HoistField", "ExtractField",
                   "SetSchemaMetadata"):
        for suffix, side in (("$Key", KEY), ("$Value", VALUE)):
            assert TRANSFORMATIONS[simple + suffix][1] == side
            assert REGISTRY["org.apache.kafka.connect.transforms." + simple + suffix] == \
                TRANSFORMATIONS[simple + suffix]
    assert TRANSFORMATIONS["ValueToKey"] == (ValueToKey, None)
    assert TRANSFORMATIONS["org.apache.kafka.connect.transforms.ValueToKey"] == (ValueToKey, None)


def test_transforms_pickle():
    transform = make(ExtractField, {"field": "a.`b.c`", "field.syntax.version": "V2"})
    again = pickle.loads(pickle.dumps(transform))
    assert again.path.steps == ("a", "b.c")


# -- InsertField ----------------------------------------------------------------------------------

INSERT_ALL = {"topic.field": "topic_field!", "partition.field": "partition_field",
              "timestamp.field": "timestamp_field?", "static.field": "instance_id",
              "static.value": "my-instance-id"}
MAGIC = struct_schema(field("magic", pa.int64()), schema_name="name", version=1, doc="doc")


def test_insert_field_copies_schema_and_inserts_fields():
    # InsertFieldTest.copySchemaAndInsertConfiguredFields
    result = make(InsertField, INSERT_ALL).apply(
        bundle([{"magic": 42}], MAGIC, partition=3, timestamps=[789]))
    schema = result.bundle.value_schema
    info = schema_info(schema)
    assert (info.name, info.version, info.doc) == ("name", 1, "doc")
    assert not schema.nullable  # SchemaBuilder.struct() is required
    by_name = {f.name: f for f in schema.type}
    assert by_name["magic"].type == pa.int64() and by_name["magic"].nullable
    assert by_name["topic_field"].type == pa.string() and not by_name["topic_field"].nullable
    assert by_name["partition_field"].type == pa.int32() and by_name["partition_field"].nullable
    stamp = by_name["timestamp_field"]
    assert stamp.type == pa.timestamp("ms", tz="UTC") and stamp.nullable
    assert (schema_info(stamp).name, schema_info(stamp).version) == (TIMESTAMP, 1)
    assert by_name["instance_id"].type == pa.string() and by_name["instance_id"].nullable
    assert result.bundle.values.type == schema.type
    assert values(result) == [{"magic": 42, "topic_field": "orders", "partition_field": 3,
                               "timestamp_field": EPOCH + datetime.timedelta(milliseconds=789),
                               "instance_id": "my-instance-id"}]


def test_insert_field_schemaless():
    # InsertFieldTest.schemalessInsertConfiguredFields: the timestamp as a Long (epoch ms)
    transform = make(InsertField, {**INSERT_ALL, "offset.field": "offset_field"})
    result = transform.apply(bundle([{"magic": 42}], timestamps=[123], first_offset=17))
    assert result.bundle.value_schema is None
    assert values(result) == [{"magic": 42, "topic_field": "orders",
                               "partition_field": 0, "timestamp_field": 123,
                               "instance_id": "my-instance-id", "offset_field": 17}]
    assert typed(result, "partition_field") == pa.int32()
    assert typed(result, "timestamp_field") == pa.int64()
    assert typed(result, "offset_field") == pa.int64()


def test_insert_field_topic_is_the_target_topic():
    b = bundle([{"a": 1}, {"a": 2}])
    b.topics = ["orders", "orders-routed"]
    result = make(InsertField, {"topic.field": "t"}).apply(b)
    assert [v["t"] for v in values(result)] == ["orders", "orders-routed"]


def test_insert_field_offset_with_schema():
    result = make(InsertField, {"offset.field": "o!"}).apply(bundle([{"magic": 1}] * 2, MAGIC,
                                                                    first_offset=40))
    assert [v["o"] for v in values(result)] == [40, 41]
    o = result.bundle.value_schema.type.field("o")
    assert o.type == pa.int64() and not o.nullable


def test_insert_field_leaves_tombstones():
    # InsertFieldTest.insertConfiguredFieldsIntoTombstoneEvent{Without,With}Schema
    transform = make(InsertField, INSERT_ALL)
    assert values(transform.apply(bundle([None, {"magic": 1}]))) == [
        None, {"magic": 1, "topic_field": "orders", "partition_field": 0,
               "timestamp_field": 1_700_000_000_001, "instance_id": "my-instance-id"}]
    result = transform.apply(bundle([None, {"magic": 1}], MAGIC))
    assert values(result)[0] is None and values(result)[1]["magic"] == 1
    assert result.failures == ()


def test_insert_field_key():
    # InsertFieldTest.insertKeyFieldsIntoTombstoneEvent and insertIntoNullKeyLeavesRecordUnchanged
    transform = make(InsertField, INSERT_ALL, side=KEY)
    result = transform.apply(bundle([None, {"v": 1}], keys=[{"magic": 42}, None],
                                    timestamps=[-1, 5]))
    assert keys(result) == [{"magic": 42, "topic_field": "orders", "partition_field": 0,
                             "timestamp_field": None, "instance_id": "my-instance-id"}, None]
    assert values(result) == [None, {"v": 1}]


@pytest.mark.parametrize("replace_null_with_default, expected", [("false", None), ("true", 42)])
def test_insert_field_replace_null_with_default(replace_null_with_default, expected):
    # InsertFieldTest.testUnsetOptionalField
    magic = field("magic_with_default", pa.int64(), default=42)
    schema = struct_schema(magic, schema_name="name", version=1, doc="doc")
    result = make(InsertField, {**INSERT_ALL, "replace.null.with.default": replace_null_with_default}
                  ).apply(bundle([{"magic_with_default": None}], schema))
    assert values(result)[0]["magic_with_default"] == expected
    kept = result.bundle.value_schema.type.field("magic_with_default")
    assert kept.equals(magic, check_metadata=True)


def test_insert_field_needs_a_struct():
    # InsertFieldTest.topLevelStructRequired; the null passes (InsertField returns it unchanged)
    transform = make(InsertField, {"topic.field": "topic_field"})
    result = transform.apply(bundle([42, None, 7], field("value", pa.int32())))
    assert failed(result) == [
        (0, "Only Struct objects supported for [field insertion], found: java.lang.Integer"),
        (2, "Only Struct objects supported for [field insertion], found: java.lang.Integer")]
    assert exception_class(result.failures[0][1]) == DATA_EXCEPTION
    assert values(result) == [None] and result.bundle.offsets == [1]
    result = transform.apply(bundle([42, 7]))
    assert failed(result)[0] == (0, "Only Map objects supported in absence of schema for "
                                    "[field insertion], found: java.lang.Long")
    assert result.bundle is None


def test_insert_field_name_taken():
    # Connect's SchemaBuilder cannot add a field twice; a map entry is replaced
    transform = make(InsertField, {"topic.field": "magic"})
    result = transform.apply(bundle([{"magic": 1}, None], MAGIC))
    assert failed(result) == [
        (0, "Cannot create field because of field name duplication magic")]
    assert exception_class(result.failures[0][1]) == \
        "org.apache.kafka.connect.errors.SchemaBuilderException"
    assert values(transform.apply(bundle([{"magic": 1, "b": 2}]))) == [{"magic": "orders", "b": 2}]


def test_insert_field_keeps_nested_structs_and_arrays():
    inner = field("inner", pa.struct([field("x", pa.int32(), default=3)]), schema_name="Inner")
    schema = struct_schema(inner, field("tags", pa.list_(pa.string())))
    result = make(InsertField, {"partition.field": "p"}).apply(
        bundle([{"inner": {"x": None}, "tags": ["a"]}, {"inner": None, "tags": None}], schema))
    # defaults apply to the top-level fields only (Struct.get); nested structs are copied as they are
    assert values(result) == [{"inner": {"x": None}, "tags": ["a"], "p": 0},
                              {"inner": None, "tags": None, "p": 0}]
    assert result.bundle.value_schema.type.field("inner").equals(inner, check_metadata=True)


def test_insert_field_config_errors():
    with pytest.raises(ConfigError, match=re.escape(
            "transform 't' (InsertField) must set at least one of transforms.t.topic.field, "
            "transforms.t.partition.field, transforms.t.offset.field, transforms.t.timestamp.field, "
            "transforms.t.static.field, got none")):
        make(InsertField, {})
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.t.static.value must be set when transforms.t.static.field is, got none")):
        make(InsertField, {"static.field": "x"})
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.t.topic.field must be a field name, optionally followed by ! or ?, got '!'")):
        make(InsertField, {"topic.field": "!"})
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.t.topic.field and transforms.t.offset.field must name different fields, "
            "got 'x' for both")):
        make(InsertField, {"topic.field": "x", "offset.field": "x?"})
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.t.replace.null.with.default must be 'true' or 'false', got 'yes'")):
        make(InsertField, {"topic.field": "x", "replace.null.with.default": "yes"})


# -- ReplaceField ---------------------------------------------------------------------------------

DONT_ABC = struct_schema(field("dont", pa.string(), False), field("abc", pa.int32(), False),
                         field("foo", pa.bool_(), False), field("etc", pa.string(), False),
                         schema_name="S", version=3, doc="d")
DONT_ABC_VALUE = {"dont": "whatever", "abc": 42, "foo": True, "etc": "etc"}


def test_replace_field_tombstones():
    # ReplaceFieldTest.tombstoneSchemaless / tombstoneWithSchema
    transform = make(ReplaceField, {"include": "abc,foo", "renames": "abc:xyz,foo:bar"})
    assert values(transform.apply(bundle([None]))) == [None]
    result = transform.apply(bundle([None, DONT_ABC_VALUE], DONT_ABC))
    assert values(result) == [None, {"xyz": 42, "bar": True}]


def test_replace_field_schemaless():
    # ReplaceFieldTest.schemaless
    result = make(ReplaceField, {"exclude": "dont", "renames": "abc:xyz,foo:bar"}).apply(
        bundle([DONT_ABC_VALUE]))
    assert values(result) == [{"xyz": 42, "bar": True, "etc": "etc"}]
    assert result.bundle.value_schema is None


def test_replace_field_with_schema():
    # ReplaceFieldTest.withSchema
    result = make(ReplaceField, {"include": "abc,foo", "renames": "abc:xyz,foo:bar"}).apply(
        bundle([DONT_ABC_VALUE], DONT_ABC))
    assert values(result) == [{"xyz": 42, "bar": True}]
    schema = result.bundle.value_schema
    assert [(f.name, f.type, f.nullable) for f in schema.type] == [
        ("xyz", pa.int32(), False), ("bar", pa.bool_(), False)]
    info = schema_info(schema)
    assert (info.name, info.version, info.doc, schema.nullable) == ("S", 3, "d", False)
    assert result.bundle.values.type == schema.type


@pytest.mark.parametrize("side", [VALUE, KEY])
@pytest.mark.parametrize("replace_null_with_default, expected", [("false", None), ("true", 42)])
def test_replace_field_replace_null_with_default(side, replace_null_with_default, expected):
    # ReplaceFieldTest.testReplaceNullWithDefaultConfigOn{Value,Key}
    schema = struct_schema(field("abc", pa.int32(), default=42))
    transform = make(ReplaceField, {"include": "abc", "renames": "abc:optional_with_default",
                                    "replace.null.with.default": replace_null_with_default}, side)
    if side == VALUE:
        result = transform.apply(bundle([{"abc": None}], schema))
        assert values(result) == [{"optional_with_default": expected}]
    else:
        result = transform.apply(bundle([None], keys=[{"abc": None}], key_schema=schema))
        assert keys(result) == [{"optional_with_default": expected}]
        assert result.bundle.key_schema.type.field(0).name == "optional_with_default"


def test_replace_field_deprecated_names():
    b = bundle([DONT_ABC_VALUE])
    assert values(make(ReplaceField, {"blacklist": "dont,etc"}).apply(b)) == [
        {"abc": 42, "foo": True}]
    assert values(make(ReplaceField, {"whitelist": "etc"}).apply(b)) == [{"etc": "etc"}]
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.t.exclude must not be set with transforms.t.blacklist, its deprecated name, "
            "got both")):
        make(ReplaceField, {"exclude": "a", "blacklist": "b"})


def test_replace_field_exclude_wins_over_include():
    result = make(ReplaceField, {"include": "abc,foo", "exclude": "foo"}).apply(
        bundle([DONT_ABC_VALUE], DONT_ABC))
    assert values(result) == [{"abc": 42}]


def test_replace_field_renames_swap():
    # checked against Connect 4.1: renames=b:c,c:b swaps two fields
    schema = struct_schema(field("b", pa.int32(), False), field("c", pa.string(), False))
    result = make(ReplaceField, {"renames": "b:c,c:b"}).apply(bundle([{"b": 1, "c": "x"}], schema))
    assert values(result) == [{"c": 1, "b": "x"}]
    assert [f.type for f in result.bundle.value_schema.type] == [pa.int32(), pa.string()]


def test_replace_field_rename_onto_a_kept_field():
    schema = struct_schema(field("b", pa.int32(), False), field("c", pa.string(), False))
    transform = make(ReplaceField, {"renames": "c:b"})
    result = transform.apply(bundle([{"b": 1, "c": "x"}, None], schema))
    assert failed(result) == [(0, "Cannot create field because of field name duplication b")]
    assert values(result) == [None]
    # schemaless: a map, the later entry wins
    assert values(transform.apply(bundle([{"b": 1, "c": "x"}]))) == [{"b": "x"}]


def test_replace_field_needs_a_struct():
    result = make(ReplaceField, {"exclude": "a"}).apply(bundle(["x", None], field("v", pa.string())))
    assert failed(result) == [
        (0, "Only Struct objects supported for [field replacement], found: java.lang.String")]
    assert values(result) == [None]


def test_replace_field_excluding_everything_leaves_empty_structs():
    result = make(ReplaceField, {"include": "nothing"}).apply(
        bundle([DONT_ABC_VALUE, None], DONT_ABC))
    assert values(result) == [{}, None]
    assert result.bundle.value_schema.type == pa.struct([])


@pytest.mark.parametrize("renames", ["a:b:c", "a:", "a", "::"])
def test_replace_field_bad_renames(renames):
    # ReplaceField.parseRenameMappings: exactly two parts once Java's split drops trailing empties
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.t.renames must list old:new pairs (foo:bar,abc:xyz), got %r" % renames)):
        make(ReplaceField, {"renames": "x:y," + renames})


# -- MaskField ------------------------------------------------------------------------------------

MASK_SCHEMA = struct_schema(
    field("magic", pa.int32(), False),
    field("bool", pa.bool_(), False),
    field("byte", pa.int8(), False),
    field("short", pa.int16(), False),
    field("int", pa.int32(), False),
    field("long", pa.int64(), False),
    field("float", pa.float32(), False),
    field("double", pa.float64(), False),
    field("string", pa.string(), False),
    field("date", pa.date32(), False, schema_name="org.apache.kafka.connect.data.Date"),
    field("time", pa.time32("ms"), False, schema_name="org.apache.kafka.connect.data.Time"),
    field("timestamp", pa.timestamp("ms", tz="UTC"), False, schema_name=TIMESTAMP),
    field("decimal", pa.decimal128(10, 0), False, schema_name="org.apache.kafka.connect.data.Decimal"),
    field("array", pa.list_(pa.int32()), False),
    field("map", pa.map_(pa.string(), pa.string()), False),
    field("withDefault", pa.string(), default="default"),
)
NOW = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
MASK_VALUE = {
    "magic": 42, "bool": True, "byte": 42, "short": 42, "int": 42, "long": 42, "float": 42.0,
    "double": 42.0, "string": "hmm", "date": NOW.date(), "time": datetime.time(7, 8, 9),
    "timestamp": NOW, "decimal": decimal.Decimal(42), "array": [1, 2, 3], "map": [("what", "what")],
    "withDefault": None}
MASKED = {
    "magic": 42, "bool": False, "byte": 0, "short": 0, "int": 0, "long": 0, "float": 0.0,
    "double": 0.0, "string": "", "date": datetime.date(1970, 1, 1), "time": datetime.time(0),
    "timestamp": EPOCH, "decimal": decimal.Decimal(0), "array": [], "map": [], "withDefault": None}


def mask(fields_, replacement=None, side=VALUE, replace_null_with_default="false"):
    props = {"fields": ",".join(fields_), "replace.null.with.default": replace_null_with_default}
    if replacement is not None:
        props["replacement"] = replacement
    return make(MaskField, props, side)


def test_mask_field_with_schema():
    # MaskFieldTest.testWithSchema
    names = [f.name for f in MASK_SCHEMA.type if f.name != "magic"]
    result = mask(names).apply(bundle([MASK_VALUE], MASK_SCHEMA))
    masked = values(result)[0]
    assert masked == MASKED
    assert masked["bool"] is False  # a boolean, not 0
    assert result.bundle.values.type == MASK_SCHEMA.type  # int8 stays int8, float32 float32...
    assert result.bundle.value_schema is MASK_SCHEMA


def test_mask_field_reads_null_as_its_default():
    # MaskField.getFieldValue: Struct.get gives the default, which is then masked
    result = mask(["withDefault"], replace_null_with_default="true").apply(
        bundle([MASK_VALUE], MASK_SCHEMA))
    assert values(result)[0]["withDefault"] == ""


def test_mask_field_schemaless():
    # MaskFieldTest.testSchemaless (JSON has Longs, Doubles, lists and maps); a listed key the map
    # lacks gets a null entry (checked against Connect 4.1)
    value = {"magic": 42, "bool": True, "long": 42, "double": 42.0, "string": "55.121.20.20",
             "list": [42], "map": {"key": "value"}, "nothing": None}
    result = mask(["bool", "long", "double", "string", "list", "map", "nothing", "absent"]).apply(
        bundle([value]))
    masked = values(result)[0]
    assert masked == {"magic": 42, "bool": False, "long": 0, "double": 0.0, "string": "",
                      "list": [], "map": {}, "nothing": None, "absent": None}
    assert masked["bool"] is False and isinstance(masked["long"], int)
    assert typed(result, "map") == pa.struct([])
    assert typed(result, "long") == pa.int64()


@pytest.mark.parametrize("name, replacement, expected", [
    # MaskFieldTest.testWithSchemaAndReplacement
    ("short", "123", 123), ("byte", "123", 123), ("int", "123", 123), ("long", "123", 123),
    ("float", "123.0", 123.0), ("double", "123.0", 123.0), ("string", "123", "123"),
    ("decimal", "123.0", decimal.Decimal(123)),
    # Values.convertTo*: BigDecimal(text), truncated, narrowed as Java does (checked on Connect 4.1)
    ("int", "123.7", 123), ("int", "-123.7", -123), ("byte", "300", 44), ("byte", "1e3", -24),
    ("int", "3000000000", -1294967296), ("long", "99999999999999999999", 7766279631452241919),
    ("short", "1.5e2", 150), ("float", "-123.7", -123.69999694824219),
])
def test_mask_field_with_schema_and_replacement(name, replacement, expected):
    result = mask([name], replacement).apply(bundle([MASK_VALUE], MASK_SCHEMA))
    assert values(result)[0][name] == expected
    assert type(values(result)[0][name]) is type(expected)
    assert result.bundle.values.type == MASK_SCHEMA.type


@pytest.mark.parametrize("name, replacement, expected", [
    # MaskFieldTest.testSchemalessWithReplacement
    ("long", "123", 123), ("double", "123.0", 123.0), ("string", "123", "123")])
def test_mask_field_schemaless_with_replacement(name, replacement, expected):
    value = {"long": 42, "double": 42.5, "string": "s"}
    assert values(mask([name], replacement).apply(bundle([value])))[0][name] == expected


@pytest.mark.parametrize("name, message", [
    # MaskFieldTest.testWithSchemaUnsupportedReplacementType; messages from MaskField.java
    ("time", "Cannot mask value of type class java.util.Date with custom replacement."),
    ("timestamp", "Cannot mask value of type class java.util.Date with custom replacement."),
    ("date", "Cannot mask value of type class java.util.Date with custom replacement."),
    ("array", "Cannot mask value of type class java.util.ArrayList with custom replacement."),
    ("map", "Cannot mask value of type class java.util.HashMap with custom replacement."),
    ("bool", "Cannot mask value of type class java.lang.Boolean with custom replacement."),
])
def test_mask_field_unsupported_replacement(name, message):
    result = mask([name], "123").apply(bundle([MASK_VALUE, None], MASK_SCHEMA))
    assert failed(result) == [
        (0, message), (1, "Only Struct objects supported for [mask fields], found: null")]
    assert exception_class(result.failures[0][1]) == DATA_EXCEPTION


def test_mask_field_replacement_type_mismatch():
    # MaskFieldTest.testReplacementTypeMismatch; only the records with a value fail
    b = bundle([MASK_VALUE, {**MASK_VALUE, "withDefault": "x"}], MASK_SCHEMA)
    result = mask(["int", "withDefault"], "foo").apply(b)
    assert failed(result) == [(0, "Unable to convert foo (class java.lang.String) to a number"),
                              (1, "Unable to convert foo (class java.lang.String) to a number")]
    result = mask(["decimal"], "foo").apply(b)
    assert failed(result)[0] == (0, "Unable to convert foo (class java.lang.String) to number")
    result = mask(["withDefault"], "foo").apply(b)
    assert values(result) == [MASK_VALUE, {**MASK_VALUE, "withDefault": "foo"}]
    result = mask(["long"], "foo").apply(bundle([{"long": 1}, {"long": None}]))
    assert [i for i, _ in result.failures] == [0] and values(result) == [{"long": None}]


def test_mask_field_decimal_replacement_must_fit():
    schema = struct_schema(field("d", pa.decimal128(5, 2), False))
    b = bundle([{"d": decimal.Decimal("1.00")}], schema)
    assert values(mask(["d"], "7.5").apply(b)) == [{"d": decimal.Decimal("7.50")}]
    assert failed(mask(["d"], "1.234").apply(b)) == [
        (0, "Unable to use 1.234 as a value of Decimal(precision=5, scale=2)")]


def test_mask_field_types_that_have_no_empty_value():
    schema = struct_schema(field("bytes", pa.binary()),
                           field("inner", pa.struct([field("x", pa.int32())])))
    b = bundle([{"bytes": b"\x01", "inner": None}, {"bytes": None, "inner": {"x": 1}}], schema)
    result = mask(["bytes", "inner"]).apply(b)
    assert failed(result) == [
        (0, "Cannot mask value of type: class [B"),
        (1, "Cannot mask value of type: class org.apache.kafka.connect.data.Struct")]


def test_mask_field_tombstones_fail():
    # MaskField.apply has no null check: requireStruct/requireMap fail on a null value
    result = mask(["int"]).apply(bundle([None, MASK_VALUE], MASK_SCHEMA))
    assert failed(result) == [(0, "Only Struct objects supported for [mask fields], found: null")]
    assert values(result)[0]["int"] == 0 and result.bundle.offsets == [1]
    result = mask(["a"]).apply(bundle([{"a": 1}, None]))
    assert failed(result) == [
        (1, "Only Map objects supported in absence of schema for [mask fields], found: null")]
    assert values(result) == [{"a": 0}]


def test_mask_field_key():
    result = mask(["id"], side=KEY).apply(bundle([{"v": 1}], keys=[{"id": "secret", "n": 1}]))
    assert keys(result) == [{"id": "", "n": 1}] and values(result) == [{"v": 1}]


def test_mask_field_config_errors():
    # MaskFieldTest.testEmptyStringReplacementValue; NonEmptyListValidator for fields
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.t.replacement must be a non-empty string, got ''")):
        make(MaskField, {"fields": "a", "replacement": " "})
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.t.fields must be a non-empty list, got ''")):
        make(MaskField, {"fields": ""})
    with pytest.raises(ConfigError, match=re.escape("transforms.t.fields is required")):
        make(MaskField, {})


# -- ValueToKey -----------------------------------------------------------------------------------

ABC = struct_schema(field("a", pa.int32(), False), field("b", pa.int32(), False),
                    field("c", pa.int32(), False), schema_name="V")


def test_value_to_key_schemaless():
    # ValueToKeyTest.schemaless
    result = make(ValueToKey, {"fields": "a,b"}, side=None).apply(bundle([{"a": 1, "b": 2, "c": 3}]))
    assert keys(result) == [{"a": 1, "b": 2}]
    assert result.bundle.key_schema is None
    assert values(result) == [{"a": 1, "b": 2, "c": 3}]


def test_value_to_key_with_schema():
    # ValueToKeyTest.withSchema: a required, unnamed struct of those fields
    result = make(ValueToKey, {"fields": "b,a"}, side=None).apply(
        bundle([{"a": 1, "b": 2, "c": 3}], ABC))
    assert keys(result) == [{"b": 2, "a": 1}]
    key_schema = result.bundle.key_schema
    assert key_schema.type == pa.struct([field("b", pa.int32(), False), field("a", pa.int32(), False)])
    assert not key_schema.nullable and schema_info(key_schema).name is None
    assert result.bundle.value_schema is ABC


def test_value_to_key_missing_field():
    # ValueToKeyTest.nonExistingField; schemaless: a null entry
    result = make(ValueToKey, {"fields": "not_exist"}, side=None).apply(
        bundle([{"a": 1, "b": 2, "c": 3}] * 2, ABC))
    assert failed(result) == [(0, "Field does not exist: not_exist"),
                              (1, "Field does not exist: not_exist")]
    assert result.bundle is None
    result = make(ValueToKey, {"fields": "a,zz"}, side=None).apply(bundle([{"a": 1}]))
    assert keys(result) == [{"a": 1, "zz": None}]


@pytest.mark.parametrize("replace_null_with_default, expected", [("false", None), ("true", 42)])
def test_value_to_key_replace_null_with_default(replace_null_with_default, expected):
    # ValueToKeyTest.testReplaceNullWithDefaultConfig
    schema = struct_schema(field("optional_with_default", pa.int32(), default=42))
    result = make(ValueToKey, {"fields": "optional_with_default",
                               "replace.null.with.default": replace_null_with_default},
                  side=None).apply(bundle([{"optional_with_default": None}], schema))
    assert keys(result) == [{"optional_with_default": expected}]
    assert values(result) == [{"optional_with_default": None}]


def test_value_to_key_null_values_fail():
    transform = make(ValueToKey, {"fields": "a"}, side=None)
    result = transform.apply(bundle([None, {"a": 1, "b": 2, "c": 3}], ABC, keys=["k0", "k1"]))
    assert failed(result) == [(0, "Only Struct objects supported for [copying fields from value to "
                                  "key], found: null")]
    assert keys(result) == [{"a": 1}] and result.bundle.offsets == [1]
    result = transform.apply(bundle([None, 5]))
    assert failed(result) == [
        (0, "Only Map objects supported in absence of schema for [copying fields from value to "
            "key], found: null"),
        (1, "Only Map objects supported in absence of schema for [copying fields from value to "
            "key], found: java.lang.Long")]


def test_value_to_key_field_twice():
    transform = make(ValueToKey, {"fields": "a,a"}, side=None)
    result = transform.apply(bundle([{"a": 1, "b": 2, "c": 3}], ABC))
    assert failed(result) == [(0, "Cannot create field because of field name duplication a")]
    assert keys(transform.apply(bundle([{"a": 1}]))) == [{"a": 1}]


def test_value_to_key_config_errors():
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.t.fields must be a non-empty list, got ''")):
        make(ValueToKey, {"fields": " "}, side=None)


# -- HoistField -----------------------------------------------------------------------------------


def test_hoist_field_schemaless():
    # HoistFieldTest.schemaless; a null is hoisted too
    result = make(HoistField, {"field": "magic"}, side=KEY).apply(
        bundle([None, None], keys=[42, None]))
    assert keys(result) == [{"magic": 42}, {"magic": None}]
    assert result.bundle.key_schema is None


def test_hoist_field_with_schema():
    # HoistFieldTest.withSchema
    key_schema = field("key", pa.int32(), False, doc="the id")
    result = make(HoistField, {"field": "magic"}, side=KEY).apply(
        bundle([None], keys=[42], key_schema=key_schema))
    schema = result.bundle.key_schema
    assert pa.types.is_struct(schema.type) and not schema.nullable
    inner = schema.type.field("magic")
    assert inner.type == pa.int32() and not inner.nullable
    assert schema_info(inner).doc == "the id"
    assert keys(result) == [{"magic": 42}]


def test_hoist_field_null_under_required_schema_fails():
    # Struct.put validates: checked against Connect 4.1
    b = bundle([42, None], field("value", pa.int32(), False))
    result = make(HoistField, {"field": "magic"}).apply(b)
    assert failed(result) == [
        (1, 'Invalid value: null used for required field: "magic", schema type: INT32')]
    assert values(result) == [{"magic": 42}]
    result = make(HoistField, {"field": "magic"}).apply(bundle([42, None], field("value", pa.int32())))
    assert values(result) == [{"magic": 42}, {"magic": None}]


def test_hoist_field_struct_keeps_its_schema():
    schema = MAGIC.with_nullable(True)
    result = make(HoistField, {"field": "order"}).apply(bundle([{"magic": 1}, None], schema))
    assert values(result) == [{"order": {"magic": 1}}, {"order": None}]
    inner = result.bundle.value_schema.type.field("order")
    assert schema_info(inner).name == "name" and inner.type == MAGIC.type and inner.nullable


# -- ExtractField ---------------------------------------------------------------------------------

V2 = {"field.syntax.version": "V2"}


def test_extract_field_schemaless():
    # ExtractFieldTest.schemaless / schemalessAndNestedPath / nullSchemaless
    result = make(ExtractField, {"field": "magic"}, side=KEY).apply(
        bundle([None, None], keys=[{"magic": 42}, None]))
    assert keys(result) == [42, None] and result.bundle.key_schema is None
    assert result.bundle.keys.type == pa.int64()
    result = make(ExtractField, {"field": "magic.foo", **V2}, side=KEY).apply(
        bundle([None], keys=[{"magic": {"foo": 42}}]))
    assert keys(result) == [42]


def test_extract_field_with_schema():
    # ExtractFieldTest.withSchema / withSchemaAndNestedPath: the field's schema becomes the key's
    key_schema = field("key", pa.struct([field("magic", pa.int32(), False)]), False)
    result = make(ExtractField, {"field": "magic"}, side=KEY).apply(
        bundle([None], keys=[{"magic": 42}], key_schema=key_schema))
    assert keys(result) == [42]
    assert result.bundle.key_schema.type == pa.int32() and not result.bundle.key_schema.nullable
    foo = field("magic", pa.struct([field("foo", pa.int32(), False)]), False)
    nested = field("key", pa.struct([foo]), False)
    result = make(ExtractField, {"field": "magic.foo", **V2}, side=KEY).apply(
        bundle([None], keys=[{"magic": {"foo": 42}}], key_schema=nested))
    assert keys(result) == [42] and result.bundle.key_schema.type == pa.int32()


def test_extract_field_null_with_schema():
    # ExtractFieldTest.testNullWithSchema: the field's schema, a null key
    key_schema = field("key", pa.struct([field("magic", pa.int32(), False)]), True)
    result = make(ExtractField, {"field": "magic"}, side=KEY).apply(
        bundle([None, None], keys=[None, {"magic": 1}], key_schema=key_schema))
    assert keys(result) == [None, 1]
    assert result.bundle.key_schema.type == pa.int32() and not result.bundle.key_schema.nullable


def test_extract_field_missing_schemaless_is_null():
    # ExtractFieldTest.nonExistentFieldSchemalessShouldReturnNull / nonExistentNestedField...
    b = bundle([None], keys=[{"magic": {"foo": 42}}])
    assert keys(make(ExtractField, {"field": "nonexistent"}, side=KEY).apply(b)) == [None]
    assert keys(make(ExtractField, {"field": "magic.nonexistent", **V2}, side=KEY).apply(b)) == [
        None]


def test_extract_field_missing_with_schema_fails_every_record():
    # ExtractFieldTest.nonExistentFieldWithSchemaShouldFail / nonExistentNestedField...
    foo = field("magic", pa.struct([field("foo", pa.int32(), False)]), False)
    schema = struct_schema(foo)
    b = bundle([{"magic": {"foo": 42}}, None], schema)
    result = make(ExtractField, {"field": "nonexistent"}).apply(b)
    assert failed(result) == [(0, "Unknown field: nonexistent"), (1, "Unknown field: nonexistent")]
    assert exception_class(result.failures[0][1]) == "java.lang.IllegalArgumentException"
    assert result.bundle is None
    result = make(ExtractField, {"field": "magic.nonexistent", **V2}).apply(b)
    assert failed(result)[0] == (0, "Unknown field: magic.nonexistent")
    result = make(ExtractField, {"field": "magic.foo.x", **V2}).apply(b)
    assert failed(result)[0] == (0, "Cannot look up fields on non-struct type")


@pytest.mark.parametrize("side", [KEY, VALUE])
@pytest.mark.parametrize("replace_null_with_default, expected", [("false", None), ("true", 42)])
def test_extract_field_replace_null_with_default(side, replace_null_with_default, expected):
    # ExtractFieldTest.testUnsetOptionalKey / testUnsetOptionalField
    schema = struct_schema(field("optional_with_default", pa.int32(), default=42))
    transform = make(ExtractField, {"field": "optional_with_default",
                                    "replace.null.with.default": replace_null_with_default}, side)
    if side == KEY:
        result = transform.apply(bundle([None], keys=[{"optional_with_default": None}],
                                        key_schema=schema))
        assert keys(result) == [expected]
    else:
        result = transform.apply(bundle([{"optional_with_default": None}], schema))
        assert values(result) == [expected]
        assert result.bundle.values.type == pa.int32()


def test_extract_field_needs_a_struct_or_map():
    # checked against Connect 4.1: requireStructOrNull, then the schema lookup fails the nulls
    result = make(ExtractField, {"field": "x"}).apply(bundle([5, None], field("v", pa.int32())))
    assert failed(result) == [
        (0, "Only Struct objects supported for [field extraction], found: java.lang.Integer"),
        (1, "Cannot look up fields on non-struct type")]
    result = make(ExtractField, {"field": "x"}).apply(bundle([5, None]))
    assert failed(result) == [(0, "Only Map objects supported in absence of schema for "
                                  "[field extraction], found: java.lang.Long")]
    assert values(result) == [None]


def test_extract_field_schemaless_nested_non_map_fails_that_record():
    result = make(ExtractField, {"field": "a.b", **V2}).apply(
        bundle([{"a": 5}, {"a": None}]))
    assert failed(result) == [(0, "Only Map objects supported in absence of schema for "
                                  "[nested field access], found: java.lang.Long")]
    assert values(result) == [None]


def test_extract_field_dotted_names_and_arrays():
    tags = field("tags", pa.list_(pa.string()), doc="labels")
    schema = struct_schema(field("a.b", pa.struct([tags])))
    b = bundle([{"a.b": {"tags": ["x", "y"]}}, {"a.b": None}], schema)
    result = make(ExtractField, {"field": "`a.b`.tags", "field.syntax.version": "v2"}).apply(b)
    assert values(result) == [["x", "y"], None]
    assert result.bundle.values.type == pa.list_(pa.string())
    assert schema_info(result.bundle.value_schema).doc == "labels"
    # V1 reads the whole text as one name
    result = make(ExtractField, {"field": "a.b"}).apply(b)
    assert values(result) == [{"tags": ["x", "y"]}, None]


def test_extract_field_config_errors():
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.t.field.syntax.version must be one of 'V1', 'V2', got 'V3'")):
        make(ExtractField, {"field": "a", "field.syntax.version": "V3"})
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.t.field must be a field path with its backticks paired (Incomplete backtick "
            "pair in path: [`a], consider adding a backslash before backtick at position 0 to "
            "escape it), got '`a'")):
        make(ExtractField, {"field": "`a", **V2})
    with pytest.raises(ConfigError, match=re.escape("transforms.t.field is required")):
        make(ExtractField, {})


# -- SetSchemaMetadata ----------------------------------------------------------------------------

F1F2 = struct_schema(field("f1", pa.string(), default="default"), field("f2", pa.int32(), False),
                     schema_name="my.orig.SchemaDefn", doc="kept")


def test_set_schema_metadata_name_and_version():
    # SetSchemaMetadataTest.schemaNameUpdate / schemaVersionUpdate / schemaNameAndVersionUpdate
    b = bundle([{"f1": "value1", "f2": 1}], F1F2)
    result = make(SetSchemaMetadata, {"schema.name": "foo"}).apply(b)
    info = schema_info(result.bundle.value_schema)
    assert (info.name, info.version, info.doc) == ("foo", None, "kept")
    result = make(SetSchemaMetadata, {"schema.version": "42"}).apply(b)
    assert schema_info(result.bundle.value_schema).version == 42
    assert schema_info(result.bundle.value_schema).name == "my.orig.SchemaDefn"
    result = make(SetSchemaMetadata, {"schema.name": "foo", "schema.version": "42"}).apply(b)
    info = schema_info(result.bundle.value_schema)
    assert (info.name, info.version) == ("foo", 42)
    assert result.bundle.values.type == F1F2.type and values(result) == [{"f1": "value1", "f2": 1}]
    assert result.bundle.value_schema.type.field("f1").metadata == F1F2.type.field("f1").metadata


@pytest.mark.parametrize("replace_null_with_default, expected", [("false", None),
                                                                  ("true", "default")])
def test_set_schema_metadata_null_field(replace_null_with_default, expected):
    # SetSchemaMetadataTest.schemaNameAndVersionUpdateWithStructAndNullField
    result = make(SetSchemaMetadata, {"schema.name": "foo", "schema.version": "42",
                                      "replace.null.with.default": replace_null_with_default}
                  ).apply(bundle([{"f1": None, "f2": 1}, None], F1F2))
    assert values(result) == [{"f1": expected, "f2": 1}, None]


def test_set_schema_metadata_keeps_optionality_default_and_parameters():
    schema = field("value", pa.int64(), True, default=7, parameters={"p": "q"})
    result = make(SetSchemaMetadata, {"schema.name": "n"}, side=KEY).apply(
        bundle([None, None], keys=[1, None], key_schema=schema))
    out = result.bundle.key_schema
    info = schema_info(out)
    assert out.nullable and (info.name, info.default, info.parameters) == ("n", 7, {"p": "q"})
    assert keys(result) == [1, None]


def test_set_schema_metadata_needs_a_schema():
    # SetSchemaMetadataTest.valueSchemaRequired / ignoreRecordWithNullValue
    result = make(SetSchemaMetadata, {"schema.name": "foo"}).apply(bundle([42, None]))
    assert failed(result) == [(0, "Schema required for [updating schema metadata]")]
    assert values(result) == [None] and result.bundle.value_schema is None


def test_set_schema_metadata_config_errors():
    with pytest.raises(ConfigError, match=re.escape(
            "transform 't' (SetSchemaMetadata) must set transforms.t.schema.name or "
            "transforms.t.schema.version, got neither")):
        make(SetSchemaMetadata, {})
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.t.schema.version must be an integer, got 'one'")):
        make(SetSchemaMetadata, {"schema.version": "one"})


# -- through the config ---------------------------------------------------------------------------


def test_chain_from_connector_config():
    chain = parse_chain({
        "transforms": "insert,mask,tokey",
        "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
        "transforms.insert.offset.field": "offset!",
        "transforms.mask.type": "MaskField$Value",
        "transforms.mask.fields": "card",
        "transforms.mask.replacement": "****",
        "transforms.tokey.type": "ValueToKey",
        "transforms.tokey.fields": "id,offset",
    })
    schema = struct_schema(field("id", pa.int32(), False), field("card", pa.string()))
    result = chain.apply(bundle([{"id": 1, "card": "4111"}, {"id": 2, "card": None}], schema,
                                first_offset=10))
    assert values(result) == [{"id": 1, "card": "****", "offset": 10},
                              {"id": 2, "card": None, "offset": 11}]
    assert keys(result) == [{"id": 1, "offset": 10}, {"id": 2, "offset": 11}]
    assert [(f.name, f.type, f.nullable) for f in result.bundle.key_schema.type] == [
        ("id", pa.int32(), False), ("offset", pa.int64(), False)]


def test_chain_reports_the_failed_record():
    chain = parse_chain({
        "transforms": "mask,extract",
        "transforms.mask.type": "MaskField$Value",
        "transforms.mask.fields": "card",
        "transforms.extract.type": "ExtractField$Value",
        "transforms.extract.field": "a.b",
        "transforms.extract.field.syntax.version": "V2",
    })
    result = chain.apply(bundle([{"a": {"b": 1}, "card": "x"}, None, {"a": {"b": 3}, "card": "y"}]))
    assert values(result) == [1, 3] and result.bundle.offsets == [0, 2]
    [(index, step, error)] = result.failures
    assert index == 1 and step.type_name == "org.apache.kafka.connect.transforms.MaskField$Value"
    assert isinstance(error, DataError) and str(error) == (
        "Only Map objects supported in absence of schema for [mask fields], found: null")


def test_config_errors_name_the_full_key():
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.rf.renames must list old:new pairs (foo:bar,abc:xyz), got 'a:b:c'")):
        parse_chain({"transforms": "rf", "transforms.rf.type": "ReplaceField$Key",
                     "transforms.rf.renames": "a:b:c"})
    with pytest.raises(ConfigError, match=re.escape("transforms.h.field is required")):
        parse_chain({"transforms": "h", "transforms.h.type": "HoistField$Value"})
    with pytest.raises(ConfigError, match=re.escape(
            "unknown key 'transforms.h.fields' for this transform 'h' (HoistField); did you mean "
            "'transforms.h.field'?")):
        parse_chain({"transforms": "h", "transforms.h.type": "HoistField$Value",
                     "transforms.h.fields": "x"})


def test_module_registers_into_the_shared_registry():
    assert set(fields.TRANSFORMATIONS) <= set(REGISTRY)
