"""The MongoDB sink's config and what it makes of records before any server: plain unit tests."""

import datetime
import decimal
import logging
import re

import pyarrow as pa
import pytest
from pymongo import DeleteOne, ReplaceOne

from common.errors import ConfigError, DataError
from pipelines.config.connector import parse_connector_config
from sinks.mongodb import ids, writemodels
from sinks.mongodb.documents import SinkDocument, as_document, column
from sinks.mongodb.postprocess import Projection
from sinks.mongodb.writer import _write_of
from tests.sinks.mongodb.conftest import CONNECTOR_CLASS

URI = "mongodb://sinkuser:s3cr%40t@127.0.0.1:27017/?serverSelectionTimeoutMS=500"
ID_PACKAGE = "com.mongodb.kafka.connect.sink.processor.id.strategy."


def _parse(**overrides):
    raw = {"name": "docs", "connector.class": CONNECTOR_CLASS, "topics": "orders,orders.eu",
           "bootstrap.servers": "127.0.0.1:9", "connection.uri": URI, "database": "shop",
           **overrides}
    return parse_connector_config({k: v for k, v in raw.items() if v is not None}).sink_config


def _doc(value, key=None, topic="orders", offset=7):
    return SinkDocument(topic, "orders", 2, offset, 1700000000000, key, value)


def test_defaults_are_the_official_connectors():
    config = _parse()

    base = config.base
    assert type(base.id_strategy) is ids.BsonOid
    assert type(base.write_model) is writemodels.ReplaceOneDefault
    assert [p.name for p in base.post_processors] == ["DocumentIdAdder"]
    assert (base.max_batch_size, base.ordered, base.delete_model) == (0, True, None)
    assert (base.namespace.database, base.namespace.collection) == ("shop", "")
    assert base.offsets_field == "__kafka"
    assert (config.flush_size, config.hosts, config.tolerance) == (10000, "127.0.0.1:27017", None)
    assert parse_connector_config({"name": "d", "connector.class": "mongodb", "topics": "t",
                                   "bootstrap.servers": "127.0.0.1:9", "database": "d"}
                                  ).sink_config.hosts == "localhost:27017"


def test_the_password_never_shows():
    config = _parse()

    assert "s3cr" not in repr(config)
    assert config.scrub("failed: %s, s3cr@t, s3cr%%40t" % URI) == "failed: [hidden], [hidden], [hidden]"
    with pytest.raises(ConfigError) as refused:
        _parse(**{"connection.uri": "mongodb://u:pw@host:notaport/"})
    assert "pw" not in str(refused.value) and "connection.uri" in str(refused.value)
    with pytest.raises(ConfigError, match=re.escape("got '[hidden]'")):
        _parse(**{"connection.uri": "http://u:pw@host/"})


@pytest.mark.parametrize("written", [ID_PACKAGE + "FullKeyStrategy", "FullKeyStrategy", "FullKey",
                                     "fullkey"])
def test_strategies_by_full_simple_or_short_name(written):
    assert type(_parse(**{"document.id.strategy": written}).base.id_strategy) is ids.FullKey


def test_every_write_model_by_its_short_name():
    for short, kind in (("InsertOne", writemodels.InsertOneDefault),
                        ("ReplaceOneDefault", writemodels.ReplaceOneDefault),
                        ("UpdateOneDefault", writemodels.UpdateOneDefault),
                        ("UpdateOneTimestamps", writemodels.UpdateOneTimestamps),
                        ("ReplaceOneBusinessKey", writemodels.ReplaceOneBusinessKey),
                        ("UpdateOneBusinessKeyTimestamp", writemodels.UpdateOneBusinessKeyTimestamp),
                        ("DeleteOneDefault", writemodels.DeleteOneDefault)):
        assert type(_parse(**{"writemodel.strategy": short}).base.write_model) is kind
    timeseries = _parse(**{"timeseries.timefield": "at"}).base
    assert type(timeseries.write_model) is writemodels.InsertOneDefault


