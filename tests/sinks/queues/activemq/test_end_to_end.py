"""The ActiveMQ sink end to end through the CLI, against real ActiveMQ Classic and Artemis brokers,
over STOMP and AMQP 1.0: what a message carries, what replays do on each broker, refused messages,
refused logins, killed runs and a broker restarted mid-run."""

import re
import threading
import time

import pytest

from common.errors import BeamConnectError
from sinks.queues.activemq.sink import ActiveMQSink
from tests.helpers import write_config
from tests.sinks.kafka.conftest import produce, read_committed
from tests.sinks.queues.activemq.conftest import TARGETS, drain, own_server, sink_config
from tests.sinks.queues.helpers import kill_when, run, start_run, stop, unique

IDS = ["%s-%s" % (fixture.replace("activemq", "classic"), protocol) for fixture, protocol in TARGETS]


@pytest.fixture(params=TARGETS, ids=IDS)
def target(request):
    """(broker, protocol) for each broker and protocol."""
    fixture, protocol = request.param
    return request.getfixturevalue(fixture), protocol


def _records(count, start=0):
    return [("k%d" % i, "v%d" % i, None, [("trace", b"t%d" % i)]) for i in range(start, start + count)]


#: The message format each (broker, protocol) is tested with: both formats on each broker and protocol.
FORMATS = {("activemq", "stomp"): "bytes", ("activemq", "amqp"): "string",
           ("artemis", "stomp"): "string", ("artemis", "amqp"): "bytes"}


