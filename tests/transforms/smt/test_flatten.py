"""Flatten, schemaful and schemaless, as Kafka Connect's FlattenTest expects."""

import re

import pyarrow as pa
import pytest

from common.errors import ConfigError
from tests.transforms.smt.bundles import bundle
from transforms.schema import DECIMAL, connect_field, schema_info
from transforms.smt import parse_chain
from transforms.smt.base import KEY, VALUE
from transforms.smt.flatten import Flatten

SUPPORTED = pa.struct([
    connect_field("int8", pa.int8(), False), connect_field("int16", pa.int16(), False),
    connect_field("int32", pa.int32(), False), connect_field("int64", pa.int64(), False),
    connect_field("float32", pa.float32(), False), connect_field("float64", pa.float64(), False),
    connect_field("boolean", pa.bool_(), False), connect_field("string", pa.string(), False),
    connect_field("bytes", pa.binary(), False)])
SUPPORTED_VALUE = {"int8": 8, "int16": 16, "int32": 32, "int64": 64, "float32": 32.0,
                   "float64": 64.0, "boolean": True, "string": "stringy", "bytes": b"bytes"}


def flatten(props=None, side=VALUE):
    return Flatten("flat", props or {}, side)


def run(transform, records):
    result = transform.apply(records)
    return result.bundle, result.failures


def field(schema, name):
    return schema.type.field(name)


def test_nested_struct():
    # FlattenTest.testNestedStruct
    one = pa.struct([connect_field("B", SUPPORTED, False)])
    two = connect_field("value", pa.struct([connect_field("A", one, False)]), False)
    out, failures = run(flatten(), bundle([{"A": {"B": SUPPORTED_VALUE}}], two))
    assert failures == ()
    assert out.value_schema.type.num_fields == 9
    assert out.values.to_pylist() == [{"A.B." + k: v for k, v in SUPPORTED_VALUE.items()}]
    assert field(out.value_schema, "A.B.int8").type == pa.int8()
    assert field(out.value_schema, "A.B.bytes").type == pa.binary()
    assert not field(out.value_schema, "A.B.int8").nullable


def test_nested_map_with_delimiter_schemaless():
    # FlattenTest.testNestedMapWithDelimiter
    out, failures = run(flatten({"delimiter": "#"}),
                        bundle([{"A": {"B": {"int64": 64, "float64": 64.0, "boolean": True,
                                             "string": "stringy"}}}]))
    assert failures == () and out.value_schema is None
    assert out.values.to_pylist() == [{"A#B#int64": 64, "A#B#float64": 64.0, "A#B#boolean": True,
                                       "A#B#string": "stringy"}]


def test_optional_field_struct():
    # FlattenTest.testOptionalFieldStruct
    inner = pa.struct([connect_field("opt_int32", pa.int32(), True)])
    schema = connect_field("value", pa.struct([connect_field("B", inner, False)]), False)
    out, _ = run(flatten(), bundle([{"B": {"opt_int32": None}}], schema))
    assert out.values.to_pylist() == [{"B.opt_int32": None}]
    assert field(out.value_schema, "B.opt_int32").nullable


def test_optional_struct_and_tombstone_keep_schema_basics():
    # FlattenTest.testOptionalStruct, tombstoneEventWithSchemaShouldPassThrough
    schema = connect_field("value", pa.struct([connect_field("magic", pa.int64(), True)]), True,
                           schema_name="name", version=1, doc="doc")
    out, failures = run(flatten(), bundle([None, {"magic": 42}], schema))
    assert failures == ()
    assert out.values.to_pylist() == [None, {"magic": 42}]
    info = schema_info(out.value_schema)
    assert (info.name, info.version, info.doc) == ("name", 1, "doc")
    assert out.value_schema.nullable