def test_an_unknown_strategy_lists_the_known_ones():
    with pytest.raises(ConfigError, match=re.escape(
            "document.id.strategy must be one of BsonOidStrategy, UuidStrategy, KafkaMetaDataStrategy")):
        _parse(**{"document.id.strategy": "com.example.MyStrategy"})
    with pytest.raises(ConfigError, match="post.processor.chain must list post processors among"):
        _parse(**{"post.processor.chain": "com.example.Mine"})


def test_topic_overrides_apply_per_topic_even_to_dotted_topic_names():
    config = _parse(**{"topic.override.orders.eu.collection": "eu",
                       "topic.override.orders.eu.document.id.strategy": "KafkaMetaData",
                       "topic.override.orders.max.batch.size": "5"})

    assert config.topic("orders.eu").namespace.collection == "eu"
    assert type(config.topic("orders.eu").id_strategy) is ids.KafkaMetaData
    assert config.topic("orders").max_batch_size == 5
    assert config.topic("other") is config.base


def test_overrides_that_cannot_apply_are_refused():
    with pytest.raises(ConfigError, match=re.escape(
            "topic.override.orders.connection.uri: connection.uri applies to the whole connector")):
        _parse(**{"topic.override.orders.connection.uri": "mongodb://x"})
    with pytest.raises(ConfigError, match=re.escape("topic.override.orders.colection: unknown key")):
        _parse(**{"topic.override.orders.colection": "x"})
    with pytest.raises(ConfigError, match=re.escape(
            "topic.override.payments.collection names topic 'payments', which the connector does "
            "not read (topics=orders,orders.eu)")):
        _parse(**{"topic.override.payments.collection": "p"})
    with pytest.raises(ConfigError, match=re.escape(
            "(for topic 'orders' with its topic.override.orders.* keys)")):
        _parse(**{"topic.override.orders.delete.on.null.values": "true"})


def test_deletes_need_an_id_made_of_the_key():
    with pytest.raises(ConfigError, match=re.escape(
            "delete.on.null.values=true needs an id strategy made of the key")):
        _parse(**{"delete.on.null.values": "true"})
    config = _parse(**{"delete.on.null.values": "true", "document.id.strategy": "ProvidedInKey"})
    assert type(config.base.delete_model) is writemodels.DeleteOneDefault


def test_partial_strategies_need_a_projection():
    with pytest.raises(ConfigError, match=re.escape(
            "document.id.strategy=PartialKeyStrategy needs "
            "document.id.strategy.partial.key.projection.type (or key.projection.type)")):
        _parse(**{"document.id.strategy": "PartialKey"})
    config = _parse(**{"document.id.strategy": "PartialValue", "value.projection.type": "AllowList",
                       "value.projection.list": "a"})
    assert config.base.id_strategy.generate(_doc({"a": 1, "b": 2})) == {"a": 1}


def test_keys_the_sink_cannot_honour_are_refused():
    with pytest.raises(ConfigError, match=re.escape(
            "csfle.enabled is not supported: client-side field level encryption is not supported")):
        _parse(**{"csfle.enabled": "true"})
    with pytest.raises(ConfigError, match=re.escape("connection.ssl.truststore is not supported")):
        _parse(**{"connection.ssl.truststore": "/etc/ts.jks"})
    with pytest.raises(ConfigError, match=re.escape("change.data.capture.handler is not supported")):
        _parse(**{"change.data.capture.handler":
                  "com.mongodb.kafka.connect.sink.cdc.debezium.rdbms.RdbmsHandler"})
    with pytest.raises(ConfigError, match=re.escape("mongo.errors.tolerance must be one of")):
        _parse(**{"mongo.errors.tolerance": "some"})


def test_ids_that_are_new_on_every_write_are_warned_about(caplog):
    with caplog.at_level(logging.WARNING, logger="sinks.mongodb.config"):
        _parse()
        _parse(**{"document.id.strategy": "KafkaMetaData"})
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert warnings[0].startswith("document.id.strategy=BsonOidStrategy makes a new _id for every write")


