"""The Kafka sink writing Avro, JSON Schema and Protobuf records with a real Schema Registry.

End to end through ``python -m pipelines run`` on the suite's broker and the suite's Apicurio Registry
(Confluent-compatible API): Avro records written by confluent-kafka's AvroSerializer and read with
AvroConverter are written as Avro and read back with confluent-kafka's AvroDeserializer field by
field; JsonConverter (schemas.enable) records are written as JSON Schema records read back with
JSONDeserializer, and as Protobuf records read back with ProtobufDeserializer; a killed run and its
rerun write every record once (read_committed); records that cannot be written (a NaN in JSON, a
schema not registered with ``auto.register.schemas=false``) go to the dead letter queue;
``use.latest.version`` writes with the latest id; a registry that refuses connections is retried;
refused credentials stop the run without showing them. The config checks are plain unit tests.
"""

import base64
import json
import os
import re
import signal
import subprocess
import time
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

from common import secrets
from common.errors import ConfigError
from pipelines.config.connector import parse_connector_config
from tests.helpers import ROOT, cli_command, cli_env, write_config
from tests.servers.apicurio import BasicAuthProxy
from tests.sinks.kafka.conftest import create_topic, produce, read_committed
from tests.sinks.registry_records import (ORDER_TEXT, RefusingProxy, avro_serializer, evolving,
                                          order, profile, protobuf_serializer, registry_fixture,
                                          registry_fixture_is_shared, schema_id)

if not registry_fixture_is_shared():  # the fixture lives in tests/transforms/converters/conftest.py
    schema_registry_fixture = registry_fixture

AVRO = "io.confluent.connect.avro.AvroConverter"
JSON = "org.apache.kafka.connect.json.JsonConverter"
STRING = "org.apache.kafka.connect.storage.StringConverter"
ROUTER = {"transforms": "route",
          "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
          "transforms.route.regex": "(.*)", "transforms.route.replacement": "$1-copy"}
ITEM = json.dumps({"type": "record", "name": "Item", "namespace": "shop", "fields": [
    {"name": "id", "type": "long"}, {"name": "name", "type": "string"},
    {"name": "weight", "type": "double"}]})


def _name():
    return "kafka-sr-" + uuid.uuid4().hex[:8]


def _config(name, topic, servers, registry_url, **overrides):
    """A Kafka sink config: Avro values read with AvroConverter written as Avro, unless
    ``overrides`` say otherwise (a None value drops the key)."""
    config = {"name": name, "connector.class": "kafka", "topics": topic, "bootstrap.servers": servers,
              "key.converter": STRING, "value.converter": AVRO,
              "value.converter.schema.registry.url": registry_url,
              "kafka.value.format": "avro", "kafka.value.format.schema.registry.url": registry_url,
              "flush.size": "100", **ROUTER, **overrides}
    return {k: v for k, v in config.items() if v is not None}


def _run(config, servers, *args, timeout=300):
    return subprocess.run(cli_command("run", config, "--bootstrap-servers", servers, *args),
                          cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=timeout)


def _client(url):
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient({"url": url})


def _deserializer(url, kind):
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    client = _client(url)
    deserialize = AvroDeserializer(client) if kind == "avro" else JSONDeserializer(
        None, schema_registry_client=client)
    return lambda message, field="value": deserialize(
        message.value() if field == "value" else message.key(),
        SerializationContext(message.topic(), MessageField.VALUE if field == "value"
                             else MessageField.KEY))


