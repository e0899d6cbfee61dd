"""The Cassandra sink end to end through the CLI, against a real Kafka broker and Cassandra node."""

import datetime
import json
import os
import signal
import subprocess
import uuid

from sinks.cassandra.statements import time_uuid
from tests.helpers import ROOT, cli_command, cli_env, write_config
from tests.sinks.cassandra.conftest import (KEYSPACE, create_table, produce, read_topic, rows,
                                            sink_config, wait_rows, wait_usable)

T0 = 1_700_000_000_000
JSON_KEYS = {"key.converter": "org.apache.kafka.connect.json.JsonConverter",
             "key.converter.schemas.enable": "false"}


def _name():
    return "cassandra-" + uuid.uuid4().hex[:8]


def _run(config, kafka, *args, timeout=300):
    return subprocess.run(cli_command("run", config, "--bootstrap-servers", kafka.servers, *args),
                          cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=timeout)


def _start(config, kafka):
    return subprocess.Popen(cli_command("run", config, "--bootstrap-servers", kafka.servers), cwd=ROOT,
                            env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _json(value):
    return json.dumps(value).encode()


def _with_writetime(cql, table, key, column):
    return {r[0]: (r[1], r[2]) for r in cql.execute(
        "SELECT %s, %s, writetime(%s) FROM %s.%s" % (key, column, column, KEYSPACE, table))}


def test_every_mapping_form_in_one_run(kafka, cassandra, cql, tmp_path):
    fields = create_table(cql, ["id text", "name text", "qty int", "tags list<text>", "at timestamp",
                                "trace text", "made timeuuid"], "id")
    times = create_table(cql, ["id text", "name text"], "id")
    query = create_table(cql, ["id text", "qty int", "note text"], "id")
    whole = create_table(cql, ["region text", "n int", "v bigint"], "region, n")
    orders, counts = kafka.topic(), kafka.topic()
    produce(kafka.servers, orders, [
        (_json("k1"), _json({"name": "ann", "qty": "3", "tags": ["x", "y"], "at": "2024-01-02T03:04:05Z",
                             "ts": 1_600_000_000_000_000, "ttl": 3600}), T0, [("trace", b"abc")]),
        (_json("k2"), _json({"name": "bob", "qty": "4", "tags": [], "at": "2024-01-02 03:04:06.5",
                             "ts": 1_600_000_000_000_001, "ttl": 7200}), T0 + 1, [("trace", b"def")]),
    ])
    produce(kafka.servers, counts, [(_json({"region": "eu", "n": 1}), b"42", T0 + 2, None),
                                    (_json({"region": "us", "n": 2}), b"43", T0 + 3, None)])
    query_cql = ("INSERT INTO %s.%s (id, qty, note) VALUES (:id, :qty, :note) USING TIMESTAMP :ts"
                 % (KEYSPACE, query))
    config = write_config(tmp_path / "c.json", sink_config(_name(), "%s,%s" % (orders, counts), cassandra, {
        (orders, fields): {"mapping": "id=key, name=value.name, qty=value.qty, tags=value.tags, "
                                      "at=value.at, trace=header.trace, made=now()"},
        (orders, times): {"mapping": "id=key, name=value.name, __timestamp=value.ts, __ttl=value.ttl"},
        (orders, query): {"mapping": "id=key, qty=value.qty, note=header.trace, ts=value.ts",
                          "query": query_cql, "deletesEnabled": "false"},
        (counts, whole): {"mapping": "region=key.region, n=key.n, v=value"},
    }, **JSON_KEYS))

    result = _run(config, kafka)
    assert result.returncode == 0, result.stderr[-3000:]
    utc = datetime.timezone.utc
    found = {r.id: r for r in cql.execute("SELECT id, name, qty, tags, at, trace, made, writetime(name) "
                                          "AS wt FROM %s.%s" % (KEYSPACE, fields))}
    assert sorted(found) == ["k1", "k2"]
    k1 = found["k1"]
    assert (k1.name, k1.qty, k1.tags, k1.trace) == ("ann", 3, ["x", "y"], "abc")
    assert (found["k2"].qty, found["k2"].tags, found["k2"].trace) == (4, None, "def")  # [] is null in CQL
    assert found["k1"].at.replace(tzinfo=utc) == datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=utc)
    assert found["k2"].at.replace(tzinfo=utc) == datetime.datetime(2024, 1, 2, 3, 4, 6, 500000, tzinfo=utc)
    assert (found["k1"].wt, found["k2"].wt) == (T0 * 1000, (T0 + 1) * 1000)  # the records' timestamps
    assert found["k1"].made == time_uuid(T0, orders, 0, 0)
    assert found["k2"].made == time_uuid(T0 + 1, orders, 0, 1)

    timed = {r.id: r for r in cql.execute("SELECT id, name, writetime(name) AS wt, ttl(name) AS ttl "
                                          "FROM %s.%s" % (KEYSPACE, times))}
    assert (timed["k1"].wt, timed["k2"].wt) == (1_600_000_000_000_000, 1_600_000_000_000_001)
    assert 3500 < timed["k1"].ttl <= 3600 and 7100 < timed["k2"].ttl <= 7200
    assert rows(cql, query) == [{"id": "k1", "qty": 3, "note": "abc"}, {"id": "k2", "qty": 4, "note": "def"}]
    assert _with_writetime(cql, query, "id", "qty")["k1"][1] == 1_600_000_000_000_000
    assert rows(cql, whole) == [{"region": "eu", "n": 1, "v": 42}, {"region": "us", "n": 2, "v": 43}]


