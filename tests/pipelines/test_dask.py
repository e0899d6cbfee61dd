"""Runs on Beam's Dask runner against a real ``dask.distributed`` cluster: a ``LocalCluster`` of two
worker processes, the same scheduler and workers a cluster of many machines runs."""

import json
import os
import signal
import subprocess
import time

import pytest

from tests.helpers import (ROOT, cli_command, cli_env, file_bytes, json_files_config, run_cli,
                           write_config)

distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def dask_cluster():
    """A scheduler and two worker processes (each restarted by its nanny if it dies)."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster.scheduler_address)
    try:
        yield cluster, client
    finally:
        client.close()
        cluster.close()


def _produce(kafka, topic, partitions, per_partition):
    for p in range(partitions):
        kafka.produce(topic, [(None, json.dumps({"p": p, "i": i, "pad": "x" * 40}).encode())
                              for i in range(per_partition)], partition=p)


def _run(kafka, tmp_path, name, topic, runner_args, **overrides):
    store = tmp_path / name
    config = write_config(tmp_path / (name + ".json"), json_files_config(
        "%s-%s" % (name, topic), topic, store, **{"flush.size": "100", **overrides}))
    done = run_cli("run", config, "--bootstrap-servers", kafka.servers, *runner_args)
    return done, store


def test_dask_writes_the_files_the_direct_runner_writes_byte_for_byte(kafka, tmp_path, dask_cluster):
    cluster, _ = dask_cluster
    topic = kafka.topic(partitions=3)
    _produce(kafka, topic, 3, 1500)
    dask = ["--runner", "DaskRunner", "--dask_client_address", cluster.scheduler_address]

    direct, direct_store = _run(kafka, tmp_path, "direct", topic, [])
    on_dask, dask_store = _run(kafka, tmp_path, "dask", topic, dask)

    assert direct.returncode == 0, direct.stderr[-3000:]
    assert on_dask.returncode == 0, on_dask.stderr[-3000:]
    expected = file_bytes(direct_store)
    assert len(expected) == 45
    assert file_bytes(dask_store) == expected
    assert kafka.committed("connect-dask-" + topic, topic, 3) == {0: 1500, 1: 1500, 2: 1500}
    # Beam's Dask runner collects no metrics: the summary says so rather than showing zeros
    summary = on_dask.stdout.splitlines()
    assert summary[1].split()[4:] == ["n/a", "n/a", "n/a", "1500"], on_dask.stdout
    assert "offsets/s planned (the runner reports no counts)" in summary[-1]

    # micro-batch windows (partial last files held for the next run) on Dask too
    _produce(kafka, topic, 3, 50)  # each partition now ends inside a window
    held, held_store = _run(kafka, tmp_path, "held", topic, [*dask, "--hold-partial"])
    assert held.returncode == 0, held.stderr[-3000:]
    assert len(file_bytes(held_store)) == 45  # 1550 records a partition: 15 whole files, 50 held
    assert kafka.committed("connect-held-" + topic, topic, 3) == {0: 1500, 1: 1500, 2: 1500}


def test_a_local_cluster_is_started_for_the_run_when_no_address_is_given(kafka, tmp_path):
    topic = kafka.topic(partitions=2)
    _produce(kafka, topic, 2, 300)

    done, store = _run(kafka, tmp_path, "local", topic, ["--runner", "DaskRunner"],
                       **{"tasks.max": "2"})

    assert done.returncode == 0, done.stderr[-3000:]
    assert "starting a local Dask cluster of 2 worker processes" in done.stderr
    assert len(file_bytes(store)) == 6
    assert kafka.committed("connect-local-" + topic, topic, 2) == {0: 300, 1: 300}


def _finished_files(store) -> list:
    """The names of the files written in full below ``store`` (not a writer's hidden temporary file)."""
    return [n for _, _, names in os.walk(store) for n in names if not n.startswith(".")]


def test_a_worker_killed_mid_run_is_replaced_and_every_record_is_written_once(kafka, tmp_path,
                                                                            dask_cluster):
    cluster, client = dask_cluster
    topic = kafka.topic(partitions=4)
    _produce(kafka, topic, 4, 5000)
    reference, reference_store = _run(kafka, tmp_path, "reference", topic, [])
    assert reference.returncode == 0, reference.stderr[-3000:]
    pids = list(client.run(os.getpid).values())
    assert len(pids) == 2
    store = tmp_path / "killed"
    config = write_config(tmp_path / "killed.json", json_files_config(
        "killed-" + topic, topic, store, **{"flush.size": "100"}))
    proc = subprocess.Popen(cli_command("run", config, "--bootstrap-servers", kafka.servers,
                                        "--runner", "DaskRunner", "--dask_client_address",
                                        cluster.scheduler_address),
                            cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 120
        # a finished file's name is listed, not opened: the run renames its temporary files meanwhile
        while not _finished_files(store) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before a worker could be killed"
        os.kill(pids[0], signal.SIGKILL)  # mid-run: files are being written
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()

    assert proc.returncode == 0, err[-3000:]
    expected = file_bytes(reference_store)
    assert len(expected) == 200
    assert file_bytes(store) == expected  # no file missing, none twice, no leftover partial file
    assert kafka.committed("connect-killed-" + topic, topic, 4) == {p: 5000 for p in range(4)}
    client.wait_for_workers(2, timeout=60)  # the nanny started a new worker


def test_a_failed_run_on_dask_commits_nothing_and_names_the_record(kafka, tmp_path, dask_cluster):
    cluster, _ = dask_cluster
    topic = kafka.topic(partitions=2)
    _produce(kafka, topic, 2, 400)
    kafka.produce(topic, [(None, b"{not json")], partition=1)  # offset 400 of partition 1
    _produce(kafka, topic, 2, 10)

    done, store = _run(kafka, tmp_path, "failed", topic,
                       ["--runner", "DaskRunner", "--dask_client_address", cluster.scheduler_address])

    assert done.returncode == 1
    err = " ".join(done.stderr.split())
    assert "topic=%s partition=1 offset=400" % topic in err, err[-3000:]
    assert kafka.committed("connect-failed-" + topic, topic, 2) == {0: -1001, 1: -1001}


def test_streaming_is_refused_on_dask_before_anything_runs(kafka, tmp_path):
    config = write_config(tmp_path / "s.json", json_files_config("s", "t", tmp_path / "out"))

    done = run_cli("run", config, "--bootstrap-servers", kafka.servers, "--mode", "streaming",
                   "--runner", "DaskRunner")

    assert done.returncode == 2  # a config error
    assert "DaskRunner runs bounded pipelines only" in " ".join(done.stderr.split())
    assert not (tmp_path / "out").exists()
