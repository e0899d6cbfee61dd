"""The HDFS connector end to end through the CLI, on a real HDFS (MiniDFSCluster) and Kafka: a
backfill with the HDFS connector's names, an idempotent rerun, a restart recovered from the names with
the group's offsets deleted, what a killed run leaves cleaned up, and a SIGKILL mid-write then a rerun
with every record exactly once."""

import io
import json
import os
import signal
import subprocess
import time
import uuid

import fastavro
import pyarrow.parquet as pq

from tests.helpers import ROOT, cli_command, cli_env, run_cli, write_config
from tests.servers.hdfs import conf_dir

HDFS3 = "io.confluent.connect.hdfs3.Hdfs3SinkConnector"


def _records(partition, start, count):
    for i in range(start, start + count):
        yield b"k%d" % i, json.dumps({"id": "%d-%d" % (partition, i), "n": i}).encode()


def _connector(tmp_path, hdfs, hdfs_dir, topic, **overrides):
    """A Confluent HDFS 3 connector config: ``hdfs.url`` names the namenode, and the WebHDFS address
    comes from ``hadoop.conf.dir``, as a Hadoop client finds it."""
    base = hdfs.rpc + hdfs_dir if hdfs.rpc else "hdfs://%s" % hdfs_dir
    raw = {"name": "hdfs-%s" % uuid.uuid4().hex[:8], "connector.class": HDFS3, "topics": topic,
           "key.converter": "org.apache.kafka.connect.storage.StringConverter",
           "value.converter": "org.apache.kafka.connect.json.JsonConverter",
           "value.converter.schemas.enable": "false", "hdfs.url": base,
           "hadoop.conf.dir": str(conf_dir(tmp_path / "hadoop", hdfs)), "logs.dir": "logs",
           "format.class": "io.confluent.connect.hdfs3.parquet.ParquetFormat", "flush.size": "10",
           **overrides}
    return write_config(tmp_path / "connector.json", raw), "connect-" + raw["name"]


def _names(topic, partition, ranges, extension=".parquet"):
    return ["topics/%s/partition=%d/%s+%d+%010d+%010d%s"
            % (topic, partition, topic, partition, s, e, extension) for s, e in ranges]


def _rows(hdfs, hdfs_dir, names):
    rows = []
    for name in names:
        rows.extend(pq.read_table(io.BytesIO(hdfs.read("%s/%s" % (hdfs_dir, name)))).to_pylist())
    return rows


def _final(hdfs, hdfs_dir):
    """The files in place (not the hidden temporary ones)."""
    return [n for n in hdfs.files(hdfs_dir) if not n.rsplit("/", 1)[-1].startswith(".")]


def _delete_group(kafka, group):
    """Deletes the connector's consumer group, as an expired or forgotten group is gone."""
    for future in kafka.admin.delete_consumer_groups([group], request_timeout=30).values():
        future.result(timeout=60)


