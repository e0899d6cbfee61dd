"""The MongoDB sink end to end through the CLI: runs, replays, SIGKILL then rerun, dead letters and a
server that goes away."""

import json
import os
import signal
import subprocess
import time

import pytest

from tests.helpers import ROOT, cli_command, cli_env, write_config
from tests.sinks.mongodb.conftest import DATABASE, raw_config

KAFKA = "__kafka"


def _run(config, servers, *args, timeout=300):
    return subprocess.run(cli_command("run", config, "--bootstrap-servers", servers, *args),
                          cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=timeout)


def _start(config, servers):
    return subprocess.Popen(cli_command("run", config, "--bootstrap-servers", servers), cwd=ROOT,
                            env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def _records(count, keys, start=0):
    """Record i: key ``{"_id": "k<i % keys>"}`` (string ids: FerretDB finds those by its index) and
    value ``{"n": i, "s": "v<i>"}``."""
    return [(json.dumps({"_id": "k%05d" % (i % keys)}).encode(),
             json.dumps({"n": i, "s": "v%d" % i}).encode()) for i in range(start, start + count)]


def _expected(topic, count, keys, partition=0):
    """The documents one clean run leaves of :func:`_records`: per key, its last record."""
    last = {}
    for i in range(count):
        last[i % keys] = i
    return sorted(({"_id": "k%05d" % k, "n": i, "s": "v%d" % i,
                    KAFKA: {"topic": topic, "partition": partition, "offset": i}}
                   for k, i in last.items()), key=lambda d: d["_id"])


def _documents(mongo, topic):
    return mongo.documents(topic)


def _until(condition, proc, what, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, "the run ended before %s: %s" % (what, proc.stderr.read()[-3000:])
        assert time.monotonic() < deadline, "%s did not happen within %ds" % (what, timeout)
        time.sleep(0.05)


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.communicate(timeout=60)[1]


def test_a_run_writes_the_documents_and_a_replay_rewrites_nothing(kafka, mongo, tmp_path):
    topic = kafka.topic(partitions=2)
    kafka.produce(topic, _records(120, keys=50), partition=0)
    kafka.produce(topic, _records(30, keys=100000, start=1000), partition=1)  # keys 1000..1029
    raw = raw_config(mongo.uri, topic, **{"document.id.strategy": "ProvidedInKeyStrategy",
                                          "flush.size": "40"})
    config = write_config(tmp_path / "c.json", raw)

    first = _run(config, kafka.servers)
    assert first.returncode == 0, first.stderr[-3000:]
    written = _documents(mongo, topic)
    assert len(written) == 80
    assert [d for d in written if d[KAFKA]["partition"] == 0] == _expected(topic, 120, 50)
    assert kafka.committed("connect-" + raw["name"], topic, 2) == {0: 120, 1: 30}

    replay = _run(config, kafka.servers, "--from", "earliest")
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert _documents(mongo, topic) == written


def test_a_killed_run_then_a_rerun_leave_what_a_clean_run_leaves(kafka, mongo, tmp_path):
    count, keys = 3000, 1000
    topic = kafka.topic()
    kafka.produce(topic, _records(count, keys), partition=0)
    raw = raw_config(mongo.uri, topic, **{"document.id.strategy": "ProvidedInKey", "flush.size": "250"})
    config = write_config(tmp_path / "c.json", raw)

    proc = _start(config, kafka.servers)
    try:
        _until(lambda: mongo.collection(topic).estimated_document_count() >= 300, proc,
               "300 documents were written")
    finally:
        _stop(proc)
    assert mongo.collection(topic).count_documents({"%s.offset" % KAFKA: {"$gte": 2000}}) == 0

    rerun = _run(config, kafka.servers)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert _documents(mongo, topic) == _expected(topic, count, keys)
    assert kafka.committed("connect-" + raw["name"], topic, 1) == {0: count}


def test_refused_documents_go_to_the_dead_letter_queue_and_the_rest_is_written(kafka, mongo, tmp_path):
    from tests.sinks.kafka.conftest import read_committed

    topic = kafka.topic()
    kafka.produce(topic, _records(10, keys=8), partition=0)  # offsets 8 and 9 repeat keys 0 and 1
    dlq = topic + "-dlq"
    raw = raw_config(mongo.uri, topic, **{
        "document.id.strategy": "ProvidedInKeyStrategy", "writemodel.strategy": "InsertOneDefaultStrategy",
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"})
    config = write_config(tmp_path / "c.json", raw)

    result = _run(config, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [d["n"] for d in _documents(mongo, topic)] == list(range(8))
    dead = read_committed(kafka.servers, dlq)
    assert [json.loads(m.value())["n"] for m in dead] == [8, 9]
    headers = dict(dead[0].headers())
    assert headers["__connect.errors.offset"] == b"8"
    assert headers["__connect.errors.stage"] == b"TASK_PUT"
    assert b"refused the document (error 11000)" in headers["__connect.errors.exception.message"]
    assert kafka.committed("connect-" + raw["name"], topic, 1) == {0: 10}


def test_a_server_stopped_and_restarted_mid_run_is_waited_for(kafka, mongo, tmp_path):
    if mongo.local is None:
        pytest.skip("stops and restarts the suite's own server")
    count = 4000
    topic = kafka.topic()
    kafka.produce(topic, _records(count, keys=count), partition=0)
    raw = raw_config(mongo.uri, topic, **{  # at least 0.3 s per bundle of 200: the run lasts 6 s
        "document.id.strategy": "ProvidedInKey", "flush.size": "200", "rate.limiting.every.n": "1",
        "rate.limiting.timeout": "300"})
    config = write_config(tmp_path / "c.json", raw)

    proc = _start(config, kafka.servers)
    try:
        _until(lambda: mongo.collection(topic).estimated_document_count() >= 400, proc,
               "400 documents were written")
        mongo.local.pause()
        time.sleep(2)
        assert proc.poll() is None
    finally:
        mongo.local.resume()
    stderr = proc.communicate(timeout=300)[1]
    assert proc.returncode == 0, stderr[-3000:]
    assert "trying again" in stderr
    assert _documents(mongo, topic) == _expected(topic, count, count)
    assert kafka.committed("connect-" + raw["name"], topic, 1) == {0: count}


def test_a_server_gone_for_good_fails_the_run_with_nothing_committed(kafka, tmp_path):
    import pymongo

    from tests.servers.ferretdb import LocalFerretDB

    topic = kafka.topic()
    kafka.produce(topic, _records(20000, keys=20000), partition=0)
    server = LocalFerretDB().start()
    try:
        uri = "mongodb://127.0.0.1:%d/?serverSelectionTimeoutMS=1500" % server.port
        raw = raw_config(uri, topic, **{"document.id.strategy": "ProvidedInKey", "flush.size": "200"})
        proc = _start(write_config(tmp_path / "c.json", raw), kafka.servers)
        try:
            client = pymongo.MongoClient(uri)
            _until(lambda: client[DATABASE][topic].estimated_document_count() >= 200, proc,
                   "200 documents were written")
            client.close()
            server.stop()
            proc.wait(timeout=120)
        finally:
            stderr = _stop(proc)
    finally:
        server.stop()

    assert proc.returncode == 1, stderr[-3000:]
    assert "no MongoDB server at 127.0.0.1:%d answered within 1.5s (serverSelectionTimeoutMS)" \
        % server.ports[0] in stderr
    assert kafka.committed("connect-" + raw["name"], topic, 1) == {0: -1001}
