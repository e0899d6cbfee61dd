"""schema.compatibility: value schema changes close files or are projected, as Confluent's sinks do."""

import dataclasses
import json
import os
import re

import pyarrow as pa
import pytest

from common.errors import ConfigError
from sinks.base import Mode, WriteContext
from sinks.files.config import CONFIG_DEF, FilesSinkConfig
from sinks.files.schemas import ProjectionError, project, schema_runs
from sinks.files.sink import _WriteFileFn
from transforms.convert import _ConvertFn
from transforms.converters.json import JsonConverter
from transforms.converters.string import StringConverter
from transforms.errors import ErrorPolicy
from transforms.records import KafkaBundle
from transforms.schema import connect_field

V1 = {"type": "struct", "name": "order", "version": 1, "optional": False,
      "fields": [{"field": "id", "type": "int32"}, {"field": "note", "type": "string", "optional": True}]}
V2 = {"type": "struct", "name": "order", "version": 2, "optional": False,
      "fields": [{"field": "id", "type": "int64"},
                 {"field": "qty", "type": "int32", "optional": True, "default": 1}]}


def _bundle(records, start=0):
    """Records as JsonConverter envelopes, converted as the pipeline converts them."""
    data = [json.dumps({"schema": s, "payload": p}).encode() for s, p in records]
    n = len(data)
    raw = KafkaBundle("t", 0, start, list(range(start, start + n)), [0] * n, [1] * n, [b"k"] * n,
                      data, [None] * n)
    convert = _ConvertFn(StringConverter({}, config_key="key.converter"),
                         JsonConverter({}, config_key="value.converter"), "k", "v", None)
    [bundle] = list(convert.process(raw))
    return bundle


def _write(tmp_path, bundle, compatibility):
    config = FilesSinkConfig.from_values(CONFIG_DEF.parse({
        "store.url": str(tmp_path), "format.class": "json", "flush.size": "10",
        "schema.compatibility": compatibility}))
    # errors.tolerance=all: a refused record is left out and the rest of its window is written
    context = WriteContext(Mode.BATCH, errors=ErrorPolicy(tolerance="all"))
    [written] = list(_WriteFileFn(config, context).process(bundle))
    files = {}
    for path in sorted(written.targets):
        with open(path) as f:
            files[os.path.basename(path)] = [json.loads(line) for line in f]
    return written, files


RECORDS = [(V1, {"id": 1, "note": "a"}), (V1, {"id": 2, "note": None}), (V2, {"id": 3, "qty": 5}),
           (V1, {"id": 4, "note": "d"}), (V2, {"id": 5, "qty": 7})]


def test_none_closes_the_file_at_every_change_of_schema(tmp_path):
    written, files = _write(tmp_path, _bundle(RECORDS, start=40), "NONE")

    # each run of one schema is its own file, named by its first offset, holding that schema's fields
    assert files == {
        "t+0+0000000040.json": [{"id": 1, "note": "a"}, {"id": 2, "note": None}],
        "t+0+0000000042.json": [{"id": 3, "qty": 5}],
        "t+0+0000000043.json": [{"id": 4, "note": "d"}],
        "t+0+0000000044.json": [{"id": 5, "qty": 7}],
    }
    assert (written.records, written.first_offset, written.last_offset) == (5, 40, 44)


def test_backward_closes_at_a_newer_version_and_projects_older_records_to_it(tmp_path):
    _, files = _write(tmp_path, _bundle(RECORDS), "BACKWARD")

    # v2 closes the v1 file; the later v1 record is projected to v2: the note it has is dropped, the
    # qty it lacks takes v2's default, and its int32 id widens to int64
    assert files == {
        "t+0+0000000000.json": [{"id": 1, "note": "a"}, {"id": 2, "note": None}],
        "t+0+0000000002.json": [{"id": 3, "qty": 5}, {"id": 4, "qty": 1}, {"id": 5, "qty": 7}],
    }
    assert _write(tmp_path / "full", _bundle(RECORDS), "FULL")[1] == files


