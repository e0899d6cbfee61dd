"""Avro from a real Schema Registry into OpenSearch through ``python -m pipelines run``: every type field
by field in the stored documents and the mapping the sink makes from the Connect schema, and three
versions of one subject landing in one index.

Records are written by confluent-kafka's AvroSerializer against the registry (Apicurio's
Confluent-compatible API); the run reads them with ``io.confluent.connect.avro.AvroConverter``.
"""

import base64
import datetime
import json

from tests.helpers import run_cli, write_config
from tests.sinks.registry_records import (
    ORDER_TEXT, UTC, avro_serializer, converter_config, evolving, order, profile, registry_fixture,
    registry_fixture_is_shared, schema_id, search_config)
from tests.sinks.search.elasticsearch.conftest import documents, unique

if not registry_fixture_is_shared():  # the fixture lives in tests/transforms/converters/conftest.py
    schema_registry_fixture = registry_fixture

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)


def _config(topic, cluster, registry_url, **overrides):
    return search_config(unique("es-avro"), topic, cluster, converter_config(registry_url, "avro"),
                         **overrides)


def _millis(moment: datetime.datetime) -> int:
    return int((moment - EPOCH) / datetime.timedelta(milliseconds=1))


def _document(value: dict) -> dict:
    """What the sink should store for an ``ORDER`` record (Confluent's JSON of the Connect value, with
    Date as epoch milliseconds of its midnight UTC)."""
    out = dict(value)
    out["blob"] = base64.b64encode(value["blob"]).decode()
    out["price"] = float(value["price"])
    out["day"] = _millis(datetime.datetime.combine(value["day"], datetime.time(), UTC))
    t = value["time_ms"]
    out["time_ms"] = ((t.hour * 60 + t.minute) * 60 + t.second) * 1000 + t.microsecond // 1000
    out["ts_ms"] = _millis(value["ts_ms"])
    return out


def test_every_type_is_indexed_field_by_field_with_its_mapping(opensearch, kafka, schema_registry,
                                                               tmp_path):
    topic = kafka.topic(partitions=1, prefix="es-avro")
    serialize = avro_serializer(schema_registry.url, ORDER_TEXT, topic)
    produced = [("k%d" % i, order(i)) for i in range(8)] + [("k1", order(1, revision=1))]
    kafka.produce(topic, [(k.encode(), serialize(v)) for k, v in produced], partition=0)
    config = write_config(tmp_path / "c.json", _config(topic, opensearch, schema_registry.url))

    result = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert result.returncode == 0, result.stderr[-3000:]
    found = documents(opensearch, topic)
    newest = {k: (offset, v) for offset, (k, v) in enumerate(produced)}
    assert sorted(found) == sorted(newest)
    for key, (offset, value) in newest.items():
        version, source = found[key]
        assert version == offset, key
        want = _document(value)
        assert sorted(source) == sorted(want), key
        for name, expected in want.items():
            assert source[name] == expected, (key, name, source[name], expected)

    properties = opensearch.request("GET", "/%s/_mapping" % topic)[topic]["mappings"]["properties"]
    text = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
    assert {name: properties[name] for name in properties if name != "customer"} == {
        "id": {"type": "long"}, "tiny": {"type": "byte"}, "small": {"type": "short"},
        "count": {"type": "integer"}, "big": {"type": "long"}, "ratio": {"type": "float"},
        "score": {"type": "double"}, "flag": {"type": "boolean"}, "name": text, "secret": text,
        "blob": {"type": "binary"}, "price": {"type": "double"}, "day": {"type": "date"},
        "time_ms": {"type": "date"}, "ts_ms": {"type": "date"}, "color": text, "note": text,
        "tags": text}
    assert properties["customer"] == {"properties": {
        "name": text, "address": {"properties": {"city": text, "zip": {"type": "integer"}}}}}


def test_three_versions_of_a_subject_land_in_one_index(opensearch, kafka, schema_registry, tmp_path):
    topic = kafka.topic(partitions=1, prefix="es-avro-evolve")
    config = write_config(tmp_path / "c.json", _config(topic, opensearch, schema_registry.url))
    produced, ids = [], set()
    for version, group in ((1, range(0, 3)), (2, range(3, 6)), (3, [0, 6, 7])):
        value = avro_serializer(schema_registry.url, evolving(version), topic)
        for i in group:
            raw = value(profile(version, i))
            ids.add(schema_id(raw))
            produced.append(("p%d" % i, version, i, raw))
        if version == 1:  # the index is made from v1's schema; v2 and v3 come in a later run
            kafka.produce(topic, [(k.encode(), raw) for k, _, _, raw in produced], partition=0)
            first = run_cli("run", config, "--bootstrap-servers", kafka.servers)
            assert first.returncode == 0, first.stderr[-3000:]
    assert len(ids) == 3
    kafka.produce(topic, [(k.encode(), raw) for k, _, _, raw in produced[3:]], partition=0)

    second = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert second.returncode == 0, second.stderr[-3000:]
    found = {k: source for k, (_, source) in documents(opensearch, topic).items()}
    expected = {}
    for key, version, i, _ in produced:
        expected[key] = profile(version, i)
        if version == 2:
            # read in one bundle with v3 records, a v2 record is written with the unified schema:
            # v3's email is there as null (Confluent's sink, which converts each record with its own
            # schema, leaves it out)
            expected[key]["email"] = None
    assert found == expected
    properties = opensearch.request("GET", "/%s/_mapping" % topic)[topic]["mappings"]["properties"]
    assert {"score", "level", "email"} <= set(properties)
    assert json.dumps(properties["id"]) == '{"type": "long"}'
