"""The spine end to end on each broker release of ``SUPPORTED_VERSIONS`` (3.9 and 4.x, KRaft): files
written exactly once and rewritten byte for byte on replay, dead letters with their context headers,
the Kafka sink's transactions, offsets show and reset."""

import json
import os

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import NewTopic

from pipelines.dev_kafka import SUPPORTED_VERSIONS
from tests.helpers import json_files_config, run_cli, write_config


@pytest.fixture(params=SUPPORTED_VERSIONS, ids=lambda v: "kafka-" + v)
def broker(request):
    """The session's broker of that release (the 4.x one is the suite's own ``kafka``)."""
    if request.param == SUPPORTED_VERSIONS[0]:
        return request.getfixturevalue("kafka_3_9")
    return request.getfixturevalue("kafka")


def _files(store, topic):
    found = {}
    for root, _, names in os.walk(store / "topics" / topic):
        for name in names:
            found[os.path.relpath(os.path.join(root, name), store)] = \
                open(os.path.join(root, name), "rb").read()
    return found


def test_files_exactly_once_and_replayed_byte_for_byte(broker, tmp_path):
    topic = broker.topic(partitions=2)
    for partition in (0, 1):
        broker.produce(topic, [(b"k%d" % i, json.dumps({"p": partition, "i": i}).encode())
                               for i in range(12)], partition=partition)
    store = tmp_path / "out"
    config = write_config(tmp_path / "c.json", json_files_config(
        "ver-" + topic, topic, store, **{"flush.size": "5", "format.class": "json"}))

    first = run_cli("run", config, "--bootstrap-servers", broker.servers)
    assert first.returncode == 0, first.stderr[-3000:]
    written = _files(store, topic)
    assert sorted(written) == ["topics/%s/partition=%d/%s+%d+%010d.json" % (topic, p, topic, p, o)
                               for p in (0, 1) for o in (0, 5, 10)]
    rows = [json.loads(line) for name in sorted(written) for line in written[name].splitlines()]
    assert sorted((r["p"], r["i"]) for r in rows) == [(p, i) for p in (0, 1) for i in range(12)]
    assert broker.committed("connect-ver-" + topic, topic, 2) == {0: 12, 1: 12}

    again = run_cli("run", config, "--bootstrap-servers", broker.servers)
    assert again.returncode == 0 and _files(store, topic) == written
    replay = run_cli("run", config, "--bootstrap-servers", broker.servers, "--from", "earliest")
    assert replay.returncode == 0 and _files(store, topic) == written  # same names, same bytes

    shown = run_cli("offsets", "show", config, "--bootstrap-servers", broker.servers, "--json")
    assert json.loads(shown.stdout)["offsets"][0]["offset"] == {"kafka_offset": 12}
    reset = run_cli("offsets", "reset", config, "--bootstrap-servers", broker.servers,
                    "--to-offset", "5", "--execute")
    assert reset.returncode == 0, reset.stderr[-3000:]
    assert broker.committed("connect-ver-" + topic, topic, 2) == {0: 5, 1: 5}


def test_dead_letters_carry_their_context_headers(broker, tmp_path):
    topic, dead = broker.topic(), broker.topic(prefix="dlq")
    broker.produce(topic, [(None, b'{"i": 0}'), (None, b"{oops"), (None, b'{"i": 2}')], partition=0)
    config = write_config(tmp_path / "c.json", json_files_config(
        "dlq-" + topic, topic, tmp_path / "out", **{
            "format.class": "json", "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dead,
            "errors.deadletterqueue.topic.replication.factor": "1",
            "errors.deadletterqueue.context.headers.enable": "true"}))
    done = run_cli("run", config, "--bootstrap-servers", broker.servers)
    assert done.returncode == 0, done.stderr[-3000:]

    consumer = Consumer({"bootstrap.servers": broker.servers, "group.id": "read-" + dead,
                         "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(dead, 0, 0)])
    letters = consumer.consume(10, timeout=15)
    consumer.close()
    assert [m.value() for m in letters] == [b"{oops"]
    headers = dict(letters[0].headers())
    assert (headers["__connect.errors.topic"], headers["__connect.errors.partition"],
            headers["__connect.errors.offset"]) == (topic.encode(), b"0", b"1")
    assert broker.committed("connect-dlq-" + topic, topic, 1) == {0: 3}


def test_the_kafka_sink_writes_each_record_once_in_transactions(broker, tmp_path):
    topic = broker.topic(partitions=1)
    target = topic + "-copy"
    broker.admin.create_topics([NewTopic(target, 1, 1)])[target].result()
    broker.produce(topic, [(b"k%d" % i, b"v%d" % i) for i in range(20)], partition=0)
    raw = {"name": "copy-" + topic, "connector.class": "kafka", "topics": topic,
           "key.converter": "ByteArrayConverter", "value.converter": "ByteArrayConverter",
           "flush.size": "7", "transforms": "r",
           "transforms.r.type": "org.apache.kafka.connect.transforms.RegexRouter",
           "transforms.r.regex": "(.*)", "transforms.r.replacement": "$1-copy"}
    config = write_config(tmp_path / "k.json", raw)
    for args in ((), ("--from", "earliest")):  # a replay writes nothing twice
        done = run_cli("run", config, "--bootstrap-servers", broker.servers, *args)
        assert done.returncode == 0, done.stderr[-3000:]

    consumer = Consumer({"bootstrap.servers": broker.servers, "group.id": "read-" + target,
                         "isolation.level": "read_committed", "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(target, 0, 0)])
    got = []
    while True:
        batch = consumer.consume(100, timeout=5)
        if not batch:
            break
        got += [(m.key(), m.value()) for m in batch if m.error() is None]
    consumer.close()
    assert got == [(b"k%d" % i, b"v%d" % i) for i in range(20)]
    assert broker.committed("connect-copy-" + topic, topic, 1) == {0: 20}
