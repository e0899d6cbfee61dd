"""JsonSchemaConverter: its keys, and conversion, against confluent-kafka's in-process ``mock://`` registry.

These tests check conversion and configuration only: the mock registry answers in-process. Behaviour
against a real registry (ids it assigns, versions, references across subjects) is in
``test_json_schema_registry.py``.
"""

import json
import pickle
import re

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from common.errors import ConfigError
from tests.transforms.converters.json_schema_records import ALL_TYPES_TEXT, expected, record
from transforms.converters import CONVERTERS, make_converter
from transforms.converters.json_schema import JsonSchemaConverter
from transforms.converters.json_schema_data import JsonSchemaError, compile_json_schema
from transforms.schema import schema_info

JSON_SCHEMA = "io.confluent.connect.json.JsonSchemaConverter"
CONTEXT = SerializationContext("orders", MessageField.VALUE)


@pytest.fixture
def mock_client():
    return SchemaRegistryClient.new_client({"url": "mock://test"})


def _converter(client, **props):
    converter = make_converter("value.converter", JSON_SCHEMA, {"schema.registry.url": "mock://test", **props})
    converter.registry.use_client(client)
    return converter


def _records(client, schema, values, validate=True):
    serialize = JSONSerializer(json.dumps(schema), client, conf={"validate": validate})
    return [serialize(v, CONTEXT) for v in values]


def test_both_names_find_the_converter():
    assert CONVERTERS[JSON_SCHEMA] is JsonSchemaConverter
    assert CONVERTERS["JsonSchemaConverter"] is JsonSchemaConverter


def test_every_type_converts_field_by_field_and_pickles(mock_client):
    """Conversion only (mock registry): every type, logical type, oneOf, enum, map and $ref."""
    data = _records(mock_client, json.loads(ALL_TYPES_TEXT), [record(i) for i in range(6)]) + [None]
    converter = _converter(mock_client)
    conversion = converter.convert(data)
    assert conversion.failures == ()
    rows = conversion.values.to_pylist()
    for i in range(6):
        for name, value in expected(i).items():
            assert rows[i][name] == value, (i, name)
    assert rows[6] is None
    again = pickle.loads(pickle.dumps(converter))
    again.registry.use_client(mock_client)
    assert again.convert(data).values.to_pylist() == rows


@pytest.mark.parametrize("key, value, reason", [
    ("preserve.additional.properties", "true", "Connect Variants"),
    ("decimal.format", "HEX", "must be one of"),
])
def test_refused_keys_say_why(key, value, reason):
    with pytest.raises(ConfigError, match=re.escape("value.converter.%s" % key)) as raised:
        make_converter("value.converter", JSON_SCHEMA, {"schema.registry.url": "mock://x", key: value})
    assert reason in str(raised.value)


def test_unknown_keys_list_the_allowed_ones():
    with pytest.raises(ConfigError, match=re.escape("value.converter.json.value.type is not a setting of "
                                                    "JsonSchemaConverter; allowed sub-keys are")):
        make_converter("value.converter", JSON_SCHEMA, {"schema.registry.url": "mock://x",
                                                        "json.value.type": "com.acme.Order"})


def test_writer_settings_are_accepted():
    converter = make_converter("value.converter", JSON_SCHEMA, {
        "schema.registry.url": "mock://x", "object.additional.properties": "false",
        "decimal.format": "NUMERIC", "ignore.default.for.nullables": "true",
        "json.fail.unknown.properties": "false"})
    assert converter.config["decimal.format"] == "NUMERIC"


NONREQUIRED = {"type": "object", "properties": {"id": {"type": "integer"}, "nick": {"type": "string"}},
               "required": ["id"]}


def test_a_missing_nonrequired_property_fails_unless_optional_for_nonrequired(mock_client):
    data = _records(mock_client, NONREQUIRED, [{"id": 1, "nick": "a"}, {"id": 2}])
    strict = _converter(mock_client).convert(data)
    assert strict.values.to_pylist() == [{"id": 1, "nick": "a"}]
    assert strict.failures == ((1, "schema id 1: the JSON does not match its Connect schema at field "
                                   "'nick': null value for required string"),)
    lenient = _converter(mock_client, **{"use.optional.for.nonrequired": "true"}).convert(data)
    assert lenient.failures == ()
    assert lenient.values.to_pylist() == [{"id": 1, "nick": "a"}, {"id": 2, "nick": None}]
    assert lenient.schema.type.field("nick").nullable and not lenient.schema.type.field("id").nullable


