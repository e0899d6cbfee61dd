"""Protobuf and JSON Schema from a real Schema Registry into OpenSearch through ``python -m pipelines run``:
every type field by field in the stored documents and the mapping the sink makes from the Connect schema,
logical types inside maps and arrays written as at the top level, records the converter refuses (a bad
magic byte, an unknown schema id) dead-lettered with their coordinates while the others are indexed, and
three versions of one subject landing in one index.

Records are written by confluent-kafka's ProtobufSerializer and JSONSerializer against the registry
(Apicurio's Confluent-compatible API); the run reads them with
``io.confluent.connect.protobuf.ProtobufConverter`` and ``io.confluent.connect.json.JsonSchemaConverter``.
The every-type records are the converter tests' own (:mod:`tests.transforms.converters.protobuf_records`,
:mod:`tests.transforms.converters.json_schema_records`). Documents are what Kafka's JsonConverter writes
of the Connect value (nested messages and objects as objects, maps with string keys as objects, other
maps as arrays of ``{"key", "value"}``), with the logical types as epoch milliseconds.
"""

import base64
import datetime
import json
import uuid

import pytest

from tests.helpers import run_cli, write_config
from tests.sinks.registry_records import (
    READINGS_TEXT, UTC, check_refused, converter_config, dead_letter_config, json_serializer, profile,
    profile_serializer, protobuf_serializer, reading, registry_fixture, registry_fixture_is_shared,
    schema_id, search_config, with_refused)
from tests.sinks.search.elasticsearch.conftest import documents, unique
from tests.transforms.converters import json_schema_records, protobuf_records

if not registry_fixture_is_shared():  # the fixture lives in tests/transforms/converters/conftest.py
    schema_registry_fixture = registry_fixture

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
TEXT = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
#: Where the refused records go among the good ones (positions in the topic).
BAD_AT = (2, 6)


def _millis(moment: datetime.datetime) -> int:
    return int((moment - EPOCH) / datetime.timedelta(milliseconds=1))


def _day_millis(day: datetime.date) -> int:
    return _millis(datetime.datetime.combine(day, datetime.time(), UTC))


