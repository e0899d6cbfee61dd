"""End to end into buckets: Kafka -> Parquet files in S3 (moto's server) and GCS (the GCS emulator) ->
committed offsets, run as a user runs it (``python -m pipelines run``), including a killed run."""

import io
import json
import os
import signal
import subprocess
import time

import pyarrow.parquet as pq

from tests.helpers import ROOT, cli_command, cli_env, json_files_config, run_cli, write_config


def _records(partition, start, count):
    for i in range(start, start + count):
        yield b"k%d" % i, json.dumps({"id": "%d-%d" % (partition, i), "n": i}).encode()


def _rows(bucket, keys):
    rows = []
    for key in keys:
        rows.extend(pq.read_table(io.BytesIO(bucket.read(key))).to_pylist())
    return rows


def _connector(tmp_path, topic, bucket, prefix="", **overrides):
    raw = json_files_config("os-%s" % topic, topic, "", **bucket.config(prefix), **overrides)
    if not raw["store.url"]:
        del raw["store.url"]
    return write_config(tmp_path / "connector.json", raw), "connect-os-%s" % topic


def test_backfill_into_a_bucket_commits_and_reruns_idempotently(kafka, bucket, tmp_path):
    topic = kafka.topic(partitions=2)
    for p in range(2):
        kafka.produce(topic, _records(p, 0, 25), partition=p)
    config, group = _connector(tmp_path, topic, bucket)
    layout = ["topics/%s/partition=%d/%s+%d+%010d.snappy.parquet" % (topic, p, topic, p, o)
              for p in range(2) for o in (0, 10, 20)]

    first = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert first.returncode == 0, first.stderr[-3000:]
    assert bucket.keys() == sorted(layout)
    for p in range(2):
        rows = _rows(bucket, [k for k in layout if "partition=%d" % p in k])
        assert rows == [{"id": "%d-%d" % (p, i), "n": i} for i in range(25)]
    assert kafka.committed(group, topic, 2) == {0: 25, 1: 25}

    again = run_cli("run", config, "--bootstrap-servers", kafka.servers)
    assert again.returncode == 0, again.stderr[-3000:]
    assert bucket.keys() == sorted(layout)

    kafka.produce(topic, _records(0, 25, 5), partition=0)
    more = run_cli("run", config, "--bootstrap-servers", kafka.servers)
    assert more.returncode == 0, more.stderr[-3000:]
    new_key = "topics/%s/partition=0/%s+0+0000000025.snappy.parquet" % (topic, topic)
    assert bucket.keys() == sorted(layout + [new_key])
    assert _rows(bucket, [new_key]) == [{"id": "0-%d" % i, "n": i} for i in range(25, 30)]
    assert kafka.committed(group, topic, 2) == {0: 30, 1: 25}


def test_url_prefix_and_topics_dir_place_the_files(kafka, bucket, tmp_path):
    topic = kafka.topic(partitions=1)
    kafka.produce(topic, _records(0, 0, 12), partition=0)
    config, group = _connector(tmp_path, topic, bucket, prefix="kafka/raw", **{"topics.dir": "archive"})

    result = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert result.returncode == 0, result.stderr[-3000:]
    assert bucket.keys() == ["kafka/raw/archive/%s/partition=0/%s+0+%010d.snappy.parquet" % (topic, topic, o)
                             for o in (0, 10)]
    assert kafka.committed(group, topic, 1) == {0: 12}


def test_missing_bucket_stops_before_reading_and_commits_nothing(kafka, bucket, tmp_path):
    topic = kafka.topic(partitions=1)
    kafka.produce(topic, _records(0, 0, 5), partition=0)
    config, group = _connector(tmp_path, topic, bucket, prefix="x")
    raw = json.loads(config.read_text())
    scheme = raw["store.url"].split(":")[0]
    raw["store.url"] = "%s://no-such-bucket-here/x" % scheme
    write_config(config, raw)

    result = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert result.returncode == 1, result.stderr[-3000:]
    assert ("store.url=%s://no-such-bucket-here/x cannot be used: bucket 'no-such-bucket-here' does not "
            "exist" % scheme) in result.stderr
    assert "Traceback" not in result.stderr
    assert kafka.committed(group, topic, 1) == {0: -1001}


def test_killed_run_then_rerun_leaves_every_record_exactly_once_in_the_bucket(kafka, bucket, tmp_path):
    """SIGKILL the whole run mid-upload, then rerun: every record once, every offset committed."""
    topic = kafka.topic(partitions=2)
    per_partition = 20_000
    for p in range(2):
        kafka.produce(topic, _records(p, 0, per_partition), partition=p)
    config, group = _connector(tmp_path, topic, bucket, **{"flush.size": "500"})
    cmd = cli_command("run", config, "--bootstrap-servers", kafka.servers)

    proc = subprocess.Popen(cmd, cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and len(bucket.keys()) < 3:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 3 <= len(bucket.keys()) < 80
    assert kafka.committed(group, topic, 2) == {0: -1001, 1: -1001}

    rerun = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert rerun.returncode == 0, rerun.stderr[-3000:]
    keys = bucket.keys()
    assert len(keys) == 80
    ids = [r["id"] for r in _rows(bucket, keys)]
    assert len(ids) == len(set(ids)) == 2 * per_partition
    assert kafka.committed(group, topic, 2) == {0: per_partition, 1: per_partition}