def test_generalized_sum_types_name_unions_and_enums(mock_client):
    schema = {"type": "object", "properties": {
        "u": {"oneOf": [{"type": "integer"}, {"type": "boolean"}]},
        "e": {"enum": ["A", "B"]}}, "required": ["u", "e"]}
    data = _records(mock_client, schema, [{"u": True, "e": "B"}])
    conversion = _converter(mock_client, **{"generalized.sum.type.support": "true"}).convert(data)
    assert conversion.values.to_pylist() == [
        {"u": {"connect_union_field_0": None, "connect_union_field_1": True}, "e": "B"}]
    u, e = conversion.schema.type.field("u"), conversion.schema.type.field("e")
    assert schema_info(u).name == "connect_union_0"
    assert schema_info(u).parameters == {"org.apache.kafka.connect.data.Union": "connect_union_0"}
    assert schema_info(e).parameters == {"org.apache.kafka.connect.data.Enum": "",
                                         "org.apache.kafka.connect.data.Enum.A": "0",
                                         "org.apache.kafka.connect.data.Enum.B": "1"}


def test_validation_against_the_json_schema_is_optional(mock_client):
    schema = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 10}}, "required": ["n"]}
    data = _records(mock_client, schema, [{"n": 5}, {"n": 50}], validate=False)
    assert _converter(mock_client).convert(data).failures == ()
    checked = _converter(mock_client, **{"json.fail.invalid.schema": "true"}).convert(data)
    assert checked.values.to_pylist() == [{"n": 5}]
    assert checked.failures == ((1, "the JSON does not validate against schema id 1 at 'n': "
                                    "50 is greater than the maximum of 10"),)


def test_a_schema_without_a_connect_equivalent_fails_its_records(mock_client):
    data = _records(mock_client, {"type": "object", "properties": {"any": {}}}, [{"any": [1]}])
    conversion = _converter(mock_client).convert(data)
    assert conversion.failures == ((0, "schema id 1: the writer's schema cannot be read as a Connect "
                                       "schema: property 'any': the schema {} (any JSON) is Connect's "
                                       "org.apache.kafka.connect.data.Variant in JsonSchemaData, which is "
                                       "not supported here"),)


def test_recursive_schemas_are_refused():
    tree = {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}}
    with pytest.raises(JsonSchemaError, match=re.escape("'#' refers to itself")):
        compile_json_schema(tree)


def test_all_of_merges_object_properties_and_allows_defs():
    schema = {"allOf": [{"$ref": "#/$defs/Base"},
                        {"type": "object", "properties": {"b": {"type": "string"}}, "required": ["b"]}],
              "$defs": {"Base": {"type": "object", "properties": {"a": {"type": "integer"}},
                                 "required": ["a"]}}}
    compiled = compile_json_schema(schema)
    assert compiled.field.type.names == ["a", "b"]
    assert compiled.convert({"a": 1, "b": "x", "c": 0}) == {"a": 1, "b": "x"}


def test_a_batch_of_one_plain_schema_is_converted_by_arrow_in_bulk(mock_client):
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "tags": {
        "type": "array", "items": {"type": "integer"}}}, "required": ["id", "tags"]}
    data = _records(mock_client, schema, [{"id": i, "tags": [i]} for i in range(3)]) + [None]
    converter = _converter(mock_client)
    assert converter.registry.get(1).compiled.vectorisable
    conversion = converter.convert(data)
    assert conversion.values.to_pylist() == [{"id": 0, "tags": [0]}, {"id": 1, "tags": [1]},
                                             {"id": 2, "tags": [2]}, None]
    bad = converter.convert(data[:1] + [data[0][:5] + b'{"id": 1}'])
    assert bad.failures == ((1, "schema id 1: the JSON does not match its Connect schema at field 'tags': "
                                "null value for required array"),)


def test_connect_schemas_write_back_as_json_schemas_that_read_the_same():
    from transforms.converters.json_schema_from_connect import json_schema_of

    field = compile_json_schema(json.loads(ALL_TYPES_TEXT)).field
    written = json_schema_of(field)
    assert written["title"] == "shop.Order" and written["connect.version"] == 3
    assert written["properties"]["tiny"] == {"type": "integer", "connect.type": "int8", "connect.index": 2}
    assert written["properties"]["note"] == {"oneOf": [{"type": "null"}, {"type": "string"}],
                                             "connect.index": 14}
    assert written["properties"]["color"]["enum"] == ["RED", "GREEN"]  # the schema's own order
    again = compile_json_schema(written, optional_for_nonrequired=False).field
    assert again.type == field.type
    for name in ("price", "day", "choice", "count", "color", "sub"):
        assert again.type.field(name).metadata == field.type.field(name).metadata, name
