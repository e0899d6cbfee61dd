"""The MongoDB sink's writes against the real server: every id and write-model strategy, tombstones,
replays, reordered bundles and refused documents, the write step run in-process."""

import datetime
import os
import re
import threading
import time

import pytest
from bson import Binary, ObjectId

from common.errors import RetriableError
from tests.sinks.mongodb.conftest import bundle, config, topic_name, write

KAFKA = "__kafka"


def _values(documents, *fields):
    return [tuple(d.get(f) for f in fields) for d in documents]


def _coordinates(topic, offset, partition=0):
    return {"topic": topic, "partition": partition, "offset": offset}


@pytest.mark.parametrize("strategy, extra, expected", [
    ("BsonOid", {}, lambda i, d: isinstance(d["_id"], ObjectId)),
    ("Uuid", {}, lambda i, d: len(d["_id"]) == 36),
    ("Uuid", {"document.id.strategy.uuid.format": "binary"}, lambda i, d: d["_id"].subtype == 4),
    ("KafkaMetaData", {}, lambda i, d: d["_id"] == "%s#0#%d" % (d[KAFKA]["topic"], i)),
    ("FullKey", {}, lambda i, d: d["_id"] == {"id": i, "region": "eu", "_id": "key-%d" % i}),
    ("PartialKey", {"key.projection.type": "AllowList", "key.projection.list": "id"},
     lambda i, d: d["_id"] == {"id": i}),
    ("PartialValue", {"document.id.strategy.partial.value.projection.type": "BlockList",
                      "document.id.strategy.partial.value.projection.list": "n,_id"},
     lambda i, d: d["_id"] == {"name": "n%d" % i}),
    ("ProvidedInKey", {}, lambda i, d: d["_id"] == "key-%d" % i),
    ("ProvidedInValue", {}, lambda i, d: d["_id"] == "value-%d" % i),
    ("UuidProvidedInValue", {"document.id.strategy.overwrite.existing": "true"},
     lambda i, d: d["_id"] == Binary(bytes(15) + bytes([i]), 4)),
])
def test_every_id_strategy_writes_the_official_id(mongo, strategy, extra, expected):
    t = topic_name()
    sink = config(mongo.uri, t, **{"document.id.strategy": strategy, **extra})
    provided = {"ProvidedInValue": "value-%d", "UuidProvidedInValue": "00000000-0000-0000-0000-00000000000%d"}
    records = [({"id": i, "region": "eu", "_id": "key-%d" % i},
                {**({"_id": provided[strategy] % i} if strategy in provided else {}),
                 "name": "n%d" % i, "n": i}) for i in range(3)]

    [result] = write(sink, bundle(t, records))

    documents = sorted(mongo.documents(t), key=lambda d: d[KAFKA]["offset"])
    assert result.records == 3 and len(documents) == 3
    assert [d["name"] for d in documents] == ["n0", "n1", "n2"]
    assert all(expected(i, d) for i, d in enumerate(documents))


def test_an_id_already_in_the_value_is_kept_unless_overwrite_existing(mongo):
    t, other = topic_name(), topic_name()
    write(config(mongo.uri, t, **{"document.id.strategy": "KafkaMetaData"}),
          bundle(t, [(None, {"_id": "mine", "v": 1})]))
    write(config(mongo.uri, other, **{"document.id.strategy": "KafkaMetaData",
                                      "document.id.strategy.overwrite.existing": "true"}),
          bundle(other, [(None, {"_id": "mine", "v": 1})]))

    assert _values(mongo.documents(t), "_id") == [("mine",)]
    assert _values(mongo.documents(other), "_id") == [("%s#0#0" % other,)]


def test_replace_one_default_replaces_the_whole_document(mongo):
    t = topic_name()
    sink = config(mongo.uri, t, **{"document.id.strategy": "ProvidedInValue"})
    write(sink, bundle(t, [(None, {"_id": 1, "a": 1, "b": 1}), (None, {"_id": 1, "a": 2})]))

    assert mongo.documents(t) == [{"_id": 1, "a": 2, KAFKA: _coordinates(t, 1)}]


