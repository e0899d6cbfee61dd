"""AvroConverter against a real Schema Registry (Apicurio's Confluent-compatible API, or
``SCHEMA_REGISTRY_URL``), with records written by confluent-kafka's own AvroSerializer."""

import json
import logging
import re
import threading
import time
import uuid

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.servers.apicurio import BasicAuthProxy
from tests.transforms.converters.avro_records import ALL_TYPES_TEXT, expected, record
from transforms.converters import make_converter
from transforms.converters.registry import RegistryRefused, RegistryUnavailable
from transforms.errors import ErrorPolicy, retrying
from transforms.schema import schema_info

AVRO = "io.confluent.connect.avro.AvroConverter"

USER_V1 = {"type": "record", "name": "User", "namespace": "crm",
           "fields": [{"name": "id", "type": "long"}]}
USER_V2 = {**USER_V1, "fields": USER_V1["fields"] + [
    {"name": "email", "type": ["null", "string"], "default": None}]}
USER_V3 = {**USER_V2, "fields": USER_V2["fields"] + [{"name": "age", "type": "int", "default": 0}]}


def _topic():
    return "avro-%s" % uuid.uuid4().hex[:10]


def _serializer(url, schema_text):
    return AvroSerializer(SchemaRegistryClient({"url": url}), schema_text)


def _converter(url, **props):
    return make_converter("value.converter", AVRO, {"schema.registry.url": url, **props})


def test_every_type_round_trips_through_the_registry(schema_registry):
    context = SerializationContext(_topic(), MessageField.VALUE)
    serialize = _serializer(schema_registry.url, ALL_TYPES_TEXT)
    data = [serialize(record(i), context) for i in range(9)] + [None]

    conversion = _converter(schema_registry.url).convert(data)

    assert conversion.failures == ()
    rows = conversion.values.to_pylist()
    for i in range(9):
        for name, value in expected(i).items():
            assert rows[i][name] == value, (i, name)
    assert rows[9] is None
    assert conversion.schema.metadata[b"connect.name"] == b"shop.Order"


def test_three_versions_of_one_subject_decode_with_their_own_schemas(schema_registry):
    context = SerializationContext(_topic(), MessageField.VALUE)
    v1, v2, v3 = (_serializer(schema_registry.url, json.dumps(s)) for s in (USER_V1, USER_V2, USER_V3))
    data = [v1({"id": 1}, context), v2({"id": 2, "email": "b@x"}, context),
            v3({"id": 3, "email": None, "age": 33}, context), v1({"id": 4}, context)]
    ids = [int.from_bytes(d[1:5], "big") for d in data]
    assert len(set(ids)) == 3
    versions = SchemaRegistryClient({"url": schema_registry.url}).get_versions(context.topic + "-value")
    assert versions == [1, 2, 3]

    converter = _converter(schema_registry.url)
    conversion = converter.convert(data)

    assert conversion.failures == ()
    assert conversion.values.to_pylist() == [
        {"id": 1, "email": None, "age": None}, {"id": 2, "email": "b@x", "age": None},
        {"id": 3, "email": None, "age": 33}, {"id": 4, "email": None, "age": None}]
    assert [f.type.names for f in conversion.record_schemas] == [
        ["id"], ["id", "email"], ["id", "email", "age"], ["id"]]
    # Without connect.version, the Connect version is the registry's, as Confluent's converter has it.
    assert [schema_info(f).version for f in conversion.record_schemas] == [1, 2, 3, 1]
    assert converter.registry.fetches == 6  # per id: its schema, and its subject's version
    # One version alone: its own schema, the default of age kept.
    single = converter.convert([data[2]])
    assert single.record_schemas is None and single.schema.type.names == ["id", "email", "age"]
    assert single.schema.type.field("age").metadata[b"connect.default"] == b"0"
    assert schema_info(single.schema).version == 3
    assert converter.registry.fetches == 6


def test_bad_magic_byte_and_unknown_id_fail_their_records_only(schema_registry):
    context = SerializationContext(_topic(), MessageField.VALUE)
    good = _serializer(schema_registry.url, json.dumps(USER_V1))({"id": 5}, context)
    unknown = b"\x00" + (987654).to_bytes(4, "big") + good[5:]
    conversion = _converter(schema_registry.url).convert([b"\x01" + good[1:], good, unknown])

    assert conversion.values.to_pylist() == [{"id": 5}]
    reasons = dict(conversion.failures)
    assert reasons[0] == "Unknown magic byte! (got 1, Confluent's wire format starts with 0)"
    assert reasons[2].startswith("Error retrieving Avro schema for id 987654: the Schema Registry at %s "
                                 "has no schema id 987654 (HTTP 404" % schema_registry.url)