def test_optional_parent_makes_children_optional():
    # FlattenTest.testOptionalNestedStruct: B is null, so B.opt_int32 is null and optional
    inner = pa.struct([connect_field("req", pa.int32(), False)])
    schema = connect_field("value", pa.struct([connect_field("B", inner, True)]), False)
    out, _ = run(flatten(), bundle([{"B": None}, {"B": {"req": 7}}], schema))
    assert out.values.to_pylist() == [{"B.req": None}, {"B.req": 7}]
    assert field(out.value_schema, "B.req").nullable


def test_optional_and_default_values_nested():
    # FlattenTest.testOptionalAndDefaultValuesNested
    inner = pa.struct([connect_field("req_field", pa.string(), False),
                       connect_field("opt_field", pa.string(), True, default="child_default")])
    schema = connect_field("value", pa.struct([connect_field("child", inner, True, default={
        "req_field": "req_default", "opt_field": None})]), False)
    out, failures = run(flatten(), bundle([{"child": None}], schema))
    assert failures == ()
    req, opt = field(out.value_schema, "child.req_field"), field(out.value_schema, "child.opt_field")
    assert req.nullable and schema_info(req).default == "req_default"
    assert opt.nullable and schema_info(opt).default == "child_default"
    # Struct.get: the null child takes its default, whose null field takes its own default.
    assert out.values.to_pylist() == [{"child.req_field": "req_default",
                                       "child.opt_field": "child_default"}]
    assert schema_info(out.value_schema).default is None


def test_leaf_schema_kept():
    inner = pa.struct([connect_field("amount", pa.decimal128(10, 2), False, schema_name=DECIMAL,
                                     parameters={"scale": "2"}, doc="money")])
    schema = connect_field("value", pa.struct([connect_field("order", inner, False)]), False)
    out, _ = run(flatten(), bundle([{"order": {"amount": 1}}], schema))
    info = schema_info(field(out.value_schema, "order.amount"))
    assert (info.name, info.parameters, info.doc) == (DECIMAL, {"scale": "2"}, "money")


def test_array_with_schema_kept():
    # FlattenTest.testArrayWithSchema
    nested = pa.struct([connect_field("lfg", pa.string(), False)])
    item = pa.struct([connect_field("baz", nested, False)])
    foo = connect_field("foo", pa.list_(connect_field("item", item, False)), False, doc="durk")
    schema = connect_field("value", pa.struct([foo]), False)
    value = {"foo": [{"baz": {"lfg": "lfg"}}]}
    out, failures = run(flatten(), bundle([value], schema))
    assert failures == ()
    assert out.values.to_pylist() == [value]
    assert out.value_schema.type == schema.type
    assert schema_info(field(out.value_schema, "foo")).doc == "durk"


def test_schemaless_array_kept():
    # FlattenTest.testSchemalessArray
    value = {"foo": ["bar", "baz"], "a": {"b": [1, 2]}}
    out, _ = run(flatten(), bundle([value]))
    assert out.values.to_pylist() == [{"foo": ["bar", "baz"], "a.b": [1, 2]}]


def test_map_in_schema_fails_records():
    # Connect 4.1 raises for a MAP field in a schema, for every record (tombstones pass).
    schema = connect_field("value", pa.struct([
        connect_field("tags", pa.map_(pa.string(), pa.string()), True)]), True)
    out, failures = run(flatten(), bundle([{"tags": [("a", "b")]}, None], schema))
    assert [(i, str(e)) for i, e in failures] == [
        (0, "Flatten transformation does not support MAP for record with schemas (for field tags).")]
    assert out.values.to_pylist() == [None]


def test_duplicate_flattened_name_fails_records():
    schema = connect_field("value", pa.struct([
        connect_field("a", pa.struct([connect_field("b", pa.int32(), True)]), True),
        connect_field("a.b", pa.int32(), True)]), True)
    out, failures = run(flatten(), bundle([{"a": {"b": 1}, "a.b": 2}], schema))
    assert out is None
    assert str(failures[0][1]) == "Cannot create field because of field name duplication a.b"