def test_update_one_default_sets_the_values_fields(mongo):
    t = topic_name()
    sink = config(mongo.uri, t, **{"document.id.strategy": "ProvidedInValue",
                                   "writemodel.strategy": "UpdateOneDefault"})
    write(sink, bundle(t, [(None, {"_id": 1, "a": 1, "b": 1}), (None, {"_id": 1, "a": 2})]))

    assert mongo.documents(t) == [{"_id": 1, "a": 2, "b": 1, KAFKA: _coordinates(t, 1)}]


def test_update_one_timestamps_keeps_when_the_document_was_inserted(mongo):
    t = topic_name()
    sink = config(mongo.uri, t, **{"document.id.strategy": "ProvidedInValue",
                                   "writemodel.strategy": "UpdateOneTimestamps"})
    before = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
    write(sink, bundle(t, [(None, {"_id": 1, "a": 1, "b": 1})]))
    [first] = mongo.documents(t)
    write(sink, bundle(t, [(None, {"_id": 1, "a": 2})], start=1))
    [second] = mongo.documents(t)

    assert (second["a"], second["b"]) == (2, 1)
    assert second["_insertedTS"] == first["_insertedTS"] >= before
    assert second["_modifiedTS"] >= first["_modifiedTS"]


def test_business_key_strategies_match_by_the_key_fields(mongo):
    t = topic_name()
    projection = {"document.id.strategy": "PartialValue",
                  "document.id.strategy.partial.value.projection.type": "AllowList",
                  "document.id.strategy.partial.value.projection.list": "sku,shop.id"}
    replace = config(mongo.uri, t, **{**projection, "writemodel.strategy": "ReplaceOneBusinessKey"})
    write(replace, bundle(t, [(None, {"sku": "a", "shop": {"id": 1}, "qty": 1, "note": "x"}),
                              (None, {"sku": "b", "shop": {"id": 1}, "qty": 5})]))
    [a] = [d for d in mongo.documents(t) if d["sku"] == "a"]
    write(replace, bundle(t, [(None, {"sku": "a", "shop": {"id": 1}, "qty": 2})], start=2))
    update = config(mongo.uri, t, **{**projection,
                                     "writemodel.strategy": "UpdateOneBusinessKeyTimestamp"})
    write(update, bundle(t, [(None, {"sku": "b", "shop": {"id": 1}, "qty": 6})], start=3))

    documents = {d["sku"]: d for d in mongo.documents(t)}
    assert len(documents) == 2
    assert documents["a"]["_id"] == a["_id"] and isinstance(a["_id"], ObjectId)  # the same document
    assert (documents["a"]["qty"], "note" in documents["a"]) == (2, False)  # replaced
    assert documents["b"]["qty"] == 6 and "_modifiedTS" in documents["b"]  # updated


def test_insert_one_skips_a_replay_and_refuses_another_record_with_the_same_id(mongo):
    t = topic_name()
    sink = config(mongo.uri, t, **{"document.id.strategy": "FullKey",
                                   "writemodel.strategy": "InsertOne"})
    records = [({"id": i % 4}, {"v": i}) for i in range(6)]  # offsets 4 and 5 repeat keys 0 and 1

    [first] = write(sink, bundle(t, records))
    [replay] = write(sink, bundle(t, records))

    assert first.records == 4 and [f.offset for f in first.failed] == [4, 5]
    assert "refused the document (error 11000)" in first.failed[0].reason
    assert replay.records == 0 and [f.offset for f in replay.failed] == [4, 5]
    assert _values(mongo.documents(t), "_id", "v") == [({"id": i}, i) for i in range(4)]


def test_delete_one_default_as_the_write_model_deletes_by_key(mongo):
    t = topic_name()
    keep = config(mongo.uri, t, **{"document.id.strategy": "ProvidedInKey"})
    write(keep, bundle(t, [({"_id": i}, {"v": i}) for i in range(3)]))
    delete = config(mongo.uri, t, **{"writemodel.strategy": "DeleteOneDefault"})

    [result] = write(delete, bundle(t, [({"_id": 1}, {"anything": True})], start=3))

    assert result.records == 1
    assert _values(mongo.documents(t), "_id") == [(0,), (2,)]


