import os

from sinks.files.config import CONFIG_DEF, FilesSinkConfig
from sinks.files.sink import FileWritten, _RemoveStaleFn
from transforms.kafka.planning import PartitionPlan


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
    written = [FileWritten("t", 0, str(part0 / "t+0+0000000020.json"), 20, 39, 20, 3),
               FileWritten("t", 1, str(part1 / "t+1+0000000000.json"), 0, 9, 10, 3)]

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
    written = [FileWritten("t", 0, bucket.url(part + "t+0+0000000020.json"), 20, 39, 20, 3)]

    assert list(_RemoveStaleFn(config, plans).process(written)) == written

    assert bucket.keys() == sorted([part + "t+0+0000000000.json", part + "t+0+0000000010.json",
                                    part + "t+0+0000000020.json", part + "notes.txt",
                                    "elsewhere/topics/t/partition=0/t+0+0000000025.json"])
