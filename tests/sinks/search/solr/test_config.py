"""The Solr sink's config (kafka-connect-solr's keys and defaults, deliberate refusals) and how records
become documents; no server."""

import datetime
import decimal
import json
import pickle
import re

import pyarrow as pa
import pytest

from common.errors import ConfigError, DataError
from pipelines.config.connector import parse_connector_config
from sinks import find_sink
from sinks.search.solr import CloudSolrSink, SolrSink
from sinks.search.solr.client import update_body
from sinks.search.solr.records import document_id, json_document, plan, solr_value
from transforms.records import ConvertedBundle

HTTP = "com.github.jcustenborder.kafka.connect.solr.HttpSolrSinkConnector"
CLOUD = "com.github.jcustenborder.kafka.connect.solr.CloudSolrSinkConnector"


def _connector(**overrides):
    raw = {"name": "twitter-to-solr", "connector.class": HTTP, "topics": "twitter",
           "bootstrap.servers": "kafka:9092", "solr.url": "http://solr:8983/solr/twitter", **overrides}
    return parse_connector_config({k: v for k, v in raw.items() if v is not None})


def _parse(**overrides):
    return _connector(**overrides).sink_config


def test_the_class_names_find_the_sinks():
    assert isinstance(find_sink(HTTP), SolrSink)
    assert find_sink("solr") is find_sink(HTTP)
    assert isinstance(find_sink(CLOUD), CloudSolrSink)


def test_defaults_are_kafka_connect_solrs():
    config = _parse()

    assert (config.url, config.base_url, config.core) == (
        "http://solr:8983/solr/twitter", "http://solr:8983/solr", "twitter")
    assert (config.username, config.password, config.commit_within_ms, config.delete_enabled) == (
        "", "", -1, True)
    assert (config.connect_timeout_ms, config.socket_timeout_ms, config.flush_size) == (
        15000, 120000, 1000)
    assert (config.max_retries, config.retry_backoff_ms) == (5, 100)  # the sink's own keys
    assert config.known_cores == ("twitter",)
    assert config.core_of("anything") == "twitter"
    assert _connector().sink.bundling(config).flush_size == 1000


def test_its_example_config_is_taken_as_written_with_warnings_for_keys_it_never_defined():
    connector = _connector(**{
        "tasks.max": "2", "solr.url": "http://127.0.0.1:8984/solr/twitter/", "solr.topic": "twitter",
        "solr.core.name": "twitter", "solr.username": "freddy", "solr.password": "password12345",
        "solr.commit.within": "1000", "solr.delete.documents.enabled": "false",
        "solr.queue.size": "500", "solr.thread.count": "4", "solr.connect.timeout.ms": "2000",
        "solr.socket.timeout.ms": "30000", "flush.size": "200"})
    config = connector.sink_config

    assert (config.url, config.core, config.username, config.commit_within_ms) == (
        "http://127.0.0.1:8984/solr/twitter", "twitter", "freddy", 1000)
    assert (config.delete_enabled, config.connect_timeout_ms, config.socket_timeout_ms,
            config.flush_size) == (False, 2000, 30000, 200)
    assert sorted(w.split(" ", 1)[0] for w in connector.warnings) == [
        "solr.core.name", "solr.queue.size", "solr.thread.count", "solr.topic"]
    assert connector.tasks_max == 2
    assert "password12345" not in repr(config) + "".join(connector.warnings)
    assert pickle.loads(pickle.dumps(config)) == config  # DoFns are pickled with it


def test_the_base_url_sends_each_record_to_the_core_its_topic_names():
    config = _parse(**{"solr.url": "https://solr.example.com/search/solr", "topics": "a,b"})
    assert (config.core, config.base_url, config.known_cores) == (
        None, "https://solr.example.com/search/solr", ("a", "b"))
    assert config.core_of("orders.v1") == "orders.v1"
    assert config.core_url("orders.v1") == "https://solr.example.com/search/solr/orders.v1"

    routed = _parse(**{"solr.url": "http://solr:8983/solr", "transforms": "r",
                       "transforms.r.type": "org.apache.kafka.connect.transforms.RegexRouter",
                       "transforms.r.regex": "(.*)", "transforms.r.replacement": "$1-x"})
    assert routed.known_cores == ()  # known only from the records
    assert _parse(**{"solr.url": "http://solr:8983/solr", "topics": None,
                     "topics.regex": "t.*"}).known_cores == ()


