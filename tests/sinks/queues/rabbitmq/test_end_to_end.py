"""The RabbitMQ sink end to end, through the CLI, against a real broker and the suite's Kafka.

Runs that must be processes of their own (killed with SIGKILL, streaming while the broker restarts, a
login refused with the output checked for the password) start ``python -m pipelines``; the others call
the CLI's ``main`` in the test's process, which saves the interpreter's start.
"""

import json
import re
import time

import pytest

from common.errors import BeamConnectError
from pipelines.cli import main
from pipelines.config.connector import parse_connector_config
from sinks.queues.rabbitmq import RabbitMQSink
from tests.helpers import write_config
from tests.sinks.kafka.conftest import produce, read_committed
from tests.sinks.queues.helpers import bare_records, kill_when, records, run, start_run, stop, unique
from tests.sinks.queues.rabbitmq.conftest import drain, exchange_with_queue, queue_length

CONFLUENT = "io.confluent.connect.rabbitmq.sink.RabbitMQSinkConnector"
BYTES = "org.apache.kafka.connect.converters.ByteArrayConverter"
NOTHING = -1001  # what the group has committed for a partition it never committed


def _config(name, topic, broker, exchange, **overrides):
    return {"name": name, "connector.class": CONFLUENT, "topics": topic,
            "key.converter": BYTES, "value.converter": BYTES,
            "rabbitmq.host": broker.host, "rabbitmq.port": str(broker.port),
            "rabbitmq.username": broker.user, "rabbitmq.password": broker.password,
            "rabbitmq.virtual.host": broker.vhost, "rabbitmq.exchange": exchange,
            "rabbitmq.delivery.mode": "PERSISTENT", **overrides}


def _main(config, servers, capsys, caplog, *args):
    """Runs the CLI in this process: (exit code, everything it printed and logged)."""
    code = main(["run", str(config), "--bootstrap-servers", servers, *map(str, args)])
    printed = capsys.readouterr()
    return code, printed.out + printed.err + caplog.text


def _records(count, start=0):
    return records(count, start, spacing_ms=1000, extra_headers=[("h", None)])


def _unwrapped(output):
    """The CLI wraps its error line at 100 characters."""
    return " ".join(output.split())


def _ids(topic, partition, offsets):
    return ["%s-%d-%d" % (topic, partition, offset) for offset in offsets]


def test_records_forwarded_with_key_headers_coordinates_and_ids(kafka, rabbitmq, tmp_path, capsys,
                                                                caplog):
    topic = kafka.topic(partitions=2)
    produce(kafka.servers, topic, _records(250), partition=0)
    produce(kafka.servers, topic, _records(30, start=1000), partition=1)
    exchange, queue = exchange_with_queue(rabbitmq, [topic])
    name = unique("rabbitmq")
    config = write_config(tmp_path / "c.json", _config(name, topic, rabbitmq, exchange, **{
        "rabbitmq.forward.kafka.key": "true", "rabbitmq.forward.kafka.metadata": "true",
        "rabbitmq.forward.kafka.headers": "true", "rabbitmq.publish.max.batch.size": "64",
        "flush.size": "100"}))

    code, output = _main(config, kafka.servers, capsys, caplog)
    assert code == 0, output[-3000:]
    assert rabbitmq.password not in output
    assert kafka.committed("connect-" + name, topic, 2) == {0: 250, 1: 30}
    messages = drain(rabbitmq, queue, expected=280)
    got = sorted((p.message_id, p.correlation_id, body, p.timestamp, p.delivery_mode, p.headers,
                  m.routing_key, m.exchange) for m, p, body in messages)
    assert got == sorted(
        ("%s-%d-%d" % (topic, partition, offset), key.decode(), value, stamp // 1000, 2,
         {"n": headers[0][1].decode(), "h": None, "KAFKA_TOPIC": topic, "KAFKA_PARTITION": partition,
          "KAFKA_OFFSET": offset}, topic, exchange)
        for partition, records in ((0, _records(250)), (1, _records(30, start=1000)))
        for offset, (key, value, stamp, headers) in enumerate(records))

    again, output = _main(config, kafka.servers, capsys, caplog)  # nothing new: nothing published
    assert again == 0, output[-3000:]
    produce(kafka.servers, topic, _records(5, start=250), partition=0)
    more, output = _main(config, kafka.servers, capsys, caplog)
    assert more == 0, output[-3000:]
    assert sorted(p.message_id for _, p, _ in drain(rabbitmq, queue, expected=5)) == _ids(
        topic, 0, range(250, 255))
    assert kafka.committed("connect-" + name, topic, 2) == {0: 255, 1: 30}


