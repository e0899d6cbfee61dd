"""The NATS sink's keys: parsed, checked and refused before anything connects."""

import importlib.util
import os
import re

import pytest

from common.errors import ConfigError
from pipelines.config import load_config
from pipelines.config.connector import parse_connector_config
from sinks.queues.messages import Message
from sinks.queues.nats import NatsSink
from sinks.queues.nats.config import CONFIG_DEF, NatsSinkConfig, StreamSpec, subject_matches
from sinks.queues.nats.publisher import Refused, connect_options, prepare
from tests.helpers import ROOT


def _parse(**keys):
    raw = {"nats.servers": "nats://127.0.0.1:4222",
           **{k.replace("_", "."): v for k, v in keys.items()}}
    return NatsSinkConfig.from_values(CONFIG_DEF.parse(raw))


def _refused(message, **keys):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _parse(**keys)


def test_defaults():
    config = _parse()
    assert (config.servers, config.subject, config.stream, config.create_stream, config.key_header,
            config.coordinates, config.flush_size, config.batch_size, config.ack_timeout_ms,
            config.max_retries, config.tls) == (("nats://127.0.0.1:4222",), "${topic}", None, None,
                                                "Kafka-Key", True, 1000, 500, 10_000, 10, False)
    settings = config.publish_settings
    assert (settings.batch_size, settings.max_retries, settings.key_format) == (500, 10, "raw")


def test_servers_are_urls_without_credentials():
    config = _parse(nats_servers="a:4333, tls://b.example.com, nats://[::1]:5000")
    assert config.servers == ("nats://a:4333", "tls://b.example.com:4222", "nats://[::1]:5000")
    assert config.tls
    _refused("nats.servers must be a list of nats://host:port or tls://host:port, got "
             "'http://a:4222'", nats_servers="http://a:4222")
    with pytest.raises(ConfigError) as refused:
        _parse(nats_servers="nats://beam:s3cret@a:4222")
    assert str(refused.value) == (
        "nats.servers must not carry credentials, got 'nats://a:4222' with a user part: set "
        "nats.username and nats.password (or nats.token) instead")
    with pytest.raises(ConfigError, match=re.escape("nats.servers is required")):
        NatsSinkConfig.from_values(CONFIG_DEF.parse({}))


def test_credentials_come_one_way_and_the_password_never_shows():
    config = _parse(nats_username="beam", nats_password="s3cret")
    assert (config.username, str(config.password)) == ("beam", "s3cret")
    assert "s3cret" not in repr(config)
    assert "s3cret" not in repr(_parse(nats_token="s3cret"))
    _refused("nats.password is set but nats.username is not: set both", nats_password="s3cret")
    _refused("nats.username='beam' is set but nats.password is not: set both", nats_username="beam")
    _refused("nats.username and nats.token must not be set together", nats_username="beam",
             nats_password="x", nats_token="t")
    _refused("nats.token and nats.creds.file must not be set together", nats_token="t",
             nats_creds_file="/a.creds")


def test_tls_files_need_tls():
    _refused("nats.tls.ca.file='/ca.pem' is set but TLS is off: set nats.tls.enable=true or use "
             "tls:// server URLs", nats_tls_ca_file="/ca.pem")
    _refused("nats.tls.cert.file and nats.tls.key.file must be set together, got '/c.pem' and None",
             nats_tls_enable="true", nats_tls_cert_file="/c.pem")
    config = _parse(nats_tls_enable="true", nats_tls_ca_file="/ca.pem", nats_tls_hostname="n1")
    assert (config.tls, config.tls_ca_file, config.tls_hostname) == (True, "/ca.pem", "n1")


def test_the_subject_template():
    config = _parse(nats_subject="kafka.${topic}.p${partition}")
    message = Message("orders", 3, 7, None, "orders.eu", None, b"v")
    assert config.subject_of(message) == "kafka.orders.eu.p3"
    assert config.constant_subject is None
    assert _parse(nats_subject="all.orders").constant_subject == "all.orders"
    _refused("nats.subject may only hold the placeholders ${topic} and ${partition}, got "
             "'a.${key}' with ${key}", nats_subject="a.${key}")
    _refused("nats.subject must be a subject NATS publishes to, got 'a.>': it has the wildcard '>'",
             nats_subject="a.>")
    _refused("nats.subject must be a subject NATS publishes to, got 'a..${topic}': it has an empty "
             "token", nats_subject="a..${topic}")


def test_header_names_the_sink_sets():
    assert _parse(nats_key_header="").key_header == ""
    _refused("nats.key.header must be a header name the sink may set: Nats-* headers steer "
             "JetStream", nats_key_header="Nats-Key")
    _refused("nats.key.header must be a header name the sink may set: Kafka-Offset is a "
             "coordinate header", nats_key_header="Kafka-Offset")
    assert _parse(nats_key_header="Kafka-Offset",
                  nats_coordinates_headers_enable="false").key_header == "Kafka-Offset"
    _refused("nats.key.header must be a header name the sink may set: NATS header names are",
             nats_key_header="my key")


