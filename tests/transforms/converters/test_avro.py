"""AvroConverter: its keys, and decoding, against confluent-kafka's in-process ``mock://`` registry.

These tests check decoding and configuration only: the mock registry answers in-process. Behaviour
against a real registry (ids it assigns, evolution, a registry away) is in ``test_avro_registry.py``.
"""

import json
import pickle
import re

import pyarrow as pa
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from common.errors import ConfigError
from tests.transforms.converters.avro_records import ALL_TYPES_TEXT, expected, record
from transforms.converters import CONVERTERS, make_converter
from transforms.converters.avro import AvroConverter
from transforms.schema import schema_info

AVRO = "io.confluent.connect.avro.AvroConverter"
CONTEXT = SerializationContext("orders", MessageField.VALUE)


def _converter(client, **props):
    converter = make_converter("value.converter", AVRO, {"schema.registry.url": "mock://test", **props})
    converter.registry.use_client(client)
    return converter


@pytest.fixture
def mock_client():
    return SchemaRegistryClient.new_client({"url": "mock://test"})


def test_both_names_find_the_converter():
    assert CONVERTERS[AVRO] is AvroConverter
    assert CONVERTERS["AvroConverter"] is AvroConverter


def test_every_type_decodes_field_by_field(mock_client):
    """Decoding only (mock registry): every Avro type, logical type, union, enum, map and record."""
    serialize = AvroSerializer(mock_client, ALL_TYPES_TEXT)
    data = [serialize(record(i), CONTEXT) for i in range(6)] + [None]
    conversion = _converter(mock_client).convert(data)

    assert conversion.failures == ()
    rows = conversion.values.to_pylist()
    for i in range(6):
        for name, value in expected(i).items():
            assert rows[i][name] == value, (i, name)
    assert rows[6] is None


def test_connect_schema_follows_avro_data(mock_client):
    """Decoding only (mock registry): the Connect types, names and parameters of each field."""
    serialize = AvroSerializer(mock_client, ALL_TYPES_TEXT)
    schema = _converter(mock_client).convert([serialize(record(0), CONTEXT)]).schema
    types = {f.name: f.type for f in schema.type}
    assert types["small"] == pa.int16() and types["tiny"] == pa.int8()
    assert types["price"] == pa.decimal128(10, 2) and types["fixed_price"] == pa.decimal128(12, 3)
    assert types["day"] == pa.date32() and types["time_ms"] == pa.time32("ms")
    assert types["ts_ms"] == pa.timestamp("ms", tz="UTC")
    assert types["time_us"] == pa.int64() and types["ts_us"] == pa.int64() and types["uid"] == pa.string()
    assert types["attrs"] == pa.map_(pa.string(), pa.field("value", pa.float64(), nullable=False))
    assert types["by_id"] == pa.map_(pa.int32(), pa.field("value", pa.string(), nullable=False))
    nullable = {f.name for f in schema.type if f.nullable}
    assert nullable == {"note", "choice", "sub"}

    info = schema_info(schema)
    assert (info.name, info.version, info.doc, info.parameters) == ("shop.Order", 3, None, {
        "origin": "test", "io.confluent.connect.avro.record.doc": "an order",
        "io.confluent.connect.avro.field.doc.id": "the key"})
    fields = {f.name: schema_info(f) for f in schema.type}
    assert fields["id"].doc is None
    assert fields["count"].default == 7
    assert fields["count"].parameters == {"io.confluent.connect.avro.field.default": "true"}
    assert fields["note"].parameters is None
    assert fields["price"].name == "org.apache.kafka.connect.data.Decimal"
    assert fields["price"].parameters == {"scale": "2", "connect.decimal.precision": "10"}
    assert fields["fixed_price"].parameters == {
        "scale": "3", "connect.decimal.precision": "12", "connect.fixed.size": "8"}
    assert fields["day"].name == "org.apache.kafka.connect.data.Date"
    assert fields["time_ms"].name == "org.apache.kafka.connect.data.Time"
    assert fields["ts_ms"].name == "org.apache.kafka.connect.data.Timestamp"
    assert fields["choice"].name == "io.confluent.connect.avro.Union"
    assert [f.name for f in schema.type.field("choice").type] == ["int", "string", "Sub"]
    assert fields["color"].name == "shop.Color"
    assert fields["color"].parameters == {
        "io.confluent.connect.avro.Enum": "shop.Color",
        "io.confluent.connect.avro.Enum.RED": "RED", "io.confluent.connect.avro.Enum.GREEN": "GREEN"}
    assert fields["fx"].parameters == {"connect.fixed.size": "4"}
    assert fields["sub"].name == "shop.Sub"


