import os

from sinks.files.config import CONFIG_DEF, FilesSinkConfig
from sinks.base import Mode, WriteContext
from sinks.files.sink import _RemoveStaleFn, _WriteFileFn
from transforms.kafka.planning import PartitionPlan
from transforms.records import WriteResult

BATCH = WriteContext(Mode.BATCH)


def _written(topic, partition, path, first, last, records):
    return WriteResult(topic, partition, first, last, records, (path,), 3)


def _config(store):
    return FilesSinkConfig.from_values(CONFIG_DEF.parse({
        "store.url": str(store), "format.class": "json", "flush.size": "10"}))


def test_stale_files_are_only_those_of_the_run_range_or_past_the_committed_offset(tmp_path):
    plans = [PartitionPlan("t", 0, start=20, end=40, committed=20),
             # reset after the topic was recreated: committed 500, re-read from 0 to 10
             PartitionPlan("t", 1, start=0, end=10, committed=500)]
    part0, part1 = tmp_path / "topics" / "t" / "partition=0", tmp_path / "topics" / "t" / "partition=1"
    part0.mkdir(parents=True)
    part1.mkdir(parents=True)
    for offset in (0, 10, 25, 45):
        (part0 / ("t+0+%010d.json" % offset)).write_text("{}\n")
    for offset in (0, 5, 100, 600):
        (part1 / ("t+1+%010d.json" % offset)).write_text("{}\n")
    (part0 / ".t+0+0000000030.json.abc.tmp").write_text("partial")
    written = [_written("t", 0, str(part0 / "t+0+0000000020.json"), 20, 39, 20),
               _written("t", 1, str(part1 / "t+1+0000000000.json"), 0, 9, 10)]

    assert list(_RemoveStaleFn(_config(tmp_path), plans).process(written)) == written

    # before the start: kept; 25 and 45 (in range / uncommitted) and the temp file: removed
    assert sorted(os.listdir(part0)) == ["t+0+0000000000.json", "t+0+0000000010.json"]
    # 5 (re-read range): removed; 100 (committed, past the re-read end): kept; 600: removed
    assert sorted(os.listdir(part1)) == ["t+1+0000000000.json", "t+1+0000000100.json"]


def test_stale_objects_are_removed_from_buckets_as_from_directories(bucket):
    """The same cleanup on S3 and GCS: listing the bucket finds what an uncommitted run left."""
    raw = {**bucket.config(prefix="archive"), "format.class": "json", "flush.size": "10"}
    config = FilesSinkConfig.from_values(CONFIG_DEF.parse(raw))
    plans = [PartitionPlan("t", 0, start=20, end=40, committed=20)]
    part = "archive/topics/t/partition=0/"
    for offset in (0, 10, 20, 25, 45):
        bucket.put(part + "t+0+%010d.json" % offset, b"{}\n")
    bucket.put(part + "notes.txt", b"not ours")
    bucket.put("elsewhere/topics/t/partition=0/t+0+0000000025.json", b"{}\n")  # outside the prefix
    written = [_written("t", 0, bucket.url(part + "t+0+0000000020.json"), 20, 39, 20)]

    assert list(_RemoveStaleFn(config, plans).process(written)) == written

    assert bucket.keys() == sorted([part + "t+0+0000000000.json", part + "t+0+0000000010.json",
                                    part + "t+0+0000000020.json", part + "notes.txt",
                                    "elsewhere/topics/t/partition=0/t+0+0000000025.json"])


def test_a_window_spanning_hours_becomes_one_file_per_hour_named_by_its_first_offset(tmp_path):
    import json

    import pyarrow as pa

    from transforms.records import ConvertedBundle

    hour, t0 = 3_600_000, 1_767_225_600_000
    config = FilesSinkConfig.from_values(CONFIG_DEF.parse({
        "store.url": str(tmp_path), "format.class": "json", "flush.size": "10",
        "partitioner.class": "io.confluent.connect.storage.partitioner.HourlyPartitioner",
        "timezone": "UTC"}))
    offsets = [40, 41, 42, 44, 45]  # 43 is a gap (a transaction marker)
    stamps = [t0 + hour, t0, t0 + hour + 1, t0, t0 + 2 * hour]
    bundle = ConvertedBundle("t", 0, 40, offsets, stamps, pa.array([None] * 5),
                             pa.array([{"o": o} for o in offsets]), [None] * 5)

    [written] = list(_WriteFileFn(config, BATCH).process(bundle))

    # one result for the window, settling it to its end, so a streaming run commits it once
    assert (written.first_offset, written.last_offset, written.records) == (40, 45, 5)
    expected = {
        "topics/t/year=2026/month=01/day=01/hour=01/t+0+0000000040.json": [40, 42],
        "topics/t/year=2026/month=01/day=01/hour=00/t+0+0000000041.json": [41, 44],
        "topics/t/year=2026/month=01/day=01/hour=02/t+0+0000000045.json": [45],
    }
    assert sorted(p[len(str(tmp_path)) + 1:] for p in written.targets) == sorted(expected)
    for path in written.targets:
        with open(path) as f:
            assert [json.loads(line)["o"] for line in f] == expected[path[len(str(tmp_path)) + 1:]]


