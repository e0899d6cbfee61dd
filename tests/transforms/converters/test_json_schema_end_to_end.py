"""JSON Schema records from a real Schema Registry through ``python -m pipelines run`` into Parquet
files, read back.

Records are written by confluent-kafka's JSONSerializer against the registry the ``schema_registry``
fixture gives, to the suite's Kafka broker; the run reads them with JsonSchemaConverter and the file
sink writes Parquet; a record with a bad magic byte goes to the dead-letter topic.
"""

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.transforms.converters.registry_runs import check_dead_letter, check_rows, run_to_parquet
from tests.transforms.converters.json_schema_records import ALL_TYPES_TEXT, expected, record

JSON_SCHEMA = "io.confluent.connect.json.JsonSchemaConverter"


def test_json_schema_topic_lands_in_parquet_field_by_field(kafka, schema_registry, tmp_path):
    serializer = JSONSerializer(ALL_TYPES_TEXT, SchemaRegistryClient({"url": schema_registry.url}))

    rows, schema, letters = run_to_parquet(
        kafka, tmp_path, "jsonschema", JSON_SCHEMA, schema_registry.url,
        lambda i, topic: serializer(record(i), SerializationContext(topic, MessageField.VALUE)))

    check_rows(rows, expected)
    assert str(schema.field("price").type) == "decimal128(10, 2)"
    assert str(schema.field("ts_ms").type).startswith("timestamp[ms")
    assert str(schema.field("day").type) == "date32[day]"
    assert str(schema.field("tiny").type) == "int8"
    assert [f.name for f in schema.field("choice").type] == [
        "io.confluent.connect.json.OneOf.field.%d" % n for n in range(3)]
    check_dead_letter(letters, JSON_SCHEMA)