def test_avro_records_are_written_as_avro_under_the_target_topics_subjects(kafka, schema_registry,
                                                                           tmp_path):
    topic = kafka.topic(prefix="sr_avro")
    target = create_topic(kafka.servers, topic + "-copy")
    serialize = avro_serializer(schema_registry.url, ORDER_TEXT, topic)
    values = [order(i) for i in range(12)]
    produce(kafka.servers, topic, [(b"k%d" % i, serialize(v), 1_700_000_000_000 + i, [("h", b"%d" % i)])
                                   for i, v in enumerate(values)])
    name = _name()
    config = write_config(tmp_path / "c.json", _config(
        name, topic, kafka.servers, schema_registry.url, **{
            "kafka.key.format": "avro", "kafka.key.format.schema.registry.url": schema_registry.url}))

    result = _run(config, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    messages = read_committed(kafka.servers, target)
    assert len(messages) == len(values)
    client = _client(schema_registry.url)
    value_subject = client.get_latest_version(target + "-value")
    key_subject = client.get_latest_version(target + "-key")
    written = json.loads(value_subject.schema.schema_str)
    assert (written["name"], written["namespace"], written["connect.name"]) == ("Order", "shop",
                                                                                 "shop.Order")
    assert json.loads(key_subject.schema.schema_str) == "string"
    deserialize = _deserializer(schema_registry.url, "avro")
    for i, message in enumerate(messages):
        assert schema_id(message.value()) == value_subject.schema_id
        assert schema_id(message.key()) == key_subject.schema_id
        assert deserialize(message, "key") == "k%d" % i
        got = deserialize(message)
        for field, expected in values[i].items():
            assert got[field] == expected, (i, field)
        assert set(got) == set(values[i])
        assert message.timestamp()[1] == 1_700_000_000_000 + i
        assert message.headers() == [("h", b"%d" % i)]
    assert kafka.committed("connect-" + name, topic, 1) == {0: len(values)}


def test_records_of_several_versions_in_one_bundle_keep_their_own_schemas(kafka, schema_registry,
                                                                         tmp_path):
    topic = kafka.topic(prefix="sr_versions")
    target = create_topic(kafka.servers, topic + "-copy")
    records = [(1 + i % 3, i) for i in range(9)]  # versions 1, 2, 3 interleaved
    serializers = {v: avro_serializer(schema_registry.url, evolving(v), topic) for v in (1, 2, 3)}
    produce(kafka.servers, topic, [(b"k%d" % i, serializers[v](profile(v, i)), None, None)
                                   for v, i in records])
    config = write_config(tmp_path / "c.json", _config(_name(), topic, kafka.servers,
                                                       schema_registry.url))

    result = _run(config, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    messages = read_committed(kafka.servers, target)
    deserialize = _deserializer(schema_registry.url, "avro")
    assert [deserialize(m) for m in messages] == [profile(v, i) for v, i in records]
    ids = [schema_id(m.value()) for m in messages]
    assert len(set(ids)) == 3 and ids[:3] == ids[3:6] == ids[6:]
    assert len(_client(schema_registry.url).get_versions(target + "-value")) == 3


EVENT_SCHEMA = {"type": "struct", "name": "shop.Event", "optional": False, "fields": [
    {"field": "id", "type": "int64"},
    {"field": "name", "type": "string"},
    {"field": "note", "type": "string", "optional": True},
    {"field": "flag", "type": "boolean"},
    {"field": "score", "type": "double"},
    {"field": "small", "type": "int16"},
    {"field": "blob", "type": "bytes"},
    {"field": "tags", "type": "array", "items": {"type": "string"}},
    {"field": "attrs", "type": "map", "keys": {"type": "string"}, "values": {"type": "int64"}},
    {"field": "at", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp"},
    {"field": "price", "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal",
     "parameters": {"scale": "2"}},
    {"field": "inner", "type": "struct", "fields": [{"field": "city", "type": "string"}]},
]}


def _event(i):
    """An event payload as JsonConverter writes it: which is also how JsonSchemaConverter writes it
    (bytes and decimals base64, a decimal's unscaled value in as few bytes as Java's
    ``BigInteger.toByteArray``, timestamps in milliseconds, string-keyed maps as objects)."""
    unscaled = 12345 + i
    return {"id": i, "name": "event %d" % i, "note": None if i % 2 else "n%d" % i, "flag": i % 2 == 0,
            "score": i / 4, "small": -i, "blob": base64.b64encode(bytes([i, 0, 255])).decode(),
            "tags": ["a", "t%d" % i], "attrs": {"x": i, "y": -i}, "at": 1_700_000_000_000 + i,
            "price": base64.b64encode(unscaled.to_bytes(2, "big", signed=True)).decode(),
            "inner": {"city": "c%d" % i}}


def test_json_with_schemas_is_written_as_json_schema_records(kafka, schema_registry, tmp_path):
    topic = kafka.topic(prefix="sr_json")
    target = create_topic(kafka.servers, topic + "-copy")
    events = [_event(i) for i in range(10)]
    produce(kafka.servers, topic, [
        (b"k%d" % i, json.dumps({"schema": EVENT_SCHEMA, "payload": e}).encode(), None, None)
        for i, e in enumerate(events)])
    config = write_config(tmp_path / "c.json", _config(
        _name(), topic, kafka.servers, schema_registry.url, **{
            "value.converter": JSON, "value.converter.schemas.enable": "true",
            "value.converter.schema.registry.url": None,
            "kafka.value.format": "jsonschema", "kafka.key.format": "string"}))

    result = _run(config, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    messages = read_committed(kafka.servers, target)
    registered = _client(schema_registry.url).get_latest_version(target + "-value")
    assert registered.schema.schema_type == "JSON"
    schema = json.loads(registered.schema.schema_str)
    assert schema["title"] == "shop.Event"
    assert schema["properties"]["small"] == {"type": "integer", "connect.type": "int16",
                                             "connect.index": 5}
    deserialize = _deserializer(schema_registry.url, "json")
    assert [m.key() for m in messages] == [b"k%d" % i for i in range(10)]
    for message, event in zip(messages, events):
        assert schema_id(message.value()) == registered.schema_id
        assert deserialize(message) == event


def _message_class(registered):
    """The message class of a registered Protobuf schema (a base64 ``FileDescriptorProto``, as
    confluent-kafka's serializer registers it and Apicurio serves it back)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    from sinks.kafka.protobuf import well_known_file

    proto = descriptor_pb2.FileDescriptorProto.FromString(
        base64.b64decode(registered.schema.schema_str))
    pool = descriptor_pool.DescriptorPool()
    for dependency in proto.dependency:
        pool.AddSerializedFile(well_known_file(dependency))
    pool.Add(proto)
    name = "%s.%s" % (proto.package, proto.message_type[0].name) if proto.package else \
        proto.message_type[0].name
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


def test_json_with_schemas_is_written_as_protobuf_records(kafka, schema_registry, tmp_path):
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    topic = kafka.topic(prefix="sr_proto")
    target = create_topic(kafka.servers, topic + "-copy")
    events = [_event(i) for i in range(6)]
    produce(kafka.servers, topic, [
        (b"k%d" % i, json.dumps({"schema": EVENT_SCHEMA, "payload": e}).encode(), None, None)
        for i, e in enumerate(events)])
    config = write_config(tmp_path / "c.json", _config(
        _name(), topic, kafka.servers, schema_registry.url, **{
            "value.converter": JSON, "value.converter.schemas.enable": "true",
            "value.converter.schema.registry.url": None, "kafka.value.format": "protobuf"}))

    result = _run(config, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    messages = read_committed(kafka.servers, target)
    registered = _client(schema_registry.url).get_latest_version(target + "-value")
    assert registered.schema.schema_type == "PROTOBUF"
    deserialize = ProtobufDeserializer(_message_class(registered), {"use.deprecated.format": False})
    assert len(messages) == len(events)
    for message, event in zip(messages, events):
        assert schema_id(message.value()) == registered.schema_id
        got = deserialize(message.value(), SerializationContext(target, MessageField.VALUE))
        price = int.from_bytes(got.price.value, "big", signed=True)
        assert (got.id, got.name, got.note, got.flag, got.score, got.small) == (
            event["id"], event["name"], event["note"] or "", event["flag"], event["score"],
            event["small"])  # a null string is proto3's empty string, as ProtobufData writes it
        assert (got.blob, list(got.tags), dict(got.attrs), got.inner.city) == (
            base64.b64decode(event["blob"]), event["tags"], event["attrs"], event["inner"]["city"])
        assert got.at.ToMilliseconds() == event["at"]
        assert (price, got.price.scale) == (12345 + event["id"], 2)


ITEM_PROTO = """syntax = "proto3";
package shop;

message Item {
  enum Color { RED = 0; GREEN = 1; }
  message Part { string sku = 1; int32 qty = 2; }
  int64 id = 1;
  string name = 2;
  map<string, int64> attrs = 3;
  sint32 delta = 5;
  Color color = 6;
  Part part = 8;
  repeated string tags = 9;
}
"""


def test_protobuf_read_with_protobuf_converter_is_written_back_field_for_field(kafka, schema_registry,
                                                                               tmp_path):
    from google.protobuf.json_format import MessageToDict

    from tests.transforms.converters.protobuf_records import message_classes

    topic = kafka.topic(prefix="sr_proto2")
    target = create_topic(kafka.servers, topic + "-copy")
    item = message_classes({"shop/item.proto": ITEM_PROTO}, "shop/item.proto")["shop.Item"]
    serialize = protobuf_serializer(schema_registry.url, item, topic)
    sent = [item(id=i, name="n%d" % i, attrs={"a": i}, delta=-i, color=i % 2,
                 part=item.Part(sku="s%d" % i, qty=i), tags=["t", "u%d" % i]) for i in range(5)]
    produce(kafka.servers, topic, [(b"k%d" % i, serialize(m), None, None) for i, m in enumerate(sent)])
    config = write_config(tmp_path / "c.json", _config(_name(), topic, kafka.servers,
                                                       schema_registry.url, **{
        "value.converter": "io.confluent.connect.protobuf.ProtobufConverter",
        "kafka.value.format": "protobuf"}))

    result = _run(config, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    registered = _client(schema_registry.url).get_latest_version(target + "-value")
    cls = _message_class(registered)
    got = [cls.FromString(m.value()[6:]) for m in read_committed(kafka.servers, target)]
    assert {f.name: (f.number, f.type) for f in cls.DESCRIPTOR.fields} == {
        f.name: (f.number, f.type) for f in item.DESCRIPTOR.fields}  # numbers, sint32, enum kept
    assert [MessageToDict(m) for m in got] == [MessageToDict(m) for m in sent]


def _uncommitted_count(servers, topic):
    consumer = Consumer({"bootstrap.servers": servers, "group.id": "peek"})
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)[1]
    finally:
        consumer.close()


def test_a_killed_run_and_its_rerun_write_each_avro_record_once(kafka, schema_registry, tmp_path):
    count = 20_000
    topic = kafka.topic(prefix="sr_kill")
    target = create_topic(kafka.servers, topic + "-copy")
    serialize = avro_serializer(schema_registry.url, ITEM, topic)
    produce(kafka.servers, topic, [(b"k%d" % i, serialize({"id": i, "name": "n%d" % i, "weight": i / 8}),
                                    None, None) for i in range(count)])
    name = _name()
    config = write_config(tmp_path / "c.json", _config(name, topic, kafka.servers,
                                                       schema_registry.url, **{"flush.size": "100"}))
    log = tmp_path / "killed.log"
    with open(log, "w") as stderr:
        proc = subprocess.Popen(cli_command("run", config, "--bootstrap-servers", kafka.servers),
                                cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL, stderr=stderr,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        seen = 0
        while time.monotonic() < deadline and proc.poll() is None:
            seen = _uncommitted_count(kafka.servers, target)
            if seen >= 1000:  # 200 transactions of 100: the kill lands while most are still to come
                break
            time.sleep(0.05)
        assert proc.poll() is None, ("the run ended before it could be killed: %s"
                                     % log.read_text()[-3000:])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert seen < count

    rerun = _run(config, kafka.servers)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    replay = _run(config, kafka.servers, "--from", "earliest")  # everything again: still once
    assert replay.returncode == 0, replay.stderr[-3000:]
    deserialize = _deserializer(schema_registry.url, "avro")
    got = [deserialize(m) for m in read_committed(kafka.servers, target)]
    assert sorted(v["id"] for v in got) == list(range(count))
    assert all(v == {"id": v["id"], "name": "n%d" % v["id"], "weight": v["id"] / 8} for v in got)
    assert kafka.committed("connect-" + name, topic, 1) == {0: count}


def test_a_record_that_cannot_be_written_goes_to_the_dead_letter_queue(kafka, schema_registry, tmp_path):
    """JSON has no NaN: the record holding one is dead-lettered, the others are written."""
    topic = kafka.topic(prefix="sr_dlq")
    target = create_topic(kafka.servers, topic + "-copy")
    serialize = avro_serializer(schema_registry.url, ITEM, topic)
    weights = [1.5, 2.5, float("nan"), 4.5]
    raw = [serialize({"id": i, "name": "n%d" % i, "weight": w}) for i, w in enumerate(weights)]
    produce(kafka.servers, topic, [(b"k%d" % i, v, None, None) for i, v in enumerate(raw)])
    name = _name()
    dlq = topic + "-dlq"
    config = write_config(tmp_path / "c.json", _config(
        name, topic, kafka.servers, schema_registry.url, **{
        "kafka.value.format": "json_sr", "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"}))

    result = _run(config, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    deserialize = _deserializer(schema_registry.url, "json")
    written = [deserialize(m) for m in read_committed(kafka.servers, target)]
    assert written == [{"id": i, "name": "n%d" % i, "weight": w} for i, w in enumerate(weights) if i != 2]
    [dead] = read_committed(kafka.servers, dlq)
    headers = dict(dead.headers())
    assert (dead.key(), dead.value()) == (b"k2", raw[2])
    assert headers["__connect.errors.offset"] == b"2"
    assert headers["__connect.errors.stage"] == b"TASK_PUT"
    message = headers["__connect.errors.exception.message"].decode()
    assert "kafka.value.format='json_sr' cannot write the value of topic=%s partition=0 offset=2" \
        % topic in message
    assert "Out of range float values are not JSON compliant" in message
    assert kafka.committed("connect-" + name, topic, 1) == {0: 4}


def test_without_auto_register_only_registered_schemas_are_written_with_the_latest_version(
        kafka, schema_registry, tmp_path):
    """``auto.register.schemas=false``: a subject without the schema fails its records (dead
    letters); ``use.latest.version=true`` writes them with the subject's latest schema and id."""
    from confluent_kafka.schema_registry import Schema

    topic = kafka.topic(prefix="sr_latest")
    target = create_topic(kafka.servers, topic + "-copy")
    serialize = avro_serializer(schema_registry.url, ITEM, topic)
    produce(kafka.servers, topic, [(b"k%d" % i, serialize({"id": i, "name": "n%d" % i, "weight": 0.5}),
                                    None, None) for i in range(3)])
    dlq = topic + "-dlq"
    settings = {"kafka.value.format.auto.register.schemas": "false",
                "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
                "errors.deadletterqueue.topic.replication.factor": "1",
                "errors.deadletterqueue.context.headers.enable": "true"}
    first = write_config(tmp_path / "first.json", _config(_name(), topic, kafka.servers,
                                                          schema_registry.url, **settings))
    result = _run(first, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    assert read_committed(kafka.servers, target) == []
    dead = read_committed(kafka.servers, dlq)
    assert [d.key() for d in dead] == [b"k0", b"k1", b"k2"]
    message = dict(dead[0].headers())["__connect.errors.exception.message"].decode()
    assert ("looking up a schema under subject '%s-value' (auto.register.schemas=false)" % target
            in message), message
    assert "HTTP 404" in message

    latest = json.dumps({"type": "record", "name": "Item", "namespace": "shop", "fields": [
        {"name": "id", "type": "long"}, {"name": "name", "type": "string"},
        {"name": "weight", "type": "double"},
        {"name": "origin", "type": ["null", "string"], "default": None}]})
    latest_id = _client(schema_registry.url).register_schema(target + "-value", Schema(latest, "AVRO"))
    second = write_config(tmp_path / "second.json", _config(_name(), topic, kafka.servers,
                                                            schema_registry.url, **{
        **settings, "kafka.value.format.use.latest.version": "true",
        "kafka.value.format.latest.compatibility.strict": "false"}))
    result = _run(second, kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    messages = read_committed(kafka.servers, target)
    assert [schema_id(m.value()) for m in messages] == [latest_id] * 3
    deserialize = _deserializer(schema_registry.url, "avro")
    assert [deserialize(m) for m in messages] == [
        {"id": i, "name": "n%d" % i, "weight": 0.5, "origin": None} for i in range(3)]


def _envelopes(count):
    schema = {"type": "struct", "name": "shop.Tick", "fields": [{"field": "id", "type": "int64"}]}
    return [(b"k%d" % i, json.dumps({"schema": schema, "payload": {"id": i}}).encode(), None, None)
            for i in range(count)]


def test_a_registry_that_refuses_connections_is_retried_until_it_is_back(kafka, schema_registry,
                                                                         tmp_path):
    topic = kafka.topic(prefix="sr_down")
    target = create_topic(kafka.servers, topic + "-copy")
    produce(kafka.servers, topic, _envelopes(30))
    proxy = RefusingProxy(schema_registry.url)
    proxy.refuse()
    name = _name()
    config = write_config(tmp_path / "c.json", _config(name, topic, kafka.servers, proxy.url, **{
        "value.converter": JSON, "value.converter.schemas.enable": "true",
            "value.converter.schema.registry.url": None,
        "errors.retry.timeout": "120000", "errors.retry.delay.max.ms": "1000"}))
    proc = subprocess.Popen(cli_command("run", config, "--bootstrap-servers", kafka.servers),
                            cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        time.sleep(8)
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        assert _uncommitted_count(kafka.servers, target) == 0
        proxy.accept()
        _, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proxy.close()
    assert proc.returncode == 0, stderr[-3000:]
    assert "could not be reached" in stderr
    deserialize = _deserializer(schema_registry.url, "avro")
    assert [deserialize(m) for m in read_committed(kafka.servers, target)] == [
        {"id": i} for i in range(30)]
    assert kafka.committed("connect-" + name, topic, 1) == {0: 30}


def test_refused_credentials_stop_the_run_without_showing_them(kafka, schema_registry, tmp_path):
    topic = kafka.topic(prefix="sr_auth")
    target = create_topic(kafka.servers, topic + "-copy")
    produce(kafka.servers, topic, _envelopes(3))
    proxy = BasicAuthProxy(schema_registry.url, "writer", "right-password")
    name = _name()
    try:
        settings = {"value.converter": JSON, "value.converter.schemas.enable": "true",
                    "value.converter.schema.registry.url": None,
                    "kafka.value.format.basic.auth.credentials.source": "USER_INFO"}
        wrong = write_config(tmp_path / "wrong.json", _config(name, topic, kafka.servers, proxy.url, **{
            **settings, "kafka.value.format.basic.auth.user.info": "writer:wrong-password"}))
        refused = _run(wrong, kafka.servers)
        assert refused.returncode != 0
        assert ("the Schema Registry at %s refused the credentials of kafka.value.format for "
                "registering a schema under subject '%s-value' (HTTP 401)" % (proxy.url, target)
                in " ".join(refused.stderr.split())), refused.stderr[-3000:]  # the CLI wraps lines
        assert "wrong-password" not in refused.stderr + refused.stdout
        assert read_committed(kafka.servers, target) == []
        assert kafka.committed("connect-" + name, topic, 1) == {0: -1001}

        right = write_config(tmp_path / "right.json", _config(name, topic, kafka.servers, proxy.url, **{
            **settings, "kafka.value.format.basic.auth.user.info": "writer:right-password"}))
        accepted = _run(right, kafka.servers)
        assert accepted.returncode == 0, accepted.stderr[-3000:]
    finally:
        proxy.close()
    assert len(read_committed(kafka.servers, target)) == 3
    assert kafka.committed("connect-" + name, topic, 1) == {0: 3}


# Config: plain unit tests, no server.

def _parse(**overrides):
    raw = {"name": "copy", "connector.class": "kafka", "topics": "orders",
           "bootstrap.servers": "src:9092", **ROUTER, **overrides}
    return parse_connector_config({k: v for k, v in raw.items() if v is not None}).sink_config


def test_registry_formats_parse_with_the_converters_keys_under_the_format_key():
    config = _parse(**{"kafka.value.format": "JsonSchema",
                       "kafka.value.format.schema.registry.url": "http://reg:8081",
                       "kafka.value.format.auto.register.schemas": "false",
                       "kafka.value.format.value.subject.name.strategy":
                           "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
                       "kafka.key.format": "avro",
                       "kafka.key.format.schema.registry.url": "http://u:p4ss@reg:8081"})
    value, key = config.value_registry, config.key_registry
    assert (config.value_format, value.format, value.part, value.auto_register, value.strategy) == (
        "json_sr", "json_sr", "value", False, "TopicRecordNameStrategy")
    assert value.subject("orders-copy", "shop.Event") == "orders-copy-shop.Event"
    assert (config.key_format, key.format, key.auto_register, key.strategy) == (
        "avro", "avro", True, "TopicNameStrategy")
    assert key.subject("orders-copy", "string") == "orders-copy-key"
    assert key.client_config["url"] == "http://reg:8081"
    assert "p4ss" not in repr(config)
    assert _parse().value_registry is None


def test_a_missing_registry_url_names_the_key():
    with pytest.raises(ConfigError, match=re.escape(
            "kafka.value.format.schema.registry.url is required with kafka.value.format='avro', "
            "got ''")):
        _parse(**{"kafka.value.format": "avro"})
    with pytest.raises(ConfigError, match=re.escape(
            "kafka.key.format.schema.registry.url is required with kafka.key.format='json_sr'")):
        _parse(**{"kafka.key.format": "json_sr"})


@pytest.mark.parametrize("overrides, message", [
    ({"kafka.value.format": "protobuf", "kafka.value.format.schema.registry.url": "http://reg:8081",
      "kafka.value.format.use.latest.version": "true"},
     "kafka.value.format.use.latest.version must be false with kafka.value.format='protobuf'"),
    ({"kafka.value.format": "json", "kafka.value.format.schema.registry.url": "http://reg:8081"},
     "kafka.value.format.schema.registry.url is set but kafka.value.format='json' writes no Schema "
     "Registry records; set kafka.value.format to avro or json_sr, or leave the key out"),
    ({"kafka.value.format": "avro", "kafka.value.format.schema.registry.url": "http://reg:8081",
      "kafka.value.format.auto.register.schema": "false"},
     "unknown key 'kafka.value.format.auto.register.schema' for this Kafka sink; did you mean "
     "'kafka.value.format.auto.register.schemas'?"),
    ({"kafka.value.format": "avro", "kafka.value.format.schema.registry.url": "http://reg:8081",
      "kafka.value.format.auto.register.schemas": "maybe"},
     "kafka.value.format.auto.register.schemas must be 'true' or 'false', got 'maybe'"),
    ({"kafka.value.format": "avro", "kafka.value.format.schema.registry.url": "http://reg:8081",
      "kafka.value.format.value.subject.name.strategy": "MySubjects"},
     "kafka.value.format.value.subject.name.strategy must be one of "
     "'io.confluent.kafka.serializers.subject.TopicNameStrategy'"),
    ({"kafka.value.format": "avro", "kafka.value.format.schema.registry.url": "http://reg:8081",
      "kafka.value.format.key.subject.name.strategy": "RecordNameStrategy"},
     "kafka.value.format.key.subject.name.strategy names the subject of keys, which "
     "kafka.value.format does not write; set kafka.value.format.value.subject.name.strategy instead"),
    ({"kafka.value.format": "avro", "kafka.value.format.schema.registry.url": "http://reg:8081",
      "kafka.value.format.use.latest.version": "true"},
     "kafka.value.format.latest.compatibility.strict must be false with "
     "kafka.value.format.use.latest.version=true"),
    ({"kafka.value.format": "avro", "kafka.value.format.schema.registry.url": "http://reg:8081",
      "kafka.value.format.basic.auth.credentials.source": "USER_INFO"},
     "kafka.value.format.basic.auth.user.info must be user:password with "
     "basic.auth.credentials.source=USER_INFO, got nothing"),
])
def test_registry_settings_are_checked(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _parse(**overrides)


def test_the_prefixed_registry_credentials_are_secrets():
    secrets.clear()
    try:
        _parse(**{"kafka.value.format": "avro",
                  "kafka.value.format.schema.registry.url": "http://reg:8081",
                  "kafka.value.format.basic.auth.credentials.source": "USER_INFO",
                  "kafka.value.format.basic.auth.user.info": "writer:s3cret-pw",
                  "kafka.key.format": "avro", "kafka.key.format.schema.registry.url": "http://reg:8081",
                  "kafka.key.format.bearer.auth.credentials.source": "STATIC_TOKEN",
                  "kafka.key.format.bearer.auth.token": "t0ken-value",
                  "kafka.key.format.bearer.auth.logical.cluster": "lsrc-1"})
        assert {"writer:s3cret-pw", "t0ken-value"} <= set(secrets.known())
    finally:
        secrets.clear()


# The schema and payload mappings: plain unit tests of the pure functions, no registry.

def _decode_protobuf(text, full, raw):
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    from sinks.kafka.protobuf import FIRST_MESSAGE, well_known_file

    proto = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(text))
    pool = descriptor_pool.DescriptorPool()
    for dependency in proto.dependency:
        pool.AddSerializedFile(well_known_file(dependency))
    pool.Add(proto)
    assert raw[:1] == FIRST_MESSAGE
    return proto, message_factory.GetMessageClass(pool.FindMessageTypeByName(full)).FromString(raw[1:])


def test_protobuf_messages_follow_protobuf_data():
    import datetime
    import decimal

    import pyarrow as pa

    from sinks.kafka.protobuf import protobuf_writer
    from transforms.schema import connect_field

    enum = {"io.confluent.connect.protobuf.Enum": "shop.Color",
            "io.confluent.connect.protobuf.Enum.RED": "0",
            "io.confluent.connect.protobuf.Enum.GREEN": "1"}
    line = pa.struct([pa.field("sku", pa.string()), pa.field("qty", pa.int32())])
    struct = pa.struct([
        connect_field("id", pa.int64(), False, parameters={"io.confluent.connect.protobuf.Tag": "7"}),
        connect_field("color", pa.string(), parameters=enum),
        connect_field("big", pa.int64(), parameters={"io.confluent.connect.protobuf.Type": "uint64"}),
        pa.field("small", pa.int16()),
        pa.field("price", pa.decimal128(10, 2)),
        pa.field("day", pa.date32()), pa.field("at", pa.time32("ms")),
        pa.field("ts", pa.timestamp("ms", tz="UTC")),
        pa.field("lines", pa.list_(line)),
        pa.field("by_sku", pa.map_(pa.string(), line)),
        pa.field("note", pa.string())])
    text, full, write = protobuf_writer(connect_field("value", struct, schema_name="shop.Order"))
    value = {"id": 1, "color": "GREEN", "big": -1, "small": -3, "price": decimal.Decimal("-1.28"),
             "day": datetime.date(2024, 2, 29), "at": datetime.time(1, 2, 3, 4000),
             "ts": datetime.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=datetime.timezone.utc),
             "lines": [{"sku": "a", "qty": 2}], "by_sku": [("a", {"sku": "a", "qty": 2})], "note": None}
    proto, got = _decode_protobuf(text, full, write(value))

    assert (full, proto.package, proto.message_type[0].name) == ("shop.Order", "shop", "Order")
    numbers = {f.name: f.number for f in proto.message_type[0].field}
    assert numbers == {"id": 7, "color": 2, "big": 3, "small": 4, "price": 5, "day": 6, "at": 8,
                       "ts": 9, "lines": 10, "by_sku": 11, "note": 12}  # 7 is the id's tag
    assert (got.id, got.color, got.big, got.small, got.note) == (1, 1, 2 ** 64 - 1, -3, "")
    assert (int.from_bytes(got.price.value, "big", signed=True), got.price.scale) == (-128, 2)
    assert (got.day.year, got.day.month, got.day.day) == (2024, 2, 29)
    assert (got.at.hours, got.at.minutes, got.at.seconds, got.at.nanos) == (1, 2, 3, 4_000_000)
    assert got.ts.ToDatetime(tzinfo=datetime.timezone.utc) == value["ts"]
    assert [(x.sku, x.qty) for x in got.lines] == [("a", 2)]
    assert {k: (v.sku, v.qty) for k, v in got.by_sku.items()} == {"a": ("a", 2)}


@pytest.mark.parametrize("arrow_type, message", [
    ("int64", "Protobuf writes messages, and the schema is int64, not a struct"),
    ("list<list<int64>>", "field 'xs': arrays of arrays or maps have no Protobuf form"),
    ("map<list<int64>>", "field 'xs': map keys of type list<item: int64> have no Protobuf form"),
])
def test_schemas_without_a_protobuf_form_are_refused(arrow_type, message):
    import pyarrow as pa

    from sinks.kafka.protobuf import protobuf_writer

    types = {"int64": pa.int64(),
             "list<list<int64>>": pa.struct([pa.field("xs", pa.list_(pa.list_(pa.int64())))]),
             "map<list<int64>>": pa.struct([pa.field("xs", pa.map_(pa.list_(pa.int64()), pa.int64()))])}
    with pytest.raises(ValueError, match=re.escape(message)):
        protobuf_writer(pa.field("value", types[arrow_type]))


def test_json_schema_payloads_are_written_as_json_schema_converter_writes_them():
    import datetime
    import decimal

    import pyarrow as pa

    from sinks.kafka.payloads import json_encoder
    from transforms.schema import connect_field

    one_of = connect_field("choice", pa.struct([pa.field("io.confluent.connect.json.OneOf.field.0",
                                                         pa.int64()),
                                                pa.field("io.confluent.connect.json.OneOf.field.1",
                                                         pa.string())]),
                           schema_name="io.confluent.connect.json.OneOf")
    field = pa.field("value", pa.struct([
        one_of, pa.field("pairs", pa.map_(pa.int32(), pa.string())),
        pa.field("price", pa.decimal128(5, 2)), pa.field("day", pa.date32()),
        pa.field("at", pa.time32("ms")), pa.field("ts", pa.timestamp("ms", tz="UTC")),
        pa.field("blob", pa.binary())]))
    encode = json_encoder(field)
    assert encode({"choice": {"io.confluent.connect.json.OneOf.field.0": None,
                              "io.confluent.connect.json.OneOf.field.1": "b"},
                   "pairs": [(1, "x")], "price": decimal.Decimal("-1.28"),
                   "day": datetime.date(1970, 1, 3), "at": datetime.time(0, 0, 1, 5000),
                   "ts": datetime.datetime(1970, 1, 1, 0, 0, 2, tzinfo=datetime.timezone.utc),
                   "blob": b"\x00\xff"}) == {
        "choice": "b", "pairs": [{"key": 1, "value": "x"}],
        "price": base64.b64encode(b"\xff\x80").decode(), "day": 2, "at": 1005, "ts": 2000,
        "blob": "AP8="}
