"""Tests of the connector config: common keys, the sink registry and the file sink's keys.

``parse_connector_config`` checks ``consumer.override.*`` by building a librdkafka Consumer locally and
closing it; no broker is needed.
"""

import os
import pickle
import re

import pytest

from pipelines.config import ConfigError
from pipelines.config.connector import ConnectorConfig, parse_connector_config
from sinks import SINKS, find_sink
from sinks.files import FilesSink
from sinks.files.config import CONFIG_DEF, FilesSinkConfig
from sinks.files.formats import JsonLinesFormat, ParquetFormat
from sinks.files.partitioners import DefaultPartitioner
from sinks.files.storage import LocalStorage
from sinks.files.deadletter import StoreDeadLetters
from transforms.converters import ByteArrayConverter, JsonConverter, StringConverter
from transforms.errors import ErrorPolicy
from transforms.kafka.deadletter import TopicDeadLetters

SERVERS = "127.0.0.1:9092"
S3_CONNECTOR = "io.confluent.connect.s3.S3SinkConnector"
GCS_CONNECTOR = "io.confluent.connect.gcs.GcsSinkConnector"


@pytest.fixture
def store(tmp_path):
    return str(tmp_path / "out")


def raw_config(store, overrides=None, drop=()):
    """A minimal valid files config, as a properties file gives it: every value a string."""
    raw = {
        "name": "orders",
        "connector.class": "files",
        "topics": "orders",
        "store.url": store,
        "format.class": "parquet",
        "flush.size": "100",
        "bootstrap.servers": SERVERS,
    }
    raw.update(overrides or {})
    for key in drop:
        del raw[key]
    return raw


def parse(store, overrides=None, drop=(), **kwargs):
    return parse_connector_config(raw_config(store, overrides, drop), **kwargs)


# A minimal config.

def test_minimal_files_config(store):
    config = parse(store)

    assert isinstance(config, ConnectorConfig)
    assert config.name == "orders"
    assert config.connector_class == "files"
    assert isinstance(config.sink, FilesSink)
    assert config.topics == ("orders",)
    assert config.topics_regex is None
    assert config.group_id == "connect-orders"
    assert config.consumer_config == {"group.id": "connect-orders", "bootstrap.servers": SERVERS}
    assert config.auto_offset_reset == "earliest"
    assert config.warnings == ()


def test_minimal_config_builds_json_converters_by_default(store):
    config = parse(store)

    assert type(config.key_converter) is JsonConverter
    assert type(config.value_converter) is JsonConverter
    assert config.key_converter.schemas_enable is True
    assert config.value_converter.schemas_enable is True


def test_minimal_config_sink_values(store):
    sink_config = parse(store).sink_config

    assert isinstance(sink_config, FilesSinkConfig)
    assert sink_config.flush_size == 100
    assert isinstance(sink_config.format, ParquetFormat)
    assert sink_config.format.extension == ".snappy.parquet"
    assert isinstance(sink_config.storage, LocalStorage)
    assert sink_config.storage.root == store
    assert os.path.isabs(sink_config.storage.root)
    assert sink_config.topics_dir == "topics"
    assert sink_config.pad_width == 10
    assert isinstance(sink_config.partitioner, DefaultPartitioner)
    assert sink_config.file_delim == "+"
    assert sink_config.null_values == "fail"


def test_named_converters_are_built(store):
    config = parse(store, {
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
    })

    assert type(config.key_converter) is StringConverter
    assert type(config.value_converter) is ByteArrayConverter


def test_unknown_converter_lists_allowed_names(store):
    with pytest.raises(ConfigError, match=re.escape(
            "key.converter must be one of 'ByteArrayConverter', 'StringConverter', 'JsonConverter', "
            "'AvroConverter', 'JsonSchemaConverter', 'ProtobufConverter', got 'io.example.XmlConverter'")):
        parse(store, {"key.converter": "io.example.XmlConverter"})


