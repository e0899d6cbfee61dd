"""ProtobufConverter: its keys, the Connect schema, and decoding, against confluent-kafka's in-process
``mock://`` registry.

These tests check decoding and configuration only: the mock registry answers in-process. Behaviour
against a real registry (ids it assigns, evolution, references, .proto text) is in
``test_protobuf_registry.py``.
"""

import json
import pickle
import re

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from common.errors import ConfigError
from tests.transforms.converters.protobuf_records import (
    ORDER_PROTO, expected, message_classes, order_class, record)
from transforms.converters import CONVERTERS, make_converter
from transforms.converters.protobuf import ProtobufConverter, read_message_indexes
from transforms.schema import schema_info

PROTOBUF = "io.confluent.connect.protobuf.ProtobufConverter"
CONTEXT = SerializationContext("orders", MessageField.VALUE)
ORDER = order_class()


def _converter(client, **props):
    converter = make_converter("value.converter", PROTOBUF, {"schema.registry.url": "mock://test", **props})
    converter.registry.use_client(client)
    return converter


@pytest.fixture
def mock_client():
    return SchemaRegistryClient.new_client({"url": "mock://test"})


def _records(client, count=6):
    serialize = ProtobufSerializer(ORDER, client, {"use.deprecated.format": False})
    return [serialize(record(ORDER, i), CONTEXT) for i in range(count)]


def test_both_names_find_the_converter():
    assert CONVERTERS[PROTOBUF] is ProtobufConverter
    assert CONVERTERS["ProtobufConverter"] is ProtobufConverter


def test_every_type_decodes_field_by_field(mock_client):
    """Decoding only (mock registry): every scalar, enum, oneof, map, message and well-known type."""
    conversion = _converter(mock_client).convert(_records(mock_client) + [None])

    assert conversion.failures == ()
    rows = conversion.values.to_pylist()
    for i in range(6):
        assert list(rows[i]) == list(expected(i)), i
        for name, value in expected(i).items():
            assert rows[i][name] == value, (i, name)
    assert rows[6] is None


def test_connect_schema_follows_protobuf_data(mock_client):
    """Decoding only (mock registry): the Connect types, names and parameters of each field."""
    schema = _converter(mock_client).convert(_records(mock_client, 1)).schema
    struct = schema.type
    assert schema.metadata[b"connect.name"] == b"Order" and not schema.nullable

    def info(name):
        return schema_info(struct.field(name))

    assert [str(struct.field(n).type) for n in ("u32", "u64", "small", "ratio")] == [
        "int64", "int64", "int16", "float"]
    assert info("u32").parameters == {"io.confluent.connect.protobuf.Tag": "6",
                                      "io.confluent.connect.protobuf.Type": "uint32"}
    assert info("id").parameters == {"io.confluent.connect.protobuf.Tag": "1"}
    assert info("color").name == "Color"
    assert info("color").parameters == {
        "io.confluent.connect.protobuf.Enum": "Color", "io.confluent.connect.protobuf.Enum.RED": "0",
        "io.confluent.connect.protobuf.Enum.GREEN": "1", "io.confluent.connect.protobuf.Tag": "16"}
    assert info("choice_0").name == "io.confluent.connect.protobuf.Union.choice"
    assert info("sub").name == "Sub" and info("attrs").name == "attrs" and info("by_id").name == "by_id"
    assert (info("ts").name, info("day").name, info("tod").name, info("price").name) == (
        "org.apache.kafka.connect.data.Timestamp", "org.apache.kafka.connect.data.Date",
        "org.apache.kafka.connect.data.Time", "org.apache.kafka.connect.data.Decimal")
    assert info("price").parameters == {"scale": "2", "connect.decimal.precision": "10",
                                        "io.confluent.connect.protobuf.Tag": "27"}
    assert str(struct.field("price").type) == "decimal128(10, 2)"
    assert all(f.nullable for f in struct)  # no optional.for.nullables / wrapper.for.nullables


