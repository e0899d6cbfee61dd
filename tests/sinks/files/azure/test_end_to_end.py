"""End to end into Azure Blob Storage (Azurite): Kafka -> files in a container -> committed offsets, run
as a user runs it (``python -m pipelines run``) with Confluent's Azure Blob sink config, including a
killed run."""

import base64
import gzip
import io
import json
import os
import signal
import subprocess
import time

import pyarrow.parquet as pq

from tests.helpers import ROOT, cli_command, cli_env, json_files_config, run_cli, write_config

AZURE_CONNECTOR = "io.confluent.connect.azure.blob.AzureBlobStorageSinkConnector"


def _records(partition, start, count):
    for i in range(start, start + count):
        yield b"k%d" % i, json.dumps({"id": "%d-%d" % (partition, i), "n": i}).encode()


def _confluent_config(tmp_path, topic, container, **overrides):
    """A connector config as Confluent's Azure Blob sink takes it (plus the Azurite endpoint)."""
    raw = json_files_config("az-%s" % topic, topic, "", **{
        "connector.class": AZURE_CONNECTOR,
        "format.class": "io.confluent.connect.azure.blob.format.json.JsonFormat",
        "az.compression.type": "gzip", **container.config(), **overrides})
    if not raw["store.url"]:
        del raw["store.url"]
    return write_config(tmp_path / "connector.json", raw), "connect-az-%s" % topic


def _json_rows(container, keys):
    return [json.loads(line) for key in keys for line in gzip.decompress(container.read(key)).splitlines()]


def _assert_secrets_hidden(container, *outputs):
    for secret in (container.account.key, container.account.connection_string):
        if secret:
            assert not any(secret in output for output in outputs)


def test_backfill_commits_and_reruns_idempotently(kafka, azure_container, tmp_path):
    topic = kafka.topic(partitions=2)
    for p in range(2):
        kafka.produce(topic, _records(p, 0, 25), partition=p)
    config, group = _confluent_config(tmp_path, topic, azure_container)
    layout = sorted("topics/%s/partition=%d/%s+%d+%010d.json.gz" % (topic, p, topic, p, o)
                    for p in range(2) for o in (0, 10, 20))

    first = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert first.returncode == 0, first.stderr[-3000:]
    assert azure_container.keys() == layout
    for p in range(2):
        rows = _json_rows(azure_container, [k for k in layout if "partition=%d" % p in k])
        assert rows == [{"id": "%d-%d" % (p, i), "n": i} for i in range(25)]
    assert kafka.committed(group, topic, 2) == {0: 25, 1: 25}
    etags = azure_container.etags()

    again = run_cli("run", config, "--bootstrap-servers", kafka.servers)
    assert again.returncode == 0, again.stderr[-3000:]
    assert azure_container.etags() == etags  # nothing rewritten

    kafka.produce(topic, _records(0, 25, 5), partition=0)
    more = run_cli("run", config, "--bootstrap-servers", kafka.servers)
    assert more.returncode == 0, more.stderr[-3000:]
    new_key = "topics/%s/partition=0/%s+0+0000000025.json.gz" % (topic, topic)
    assert azure_container.keys() == sorted(layout + [new_key])
    assert _json_rows(azure_container, [new_key]) == [{"id": "0-%d" % i, "n": i} for i in range(25, 30)]
    assert {k: v for k, v in azure_container.etags().items() if k != new_key} == etags
    assert kafka.committed(group, topic, 2) == {0: 30, 1: 25}
    _assert_secrets_hidden(azure_container, first.stderr, first.stdout, again.stderr, more.stderr)


def test_a_refused_key_stops_before_reading_and_commits_nothing(kafka, azure_container, tmp_path):
    topic = kafka.topic(partitions=1)
    kafka.produce(topic, _records(0, 0, 5), partition=0)
    wrong = base64.b64encode(b"a key this account does not have!" * 2).decode()
    config, group = _confluent_config(tmp_path, topic, azure_container, **{"azblob.account.key": wrong})
    if azure_container.account.key is None:
        return  # a SAS connection string names the account; the key is not used

    result = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert result.returncode == 1, result.stderr[-3000:]
    assert ("store.url=az://%s cannot be used: the credentials may not use container %r in account %r"
            % (azure_container.name, azure_container.name, azure_container.account.name)) \
        in " ".join(result.stderr.split())  # the CLI wraps its error line
    assert "Traceback" not in result.stderr and wrong not in result.stderr + result.stdout
    assert kafka.committed(group, topic, 1) == {0: -1001}
    assert azure_container.keys() == []


def test_killed_run_then_rerun_leaves_every_record_exactly_once(kafka, azure_container, tmp_path):
    """SIGKILL the whole run mid-upload, then rerun: every record once, every offset committed."""
    topic = kafka.topic(partitions=2)
    per_partition = 10_000
    for p in range(2):
        kafka.produce(topic, _records(p, 0, per_partition), partition=p)
    raw = json_files_config("az-%s" % topic, topic, "", **azure_container.config(prefix="kafka"),
                            **{"flush.size": "250"})
    config, group = write_config(tmp_path / "connector.json", raw), "connect-az-%s" % topic
    cmd = cli_command("run", config, "--bootstrap-servers", kafka.servers)

    proc = subprocess.Popen(cmd, cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and len(azure_container.keys()) < 3:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    files = 2 * per_partition // 250
    assert 3 <= len(azure_container.keys()) < files
    assert kafka.committed(group, topic, 2) == {0: -1001, 1: -1001}

    rerun = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert rerun.returncode == 0, rerun.stderr[-3000:]
    keys = azure_container.keys()
    assert len(keys) == files and all(k.startswith("kafka/topics/%s/partition=" % topic) for k in keys)
    ids = [row["id"] for key in keys
           for row in pq.read_table(io.BytesIO(azure_container.read(key))).to_pylist()]
    assert len(ids) == len(set(ids)) == 2 * per_partition
    assert kafka.committed(group, topic, 2) == {0: per_partition, 1: per_partition}
    _assert_secrets_hidden(azure_container, rerun.stderr, rerun.stdout)
