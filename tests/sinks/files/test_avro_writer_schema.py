"""Avro topics archived to Avro files keep their writer's schema, as Confluent's AvroFormat writes them.

Records are written by confluent-kafka's AvroSerializer against the real registry the
``schema_registry`` fixture gives (Apicurio's Confluent-compatible API), to the suite's Kafka broker;
``python -m pipelines run`` reads them with AvroConverter and the file sink writes Avro files, which
fastavro reads back. The unit tests at the end pin the parts that need no server: the Connect schema
compiled from a writer's schema written back, the enum order kept in Connect parameters, and
schemaless values written as before.
"""

import datetime
import decimal
import glob
import io
import json
import os
import re

import fastavro
import pyarrow as pa
import pytest

from sinks.avro_schema import AvroSchemaError, avro_schema, avro_schema_of
from sinks.files.formats import make_format
from tests.helpers import run_cli
from tests.servers.apicurio import open_registry
from transforms.converters.avro_data import compile_avro
from transforms.schema import connect_field, schema_info

UTC = datetime.timezone.utc
AVRO_FORMAT = "io.confluent.connect.s3.format.avro.AvroFormat"

SUB = {"type": "record", "name": "Sub", "doc": "a part", "fields": [{"name": "x", "type": "int"}]}

#: What Connect keeps of an Avro schema, each kind once: names and namespaces, docs, defaults, an enum
#: whose symbols are not in alphabetical order, logical types, optional unions, a union of several
#: types, a record used again by name, a fixed, connect.* properties.
ORDER = {
    "type": "record", "name": "Order", "namespace": "shop", "doc": "an order",
    "connect.version": 3, "connect.parameters": {"origin": "test"},
    "fields": [
        {"name": "id", "type": "long", "doc": "the key"},
        {"name": "label", "type": "string", "default": "anon"},
        {"name": "count", "type": "int", "default": 7},
        {"name": "small", "type": {"type": "int", "connect.type": "int16"}},
        {"name": "ratio", "type": "double"},
        {"name": "flag", "type": "boolean", "default": True},
        {"name": "blob", "type": "bytes"},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "time_ms", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "ts_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "note", "type": ["null", "string"], "default": None, "doc": "optional"},
        {"name": "color", "type": {"type": "enum", "name": "Color", "doc": "the colour",
                                   "symbols": ["RED", "GREEN", "BLUE", "AMBER"]}, "default": "GREEN"},
        {"name": "choice", "type": ["null", "int", "string", SUB], "default": None},
        {"name": "sub", "type": ["null", "Sub"], "default": None},
        {"name": "subs", "type": {"type": "array", "items": "Sub"}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": "double"}},
        {"name": "fx", "type": {"type": "fixed", "name": "F4", "size": 4}},
        {"name": "customer", "type": {"type": "record", "name": "Customer", "namespace": "crm",
                                      "fields": [{"name": "name", "type": "string", "doc": "full name"},
                                                 {"name": "vip", "type": ["null", "boolean"],
                                                  "default": None}]}},
    ],
}


@pytest.fixture(scope="session")
def schema_registry():
    """The suite's Apicurio Registry (or the one ``SCHEMA_REGISTRY_URL`` names), as
    tests/transforms/converters/conftest.py gives it to the converter tests."""
    yield from open_registry()


def serializer(registry_url: str, schema_text: str, topic: str):
    """confluent-kafka's AvroSerializer for ``topic``'s values (registering ``schema_text`` under the
    topic's subject), as a function of one value."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    serialize = AvroSerializer(SchemaRegistryClient({"url": registry_url}), schema_text)
    context = SerializationContext(topic, MessageField.VALUE)
    return lambda value: serialize(value, context)


def order(i: int) -> dict:
    """Record ``i`` of ``ORDER`` as the serializer takes it; every third has its optional parts
    null."""
    full = i % 3 != 2
    return {
        "id": i, "label": "l%d" % i, "count": i * 10, "small": -300 - i, "ratio": 0.5 + i,
        "flag": i % 2 == 0, "blob": bytes([i % 256, 0, 255]),
        "price": decimal.Decimal("%d.%02d" % (i, i % 100)),
        "day": datetime.date(2024, 1, 1) + datetime.timedelta(days=i),
        "time_ms": datetime.time(1, 2, 3, 4000), "ts_ms": datetime.datetime(2024, 5, 6, 7, 8, 9, 123000,
                                                                            tzinfo=UTC),
        "note": "note %d" % i if full else None,
        "color": ["RED", "GREEN", "BLUE", "AMBER"][i % 4],
        "choice": [("shop.Sub", {"x": i}), i, "s%d" % i][i % 3] if full else None,
        "sub": {"x": -i} if full else None, "subs": [{"x": 1}, {"x": i}],
        "tags": ["a", "b%d" % i], "attrs": {"k": 1.5 * i}, "fx": b"ab%02d" % (i % 100),
        "customer": {"name": "c%d" % i, "vip": (i % 2 == 0) if full else None},
    }


def as_read(record: dict) -> dict:
    """A record as fastavro reads it: a union's record without its name."""
    choice = record["choice"]
    return {**record, "choice": choice[1] if isinstance(choice, tuple) else choice}


def profile_schema(version: int) -> dict:
    """Version 1 or 2 of one subject: v2 adds ``score`` (documented, default 5) and a symbol."""
    symbols = ["SILVER", "GOLD"] + (["PLATINUM"] if version >= 2 else [])
    fields = [{"name": "id", "type": "long"},
              {"name": "tier", "type": {"type": "enum", "name": "Tier", "symbols": symbols}}]
    if version >= 2:
        fields.append({"name": "score", "type": "int", "default": 5, "doc": "added in v2"})
    return {"type": "record", "name": "Profile", "namespace": "crm", "fields": fields}


def profile(version: int, i: int) -> dict:
    value = {"id": i, "tier": "GOLD" if i % 2 else "SILVER"}
    if version >= 2:
        value["score"] = 100 + i
    return value


def _run(kafka, schema_registry, topic, store, name, **overrides):
    config = {
        "name": name, "connector.class": "files", "topics": topic,
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "io.confluent.connect.avro.AvroConverter",
        "value.converter.schema.registry.url": schema_registry.url,
        "store.url": str(store), "format.class": AVRO_FORMAT, "flush.size": "5", **overrides}
    path = store.parent / ("%s.json" % name)
    path.write_text(json.dumps(config))
    result = run_cli("run", path, "--bootstrap-servers", kafka.servers)
    assert result.returncode == 0, result.stderr[-3000:]
    return sorted(glob.glob(os.path.join(str(store), "topics", topic, "partition=0", "*.avro")))


def _read(path):
    """``(the writer's schema as written, the records)`` of one Avro file."""
    with open(path, "rb") as f:
        reader = fastavro.reader(f)
        return json.loads(reader.metadata["avro.schema"]), list(reader)


def _shape(schema):
    """A schema as fastavro resolves it (full names, each named type defined once), without the
    ``connect.*`` properties and fastavro's own keys: names, namespaces, field order, docs, defaults,
    enum symbols, sizes and logical types are what is left to compare."""
    def strip(node):
        if isinstance(node, list):
            return [strip(n) for n in node]
        if not isinstance(node, dict):
            return node
        out = {k: strip(v) for k, v in node.items() if not k.startswith(("connect.", "__"))}
        return out["type"] if list(out) == ["type"] else out
    return strip(fastavro.parse_schema(json.loads(json.dumps(schema))))


def _field(schema, name):
    return next(f for f in schema["fields"] if f["name"] == name)


def test_avro_topic_archives_to_avro_files_with_the_writers_schema(kafka, schema_registry, tmp_path):
    topic = kafka.topic(partitions=1, prefix="avro-files")
    serialize = serializer(schema_registry.url, json.dumps(ORDER), topic)
    produced = [order(i) for i in range(10)]
    kafka.produce(topic, [(b"k%d" % i, serialize(v)) for i, v in enumerate(produced)], partition=0)

    files = _run(kafka, schema_registry, topic, tmp_path / "out", "avro-files-%s" % topic)

    assert [os.path.basename(f) for f in files] == ["%s+0+%010d.avro" % (topic, o) for o in (0, 5)]
    schemas, records = zip(*(_read(f) for f in files))
    written = schemas[0]
    assert schemas[1] == written
    assert _shape(written) == _shape(ORDER)
    assert [f["name"] for f in written["fields"]] == [f["name"] for f in ORDER["fields"]]
    assert (written["name"], written["namespace"], written["doc"]) == ("Order", "shop", "an order")
    assert written["connect.name"] == "shop.Order" and written["connect.version"] == 3
    assert written["connect.parameters"]["origin"] == "test"
    assert _field(written, "id")["doc"] == "the key"
    color = _field(written, "color")
    assert color["default"] == "GREEN"
    assert (color["type"]["name"], color["type"]["namespace"], color["type"]["doc"]) == \
        ("Color", "shop", "the colour")
    assert color["type"]["symbols"] == ["RED", "GREEN", "BLUE", "AMBER"]
    assert _field(written, "label")["default"] == "anon" and _field(written, "count")["default"] == 7
    assert _field(written, "small")["type"]["connect.type"] == "int16"
    price = _field(written, "price")["type"]
    assert (price["type"], price["logicalType"], price["precision"], price["scale"]) == \
        ("bytes", "decimal", 10, 2)
    assert _field(written, "ts_ms")["type"]["logicalType"] == "timestamp-millis"
    assert _field(written, "note")["type"] == ["null", "string"]
    assert _field(written, "sub")["type"] == ["null", "shop.Sub"]  # defined once, in ``choice``
    assert (_field(written, "customer")["type"]["name"], _field(written, "customer")["type"]["namespace"]) \
        == ("Customer", "crm")
    rows = [r for part in records for r in part]
    assert len(rows) == len(produced)
    for i, (row, sent) in enumerate(zip(rows, produced)):
        for name, value in as_read(sent).items():
            assert row[name] == value, (i, name, row[name], value)

    again = _run(kafka, schema_registry, topic, tmp_path / "replay", "avro-files-replay-%s" % topic)

    assert [os.path.basename(f) for f in again] == [os.path.basename(f) for f in files]
    for first, second in zip(files, again):
        with open(first, "rb") as a, open(second, "rb") as b:
            assert a.read() == b.read(), os.path.basename(first)


def test_each_schema_version_gets_files_with_its_own_schema(kafka, schema_registry, tmp_path):
    topic = kafka.topic(partitions=1, prefix="avro-versions")
    first = serializer(schema_registry.url, json.dumps(profile_schema(1)), topic)
    second = serializer(schema_registry.url, json.dumps(profile_schema(2)), topic)
    plan = [1, 1, 1, 2, 2, 2, 1, 1]  # v1, then v2, then v1 again: three files under NONE
    produced = [profile(v, i) for i, v in enumerate(plan)]
    kafka.produce(topic, [(b"k%d" % i, (first if v == 1 else second)(value))
                          for i, (v, value) in enumerate(zip(plan, produced))], partition=0)

    files = _run(kafka, schema_registry, topic, tmp_path / "out", "avro-versions-%s" % topic,
                 **{"flush.size": "20", "schema.compatibility": "NONE"})

    assert [os.path.basename(f) for f in files] == ["%s+0+%010d.avro" % (topic, o) for o in (0, 3, 6)]
    read = [_read(f) for f in files]
    for (schema, rows), version, begin, end in zip(read, (1, 2, 1), (0, 3, 6), (3, 6, 8)):
        assert _shape(schema) == _shape(profile_schema(version)), version
        assert schema["connect.version"] == version
        assert _field(schema, "tier")["type"]["symbols"] == profile_schema(version)["fields"][1]["type"][
            "symbols"]
        assert rows == produced[begin:end]
    assert _field(read[1][0], "score") == {"name": "score", "type": {
        "type": "int", "connect.parameters": {"io.confluent.connect.avro.field.default": "true"}},
        "doc": "added in v2", "default": 5}

    backward = _run(kafka, schema_registry, topic, tmp_path / "backward", "avro-backward-%s" % topic,
                    **{"flush.size": "20", "schema.compatibility": "BACKWARD"})

    # v2 closes the v1 file; the v1 records after it are projected into the v2 file, which has v2's schema
    assert [os.path.basename(f) for f in backward] == ["%s+0+%010d.avro" % (topic, o) for o in (0, 3)]
    (v1, v1_rows), (v2, v2_rows) = (_read(f) for f in backward)
    assert (_shape(v1), _shape(v2)) == (_shape(profile_schema(1)), _shape(profile_schema(2)))
    assert (v1["connect.version"], v2["connect.version"]) == (1, 2)
    assert v1_rows == produced[:3]
    assert v2_rows == produced[3:6] + [{**r, "score": 5} for r in produced[6:]]


def test_compiled_connect_schema_writes_back_as_the_writers_schema():
    compiled = compile_avro(ORDER)
    values = pa.array([_as_arrow(order(i)) for i in range(3)], compiled.field.type)

    data = make_format("avro", {}).serialize_with_schema(values, compiled.field)

    reader = fastavro.reader(io.BytesIO(data))
    assert _shape(json.loads(reader.metadata["avro.schema"])) == _shape(ORDER)
    assert list(reader) == [as_read(order(i)) for i in range(3)]


def _as_arrow(record: dict) -> dict:
    """``order(i)`` as the converter hands it on: the union as a struct of branches, maps as pairs."""
    out = dict(record)
    choice = record["choice"]
    branches = {"int": None, "string": None, "Sub": None}
    if isinstance(choice, tuple):
        branches["Sub"] = choice[1]
    elif isinstance(choice, int):
        branches["int"] = choice
    elif isinstance(choice, str):
        branches["string"] = choice
    out["choice"] = branches if choice is not None else None
    out["attrs"] = list(record["attrs"].items())
    return out


def test_enum_parameters_keep_their_order_in_field_metadata():
    enum = "io.confluent.connect.avro.Enum"
    parameters = {enum: "shop.Color", enum + ".RED": "RED", enum + ".GREEN": "GREEN",
                  enum + ".BLUE": "BLUE"}

    field = connect_field("color", pa.string(), False, schema_name="shop.Color", parameters=parameters)

    assert list(schema_info(field).parameters) == list(parameters)
    schema, _ = avro_schema_of(field)
    assert schema["symbols"] == ["RED", "GREEN", "BLUE"]


def test_values_without_a_connect_schema_are_written_as_before():
    values = pa.array([{"a": 1, "b": {"c": "x"}}],
                      pa.struct([("a", pa.int64()), ("b", pa.struct([("c", pa.string())]))]))
    fmt = make_format("avro", {})

    assert fmt.serialize_with_schema(values, None) == fmt.serialize(values)
    assert avro_schema_of(None, values.type)[0] == avro_schema(values.type)[0]
    reshaped = connect_field("value", pa.struct([("a", pa.string())]), schema_name="shop.Other")
    assert fmt.serialize_with_schema(values, reshaped) == fmt.serialize(values)  # a transform changed it


def test_a_name_given_to_two_different_records_is_refused():
    inner = connect_field("x", pa.struct([("v", pa.int64())]), schema_name="shop.Part")
    other = connect_field("y", pa.struct([("w", pa.string())]), schema_name="shop.Part")
    field = pa.field("value", pa.struct([inner, other]), nullable=False)

    with pytest.raises(AvroSchemaError, match=re.escape(
            "the value schema defines the record 'shop.Part' twice, differently; an Avro schema names "
            "each type once")):
        avro_schema_of(field)


def test_one_enum_on_two_fields_with_different_defaults_is_defined_once():
    enum = {"type": "enum", "name": "Tier", "symbols": ["SILVER", "GOLD"]}
    field = compile_avro({"type": "record", "name": "Pair", "namespace": "crm", "fields": [
        {"name": "now", "type": enum, "default": "GOLD"},
        {"name": "before", "type": "Tier"}]}).field

    schema, _ = avro_schema_of(field)

    assert schema["fields"][0]["type"]["symbols"] == ["SILVER", "GOLD"]
    assert schema["fields"][0]["default"] == "GOLD"
    assert schema["fields"][1] == {"name": "before", "type": "crm.Tier"}
    values = pa.array([{"now": "GOLD", "before": "SILVER"}], field.type)
    assert list(fastavro.reader(io.BytesIO(make_format("avro", {}).serialize_with_schema(values, field)))) \
        == [{"now": "GOLD", "before": "SILVER"}]


def test_records_whose_schema_has_no_avro_schema_go_to_the_error_path(tmp_path):
    from sinks.base import Mode, WriteContext
    from sinks.files.config import CONFIG_DEF, FilesSinkConfig
    from sinks.files.sink import _WriteFileFn
    from transforms.records import ConvertedBundle

    inner = connect_field("x", pa.struct([("v", pa.int64())]), schema_name="shop.Part")
    other = connect_field("y", pa.struct([("w", pa.string())]), schema_name="shop.Part")
    schema = pa.field("value", pa.struct([inner, other]), nullable=False)
    values = pa.array([{"x": {"v": i}, "y": {"w": "a"}} for i in range(2)], schema.type)
    bundle = ConvertedBundle("t", 0, 10, [10, 11], [0, 0], pa.array(["a", "b"]), values, [None, None],
                             value_schema=schema)
    config = FilesSinkConfig.from_values(CONFIG_DEF.parse({
        "store.url": str(tmp_path), "format.class": AVRO_FORMAT, "flush.size": "10"}))

    [written] = list(_WriteFileFn(config, WriteContext(Mode.BATCH)).process(bundle))

    assert written.records == 0 and written.targets == ()
    assert [(f.offset, f.stage) for f in written.failed] == [(10, "TASK_PUT"), (11, "TASK_PUT")]
    assert written.failed[0].reason.startswith("the value schema defines the record 'shop.Part' twice")
    assert not os.path.exists(tmp_path / "topics")


def test_a_second_fixed_decimal_of_another_size_is_written_as_bytes():
    field = compile_avro({"type": "record", "name": "Prices", "fields": [
        {"name": "small", "type": {"type": "fixed", "name": "Small", "size": 8, "logicalType": "decimal",
                                   "precision": 12, "scale": 3}},
        {"name": "big", "type": {"type": "fixed", "name": "Big", "size": 16, "logicalType": "decimal",
                                 "precision": 30, "scale": 2}}]}).field
    row = {"small": decimal.Decimal("-1.125"), "big": decimal.Decimal("12345678901234567890.25")}

    data = make_format("avro", {}).serialize_with_schema(pa.array([row], field.type), field)

    reader = fastavro.reader(io.BytesIO(data))
    small, big = (f["type"] for f in json.loads(reader.metadata["avro.schema"])["fields"])
    assert (small["type"], small["size"], small["precision"], small["scale"]) == ("fixed", 8, 12, 3)
    assert (big["type"], big["logicalType"], big["precision"], big["scale"]) == ("bytes", "decimal", 30, 2)
    assert list(reader) == [row]


def test_the_keys_file_gets_the_keys_schema(tmp_path):
    from sinks.base import Mode, WriteContext
    from sinks.files.config import CONFIG_DEF, FilesSinkConfig
    from sinks.files.sink import _WriteFileFn
    from transforms.records import ConvertedBundle

    key_schema = compile_avro({"type": "record", "name": "Key", "namespace": "shop", "doc": "the key",
                               "fields": [{"name": "id", "type": "long"}]}).field
    keys = pa.array([{"id": 1}, {"id": 2}], key_schema.type)
    bundle = ConvertedBundle("t", 0, 0, [0, 1], [0, 0], keys, pa.array(["a", "b"]), [None, None],
                             key_schema=key_schema)
    config = FilesSinkConfig.from_values(CONFIG_DEF.parse({
        "store.url": str(tmp_path), "format.class": "json", "flush.size": "10", "store.kafka.keys": "true",
        "keys.format.class": AVRO_FORMAT}))

    list(_WriteFileFn(config, WriteContext(Mode.BATCH)).process(bundle))

    schema, rows = _read(tmp_path / "topics" / "t" / "partition=0" / "t+0+0000000000.keys.avro")
    assert (schema["name"], schema["namespace"], schema["doc"], schema["connect.name"]) == \
        ("Key", "shop", "the key", "shop.Key")
    assert rows == [{"id": 1}, {"id": 2}]