def test_tombstones_delete_unless_the_document_is_newer(mongo):
    t = topic_name()
    sink = config(mongo.uri, t, **{"document.id.strategy": "FullKey", "delete.on.null.values": "true"})
    write(sink, bundle(t, [({"id": i}, {"v": i}) for i in range(4)]),
          bundle(t, [({"id": 1}, None), ({"id": 2}, {"v": 20}), ({"id": 2}, None)], start=4))
    # an older tombstone of key 3 (offset 2) arrives after its record (offset 3): it deletes nothing
    write(sink, bundle(t, [({"id": 0}, {"v": 0}), ({"id": 3}, None)], start=1))

    assert _values(mongo.documents(t), "_id", "v") == [({"id": 0}, 0), ({"id": 3}, 3)]


def test_a_tombstone_without_delete_on_null_values_is_refused_and_the_rest_written(mongo):
    t = topic_name()
    sink = config(mongo.uri, t, **{"document.id.strategy": "FullKey"})

    [result] = write(sink, bundle(t, [({"id": 1}, {"v": 1}), ({"id": 1}, None), ({"id": 2}, {"v": 2})]))

    assert [f.offset for f in result.failed] == [1]
    assert "needs delete.on.null.values=true" in result.failed[0].reason
    assert _values(mongo.documents(t), "_id", "v") == [({"id": 1}, 1), ({"id": 2}, 2)]


@pytest.mark.parametrize("strategy", ["KafkaMetaData", "FullKey"])
def test_a_range_replayed_twice_leaves_the_same_documents(mongo, strategy):
    t = topic_name()
    sink = config(mongo.uri, t, **{"document.id.strategy": strategy,
                                   "writemodel.strategy": "UpdateOneTimestamps"})
    first, second = (bundle(t, [({"id": i % 5}, {"v": i}) for i in range(10)]),
                     bundle(t, [({"id": i % 5}, {"v": i}) for i in range(10, 20)], start=10))
    write(sink, first, second)
    once = mongo.documents(t)

    replayed = write(sink, first, second)
    replayed += write(sink, first, second)

    assert mongo.documents(t) == once  # not even _modifiedTS moved
    assert [r.records for r in replayed] == [0, 0, 0, 0]


def test_two_bundles_in_reverse_order_leave_the_newest(mongo):
    t = topic_name()
    older = bundle(t, [({"id": i}, {"v": "old"}) for i in range(5)])
    newer = bundle(t, [({"id": i}, {"v": "new"}) for i in range(5)], start=5)
    sink = config(mongo.uri, t, **{"document.id.strategy": "FullKey"})

    results = write(sink, newer, older)

    assert [r.records for r in results] == [5, 0]
    assert _values(mongo.documents(t), "v", KAFKA) == [("new", _coordinates(t, 5 + i)) for i in range(5)]
    other = topic_name()
    unconditional = config(mongo.uri, other, **{"document.id.strategy": "FullKey",
                                                "offsets.field": ""})
    write(unconditional, bundle(other, [({"id": 0}, {"v": "new"})], start=5),
          bundle(other, [({"id": 0}, {"v": "old"})]))
    assert mongo.documents(other) == [{"_id": {"id": 0}, "v": "old"}]  # unconditional: the last wins


def test_records_of_another_partition_replace_whatever_offsets_they_have(mongo):
    t = topic_name()
    sink = config(mongo.uri, t, **{"document.id.strategy": "FullKey"})
    write(sink, bundle(t, [({"id": 1}, {"v": "p0"})], start=9), bundle(t, [({"id": 1}, {"v": "p1"})],
                                                                       partition=1))

    assert _values(mongo.documents(t), "v", KAFKA) == [("p1", _coordinates(t, 0, partition=1))]


@pytest.mark.parametrize("model, ordered", [("ReplaceOneDefault", "true"),  # sent unordered
                                            ("UpdateOneDefault", "true"), ("UpdateOneDefault", "false")])
