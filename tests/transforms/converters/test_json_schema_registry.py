"""JsonSchemaConverter against a real Schema Registry (Apicurio's Confluent-compatible API, or
``SCHEMA_REGISTRY_URL``), with records written by confluent-kafka's own JSONSerializer."""

import json
import uuid

import pytest
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.transforms.converters.json_schema_records import ALL_TYPES_TEXT, expected, record
from transforms.converters import make_converter
from transforms.converters.registry import RegistryUnavailable
from transforms.schema import schema_info

JSON_SCHEMA = "io.confluent.connect.json.JsonSchemaConverter"

USER_V1 = {"type": "object", "title": "crm.User", "properties": {"id": {"type": "integer"}},
           "required": ["id"]}
USER_V2 = {**USER_V1, "properties": {**USER_V1["properties"],
                                     "email": {"oneOf": [{"type": "null"}, {"type": "string"}]}}}
USER_V3 = {**USER_V2, "properties": {**USER_V2["properties"],
                                     "age": {"type": "integer", "connect.type": "int32", "default": 0}}}


def _topic():
    return "json-%s" % uuid.uuid4().hex[:10]


def _serializer(url, schema):
    return JSONSerializer(schema, SchemaRegistryClient({"url": url}))


def _converter(url, **props):
    return make_converter("value.converter", JSON_SCHEMA, {"schema.registry.url": url, **props})


def test_every_type_converts_field_by_field(schema_registry):
    context = SerializationContext(_topic(), MessageField.VALUE)
    serialize = _serializer(schema_registry.url, ALL_TYPES_TEXT)
    data = [serialize(record(i), context) for i in range(9)] + [None]

    conversion = _converter(schema_registry.url).convert(data)

    assert conversion.failures == ()
    rows = conversion.values.to_pylist()
    for i in range(9):
        for name, value in expected(i).items():
            assert rows[i][name] == value, (i, name)
    assert rows[9] is None
    schema = conversion.schema
    info = schema_info(schema)
    assert (info.name, info.version, info.doc, info.parameters) == ("shop.Order", 3, "an order",
                                                                   {"origin": "test"})
    struct = schema.type
    assert [f.name for f in struct][:2] == ["id", "flag"]  # connect.index
    types = {f.name: str(f.type) for f in struct}
    assert types["tiny"] == "int8" and types["small"] == "int16" and types["medium"] == "int32"
    assert types["ratio"] == "float" and types["score"] == "double" and types["blob"] == "binary"
    assert types["price"] == "decimal128(10, 2)" and types["price_b64"] == "decimal128(38, 3)"
    assert types["day"] == "date32[day]" and types["time_ms"] == "time32[ms]"
    assert types["ts_ms"] == "timestamp[ms, tz=UTC]"
    assert types["attrs"] == "map<string, double>" and types["by_id"] == "map<int32, string>"
    nullable = {f.name for f in struct if f.nullable}
    assert nullable == {"note", "nick", "sub"}
    assert schema_info(struct.field("choice")).name == "io.confluent.connect.json.OneOf"
    assert schema_info(struct.field("color")).parameters == {
        "io.confluent.connect.json.Enum": "", "io.confluent.connect.json.Enum.RED": "RED",
        "io.confluent.connect.json.Enum.GREEN": "GREEN"}
    assert schema_info(struct.field("count")).default == 7
    assert schema_info(struct.field("name")).doc == "the name"
    assert schema_info(struct.field("price")).name == "org.apache.kafka.connect.data.Decimal"
    assert schema_info(struct.field("sub")).name == "shop.Sub"


def test_three_versions_of_one_subject_convert_with_their_own_schemas(schema_registry):
    context = SerializationContext(_topic(), MessageField.VALUE)
    v1, v2, v3 = (_serializer(schema_registry.url, json.dumps(s)) for s in (USER_V1, USER_V2, USER_V3))
    data = [v1({"id": 1}, context), v2({"id": 2, "email": "b@x"}, context),
            v3({"id": 3, "email": None, "age": 33}, context), v1({"id": 4}, context),
            v3({"id": 5}, context)]
    assert len({d[1:5] for d in data}) == 3
    versions = SchemaRegistryClient({"url": schema_registry.url}).get_versions(context.topic + "-value")
    assert versions == [1, 2, 3]

    converter = _converter(schema_registry.url)
    conversion = converter.convert(data)

    assert conversion.failures == ()
    assert conversion.values.to_pylist() == [
        {"id": 1, "email": None, "age": None}, {"id": 2, "email": "b@x", "age": None},
        {"id": 3, "email": None, "age": 33}, {"id": 4, "email": None, "age": None},
        {"id": 5, "email": None, "age": 0}]
    assert [f.type.names for f in conversion.record_schemas] == [
        ["id"], ["id", "email"], ["id", "email", "age"], ["id"], ["id", "email", "age"]]
    # Without connect.version, the Connect version is the registry's, as Confluent's converter has it.
    assert [schema_info(f).version for f in conversion.record_schemas] == [1, 2, 3, 1, 3]
    assert converter.registry.fetches == 6  # per id: its schema, and its subject's version
    single = converter.convert([data[2]])
    assert single.record_schemas is None and single.schema.type.names == ["id", "email", "age"]
    assert schema_info(single.schema).version == 3
    assert converter.registry.fetches == 6