def test_forward_closes_at_an_older_version_and_refuses_what_cannot_be_projected(tmp_path):
    newer_first = [(V2, {"id": 1, "qty": 2}), (V1, {"id": 2, "note": "b"}), (V1, {"id": 3, "note": None})]
    _, files = _write(tmp_path, _bundle(newer_first), "FORWARD")
    assert files == {"t+0+0000000000.json": [{"id": 1, "qty": 2}],
                     "t+0+0000000001.json": [{"id": 2, "note": "b"}, {"id": 3, "note": None}]}

    # v2 after v1 under FORWARD is projected to v1, and int64 does not narrow to int32
    written, files = _write(tmp_path / "refused", _bundle(RECORDS[:3]), "FORWARD")
    [failed] = written.failed
    assert (failed.offset, failed.stage) == (2, "TASK_PUT")
    assert failed.reason == ("schema.compatibility: the record's value schema (version 2) cannot be "
                             "projected to the file's schema (version 1): field 'id' is int64 here, "
                             "which does not project to int32")
    assert files == {"t+0+0000000000.json": [{"id": 1, "note": "a"}, {"id": 2, "note": None}]}


def test_versions_are_required_except_under_none(tmp_path):
    unversioned = {k: v for k, v in V1.items() if k != "version"}
    bundle = _bundle([(unversioned, {"id": 1, "note": None}), (V1, {"id": 2, "note": None})])

    written, files = _write(tmp_path, bundle, "BACKWARD")

    [failed] = written.failed
    assert failed.offset == 0
    assert failed.reason.startswith("schema.compatibility=BACKWARD compares value schema versions, but "
                                    "the record's value schema has none")
    assert files == {"t+0+0000000001.json": [{"id": 2, "note": None}]}
    # one schema for the whole bundle: still needs its version
    written, _ = _write(tmp_path / "one", _bundle([(unversioned, {"id": 1, "note": None})]), "FULL")
    assert [f.offset for f in written.failed] == [0]
    assert _write(tmp_path / "none", bundle, "NONE")[0].failed == ()


def test_a_transform_that_changes_the_value_schema_leaves_one_schema_per_bundle(tmp_path):
    bundle = _bundle(RECORDS)
    assert len(bundle.value_schemas()) == 5
    changed = dataclasses.replace(bundle, value_schema=connect_field("value", bundle.values.type, False))
    assert changed.value_schemas() is None
    assert changed.take([0, 1]).record_schemas is None
    # taking records keeps each one's schema while they apply
    assert bundle.take([2, 3]).value_schemas() == bundle.value_schemas()[2:4]

    _, files = _write(tmp_path, changed, "NONE")
    assert list(files) == ["t+0+0000000000.json"]  # the union, as before


def test_projection_rules():
    target = connect_field("value", pa.struct([
        connect_field("id", pa.int64(), False), connect_field("tag", pa.string(), False, default="n/a"),
        connect_field("opt", pa.float64(), True)]), False)
    source = connect_field("value", pa.struct([connect_field("id", pa.int16(), False)]), False)
    values = pa.array([{"id": 1}, {"id": 2}], pa.struct([pa.field("id", pa.int16(), False)]))

    assert project(values, [source, source], target).to_pylist() == [
        {"id": 1, "tag": "n/a", "opt": None}, {"id": 2, "tag": "n/a", "opt": None}]

    required = connect_field("value", pa.struct([connect_field("id", pa.int64(), False),
                                                 connect_field("must", pa.string(), False)]), False)
    with pytest.raises(ProjectionError, match=re.escape(
            "required field 'must' is missing from the record's schema and has no default")) as error:
        project(values, [source, source], required)
    assert error.value.positions == [0, 1]


def test_runs_follow_the_rule_record_by_record():
    def v(version):
        return connect_field("value", pa.int32(), False, version=version)

    one, two, three = v(1), v(2), v(3)
    schemas = [two, one, three, two, three, one]
    assert schema_runs(schemas, "BACKWARD") == [(0, 2, two), (2, 6, three)]
    assert schema_runs(schemas, "FORWARD") == [(0, 1, two), (1, 6, one)]
    assert [r[:2] for r in schema_runs(schemas, "NONE")] == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5),
                                                             (5, 6)]


def test_schema_compatibility_is_a_real_key_with_confluents_values():
    from sinks.files import FilesSink

    assert "schema.compatibility" not in FilesSink.ignored_keys
    with pytest.raises(ConfigError, match="schema.compatibility"):
        CONFIG_DEF.parse({"store.url": "/tmp/x", "format.class": "json", "flush.size": "1",
                          "schema.compatibility": "SIDEWAYS"})
