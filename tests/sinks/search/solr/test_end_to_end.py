"""The Solr sink end to end through the CLI: Kafka to a real Solr node, dead letters, a killed run
rerun, refused credentials."""

import json
import os
import signal
import subprocess
import time

import requests
from confluent_kafka import Consumer

from tests.helpers import ROOT, cli_command, cli_env, write_config
from tests.sinks.search.solr.conftest import unique

HTTP = "com.github.jcustenborder.kafka.connect.solr.HttpSolrSinkConnector"


def _config(topic, solr, core, **overrides):
    return {"name": unique("solr"), "connector.class": HTTP, "topics": topic,
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false", "solr.url": solr.core_url(core),
            "solr.username": solr.username, "solr.password": solr.password, "flush.size": "100",
            **overrides}


def _run(config, servers, *args, timeout=300):
    return subprocess.run(cli_command("run", config, "--bootstrap-servers", servers, *args),
                          cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=timeout)


def _encode(records):
    return [(None if k is None else k.encode(), None if v is None else json.dumps(v).encode())
            for k, v in records]


def test_records_indexed_by_key_and_coordinates_a_refused_one_dead_lettered(solr, core, kafka,
                                                                           tmp_path):
    topic = kafka.topic(prefix="solr")
    records = [("k%d" % (i % 5), {"n_i": str(i), "v_s": "v%d" % i}) for i in range(10)]  # 0..9
    records += [(None, {"v_s": "no key"}),  # 10: id from the coordinates
                ("bad", {"n_i": "not a number"}),  # 11: Solr refuses it
                ("k1", None),  # 12: a tombstone
                (None, {"id": "own", "v_s": "the value's id"})]  # 13
    kafka.produce(topic, _encode(records), partition=0)
    dlq = topic + "-dlq"
    config = write_config(tmp_path / "c.json", _config(topic, solr, core, **{
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"}))

    result = _run(config, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    assert solr.password not in result.stdout + result.stderr
    expected = {"k%d" % i: {"id": "k%d" % i, "n_i": i + 5, "v_s": "v%d" % (i + 5),
                            "__connect_topic": topic, "__connect_partition": 0,
                            "__connect_offset": i + 5} for i in (0, 2, 3, 4)}
    expected["%s+0+10" % topic] = {"id": "%s+0+10" % topic, "v_s": "no key",
                                   "__connect_topic": topic, "__connect_partition": 0,
                                   "__connect_offset": 10}
    expected["own"] = {"id": "own", "v_s": "the value's id", "__connect_topic": topic,
                       "__connect_partition": 0, "__connect_offset": 13}
    assert solr.documents(core) == expected
    [dead] = _read(kafka.servers, dlq)
    assert (dead.key(), json.loads(dead.value())) == (b"bad", {"n_i": "not a number"})
    headers = dict(dead.headers())
    assert headers["__connect.errors.offset"] == b"11"
    assert headers["__connect.errors.stage"] == b"TASK_PUT"
    assert b"Error adding field 'n_i'='not a number'" in headers["__connect.errors.exception.message"]
    assert kafka.committed("connect-" + json.loads(config.read_text())["name"], topic, 1) == {0: 14}

    replay = _run(config, kafka.servers, "--from", "earliest")  # everything again: nothing changes
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert solr.documents(core) == expected


def test_a_killed_run_then_rerun_leaves_the_core_as_a_clean_run_does(solr, core, kafka, tmp_path):
    """SIGKILL of the whole run's process group mid-run, then a rerun: the core holds exactly what a
    clean run leaves, each key's last record (or none after a tombstone) with its coordinates."""
    per_partition = 6000
    topic = kafka.topic(partitions=2, prefix="solr")
    expected = {}
    for partition in (0, 1):
        records = [("p%d-k%d" % (partition, i % 1000), {"i_l": i, "v_s": "value %d" % i})
                   for i in range(per_partition)]
        for i in range(300 + partition, per_partition, 700):
            records[i] = (records[i][0], None)  # tombstones along the way
        kafka.produce(topic, _encode(records), partition=partition)
        for offset, (key, value) in enumerate(records):
            if value is None:
                expected.pop(key, None)
            else:
                expected[key] = {"id": key, **value, "__connect_topic": topic,
                                 "__connect_partition": partition, "__connect_offset": offset}
    config = write_config(tmp_path / "c.json", _config(topic, solr, core, **{
        "solr.commit.within": "200", "flush.size": "300"}))
    name = json.loads(config.read_text())["name"]

    log = tmp_path / "killed-run.log"
    with open(log, "w") as output:
        proc = subprocess.Popen(cli_command("run", config, "--bootstrap-servers", kafka.servers),
                                cwd=ROOT, env=cli_env(), stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while _count(solr, core) < 300:
            assert proc.poll() is None, "the run ended before it was killed: " + log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the run indexed nothing within 120 s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert kafka.committed("connect-" + name, topic, 2) == {0: -1001, 1: -1001}  # killed mid-run

    rerun = _run(config, kafka.servers)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert solr.documents(core) == expected
    assert kafka.committed("connect-" + name, topic, 2) == {0: per_partition, 1: per_partition}


def test_wrong_credentials_stop_the_run_before_any_record_is_read(solr, core, kafka, tmp_path):
    topic = kafka.topic(prefix="solr")
    kafka.produce(topic, _encode([("k", {"v_s": "x"})]))
    wrong = "wrong-" + solr.password
    config = write_config(tmp_path / "c.json", _config(topic, solr, core, **{"solr.password": wrong}))

    result = _run(config, kafka.servers)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Solr at %s/schema/uniquekey refused the login of solr.username=%r (HTTP 401)" % (
        solr.core_url(core), solr.username) in " ".join(result.stderr.split())
    assert "planned" not in result.stderr
    assert wrong not in result.stdout + result.stderr
    assert kafka.committed("connect-" + json.loads(config.read_text())["name"], topic, 1) == {0: -1001}
    assert solr.documents(core) == {}


def _count(solr, core):
    answer = requests.get("%s/select" % solr.core_url(core), params={"q": "*:*", "rows": 0},
                          auth=(solr.username, solr.password), timeout=10).json()
    return answer["response"]["numFound"]


def _read(servers, topic, timeout=30):
    consumer = Consumer({"bootstrap.servers": servers, "group.id": unique("read"),
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    messages, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                if messages:
                    break
                continue
            if message.error() is None:
                messages.append(message)
    finally:
        consumer.close()
    return messages
