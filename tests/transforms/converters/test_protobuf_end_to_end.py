"""Protobuf from a real Schema Registry through ``python -m pipelines run`` into Parquet files, read back.

Records are written by confluent-kafka's ProtobufSerializer against the registry the ``schema_registry``
fixture gives, to the suite's Kafka broker; the run reads them with ProtobufConverter and the file sink
writes Parquet; a record with a bad magic byte goes to the dead-letter topic.
"""

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.transforms.converters.registry_runs import check_dead_letter, check_rows, run_to_parquet
from tests.transforms.converters.protobuf_records import expected, order_class, record

PROTOBUF = "io.confluent.connect.protobuf.ProtobufConverter"


def test_protobuf_topic_lands_in_parquet_field_by_field(kafka, schema_registry, tmp_path):
    order = order_class()
    serializer = ProtobufSerializer(order, SchemaRegistryClient({"url": schema_registry.url}),
                                    {"use.deprecated.format": False})

    rows, schema, letters = run_to_parquet(
        kafka, tmp_path, "protobuf", PROTOBUF, schema_registry.url,
        lambda i, topic: serializer(record(order, i), SerializationContext(topic, MessageField.VALUE)))

    check_rows(rows, expected)
    assert str(schema.field("price").type) == "decimal128(10, 2)"
    assert str(schema.field("ts").type).startswith("timestamp[ms")
    assert str(schema.field("day").type) == "date32[day]"
    assert [f.name for f in schema.field("choice_0").type] == ["choice_int", "choice_str", "choice_sub"]
    check_dead_letter(letters, PROTOBUF)
