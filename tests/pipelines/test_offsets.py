"""``beamconnect offsets show|reset`` and ``beamconnect plan`` against the real broker."""

import json
import os

import pytest
from confluent_kafka.admin import NewTopic

from pipelines.cli import main
from pipelines.config.connector import parse_connector_config
from pipelines.offsets import RunLease, lease_members
from tests.helpers import json_files_config, write_config


def _connector(kafka, tmp_path, records=(10, 4), **overrides):
    topic = kafka.topic(partitions=len(records))
    for partition, count in enumerate(records):
        kafka.produce(topic, [(None, json.dumps({"i": i}).encode()) for i in range(count)],
                      partition=partition)
    raw = json_files_config("off-" + topic, topic, tmp_path / "out", **{"flush.size": "4",
                                                                         "format.class": "json",
                                                                         **overrides})
    return topic, str(write_config(tmp_path / "c.json", raw)), raw


def _out(capsys):
    captured = capsys.readouterr()
    return captured.out


def test_show_lists_committed_offsets_log_ends_and_lag(kafka, tmp_path, capsys):
    topic, config, _ = _connector(kafka, tmp_path)
    assert main(["run", config, "--bootstrap-servers", kafka.servers, "--max-records", "6"]) == 0
    _out(capsys)

    assert main(["offsets", "show", config, "--bootstrap-servers", kafka.servers]) == 0
    lines = [line.split() for line in _out(capsys).splitlines()]
    assert lines[0] == ["topic", "partition", "committed", "log", "start", "log", "end", "lag"]
    # --max-records 6 shared fairly: 3 of each partition
    assert lines[1:] == [[topic, "0", "3", "0", "10", "7"], [topic, "1", "3", "0", "4", "1"]]

    assert main(["offsets", "show", config, "--bootstrap-servers", kafka.servers, "--json"]) == 0
    assert json.loads(_out(capsys)) == {"offsets": [
        {"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 3}},
        {"partition": {"kafka_topic": topic, "kafka_partition": 1}, "offset": {"kafka_offset": 3}}]}


def test_reset_previews_then_executes_and_the_next_run_starts_there(kafka, tmp_path, capsys):
    topic, config, _ = _connector(kafka, tmp_path)
    group = "connect-off-" + topic
    assert main(["run", config, "--bootstrap-servers", kafka.servers]) == 0
    assert kafka.committed(group, topic, 2) == {0: 10, 1: 4}
    _out(capsys)

    assert main(["offsets", "reset", config, "--bootstrap-servers", kafka.servers,
                 "--shift-by", "-6", "--topic", "%s:0" % topic]) == 0
    preview = _out(capsys)
    assert [line.split() for line in preview.splitlines()[:2]] == [
        ["topic", "partition", "current", "new", "offset", "lag", "after"], [topic, "0", "10", "4", "6"]]
    assert "a preview: nothing was changed" in preview
    assert kafka.committed(group, topic, 2) == {0: 10, 1: 4}

    assert main(["offsets", "reset", config, "--bootstrap-servers", kafka.servers,
                 "--shift-by", "-6", "--topic", "%s:0" % topic, "--execute"]) == 0
    assert kafka.committed(group, topic, 2) == {0: 4, 1: 4}
    assert main(["offsets", "reset", config, "--bootstrap-servers", kafka.servers, "--to-offset",
                 "99", "--topic", topic, "--execute"]) == 0  # kept within each log: its end
    assert kafka.committed(group, topic, 2) == {0: 10, 1: 4}
    assert main(["offsets", "reset", config, "--bootstrap-servers", kafka.servers, "--to-earliest",
                 "--execute"]) == 0
    assert kafka.committed(group, topic, 2) == {0: 0, 1: 0}
    _out(capsys)

    # the next run reads from there again, and rewrites the same files (same names, same bytes)
    out = tmp_path / "out" / "topics" / topic / "partition=0"
    before = {n: (out / n).read_bytes() for n in os.listdir(out)}
    assert main(["run", config, "--bootstrap-servers", kafka.servers]) == 0
    assert "14" in _out(capsys).splitlines()[-2]  # the total row: 14 read
    assert {n: (out / n).read_bytes() for n in os.listdir(out)} == before
    assert kafka.committed(group, topic, 2) == {0: 10, 1: 4}


def test_reset_is_refused_while_a_run_is_live(kafka, tmp_path, capsys):
    topic, config, raw = _connector(kafka, tmp_path)
    parsed = parse_connector_config(raw, bootstrap_servers=kafka.servers)
    assert lease_members(parsed) == []
    with RunLease(parsed):
        import time

        deadline = time.monotonic() + 30
        while not lease_members(parsed) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert lease_members(parsed), "the lease never joined its group"
        assert main(["offsets", "reset", config, "--bootstrap-servers", kafka.servers,
                     "--to-earliest", "--execute"]) == 1
    err = capsys.readouterr().err
    assert ("a run of connector 'off-%s' is live (group connect-off-%s.running has 1 member(s): "
            "beamconnect-run-off-%s@" % (topic, topic, topic)) in " ".join(err.split())
    assert kafka.committed("connect-off-" + topic, topic, 2) == {0: -1001, 1: -1001}
    assert lease_members(parsed) == []  # the lease left its group


def test_bad_reset_arguments_name_what_is_wrong(kafka, tmp_path, capsys):
    topic, config, _ = _connector(kafka, tmp_path)
    assert main(["offsets", "reset", config, "--bootstrap-servers", kafka.servers, "--to-earliest",
                 "--topic", "elsewhere"]) == 2
    assert "--topic 'elsewhere' is not one of the connector's topics (%s)" % topic in \
        capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: one target is required
        main(["offsets", "reset", config, "--bootstrap-servers", kafka.servers])


def test_plan_shows_ranges_and_files_without_side_effects(kafka, tmp_path, capsys):
    topic, config, _ = _connector(kafka, tmp_path)
    assert main(["plan", config, "--bootstrap-servers", kafka.servers]) == 0
    lines = _out(capsys).splitlines()
    assert [line.split() for line in lines[:3]] == [
        ["topic", "partition", "committed", "from", "to", "records", "lag", "lag", "after"],
        [topic, "0", "-", "0", "10", "10", "10", "0"], [topic, "1", "-", "0", "4", "4", "4", "0"]]
    assert lines[3] == ("a run of connector 'off-%s' would read 14 records from 2 topic-partitions "
                        "(group.id=connect-off-%s)" % (topic, topic))
    store = tmp_path / "out" / "topics" / topic
    assert lines[4:] == [
        "%s[0]:" % topic,
        "  file %s" % (store / "partition=0" / ("%s+0+0000000000.json" % topic)),
        "  file %s" % (store / "partition=0" / ("%s+0+0000000004.json" % topic)),
        "  file %s" % (store / "partition=0" / ("%s+0+0000000008.json" % topic)),
        "%s[1]:" % topic,
        "  file %s" % (store / "partition=1" / ("%s+1+0000000000.json" % topic))]
    assert not (tmp_path / "out").exists()
    assert kafka.committed("connect-off-" + topic, topic, 2) == {0: -1001, 1: -1001}

    assert main(["run", config, "--bootstrap-servers", kafka.servers]) == 0
    assert sorted(os.listdir(store / "partition=0")) == [
        "%s+0+%010d.json" % (topic, o) for o in (0, 4, 8)]


def test_reset_is_refused_for_sinks_whose_own_offsets_say_where_a_run_starts(kafka, tmp_path, capsys):
    topic = kafka.topic(partitions=1)
    mirror = {"name": "mirror-" + topic, "connector.class": "kafka", "topics": topic,
              "producer.override.bootstrap.servers": "dr-kafka:9092"}
    table = {"name": "rows-" + topic, "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
             "topics": topic, "connection.url": "jdbc:sqlite:%s" % (tmp_path / "db.sqlite"),
             "auto.create": "true"}
    for raw, where in ((mirror, "the compacted topic beamconnect-offsets on dr-kafka:9092"),
                       (table, "the table __beamconnect_offsets of sqlite database")):
        config = write_config(tmp_path / "c.json", raw)
        assert main(["offsets", "reset", str(config), "--bootstrap-servers", kafka.servers,
                     "--to-earliest", "--execute"]) == 1
        err = " ".join(capsys.readouterr().err.split())
        assert ("connector %r (connector.class=%s) keeps its own offsets in the system it writes to "
                "(%s" % (raw["name"], raw["connector.class"], where)) in err, err
        assert "resetting the group would change nothing" in err


def test_the_kafka_sink_on_its_source_cluster_resets_like_the_group(kafka, tmp_path, capsys):
    """Its transactions commit the group's offsets: a reset moves where its next run starts."""
    topic = kafka.topic(partitions=1)
    kafka.produce(topic, [(None, b"x%d" % i) for i in range(5)], partition=0)
    raw = {"name": "copy-" + topic, "connector.class": "kafka", "topics": topic,
           "key.converter": "ByteArrayConverter", "value.converter": "ByteArrayConverter",
           "transforms": "r", "transforms.r.type": "org.apache.kafka.connect.transforms.RegexRouter",
           "transforms.r.regex": "(.*)", "transforms.r.replacement": "$1-copy"}
    kafka.admin.create_topics([NewTopic(topic + "-copy", 1, 1)])[topic + "-copy"].result()
    config = str(write_config(tmp_path / "k.json", raw))
    assert main(["run", config, "--bootstrap-servers", kafka.servers]) == 0
    assert kafka.committed("connect-copy-" + topic, topic, 1) == {0: 5}
    assert main(["offsets", "reset", config, "--bootstrap-servers", kafka.servers, "--to-offset",
                 "2", "--execute"]) == 0
    assert kafka.committed("connect-copy-" + topic, topic, 1) == {0: 2}
    capsys.readouterr()
    assert main(["plan", config, "--bootstrap-servers", kafka.servers]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:6] == [topic, "0", "2", "2", "5", "3"]