def test_id_strategies_make_the_official_ids():
    from bson import Binary, ObjectId

    doc = _doc({"_id": "7a0cbb8e-6c4e-4a32-9a5e-1c2b3d4e5f60", "v": 1},
               key={"id": 4, "region": {"code": "eu", "n": 1}, "_id": "k"})
    assert isinstance(ids.BsonOid().generate(doc), ObjectId)
    assert len(ids.UuidId().generate(doc)) == 36
    assert ids.UuidId(binary=True).generate(doc).subtype == 4
    assert ids.KafkaMetaData().generate(doc) == "orders#2#7"
    assert ids.FullKey().generate(doc) == {"id": 4, "region": {"code": "eu", "n": 1}, "_id": "k"}
    assert ids.PartialKey(Projection("BlockList", "region.n,_id")).generate(doc) == {
        "id": 4, "region": {"code": "eu"}}
    assert ids.ProvidedIn(in_key=True).generate(doc) == "k"
    assert isinstance(ids.UuidProvidedIn(in_key=False).generate(doc), Binary)
    with pytest.raises(DataError, match=re.escape("ProvidedInValueStrategy needs an _id field in the "
                                                  "record value, which has none")):
        ids.ProvidedIn(in_key=False).generate(_doc({"v": 1}))
    with pytest.raises(DataError, match="the record key is a int, not a document"):
        ids.FullKey().generate(_doc({"v": 1}, key=5))
    with pytest.raises(DataError, match="the record key is a string that is not JSON"):
        ids.FullKey().generate(_doc({"v": 1}, key="plain"))
    assert ids.FullKey().generate(_doc({"v": 1}, key='{"id": {"$oid": "65f000000000000000000000"}}')
                                  ) == {"id": ObjectId("65f000000000000000000000")}


def test_projections_follow_the_official_wildcards():
    def project(kind, fields, doc):
        Projection(kind, fields).apply(doc)
        return doc

    doc = lambda: {"a": 1, "ab": 2, "b": {"c": 1, "d": {"e": 1, "f": 2}}, "l": [{"x": 1, "y": 2}]}
    assert project("AllowList", "a,b.d.e", doc()) == {"a": 1, "b": {"d": {"e": 1}}}
    assert project("AllowList", "b.*", doc()) == {"b": {"c": 1, "d": {}}}
    assert project("AllowList", "b.**,l.x", doc()) == {"b": {"c": 1, "d": {"e": 1, "f": 2}},
                                                       "l": [{"x": 1}]}
    assert project("AllowList", "a*", doc()) == {"a": 1, "ab": 2}
    assert project("BlockList", "a*,b.d.f,l.y", doc()) == {"b": {"c": 1, "d": {"e": 1}},
                                                           "l": [{"x": 1}]}
    assert project("BlockList", "b.*", doc()) == {"a": 1, "ab": 2, "b": {"d": {"e": 1, "f": 2}},
                                                  "l": [{"x": 1, "y": 2}]}
    assert project("BlockList", "**", doc()) == {}


def test_post_processors_rename_project_and_add_metadata():
    config = _parse(**{
        "post.processor.chain": "RenameByMapping,RenameByRegex,BlockListValueProjector,KafkaMetaAdder",
        "field.renamer.mapping": '[{"oldName": "value.name", "newName": "title"}, '
                                 '{"oldName": "value.sub.old", "newName": "new"}]',
        "field.renamer.regexp": '[{"regexp": "^value\\\\.price_.*$", "pattern": "price_(\\\\w+)", '
                                '"replace": "$1Price"}]',
        "value.projection.type": "BlockList", "value.projection.list": "secret",
        "document.id.strategy": "KafkaMetaData"})
    doc = _doc({"name": "n", "title": "kept", "sub": {"old": 1}, "price_net": 3, "secret": "s"})
    namespace, write = _write_of(config.base, doc)

    assert namespace == ("shop", "orders")
    assert doc.value_doc == {"_id": "orders#2#7", "title": "kept", "sub": {"new": 1}, "netPrice": 3,
                             "topic-partition-offset": "orders-2-7", "CreateTime": 1700000000000,
                             "__kafka": {"topic": "orders", "partition": 2, "offset": 7}}
    assert (write.kind, write.conditional, write.id) == ("replace", True, "orders#2#7")
    assert write.op == ReplaceOne({"_id": "orders#2#7", "$nor": [
        {"__kafka.topic": "orders", "__kafka.partition": 2, "__kafka.offset": {"$gte": 7}}]},
        doc.value_doc, upsert=True)


