import json
import os
import re

import pyarrow.parquet as pq
import pytest

from pipelines import flex, templates
from pipelines.cli import main
from common.errors import ConfigError
from pipelines.dev_prism import prism_args
from tests.helpers import json_files_config, run_cli
from sinks.files.config import CONFIG_DEF

FILES = os.path.join(templates.TEMPLATES_DIR, "files")
GENERIC = os.path.join(templates.TEMPLATES_DIR, "generic")


def test_committed_templates_are_what_the_config_schema_generates(tmp_path):
    written = templates.write_templates(str(tmp_path))
    families = templates.families()
    assert sorted(os.path.relpath(p, str(tmp_path)) for p in written) == sorted(
        os.path.join(t, f) for t in [*families, "generic"] for f in ("metadata.json", "Dockerfile"))
    assert {"files", "jdbc", "kafka"} <= set(families)
    assert sorted(os.listdir(templates.TEMPLATES_DIR)) == sorted([*families, "generic"])  # none stale
    for path in written:
        committed = os.path.join(templates.TEMPLATES_DIR, os.path.relpath(path, str(tmp_path)))
        with open(path) as new, open(committed) as old:
            assert new.read() == old.read(), "%s is stale: run python -m pipelines.templates" % committed


def test_files_template_has_a_parameter_per_key():
    names = {p["name"] for p in templates.load_metadata(FILES)["parameters"]}
    assert {templates.param_name(k) for k in CONFIG_DEF.names()} <= names
    assert {"name", "topics", "topics_regex", "value_converter", "extra_config", "mode"} <= names
    flush = next(p for p in templates.load_metadata(FILES)["parameters"] if p["name"] == "flush_size")
    assert flush["isOptional"] is False and flush["regexes"] == ["^-?[0-9]+$"]


def test_parse_parameters():
    assert templates.parse_parameters("a=1,b=x=y") == {"a": "1", "b": "x=y"}
    assert templates.parse_parameters("^;^topics=a,b;flush_size=5") == {"topics": "a,b",
                                                                        "flush_size": "5"}
    with pytest.raises(ConfigError, match=re.escape("--parameters items must be NAME=VALUE, got 'a'")):
        templates.parse_parameters("a")


@pytest.mark.parametrize("params,message", [
    ({"name": "n", "store_url": "/x", "format_class": "parquet"}, "template parameter 'flush_size' is required"),
    ({"name": "n", "store_url": "/x", "format_class": "parquet", "flush_size": "ten"},
     "template parameter flush_size must match '^-?[0-9]+$', got 'ten'"),
    ({"name": "n", "store_url": "/x", "format_class": "csv", "flush_size": "1"},
     "template parameter format_class must be one of 'parquet', 'json'"),
    ({"name": "n", "store_url": "/x", "format_class": "json", "flush_size": "1", "flush.size": "1"},
     "unknown template parameter 'flush.size'; parameters of beamconnect-files: "),
])
def test_parameters_are_checked_as_dataflow_would(params, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        templates.validate_parameters(templates.load_metadata(FILES), params)


def _produce(kafka, count):
    topic = kafka.topic(partitions=2)
    for p in range(2):
        kafka.produce(topic, [(None, json.dumps({"p": p, "i": i}).encode()) for i in range(count)],
                      partition=p)
    return topic


def _rows(store):
    rows = []
    for d, _, names in os.walk(store):
        rows += [r for n in sorted(names) for r in pq.read_table(os.path.join(d, n)).to_pylist()]
    return sorted((r["p"], r["i"]) for r in rows)


def test_launch_generic_template_locally(kafka, tmp_path):
    topic = _produce(kafka, 7)
    config = {"name": "gen-" + topic, "config": {
        "connector.class": "files", "topics": topic, "value.converter": "JsonConverter",
        "value.converter.schemas.enable": "false", "key.converter": "StringConverter",
        "store.url": str(tmp_path), "format.class": "parquet", "flush.size": "5"}}
    code = main(["launch", GENERIC, "--parameters", "^|^connector_config=%s|bootstrap_servers=%s"
                 % (json.dumps(config), kafka.servers), "--runner", "DirectRunner"])
    assert code == 0
    assert _rows(tmp_path) == [(p, i) for p in range(2) for i in range(7)]
    assert sorted(os.listdir(tmp_path / "topics" / topic / "partition=0")) == [
        "%s+0+0000000000.snappy.parquet" % topic, "%s+0+0000000005.snappy.parquet" % topic]


def test_flex_entry_point_runs_the_files_template(kafka, tmp_path, monkeypatch):
    topic = _produce(kafka, 4)
    monkeypatch.setenv("BEAMCONNECT_TEMPLATE", FILES)
    code = flex.main([
        "--name=flex-" + topic, "--topics=" + topic, "--value_converter=JsonConverter",
        "--key_converter", "StringConverter", "--store_url=%s" % tmp_path, "--format_class=parquet",
        "--flush_size=10", "--extra_config={\"value.converter.schemas.enable\": \"false\"}",
        "--bootstrap_servers=" + kafka.servers, "--max_records=6", "--runner=DirectRunner"])
    assert code == 0
    assert _rows(tmp_path) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]


def test_flex_entry_point_reports_a_bad_parameter(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BEAMCONNECT_TEMPLATE", FILES)
    assert flex.main(["--name=x", "--store_url=/x", "--format_class=parquet"]) == 2
    assert "template parameter 'flush_size' is required" in capsys.readouterr().err


def test_launch_generic_template_on_prism(kafka, tmp_path, prism):
    topic = _produce(kafka, 6)
    config = json_files_config("gen-prism-" + topic, topic, tmp_path,
                               **{"format.class": "json", "flush.size": "4"})
    done = run_cli("launch", GENERIC, "--parameters", "^|^connector_config=%s|bootstrap_servers=%s"
                   % (json.dumps(config), kafka.servers), *prism_args(prism))
    assert done.returncode == 0, done.stderr[-3000:]
    rows = []
    for d, _, names in os.walk(tmp_path):
        rows += [json.loads(line) for n in names for line in open(os.path.join(d, n))]
    assert sorted((r["p"], r["i"]) for r in rows) == [(p, i) for p in range(2) for i in range(6)]


def test_template_images_install_the_pins_without_the_suites_packages():
    """The Dockerfiles install requirements.txt less its lines ending in '# test'."""
    with open(os.path.join(templates.ROOT, "requirements.txt")) as f:
        lines = [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#")]
    image = [line for line in lines if not line.endswith("# test")]
    names = {re.split(r"[=<>\[;]", line)[0] for line in image}

    assert {"apache-beam", "confluent-kafka", "pyarrow", "google-cloud-storage", "boto3"} <= names
    assert not names & {"pytest", "moto", "gcp-storage-emulator"}
    assert "grep -v '# test$' requirements.txt" in templates.dockerfile("files")
