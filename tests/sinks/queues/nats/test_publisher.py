"""The NATS publisher and the sink's check against a real nats-server: acknowledgements, refusals,
lost connections, credentials and streams."""

import asyncio
import re
import subprocess
import uuid

import pytest

from common.errors import BeamConnectError, ConfigError, RejectedRecord
from sinks.queues.messages import Message
from sinks.queues.nats.config import CONFIG_DEF, NatsSinkConfig
from sinks.queues.nats.publisher import NatsPublisher, prepare, wire_size
from sinks.queues.nats.sink import NatsSink
from sinks.queues.publish import ConnectionLost
from tests.servers.nats import LocalNats
from tests.sinks.queues.nats.conftest import NatsServer


def _config(url, **keys):
    raw = {"nats.servers": url, **{k.replace("_", "."): v for k, v in keys.items()}}
    return NatsSinkConfig.from_values(CONFIG_DEF.parse(raw))


def _messages(count, target, first=0, **fields):
    return [Message("orders", 1, o, 1000 + o, target, b"k%d" % o, b"v%d" % o, (("h", b"x"),))
            for o in range(first, first + count)]


def _publish(config, batch):
    publisher = NatsPublisher(config)
    try:
        publisher.connect()
        publisher.publish(batch)
    finally:
        publisher.close()


def test_a_batch_is_confirmed_once_acknowledged_and_a_republish_is_dropped(nats_server):
    stream, [subject] = nats_server.stream()
    config = _config(nats_server.url, nats_subject=subject, nats_stream=stream)
    batch = _messages(1000, "orders")

    _publish(config, batch)
    _publish(config, batch[500:] + _messages(10, "orders", first=1000))  # half again, 10 new

    assert nats_server.count(stream) == 1010
    ids = [m.headers["Nats-Msg-Id"] for m in nats_server.messages(stream)]
    assert ids == ["orders-1-%d" % o for o in range(1010)]


def test_refused_messages_are_named_by_offset_and_the_others_stored(nats_server):
    stream, [subject] = nats_server.stream(max_msg_size=2000)
    config = _config(nats_server.url, nats_subject="${topic}", nats_key_header="Kafka-Key")
    limit = nats_server.max_payload()
    ok = _messages(3, subject)
    empty = Message("orders", 1, 11, None, subject, None, b"", ())
    overhead = wire_size(prepare(config, empty)[1], b"")
    bad = {
        10: Message("orders", 1, 10, None, subject, None, b"x" * 5000, ()),
        11: Message("orders", 1, 11, None, subject, None, b"x" * (limit + 1), ()),
        12: Message("orders", 1, 12, None, "nowhere-" + uuid.uuid4().hex, None, b"v", ()),
        13: Message("orders", 1, 13, None, subject, b"\xff\xfe", b"v", ()),
        14: Message("orders", 1, 14, None, subject, None, b"v", (("Nats-Rollup", b"all"),)),
        15: Message("orders", 1, 15, None, subject, None, b"v", (("a", b"1"), ("a", b"2"))),
        16: Message("orders", 1, 16, None, subject, None, b"v", (("a", b"two\nlines"),)),
        17: Message("orders", 1, 17, None, subject + ".a..b", None, b"v", ()),
    }
    with pytest.raises(RejectedRecord) as refused:
        _publish(config, ok[:2] + list(bad.values()) + ok[2:])

    assert refused.value.offsets == tuple(sorted(bad))
    text = str(refused.value)
    for reason in ["offset=10: JetStream refused the message on subject %r: message size exceeds "
                   "maximum allowed (err_code 10054)" % subject,
                   "offset=11: the message is %d bytes with its headers, over the NATS "
                   "server's max_payload of %d" % (limit + 1 + overhead, limit),
                   "offset=12: no JetStream stream captures subject 'nowhere-",
                   "offset=13: the key (nats.key.header=Kafka-Key) is not UTF-8 text",
                   "offset=14: header 'Nats-Rollup' cannot be published: Nats-* headers steer",
                   "offset=15: header 'a' cannot be published: the header is repeated",
                   "offset=16: header 'a' holds a line break",
                   "offset=17: subject '%s.a..b' (nats.subject='${topic}') is invalid: it has an "
                   "empty token" % subject]:
        assert reason in text
    assert sorted(m.data for m in nats_server.messages(stream)) == [b"v0", b"v1", b"v2"]


def test_a_message_of_exactly_max_payload_is_published(nats_server):
    stream, [subject] = nats_server.stream()
    config = _config(nats_server.url, nats_subject=subject)
    empty = Message("orders", 1, 0, 1000, subject, b"k", b"", (("h", b"x"),))
    size = nats_server.max_payload() - wire_size(*prepare(config, empty)[1:])
    _publish(config, [Message("orders", 1, 0, 1000, subject, b"k", b"f" * size, (("h", b"x"),)),
                      Message("orders", 1, 1, 1001, subject, b"k", b"after", (("h", b"x"),))])

    assert [len(m.data) for m in nats_server.messages(stream)] == [size, 5]


def test_acknowledgements_that_do_not_come_are_a_lost_connection(nats_server):
    import nats

    subject = "silent-" + uuid.uuid4().hex
    config = _config(nats_server.url, nats_subject=subject, nats_publish_ack_timeout_ms="300")

    async def main():  # a core subscriber answers nothing: no stream, no "no responders"
        nc = await nats.connect(nats_server.url)
        await nc.subscribe(subject)
        await nc.flush()
        try:
            await asyncio.get_running_loop().run_in_executor(None, _publish, config,
                                                             _messages(2, "orders"))
        finally:
            await nc.close()

    with pytest.raises(ConnectionLost, match=re.escape(
            "JetStream did not acknowledge 2 of 2 messages of topic=orders partition=1 offsets "
            "0..1 within nats.publish.ack.timeout.ms=300")):
        asyncio.run(main())