def test_records_are_forwarded_with_their_properties_and_a_refused_one_is_dead_lettered(
        target, kafka, tmp_path):
    """Classic closes the connection of a frame over its transport's maxFrameSize (512 KiB here);
    Artemis refuses a message whose properties outgrow a journal record (about 490 KB). Artemis
    drops what a replay sends again."""
    broker, protocol = target
    fmt = FORMATS[broker.kind.replace("classic", "activemq"), protocol]
    refusing = broker.kind == "artemis" or broker.server is not None  # the suite's Classic limits frames
    topic = kafka.topic(partitions=2)
    records = _records(30)
    if refusing:
        records[10] = ("big", "v10", None, [("bulk", b"y" * 600_000)])
    produce(kafka.servers, topic, records, partition=0)
    body = '{"a": 1}'.encode() if fmt == "string" else b"\xff\x00bin"
    produce(kafka.servers, topic, [("é", body, None, [("h", "ü".encode()), ("none", None)])],
            partition=1)
    name, queue, dlq = unique("amq"), unique("q"), unique("dlq")
    config = write_config(tmp_path / "c.json", sink_config(name, topic, broker, protocol, queue, **{
        "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
        "jms.message.format": fmt, "jms.forward.kafka.key": "true",
        "jms.forward.kafka.metadata": "true", "jms.forward.kafka.headers": "true",
        "jms.priority": "7", "jms.time.to.live.ms": "600000",
        "flush.size": "20", "activemq.publish.batch.size": "8",
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"}))

    result = run(config, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    assert broker.password not in result.stdout + result.stderr
    assert "y" * 100 not in result.stderr  # no record content in the logs
    assert kafka.committed("connect-" + name, topic, 2) == {0: 30, 1: 1}
    sent = ["%s-0-%d" % (topic, i) for i in range(30) if not (refusing and i == 10)]
    by_id = {m.id: m for m in drain(broker, protocol, queue, expected=len(sent) + 1)}
    assert sorted(by_id) == sorted(sent + ["%s-1-0" % topic])
    first = by_id["%s-0-0" % topic]
    assert (first.body, first.correlation_id, first.persistent, first.priority) == (
        b"v0", "k0", True, 7)
    assert first.text in (fmt == "string", None)  # a text or bytes message (where the protocol tells)
    assert 500_000 < first.expires_in_ms <= 600_000
    metadata = {k: first.properties[k] for k in ("KAFKA_TOPIC", "KAFKA_PARTITION", "KAFKA_OFFSET")}
    typed = {"KAFKA_TOPIC": topic, "KAFKA_PARTITION": 0, "KAFKA_OFFSET": 0}
    assert metadata == (typed if protocol == "amqp" else {k: str(v) for k, v in typed.items()})
    assert first.properties["trace"] == "t0"
    other = by_id["%s-1-0" % topic]
    assert (other.body, other.correlation_id, other.properties["h"]) == (body, "é", "ü")
    assert "none" not in other.properties
    if refusing:
        [dead] = read_committed(kafka.servers, dlq)
        headers = dict(dead.headers())
        assert (dead.key(), dead.value(), headers["bulk"]) == (b"big", b"v10", b"y" * 600_000)
        assert headers["__connect.errors.offset"] == b"10"
        reason = headers["__connect.errors.exception.message"]
        assert b"refused" in reason and b"y" * 100 not in reason

    if (broker.kind, protocol) == ("artemis", "amqp"):  # a replay sends every record again
        replay = run(config, kafka.servers, "--from", "earliest")
        assert replay.returncode == 0, replay.stderr[-3000:]
        assert drain(broker, protocol, queue) == []  # duplicate detection dropped every copy


@pytest.mark.parametrize("fixture,protocol", TARGETS, ids=IDS)
def test_wrong_credentials_are_a_clear_error_naming_url_and_user(fixture, protocol, request):
    broker = request.getfixturevalue(fixture)
    wrong = "not-" + broker.password
    config = ActiveMQSink().parse(ActiveMQSink.config_def.parse({
        "activemq.url": broker.url(protocol), "activemq.username": broker.user,
        "activemq.password": wrong, "jms.destination.name": unique("q")}))
    with pytest.raises(BeamConnectError) as raised:
        ActiveMQSink().check(config)
    message = str(raised.value)
    assert message.startswith("ActiveMQ at %s (user %r) refused the " % (broker.url(protocol), broker.user))
    assert wrong not in message and broker.password not in message


@pytest.mark.parametrize("protocol,what", [("stomp", "a test message (in a transaction it aborts)"),
                                           ("amqp", "a sender")])
def test_a_destination_the_user_may_not_send_to_is_an_error_before_any_record_is_read(
        protocol, what, artemis):
    from tests.servers.activemq import FORBIDDEN_PREFIX

    own_server(artemis)  # the suite's broker has the forbidden addresses
    queue = FORBIDDEN_PREFIX + unique("q")
    config = ActiveMQSink().parse(ActiveMQSink.config_def.parse({
        "activemq.url": artemis.url(protocol), "activemq.username": artemis.user,
        "activemq.password": artemis.password, "jms.destination.name": queue}))
    with pytest.raises(BeamConnectError, match=re.escape(
            "ActiveMQ at %s (user %r) refused %s to queue://%s: "
            % (artemis.url(protocol), artemis.user, what, queue))):
        ActiveMQSink().check(config)


def test_wrong_credentials_stop_the_run_before_any_record_is_read(activemq, kafka, tmp_path):
    topic = kafka.topic()
    produce(kafka.servers, topic, _records(3))
    name = unique("amq")
    wrong = "not-" + activemq.password
    config = write_config(tmp_path / "c.json", sink_config(
        name, topic, activemq, "stomp", unique("q"), **{"activemq.password": wrong}))
    result = run(config, kafka.servers)
    assert result.returncode != 0
    assert "ActiveMQ at %s (user %r) refused the connection" % (activemq.url("stomp"), activemq.user) \
        in result.stderr
    assert wrong not in result.stdout + result.stderr
    assert "planned" not in result.stderr
    assert kafka.committed("connect-" + name, topic, 1) == {0: -1001}


class _Collector:
    """Consumes a queue in the background for the whole test, so a run can be killed once messages
    arrive (the collected ones are what the queue held)."""

    def __init__(self, broker, protocol, queue):
        self.messages, self._stop = [], threading.Event()
        self._thread = threading.Thread(target=drain, args=(broker, protocol, queue), kwargs=dict(
            timeout=600, idle=1.0, until=self._stop, into=self.messages), daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(60)
        return self.messages


def _killed_mid_run_then_rerun(broker, protocol, kafka, tmp_path, count=3_000):
    """A bounded run of ``count`` records in batches of 250, SIGKILLed once 200 messages reached the
    queue (its first batches in flight), then run again to its end. Returns the topic, how many
    messages the queue held when the run was killed, and every message it held, in order."""
    topic = kafka.topic()
    produce(kafka.servers, topic, [("k%d" % i, "v%d" % i, None, None) for i in range(count)])
    name, queue = unique("amq"), unique("q")
    config = write_config(tmp_path / "c.json", sink_config(name, topic, broker, protocol, queue, **{
        "flush.size": "500", "activemq.publish.batch.size": "250"}))
    collector = _Collector(broker, protocol, queue)
    kill_when(start_run(config, kafka.servers, quiet=True), lambda: len(collector.messages) >= 200)
    killed_at = len(collector.messages)
    assert kafka.committed("connect-" + name, topic, 1) == {0: -1001}  # a bounded run commits at its end

    rerun = run(config, kafka.servers)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert kafka.committed("connect-" + name, topic, 1) == {0: count}
    return topic, killed_at, collector.stop()


@pytest.mark.parametrize("fixture,protocol", [("artemis", "stomp"), ("activemq", "amqp")],
                         ids=["artemis-stomp", "classic-amqp"])
def test_a_killed_run_then_rerun_sends_every_record_at_least_once_with_stable_ids(
        fixture, protocol, request, kafka, tmp_path):
    count = 3_000
    topic, _, messages = _killed_mid_run_then_rerun(request.getfixturevalue(fixture), protocol,
                                                    kafka, tmp_path, count)
    ids = [m.id for m in messages]
    assert set(ids) == {"%s-0-%d" % (topic, i) for i in range(count)}  # nothing lost
    assert len(ids) > count  # at least once: what the killed run sent was sent again, same ids


def test_a_run_killed_mid_batch_then_rerun_sends_every_record_exactly_once_over_amqp_to_artemis(
        artemis, kafka, tmp_path):
    count = 3_000  # below Artemis's duplicate id cache (20,000 per address)
    topic, killed_at, messages = _killed_mid_run_then_rerun(artemis, "amqp", kafka, tmp_path, count)
    assert killed_at >= 200  # the rerun sent these again (nothing was committed)...
    assert len(messages) == count  # ...and Artemis dropped them by their _AMQ_DUPL_ID
    assert sorted((m.id, m.body) for m in messages) == sorted(
        ("%s-0-%d" % (topic, i), b"v%d" % i) for i in range(count))


@pytest.mark.parametrize("fixture,protocol", [("activemq", "stomp"), ("artemis", "amqp")],
                         ids=["classic-stomp", "artemis-amqp"])
def test_a_broker_restarted_mid_run_loses_nothing_and_offsets_wait_for_it(
        fixture, protocol, request, kafka, tmp_path):
    broker = request.getfixturevalue(fixture)
    server = own_server(broker)
    topic = kafka.topic()
    produce(kafka.servers, topic, _records(200))
    name, queue = unique("amq"), unique("q")
    config = write_config(tmp_path / "c.json", sink_config(name, topic, broker, protocol, queue, **{
        "flush.size": "50", "activemq.retry.max": "120", "activemq.retry.backoff.max.ms": "500"}))
    proc = start_run(config, kafka.servers, "--mode", "streaming")
    group = "connect-" + name
    try:
        kafka.wait_committed(group, topic, {0: 200}, proc)
        server.pause()
        try:
            produce(kafka.servers, topic, _records(200, start=200))
            time.sleep(2.0)
            assert kafka.committed(group, topic, 1) == {0: 200}  # no receipts, no commit
        finally:
            server.resume()
        kafka.wait_committed(group, topic, {0: 400}, proc)
    finally:
        stop(proc)
    ids = [m.id for m in drain(broker, protocol, queue, expected=400)]
    assert set(ids) == {"%s-0-%d" % (topic, i) for i in range(400)}  # persistent: nothing lost
    if broker.kind == "artemis":
        assert len(ids) == 400
