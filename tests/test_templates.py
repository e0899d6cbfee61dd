"""Every example connector config under templates/connectors/ loads and validates as shipped."""

import glob
import os

import pytest

from pipelines.config import load_config
from pipelines.config.connector import parse_connector_config
from sinks.files import FilesSink
from sinks.files.formats import JsonLinesFormat, ParquetFormat
from sinks.files.storage import GcsStorage, S3Storage
from transforms.converters import ByteArrayConverter, JsonConverter, StringConverter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONNECTORS = os.path.join(ROOT, "templates", "connectors")
TEMPLATES = sorted(path for path in glob.glob(os.path.join(CONNECTORS, "*")) if os.path.isfile(path))
SERVERS = "127.0.0.1:9092"


def parse_template(name):
    return parse_connector_config(load_config(os.path.join(CONNECTORS, name)),
                                  bootstrap_servers=SERVERS)


def test_templates_are_found():
    assert len(TEMPLATES) >= 3, TEMPLATES
    assert any(path.endswith(".properties") for path in TEMPLATES)
    assert any(path.endswith(".json") for path in TEMPLATES)


@pytest.mark.parametrize("path", TEMPLATES, ids=os.path.basename)
def test_template_validates(path):
    config = parse_connector_config(load_config(path), bootstrap_servers=SERVERS)

    assert config.name
    assert config.group_id == "connect-%s" % config.name
    assert config.consumer_config["bootstrap.servers"] == SERVERS
    assert config.topics or config.topics_regex
    assert config.sink.bundling(config.sink_config).flush_size >= 1


def test_s3_sink_example():
    config = parse_template("s3-sink.properties")

    assert config.connector_class == "io.confluent.connect.s3.S3SinkConnector"
    assert isinstance(config.sink, FilesSink)
    assert config.name == "orders-archive"
    assert config.topics == ("orders", "payments")
    assert config.sink_config.flush_size == 10000
    storage = config.sink_config.storage
    assert type(storage) is S3Storage
    assert (storage.bucket, storage.prefix, storage.region) == ("orders-archive", "", "eu-west-1")
    assert storage.path("topics", "orders") == "s3://orders-archive/topics/orders"
    assert config.sink_config.topics_dir == "topics"
    assert type(config.sink_config.format) is ParquetFormat
    assert config.sink_config.format.extension == ".snappy.parquet"
    assert type(config.key_converter) is StringConverter
    assert type(config.value_converter) is JsonConverter
    assert config.value_converter.schemas_enable is True
    assert config.auto_offset_reset == "earliest"
    assert config.warnings == () and config.tasks_max == 4  # Confluent's example: four tasks


def test_files_json_example():
    config = parse_template("files-json.json")

    assert config.name == "events-jsonl"
    assert config.group_id == "connect-events-jsonl"
    assert config.topics == ()
    assert config.topics_regex == r"events\..*"
    assert config.sink_config.flush_size == 50000
    assert config.sink_config.null_values == "ignore"
    assert type(config.sink_config.format) is JsonLinesFormat
    assert type(config.key_converter) is ByteArrayConverter
    assert config.value_converter.schemas_enable is False
    assert config.consumer_config["isolation.level"] == "read_committed"
    assert config.warnings == ()


def test_demo_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    config = parse_template("demo-files-parquet.properties")

    assert config.topics == ("demo.orders",)
    assert config.sink_config.flush_size == 5000
    assert config.sink_config.storage.root == str(tmp_path / "demo-output")
    assert config.value_converter.schemas_enable is False
    assert config.warnings == ()


def test_gcs_sink_example():
    config = parse_template("gcs-sink.properties")

    storage = config.sink_config.storage
    assert type(storage) is GcsStorage
    assert (storage.bucket, storage.credentials_path) == ("clicks-archive", None)
    assert config.sink_config.topics_dir == "raw"
    assert type(config.sink_config.format) is JsonLinesFormat
    assert config.sink_config.flush_size == 5000
    assert config.value_converter.schemas_enable is False


def test_the_transforms_and_dead_letters_example_builds_its_chain():
    config = parse_template("files-transforms-dlq.properties")

    assert [step.transformation.alias for step in config.transforms.steps] == [
        "dropTombstones", "mask", "stamp", "cast", "route"]
    assert config.transforms.steps[0].predicate is not None
    assert config.errors.tolerance == "all" and config.errors.retry_timeout_ms == 60000
    assert config.dead_letters.description == "topic orders-dlq"


def test_the_dead_letter_store_example():
    config = parse_template("files-dlq-store.json")

    assert config.errors.tolerance == "all"
    assert config.dead_letters is not None and config.transforms
