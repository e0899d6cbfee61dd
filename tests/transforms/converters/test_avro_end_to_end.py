"""Avro from a real Schema Registry through ``python -m pipelines run`` into Parquet files, read back.

Records are written by confluent-kafka's AvroSerializer against the registry the ``schema_registry``
fixture gives, to the suite's Kafka broker; the run reads them with AvroConverter and the file sink
writes Parquet; a record with a bad magic byte goes to the dead-letter topic.
"""

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.helpers import run_cli
from tests.transforms.converters.registry_runs import check_dead_letter, check_rows, run_to_parquet
from tests.transforms.converters.avro_records import ALL_TYPES_TEXT, expected, record

AVRO = "io.confluent.connect.avro.AvroConverter"


def test_avro_topic_lands_in_parquet_field_by_field(kafka, schema_registry, tmp_path):
    serializer = AvroSerializer(SchemaRegistryClient({"url": schema_registry.url}), ALL_TYPES_TEXT)

    rows, schema, letters = run_to_parquet(
        kafka, tmp_path, "avro", AVRO, schema_registry.url,
        lambda i, topic: serializer(record(i), SerializationContext(topic, MessageField.VALUE)))

    check_rows(rows, expected)
    assert str(schema.field("price").type) == "decimal128(10, 2)"
    assert str(schema.field("ts_ms").type).startswith("timestamp[ms")
    assert str(schema.field("day").type) == "date32[day]"
    assert [f.name for f in schema.field("choice").type] == ["int", "string", "Sub"]
    check_dead_letter(letters, AVRO)


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
