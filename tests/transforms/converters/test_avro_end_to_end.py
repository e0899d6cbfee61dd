"""Avro from a real Schema Registry through ``python -m pipelines run`` into Parquet files, read back.

Records are written by confluent-kafka's AvroSerializer against the registry the ``schema_registry``
fixture gives, to the suite's Kafka broker; the run reads them with AvroConverter and the file sink
writes Parquet; a record with a bad magic byte goes to the dead-letter topic.
"""

import glob
import json
import os
import uuid

import pyarrow.parquet as pq
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.helpers import read_messages, run_cli
from tests.transforms.converters.avro_records import ALL_TYPES_TEXT, expected, record


def test_avro_topic_lands_in_parquet_field_by_field(kafka, schema_registry, tmp_path):
    topic = kafka.topic(partitions=1, prefix="avro")
    dlq = "dlq-%s" % uuid.uuid4().hex[:10]
    serialize = AvroSerializer(SchemaRegistryClient({"url": schema_registry.url}), ALL_TYPES_TEXT)
    context = SerializationContext(topic, MessageField.VALUE)
    values = [serialize(record(i), context) for i in range(12)]
    values.insert(5, b"\x07not avro")
    kafka.produce(topic, [(b"k%d" % i, v) for i, v in enumerate(values)], partition=0)
    config = tmp_path / "avro.json"
    config.write_text(json.dumps({
        "name": "avro-%s" % topic, "connector.class": "files", "topics": topic,
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "io.confluent.connect.avro.AvroConverter",
        "value.converter.schema.registry.url": schema_registry.url,
        "store.url": str(tmp_path / "out"), "format.class": "parquet", "flush.size": "5",
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true",
    }))

    result = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert result.returncode == 0, result.stderr[-3000:]
    files = sorted(glob.glob(os.path.join(str(tmp_path / "out"), "topics", topic, "partition=0",
                                          "*.parquet")))
    assert files
    table = pq.read_table(files[0])
    rows = [row for path in files for row in pq.read_table(path).to_pylist()]
    assert [r["id"] for r in rows] == list(range(12))
    for i, row in enumerate(rows):
        for name, value in expected(i).items():
            assert row[name] == value, (i, name)
    schema = table.schema
    assert str(schema.field("price").type) == "decimal128(10, 2)"
    assert str(schema.field("ts_ms").type).startswith("timestamp[ms")
    assert str(schema.field("day").type) == "date32[day]"
    assert [f.name for f in schema.field("choice").type] == ["int", "string", "Sub"]

    letters = read_messages(kafka.servers, dlq, 1)
    assert [m.value() for m in letters] == [b"\x07not avro"]
    headers = dict(letters[0].headers())
    assert headers["__connect.errors.offset"] == b"5"
    assert headers["__connect.errors.stage"] == b"VALUE_CONVERTER"
    assert headers["__connect.errors.class.name"] == b"io.confluent.connect.avro.AvroConverter"
    assert b"Unknown magic byte!" in headers["__connect.errors.exception.message"]


def test_unknown_schema_id_stops_the_run_naming_the_record(kafka, schema_registry, tmp_path):
    topic = kafka.topic(partitions=1, prefix="avro")
    serialize = AvroSerializer(SchemaRegistryClient({"url": schema_registry.url}), ALL_TYPES_TEXT)
    context = SerializationContext(topic, MessageField.VALUE)
    good = serialize(record(0), context)
    unknown = b"\x00" + (876543).to_bytes(4, "big") + good[5:]
    kafka.produce(topic, [(b"a", good), (b"b", good), (b"c", unknown), (b"d", good)], partition=0)
    config = tmp_path / "avro.properties"
    config.write_text("\n".join("%s=%s" % kv for kv in {
        "name": "avro-%s" % topic, "connector.class": "files", "topics": topic,
        "value.converter": "io.confluent.connect.avro.AvroConverter",
        "value.converter.schema.registry.url": schema_registry.url,
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "store.url": str(tmp_path / "out"), "format.class": "parquet", "flush.size": "2"}.items()))

    result = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert result.returncode == 1
    err = " ".join(result.stderr.split())
    assert ("VALUE_CONVERTER (io.confluent.connect.avro.AvroConverter) failed on record topic=%s "
            "partition=0 offset=2" % topic) in err
    assert "Error retrieving Avro schema for id 876543" in err
    assert kafka.committed("connect-avro-%s" % topic, topic, 1) == {0: -1001}


def test_unreachable_registry_stops_the_run_with_nothing_committed(kafka, schema_registry, tmp_path):
    topic = kafka.topic(partitions=1, prefix="avro")
    serialize = AvroSerializer(SchemaRegistryClient({"url": schema_registry.url}), ALL_TYPES_TEXT)
    kafka.produce(topic, [(b"a", serialize(record(0), SerializationContext(topic, MessageField.VALUE)))],
                  partition=0)
    config = tmp_path / "avro.properties"
    config.write_text("\n".join("%s=%s" % kv for kv in {
        "name": "avro-%s" % topic, "connector.class": "files", "topics": topic,
        "value.converter": "io.confluent.connect.avro.AvroConverter",
        "value.converter.schema.registry.url": "http://reader:s3cret@127.0.0.1:9/apis/ccompat/v7",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "store.url": str(tmp_path / "out"), "format.class": "parquet", "flush.size": "2"}.items()))

    result = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert result.returncode == 1
    assert ("the Schema Registry at http://127.0.0.1:9/apis/ccompat/v7 could not be reached for schema id"
            in " ".join(result.stderr.split()))
    assert "s3cret" not in result.stderr + result.stdout
    assert kafka.committed("connect-avro-%s" % topic, topic, 1) == {0: -1001}