def test_a_document_a_unique_index_refuses_is_set_aside_and_the_rest_written(mongo, model, ordered):
    t = topic_name()
    mongo.collection(t).create_index("email", unique=True)
    sink = config(mongo.uri, t, **{"document.id.strategy": "ProvidedInValue",
                                   "writemodel.strategy": model, "bulk.write.ordered": ordered})
    records = [(None, {"_id": i, "email": "e%d" % (i if i != 2 else 0)}) for i in range(5)]

    [result] = write(sink, bundle(t, records))

    assert [f.offset for f in result.failed] == [2] and result.records == 4
    assert _values(mongo.documents(t), "_id") == [(0,), (1,), (3,), (4,)]


def test_with_tolerance_none_a_refused_record_stops_the_bundle(mongo):
    t = topic_name()
    sink = config(mongo.uri, t, **{"document.id.strategy": "ProvidedInValue"})

    [result] = write(sink, bundle(t, [(None, {"_id": 0}), (None, {"v": "no id"}), (None, {"_id": 2})]),
                     tolerance="none")

    assert [f.offset for f in result.failed] == [1]
    assert "ProvidedInValueStrategy needs an _id field in the record value" in result.failed[0].reason
    assert mongo.documents(t) == []  # refused before anything of the bundle was written
    tolerant = config(mongo.uri, t, **{"document.id.strategy": "ProvidedInValue",
                                       "mongo.errors.tolerance": "data"})
    [result] = write(tolerant, bundle(t, [(None, {"_id": 0}), (None, {"v": 1}), (None, {"_id": 2})]),
                     tolerance="none")
    assert [f.offset for f in result.failed] == [1] and result.records == 2


def test_collections_from_the_topic_an_override_or_a_field(mongo):
    t = topic_name()
    routed = config(mongo.uri, t + "-copy", **{"document.id.strategy": "KafkaMetaData"})
    write(routed, bundle(t, [(None, {"v": 1})], target=t + "-copy"))
    assert _values(mongo.documents(t + "-copy"), "_id") == [("%s-copy#0#0" % t,)]

    overridden = config(mongo.uri, t, **{"topic.override.%s.collection" % t: t + "-over",
                                         "topic.override.%s.database" % t: "beamconnect_other"})
    write(overridden, bundle(t, [(None, {"v": 2})]))
    assert _values(mongo.documents(t + "-over", database="beamconnect_other"), "v") == [(2,)]

    by_field = config(mongo.uri, t, **{
        "namespace.mapper": "com.mongodb.kafka.connect.sink.namespace.mapping.FieldPathNamespaceMapper",
        "namespace.mapper.value.collection.field": "kind.name"})
    [result] = write(by_field, bundle(t, [(None, {"kind": {"name": t + "-a"}, "v": 3}),
                                          (None, {"kind": {}, "v": 4})]))
    assert _values(mongo.documents(t + "-a"), "v") == [(3,)]
    assert _values(mongo.documents(t), "v") == [(4,)]  # no such field: the default collection
    assert set(result.targets) == {"beamconnect_test.%s-a" % t, "beamconnect_test.%s" % t}


def test_max_batch_size_splits_the_bulk_writes_and_rate_limiting_pauses(mongo):
    import pymongo.collection

    t = topic_name()
    sink = config(mongo.uri, t, **{"document.id.strategy": "KafkaMetaData", "max.batch.size": "4",
                                   "rate.limiting.every.n": "2", "rate.limiting.timeout": "400"})
    sizes, bulk_write = [], pymongo.collection.Collection.bulk_write

    def counted(self, requests, **options):
        sizes.append(len(requests))
        return bulk_write(self, requests, **options)

    pymongo.collection.Collection.bulk_write = counted
    started = time.monotonic()
    try:
        [result] = write(sink, bundle(t, [(None, {"v": i}) for i in range(10)]))
    finally:
        pymongo.collection.Collection.bulk_write = bulk_write

    assert result.records == 10 and len(mongo.documents(t)) == 10
    assert sizes == [4, 4, 2]
    assert 0.4 <= time.monotonic() - started < 0.8  # one pause, after the second bulk write