def test_a_server_gone_is_a_lost_connection_and_the_resend_is_dropped(own_nats_server):
    server = own_nats_server
    stream, [subject] = server.stream()
    config = _config(server.url, nats_subject=subject)
    publisher = NatsPublisher(config)
    publisher.connect()
    try:
        publisher.publish(_messages(100, "orders"))
        server.local.pause()
        with pytest.raises(ConnectionLost, match="the connection to the NATS server at %s was lost"
                                                 % server.url):
            publisher.publish(_messages(100, "orders", first=100))
    finally:
        publisher.close()
    with pytest.raises(ConnectionLost, match="could not reach a NATS server of nats.servers=%s"
                                             % server.url):
        NatsPublisher(config).connect()
    server.local.resume()

    _publish(config, _messages(200, "orders"))  # the first 100 again, then the lost batch
    assert server.count(stream) == 200


def test_check_refuses_a_constant_subject_no_stream_captures(nats_server):
    subject = "nowhere-" + uuid.uuid4().hex
    with pytest.raises(ConfigError, match=re.escape(
            "nats.subject=%r is captured by no JetStream stream on the NATS server at %s"
            % (subject, nats_server.url))):
        NatsSink().check(_config(nats_server.url, nats_subject=subject))


def test_check_refuses_a_missing_stream_and_one_that_does_not_capture_the_subject(nats_server):
    stream, [subject] = nats_server.stream()
    other, _ = nats_server.stream()
    with pytest.raises(ConfigError, match=re.escape(
            "nats.stream='Missing%s' does not exist on the NATS server at %s: create it, or set "
            "nats.stream.create=true" % (stream, nats_server.url))):
        NatsSink().check(_config(nats_server.url, nats_subject=subject,
                                 nats_stream="Missing" + stream))
    with pytest.raises(ConfigError, match=re.escape(
            "nats.subject=%r is captured by stream %r, not nats.stream=%r"
            % (subject, stream, other))):
        NatsSink().check(_config(nats_server.url, nats_subject=subject, nats_stream=other))


def test_check_creates_the_stream_with_its_duplicate_window(nats_server):
    stream, prefix = "S" + uuid.uuid4().hex[:10], "p" + uuid.uuid4().hex[:8]
    config = _config(nats_server.url, nats_subject=prefix + ".${topic}", nats_stream=stream,
                     nats_stream_create="true", nats_stream_subjects=prefix + ".>",
                     nats_stream_duplicate_window_ms="600000", nats_stream_storage="memory")
    NatsSink().check(config)
    NatsSink().check(config)  # there now: used as it is

    async def info(js):
        return (await js.stream_info(stream)).config

    created = nats_server.run(info)
    storage = getattr(created.storage, "value", created.storage)
    assert (created.subjects, created.duplicate_window, storage) == ([prefix + ".>"], 600.0, "memory")


def test_credentials_are_checked_before_any_record_and_the_password_never_shows():
    password = "right-" + uuid.uuid4().hex
    with LocalNats(users={"beam": password}) as server:
        stream, [subject] = NatsServer(server.url, server, ("beam", password)).stream()
        NatsSink().check(_config(server.url, nats_subject=subject, nats_username="beam",
                                 nats_password=password))
        wrong = _config(server.url, nats_subject=subject, nats_username="beam",
                        nats_password="wrong-" + password)
        with pytest.raises(BeamConnectError) as refused:
            NatsSink().check(wrong)
        with pytest.raises(BeamConnectError, match="refused an anonymous connection"):
            NatsSink().check(_config(server.url, nats_subject=subject))
    assert str(refused.value) == ("the NATS server at %s refused user 'beam' (nats.username, "
                                  "nats.password): Authorization Violation" % server.url)
    assert password not in repr(wrong) and "wrong-" not in repr(wrong)


def test_a_subject_the_user_may_not_publish_to_is_a_refusal():
    permissions = ('authorization { users = [{user: "beam", password: "pw", permissions: '
                   '{publish: {deny: ["secret.>"]}}}] }')
    with LocalNats(config=permissions) as server:
        helper = NatsServer(server.url, server, ("beam", "pw"))
        stream, _ = helper.stream(["open.>", "secret.>"])
        config = _config(server.url, nats_subject="${topic}", nats_username="beam",
                         nats_password="pw", nats_publish_ack_timeout_ms="5000")
        with pytest.raises(RejectedRecord) as refused:
            _publish(config, _messages(2, "open.a") + _messages(1, "secret.a", first=2))
        assert refused.value.offsets == (2,)
        assert str(refused.value) == ("the NATS server does not permit user 'beam' (nats.username, "
                                      "nats.password) to publish to subject 'secret.a'")
        assert helper.count(stream) == 2


def test_tls_with_the_servers_ca_and_a_clear_error_without(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    tls = 'tls { cert_file: "%s", key_file: "%s" }' % (cert, key)
    with LocalNats(config=tls) as server:
        url = "tls://127.0.0.1:%d" % server.port
        NatsSink().check(_config(url, nats_subject="${topic}", nats_tls_ca_file=str(cert)))
        with pytest.raises(BeamConnectError, match=re.escape(
                "the TLS handshake with the NATS server at %s failed" % url)):
            NatsSink().check(_config(url, nats_subject="${topic}"))