def _run(config, kafka):
    result = run_cli("run", config, "--bootstrap-servers", kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_backfill_rerun_and_a_restart_recovered_from_the_names(kafka, hdfs, hdfs_dir, tmp_path):
    topic = kafka.topic(partitions=2)
    for p in range(2):
        kafka.produce(topic, _records(p, 0, 25), partition=p)
    config, group = _connector(tmp_path, hdfs, hdfs_dir, topic)
    layout = sorted(n for p in range(2) for n in _names(topic, p, [(0, 9), (10, 19), (20, 24)]))

    _run(config, kafka)

    assert hdfs.files(hdfs_dir) == layout
    for p in range(2):
        assert _rows(hdfs, hdfs_dir, [n for n in layout if "partition=%d" % p in n]) == \
            [{"id": "%d-%d" % (p, i), "n": i} for i in range(25)]
    assert kafka.committed(group, topic, 2) == {0: 25, 1: 25}
    before = {n: hdfs.read("%s/%s" % (hdfs_dir, n)) for n in layout}

    _run(config, kafka)  # nothing new: the same files, byte for byte
    assert {n: hdfs.read("%s/%s" % (hdfs_dir, n)) for n in layout} == before

    # The group's offsets are gone (a new Connect cluster, an expired group): the names say where
    # each partition resumes, so nothing is read twice and no file is rewritten.
    kafka.produce(topic, _records(0, 25, 5), partition=0)
    _delete_group(kafka, group)
    assert kafka.committed(group, topic, 2) == {0: -1001, 1: -1001}
    result = _run(config, kafka)

    assert "topic=%s partition=0 resumes at offset 25" % topic in result.stderr
    new = _names(topic, 0, [(25, 29)])
    assert hdfs.files(hdfs_dir) == sorted(layout + new)
    assert _rows(hdfs, hdfs_dir, new) == [{"id": "0-%d" % i, "n": i} for i in range(25, 30)]
    assert {n: hdfs.read("%s/%s" % (hdfs_dir, n)) for n in layout} == before
    assert kafka.committed(group, topic, 2) == {0: 30, 1: 25}  # the group is committed too


def test_a_killed_runs_incomplete_window_and_temporary_files_are_rewritten(kafka, hdfs, hdfs_dir, tmp_path):
    """A value file whose keys file is missing is not committed: it is rewritten with its keys."""
    topic = kafka.topic(partitions=1)
    kafka.produce(topic, _records(0, 0, 20), partition=0)
    config, group = _connector(tmp_path, hdfs, hdfs_dir, topic, **{
        "format.class": "io.confluent.connect.hdfs3.avro.AvroFormat", "store.kafka.keys": "true"})
    _run(config, kafka)
    directory = "%s/topics/%s/partition=0" % (hdfs_dir, topic)
    hdfs.put("%s/%s+0+0000000020+0000000029.avro" % (directory, topic), b"half a window")
    hdfs.put("%s/.%s+0+0000000030+0000000039.avro.0123456789ab.tmp" % (directory, topic), b"partial")
    kafka.produce(topic, _records(0, 20, 10), partition=0)
    _delete_group(kafka, group)

    _run(config, kafka)

    values = _names(topic, 0, [(0, 9), (10, 19), (20, 29)], ".avro")
    keys = _names(topic, 0, [(0, 9), (10, 19), (20, 29)], ".keys.avro")
    assert hdfs.files(hdfs_dir) == sorted(values + keys)
    rows = [r for n in values for r in fastavro.reader(io.BytesIO(hdfs.read("%s/%s" % (hdfs_dir, n))))]
    assert rows == [{"id": "0-%d" % i, "n": i} for i in range(30)]
    last_keys = fastavro.reader(io.BytesIO(hdfs.read("%s/%s" % (hdfs_dir, keys[-1]))))
    assert list(last_keys) == ["k%d" % i for i in range(20, 30)]
    assert kafka.committed(group, topic, 1) == {0: 30}


def test_killed_run_then_rerun_writes_every_record_exactly_once(kafka, hdfs, hdfs_dir, tmp_path):
    """SIGKILL of the whole run mid-write (nothing committed to the group yet), then a rerun that resumes
    after the files in place: every record once, in exactly the files a clean run writes."""
    topic = kafka.topic(partitions=2)
    per_partition, flush = 20_000, 500
    for p in range(2):
        kafka.produce(topic, _records(p, 0, per_partition), partition=p)
    config, group = _connector(tmp_path, hdfs, hdfs_dir, topic, **{"flush.size": str(flush)})

    log = tmp_path / "killed-run.log"
    with open(log, "w") as output:
        proc = subprocess.Popen(cli_command("run", config, "--bootstrap-servers", kafka.servers),
                                cwd=ROOT, env=cli_env(), stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(_final(hdfs, hdfs_dir)) < 3:
            assert proc.poll() is None, "the run ended before it was killed: " + log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the run wrote nothing within 120 s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    left = _final(hdfs, hdfs_dir)
    assert 3 <= len(left) < 80
    assert kafka.committed(group, topic, 2) == {0: -1001, 1: -1001}
    resume = {}
    for name in left:  # .../<topic>+<p>+<first>+<last>.parquet
        partition, last = int(name.split("+")[1]), int(name.split("+")[3].split(".")[0])
        resume[partition] = max(resume.get(partition, 0), last + 1)

    result = _run(config, kafka)

    for partition, offset in resume.items():
        assert "topic=%s partition=%d resumes at offset %d" % (topic, partition, offset) in result.stderr

    expected = sorted(n for p in range(2)
                      for n in _names(topic, p, [(s, s + flush - 1) for s in range(0, per_partition, flush)]))
    assert hdfs.files(hdfs_dir) == expected  # no temporary file left, no other name
    ids = [r["id"] for r in _rows(hdfs, hdfs_dir, expected)]
    assert len(ids) == len(set(ids)) == 2 * per_partition
    assert kafka.committed(group, topic, 2) == {0: per_partition, 1: per_partition}