def test_unroutable_messages_go_to_the_dead_letter_queue(kafka, rabbitmq, tmp_path, capsys, caplog):
    routed, unrouted = kafka.topic(), kafka.topic()
    produce(kafka.servers, routed, _records(20))
    produce(kafka.servers, unrouted, _records(3, start=100))
    exchange, queue = exchange_with_queue(rabbitmq, [routed], exchange_type="direct")
    name, dlq = unique("rabbitmq"), unique("dlq")
    config = write_config(tmp_path / "c.json", _config(
        name, "%s,%s" % (routed, unrouted), rabbitmq, exchange, **{
            "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
            "errors.deadletterqueue.context.headers.enable": "true"}))

    code, output = _main(config, kafka.servers, capsys, caplog)
    assert code == 0, output[-3000:]
    assert sorted(p.message_id for _, p, _ in drain(rabbitmq, queue, expected=20)) == sorted(
        _ids(routed, 0, range(20)))
    dead = read_committed(kafka.servers, dlq)
    assert sorted((m.key(), m.value()) for m in dead) == [(b"k%d" % i, b"v%d" % i)
                                                         for i in range(100, 103)]
    context = dict(dead[0].headers())
    assert context["__connect.errors.topic"] == unrouted.encode()
    assert ("312 NO_ROUTE: no queue is bound to exchange %r for routing key %r" % (
        exchange, unrouted)).encode() in context["__connect.errors.exception.message"]
    assert kafka.committed("connect-" + name, routed, 1) == {0: 20}
    assert kafka.committed("connect-" + name, unrouted, 1) == {0: 3}


def test_an_unroutable_message_without_tolerance_stops_the_run_with_nothing_committed(
        kafka, rabbitmq, tmp_path, capsys, caplog):
    topic = kafka.topic()
    produce(kafka.servers, topic, _records(5))
    exchange, _ = exchange_with_queue(rabbitmq, ["elsewhere"], exchange_type="direct")
    name = unique("rabbitmq")
    config = write_config(tmp_path / "c.json", _config(name, topic, rabbitmq, exchange))

    code, output = _main(config, kafka.servers, capsys, caplog)
    assert code == 1
    assert "topic=%s partition=0 offset=0" % topic in output
    assert "312 NO_ROUTE" in output
    assert kafka.committed("connect-" + name, topic, 1) == {0: NOTHING}


def test_refused_logins_and_a_missing_exchange_are_clear_errors_before_any_record_is_read(
        kafka, rabbitmq, tmp_path, capsys, caplog):
    topic = kafka.topic()
    produce(kafka.servers, topic, _records(3))
    exchange, queue = exchange_with_queue(rabbitmq)
    name = unique("rabbitmq")
    wrong = "not-" + rabbitmq.password
    where = "RabbitMQ at %s:%d" % (rabbitmq.host, rabbitmq.port)
    config = write_config(tmp_path / "c.json", _config(name, topic, rabbitmq, exchange, **{
        "rabbitmq.password": wrong}))

    refused = run(config, kafka.servers)  # a process of its own: its stdout and stderr as they are
    assert refused.returncode == 1, refused.stderr[-3000:]
    assert ("%s (virtual host %r, user %r) refused the login of rabbitmq.username=%r (check "
            "rabbitmq.username and rabbitmq.password): 403 ACCESS_REFUSED"
            % (where, rabbitmq.vhost, rabbitmq.user, rabbitmq.user)) in _unwrapped(refused.stderr)
    assert wrong not in refused.stdout + refused.stderr
    assert rabbitmq.password not in refused.stdout + refused.stderr
    assert "planned" not in refused.stderr

    for overrides, message in [
            ({"rabbitmq.virtual.host": "no-such-vhost"},
             "%s (virtual host 'no-such-vhost', user %r) refused rabbitmq.username=%r access to "
             "rabbitmq.virtual.host='no-such-vhost'" % (where, rabbitmq.user, rabbitmq.user)),
            ({"rabbitmq.exchange": "no-such-exchange"},
             "rabbitmq.exchange='no-such-exchange' cannot be used on %s" % where)]:
        config = write_config(tmp_path / "c.json", _config(name, topic, rabbitmq, exchange,
                                                           **overrides))
        code, output = _main(config, kafka.servers, capsys, caplog)
        assert code == 1 and message in _unwrapped(output), output[-3000:]
        assert "planned" not in output and rabbitmq.password not in output
    assert kafka.committed("connect-" + name, topic, 1) == {0: NOTHING}
    assert queue_length(rabbitmq, queue) == 0


