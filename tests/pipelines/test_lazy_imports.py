"""A run imports the sink family, converters and transforms its config names, not every optional one."""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Parses a files connector's config and imports what a run of it imports; prints the loaded modules.
PROBE = r"""
import json, sys
from pipelines.config.connector import parse_connector_config
import pipelines.build, pipelines.cli, pipelines.run

config = parse_connector_config(json.loads(sys.argv[1]), brokers_required=False)
assert config.sink is not None
print(json.dumps(sorted(sys.modules)))
"""

FILES_CONFIG = {"name": "c", "connector.class": "files", "topics": "t", "store.url": "/tmp/unused",
                "format.class": "parquet", "flush.size": "10",
                "key.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
                "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                "value.converter.schemas.enable": "false"}

NOT_NEEDED = ("sinks.jdbc", "sinks.kafka", "sinks.mongodb", "sinks.cassandra", "sinks.queues",
              "sinks.search", "transforms.converters.avro", "transforms.converters.protobuf",
              "transforms.converters.json_schema", "transforms.smt.registry", "transforms.smt.cast",
              "pipelines.monitoring.server", "prometheus_client")


def _among(modules, names) -> list:
    """The modules that are one of ``names`` or inside one of them."""
    return [m for m in modules if any(m == n or m.startswith(n + ".") for n in names)]


def _loaded(config: dict) -> list:
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(config)], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def test_a_files_run_imports_no_other_sink_converter_transform_or_metrics_server():
    loaded = _loaded(FILES_CONFIG)

    assert "sinks.files.sink" in loaded and "transforms.converters.json" in loaded
    assert _among(loaded, NOT_NEEDED) == []


def test_a_named_converter_and_transform_are_imported_when_configured():
    config = {k: v for k, v in FILES_CONFIG.items() if k != "value.converter.schemas.enable"}
    loaded = _loaded({**config, "value.converter": "io.confluent.connect.avro.AvroConverter",
                      "value.converter.schema.registry.url": "http://127.0.0.1:1",
                      "transforms": "cast", "transforms.cast.type": "Cast$Value",
                      "transforms.cast.spec": "id:int32"})

    assert "transforms.converters.avro" in loaded and "transforms.smt.registry" in loaded
    assert _among(loaded, ("sinks.jdbc", "sinks.kafka", "sinks.mongodb")) == []