def test_tombstones_delete_and_a_replay_leaves_the_same_cells(kafka, cassandra, cql, tmp_path):
    table = create_table(cql, ["id text", "name text", "qty int"], "id")
    topic = kafka.topic()
    produce(kafka.servers, topic, [
        (b"k1", _json({"name": "a", "qty": 1}), T0, None),
        (b"k2", _json({"name": "b", "qty": 2}), T0 + 1, None),
        (b"k1", _json({"name": "a2", "qty": None}), T0 + 2, None),   # null: left as it was
        (b"k2", None, T0 + 3, None),                                  # tombstone: deleted
        (b"k3", _json({"name": "c", "qty": 3}), T0 + 4, None),
        (b"k3", None, T0 + 5, None),
        (b"k3", _json({"name": "c2", "qty": 5}), T0 + 6, None),      # newer than its delete
        (b"k4", _json({"name": "d", "qty": 4}), T0 + 7, None),
        (b"k4", _json({"name": None, "qty": None}), T0 + 8, None),   # only the key: a delete
    ])
    name = _name()
    config = write_config(tmp_path / "c.json", sink_config(name, topic, cassandra, {
        (topic, table): {"mapping": "id=key, name=value.name, qty=value.qty"}}))

    first = _run(config, kafka)
    assert first.returncode == 0, first.stderr[-3000:]
    assert rows(cql, table) == [{"id": "k1", "name": "a2", "qty": 1}, {"id": "k3", "name": "c2", "qty": 5}]
    cells = (_with_writetime(cql, table, "id", "name"), _with_writetime(cql, table, "id", "qty"))
    assert cells[0] == {"k1": ("a2", (T0 + 2) * 1000), "k3": ("c2", (T0 + 6) * 1000)}
    assert cells[1] == {"k1": (1, T0 * 1000), "k3": (5, (T0 + 6) * 1000)}
    assert kafka.committed("connect-" + name, topic, 1) == {0: 9}

    replay = _run(config, kafka, "--from", "earliest")  # the whole range again
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert (_with_writetime(cql, table, "id", "name"), _with_writetime(cql, table, "id", "qty")) == cells


