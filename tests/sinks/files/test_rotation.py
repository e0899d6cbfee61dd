"""Rotation settings of the file sink without a broker: tombstones written as keys, the wall-clock
schedule, and the streaming recovery that removes what was written past the committed offsets."""

import datetime
import io
import json
import os
import re
import zoneinfo

import fastavro
import pyarrow as pa
import pytest

from common.errors import ConfigError
from sinks.base import ConnectorContext, Mode, WriteContext
from sinks.files import FilesSink
from sinks.files.config import CONFIG_DEF, FilesSinkConfig
from sinks.files.sink import _RemoveStaleFn, _WriteFileFn
from transforms.kafka.planning import PartitionPlan
from transforms.kafka.rotation import Arrivals, Schedule, next_rotation
from transforms.records import ConvertedBundle

BATCH = WriteContext(Mode.BATCH)


def _config(store, **keys):
    return FilesSinkConfig.from_values(CONFIG_DEF.parse({
        "store.url": str(store), "format.class": "json", "flush.size": "10", **keys}))


def _bundle(keys, values, start=10, headers=None):
    offsets = list(range(start, start + len(keys)))
    return ConvertedBundle("t", 0, start, offsets, [0] * len(keys), pa.array(keys), pa.array(values),
                           headers or [None] * len(keys))


def _lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_tombstones_are_written_as_their_keys_under_the_tombstone_directory(tmp_path):
    """As Confluent's S3 sink: values files hold the records with a value; each window's tombstones
    go to <topic>/tombstone/ as a keys (and headers) file named by the first tombstone's offset."""
    config = _config(tmp_path, **{"behavior.on.null.values": "write", "store.kafka.keys": "true",
                                  "keys.format.class": "json", "store.kafka.headers": "true",
                                  "headers.format.class": "avro"})
    bundle = _bundle(["a", "b", "c", "d", "e"], [{"n": 10}, None, {"n": 12}, None, None],
                     headers=[None, [("why", b"deleted")], None, None, None])

    [written] = list(_WriteFileFn(config, BATCH).process(bundle))

    topic = tmp_path / "topics" / "t"
    assert sorted(os.listdir(topic)) == ["partition=0", "tombstone"]
    assert sorted(os.listdir(topic / "partition=0")) == [
        "t+0+0000000010.headers.avro", "t+0+0000000010.json", "t+0+0000000010.keys.json"]
    assert sorted(os.listdir(topic / "tombstone")) == ["t+0+0000000011.headers.avro",
                                                       "t+0+0000000011.keys.json"]
    assert _lines(topic / "partition=0" / "t+0+0000000010.json") == [{"n": 10}, {"n": 12}]
    assert _lines(topic / "partition=0" / "t+0+0000000010.keys.json") == ["a", "c"]
    assert _lines(topic / "tombstone" / "t+0+0000000011.keys.json") == ["b", "d", "e"]
    with open(topic / "tombstone" / "t+0+0000000011.headers.avro", "rb") as f:
        assert list(fastavro.reader(io.BytesIO(f.read()))) == [
            [{"key": "why", "value": b"deleted"}], [], []]
    assert (written.records, written.first_offset, written.last_offset) == (5, 10, 14)
    assert len(written.targets) == 5


def test_a_window_of_tombstones_only_writes_no_value_file(tmp_path):
    config = _config(tmp_path, **{"behavior.on.null.values": "write", "store.kafka.keys": "true",
                                  "keys.format.class": "json"})

    [written] = list(_WriteFileFn(config, BATCH).process(_bundle(["x", "y"], [None, None], start=20)))

    assert [os.path.relpath(p, tmp_path) for p in written.targets] == [
        "topics/t/tombstone/t+0+0000000020.keys.json"]
    assert _lines(tmp_path / "topics/t/tombstone/t+0+0000000020.keys.json") == ["x", "y"]


def test_a_tombstone_without_a_key_is_rejected_by_offset(tmp_path):
    config = _config(tmp_path, **{"behavior.on.null.values": "write", "store.kafka.keys": "true",
                                  "keys.format.class": "json"})

    [written] = list(_WriteFileFn(config, BATCH).process(_bundle(["a", None], [{"n": 1}, None])))

    [failed] = written.failed
    assert (failed.offset, failed.stage) == (11, "TASK_PUT")
    assert failed.reason.startswith("the record has a null key and store.kafka.keys=true")


def test_writing_tombstones_needs_their_keys_stored():
    with pytest.raises(ConfigError, match=re.escape(
            "behavior.on.null.values=write needs store.kafka.keys=true: a tombstone is written as "
            "its key, in a keys file under tombstone.encoded.partition")):
        _config("/tmp/unused", **{"behavior.on.null.values": "write"})
    with pytest.raises(ConfigError, match=re.escape(
            "tombstone.encoded.partition must name a directory, got '/'")):
        _config("/tmp/unused", **{"behavior.on.null.values": "write", "store.kafka.keys": "true",
                                  "tombstone.encoded.partition": "/"})


def test_stale_tombstone_files_are_removed_with_the_others(tmp_path):
    config = _config(tmp_path, **{"behavior.on.null.values": "write", "store.kafka.keys": "true",
                                  "keys.format.class": "json",
                                  "tombstone.encoded.partition": "deleted"})
    plans = [PartitionPlan("t", 0, start=20, end=30, committed=20)]
    deleted = tmp_path / "topics" / "t" / "deleted"
    deleted.mkdir(parents=True)
    for name in ("t+0+0000000012.keys.json", "t+0+0000000025.keys.json", "t+1+0000000025.keys.json"):
        (deleted / name).write_text('"k"\n')

    list(_RemoveStaleFn(config, plans).process([]))

    # before the plan: kept; another partition (not planned): kept
    assert sorted(os.listdir(deleted)) == ["t+0+0000000012.keys.json", "t+1+0000000025.keys.json"]


