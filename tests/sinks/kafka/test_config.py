"""The Kafka sink's config parsing and record encoding: plain unit tests, no broker."""

import datetime
import re

import pyarrow as pa
import pytest

from common.errors import BeamConnectError, ConfigError
from pipelines.config.connector import parse_connector_config
from sinks.kafka import KafkaSink
from sinks.kafka.records import encode, producer_records
from transforms.records import ConvertedBundle, KafkaBundle

ROUTER = {"transforms": "route",
          "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
          "transforms.route.regex": "(.*)", "transforms.route.replacement": "$1-copy"}


def _parse(router=True, **overrides):
    raw = {"name": "copy", "connector.class": "kafka", "topics": "orders,payments",
           "bootstrap.servers": "src:9092", **(ROUTER if router else {}), **overrides}
    return parse_connector_config({k: v for k, v in raw.items() if v is not None}).sink_config


def test_defaults_write_raw_bytes_to_the_source_cluster_in_the_groups_transactions():
    config = _parse(**{"consumer.override.security.protocol": "SSL",
                       "consumer.override.ssl.endpoint.identification.algorithm": "https"})

    assert config.same_cluster
    assert (config.key_format, config.value_format, config.flush_size) == ("raw", "raw", 1000)
    assert config.group_id == "connect-copy"
    assert config.transactional_id("orders", 3) == "beamconnect-copy-orders-3"
    assert config.producer_config == {"bootstrap.servers": "src:9092", "security.protocol": "SSL",
                                      "ssl.endpoint.identification.algorithm": "https"}
    assert config.source_client == config.producer_config


def test_producer_overrides_are_translated_and_another_bootstrap_is_another_cluster():
    config = _parse(**{
        "producer.override.bootstrap.servers": "dst:9093",
        "producer.override.sasl.jaas.config":
            'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" '
            'password="p";',
        "producer.override.send.buffer.bytes": "65536",
        "producer.override.compression.type": "zstd",
        "consumer.override.security.protocol": "SSL"})

    assert not config.same_cluster
    assert config.producer_config == {"bootstrap.servers": "dst:9093", "sasl.username": "u",
                                      "sasl.password": "p", "socket.send.buffer.bytes": "65536",
                                      "compression.type": "zstd"}
    assert "compression.type" not in config.target_client
    assert config.source_client == {"bootstrap.servers": "src:9092", "security.protocol": "SSL"}
    assert "'p'" not in repr(config)
    assert config.offsets_key("orders", 2) == b"copy/orders/2"
    assert (config.offsets_topic, config.offsets_replication_factor) == ("beamconnect-offsets", -1)


def test_the_source_servers_written_otherwise_are_still_the_source_cluster():
    assert _parse(**{"producer.override.bootstrap.servers": " SRC:9092 "}).same_cluster


def test_consumer_overrides_name_the_source_cluster_and_group():
    config = _parse(**{"consumer.override.bootstrap.servers": "other-src:9092",
                       "consumer.override.group.id": "mygroup"})
    assert config.source_servers == "other-src:9092"
    assert config.group_id == "mygroup"


def test_formats_are_checked_and_registry_formats_need_a_registry_url():
    assert _parse(**{"kafka.value.format": "JSON", "kafka.key.format": "string"}).value_format == "json"
    with pytest.raises(ConfigError, match=re.escape(
            "kafka.value.format.schema.registry.url is required with kafka.value.format='avro', "
            "got ''")):
        _parse(**{"kafka.value.format": "avro"})
    with pytest.raises(ConfigError, match=re.escape(
            "kafka.key.format must be one of 'raw', 'string', 'json', 'avro', 'json_sr', "
            "'jsonschema', 'protobuf', got 'xml'")):
        _parse(**{"kafka.key.format": "xml"})


def test_writing_back_into_the_source_topics_is_a_config_error():
    with pytest.raises(ConfigError, match=re.escape(
            "without transforms each record goes back to the topic it was read from "
            "(topics=orders,payments)")):
        _parse(router=False)
    assert not _parse(router=False, **{"producer.override.bootstrap.servers": "dst:9093"}).same_cluster


def test_raw_refuses_transforms_whose_edits_it_would_not_write():
    insert = {"transforms": "route,add",
              "transforms.add.type": "org.apache.kafka.connect.transforms.InsertField$Value",
              "transforms.add.static.field": "c", "transforms.add.static.value": "y"}
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.add.type='org.apache.kafka.connect.transforms.InsertField$Value' edits the "
            "record values, which kafka.value.format=raw writes as read: set kafka.value.format to "
            "string or json")):
        _parse(**insert)
    assert _parse(**insert, **{"kafka.value.format": "json"}).key_format == "raw"
    with pytest.raises(ConfigError, match=re.escape("kafka.key.format=raw")):
        _parse(**{"transforms": "route,key", "transforms.key.type":
                  "org.apache.kafka.connect.transforms.ValueToKey", "transforms.key.fields": "id"})


