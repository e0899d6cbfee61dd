"""The Elasticsearch / OpenSearch sink end to end through the CLI: Kafka to a real OpenSearch node,
reruns and replays, dead letters, a killed run rerun, refused credentials."""

import json
import os
import signal
import subprocess
import time

from confluent_kafka import Consumer

from pipelines.processes import free_ports
from tests.helpers import ROOT, cli_command, cli_env, write_config
from tests.sinks.search.elasticsearch.conftest import CONNECTOR_CLASS, documents, unique

ROUTER = {"transforms": "route",
          "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
          "transforms.route.regex": "(.*)", "transforms.route.replacement": "$1-clean"}


def _config(topic, cluster, **overrides):
    config = {"name": unique("es"), "connector.class": CONNECTOR_CLASS, "topics": topic,
              "key.converter": "org.apache.kafka.connect.storage.StringConverter",
              "value.converter": "org.apache.kafka.connect.json.JsonConverter",
              "value.converter.schemas.enable": "false", "schema.ignore": "true",
              "connection.url": cluster.url, "behavior.on.null.values": "delete"}
    if cluster.user is not None:
        config.update({"connection.username": cluster.user, "connection.password": cluster.password})
    config.update(overrides)
    return config


def _run(config, servers, *args, timeout=300):
    return subprocess.run(cli_command("run", config, "--bootstrap-servers", servers, *args),
                          cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=timeout)


def _encode(records):
    return [(None if k is None else k.encode(), None if v is None else json.dumps(v).encode())
            for k, v in records]


def _name(config):
    return json.loads(config.read_text())["name"]