def test_the_schedule_counts_from_midnight_in_the_timezone():
    utc, berlin = zoneinfo.ZoneInfo("UTC"), zoneinfo.ZoneInfo("Europe/Berlin")

    def ms(text, zone):
        return int(datetime.datetime.fromisoformat(text).replace(tzinfo=zone).timestamp() * 1000)

    hour = 3_600_000
    assert next_rotation(ms("2026-03-02T10:20:00", utc), hour, utc) == ms("2026-03-02T11:00:00", utc)
    assert next_rotation(ms("2026-03-02T11:00:00", utc), hour, utc) == ms("2026-03-02T12:00:00", utc)
    # 7 h steps from local midnight: 07:00, 14:00, 21:00, then the next midnight
    assert next_rotation(ms("2026-03-02T22:10:00", berlin), 7 * hour, berlin) == ms(
        "2026-03-03T00:00:00", berlin)
    assert next_rotation(ms("2026-03-02T08:00:00", berlin), 7 * hour, berlin) == ms(
        "2026-03-02T14:00:00", berlin)
    schedule = Schedule(hour, "UTC")
    opened = ms("2026-03-02T10:20:00", utc)
    assert not schedule.due(opened, ms("2026-03-02T10:59:59", utc))
    assert schedule.due(opened, ms("2026-03-02T11:00:00", utc))
    assert not Schedule().due(opened, ms("2026-03-05T00:00:00", utc))


def test_arrivals_keep_first_seen_times_when_a_window_is_read_again():
    arrivals = Arrivals()
    key = ("group", "t", 0)
    arrivals.saw(key, 14, 1_000)
    assert arrivals.opened(key, 10, 1_000) == 1_000
    # read again after a checkpoint, later: the window and its newest record keep their times
    arrivals.saw(key, 14, 5_000)
    assert arrivals.opened(key, 10, 5_000) == 1_000
    assert arrivals.last_seen(key, 14, 5_000) == 1_000
    arrivals.saw(key, 15, 6_000)
    assert arrivals.last_seen(key, 15, 7_000) == 6_000
    assert arrivals.opened(key, 15, 7_000) == 7_000  # a new window


def test_the_schedule_needs_a_timezone_which_any_partitioner_then_accepts():
    with pytest.raises(ConfigError, match=re.escape(
            "rotate.schedule.interval.ms=60000 needs timezone (an IANA name such as UTC)")):
        _config("/tmp/unused", **{"rotate.schedule.interval.ms": "60000"})
    with pytest.raises(ConfigError, match=re.escape(
            "timezone must be an IANA time zone name such as UTC or Europe/Berlin, got 'Mars/Base'")):
        _config("/tmp/unused", **{"rotate.schedule.interval.ms": "60000", "timezone": "Mars/Base"})
    config = _config("/tmp/unused", **{"rotate.schedule.interval.ms": "60000",
                                       "timezone": "Europe/Berlin", "idle.flush.ms": "5000"})
    bundling = FilesSink().bundling(config)
    assert (bundling.rotate_schedule_ms, bundling.timezone, bundling.idle_flush_ms,
            bundling.hold_partial) == (60000, "Europe/Berlin", 5000, True)
    # without the schedule, timezone still belongs to time-based partitioners only
    with pytest.raises(ConfigError, match=re.escape("timezone does not apply to the DefaultPartitioner")):
        _config("/tmp/unused", timezone="UTC")
    assert "rotate.schedule.interval.ms" not in FilesSink.ignored_keys


def test_recovery_removes_what_was_written_past_the_committed_offsets(tmp_path):
    """What a streaming run does before it reads: files past each committed offset go (a killed run
    wrote them, cut by the clock where a replay may cut elsewhere), files before it stay."""
    config = _config(tmp_path)
    part = tmp_path / "topics" / "t" / "partition=0"
    part.mkdir(parents=True)
    for offset in (0, 10, 17, 23, 40):
        (part / ("t+0+%010d.json" % offset)).write_text("{}\n")
    (part / ".t+0+0000000050.json.ab12.tmp").write_text("partial")

    FilesSink().recover(config, [PartitionPlan("t", 0, start=17, end=30, committed=17)])

    assert sorted(os.listdir(part)) == ["t+0+0000000000.json", "t+0+0000000010.json"]


def test_clock_rotation_is_refused_in_streaming_with_topic_renaming_transforms(tmp_path):
    sink = FilesSink()
    values = CONFIG_DEF.parse({"store.url": str(tmp_path), "format.class": "json", "flush.size": "10",
                               "idle.flush.ms": "1000"})
    context = ConnectorContext("c", transforms=(
        ("route", "org.apache.kafka.connect.transforms.RegexRouter"),
        ("mask", "org.apache.kafka.connect.transforms.MaskField$Value")))
    config = sink.configure(values, context)

    with pytest.raises(ConfigError, match=re.escape(
            "rotate.schedule.interval.ms and idle.flush.ms close files on the clock, so a streaming run "
            "first removes the uncommitted files of its topics; transforms route rename topics")):
        sink.recover(config, [PartitionPlan("t", 0, 0, 10)])
    # without clock rotation the same transforms are fine: windows depend on the data only
    sink.recover(sink.configure({**values, "idle.flush.ms": -1}, context), [PartitionPlan("t", 0, 0, 10)])