def test_reads_names_the_topics_and_the_regex():
    config = _parse(topics=None, **{"topics.regex": "orders-.*"})
    assert config.reads("orders-eu") and not config.reads("orders") and not config.reads("x-orders-eu")
    config = _parse()
    assert config.reads("orders") and not config.reads("orders-copy")


@pytest.mark.parametrize("key,value", [("transactional.id", "mine"), ("enable.idempotence", "false"),
                                       ("acks", "1")])
def test_producer_settings_the_transactions_need_cannot_be_overridden(key, value):
    with pytest.raises(ConfigError, match=re.escape("producer.override.%s must not be set" % key)):
        _parse(**{"producer.override." + key: value})
    if key != "transactional.id":
        _parse(**{"producer.override." + key: "true" if key == "enable.idempotence" else "all"})


def test_producer_settings_librdkafka_refuses_are_config_errors():
    with pytest.raises(ConfigError, match=re.escape(
            "the producer settings (producer.override.*) are invalid: No such configuration "
            "property: \"partitioner.class\"")):
        _parse(**{"producer.override.partitioner.class": "org.example.MyPartitioner"})
    with pytest.raises(ConfigError, match=re.escape("producer.override.*) are invalid")):
        _parse(**{"producer.override.transaction.timeout.ms": "10000",
                  "producer.override.delivery.timeout.ms": "20000"})


def test_java_producer_keys_reach_librdkafka_under_its_names():
    config = _parse(**{"producer.override.max.request.size": "2000000"})
    assert config.producer_config["message.max.bytes"] == "2000000"


def test_the_command_lines_bootstrap_servers_reach_the_sink_too():
    config = parse_connector_config({"name": "copy", "connector.class": "kafka", "topics": "orders",
                                     **ROUTER}, bootstrap_servers="cli:9092").sink_config
    assert config.source_servers == config.target_servers == "cli:9092" and config.same_cluster


def test_the_sink_commits_its_own_offsets_and_bundles_by_flush_size():
    config = _parse(**{"flush.size": "250"})
    sink = KafkaSink()
    assert sink.commits_offsets
    assert sink.bundling(config).flush_size == 250


# Encoding.

def _bundle(keys, values, topics=None):
    count = len(values)
    raw = KafkaBundle("orders", 0, 10, list(range(10, 10 + count)), [1000 + i for i in range(count)],
                      [1] * count, [b"rk%d" % i for i in range(count)],
                      [b"rv%d" % i for i in range(count)], [[("h", b"1")]] + [None] * (count - 1))
    return ConvertedBundle("orders", 0, 10, raw.offsets, raw.timestamps, keys, values, raw.headers,
                           topics=topics, raw=raw, rows=list(range(count)))


def test_raw_records_carry_the_bytes_as_read_to_their_target_topics():
    bundle = _bundle(pa.array(["a", "b"]), pa.array([{"x": 1}, {"x": 2}]),
                     topics=["orders-copy", "other"])
    records = producer_records(bundle, "raw", "raw")
    assert [(t, r.key, r.value, r.timestamp, r.headers) for t, r in records] == [
        ("orders-copy", b"rk0", b"rv0", 1000, [("h", b"1")]),
        ("other", b"rk1", b"rv1", 1001, None)]


def test_string_and_json_records_are_written_from_the_converted_data():
    bundle = _bundle(pa.array(["a", None]), pa.array([{"x": 1, "b": b"\x01"}, None]))
    records = producer_records(bundle, "string", "json")
    assert [(r.key, r.value) for _, r in records] == [(b"a", b'{"x":1,"b":"AQ=="}'), (None, None)]


def test_json_encodes_connect_logical_types_as_the_json_converter_does():
    moment = datetime.datetime(1970, 1, 2, tzinfo=datetime.timezone.utc)
    assert encode({"t": moment, "d": datetime.date(1970, 1, 3), "s": "é"}, "json") == \
        '{"t":86400000,"d":2,"s":"é"}'.encode("utf-8")
    assert encode(7, "string") == b"7"
    assert encode(b"\xff", "string") == b"\xff"


def test_raw_needs_the_records_as_read():
    bundle = _bundle(pa.array(["a"]), pa.array(["v"]))
    bundle.raw = None
    with pytest.raises(BeamConnectError, match=re.escape("kafka.key.format=raw needs the records")):
        producer_records(bundle, "raw", "raw")
