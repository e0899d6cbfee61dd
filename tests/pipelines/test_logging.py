"""What the CLI writes to stderr, as a user sees it: levels, JSON lines, librdkafka's lines collapsed,
and a failed record told once. Runs go through a subprocess so that stderr is the real one."""

import json
import logging

from pipelines.processes import free_ports
from tests.helpers import run_cli
from transforms.kafka import clients


def _config(tmp_path, topic, **overrides):
    keys = {"name": "logs-%s" % topic, "connector.class": "files", "topics": topic,
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false", "store.url": str(tmp_path / "out"),
            "format.class": "json", "flush.size": "5", **overrides}
    path = tmp_path / "c.properties"
    path.write_text("".join("%s=%s\n" % kv for kv in keys.items()))
    return str(path)


def _produce(kafka, topic, bad_at=None):
    records = [(b"k%d" % i, b"{not json" if i == bad_at else json.dumps({"n": i}).encode())
               for i in range(10)]
    kafka.produce(topic, records, partition=0)


def test_repeated_librdkafka_lines_are_collapsed(caplog):
    clients.REPEATS.clear()
    logger = clients.client_settings({"bootstrap.servers": "b:1"})["logger"]
    with caplog.at_level(logging.INFO, logger="transforms.kafka.clients"):
        for i in range(1000):
            logger.log(logging.ERROR, "FAIL [rdkafka#consumer-%d] Connect to b:1 failed (after %dms)",
                       i % 3, i)
        logger.log(logging.ERROR, "FAIL something else")
    assert caplog.messages == [
        "FAIL [rdkafka#consumer-0] Connect to b:1 failed (after 0ms)",
        "FAIL [rdkafka#consumer-0] Connect to b:1 failed (after 9ms) (this line came 10 times; "
        "repeats are not logged)",
        "FAIL [rdkafka#consumer-0] Connect to b:1 failed (after 99ms) (this line came 100 times; "
        "repeats are not logged)",
        "FAIL [rdkafka#consumer-0] Connect to b:1 failed (after 999ms) (this line came 1000 times; "
        "repeats are not logged)",
        "FAIL something else"]


def test_an_unreachable_broker_prints_its_error_and_a_few_lines(tmp_path):
    port = free_ports(1)[0]
    done = run_cli("run", _config(tmp_path, "t"), "--bootstrap-servers", "127.0.0.1:%d" % port)
    assert done.returncode == 1
    assert "beamconnect: error: could not reach Kafka at bootstrap.servers=127.0.0.1:%d" % port \
        in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) <= 6 and len(done.stderr) < 2000, done.stderr


def test_json_log_lines_carry_the_connector_and_partition_fields(kafka, tmp_path):
    topic = kafka.topic(partitions=1)
    _produce(kafka, topic)
    done = run_cli("run", _config(tmp_path, topic), "--bootstrap-servers", kafka.servers,
                   "--log-format", "json")
    assert done.returncode == 0, done.stderr
    entries = [json.loads(line) for line in done.stderr.splitlines()]  # every line is JSON
    committed = [e for e in entries if e["message"].startswith("committed ")]
    assert len(committed) == 1
    assert committed[0]["connector"] == "logs-%s" % topic
    assert (committed[0]["topic"], committed[0]["partition"], committed[0]["offset"]) == (topic, 0, 10)
    assert committed[0]["level"] == "INFO" and committed[0]["time"].endswith("Z")
    assert done.stdout.startswith("topic ") and topic in done.stdout  # the summary stays on stdout


def test_quiet_leaves_warnings_and_the_summary(kafka, tmp_path):
    topic = kafka.topic(partitions=1)
    _produce(kafka, topic)
    loud = run_cli("run", _config(tmp_path, topic), "--bootstrap-servers", kafka.servers,
                   "--from", "earliest")
    quiet = run_cli("run", _config(tmp_path, topic), "--bootstrap-servers", kafka.servers,
                    "--from", "earliest", "-q")
    assert loud.returncode == quiet.returncode == 0
    assert " INFO " in loud.stderr
    assert " INFO " not in quiet.stderr
    def table(out):  # the summary without its timing line
        return [line for line in out.splitlines() if "records/s" not in line]

    assert table(quiet.stdout) == table(loud.stdout) and topic in quiet.stdout


def test_a_failed_record_is_reported_once_and_v_adds_the_traceback(kafka, tmp_path):
    topic = kafka.topic(partitions=1)
    _produce(kafka, topic, bad_at=5)
    where = "topic=%s partition=0 offset=5" % topic
    plain = run_cli("run", _config(tmp_path, topic), "--bootstrap-servers", kafka.servers)
    assert plain.returncode == 1
    assert " ".join(plain.stderr.split()).count(where) == 1, plain.stderr
    assert "Traceback" not in plain.stderr
    assert plain.stderr.rstrip().splitlines()[-1].strip() != ""

    verbose = run_cli("run", _config(tmp_path, topic), "--bootstrap-servers", kafka.servers, "-v")
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr
    assert kafka.committed("connect-logs-%s" % topic, topic, 1) == {0: -1001}


def test_with_json_logs_errors_are_json_lines_too(tmp_path):
    port = free_ports(1)[0]
    done = run_cli("run", _config(tmp_path, "t"), "--bootstrap-servers", "127.0.0.1:%d" % port,
                   "--log-format", "json")
    assert done.returncode == 1
    entries = [json.loads(line) for line in done.stderr.splitlines()]  # every line is JSON
    assert entries[-1]["level"] == "ERROR" and entries[-1]["connector"] == "logs-t"
    assert entries[-1]["message"].startswith(
        "could not reach Kafka at bootstrap.servers=127.0.0.1:%d" % port)

    bad = tmp_path / "bad.properties"
    bad.write_text("name=x\nconnector.class=files\ntopics=a\nstore.url=/tmp/x\nformat.class=json\n"
                   "flush.sise=10\nerrors.tolerance=some\n")
    checked = run_cli("validate", str(bad), "--log-format", "json")
    assert checked.returncode == 2
    [entry] = [json.loads(line) for line in checked.stderr.splitlines()]
    assert entry["message"] == "the config has 3 problems"
    assert entry["problems"] == [
        "unknown key 'flush.sise' for this connector; did you mean 'flush.size'?",
        "errors.tolerance must be one of 'none', 'all', got 'some'", "flush.size is required"]