def test_name_becomes_group_id(store):
    assert parse(store, {"name": "archive.v2_x-1"}).group_id == "connect-archive.v2_x-1"


def test_name_with_space_is_rejected(store):
    with pytest.raises(ConfigError, match=re.escape(
            r"name must match '[A-Za-z0-9._\-]+', got 'my orders'")):
        parse(store, {"name": "my orders"})


def test_name_is_required(store):
    with pytest.raises(ConfigError, match=re.escape("name is required")):
        parse(store, drop=["name"])


# Bootstrap servers.

def test_bootstrap_servers_argument_wins_over_config_key(store):
    config = parse(store, {"bootstrap.servers": "config-host:9092"}, bootstrap_servers="cli-host:9093")

    assert config.consumer_config["bootstrap.servers"] == "cli-host:9093"


def test_bootstrap_servers_argument_wins_over_consumer_override(store):
    config = parse(store, {"consumer.override.bootstrap.servers": "override-host:9092"},
                   bootstrap_servers="cli-host:9093")

    assert config.consumer_config["bootstrap.servers"] == "cli-host:9093"


def test_bootstrap_servers_argument_alone_is_enough(store):
    config = parse(store, drop=["bootstrap.servers"], bootstrap_servers="cli-host:9093")

    assert config.consumer_config == {"group.id": "connect-orders", "bootstrap.servers": "cli-host:9093"}


def test_consumer_override_bootstrap_servers_is_used(store):
    config = parse(store, {"consumer.override.bootstrap.servers": "override-host:9092"})

    assert config.consumer_config["bootstrap.servers"] == "override-host:9092"


@pytest.mark.parametrize("argument", [None, ""])
def test_missing_bootstrap_servers(store, argument):
    with pytest.raises(ConfigError, match=re.escape(
            "bootstrap.servers is required: set it in the config or pass --bootstrap-servers HOST:PORT")):
        parse(store, drop=["bootstrap.servers"], bootstrap_servers=argument)


# Connector classes and the sink registry.

@pytest.mark.parametrize("connector_class", ["files", S3_CONNECTOR, GCS_CONNECTOR])
def test_connector_classes_map_to_files_sink(store, connector_class):
    config = parse(store, {"connector.class": connector_class})

    assert config.connector_class == connector_class
    assert isinstance(config.sink, FilesSink)
    assert config.sink_config.flush_size == 100


def test_connector_class_is_stripped(store):
    assert parse(store, {"connector.class": " %s " % S3_CONNECTOR}).connector_class == S3_CONNECTOR


def test_unknown_connector_class_lists_allowed_names(store):
    with pytest.raises(ConfigError, match=re.escape(
            "connector.class must be one of %s, got 'io.example.NoSuchSinkConnector'"
            % ", ".join(repr(n) for n in SINKS))):
        parse(store, {"connector.class": "io.example.NoSuchSinkConnector"})
    assert list(SINKS)[:3] == ["files", S3_CONNECTOR, GCS_CONNECTOR]


def test_connector_class_is_required(store):
    with pytest.raises(ConfigError, match=re.escape("connector.class is required")):
        parse(store, drop=["connector.class"])


def test_find_sink_returns_one_files_sink_for_every_name():
    sinks = [find_sink(name) for name in ("files", S3_CONNECTOR, GCS_CONNECTOR)]

    assert all(isinstance(sink, FilesSink) for sink in sinks)
    assert sinks[0] is sinks[1] is sinks[2]
    assert not [name for name, sink in SINKS.items() if sink is sinks[0]
                and name not in ("files", S3_CONNECTOR, GCS_CONNECTOR)]


def test_find_sink_is_case_sensitive():
    with pytest.raises(ConfigError, match=re.escape(
            "connector.class must be one of %s, got 'Files'" % ", ".join(repr(n) for n in SINKS))):
        find_sink("Files")


# Topics.