def test_options_change_the_schema_as_protobuf_data_does(mock_client):
    """Decoding only (mock registry): wrapper.for.nullables, int.for.enums, enhanced names,
    generate.index.for.unions, flatten.unions, optional.for.nullables, generate.struct.for.nulls."""
    data = _records(mock_client, 3)
    conversion = _converter(mock_client, **{
        "wrapper.for.nullables": "true", "int.for.enums": "true", "enhanced.protobuf.schema.support": "true",
        "generate.index.for.unions": "false"}).convert(data)
    rows, struct = conversion.values.to_pylist(), conversion.schema.type
    assert [r["note"] for r in rows] == ["note 0", "note 1", None]
    assert [r["maybe"] for r in rows] == [0, -1, None]
    assert [r["color"] for r in rows] == [0, 1, 0]
    assert rows[1]["choice"] == {"choice_int": None, "choice_str": "s1", "choice_sub": None}
    assert conversion.schema.metadata[b"connect.name"] == b"shop.Order"
    assert schema_info(struct.field("choice")).name == "io.confluent.connect.protobuf.Union.shop.Order.choice"
    assert not struct.field("id").nullable and struct.field("sub").nullable

    flat = _converter(mock_client, **{"flatten.unions": "true", "optional.for.nullables": "true"}
                      ).convert(data)
    rows, struct = flat.values.to_pylist(), flat.schema.type
    assert [(r["choice_int"], r["choice_str"], r["choice_sub"]) for r in rows] == [
        (0, None, None), (None, "s1", None), (None, None, None)]
    assert rows[2]["sub"] is None
    assert not struct.field("id").nullable and struct.field("nick").nullable

    # A default struct for an absent message; as in ProtobufData, an absent google.type.Date then
    # fails its record (year 0 is no date).
    defaults = _converter(mock_client, **{"generate.struct.for.nulls": "true"}).convert(data)
    assert [r["sub"] for r in defaults.values.to_pylist()] == [{"x": 0}, {"x": -1}]
    assert [i for i, _ in defaults.failures] == [2]
    assert "year 0 is out of range" in defaults.failures[0][1]


def test_message_indexes_are_read_as_confluent_writes_them():
    assert read_message_indexes(b"\x00", 0) == ((0,), 1, "")
    assert read_message_indexes(b"\x04\x02\x06rest", 0) == ((1, 3), 3, "")
    assert read_message_indexes(b"\x04\x02", 0)[2] == "the record ends inside its message indexes"


def test_bad_message_index_and_bad_payload_fail_their_records_only(mock_client):
    """Decoding only (mock registry)."""
    good = _records(mock_client, 1)[0]
    assert good[5] == 0  # the [0] shorthand
    out_of_range = good[:5] + b"\x02\x0a" + good[6:]  # [5]
    undecodable = good[:6] + b"\xff\xff"
    conversion = _converter(mock_client).convert([good, out_of_range, undecodable])

    assert [r["id"] for r in conversion.values.to_pylist()] == [0]
    reasons = dict(conversion.failures)
    assert reasons[1] == ("schema id 1: message indexes [5] name no message: the file has 2 message(s) "
                          "at depth 0")
    assert reasons[2].startswith("the Protobuf data does not decode with schema id 1 (message Order): ")


def test_second_message_of_the_file_is_found_by_its_index(mock_client):
    """Decoding only (mock registry): message indexes [1] pick ``Other``."""
    other = message_classes({"shop/order.proto": ORDER_PROTO}, "shop/order.proto")["shop.Other"]
    data = ProtobufSerializer(other, mock_client, {"use.deprecated.format": False})(
        other(other="x"), CONTEXT)
    assert data[5:7] == b"\x02\x02"
    conversion = _converter(mock_client).convert([data])
    assert conversion.values.to_pylist() == [{"other": "x"}]
    assert conversion.schema.metadata[b"connect.name"] == b"Other"


def test_generalized_sum_types_are_refused():
    message = ("value.converter.generalized.sum.type.support must be false: oneofs are read as "
               "Confluent's io.confluent.connect.protobuf.Union structs, got 'true'")
    with pytest.raises(ConfigError, match=re.escape(message)):
        make_converter("value.converter", PROTOBUF, {"schema.registry.url": "mock://x",
                                                     "generalized.sum.type.support": "true"})


def test_an_unknown_sub_key_is_refused():
    with pytest.raises(ConfigError, match=re.escape("value.converter.use.optional.for.all is not a "
                                                    "setting of ProtobufConverter")):
        make_converter("value.converter", PROTOBUF, {"schema.registry.url": "mock://x",
                                                     "use.optional.for.all": "true"})


def test_the_converter_pickles_without_its_client(mock_client):
    converter = _converter(mock_client)
    converter.convert(_records(mock_client, 1))
    copy = pickle.loads(pickle.dumps(converter))
    assert copy.registry._client is None and json.dumps(copy.options.__dict__)