def test_rejected_rows_go_to_the_dead_letter_queue_and_the_rest_is_written(kafka, cassandra, cql, tmp_path):
    table = create_table(cql, ["id text", "qty int"], "id")
    topic = kafka.topic()
    good = [(b"k%d" % i, _json({"qty": i}), T0 + i, None) for i in range(10)]
    bad_type = (b"bad-type", _json({"qty": 3_000_000_000}), T0 + 10, None)   # too big for an int
    bad_key = (b"x" * 70_000, _json({"qty": 1}), T0 + 11, None)             # refused by Cassandra
    more = [(b"k%d" % i, _json({"qty": i}), T0 + i, None) for i in range(12, 20)]
    produce(kafka.servers, topic, good + [bad_type, bad_key] + more)
    name, dlq = _name(), topic + "-dlq"
    config = write_config(tmp_path / "c.json", sink_config(name, topic, cassandra, {
        (topic, table): {"mapping": "id=key, qty=value.qty"}}, **{
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"}))

    result = _run(config, kafka)
    assert result.returncode == 0, result.stderr[-3000:]
    assert rows(cql, table) == sorted(({"id": "k%d" % i, "qty": i} for i in [*range(10), *range(12, 20)]),
                                      key=lambda r: repr(sorted(r.items())))
    dead = {int(dict(m.headers())["__connect.errors.offset"]): m for m in read_topic(kafka.servers, dlq)}
    assert sorted(dead) == [10, 11]
    assert dead[10].key() == b"bad-type"
    assert b"3000000000 cannot be written to a int column: out of range" in \
        dict(dead[10].headers())["__connect.errors.exception.message"]
    assert b"Key length of 70000 is longer than maximum of 65535" in \
        dict(dead[11].headers())["__connect.errors.exception.message"]
    assert kafka.committed("connect-" + name, topic, 1) == {0: 20}


def test_killed_run_then_rerun_equals_a_clean_run(kafka, cassandra, cql, tmp_path):
    count = 12_000
    table = create_table(cql, ["id int", "name text"], "id")
    topic = kafka.topic()
    produce(kafka.servers, topic, [(_json(i % 9_000), _json({"name": "n%d" % i}), T0 + i, None)
                                   for i in range(count)])  # 3,000 keys written twice
    name = _name()
    config = write_config(tmp_path / "c.json", sink_config(name, topic, cassandra, {
        (topic, table): {"mapping": "id=key, name=value.name"}}, **JSON_KEYS, **{"flush.size": "500"}))
    proc = _start(config, kafka)
    try:
        wait_rows(cql, table, 2000, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    assert kafka.committed("connect-" + name, topic, 1) == {0: -1001}

    rerun = _run(config, kafka)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    latest = {}
    for i in range(count):
        latest[i % 9_000] = ("n%d" % i, (T0 + i) * 1000)
    assert _with_writetime(cql, table, "id", "name") == latest
    assert kafka.committed("connect-" + name, topic, 1) == {0: count}


def test_the_node_stopped_mid_run_is_retried_or_fails_clearly_with_nothing_committed(
        kafka, cassandra_server, cql, tmp_path):
    cassandra = cassandra_server.cluster
    count = 6_000
    runs = []
    for retry_ms in ("4000", "180000"):
        table = create_table(cql, ["id int", "name text"], "id")
        topic = kafka.topic()
        produce(kafka.servers, topic, [(_json(i), _json({"name": "n%d" % i}), T0 + i, None)
                                       for i in range(count)])
        name = _name()
        config = write_config(tmp_path / ("c%s.json" % retry_ms), sink_config(name, topic, cassandra, {
            (topic, table): {"mapping": "id=key, name=value.name"}}, **JSON_KEYS, **{
            "flush.size": "200", "maxConcurrentRequests": "4", "queryExecutionTimeout": "3",
            "errors.retry.timeout": retry_ms, "errors.retry.delay.max.ms": "1000"}))
        runs.append((table, topic, name, _start(config, kafka)))
    try:
        for table, _, _, proc in runs:
            wait_rows(cql, table, 300, proc)
        cassandra_server.pause()
        (_, topic, name, failing), (table, kept_topic, kept_name, kept) = runs
        _, stderr = failing.communicate(timeout=120)  # gives up after errors.retry.timeout
        assert failing.returncode == 1, stderr[-3000:]
        assert "beamconnect: error: writing to Cassandra at 127.0.0.1:%d as auth.username='beam' failed" \
            % cassandra.port in stderr
        assert cassandra.password not in stderr
        assert kafka.committed("connect-" + name, topic, 1) == {0: -1001}
        assert kept.poll() is None  # still retrying
    finally:
        cassandra_server.resume(timeout=180)
        wait_usable(cql)
    _, stderr = kept.communicate(timeout=300)
    assert kept.returncode == 0, stderr[-3000:]
    assert len(rows(cql, table)) == count
    assert kafka.committed("connect-" + kept_name, kept_topic, 1) == {0: count}


def test_a_mapping_naming_a_missing_column_fails_before_any_record_is_read(kafka, cassandra, cql, tmp_path):
    table = create_table(cql, ["id text", "qty int"], "id")
    topic = kafka.topic()
    produce(kafka.servers, topic, [(b"k", _json({"qty": 1}), T0, None)])
    name = _name()
    key = "topic.%s.%s.%s.mapping" % (topic, KEYSPACE, table)
    config = write_config(tmp_path / "c.json", sink_config(name, topic, cassandra, {
        (topic, table): {"mapping": "id=key, qty=value.qty, colour=value.colour"}}))
    expected = ("%s='id=key, qty=value.qty, colour=value.colour': the following columns do not exist in "
                "table %s.%s: colour" % (key, KEYSPACE, table))
    offline = subprocess.run(cli_command("validate", config, "--bootstrap-servers", kafka.servers),
                             cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=120)
    assert offline.returncode == 0, offline.stderr[-3000:]
    checked = subprocess.run(cli_command("validate", config, "--bootstrap-servers", kafka.servers,
                                         "--check"),
                             cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=120)
    assert checked.returncode == 2, checked.stderr[-3000:]
    assert expected in " ".join(checked.stderr.split())
    result = _run(config, kafka)
    assert result.returncode == 2, result.stderr[-3000:]
    assert expected in " ".join(result.stderr.split())
    assert "planned" not in result.stderr
    assert kafka.committed("connect-" + name, topic, 1) == {0: -1001}


def test_wrong_credentials_are_a_clear_error_before_any_record_is_read(kafka, cassandra, cql, tmp_path):
    table = create_table(cql, ["id text", "qty int"], "id")
    topic = kafka.topic()
    produce(kafka.servers, topic, [(b"k", _json({"qty": 1}), T0, None)])
    name = _name()
    config = write_config(tmp_path / "c.json", sink_config(name, topic, cassandra, {
        (topic, table): {"mapping": "id=key, qty=value.qty"}}, **{"auth.password": "not-the-password"}))
    result = _run(config, kafka)
    assert result.returncode == 1, result.stderr[-3000:]
    message = " ".join(result.stderr.split())
    assert ("refused the login (auth.username=%r)" % cassandra.user) in message
    assert "not-the-password" not in result.stderr
    assert "planned" not in result.stderr
    assert kafka.committed("connect-" + name, topic, 1) == {0: -1001}