def test_topics_list(store):
    assert parse(store, {"topics": "orders, payments,,refunds"}).topics == (
        "orders", "payments", "refunds")


def test_topics_regex(store):
    config = parse(store, {"topics.regex": r"orders\..*"}, drop=["topics"])

    assert config.topics == ()
    assert config.topics_regex == r"orders\..*"


def test_topics_and_topics_regex_both_set(store):
    with pytest.raises(ConfigError, match=re.escape(
            "exactly one of topics and topics.regex must be set, got topics='orders' and "
            "topics.regex='orders.*'")):
        parse(store, {"topics.regex": "orders.*"})


def test_neither_topics_nor_topics_regex(store):
    with pytest.raises(ConfigError, match=re.escape(
            "exactly one of topics and topics.regex must be set, got topics=None and "
            "topics.regex=None")):
        parse(store, drop=["topics"])


def test_blank_topics_counts_as_unset(store):
    with pytest.raises(ConfigError, match=re.escape(
            "exactly one of topics and topics.regex must be set, got topics=' , ' and "
            "topics.regex=None")):
        parse(store, {"topics": " , "})


def test_invalid_topics_regex(store):
    with pytest.raises(ConfigError, match=re.escape(
            "topics.regex must be a regular expression, got 'orders(': ")):
        parse(store, {"topics.regex": "orders("}, drop=["topics"])


# Unknown, missing and invalid keys.

def test_unknown_key_with_close_match(store):
    with pytest.raises(ConfigError, match=re.escape(
            "unknown key 'flush.sise' for this connector; did you mean 'flush.size'?")):
        parse(store, {"flush.sise": "100"})


def test_unknown_key_without_close_match_lists_known_keys(store):
    with pytest.raises(ConfigError, match=re.escape("unknown key 'colour'; known keys: ")) as info:
        parse(store, {"colour": "blue"})

    message = str(info.value)
    for known in ("flush.size", "store.url", "topics.regex", "tasks.max", "storage.class"):
        assert known in message
    assert message.endswith(
        "; and any key starting with 'consumer.override.', 'key.converter.', 'predicates.', "
        "'producer.override.', 'transforms.', 'value.converter.'")


def test_missing_required_key(store):
    with pytest.raises(ConfigError, match=re.escape("flush.size is required")):
        parse(store, drop=["flush.size"])


def test_missing_store_url(store):
    with pytest.raises(ConfigError, match=re.escape("store.url is required")):
        parse(store, drop=["store.url"])