def test_tls_to_the_default_exchange_with_json_values(kafka, rabbitmq_server, tmp_path, capsys,
                                                      caplog):
    broker = rabbitmq_server.broker
    topic = kafka.topic()
    produce(kafka.servers, topic, [(b"k", b'{"a": 1}', None, None), (b"k", b'{"a": 2}', None, None)])
    _, queue = exchange_with_queue(broker)  # reached through the default exchange, by its name
    tls = "rabbitmq.https.ssl."
    config = write_config(tmp_path / "c.json", _config(unique("rabbitmq"), topic, broker, "", **{
        "rabbitmq.port": str(broker.tls_port), "rabbitmq.security.protocol": "SSL",
        tls + "truststore.type": "PEM", tls + "truststore.location": broker.ca_file,
        tls + "keystore.type": "PEM", tls + "keystore.location": broker.client_pem,
        "rabbitmq.routing.key": queue, "rabbitmq.delivery.mode": "TRANSIENT",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false", "rabbitmq.value.format": "json",
        "transforms": "add", "transforms.add.type":
            "org.apache.kafka.connect.transforms.InsertField$Value",
        "transforms.add.static.field": "b", "transforms.add.static.value": "x"}))

    code, output = _main(config, kafka.servers, capsys, caplog)
    assert code == 0, output[-3000:]
    messages = drain(broker, queue, expected=2)
    assert sorted(json.loads(body)["a"] for _, _, body in messages) == [1, 2]
    assert {json.loads(body)["b"] for _, _, body in messages} == {"x"}
    assert {p.delivery_mode for _, p, _ in messages} == {1}

    untrusted = json.loads(config.read_text())  # the system's CAs do not know the suite's
    for key in ("truststore.type", "truststore.location"):
        del untrusted[tls + key]
    sink_config = parse_connector_config(untrusted, bootstrap_servers=kafka.servers).sink_config
    with pytest.raises(BeamConnectError, match=re.escape(
            "could not connect to RabbitMQ at %s:%d (TLS, " % (broker.host, broker.tls_port))) as error:
        RabbitMQSink().check(sink_config)
    assert "CERTIFICATE_VERIFY_FAILED" in str(error.value)


def test_a_killed_run_then_rerun_publishes_every_record_with_stable_ids(kafka, rabbitmq, tmp_path):
    count = 10_000
    topic = kafka.topic()
    produce(kafka.servers, topic, bare_records(count))
    exchange, queue = exchange_with_queue(rabbitmq, [topic])
    name = unique("rabbitmq")
    config = write_config(tmp_path / "c.json", _config(name, topic, rabbitmq, exchange))
    proc = start_run(config, kafka.servers)
    kill_when(proc, lambda: queue_length(rabbitmq, queue) >= 1500)
    killed_at = queue_length(rabbitmq, queue)
    assert 0 < killed_at < count
    assert kafka.committed("connect-" + name, topic, 1) == {0: NOTHING}

    rerun = run(config, kafka.servers)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    messages = drain(rabbitmq, queue, expected=count + killed_at, timeout=120)
    bodies = {}
    for _, properties, body in messages:  # every copy of a record carries its id and value
        assert bodies.setdefault(properties.message_id, body) == body
    assert bodies == {"%s-0-%d" % (topic, i): b"v%d" % i for i in range(count)}
    assert len(messages) >= count
    assert kafka.committed("connect-" + name, topic, 1) == {0: count}


def test_a_broker_restart_mid_run_loses_nothing_and_commits_only_what_was_confirmed(
        kafka, rabbitmq_server, tmp_path):
    broker = rabbitmq_server.broker
    topic = kafka.topic()
    produce(kafka.servers, topic, _records(200))
    exchange, queue = exchange_with_queue(broker, [topic])  # durable, and messages persistent
    name = unique("rabbitmq")
    config = write_config(tmp_path / "c.json", _config(name, topic, broker, exchange, **{
        "flush.size": "50", "rabbitmq.network.recovery.interval.ms": "5000"}))
    proc = start_run(config, kafka.servers, "--mode", "streaming")
    try:
        kafka.wait_committed("connect-" + name, topic, {0: 200}, proc)
        rabbitmq_server.pause()
        produce(kafka.servers, topic, _records(200, start=200))
        time.sleep(2)  # the sink reads them and cannot publish: nothing more is committed
        assert kafka.committed("connect-" + name, topic, 1) == {0: 200}
        rabbitmq_server.resume()
        kafka.wait_committed("connect-" + name, topic, {0: 400}, proc)
    finally:
        output = stop(proc)
    assert "reconnecting in" in output
    bodies = {p.message_id: body for _, p, body in drain(broker, queue, expected=400)}
    assert bodies == {"%s-0-%d" % (topic, i): b"v%d" % i for i in range(400)}
