"""ProtobufConverter against a real Schema Registry (Apicurio's Confluent-compatible API, or
``SCHEMA_REGISTRY_URL``), with records written by confluent-kafka's own ProtobufSerializer."""

import json
import urllib.request
import uuid

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.transforms.converters.protobuf_records import expected, message_classes, order_class, record
from transforms.converters import make_converter
from transforms.converters.registry import RegistryUnavailable
from transforms.schema import schema_info

PROTOBUF = "io.confluent.connect.protobuf.ProtobufConverter"
USER_V1 = 'syntax = "proto3";\npackage crm;\nmessage User {\n  int64 id = 1;\n}\n'
USER_V2 = USER_V1.replace("int64 id = 1;", "int64 id = 1;\n  optional string email = 2;")
USER_V3 = USER_V2.replace("optional string email = 2;", "optional string email = 2;\n  int32 age = 3;")
MONEY = 'syntax = "proto3";\npackage common;\nmessage Money {\n  string currency = 1;\n  int64 cents = 2;\n}\n'
INVOICE = ('syntax = "proto3";\npackage shop;\nimport "common/money.proto";\n'
           'message Invoice {\n  string id = 1;\n  common.Money total = 2;\n}\n')


def _context():
    return SerializationContext("pb-%s" % uuid.uuid4().hex[:10], MessageField.VALUE)


def _serializer(url, message_class):
    return ProtobufSerializer(message_class, SchemaRegistryClient({"url": url}),
                              {"use.deprecated.format": False})


def _converter(url, **props):
    return make_converter("value.converter", PROTOBUF, {"schema.registry.url": url, **props})


def _user(text):
    return message_classes({"crm/user.proto": text}, "crm/user.proto")["crm.User"]


def test_every_type_round_trips_through_the_registry(schema_registry):
    order = order_class()
    context = _context()
    serialize = _serializer(schema_registry.url, order)
    data = [serialize(record(order, i), context) for i in range(9)] + [None]

    conversion = _converter(schema_registry.url).convert(data)

    assert conversion.failures == ()
    rows = conversion.values.to_pylist()
    for i in range(9):
        for name, value in expected(i).items():
            assert rows[i][name] == value, (i, name)
    assert rows[9] is None
    assert conversion.schema.metadata[b"connect.name"] == b"Order"
    # The version is known when the id has one registration; the same Order schema may already be
    # registered under other tests' subjects in this session's registry, and then it is not.
    client = SchemaRegistryClient({"url": schema_registry.url})
    assert client.get_versions(context.topic + "-value") == [1]
    registrations = client.get_schema_versions(int.from_bytes(data[0][1:5], "big"))
    assert schema_info(conversion.schema).version == (
        registrations[0].version if len(registrations) == 1 else None)


def test_three_versions_of_one_subject_decode_with_their_own_schemas(schema_registry):
    context = _context()
    v1, v2, v3 = (_user(t) for t in (USER_V1, USER_V2, USER_V3))
    s1, s2, s3 = (_serializer(schema_registry.url, c) for c in (v1, v2, v3))
    data = [s1(v1(id=1), context), s2(v2(id=2, email="b@x"), context), s3(v3(id=3, age=33), context),
            s1(v1(id=4), context)]
    assert len({d[1:5] for d in data}) == 3
    assert SchemaRegistryClient({"url": schema_registry.url}).get_versions(
        context.topic + "-value") == [1, 2, 3]

    converter = _converter(schema_registry.url)
    conversion = converter.convert(data)

    assert conversion.failures == ()
    assert conversion.values.to_pylist() == [
        {"id": 1, "email": None, "age": None}, {"id": 2, "email": "b@x", "age": None},
        {"id": 3, "email": None, "age": 33}, {"id": 4, "email": None, "age": None}]
    assert [f.type.names for f in conversion.record_schemas] == [
        ["id"], ["id", "email"], ["id", "email", "age"], ["id"]]
    assert [schema_info(f).version for f in conversion.record_schemas] == [1, 2, 3, 1]
    fetches = converter.registry.fetches
    assert converter.convert(data).failures == () and converter.registry.fetches == fetches


def test_an_imported_file_is_read_from_its_reference(schema_registry):
    invoice = message_classes({"common/money.proto": MONEY, "shop/invoice.proto": INVOICE},
                              "shop/invoice.proto")["shop.Invoice"]
    context = _context()
    data = _serializer(schema_registry.url, invoice)(
        invoice(id="i1", total={"currency": "EUR", "cents": 1250}), context)
    registered = SchemaRegistryClient({"url": schema_registry.url}).get_schema(
        int.from_bytes(data[1:5], "big"))
    assert [r.name for r in registered.references] == ["common/money.proto"]

    conversion = _converter(schema_registry.url).convert([data])

    assert conversion.failures == ()
    assert conversion.values.to_pylist() == [{"id": "i1", "total": {"currency": "EUR", "cents": 1250}}]
    assert conversion.schema.type.field("total").metadata[b"connect.name"] == b"Money"


def test_a_schema_registered_as_proto_text_is_compiled(schema_registry):
    """What Java's serializer registers (and Confluent's registry serves): .proto text."""
    subject = "pb-text-%s" % uuid.uuid4().hex[:10]
    text = USER_V3.replace("package crm;", 'package crm;\nimport "google/protobuf/timestamp.proto";').replace(
        "int32 age = 3;", "int32 age = 3;\n  google.protobuf.Timestamp seen = 4;")
    body = json.dumps({"schema": text, "schemaType": "PROTOBUF"}).encode()
    request = urllib.request.Request(schema_registry.url + "/subjects/%s/versions" % subject, body,
                                     {"Content-Type": "application/vnd.schemaregistry.v1+json"})
    schema_id = json.loads(urllib.request.urlopen(request).read())["id"]
    user = message_classes({"crm/user.proto": text}, "crm/user.proto")["crm.User"]
    message = user(id=9, age=4)
    message.seen.seconds = 86400
    payload = b"\x00" + schema_id.to_bytes(4, "big") + b"\x00" + message.SerializeToString()

    conversion = _converter(schema_registry.url).convert([payload])

    assert conversion.failures == ()
    assert [(r["id"], r["email"], r["age"], r["seen"].isoformat()) for r in conversion.values.to_pylist()] \
        == [(9, None, 4, "1970-01-02T00:00:00+00:00")]


def test_bad_magic_byte_unknown_id_and_bad_text_fail_their_records_only(schema_registry):
    v1 = _user(USER_V1)
    good = _serializer(schema_registry.url, v1)(v1(id=5), _context())
    unknown = b"\x00" + (987654).to_bytes(4, "big") + good[5:]
    conversion = _converter(schema_registry.url).convert([b"\x01" + good[1:], good, unknown])

    assert conversion.values.to_pylist() == [{"id": 5}]
    reasons = dict(conversion.failures)
    assert reasons[0] == "Unknown magic byte! (got 1, Confluent's wire format starts with 0)"
    assert reasons[2].startswith("Error retrieving Protobuf schema for id 987654: the Schema Registry at "
                                 "%s has no schema id 987654 (HTTP 404" % schema_registry.url)


def test_unreachable_registry_is_retriable():
    converter = _converter("http://127.0.0.1:9/apis/ccompat/v7")
    with pytest.raises(RegistryUnavailable, match="could not be reached for schema id 1"):
        converter.convert([b"\x00\x00\x00\x00\x01\x00"])
