"""AvroConverter's block path (records of one flat schema decoded in one call) against its per-record
path, with records written by confluent-kafka's AvroSerializer against the real registry."""

import json
import math
import uuid

import pyarrow as pa
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from transforms.converters import avro_blocks, make_converter

AVRO = "io.confluent.connect.avro.AvroConverter"
FLAT = {"type": "record", "name": "Event", "namespace": "bench", "fields": [
    {"name": "id", "type": "long"}, {"name": "n", "type": "int"},
    {"name": "user", "type": "string"}, {"name": "amount", "type": "double"},
    {"name": "ratio", "type": "float"}, {"name": "ok", "type": "boolean"},
    {"name": "blob", "type": "bytes"}, {"name": "note", "type": ["null", "string"], "default": None},
    {"name": "score", "type": ["long", "null"]}]}


def _record(i):
    return {"id": 10 ** 12 + i, "n": -i, "user": "usér-%d" % i, "amount": i * 1.25, "ratio": 0.5,
            "ok": i % 2 == 0, "blob": bytes([i % 256, 0, 255]),
            "note": None if i % 3 else "n%d" % i, "score": None if i % 5 == 0 else i}


def _batch(url, schema=FLAT, count=100, tombstones=(7, 50)):
    context = SerializationContext("blk-%s" % uuid.uuid4().hex[:10], MessageField.VALUE)
    serialize = AvroSerializer(SchemaRegistryClient({"url": url}), json.dumps(schema))
    return [None if i in tombstones else serialize(_record(i), context) for i in range(count)]


def _both(url, data):
    converter = make_converter("value.converter", AVRO, {"schema.registry.url": url})
    assert converter._blocks, "polars is installed with the suite"
    block = converter._convert_block(data)
    each = converter._convert_each(data)
    return converter, block, each


def test_a_flat_schema_decodes_as_one_block_exactly_as_record_by_record(schema_registry):
    data = _batch(schema_registry.url)
    converter, block, each = _both(schema_registry.url, data)

    assert block is not None
    assert block.values.type == each.values.type
    assert block.values.to_pylist() == each.values.to_pylist()
    assert block.schema == each.schema and block.schema.metadata == each.schema.metadata
    assert block.failures == each.failures == ()
    rows = block.values.to_pylist()
    assert rows[7] is None and rows[50] is None
    assert rows[3] == {**_record(3), "ratio": pytest.approx(0.5)}
    assert rows[3]["user"] == "usér-3" and math.isclose(rows[99]["amount"], 123.75)
    assert converter.convert(data).values.to_pylist() == rows  # convert takes the block path


def test_a_corrupt_record_falls_back_to_record_by_record_and_fails_alone(schema_registry):
    data = _batch(schema_registry.url)
    data[20] = data[20][:8]  # truncated
    converter, block, each = _both(schema_registry.url, data)

    assert block is None
    conversion = converter.convert(data)
    assert [i for i, _ in conversion.failures] == [20]
    assert "does not decode with schema id" in conversion.failures[0][1]
    assert len(conversion.values) == 99


def test_schemas_the_block_path_cannot_map_as_they_are_take_the_per_record_path(schema_registry):
    with_logical = {**FLAT, "name": "Timed", "fields": FLAT["fields"] + [
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}, "default": 0}]}
    field = pa.field("value", pa.struct([pa.field("a", pa.int64())]))
    assert avro_blocks.block_schema(with_logical, False, field) is None
    assert avro_blocks.block_schema({**FLAT, "fields": [{"name": "e", "type": {
        "type": "enum", "name": "E", "symbols": ["A"]}}]}, False, field) is None
    assert avro_blocks.block_schema({**FLAT, "fields": [
        {"name": "u", "type": ["null", "string", "long"]}]}, False, field) is None
    assert avro_blocks.block_schema(FLAT, True, field) is None  # references other schemas
    assert avro_blocks.block_schema(FLAT, False, field) is not None

    context = SerializationContext("blk-%s" % uuid.uuid4().hex[:10], MessageField.VALUE)
    serialize = AvroSerializer(SchemaRegistryClient({"url": schema_registry.url}),
                               json.dumps(with_logical))
    data = [serialize({**_record(i), "at": 1_700_000_000_000 + i}, context) for i in range(40)]
    converter, block, each = _both(schema_registry.url, data)
    assert block is None
    assert converter.convert(data).values.to_pylist() == each.values.to_pylist()


def test_batches_mixing_schema_ids_or_small_ones_take_the_per_record_path(schema_registry):
    data = _batch(schema_registry.url, count=40, tombstones=())
    other = {**FLAT, "name": "Other"}
    data[10] = _batch(schema_registry.url, schema=other, count=11, tombstones=())[10]
    converter, block, each = _both(schema_registry.url, data)
    assert block is None and each.failures == ()
    assert converter._convert_block(data[:avro_blocks.MIN_RECORDS - 1]) is None