def test_enhanced_support_names_union_fields_by_full_name(mock_client):
    """Decoding only (mock registry)."""
    serialize = AvroSerializer(mock_client, ALL_TYPES_TEXT)
    conversion = _converter(mock_client, **{"enhanced.avro.schema.support": "true"}).convert(
        [serialize(record(0), CONTEXT)])
    assert [f.name for f in conversion.schema.type.field("choice").type] == ["int", "string", "shop.Sub"]
    assert conversion.values.to_pylist()[0]["choice"]["shop.Sub"] == {"x": 0}


def test_without_connect_meta_data_docs_and_parameters_are_left_out(mock_client):
    """Decoding only (mock registry)."""
    serialize = AvroSerializer(mock_client, ALL_TYPES_TEXT)
    schema = _converter(mock_client, **{"connect.meta.data": "false"}).convert(
        [serialize(record(0), CONTEXT)]).schema
    info = schema_info(schema)
    assert (info.name, info.version, info.doc, info.parameters) == ("shop.Order", 3, None, None)
    assert schema_info(schema.type.field("count")).parameters is None
    assert schema_info(schema.type.field("price")).parameters == {
        "scale": "2", "connect.decimal.precision": "10"}


def test_one_registry_call_per_schema_id(mock_client):
    """Decoding only (mock registry): a bundle sharing an id, and the next bundles, fetch it once."""
    serialize = AvroSerializer(mock_client, ALL_TYPES_TEXT)
    data = [serialize(record(i), CONTEXT) for i in range(50)]
    converter = _converter(mock_client)
    for _ in range(3):
        assert converter.convert(data).failures == ()
    assert converter.registry.fetches == 1


def test_bad_magic_byte_short_record_and_unknown_id_fail_only_their_records(mock_client):
    """Decoding only (mock registry)."""
    serialize = AvroSerializer(mock_client, ALL_TYPES_TEXT)
    good = serialize(record(1), CONTEXT)
    data = [good, b"\x01" + good[1:], b"\x00\x00", b"\x00\x00\x00\x01\x2c" + good[5:], good[:12]]
    conversion = _converter(mock_client).convert(data)
    assert [r["id"] for r in conversion.values.to_pylist()] == [1]
    reasons = dict(conversion.failures)
    assert reasons[1] == "Unknown magic byte! (got 1, Confluent's wire format starts with 0)"
    assert reasons[2].startswith("Unknown magic byte! (the record is 2 bytes")
    assert reasons[3].startswith("Error retrieving Avro schema for id 300: the Schema Registry at "
                                 "mock://test has no schema id 300 (HTTP 404")
    assert reasons[4].startswith("the Avro data does not decode with schema id 1: ")


def test_versions_in_one_batch_are_unified_and_keep_their_own_schemas(mock_client):
    """Decoding only (mock registry)."""
    v1 = {"type": "record", "name": "User", "fields": [{"name": "id", "type": "long"}]}
    v2 = {**v1, "fields": v1["fields"] + [{"name": "email", "type": ["null", "string"], "default": None}]}
    first = AvroSerializer(mock_client, json.dumps(v1))({"id": 1}, CONTEXT)
    second = AvroSerializer(mock_client, json.dumps(v2))({"id": 2, "email": "a@b"}, CONTEXT)
    conversion = _converter(mock_client).convert([first, second, None])
    assert conversion.values.to_pylist() == [{"id": 1, "email": None}, {"id": 2, "email": "a@b"}, None]
    assert [f.type.names if f is not None else None for f in conversion.record_schemas] == [
        ["id"], ["id", "email"], None]


def test_pickling_drops_the_client_and_the_cache(mock_client):
    """Decoding only (mock registry)."""
    converter = _converter(mock_client)
    converter.convert([AvroSerializer(mock_client, ALL_TYPES_TEXT)(record(0), CONTEXT)])
    copy = pickle.loads(pickle.dumps(converter))
    assert copy.registry._client is None and copy.registry._compiled == {}