@pytest.mark.parametrize("url, message", [
    ("solr:8983/solr", "solr.url must be an http(s) URL of a core (http://host:8983/solr/<core>) or "
                       "of Solr's base (http://host:8983/solr), got 'solr:8983/solr'"),
    ("http://solr.example.com:8993/", "a URL without a path names neither, got "
                                      "'http://solr.example.com:8993/'"),
    ("http://solr:8983/solr/c?commit=true", "without a query, got 'http://solr:8983/solr/c?commit=true'"),
    ("http://solr:port/solr", "got 'http://solr:port/solr'"),
    ("http://freddy:password12345@solr:8983/solr",
     "solr.url must not carry credentials: set solr.username and solr.password"),
])
def test_urls_that_name_neither_a_core_nor_solr_are_refused(url, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        _parse(**{"solr.url": url})
    assert "password12345" not in str(raised.value)


@pytest.mark.parametrize("key, value, message", [
    ("solr.url", None, "solr.url is required"),
    ("solr.commit.within", "-2", "solr.commit.within must be at least -1, got '-2'"),
    ("solr.delete.documents.enabled", "yes",
     "solr.delete.documents.enabled must be 'true' or 'false', got 'yes'"),
    ("flush.size", "0", "flush.size must be at least 1, got '0'"),
    ("solr.password", "secret", "solr.password is set but solr.username is empty"),
    ("solr.zookeeper.hosts", "zk:2181", "unknown key 'solr.zookeeper.hosts'"),
])
def test_invalid_values_are_refused_naming_the_key(key, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _parse(**{key: value})


def test_the_cloud_connector_is_refused_with_the_way_to_reach_solrcloud():
    with pytest.raises(ConfigError, match=re.escape(
            "connector.class=%s finds SolrCloud through ZooKeeper (solr.zookeeper.hosts), which "
            "this sink does not do" % CLOUD)) as raised:
        _connector(**{"connector.class": CLOUD, "solr.url": None,
                      "solr.zookeeper.hosts": "zookeeper:2181", "solr.collection.name": "twitter",
                      "solr.commit.within": "1000"})
    assert "use connector.class=%s with solr.url=http://<node>:8983/solr" % HTTP in str(raised.value)


# -- records as documents


def _bundle(keys, values, topics=None, key_type=pa.string()):
    offsets = list(range(10, 10 + len(keys)))
    return ConvertedBundle("orders", 1, 10, offsets, [0] * len(keys), pa.array(keys, key_type),
                           pa.array(values), [None] * len(keys), topics=topics)


def test_values_become_solr_json_documents():
    value = {"when": datetime.datetime(2024, 5, 1, 12, 30, 0, 250000, tzinfo=datetime.timezone.utc),
             "day": datetime.date(2024, 5, 1), "at": datetime.time(8, 15), "price":
             decimal.Decimal("12.30"), "raw": b"\x00\xff", "tags": ["a", None, "b"], "gone": None,
             "nested": {"x": 1, "y": None}, "flag": True}
    assert json_document(value) == {
        "when": "2024-05-01T12:30:00.250Z", "day": "2024-05-01T00:00:00Z",
        "at": "1970-01-01T08:15:00Z", "price": "12.30", "raw": "AP8=", "tags": ["a", "b"],
        "nested": {"x": 1}, "flag": True}
    assert solr_value(datetime.datetime(2024, 1, 1)) == "2024-01-01T00:00:00Z"  # naive is UTC
    with pytest.raises(DataError, match=re.escape(
            "a value must be a struct or a JSON object to become a Solr document, got an array")):
        json_document([1])


def test_document_ids_from_the_key_the_value_field_or_the_coordinates():
    assert document_id("k", {"n": 1}, "id", "orders", 1, 7) == "k"
    assert document_id("5", {"id": 5}, "id", "orders", 1, 7) == "5"
    assert document_id(None, {"id": True}, "id", "orders", 1, 7) == "true"
    assert document_id(None, {"sku": "A-1"}, "sku", "orders", 1, 7) == "A-1"
    assert document_id(None, {"n": 1}, "id", "orders", 1, 7) == "orders+1+7"
    with pytest.raises(DataError, match=re.escape("the value's 'id' field is not the record key")):
        document_id("k", {"id": "other"}, "id", "orders", 1, 7)
    with pytest.raises(DataError, match=re.escape(
            "the value's 'id' field is a struct or map; a document id must be a string, number or "
            "boolean")):
        document_id(None, {"id": {"a": 1}}, "id", "orders", 1, 7)


def test_a_bundle_reduces_to_one_operation_per_document_and_core():
    bundle = _bundle(["a", "b", "a", None, "b", "c"],
                     [{"n": 1}, {"n": 2}, {"n": 3}, None, None, {"n": 6}],
                     topics=["x", "x", "x", "x", "x", "y"])
    made = plan(bundle, lambda topic: "core-" + topic, lambda core: "id", delete_enabled=True)

    assert made.skipped == 1 and made.refused == []  # the tombstone without a key
    assert [(op.id, op.offset, op.document, op.offsets) for op in made.operations["core-x"]] == [
        ("a", 12, {"n": 3, "id": "a"}, [10, 12]), ("b", 14, None, [11, 14])]
    assert [(op.id, op.offset) for op in made.operations["core-y"]] == [("c", 15)]

    kept = plan(bundle, lambda topic: "core", lambda core: "id", delete_enabled=False)
    assert kept.skipped == 2
    assert [(op.id, op.document) for op in kept.operations["core"]] == [
        ("b", {"n": 2, "id": "b"}), ("a", {"n": 3, "id": "a"}), ("c", {"n": 6, "id": "c"})]


def test_keys_that_cannot_be_ids_are_refused_with_the_reason():
    made = plan(_bundle([1.5, None], [{"n": 1}, {"n": 2}], key_type=pa.float64()),
                lambda topic: "core", lambda core: "id", delete_enabled=True)
    assert made.refused == [(10, "a number key cannot be a document id (only string and integer "
                                 "keys can)")]
    assert [op.id for op in made.operations["core"]] == ["orders+1+11"]


def test_an_update_body_repeats_add_and_delete_commands():
    body = update_body([{"id": "a", "_version_": -1}, {"id": "b", "t": "é"}],
                       [{"id": "c", "_version_": 5}])
    assert body == ('{"add":{"doc":{"id":"a","_version_":-1}},"add":{"doc":{"id":"b","t":"é"}},'
                    '"delete":{"id":"c","_version_":5}}').encode("utf-8")
    with pytest.raises(json.JSONDecodeError):  # not what json.loads would keep: Solr reads it
        json.loads(body, object_pairs_hook=_no_repeats)


def _no_repeats(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise json.JSONDecodeError("repeated key", "", 0)
    return dict(pairs)