@pytest.mark.parametrize("value, message", [
    ("abc", "flush.size must be an integer, got 'abc'"),
    ("1.5", "flush.size must be an integer, got '1.5'"),
    ("0", "flush.size must be at least 1, got '0'"),
    ("-5", "flush.size must be at least 1, got '-5'"),
])
def test_bad_flush_size(store, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse(store, {"flush.size": value})


def test_flush_size_is_stripped(store):
    assert parse(store, {"flush.size": " 2500 "}).sink_config.flush_size == 2500


def test_bad_format_class_lists_allowed_names(store):
    with pytest.raises(ConfigError, match=re.escape(
            "format.class must be one of 'parquet', 'json', 'avro', 'bytearray', "
            "'io.confluent.connect.s3.format.bytearray.ByteArrayFormat', ")) as info:
        parse(store, {"format.class": "csv"})

    assert str(info.value).endswith(", got 'csv'")


def test_bad_parquet_codec(store):
    with pytest.raises(ConfigError, match=re.escape(
            "parquet.codec must be one of 'none', 'snappy', 'gzip', 'lz4', 'zstd', 'brotli', "
            "got 'lzo'")):
        parse(store, {"parquet.codec": "lzo"})


@pytest.mark.parametrize("codec, extension", [
    ("none", ".parquet"), ("gzip", ".gz.parquet"), ("ZSTD", ".zstd.parquet")])
def test_parquet_codec_sets_extension(store, codec, extension):
    assert parse(store, {"parquet.codec": codec}).sink_config.format.extension == extension


@pytest.mark.parametrize("format_class, format_type, extension", [
    ("io.confluent.connect.s3.format.parquet.ParquetFormat", ParquetFormat, ".snappy.parquet"),
    ("io.confluent.connect.gcs.format.parquet.ParquetFormat", ParquetFormat, ".snappy.parquet"),
    ("io.confluent.connect.s3.format.json.JsonFormat", JsonLinesFormat, ".json"),
    ("io.confluent.connect.gcs.format.json.JsonFormat", JsonLinesFormat, ".json"),
    ("json", JsonLinesFormat, ".json"),
    ("Parquet", ParquetFormat, ".snappy.parquet"),
])
def test_format_classes(store, format_class, format_type, extension):
    sink_config = parse(store, {"format.class": format_class}).sink_config

    assert type(sink_config.format) is format_type
    assert sink_config.format.extension == extension


# Keys accepted with a warning, keys not supported yet.

def test_ignored_keys_parse_with_one_warning_each(store):
    config = parse(store, {"config.action.reload": "none", "locale": "de_DE",
                           "header.converter": "x.Y"})

    assert config.sink_config.flush_size == 100
    assert len(config.warnings) == 3
    for key in ("config.action.reload", "locale", "header.converter"):
        naming = [w for w in config.warnings if w.startswith(key + " is accepted but has no effect here: ")]
        assert len(naming) == 1, (key, config.warnings)


def test_warning_gives_reason(store):
    config = parse(store, {"header.converter": "x.Y"})

    assert config.warnings == ("header.converter is accepted but has no effect here: headers are kept "
                               "as raw bytes",)


def test_tasks_max_is_a_positive_number_of_tasks(store):
    assert parse(store, {"tasks.max": "4"}).tasks_max == 4
    assert parse(store, {}).tasks_max == 1
    with pytest.raises(ConfigError, match="tasks.max"):
        parse(store, {"tasks.max": "0"})


def test_errors_keys_become_the_error_policy(store):
    config = parse(store, {"errors.tolerance": "ALL", "errors.retry.timeout": "30000",
                           "errors.retry.delay.max.ms": "5000", "errors.log.enable": "true",
                           "errors.log.include.messages": "true"})

    assert config.errors == ErrorPolicy(tolerance="all", retry_timeout_ms=30000,
                                        retry_delay_max_ms=5000, log_enable=True,
                                        log_include_messages=True, connector_name="orders")
    assert config.warnings == ()
    assert config.dead_letters is None


def test_error_policy_defaults_are_kafka_connects(store):
    assert parse(store, {}).errors == ErrorPolicy(connector_name="orders")


def test_dead_letter_topic_takes_the_consumers_connection_and_producer_overrides(store):
    config = parse(store, {"errors.tolerance": "all", "errors.deadletterqueue.topic.name": "orders-dlq",
                           "errors.deadletterqueue.topic.replication.factor": "1",
                           "errors.deadletterqueue.context.headers.enable": "true",
                           "consumer.override.security.protocol": "PLAINTEXT",
                           "producer.override.linger.ms": "5"})

    writer = config.dead_letters
    assert isinstance(writer, TopicDeadLetters)
    assert writer.description == "topic orders-dlq"


@pytest.mark.parametrize("extra, message", [
    ({"errors.deadletterqueue.topic.name": "orders"},
     "errors.deadletterqueue.topic.name='orders' must not be a topic the connector reads "
     "(topics=orders)"),
    ({"errors.deadletterqueue.topic.name": "dlq", "errors.deadletterqueue.store.url": "/tmp/dlq"},
     "set one of errors.deadletterqueue.topic.name and errors.deadletterqueue.store.url"),
    ({"errors.retry.timeout": "-2"}, "errors.retry.timeout must be at least -1, got '-2'"),
    ({"transforms": "mask", "transforms.mask.type": "MaskField$Value",
      "transforms.mask.predicate": "p"},
     "transforms.mask.predicate='p' names no predicate; predicates='' defines none"),
    ({"transforms": "mask"}, "transforms.mask.type is required"),
    ({"transforms.mask.type": "MaskField$Value"},
     "transforms.mask.type is set but its alias is not listed in transforms=''"),
])
def test_bad_error_and_transform_settings(store, extra, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse(store, extra)


def test_dead_letter_topic_matching_topics_regex_is_refused(store):
    with pytest.raises(ConfigError, match=re.escape(
            "errors.deadletterqueue.topic.name='orders-dlq' must not be a topic the connector reads "
            "(topics.regex=orders.*)")):
        parse(store, {"topics": "", "topics.regex": "orders.*",
                      "errors.deadletterqueue.topic.name": "orders-dlq"})


def test_dead_letter_store(store, tmp_path):
    config = parse(store, {"errors.tolerance": "all",
                           "errors.deadletterqueue.store.url": str(tmp_path / "dlq")})

    assert isinstance(config.dead_letters, StoreDeadLetters)


def test_blank_transforms_is_an_empty_chain(store):
    config = parse(store, {"transforms": ""})
    assert not config.transforms and config.warnings == ()


def test_errors_tolerance_none_is_accepted(store):
    assert parse(store, {"errors.tolerance": "none"}).warnings == ()


def test_errors_tolerance_other_value(store):
    with pytest.raises(ConfigError, match=re.escape(
            "errors.tolerance must be one of 'none', 'all', got 'some'")):
        parse(store, {"errors.tolerance": "some"})


# consumer.override.*

def test_consumer_override_lands_in_consumer_config(store):
    config = parse(store, {"consumer.override.isolation.level": "read_committed",
                           "consumer.override.fetch.min.bytes": "1024"})

    assert config.consumer_config == {"group.id": "connect-orders", "bootstrap.servers": SERVERS,
                                      "isolation.level": "read_committed", "fetch.min.bytes": "1024"}


def test_consumer_override_group_id(store):
    config = parse(store, {"consumer.override.group.id": "custom"})

    assert config.group_id == "custom"
    assert config.consumer_config["group.id"] == "custom"


def test_consumer_override_unknown_property(store):
    with pytest.raises(ConfigError, match=re.escape(
            "consumer.override.no.such.property='1' is invalid: ")) as info:
        parse(store, {"consumer.override.no.such.property": "1"})

    assert '"no.such.property"' in str(info.value)


@pytest.mark.parametrize("key, value", [
    ("isolation.level", "bogus"),
    ("check.crcs", "maybe"),
    ("fetch.min.bytes", "lots"),
])
def test_consumer_override_bad_value(store, key, value):
    with pytest.raises(ConfigError, match=re.escape(
            "consumer.override.%s=%r is invalid: " % (key, value))) as info:
        parse(store, {"consumer.override." + key: value})

    assert '"%s"' % key in str(info.value)


@pytest.mark.parametrize("reset", ["earliest", "latest", "none"])
def test_consumer_override_auto_offset_reset(store, reset):
    config = parse(store, {"consumer.override.auto.offset.reset": reset})

    assert config.auto_offset_reset == reset
    assert "auto.offset.reset" not in config.consumer_config


@pytest.mark.parametrize("reset", ["smallest", "beginning", ""])
def test_consumer_override_auto_offset_reset_rejects_others(store, reset):
    with pytest.raises(ConfigError, match=re.escape(
            "consumer.override.auto.offset.reset must be one of 'earliest', 'latest', 'none', got %r"
            % reset)):
        parse(store, {"consumer.override.auto.offset.reset": reset})


# Converter sub-keys.

def test_value_converter_sub_key_is_passed_through(store):
    config = parse(store, {"value.converter.schemas.enable": "false"})

    assert config.value_converter.schemas_enable is False
    assert config.key_converter.schemas_enable is True


def test_key_converter_sub_key_is_passed_through(store):
    config = parse(store, {"key.converter": "org.apache.kafka.connect.storage.StringConverter",
                           "key.converter.converter.encoding": "latin-1"})

    assert config.key_converter.encoding == "latin-1"


def test_bad_converter_sub_key_value(store):
    with pytest.raises(ConfigError, match=re.escape(
            "value.converter.schemas.enable must be 'true' or 'false', got 'maybe'")):
        parse(store, {"value.converter.schemas.enable": "maybe"})


def test_unknown_converter_sub_key(store):
    with pytest.raises(ConfigError, match=re.escape(
            "value.converter.schema.enable is not a setting of JsonConverter; allowed sub-keys are "
            "'schemas.enable', 'schemas.cache.size', 'decimal.format', 'replace.null.with.default'")):
        parse(store, {"value.converter.schema.enable": "false"})


# store.url

def test_store_url_relative_path_is_made_absolute(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    root = parse(store, {"store.url": "archive/out"}).sink_config.storage.root

    assert root == str(tmp_path / "archive" / "out")


def test_store_url_home_is_expanded(store, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))

    assert parse(store, {"store.url": "~/archive"}).sink_config.storage.root == str(tmp_path / "archive")


def test_store_url_file_url(store, tmp_path):
    url = "file://" + str(tmp_path / "archive")

    assert parse(store, {"store.url": url}).sink_config.storage.root == str(tmp_path / "archive")


@pytest.mark.parametrize("url", ["ftp://host/data", "sftp://host/x"])
def test_store_url_unknown_scheme_rejected(store, url):
    with pytest.raises(ConfigError, match=re.escape(
            "store.url scheme must be one of 'file', 'gs', 's3', 'az', 'abfs', 'abfss', 'hdfs', "
            "'webhdfs', 'swebhdfs' (or a local path), got %r" % url)):
        parse(store, {"store.url": url})


def test_store_url_file_url_without_path(store):
    with pytest.raises(ConfigError, match=re.escape("store.url must name a directory, got 'file://'")):
        parse(store, {"store.url": "file://"})


# FilesSinkConfig from CONFIG_DEF values.

def sink_values(store, **overrides):
    raw = {"store.url": store, "format.class": "parquet", "flush.size": "10"}
    raw.update({k.replace("_", "."): v for k, v in overrides.items()})
    return CONFIG_DEF.parse(raw)


def test_config_def_defaults(store):
    values = sink_values(store)

    assert values == {
        "store.url": store,
        "topics.dir": "topics",
        "format.class": "parquet",
        "flush.size": 10,
        "parquet.codec": "snappy",
        "avro.codec": "null",
        "format.bytearray.extension": ".bin",
        "format.bytearray.separator": None,
        "filename.offset.zero.pad.width": 10,
        "partitioner.class": "default",
        "store.kafka.keys": False,
        "store.kafka.headers": False,
        "keys.format.class": "avro",
        "headers.format.class": "avro",
        "partition.field.name": None,
        "path.format": None,
        "partition.duration.ms": None,
        "timezone": None,
        "timestamp.extractor": "Record",
        "timestamp.field": None,
        "directory.delim": "/",
        "file.delim": "+",
        "rotate.interval.ms": -1,
        "behavior.on.null.values": "fail",
        "storage.class": None,
        "s3.bucket.name": None,
        "s3.region": None,
        "aws.access.key.id": None,
        "aws.secret.access.key": None,
        "s3.path.style.access.enabled": True,
        "s3.part.size": 25 * 1024 * 1024,
        "s3.part.retries": 3,
        "s3.ssea.name": None,
        "s3.sse.kms.key.id": None,
        "s3.acl.canned": None,
        "s3.proxy.url": None,
        "s3.compression.type": "none",
        "gcs.bucket.name": None,
        "gcs.credentials.path": None,
        "gcs.credentials.json": None,
        "azblob.account.name": None,
        "azblob.account.key": None,
        "azblob.sas.token": None,
        "azblob.connection.string": None,
        "azblob.container.name": None,
        "azblob.block.size": 25 * 1024 * 1024,
        "azblob.retry.type": "EXPONENTIAL",
        "azblob.retry.retries": 3,
        "azblob.retry.backoff.ms": 4000,
        "azblob.retry.max.backoff.ms": 120000,
        "azblob.connection.timeout.ms": 30000,
        "azblob.proxy.url": None,
        "azblob.proxy.user": None,
        "azblob.proxy.password": None,
        "az.compression.type": None,
        "hdfs.url": None,
        "hadoop.conf.dir": None,
        "hadoop.home": None,
        "logs.dir": "logs",
        "hdfs.authentication.kerberos": False,
        "connect.hdfs.principal": None,
        "connect.hdfs.keytab": None,
        "hdfs.namenode.principal": None,
        "kerberos.ticket.renew.period.ms": 3600000,
        "tombstone.encoded.partition": "tombstone",
        "rotate.schedule.interval.ms": -1,
        "schema.compatibility": "NONE",
        "idle.flush.ms": -1,
    }


def test_from_values_strips_topics_dir_slashes(store):
    sink_config = FilesSinkConfig.from_values(sink_values(store, topics_dir="/data/topics/"))

    assert sink_config.topics_dir == "data/topics"


def test_from_values_keeps_settings(store):
    sink_config = FilesSinkConfig.from_values(sink_values(
        store, format_class="json",
        filename_offset_zero_pad_width="20",
        file_delim="-",
        behavior_on_null_values="ignore",
        partitioner_class="io.confluent.connect.storage.partitioner.DefaultPartitioner"))

    assert isinstance(sink_config.format, JsonLinesFormat)
    assert sink_config.pad_width == 20
    assert sink_config.file_delim == "-"
    assert sink_config.null_values == "ignore"
    assert isinstance(sink_config.partitioner, DefaultPartitioner)


@pytest.mark.parametrize("topics_dir", ["/", "", "//"])
def test_from_values_rejects_empty_topics_dir(store, topics_dir):
    with pytest.raises(ConfigError, match=re.escape(
            "topics.dir must name a directory, got %r" % topics_dir)):
        FilesSinkConfig.from_values(sink_values(store, topics_dir=topics_dir))


def test_from_values_rejects_empty_file_delim(store):
    with pytest.raises(ConfigError, match=re.escape("file.delim must not be empty")):
        FilesSinkConfig.from_values(sink_values(store, file_delim=""))


def test_config_def_rejects_other_directory_delim(store):
    with pytest.raises(ConfigError, match=re.escape("directory.delim must be one of '/', got '\\\\'")):
        sink_values(store, directory_delim="\\")


def test_config_def_rejects_unknown_partitioner(store):
    with pytest.raises(ConfigError, match=re.escape(
            "partitioner.class must be one of 'default', 'field', 'time', 'hourly', 'daily', "
            "'io.confluent.connect.storage.partitioner.DefaultPartitioner', ")):
        sink_values(store, partitioner_class="weekly")


def test_config_def_rejects_bad_null_behavior(store):
    with pytest.raises(ConfigError, match=re.escape(
            "behavior.on.null.values must be one of 'fail', 'ignore', 'write', got 'delete'")):
        sink_values(store, behavior_on_null_values="delete")


# Pickling: Beam pickles the DoFns that hold these.

def test_sink_config_survives_pickling(store):
    sink_config = parse(store, {"parquet.codec": "zstd", "topics.dir": "archive"}).sink_config

    copy = pickle.loads(pickle.dumps(sink_config))

    assert copy.flush_size == 100
    assert copy.topics_dir == "archive"
    assert copy.storage.root == store
    assert type(copy.format) is ParquetFormat
    assert copy.format.extension == ".zstd.parquet"
    assert isinstance(copy.partitioner, DefaultPartitioner)
    assert copy.partitioner.partition_directory("orders", 3) == "partition=3"


def test_converters_survive_pickling(store):
    config = parse(store, {"key.converter": "org.apache.kafka.connect.storage.StringConverter",
                           "key.converter.converter.encoding": "latin-1",
                           "value.converter.schemas.enable": "false"})

    key_converter = pickle.loads(pickle.dumps(config.key_converter))
    value_converter = pickle.loads(pickle.dumps(config.value_converter))

    assert type(key_converter) is StringConverter
    assert key_converter.encoding == "latin-1"
    assert type(value_converter) is JsonConverter
    assert value_converter.schemas_enable is False
    assert value_converter.convert([b'{"id": 1}']).values.to_pylist() == [{"id": 1}]


@pytest.mark.parametrize("key,value,message", [
    ("consumer.override.fetch.min.bytes", "lots",
     "consumer.override.fetch.min.bytes='lots' is invalid: "),
    ("consumer.override.group.id", "", "consumer.override.group.id must not be empty, got ''"),
    ("store.url", "file://backup-host/srv/x",
     "store.url must be a local path or a file:// URL without a host (file:///abs/path), "
     "got 'file://backup-host/srv/x'"),
])
def test_consumer_and_store_errors_name_the_key_and_value(store, key, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_connector_config(raw_config(store, {key: value}), bootstrap_servers=SERVERS)


def test_auto_offset_reset_is_trimmed_and_case_insensitive(store):
    config = parse_connector_config(raw_config(store, {"consumer.override.auto.offset.reset": "Latest "}),
                                    bootstrap_servers=SERVERS)
    assert config.auto_offset_reset == "latest"


# Every problem at once.

def test_every_problem_of_a_config_is_reported_at_once(store):
    from common.errors import ConfigErrors

    raw = raw_config(store, {"flush.sise": "10", "errors.tolerance": "some",
                             "value.converter": "XmlConverter", "rotate.interval.ms": "soon",
                             "transforms": "r",
                             "transforms.r.type": "org.apache.kafka.connect.transforms.RegexRouter"},
                     drop=("flush.size", "format.class"))
    with pytest.raises(ConfigErrors) as caught:
        parse_connector_config(raw, bootstrap_servers=SERVERS)
    problems = caught.value.problems
    assert problems[0] == "unknown key 'flush.sise' for this connector; did you mean 'flush.size'?"
    assert "errors.tolerance must be one of 'none', 'all', got 'some'" in problems
    assert "transforms.r.regex is required" in problems
    assert any(p.startswith("value.converter must be one of") and p.endswith("got 'XmlConverter'")
               for p in problems)
    assert any(p.startswith("format.class is required; one of 'parquet', 'json', 'avro'")
               for p in problems)
    assert "flush.size is required" in problems
    assert "rotate.interval.ms must be an integer, got 'soon'" in problems
    assert len(problems) == 7
    assert str(caught.value).startswith("the config has 7 problems:\n- unknown key 'flush.sise'")


def test_one_problem_is_a_plain_config_error(store):
    with pytest.raises(ConfigError) as caught:
        parse_connector_config(raw_config(store, {"flush.size": "ten"}), bootstrap_servers=SERVERS)
    assert type(caught.value) is ConfigError
    assert str(caught.value) == "flush.size must be an integer, got 'ten'"


def test_an_unknown_connector_class_still_checks_the_common_keys(store):
    from common.errors import ConfigErrors

    raw = raw_config(store, {"connector.class": "filez", "errors.tolerance": "some"})
    with pytest.raises(ConfigErrors) as caught:
        parse_connector_config(raw, bootstrap_servers=SERVERS)
    assert [p.split(",")[0] for p in caught.value.problems] == [
        "connector.class must be one of 'files'", "errors.tolerance must be one of 'none'"]