def test_records_indexed_by_key_then_rerun_and_replayed_without_a_change(opensearch, kafka, tmp_path):
    topic = kafka.topic(partitions=2, prefix="es")
    records = [("k%d" % (i % 40), {"i": i, "text": "value %d" % i}) for i in range(150)]
    records[120] = ("k0", None)  # k0's tombstone at offset 120 of partition 0 deletes it
    kafka.produce(topic, _encode(records[:120]), partition=0)
    kafka.produce(topic, _encode(records[120:]), partition=0)
    kafka.produce(topic, _encode([("p1-%d" % i, {"i": i}) for i in range(30)]), partition=1)
    config = write_config(tmp_path / "c.json", _config(topic, opensearch))

    result = _run(config, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    expected = {k: (offset, v) for offset, (k, v) in enumerate(records)}  # each key's last record
    expected = {k: ov for k, ov in expected.items() if ov[1] is not None}
    expected.update({"p1-%d" % i: (i, {"i": i}) for i in range(30)})
    written = documents(opensearch, topic)
    assert written == expected
    assert kafka.committed("connect-" + _name(config), topic, 2) == {0: 150, 1: 30}

    replay = _run(config, kafka.servers, "--from", "earliest")  # all again: every write a conflict
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert "0 indexed, 0 deleted, 150 version conflicts" in replay.stderr
    assert "0 indexed, 0 deleted, 30 version conflicts" in replay.stderr
    assert documents(opensearch, topic) == written


def test_a_malformed_document_is_dead_lettered_and_the_rest_indexed(opensearch, kafka, tmp_path):
    topic = kafka.topic(prefix="es")
    opensearch.request("PUT", "/" + topic, {"mappings": {"properties": {"n": {"type": "long"}}}})
    records = [("a", {"n": "1"}), ("b", {"n": "not a number"}), ("c", {"n": "3"})]
    kafka.produce(topic, _encode(records), partition=0)
    dlq = topic + "-dlq"
    config = write_config(tmp_path / "c.json", _config(topic, opensearch, **{
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"}))

    result = _run(config, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    assert {k: s for k, (_, s) in documents(opensearch, topic).items()} == {
        "a": {"n": "1"}, "c": {"n": "3"}}
    [dead] = _read(kafka.servers, dlq)
    assert (dead.key(), json.loads(dead.value())) == (b"b", {"n": "not a number"})
    headers = dict(dead.headers())
    assert headers["__connect.errors.offset"] == b"1"
    assert headers["__connect.errors.stage"] == b"TASK_PUT"
    assert b"mapper_parsing_exception" in headers["__connect.errors.exception.message"]
    assert kafka.committed("connect-" + _name(config), topic, 1) == {0: 3}


def test_a_killed_run_then_rerun_leaves_the_index_as_a_clean_run_does(opensearch, kafka, tmp_path):
    count = 20_000
    topic = kafka.topic(partitions=2, prefix="es")
    records = [("k%d" % (i % 3000), {"i": i, "text": "value %d" % i}) for i in range(count)]
    for i in range(700, count, 2100):
        records[i] = (records[i][0], None)  # tombstones along the way
    kafka.produce(topic, _encode(records))
    overrides = {"batch.size": "250", "max.in.flight.requests": "2"}
    config = write_config(tmp_path / "killed.json", _config(topic, opensearch, **overrides))

    proc = subprocess.Popen(cli_command("run", config, "--bootstrap-servers", kafka.servers),
                            cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        seen = 0
        while seen < 2000:
            assert proc.poll() is None, "the run ended before it could be killed: %s" % (
                proc.stderr.read()[-3000:])
            assert time.monotonic() < deadline, "the run indexed nothing within 120 s"
            time.sleep(0.05)
            seen = _operations(opensearch, topic)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert seen < count
    name = _name(config)
    assert kafka.committed("connect-" + name, topic, 2) == {0: -1001, 1: -1001}  # killed mid-run

    rerun = _run(config, kafka.servers)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    reference = write_config(tmp_path / "clean.json",
                             _config(topic, opensearch, **overrides, **ROUTER))
    once = _run(reference, kafka.servers)
    assert once.returncode == 0, once.stderr[-3000:]

    killed, clean = documents(opensearch, topic), documents(opensearch, topic + "-clean")
    assert killed == clean  # the same documents, with the same versions (the offsets)
    last = dict(records)  # each key's last record (a key stays in one partition)
    assert {k: source for k, (_, source) in killed.items()} == {
        k: v for k, v in last.items() if v is not None}
    assert kafka.committed("connect-" + name, topic, 2) == kafka.committed(
        "connect-" + _name(reference), topic, 2)


def test_wrong_credentials_stop_the_run_before_any_record_is_read(opensearch, kafka, tmp_path):
    if opensearch.user is None:
        import pytest

        pytest.skip("the cluster BEAMCONNECT_OPENSEARCH_URL names takes no login")
    topic = kafka.topic(prefix="es")
    kafka.produce(topic, _encode([("k", {"v": 1})]))
    wrong = "wrong-" + opensearch.password
    config = write_config(tmp_path / "c.json", _config(topic, opensearch, **{
        "connection.password": wrong}))

    result = _run(config, kafka.servers)
    assert result.returncode == 1, result.stderr[-3000:]
    assert ("the cluster at connection.url=%s refused the login connection.username=%r (HTTP 401"
            % (opensearch.url, opensearch.user)) in " ".join(result.stderr.split())
    assert "planned" not in result.stderr
    assert wrong not in result.stdout + result.stderr
    assert opensearch.password not in result.stdout + result.stderr
    assert kafka.committed("connect-" + _name(config), topic, 1) == {0: -1001}


def test_an_unreachable_cluster_is_a_clear_error_before_any_record_is_read(opensearch, kafka,
                                                                           tmp_path):
    topic = kafka.topic(prefix="es")
    url = "http://127.0.0.1:%d" % free_ports(1)[0]
    config = write_config(tmp_path / "c.json", _config(topic, opensearch, **{"connection.url": url}))
    result = _run(config, kafka.servers)
    assert result.returncode == 1, result.stderr[-3000:]
    assert ("could not reach Elasticsearch or OpenSearch at connection.url=%s" % url
            in " ".join(result.stderr.split()))
    assert "planned" not in result.stderr


def _operations(cluster, index):
    """Index and delete operations the index has taken (0 before it exists)."""
    try:
        stats = cluster.request("GET", "/%s/_stats/indexing" % index)
    except Exception:
        return 0
    indexing = stats["indices"][index]["primaries"]["indexing"]
    return indexing["index_total"] + indexing["delete_total"]


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