def test_stale_files_in_time_directories_are_found_by_listing_the_topic(tmp_path):
    config = FilesSinkConfig.from_values(CONFIG_DEF.parse({
        "store.url": str(tmp_path), "format.class": "json", "flush.size": "10",
        "partitioner.class": "daily", "timezone": "UTC"}))
    plans = [PartitionPlan("t", 0, start=20, end=40, committed=20)]
    day1 = tmp_path / "topics" / "t" / "year=2026" / "month=01" / "day=01"
    day2 = tmp_path / "topics" / "t" / "year=2026" / "month=01" / "day=02"
    day1.mkdir(parents=True)
    day2.mkdir(parents=True)
    for directory, offset in ((day1, 5), (day1, 20), (day2, 25), (day2, 38)):
        (directory / ("t+0+%010d.json" % offset)).write_text("{}\n")
    (day2 / "t+1+0000000030.json").write_text("{}\n")  # another partition, not planned: kept
    written = [_written("t", 0, str(day1 / "t+0+0000000020.json"), 20, 39, 15)]

    list(_RemoveStaleFn(config, plans).process(written))

    assert sorted(os.listdir(day1)) == ["t+0+0000000005.json", "t+0+0000000020.json"]
    assert sorted(os.listdir(day2)) == ["t+1+0000000030.json"]


def _keyed_bundle(keys, headers, values=None):
    import pyarrow as pa

    from transforms.records import ConvertedBundle

    offsets = list(range(10, 10 + len(keys)))
    values = values if values is not None else [{"n": o} for o in offsets]
    return ConvertedBundle("t", 0, 10, offsets, [0] * len(keys), pa.array(keys), pa.array(values),
                           headers)


def test_keys_and_headers_files_sit_next_to_the_value_file_row_for_row(tmp_path):
    import io
    import json

    import fastavro
    import pyarrow.parquet as pq


    config = FilesSinkConfig.from_values(CONFIG_DEF.parse({
        "store.url": str(tmp_path), "format.class": "parquet", "flush.size": "10",
        "store.kafka.keys": "true", "store.kafka.headers": "true",
        "keys.format.class": "io.confluent.connect.s3.format.avro.AvroFormat",
        "headers.format.class": "json", "behavior.on.null.values": "ignore"}))
    bundle = _keyed_bundle(["a", "b", "c"], [[("trace", b"x1")], None, [("h", b"1"), ("h", b"2")]],
                           values=[{"n": 10}, None, {"n": 12}])  # a tombstone in the middle

    written = list(_WriteFileFn(config, BATCH).process(bundle))

    part = tmp_path / "topics" / "t" / "partition=0"
    assert sorted(os.listdir(part)) == ["t+0+0000000010.headers.json", "t+0+0000000010.keys.avro",
                                        "t+0+0000000010.snappy.parquet"]
    assert {w.records for w in written} == {2}
    assert pq.read_table(part / "t+0+0000000010.snappy.parquet").to_pylist() == [{"n": 10}, {"n": 12}]
    with open(part / "t+0+0000000010.keys.avro", "rb") as f:
        assert list(fastavro.reader(io.BytesIO(f.read()))) == ["a", "c"]
    with open(part / "t+0+0000000010.headers.json") as f:
        assert [json.loads(line) for line in f] == [[{"key": "trace", "value": "eDE="}],
                                                    [{"key": "h", "value": "MQ=="},
                                                     {"key": "h", "value": "Mg=="}]]


def test_a_null_key_with_store_kafka_keys_is_named():
    config = FilesSinkConfig.from_values(CONFIG_DEF.parse({
        "store.url": "/tmp/unused", "format.class": "json", "flush.size": "10",
        "store.kafka.keys": "true"}))

    [written] = list(_WriteFileFn(config, BATCH).process(_keyed_bundle(["a", None], [None, None])))

    # tolerance none: the record is rejected and nothing of the bundle is written
    assert written.records == 0 and written.targets == ()
    [failed] = written.failed
    assert (failed.offset, failed.stage) == (11, "TASK_PUT")
    assert failed.reason.startswith("the record has a null key and store.kafka.keys=true")


def test_stale_keys_and_headers_files_are_removed_with_their_value_files(tmp_path):
    config = FilesSinkConfig.from_values(CONFIG_DEF.parse({
        "store.url": str(tmp_path), "format.class": "json", "flush.size": "10",
        "store.kafka.keys": "true", "store.kafka.headers": "true", "keys.format.class": "json"}))
    plans = [PartitionPlan("t", 0, start=20, end=30, committed=20)]
    part = tmp_path / "topics" / "t" / "partition=0"
    part.mkdir(parents=True)
    for name in ("t+0+0000000025.json", "t+0+0000000025.keys.json", "t+0+0000000025.headers.avro",
                 "t+0+0000000010.keys.json", "t+0+0000000025.keys.parquet"):
        (part / name).write_text("x")

    list(_RemoveStaleFn(config, plans).process([]))

    # before the plan: kept; a format this config does not write: not ours, kept
    assert sorted(os.listdir(part)) == ["t+0+0000000010.keys.json", "t+0+0000000025.keys.parquet"]