def test_business_keys_are_flattened_for_partial_ids_and_never_conditional():
    config = _parse(**{"document.id.strategy": "PartialValue",
                       "document.id.strategy.partial.value.projection.type": "AllowList",
                       "document.id.strategy.partial.value.projection.list": "sku,shop.id",
                       "writemodel.strategy": "ReplaceOneBusinessKey"})
    doc = _doc({"sku": "a", "shop": {"id": 3, "name": "x"}, "qty": 2})
    _, write = _write_of(config.base, doc)

    assert not write.conditional
    assert write.op == ReplaceOne({"sku": "a", "shop.id": 3}, {
        "shop": {"id": 3, "name": "x"}, "sku": "a", "qty": 2,
        "__kafka": {"topic": "orders", "partition": 2, "offset": 7}}, upsert=True)


def test_tombstones_and_values_that_are_not_documents_are_data_errors():
    config = _parse()
    with pytest.raises(DataError, match=re.escape(
            "it is a tombstone (a null value); deleting the document its key names needs "
            "delete.on.null.values=true")):
        _write_of(config.base, _doc(None, key={"id": 1}))
    deletes = _parse(**{"document.id.strategy": "FullKey", "delete.on.null.values": "true"}).base
    _, write = _write_of(deletes, _doc(None, key={"id": 1}))
    assert write.op == DeleteOne({"_id": {"id": 1}, "$nor": [
        {"__kafka.topic": "orders", "__kafka.partition": 2, "__kafka.offset": {"$gt": 7}}]})
    unconditional = _parse(**{"offsets.field": ""}).base
    doc = _doc({"v": 1})
    _, write = _write_of(unconditional, doc)
    assert set(doc.value_doc) == {"_id", "v"}
    assert write.op == ReplaceOne({"_id": doc.value_doc["_id"]}, doc.value_doc, upsert=True)


def test_connect_types_become_bson_types():
    from bson.decimal128 import Decimal128

    struct = pa.struct([("d", pa.date32()), ("t", pa.time32("ms")), ("n", pa.decimal128(5, 2)),
                        ("m", pa.map_(pa.string(), pa.int32())), ("o", pa.int32())])
    array = pa.array([{"d": datetime.date(2024, 5, 6), "t": datetime.time(1, 2, 3),
                       "n": decimal.Decimal("1.25"), "m": [("a", 1)], "o": None}], struct)
    [value] = column(array, pa.field("v", struct))
    assert value == {"d": datetime.datetime(2024, 5, 6), "t": datetime.datetime(1970, 1, 1, 1, 2, 3),
                     "n": Decimal128("1.25"), "m": {"a": 1}, "o": None}
    schemaless = pa.array([{"a": 1, "b": None, "c": {"x": None, "y": 2}}])
    assert column(schemaless, None) == [{"a": 1, "c": {"y": 2}}]  # nulls left out without a schema


def test_strings_and_bytes_are_read_as_json_and_bson_documents():
    import bson

    assert as_document(bson.encode({"a": 1, "b": [1, 2]}), "value") == {"a": 1, "b": [1, 2]}
    assert as_document('{"at": {"$date": 0}}', "value") == {
        "at": datetime.datetime(1970, 1, 1)}
    with pytest.raises(DataError, match=re.escape("the record value is JSON text of a list, not of a "
                                                  "document")):
        as_document("[1]", "value")
    with pytest.raises(DataError, match="the record value is bytes that are not a BSON document"):
        as_document(b"\x01", "value")
