import datetime
import re

import pytest

from pipelines.cli import main
from common.errors import ConfigError
from pipelines.run import parse_start, parse_time


def _config(tmp_path, **extra):
    keys = {"name": "c1", "connector.class": "files", "topics": "a,b", "store.url": str(tmp_path),
            "format.class": "parquet", "flush.size": "100", **extra}
    path = tmp_path / "c.properties"
    path.write_text("".join("%s=%s\n" % kv for kv in keys.items()))
    return str(path)


def test_parse_start():
    assert parse_start("earliest") == "earliest"
    assert parse_start("2026-01-31T12:00:00Z") == datetime.datetime(
        2026, 1, 31, 12, tzinfo=datetime.timezone.utc)
    assert parse_time("2026-01-31T12:00:00").tzinfo == datetime.timezone.utc
    with pytest.raises(ConfigError, match=re.escape(
            "--from must be one of committed, earliest, latest or an ISO 8601 timestamp, got 'soon'")):
        parse_start("soon")


def test_validate_prints_the_connector_and_warns_on_ignored_keys(tmp_path, capsys, caplog):
    path = _config(tmp_path, **{"header.converter": "x.Y"})
    assert main(["validate", path, "--bootstrap-servers", "127.0.0.1:9092"]) == 0
    out = capsys.readouterr().out
    assert "valid files connector 'c1' reading a,b as group.id=connect-c1" in out
    assert "header.converter is accepted but has no effect here" in caplog.text
    assert "errors.tolerance=none, dead letters: none" in out


def test_validate_lists_the_transform_chain_and_the_dead_letter_path(tmp_path, capsys):
    path = _config(tmp_path, **{
        "transforms": "drop,mask", "transforms.drop.type": "Filter",
        "transforms.drop.predicate": "tomb", "transforms.mask.type": "MaskField$Value",
        "transforms.mask.fields": "email", "predicates": "tomb",
        "predicates.tomb.type": "RecordIsTombstone", "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": "c1-dlq"})
    assert main(["validate", path, "--bootstrap-servers", "127.0.0.1:9092"]) == 0
    out = capsys.readouterr().out
    assert "  transform drop: org.apache.kafka.connect.transforms.Filter if tomb" in out
    assert "  transform mask: org.apache.kafka.connect.transforms.MaskField$Value" in out
    assert "  errors.tolerance=all, dead letters: topic c1-dlq" in out


def test_validate_check_reaches_the_sink_only_when_asked(tmp_path, capsys):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the store's directory should be")
    path = _config(tmp_path, **{"store.url": str(blocker / "out")})
    assert main(["validate", path, "--bootstrap-servers", "127.0.0.1:9092"]) == 0
    assert "sink check" not in capsys.readouterr().out
    assert main(["validate", path, "--bootstrap-servers", "127.0.0.1:9092", "--check"]) == 1
    assert str(blocker) in capsys.readouterr().err
    good = _config(tmp_path, **{"store.url": str(tmp_path / "out")})
    assert main(["validate", good, "--bootstrap-servers", "127.0.0.1:9092", "--check"]) == 0
    assert "sink check: the files sink's system accepted the settings" in capsys.readouterr().out


def test_bad_arguments_exit_2_with_the_reason(tmp_path, capsys):
    path = _config(tmp_path)
    assert main(["run", path, "--bootstrap-servers", "127.0.0.1:9092", "--max-records", "0"]) == 2
    assert "--max-records must be a positive integer, got 0" in capsys.readouterr().err
    assert main(["run", path, "--bootstrap-servers", "127.0.0.1:9092", "--until", "later"]) == 2
    assert "expected an ISO 8601 timestamp" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "missing.properties")]) == 2
    assert "missing.properties" in capsys.readouterr().err


def test_missing_bootstrap_servers_only_matter_to_commands_that_connect(tmp_path, capsys):
    path = _config(tmp_path)
    assert main(["validate", path]) == 0
    out = capsys.readouterr().out
    assert "valid files connector 'c1'" in out
    assert "brokers: none given; run, replay-dlq and validate --check need bootstrap.servers" in out
    assert main(["validate", path, "--check"]) == 2
    assert "bootstrap.servers is required" in capsys.readouterr().err
    assert main(["run", path]) == 2
    assert "bootstrap.servers is required" in capsys.readouterr().err


def test_dataflow_runner_without_its_libraries_names_the_extra(monkeypatch):
    import sys

    from pipelines.run import check_runner

    check_runner(["--runner", "DataflowRunner"])  # installed here: passes
    monkeypatch.setitem(sys.modules, "apitools", None)
    with pytest.raises(ConfigError, match=re.escape(
            "--runner DataflowRunner needs the Dataflow client libraries (apitools); install them "
            "with pip install 'beamconnect[gcp]'")):
        check_runner(["--runner", "DataflowRunner"])


def test_unexpected_errors_are_one_paragraph_and_exit_1(tmp_path, capsys, monkeypatch):
    import pipelines.run

    def broken(config, options):
        raise RuntimeError("worker lost\nsomething deep went wrong")

    monkeypatch.setattr(pipelines.run, "run_connector", broken)
    assert main(["run", _config(tmp_path), "--bootstrap-servers", "127.0.0.1:9092"]) == 1
    err = capsys.readouterr().err
    assert "beamconnect: error: RuntimeError: something deep went wrong (run with -v" in err
    assert "Traceback" not in err


def test_validate_lists_every_problem_of_a_config_then_exits_2(tmp_path, capsys):
    path = tmp_path / "c.properties"
    path.write_text("name=x\nconnector.class=files\ntopics=a\nstore.url=/tmp/x\nformat.class=parquet\n"
                    "flush.sise=10\nerrors.tolerance=some\nrotate.interval.ms=soon\n")
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "beamconnect: error: the config has 4 problems:",
        "  - unknown key 'flush.sise' for this connector; did you mean 'flush.size'?",
        "  - errors.tolerance must be one of 'none', 'all', got 'some'",
        "  - flush.size is required",
        "  - rotate.interval.ms must be an integer, got 'soon'"]


def test_error_paragraphs_never_break_inside_a_name(capsys):
    from common.errors import BeamConnectError
    from pipelines.cli import _fail

    name = "orders-eu-west-1.v2"
    for pad in range(80, 100):  # wherever the 100-character line ends
        assert _fail(BeamConnectError("x" * pad + " " + name + " is gone")) == 1
        assert name in capsys.readouterr().err