def test_several_urls_are_tried_in_order(schema_registry):
    context = SerializationContext(_topic(), MessageField.VALUE)
    good = _serializer(schema_registry.url, json.dumps(USER_V1))({"id": 6}, context)
    converter = _converter("http://127.0.0.1:9/nothing-here,%s" % schema_registry.url)
    assert converter.convert([good]).values.to_pylist() == [{"id": 6}]


def test_registry_stopped_mid_run_is_retried_until_it_is_back(schema_registry):
    if schema_registry.server is None:
        pytest.skip("the registry SCHEMA_REGISTRY_URL names cannot be stopped by the test")
    context = SerializationContext(_topic(), MessageField.VALUE)
    first = _serializer(schema_registry.url, json.dumps(USER_V1))({"id": 1}, context)
    second = _serializer(schema_registry.url, json.dumps(USER_V2))({"id": 2, "email": "e"}, context)
    converter = _converter(schema_registry.url)
    assert converter.convert([first]).failures == ()

    schema_registry.server.pause()
    try:
        # Known ids need no registry: decoding goes on while it is away.
        assert converter.convert([first, first]).values.to_pylist() == [{"id": 1}, {"id": 1}]
        with pytest.raises(RegistryUnavailable, match="could not be reached for schema id"):
            converter.convert([second])

        policy = ErrorPolicy(retry_timeout_ms=120_000, retry_delay_max_ms=1000)
        outcome = {}

        def convert():
            try:
                outcome["conversion"] = retrying(lambda: converter.convert([first, second]), policy,
                                                 "converting a batch")
            except Exception as exc:  # reported by the assertion below
                outcome["error"] = exc

        worker = threading.Thread(target=convert)
        worker.start()
        time.sleep(1.5)
        assert worker.is_alive(), outcome
    finally:
        schema_registry.server.resume(timeout=120)  # from the main thread, which the server outlives
    worker.join(60)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["conversion"].values.to_pylist() == [{"id": 1, "email": None}, {"id": 2, "email": "e"}]


@pytest.fixture
def auth_proxy(schema_registry):
    proxy = BasicAuthProxy(schema_registry.url, "reader", "s3cret-pw")
    yield proxy
    proxy.close()


@pytest.mark.parametrize("props", [
    {"basic.auth.credentials.source": "USER_INFO", "basic.auth.user.info": "reader:s3cret-pw"},
    {"basic.auth.credentials.source": "URL"},
])
def test_basic_auth_credentials_are_sent_and_never_shown(schema_registry, auth_proxy, props, caplog):
    caplog.set_level(logging.DEBUG)
    context = SerializationContext(_topic(), MessageField.VALUE)
    good = _serializer(schema_registry.url, json.dumps(USER_V1))({"id": 7}, context)
    url = auth_proxy.url
    if props["basic.auth.credentials.source"] == "URL":
        url = url.replace("http://", "http://reader:s3cret-pw@")
    converter = _converter(url, **props)
    assert converter.convert([good]).values.to_pylist() == [{"id": 7}]
    assert auth_proxy.authorizations[-1].startswith("Basic ")

    unknown = b"\x00" + (987655).to_bytes(4, "big") + good[5:]
    failure = converter.convert([unknown]).failures[0][1]
    assert "s3cret" not in failure and "reader" not in failure
    assert "s3cret" not in caplog.text


def test_refused_credentials_stop_the_run_instead_of_failing_each_record(schema_registry, auth_proxy):
    context = SerializationContext(_topic(), MessageField.VALUE)
    good = _serializer(schema_registry.url, json.dumps(USER_V1))({"id": 8}, context)
    converter = _converter(auth_proxy.url, **{"basic.auth.credentials.source": "USER_INFO",
                                              "basic.auth.user.info": "reader:wrong-s3cret"})
    message = "the Schema Registry at %s refused the credentials of value.converter" % auth_proxy.url
    with pytest.raises(RegistryRefused, match=re.escape(message)) as raised:
        converter.convert([good])
    assert "s3cret" not in str(raised.value)