@pytest.mark.parametrize("props, message", [
    ({}, "value.converter.schema.registry.url is required by this converter, got ''"),
    ({"schema.registry.url": "localhost:8081"},
     "value.converter.schema.registry.url must be http:// or https:// URLs, got 'localhost:8081'"),
    ({"schema.registry.url": "http://r", "basic.auth.credentials.source": "SASL_INHERIT"},
     "value.converter.basic.auth.credentials.source must be URL or USER_INFO, got 'SASL_INHERIT'"),
    ({"schema.registry.url": "http://r", "basic.auth.credentials.source": "USER_INFO"},
     "value.converter.basic.auth.user.info must be user:password with "
     "basic.auth.credentials.source=USER_INFO, got nothing"),
    ({"schema.registry.url": "http://r", "basic.auth.credentials.source": "USER_INFO",
      "basic.auth.user.info": "s3cret-no-colon"},
     "value.converter.basic.auth.user.info must be user:password with "
     "basic.auth.credentials.source=USER_INFO, got '[hidden]'"),
    ({"schema.registry.url": "http://r", "basic.auth.user.info": "u:s3cret"},
     "value.converter.basic.auth.user.info is set but basic.auth.credentials.source is 'URL'"),
    ({"schema.registry.url": "http://r", "schema.registry.ssl.truststore.location": "/t.jks"},
     "value.converter.schema.registry.ssl.truststore.location is a Java key store"),
    ({"schema.registry.url": "http://r", "bearer.auth.credentials.source": "CUSTOM"},
     "value.converter.bearer.auth.credentials.source must be STATIC_TOKEN or OAUTHBEARER, got 'CUSTOM'"),
    ({"schema.registry.url": "http://r", "bearer.auth.credentials.source": "STATIC_TOKEN",
      "bearer.auth.token": "s3cret"},
     "value.converter.bearer.auth.logical.cluster is required with "
     "bearer.auth.credentials.source=STATIC_TOKEN"),
    ({"schema.registry.url": "http://r", "generalized.sum.type.support": "true"},
     "value.converter.generalized.sum.type.support must be false"),
    ({"schema.registry.url": "http://r", "no.such.key": "1"},
     "value.converter.no.such.key is not a setting of AvroConverter"),
])
def test_refused_settings_say_why_and_never_show_credentials(props, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        make_converter("value.converter", AVRO, props)
    assert "s3cret" not in str(raised.value)


def test_serializer_and_naming_settings_are_accepted():
    converter = make_converter("value.converter", AVRO, {
        "schema.registry.url": "http://a:8081, http://b:8081", "auto.register.schemas": "false",
        "use.latest.version": "true", "value.subject.name.strategy":
            "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
        "schemas.cache.config": "10", "basic.auth.credentials.source": "USER_INFO",
        "basic.auth.user.info": "user:s3cret", "bearer.auth.logical.cluster": "lsrc-1"})
    assert converter.registry.describe() == "http://a:8081,http://b:8081"
    assert "s3cret" not in repr(converter.config) and "s3cret" not in repr(converter)


def test_url_credentials_stay_out_of_descriptions():
    converter = make_converter("value.converter", AVRO,
                               {"schema.registry.url": "http://user:s3cret@registry:8081"})
    assert converter.registry.describe() == "http://registry:8081"


def test_static_bearer_token_is_passed_to_the_client():
    converter = make_converter("value.converter", AVRO, {
        "schema.registry.url": "http://r", "bearer.auth.credentials.source": "STATIC_TOKEN",
        "bearer.auth.token": "tok", "bearer.auth.logical.cluster": "lsrc-1"})
    client = converter.registry._connect()
    assert client._rest_client.bearer_auth_credentials_source == "STATIC_TOKEN"


def test_a_general_union_sets_the_branch_each_value_was_written_with(mock_client):
    """Decoding only (mock registry): records of two namespaces, an enum, a fixed and primitives."""
    schema = {"type": "record", "name": "Holder", "namespace": "a", "fields": [{"name": "u", "type": [
        "null", "boolean", "long", "double", "bytes", "string",
        {"type": "array", "items": "int"}, {"type": "map", "values": "int"},
        {"type": "record", "name": "Point", "fields": [{"name": "x", "type": "int"}]},
        {"type": "record", "name": "Point", "namespace": "b", "fields": [{"name": "y", "type": "int"}]},
        {"type": "enum", "name": "Size", "symbols": ["S", "M"]},
        {"type": "fixed", "name": "Two", "size": 2}]}]}
    serialize = AvroSerializer(mock_client, json.dumps(schema))
    values = [True, 5, 2.5, b"\x01", "text", [1, 2], {"k": 3}, ("a.Point", {"x": 1}),
              ("b.Point", {"y": 2}), ("a.Size", "M"), ("a.Two", b"zz"), None]
    conversion = _converter(mock_client, **{"enhanced.avro.schema.support": "true"}).convert(
        [serialize({"u": v}, CONTEXT) for v in values])

    assert conversion.failures == ()
    branches = ["boolean", "long", "double", "bytes", "string", "array", "map", "a.Point", "b.Point",
                "a.Size", "a.Two"]
    assert conversion.schema.type.field("u").type.names == branches
    rows = [r["u"] for r in conversion.values.to_pylist()]
    assert rows[-1] is None
    for row, branch, value in zip(rows, branches, values):
        written = value[1] if isinstance(value, tuple) else value
        if branch == "map":
            written = list(written.items())
        assert row == {**dict.fromkeys(branches), branch: written}, branch