def test_a_ref_to_another_subject_is_resolved(schema_registry):
    client = SchemaRegistryClient({"url": schema_registry.url})
    address_subject = "address-%s" % uuid.uuid4().hex[:8]
    address = {"type": "object", "title": "crm.Address",
               "properties": {"city": {"type": "string"}, "zip": {"type": "integer", "connect.type": "int32"}},
               "required": ["city", "zip"]}
    client.register_schema(address_subject, Schema(json.dumps(address), "JSON"))
    person = {"type": "object", "title": "crm.Person",
              "properties": {"name": {"type": "string"}, "home": {"$ref": "address.json"},
                             "work": {"oneOf": [{"type": "null"}, {"$ref": "address.json"}]}},
              "required": ["name", "home"]}
    schema = Schema(json.dumps(person), "JSON", [SchemaReference("address.json", address_subject, 1)])
    context = SerializationContext(_topic(), MessageField.VALUE)
    serialize = JSONSerializer(schema, client, conf={"auto.register.schemas": True})
    data = [serialize({"name": "Ann", "home": {"city": "Oslo", "zip": 150}, "work": None}, context),
            serialize({"name": "Bo", "home": {"city": "Rome", "zip": 100},
                       "work": {"city": "Pisa", "zip": 56100}}, context)]

    conversion = _converter(schema_registry.url).convert(data)

    assert conversion.failures == ()
    assert conversion.values.to_pylist() == [
        {"name": "Ann", "home": {"city": "Oslo", "zip": 150}, "work": None},
        {"name": "Bo", "home": {"city": "Rome", "zip": 100}, "work": {"city": "Pisa", "zip": 56100}}]
    home = conversion.schema.type.field("home")
    assert schema_info(home).name == "crm.Address" and str(home.type.field("zip").type) == "int32"


def test_bad_records_fail_alone_with_their_reasons(schema_registry):
    context = SerializationContext(_topic(), MessageField.VALUE)
    good = _serializer(schema_registry.url, json.dumps(USER_V1))({"id": 5}, context)
    unknown = b"\x00" + (987654).to_bytes(4, "big") + good[5:]
    data = [b"\x01" + good[1:], good, unknown, good[:5] + b"{not json", good[:5] + b'{"id": "five"}',
            good[:5] + b'{"id": null}', b"\x00\x00"]

    conversion = _converter(schema_registry.url).convert(data)

    assert conversion.values.to_pylist() == [{"id": 5}]
    reasons = dict(conversion.failures)
    schema_id = int.from_bytes(good[1:5], "big")
    assert reasons[0] == "Unknown magic byte! (got 1, Confluent's wire format starts with 0)"
    assert reasons[2].startswith("Error retrieving JSON schema for id 987654: the Schema Registry at %s "
                                 "has no schema id 987654 (HTTP 404" % schema_registry.url)
    assert reasons[3].startswith("the payload of schema id %d is not valid JSON: " % schema_id)
    assert reasons[4] == ("schema id %d: the JSON does not match its Connect schema at field 'id': "
                          "expected int64, got string" % schema_id)
    assert reasons[5] == ("schema id %d: the JSON does not match its Connect schema at field 'id': "
                          "null value for required int64" % schema_id)
    assert reasons[6].startswith("Unknown magic byte! (the record is 2 bytes")


def test_unreachable_registry_is_retriable():
    converter = _converter("http://127.0.0.1:9/apis/ccompat/v7")
    with pytest.raises(RegistryUnavailable, match="could not be reached for schema id 7"):
        converter.convert([b"\x00\x00\x00\x00\x07{}"])