def test_stream_creation_keys():
    config = _parse(nats_subject="k.${topic}", nats_stream="KAFKA", nats_stream_create="true",
                    nats_stream_subjects="k.>", nats_stream_duplicate_window_ms="3600000")
    assert config.create_stream == StreamSpec(("k.>",), 3_600_000, "file", 1)
    assert _parse(nats_subject="one", nats_stream="S",
                  nats_stream_create="true").create_stream.subjects == ("one",)
    _refused("nats.stream.duplicate.window.ms='60000' applies to the stream the sink creates: set "
             "nats.stream.create=true, or leave it out", nats_stream="S",
             nats_stream_duplicate_window_ms="60000")
    _refused("nats.stream.create=true needs nats.stream", nats_stream_create="true")
    _refused("nats.stream.create=true with nats.subject='${topic}' (a template) needs "
             "nats.stream.subjects", nats_stream="S", nats_stream_create="true")
    _refused("nats.stream.subjects='a.*' does not capture nats.subject='b.c'", nats_subject="b.c",
             nats_stream="S", nats_stream_create="true", nats_stream_subjects="a.*")
    _refused("nats.stream must match", nats_stream="a.b")


def test_subject_wildcards():
    assert subject_matches("a.>", "a.b.c") and subject_matches("a.*.c", "a.b.c")
    assert not subject_matches("a.>", "a") and not subject_matches("a.*", "a.b.c")
    assert subject_matches("a.b", "a.b") and not subject_matches("a.b", "a.c")


def test_messages_carry_their_id_coordinates_key_and_headers():
    config = _parse(nats_stream="S")
    message = Message("orders", 2, 40, 1700, "orders", b"k", None, (("h", b"x"), ("n", None)))
    assert prepare(config, message) == ("orders", {
        "Nats-Msg-Id": "orders-2-40", "Nats-Expected-Stream": "S", "Kafka-Topic": "orders",
        "Kafka-Partition": "2", "Kafka-Offset": "40", "Kafka-Timestamp": "1700", "Kafka-Key": "k",
        "h": "x", "n": ""}, b"")
    bare = _parse(nats_key_header="", nats_coordinates_headers_enable="false")
    assert prepare(bare, message)[1] == {"Nats-Msg-Id": "orders-2-40", "h": "x", "n": ""}
    for headers, reason in [((("Kafka-Key", b"x"),), "nats.key.header=Kafka-Key carries the key"),
                            ((("h", b" x"),), "has leading or trailing whitespace"),
                            ((("nats-msg-id", b"x"),), "Nats-* headers steer JetStream")]:
        with pytest.raises(Refused, match=re.escape(reason)):
            prepare(config, Message("orders", 2, 40, None, "orders", None, b"v", headers))


def test_the_connector_config_names_the_sink_and_refuses_raw_edits():
    raw = {"name": "n", "connector.class": "nats", "topics": "orders",
           "bootstrap.servers": "127.0.0.1:9092", "nats.servers": "127.0.0.1:4222",
           "transforms": "add", "transforms.add.type": "InsertField$Value",
           "transforms.add.static.field": "f", "transforms.add.static.value": "v"}
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.add.type='org.apache.kafka.connect.transforms.InsertField$Value' edits the "
            "record values, which nats.value.format=raw writes as read")):
        parse_connector_config(raw)
    config = parse_connector_config({**raw, "nats.value.format": "json"})
    assert isinstance(config.sink, NatsSink)
    assert config.sink_config.client_name == "beamconnect-n"
    with pytest.raises(ConfigError, match="unknown key 'nats.subjects'"):
        parse_connector_config({**raw, "nats.value.format": "json", "nats.subjects": "x"})


def test_the_jetstream_example():
    path = os.path.join(ROOT, "templates", "connectors", "nats-jetstream.properties")
    config = parse_connector_config(load_config(path), bootstrap_servers="127.0.0.1:9092")
    sink = config.sink_config
    assert (sink.subject, sink.stream, sink.create_stream) == (
        "kafka.${topic}", "KAFKA", StreamSpec(("kafka.>",), 3_600_000, "file", 1))
    assert config.dead_letters is not None and config.warnings == ()


def test_a_creds_file_must_exist_and_needs_nkeys(tmp_path):
    with pytest.raises(ConfigError, match=re.escape(
            "nats.creds.file must name a .creds file, got '/nowhere.creds': no such file")):
        connect_options(_parse(nats_creds_file="/nowhere.creds"))
    creds = tmp_path / "user.creds"
    creds.write_text("")
    if importlib.util.find_spec("nkeys") is None:
        with pytest.raises(ConfigError, match=re.escape(
                "nats.creds.file needs the nkeys package: pip install nkeys")):
            connect_options(_parse(nats_creds_file=str(creds)))
    else:
        assert connect_options(_parse(nats_creds_file=str(creds))) == {
            "user_credentials": str(creds)}
