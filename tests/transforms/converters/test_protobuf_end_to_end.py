"""Protobuf from a real Schema Registry through ``python -m pipelines run`` into Parquet files, read back.

Records are written by confluent-kafka's ProtobufSerializer against the registry the ``schema_registry``
fixture gives, to the suite's Kafka broker; the run reads them with ProtobufConverter and the file sink
writes Parquet; a record with a bad magic byte goes to the dead-letter topic.
"""

import glob
import json
import os
import uuid

import pyarrow.parquet as pq
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.helpers import read_messages, run_cli
from tests.transforms.converters.protobuf_records import expected, order_class, record


def test_protobuf_topic_lands_in_parquet_field_by_field(kafka, schema_registry, tmp_path):
    topic = kafka.topic(partitions=1, prefix="protobuf")
    dlq = "dlq-%s" % uuid.uuid4().hex[:10]
    order = order_class()
    serialize = ProtobufSerializer(order, SchemaRegistryClient({"url": schema_registry.url}),
                                   {"use.deprecated.format": False})
    context = SerializationContext(topic, MessageField.VALUE)
    values = [serialize(record(order, i), context) for i in range(12)]
    values.insert(5, b"\x07not protobuf")
    kafka.produce(topic, [(b"k%d" % i, v) for i, v in enumerate(values)], partition=0)
    config = tmp_path / "protobuf.json"
    config.write_text(json.dumps({
        "name": "protobuf-%s" % topic, "connector.class": "files", "topics": topic,
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "io.confluent.connect.protobuf.ProtobufConverter",
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
    rows = [row for path in files for row in pq.read_table(path).to_pylist()]
    assert [r["id"] for r in rows] == list(range(12))
    for i, row in enumerate(rows):
        for name, value in expected(i).items():
            assert row[name] == value, (i, name)
    schema = pq.read_table(files[0]).schema
    assert str(schema.field("price").type) == "decimal128(10, 2)"
    assert str(schema.field("ts").type).startswith("timestamp[ms")
    assert str(schema.field("day").type) == "date32[day]"
    assert [f.name for f in schema.field("choice_0").type] == ["choice_int", "choice_str", "choice_sub"]

    letters = read_messages(kafka.servers, dlq, 1)
    assert [m.value() for m in letters] == [b"\x07not protobuf"]
    headers = dict(letters[0].headers())
    assert headers["__connect.errors.offset"] == b"5"
    assert headers["__connect.errors.stage"] == b"VALUE_CONVERTER"
    assert headers["__connect.errors.class.name"] == b"io.confluent.connect.protobuf.ProtobufConverter"
    assert b"Unknown magic byte!" in headers["__connect.errors.exception.message"]