def _time_millis(t: datetime.time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1000 + t.microsecond // 1000


def _run_every_type(kafka, opensearch, registry_url, fmt, make_values, tmp_path):
    """Produces ``make_values(topic)`` with refused records at :data:`BAD_AT`, runs the sink with a
    DLQ and checks the dead letters; returns ``({key: (version, source)}, {key: offset}, the index's
    mapping properties)``."""
    topic = kafka.topic(partitions=1, prefix="es-" + fmt.replace("_", ""))
    dlq = "dlq-%s" % uuid.uuid4().hex[:10]
    values = with_refused(make_values(topic), BAD_AT)
    kafka.produce(topic, [(b"k%d" % n, v) for n, v in enumerate(values)], partition=0)
    config = write_config(tmp_path / "c.json", search_config(
        unique("es-" + fmt), topic, opensearch, converter_config(registry_url, fmt),
        **dead_letter_config(dlq)))

    result = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert result.returncode == 0, result.stderr[-3000:]
    check_refused(kafka.servers, dlq, topic, values, BAD_AT, fmt)
    offsets = {"k%d" % n: n for n in range(len(values)) if n not in BAD_AT}
    properties = opensearch.request("GET", "/%s/_mapping" % topic)[topic]["mappings"]["properties"]
    return documents(opensearch, topic), offsets, properties


def _check_documents(found, offsets, expected):
    """Every document has its record's offset as version and ``expected[n]`` as source, field by
    field (``n``: the record's position among the good ones)."""
    assert sorted(found) == sorted(offsets)
    for n, key in enumerate(sorted(offsets, key=offsets.get)):
        version, source = found[key]
        assert version == offsets[key], key
        want = expected[n]
        assert sorted(source) == sorted(want), key
        for name, value in want.items():
            assert source[name] == value, (key, name, source[name], value)


def _protobuf_document(i: int) -> dict:
    """The document of ``protobuf_records.record(i)``."""
    full = i % 3 != 2
    choice = None
    if full:
        choice = {"choice_int": None, "choice_str": None, "choice_sub": None}
        choice[["choice_int", "choice_str", "choice_sub"][i % 3]] = [i, "s%d" % i, {"x": i}][i % 3]
    ts = datetime.datetime(2024, 5, 6, 7, 8, 9 + i, 123000, tzinfo=UTC)
    return {
        "choice_0": choice,
        "id": i, "flag": i % 2 == 0, "count": i * 10, "s32": -5 - i, "sf32": -70000 - i,
        "u32": 4_000_000_000 + i, "f32": 3_000_000_000 + i, "s64": -(1 << 40) - i, "sf64": -(1 << 50),
        "u64": -1 - i, "f64": -(1 << 63) + i, "ratio": 0.5 + i, "score": 1e10 + i, "name": "n%d" % i,
        "blob": base64.b64encode(bytes([i, 0, 255])).decode(), "color": "GREEN" if i % 2 else "RED",
        "tags": ["a", "b%d" % i], "attrs": {"k": 1.5 * i}, "sub": {"x": -i} if full else None,
        "subs": [{"x": 1}, {"x": i}],
        "ts": _millis(ts) if full else None,
        "day": _day_millis(datetime.date(2024, 1, 1 + i)) if full else None,
        "tod": _time_millis(datetime.time(1, 2, 3, 4000)) if full else None,
        "price": float("%d.%02d" % (i, i % 100)) if full else None,
        "note": {"value": "note %d" % i} if full else None,
        "maybe": {"value": -i} if full else None,
        "nick": "nick%d" % i if full else None,
        "by_id": [{"key": i, "value": {"x": -i}}], "small": -300 - i,
    }


def test_protobuf_every_type_is_indexed_field_by_field_with_its_mapping(opensearch, kafka,
                                                                       schema_registry, tmp_path):
    order = protobuf_records.order_class()

    def values(topic):
        serialize = protobuf_serializer(schema_registry.url, order, topic)
        return [serialize(protobuf_records.record(order, i)) for i in range(8)]

    found, offsets, properties = _run_every_type(kafka, opensearch, schema_registry.url, "protobuf",
                                                 values, tmp_path)

    _check_documents(found, offsets, [_protobuf_document(i) for i in range(8)])
    sub = {"properties": {"x": {"type": "integer"}}}
    assert {name: properties[name] for name in properties if name != "attrs"} == {
        "choice_0": {"properties": {"choice_int": {"type": "integer"}, "choice_str": TEXT,
                                    "choice_sub": sub}},
        "id": {"type": "long"}, "flag": {"type": "boolean"}, "count": {"type": "integer"},
        "s32": {"type": "integer"}, "sf32": {"type": "integer"}, "u32": {"type": "long"},
        "f32": {"type": "long"}, "s64": {"type": "long"}, "sf64": {"type": "long"}, "u64": {"type": "long"},
        "f64": {"type": "long"}, "ratio": {"type": "float"}, "score": {"type": "double"}, "name": TEXT,
        "blob": {"type": "binary"}, "color": TEXT, "tags": TEXT, "sub": sub, "subs": sub,
        "ts": {"type": "date"}, "day": {"type": "date"}, "tod": {"type": "date"},
        "price": {"type": "double"}, "note": {"properties": {"value": TEXT}},
        "maybe": {"properties": {"value": {"type": "long"}}},
        "nick": TEXT, "by_id": {"properties": {"key": {"type": "integer"}, "value": sub}},
        "small": {"type": "short"}}
    # a map with string keys: Confluent's Mapping makes key/value properties, but the documents hold
    # an object of the map's entries (compact.map.entries), which the cluster maps dynamically
    assert properties["attrs"]["properties"]["key"] == TEXT
    assert properties["attrs"]["properties"]["value"] == {"type": "double"}
    assert properties["attrs"]["properties"]["k"] == {"type": "float"}


def _json_document(i: int) -> dict:
    """The document of ``json_schema_records.record(i)``."""
    source = json_schema_records.record(i)
    converted = json_schema_records.expected(i)
    return {**source, "price": i + 0.25, "price_b64": -(i + 0.125),
            "day": _day_millis(converted["day"]), "time_ms": _time_millis(converted["time_ms"]),
            "ts_ms": _millis(converted["ts_ms"]), "choice": converted["choice"],
            "by_id": [{"key": i, "value": "v%d" % i}], "count": converted["count"]}


def test_json_schema_every_type_is_indexed_field_by_field_with_its_mapping(opensearch, kafka,
                                                                          schema_registry, tmp_path):
    def values(topic):
        serialize = json_serializer(schema_registry.url, json_schema_records.ALL_TYPES_TEXT, topic)
        return [serialize(json_schema_records.record(i)) for i in range(8)]

    found, offsets, properties = _run_every_type(kafka, opensearch, schema_registry.url, "json_schema",
                                                 values, tmp_path)

    _check_documents(found, offsets, [_json_document(i) for i in range(8)])
    assert {name: properties[name] for name in properties if name not in ("attrs", "choice")} == {
        "id": {"type": "long"}, "flag": {"type": "boolean"}, "tiny": {"type": "byte"},
        "small": {"type": "short"}, "medium": {"type": "integer"}, "ratio": {"type": "float"},
        "score": {"type": "double"}, "blob": {"type": "binary"}, "name": TEXT, "price": {"type": "double"},
        "price_b64": {"type": "double"}, "day": {"type": "date"}, "time_ms": {"type": "date"},
        "ts_ms": {"type": "date"}, "note": TEXT, "nick": TEXT, "color": TEXT, "kind": TEXT, "tags": TEXT,
        "by_id": {"properties": {"key": {"type": "integer"}, "value": TEXT}},
        "sub": {"properties": {"x": {"type": "long"}}}, "subs": {"properties": {"y": TEXT}},
        "count": {"type": "integer", "null_value": 7}}
    assert properties["attrs"]["properties"]["value"] == {"type": "double"}
    # the oneOf's branches are named io.confluent.connect.json.OneOf.field.<N>; the engine reads the
    # dots of a field name as object paths (as it would for Confluent's sink, which sends the same
    # names), so the mapping nests them while _source keeps the names as sent
    nested = {"properties": {"0": {"type": "long"}, "1": TEXT,
                             "2": {"properties": {"x": {"type": "long"}}}}}
    for name in ("field", "OneOf", "json", "connect", "confluent", "io"):
        nested = {"properties": {name: nested}}
    assert properties["choice"] == nested


def test_logical_types_inside_maps_and_arrays_are_written_as_at_the_top_level(opensearch, kafka,
                                                                               schema_registry, tmp_path):
    """Decimals, timestamps and dates as map values and in arrays of objects: numbers and epoch
    milliseconds, as the same types in a field."""
    topic = kafka.topic(partitions=1, prefix="es-readings")
    serialize = json_serializer(schema_registry.url, READINGS_TEXT, topic)
    kafka.produce(topic, [(b"r%d" % i, serialize(reading(i))) for i in range(4)], partition=0)
    config = write_config(tmp_path / "c.json", search_config(
        unique("es-readings"), topic, opensearch, converter_config(schema_registry.url, "json_schema")))

    result = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert result.returncode == 0, result.stderr[-3000:]
    found = {k: source for k, (_, source) in documents(opensearch, topic).items()}
    expected = {}
    for i in range(4):
        source = reading(i)
        expected["r%d" % i] = {
            **source, "days": [{"key": i, "value": (19723 + i) * 86_400_000}]}
    assert found == expected
    properties = opensearch.request("GET", "/%s/_mapping" % topic)[topic]["mappings"]["properties"]
    assert properties["events"] == {"properties": {"at": {"type": "date"}, "amount": {"type": "double"}}}
    assert properties["days"] == {"properties": {"key": {"type": "integer"}, "value": {"type": "date"}}}
    assert properties["prices"]["properties"]["value"] == {"type": "double"}
    assert properties["seen"]["properties"]["value"] == {"type": "date"}


@pytest.mark.parametrize("fmt", ["protobuf", "json_schema"])
def test_three_versions_of_a_subject_land_in_one_index(fmt, opensearch, kafka, schema_registry, tmp_path):
    topic = kafka.topic(partitions=1, prefix="es-%s-evolve" % fmt.replace("_", ""))
    value = profile_serializer(schema_registry.url, fmt, topic)
    config = write_config(tmp_path / "c.json", search_config(
        unique("es-evolve"), topic, opensearch, converter_config(schema_registry.url, fmt)))
    produced, ids = [], set()
    for version, group in ((1, range(0, 3)), (2, range(3, 6)), (3, [0, 6, 7])):
        for i in group:
            raw = value(version, profile(version, i))
            ids.add(schema_id(raw))
            produced.append(("p%d" % i, version, i, raw))
        if version == 1:  # the index is made from v1's schema; v2 and v3 come in a later run
            kafka.produce(topic, [(k.encode(), raw) for k, _, _, raw in produced], partition=0)
            first = run_cli("run", config, "--bootstrap-servers", kafka.servers)
            assert first.returncode == 0, first.stderr[-3000:]
            properties = opensearch.request("GET", "/%s/_mapping" % topic)[topic]["mappings"]["properties"]
            assert set(properties) == {"id", "name", "attrs"}
    assert len(ids) == 3
    kafka.produce(topic, [(k.encode(), raw) for k, _, _, raw in produced[3:]], partition=0)

    second = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert second.returncode == 0, second.stderr[-3000:]
    found = {k: source for k, (_, source) in documents(opensearch, topic).items()}
    expected = {}
    for key, version, i, _ in produced:
        expected[key] = profile(version, i)
        if version == 2:  # read in one bundle with v3's, a v2 record has the unified schema's email
            expected[key]["email"] = None
    assert found == expected
    properties = opensearch.request("GET", "/%s/_mapping" % topic)[topic]["mappings"]["properties"]
    assert {"score", "level", "email"} <= set(properties)
    assert properties["id"] == {"type": "long"}


@pytest.mark.parametrize("fmt", ["protobuf", "json_schema"])
def test_string_keys_from_the_registry_name_the_documents(fmt, opensearch, kafka, schema_registry, tmp_path):
    """A ``google.protobuf.StringValue`` key (a raw primitive, ``wrapper.for.raw.primitives``) and a JSON
    Schema ``string`` key are Connect strings, so they are the documents' ids; a replay keeps one
    document per key."""
    topic = kafka.topic(partitions=1, prefix="es-%s-keys" % fmt.replace("_", ""))
    value = profile_serializer(schema_registry.url, fmt, topic)
    if fmt == "protobuf":
        from google.protobuf import wrappers_pb2

        serialize_key = protobuf_serializer(schema_registry.url, wrappers_pb2.StringValue, topic, "key")

        def key(text):
            return serialize_key(wrappers_pb2.StringValue(value=text))
    else:
        serialize_key = json_serializer(schema_registry.url, json.dumps({
            "$schema": "http://json-schema.org/draft-07/schema#", "type": "string"}), topic, "key")
        key = serialize_key
    kafka.produce(topic, [(key("user-%d" % (i % 3)), value(1, profile(1, i))) for i in range(5)],
                  partition=0)
    config = write_config(tmp_path / "c.json", search_config(
        unique("es-keys"), topic, opensearch, converter_config(schema_registry.url, fmt, key=fmt)))

    first = run_cli("run", config, "--bootstrap-servers", kafka.servers)
    replay = run_cli("run", config, "--bootstrap-servers", kafka.servers, "--from", "earliest")

    assert first.returncode == 0, first.stderr[-3000:]
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert documents(opensearch, topic) == {
        "user-0": (3, profile(1, 3)), "user-1": (4, profile(1, 4)), "user-2": (2, profile(1, 2))}
