"""End to end through the CLI, from the real Kafka broker into PostgreSQL and MariaDB: a run, a rerun,
a replay from the earliest offset, and a run killed with SIGKILL mid-write, then rerun: every record
once."""

import json
import os
import signal
import subprocess
import time

import pytest
import sqlalchemy

from tests.helpers import ROOT, cli_command, cli_env, write_config


def _records(partition, count, start=0):
    for i in range(start, start + count):
        yield b"k%d-%d" % (partition, i), json.dumps({"id": partition * 1_000_000 + i, "n": i,
                                                     "note": "r%d" % i}).encode()


def _config(name, topic, postgres, **overrides):
    return {"name": name, "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
            "topics": topic, "key.converter": "StringConverter", "value.converter": "JsonConverter",
            "value.converter.schemas.enable": "false", "connection.url": postgres.jdbc_url,
            "connection.user": postgres.user, "connection.password": postgres.password,
            "auto.create": "true", "batch.size": "1000", **overrides}


def _query(postgres, sql):
    engine = sqlalchemy.create_engine(postgres.sqlalchemy_url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sqlalchemy.text(sql))]
    except sqlalchemy.exc.ProgrammingError:  # the table is not there yet
        return None
    finally:
        engine.dispose()


@pytest.fixture(params=["postgres", "mariadb"])
def database(request):
    """The PostgreSQL or the MariaDB database (the tests run once on each)."""
    return request.getfixturevalue(request.param)


def _t(database, name):
    """``name`` quoted as an identifier of ``database``'s SQL."""
    return ("`%s`" if database.jdbc_url.startswith("jdbc:mariadb") or
            database.jdbc_url.startswith("jdbc:mysql") else '"%s"') % name


def _counts(database, topic):
    return "SELECT count(*), count(DISTINCT id) FROM %s" % _t(database, topic)


def _run(config, kafka, *args):
    return subprocess.run(cli_command("run", config, "--bootstrap-servers", kafka.servers, *args),
                          cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=300)


def test_run_rerun_and_replay_write_each_record_once(kafka, database, tmp_path):
    topic = kafka.topic(partitions=1, prefix="e2e")
    kafka.produce(topic, _records(0, 2500), partition=0)
    config = write_config(tmp_path / "c.json", _config("jdbc-" + topic, topic, database))

    first = _run(config, kafka)
    assert first.returncode == 0, first.stderr[-3000:]
    assert database.password not in first.stdout + first.stderr
    assert _query(database, _counts(database, topic)) == [(2500, 2500)]

    kafka.produce(topic, _records(0, 500, start=2500), partition=0)
    for args in ((), ("--from", "earliest")):  # the new records; then everything again
        again = _run(config, kafka, *args)
        assert again.returncode == 0, again.stderr[-3000:]
    assert _query(database, _counts(database, topic)) == [(3000, 3000)]
    assert _query(database, "SELECT start_offset, end_offset FROM __beamconnect_offsets WHERE "
                            "table_name = '%s'" % topic) == [(0, 3000)]


def test_upsert_run_and_replay_keep_the_newest_row_per_key(kafka, database, tmp_path):
    topic = kafka.topic(partitions=1, prefix="e2u")
    kafka.produce(topic, [(b"k%d" % (i % 10), json.dumps({"n": i}).encode()) for i in range(3000)],
                  partition=0)
    config = write_config(tmp_path / "c.json", _config(
        "jdbc-" + topic, topic, database, **{"insert.mode": "upsert", "pk.mode": "record_key",
                                             "pk.fields": "k"}))

    for args in ((), ("--from", "earliest")):
        run = _run(config, kafka, *args)
        assert run.returncode == 0, run.stderr[-3000:]

    assert _query(database, 'SELECT k, n FROM %s ORDER BY k' % _t(database, topic)) == [
        ("k%d" % k, 2990 + k) for k in range(10)]


def test_a_killed_run_then_rerun_leaves_every_record_exactly_once(kafka, database, tmp_path):
    topic = kafka.topic(partitions=2, prefix="e2k")
    per_partition = 40_000
    for p in range(2):
        kafka.produce(topic, _records(p, per_partition), partition=p)
    config = write_config(tmp_path / "c.json", _config("jdbc-" + topic, topic, database))
    cmd = cli_command("run", config, "--bootstrap-servers", kafka.servers)

    proc = subprocess.Popen(cmd, cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        count = _query(database, 'SELECT count(*) FROM %s' % _t(database, topic))
        if count and count[0][0] >= 3000:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _query(database, 'SELECT count(*) FROM %s' % _t(database, topic))[0][0]
    assert 3000 <= before < 2 * per_partition

    rerun = subprocess.run(cmd, cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=300)

    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert _query(database, _counts(database, topic)) == [
        (2 * per_partition, 2 * per_partition)]


def _wait_rows(postgres, topic, count, proc, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _query(postgres, 'SELECT count(*), count(DISTINCT id) FROM "%s"' % topic)
        if found and found[0] == (count, count):
            return
        if proc.poll() is not None:
            raise AssertionError("the run ended early: " + proc.stderr.read()[-3000:])
        time.sleep(0.2)
    raise AssertionError("%d rows were not written within %ds (found %r)" % (count, timeout, found))


def test_streaming_writes_as_records_arrive_and_a_restart_goes_on(kafka, postgres, tmp_path):
    """A streaming bundle closes at batch.size records or once the partition is read to its end, so
    a few records are written within moments, as a Kafka Connect task's put() would write them."""
    topic = kafka.topic(partitions=1, prefix="e2s")
    kafka.produce(topic, _records(0, 30), partition=0)
    config = write_config(tmp_path / "c.json", _config("jdbc-" + topic, topic, postgres,
                                                       **{"batch.size": "1000"}))
    cmd = cli_command("run", config, "--bootstrap-servers", kafka.servers, "--mode", "streaming")
    for produced in (30, 42):
        proc = subprocess.Popen(cmd, cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            _wait_rows(postgres, topic, produced, proc)
            kafka.produce(topic, _records(0, 7, start=produced), partition=0)
            _wait_rows(postgres, topic, produced + 7, proc)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.communicate(timeout=60)
        if produced == 30:  # while it is stopped
            kafka.produce(topic, _records(0, 5, start=37), partition=0)
    assert _query(postgres, 'SELECT count(*), count(DISTINCT id) FROM "%s"' % topic) == [(49, 49)]
    assert _query(postgres, "SELECT start_offset, end_offset FROM __beamconnect_offsets WHERE "
                            "table_name = '%s'" % topic) == [(0, 49)]