def test_the_server_restarted_between_bundles_is_waited_for(mongo):
    if mongo.local is None:
        pytest.skip("stops and restarts the suite's own server")
    from sinks.base import Mode, WriteContext
    from sinks.mongodb.writer import _MongoWriteFn
    from transforms.errors import ErrorPolicy

    t = topic_name()
    sink = config(mongo.uri, t, **{"document.id.strategy": "KafkaMetaData"})
    fn = _MongoWriteFn(sink, WriteContext(Mode.BATCH, (), ErrorPolicy(), "mongodb"))
    fn.setup()
    results = []
    try:
        list(fn.process(bundle(t, [(None, {"v": i}) for i in range(5)])))  # a pooled connection
        mongo.local.pause()
        writing = threading.Thread(target=lambda: results.extend(
            fn.process(bundle(t, [(None, {"v": i}) for i in range(5, 10)], start=5))))
        writing.start()
        time.sleep(1.5)
        assert writing.is_alive()  # waiting for the server
    finally:
        mongo.local.resume()  # from this thread: the server dies with the thread that started it
        writing.join(60)
        fn.teardown()
    assert [r.records for r in results] == [5] and len(mongo.documents(t)) == 10


def test_a_server_that_stays_away_is_a_retriable_error_naming_it():
    from pipelines.processes import free_ports

    port = free_ports(1)[0]
    t = topic_name()
    sink = config("mongodb://u:secret@127.0.0.1:%d/?serverSelectionTimeoutMS=300" % port, t)
    with pytest.raises(RetriableError, match=re.escape(
            "no MongoDB server at 127.0.0.1:%d answered within 0.3s (serverSelectionTimeoutMS) "
            "writing records 0..0 of topic=%s partition=0" % (port, t))) as failure:
        write(sink, bundle(t, [(None, {"v": 1})]))
    assert "secret" not in str(failure.value)


def test_refused_credentials_are_a_clear_error_before_any_record_is_read(mongo):
    from common.errors import BeamConnectError
    from sinks.mongodb.sink import MongoSink
    from tests.servers.ferretdb import LocalFerretDB
    from tests.sinks.mongodb.conftest import DATABASE, MONGODB_URI_VARIABLE

    server = None
    if os.environ.get(MONGODB_URI_VARIABLE):
        host = mongo.uri.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
        uri = "mongodb://nobody:wrong-s3cret@%s/?serverSelectionTimeoutMS=5000" % host
    else:
        server = LocalFerretDB(user=("beam", "right-s3cret", DATABASE)).start()
        host = "127.0.0.1:%d" % server.port
        uri = "mongodb://beam:wrong-s3cret@%s/?authSource=%s" % (host, DATABASE)
    try:
        with pytest.raises(BeamConnectError, match=re.escape(
                "MongoDB at %s refused the credentials or rights of connection.uri connecting: "
                % host)) as refused:
            MongoSink().check(config(uri, topic_name()))  # the run calls it before planning
        if server is not None:
            right = uri.replace("wrong-s3cret", "right-s3cret")
            MongoSink().check(config(right, topic_name()))
    finally:
        if server is not None:
            server.stop()
    assert "s3cret" not in str(refused.value)


def test_a_time_series_collection_is_made_before_any_record_is_read(mongo):
    from common.errors import BeamConnectError
    from sinks.mongodb.sink import MongoSink

    t = topic_name()
    sink = config(mongo.uri, t, **{"timeseries.timefield": "at", "timeseries.metafield": "sensor",
                                   "timeseries.timefield.auto.convert": "true"})
    if mongo.local is not None:  # FerretDB has no time series collections: a clear refusal
        with pytest.raises(BeamConnectError, match=re.escape(
                "timeseries.timefield=at: MongoDB could not create the time series collection "
                "beamconnect_test.%s: " % t)):
            MongoSink().check(sink)
        return
    MongoSink().check(sink)
    [result] = write(sink, bundle(t, [(None, {"at": 1700000000000, "sensor": "a", "v": 1}),
                                      (None, {"at": "2024-05-06T07:08:09Z", "sensor": "b", "v": 2})]))
    assert result.records == 2
    assert [d["at"].year for d in mongo.documents(t)] == [2023, 2024]