def test_top_level_struct_required():
    # FlattenTest.topLevelStructRequired
    out, failures = run(flatten(), bundle([42, None], connect_field("value", pa.int32(), True)))
    assert [(i, str(e)) for i, e in failures] == [
        (0, "Only Struct objects supported for [flattening], found: java.lang.Integer")]
    assert out.values.to_pylist() == [None]


def test_top_level_map_required_schemaless():
    # FlattenTest.topLevelMapRequired
    out, failures = run(flatten(), bundle([42, 7]))
    assert out is None
    assert str(failures[0][1]) == ("Only Map objects supported in absence of schema for "
                                   "[flattening], found: java.lang.Long")


def test_key():
    # FlattenTest.testKey
    records = bundle([None], keys=[{"A": {"B": 12}}])
    out, _ = run(flatten(side=KEY), records)
    assert out.keys.to_pylist() == [{"A.B": 12}] and out.key_schema is None
    assert out.values.to_pylist() == [None]


def test_tombstone_without_schema_passes_through():
    # FlattenTest.tombstoneEventWithoutSchemaShouldPassThrough
    out, failures = run(flatten(), bundle([None, {"a": {"b": 1}}]))
    assert failures == ()
    assert out.values.to_pylist() == [None, {"a.b": 1}]


def test_null_fields_kept():
    # FlattenTest.testMapWithNullFields and testStructWithNullFields
    value = {"firstNull": None, "firstNonNull": "nonNull", "secondNull": None,
             "secondNonNull": "alsoNonNull", "thirdNonNull": None}
    out, _ = run(flatten(), bundle([value]))
    assert out.values.to_pylist() == [value]
    schema = connect_field("value", pa.struct([connect_field(k, pa.string(), True) for k in value]),
                           False)
    out, _ = run(flatten(), bundle([value], schema))
    assert out.values.to_pylist() == [value]
    assert list(out.value_schema.type.names) == list(value)


def test_schemaless_null_nested_object():
    out, _ = run(flatten(), bundle([{"a": {"b": 1}, "c": 2}, {"a": None, "c": 3}]))
    assert out.values.to_pylist() == [{"a.b": 1, "c": 2}, {"a.b": None, "c": 3}]


def test_schemaless_same_name_twice_later_non_null_value_wins():
    out, failures = run(flatten(), bundle([{"a.b": 1, "a": {"b": 2}}, {"a.b": 3, "a": {"b": None}}]))
    assert failures == ()
    assert out.values.to_pylist() == [{"a.b": 2}, {"a.b": 3}]


def test_schemaless_map_values_flattened_per_record():
    values = pa.array([[("x", {"y": 1})], None], pa.map_(pa.string(), pa.struct([("y", pa.int64())])))
    records = bundle([None, None])
    records.values = values
    out, failures = run(flatten(), records)
    assert failures == ()
    assert out.values.to_pylist() == [{"x.y": 1}, None]


def test_sliced_input():
    schema = connect_field("value", pa.struct([
        connect_field("a", pa.struct([connect_field("b", pa.int32(), True)]), True)]), True)
    records = bundle([{"a": {"b": 1}}, None, {"a": {"b": 3}}, {"a": None}], schema).take([1, 2, 3])
    out, _ = run(flatten(), records)
    assert out.values.to_pylist() == [None, {"a.b": 3}, {"a.b": None}]


def test_through_parse_chain():
    chain = parse_chain({"transforms": "flat", "transforms.flat.type":
                         "org.apache.kafka.connect.transforms.Flatten$Value",
                         "transforms.flat.delimiter": "_"})
    result = chain.apply(bundle([{"a": {"b": 1}}]))
    assert result.bundle.values.to_pylist() == [{"a_b": 1}]


def test_unknown_key():
    with pytest.raises(ConfigError, match=re.escape("unknown key 'transforms.flat.delimeter'")):
        flatten({"delimeter": "_"})
