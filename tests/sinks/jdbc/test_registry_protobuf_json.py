"""Protobuf and JSON Schema from a real Schema Registry into PostgreSQL through ``python -m pipelines run``:
every type field by field and the columns ``auto.create`` makes (Protobuf's nested messages through
Flatten and without it as JSONB, JSON Schema's nested objects as JSONB), logical types inside maps and
arrays, schema evolution over three versions of one subject with ``auto.evolve=true``, and records the
converter refuses (a bad magic byte, an unknown schema id) dead-lettered with their coordinates while the
others land.

Records are written by confluent-kafka's ProtobufSerializer and JSONSerializer against the registry
(Apicurio's Confluent-compatible API); the run reads them with
``io.confluent.connect.protobuf.ProtobufConverter`` and ``io.confluent.connect.json.JsonSchemaConverter``.
The every-type records are the converter tests' own (:mod:`tests.transforms.converters.protobuf_records`,
:mod:`tests.transforms.converters.json_schema_records`).

Arrays, maps and structs left unflattened become JSONB columns holding what Kafka's JsonConverter writes
for them (a map with string keys an object, other maps arrays of ``[key, value]`` pairs): Confluent's
JDBC sink refuses them (``Unsupported source data type``), and this sink already writes Avro's that way.
Kafka's Flatten refuses a schema holding a map, so the Protobuf message's maps are dropped before it.
"""

import datetime
import decimal
import uuid

import pytest

from tests.helpers import run_cli, write_config
from tests.sinks.registry_records import (
    READINGS_EPOCH_MS, READINGS_TEXT, check_refused, converter_config, dead_letter_config, jdbc_config,
    json_serializer, primary_key, profile, profile_key_serializer, profile_serializer, protobuf_serializer,
    query, reading, registry_fixture, registry_fixture_is_shared, schema_id, table_columns, table_rows,
    with_refused)
from tests.transforms.converters import json_schema_records, protobuf_records

if not registry_fixture_is_shared():  # the fixture lives in tests/transforms/converters/conftest.py
    schema_registry_fixture = registry_fixture

HIDDEN = {"__connect_topic": "text", "__connect_partition": "integer", "__connect_offset": "bigint"}
#: Flatten, after the maps are dropped: Connect's Flatten fails a record whose schema holds a map.
FLATTEN = {"transforms": "nomaps,flatten",
           "transforms.nomaps.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
           "transforms.nomaps.exclude": "attrs,by_id",
           "transforms.flatten.type": "org.apache.kafka.connect.transforms.Flatten$Value",
           "transforms.flatten.delimiter": "_"}
UPSERT = {"insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "id"}
#: Where the refused records go among the good ones (positions in the topic).
BAD_AT = (3, 7)


def _check_rows(postgres, topic, expected_rows, offsets):
    """Every row equals ``expected_rows[id]`` column by column, with the Python type of the value (JSONB
    columns by value: JSON has no widths), and carries its record's coordinates."""
    columns = table_columns(postgres, topic)
    names = ["id"] + sorted(set(columns) - {"id"})
    rows = table_rows(postgres, topic, names)
    assert sorted(rows) == sorted(expected_rows)
    for i, want in expected_rows.items():
        row = rows[i]
        want = {**want, "__connect_topic": topic, "__connect_partition": 0, "__connect_offset": offsets[i]}
        assert sorted(row) == sorted(want), i
        for name, value in want.items():
            got = row[name]
            if isinstance(got, memoryview):
                got = bytes(got)
            assert got == value, (i, name, got, value)
            if columns[name][0] != "jsonb":
                assert type(got) is type(value), (i, name, type(got), type(value))


def _protobuf_row(i: int) -> dict:
    """The row of ``protobuf_records.record(i)`` after :data:`FLATTEN` (``_`` between names)."""
    full = i % 3 != 2
    choice = [None, None, None]
    if full:
        choice[i % 3] = [i, "s%d" % i, i][i % 3]
    return {
        "id": i, "flag": i % 2 == 0, "count": i * 10, "s32": -5 - i, "sf32": -70000 - i,
        "u32": 4_000_000_000 + i, "f32": 3_000_000_000 + i, "s64": -(1 << 40) - i, "sf64": -(1 << 50),
        "u64": -1 - i, "f64": -(1 << 63) + i, "ratio": 0.5 + i, "score": 1e10 + i, "name": "n%d" % i,
        "blob": bytes([i, 0, 255]), "color": "GREEN" if i % 2 else "RED", "tags": ["a", "b%d" % i],
        "sub_x": -i if full else None, "subs": [{"x": 1}, {"x": i}],
        "choice_0_choice_int": choice[0], "choice_0_choice_str": choice[1],
        "choice_0_choice_sub_x": choice[2],
        "ts": datetime.datetime(2024, 5, 6, 7, 8, 9 + i, 123000) if full else None,
        "day": datetime.date(2024, 1, 1 + i) if full else None,
        "tod": datetime.time(1, 2, 3, 4000) if full else None,
        "price": decimal.Decimal("%d.%02d" % (i, i % 100)) if full else None,
        "note_value": "note %d" % i if full else None, "maybe_value": -i if full else None,
        "nick": "nick%d" % i if full else None, "small": -300 - i,
    }


def test_protobuf_every_type_lands_field_by_field_through_flatten(kafka, postgres, schema_registry,
                                                                  tmp_path):
    topic = kafka.topic(partitions=1, prefix="proto_jdbc")
    dlq = "dlq-%s" % uuid.uuid4().hex[:10]
    order = protobuf_records.order_class()
    serialize = protobuf_serializer(schema_registry.url, order, topic)
    values = with_refused([serialize(protobuf_records.record(order, i)) for i in range(9)], BAD_AT)
    kafka.produce(topic, [(b"k%d" % n, v) for n, v in enumerate(values)], partition=0)
    config = write_config(tmp_path / "c.json", jdbc_config(
        topic, postgres, converter_config(schema_registry.url, "protobuf"), **FLATTEN, **UPSERT,
        **dead_letter_config(dlq)))

    result = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert result.returncode == 0, result.stderr[-3000:]
    assert postgres.password not in result.stdout + result.stderr
    columns = table_columns(postgres, topic)
    assert {name: kind for name, (kind, _) in columns.items()} == {
        "id": "bigint", "flag": "boolean", "count": "integer", "s32": "integer", "sf32": "integer",
        "u32": "bigint", "f32": "bigint", "s64": "bigint", "sf64": "bigint", "u64": "bigint",
        "f64": "bigint", "ratio": "real", "score": "double precision", "name": "text", "blob": "bytea",
        "color": "text", "tags": "jsonb", "sub_x": "integer", "subs": "jsonb",
        "choice_0_choice_int": "integer", "choice_0_choice_str": "text", "choice_0_choice_sub_x": "integer",
        "ts": "timestamp without time zone", "day": "date", "tod": "time without time zone",
        "price": "numeric", "note_value": "text", "maybe_value": "bigint", "nick": "text",
        "small": "smallint", **HIDDEN}
    # every Protobuf field is optional by default (ProtobufData), so only the primary key is NOT NULL
    assert {name for name, (_, nullable) in columns.items() if nullable == "NO"} == {"id"}
    assert primary_key(postgres, topic) == ["id"]
    good = [n for n in range(len(values)) if n not in BAD_AT]
    offsets = dict(enumerate(good))
    _check_rows(postgres, topic, {i: _protobuf_row(i) for i in range(9)}, offsets)
    check_refused(kafka.servers, dlq, topic, values, BAD_AT, "protobuf")
    assert kafka.committed("connect-jdbc-" + topic, topic, 1) == {0: len(values)}


def test_protobuf_nested_messages_maps_and_oneofs_land_as_jsonb(kafka, postgres, schema_registry,
                                                               tmp_path):
    """Without Flatten: messages, wrappers, the oneof's union struct, repeated fields and maps are JSONB
    columns holding JsonConverter's JSON of them (``map<int32, Sub>`` as ``[key, value]`` pairs)."""
    topic = kafka.topic(partitions=1, prefix="proto_jdbc_json")
    order = protobuf_records.order_class()
    serialize = protobuf_serializer(schema_registry.url, order, topic)
    kafka.produce(topic, [(b"k%d" % i, serialize(protobuf_records.record(order, i))) for i in range(6)],
                  partition=0)
    config = write_config(tmp_path / "c.json", jdbc_config(
        topic, postgres, converter_config(schema_registry.url, "protobuf"), **UPSERT))

    result = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert result.returncode == 0, result.stderr[-3000:]
    nested = ["choice_0", "sub", "subs", "tags", "attrs", "by_id", "note", "maybe"]
    columns = table_columns(postgres, topic)
    assert {c: columns[c] for c in nested} == {c: ("jsonb", "YES") for c in nested}
    assert {c: columns[c][0] for c in ("ts", "day", "tod", "price", "nick")} == {
        "ts": "timestamp without time zone", "day": "date", "tod": "time without time zone",
        "price": "numeric", "nick": "text"}
    rows = table_rows(postgres, topic, ["id"] + nested)
    for i in range(6):
        full = i % 3 != 2
        choice = None
        if full:
            choice = {"choice_int": None, "choice_str": None, "choice_sub": None}
            choice[["choice_int", "choice_str", "choice_sub"][i % 3]] = [i, "s%d" % i, {"x": i}][i % 3]
        assert rows[i] == {
            "id": i, "choice_0": choice, "sub": {"x": -i} if full else None, "subs": [{"x": 1}, {"x": i}],
            "tags": ["a", "b%d" % i], "attrs": {"k": 1.5 * i}, "by_id": [[i, {"x": -i}]],
            "note": {"value": "note %d" % i} if full else None,
            "maybe": {"value": -i} if full else None}, i


def _json_row(i: int) -> dict:
    """The row of ``json_schema_records.record(i)``, nested objects, arrays and maps as JSON."""
    source = json_schema_records.record(i)
    converted = json_schema_records.expected(i)
    row = dict(converted)
    row["ts_ms"] = converted["ts_ms"].replace(tzinfo=None)
    row["attrs"] = source["attrs"]
    row["by_id"] = [[i, "v%d" % i]]  # a map with int32 keys: [key, value] pairs, as JsonConverter
    return row


def test_json_schema_every_type_lands_field_by_field_nested_as_jsonb(kafka, postgres, schema_registry,
                                                                     tmp_path):
    topic = kafka.topic(partitions=1, prefix="jsonschema_jdbc")
    dlq = "dlq-%s" % uuid.uuid4().hex[:10]
    serialize = json_serializer(schema_registry.url, json_schema_records.ALL_TYPES_TEXT, topic)
    values = with_refused([serialize(json_schema_records.record(i)) for i in range(9)], BAD_AT)
    kafka.produce(topic, [(b"k%d" % n, v) for n, v in enumerate(values)], partition=0)
    config = write_config(tmp_path / "c.json", jdbc_config(
        topic, postgres, converter_config(schema_registry.url, "json_schema"), **UPSERT,
        **dead_letter_config(dlq)))

    result = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert result.returncode == 0, result.stderr[-3000:]
    columns = table_columns(postgres, topic)
    assert {name: kind for name, (kind, _) in columns.items()} == {
        "id": "bigint", "flag": "boolean", "tiny": "smallint", "small": "smallint", "medium": "integer",
        "ratio": "real", "score": "double precision", "blob": "bytea", "name": "text", "price": "numeric",
        "price_b64": "numeric", "day": "date", "time_ms": "time without time zone",
        "ts_ms": "timestamp without time zone", "note": "text", "nick": "text", "choice": "jsonb",
        "color": "text", "kind": "text", "tags": "jsonb", "attrs": "jsonb", "by_id": "jsonb",
        "sub": "jsonb", "subs": "jsonb", "count": "integer", **HIDDEN}
    # properties outside "required" are required Connect fields too (JsonSchemaData's default: count,
    # with its default 7); only a oneOf of null and a schema, or a type list with null, is optional
    assert {name for name, (_, nullable) in columns.items() if nullable == "YES"} == {
        "note", "nick", "sub", *HIDDEN}
    assert primary_key(postgres, topic) == ["id"]
    good = [n for n in range(len(values)) if n not in BAD_AT]
    _check_rows(postgres, topic, {i: _json_row(i) for i in range(9)}, dict(enumerate(good)))
    check_refused(kafka.servers, dlq, topic, values, BAD_AT, "json_schema")
    assert kafka.committed("connect-jdbc-" + topic, topic, 1) == {0: len(values)}


def test_logical_types_inside_maps_and_arrays_are_exact_json_text(kafka, postgres, schema_registry,
                                                                    tmp_path):
    """Decimals, timestamps and dates as map values and in arrays of objects, in JSONB columns: a
    decimal as the JSON string of its exact text, a date as ISO text, a timestamp as ISO text with its
    UTC offset (``(prices->>'a')::numeric`` and ``::timestamptz`` read them back)."""
    topic = kafka.topic(partitions=1, prefix="jsonschema_readings")
    serialize = json_serializer(schema_registry.url, READINGS_TEXT, topic)
    kafka.produce(topic, [(b"r%d" % i, serialize(reading(i))) for i in range(4)], partition=0)
    config = write_config(tmp_path / "c.json", jdbc_config(
        topic, postgres, converter_config(schema_registry.url, "json_schema"), **UPSERT))

    result = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert result.returncode == 0, result.stderr[-3000:]
    columns = table_columns(postgres, topic)
    assert {c: columns[c] for c in ("prices", "seen", "days", "events")} == {
        c: ("jsonb", "NO") for c in ("prices", "seen", "days", "events")}
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

    def moment(ms):
        return str(epoch + datetime.timedelta(milliseconds=ms))

    rows = table_rows(postgres, topic, ["id", "prices", "seen", "days", "events"])
    assert rows == {i: {
        "id": i, "prices": {"a": "%d.25" % i, "b": "-3.03"},
        "seen": {"first": moment(READINGS_EPOCH_MS + i), "last": moment(READINGS_EPOCH_MS + 86_400_000)},
        "days": [[i, str(datetime.date(2024, 1, 1) + datetime.timedelta(days=i))]],
        "events": [{"at": moment(READINGS_EPOCH_MS - i), "amount": "%d.50" % (1 + i)}]} for i in range(4)}
    assert rows[1]["seen"]["first"] == "2024-05-06 07:08:09.124000+00:00"
    assert query(postgres, """SELECT (prices->>'a')::numeric, (seen->>'first')::timestamptz FROM "%s"
                              WHERE id = 1""" % topic) == [
        (decimal.Decimal("1.25"), datetime.datetime(2024, 5, 6, 7, 8, 9, 124000, tzinfo=epoch.tzinfo))]


def _produce_version(kafka, topic, key, value, version, ids):
    records = [(key(i), value(version, profile(version, i))) for i in ids]
    kafka.produce(topic, records, partition=0)
    return {schema_id(v) for _, v in records}


@pytest.mark.parametrize("fmt", ["protobuf", "json_schema"])
def test_three_versions_of_a_subject_evolve_the_table(fmt, kafka, postgres, schema_registry, tmp_path):
    """Keys and values in ``fmt``, ``pk.mode=record_key``: the table gains v2's and v3's fields."""
    topic = kafka.topic(partitions=1, prefix="%s_evolve" % fmt)
    key = profile_key_serializer(schema_registry.url, fmt, topic)
    value = profile_serializer(schema_registry.url, fmt, topic)
    config = write_config(tmp_path / "c.json", jdbc_config(
        topic, postgres, converter_config(schema_registry.url, fmt, key=fmt), **{
            "insert.mode": "upsert", "pk.mode": "record_key", "pk.fields": "id", "auto.evolve": "true"}))
    columns = ["id", "name", "attrs", "score", "level", "email"]
    groups = ((1, range(0, 4)), (2, range(4, 8)), (3, [0, 1, 8, 9]))

    ids = _produce_version(kafka, topic, key, value, 1, groups[0][1])
    first = run_cli("run", config, "--bootstrap-servers", kafka.servers)
    assert first.returncode == 0, first.stderr[-3000:]
    assert set(table_columns(postgres, topic)) == {"id", "name", "attrs", *HIDDEN}
    # a proto3 field is optional in Connect (ProtobufData); a required JSON Schema property is not
    required_name = "YES" if fmt == "protobuf" else "NO"
    assert table_columns(postgres, topic)["name"] == ("text", required_name)

    for version, group in groups[1:]:
        ids |= _produce_version(kafka, topic, key, value, version, group)
    assert len(ids) == 3
    second = run_cli("run", config, "--bootstrap-servers", kafka.servers)
    assert second.returncode == 0, second.stderr[-3000:]
    found = table_columns(postgres, topic)
    assert {c: found[c] for c in columns} == {
        "id": ("bigint", "NO"), "name": ("text", required_name), "attrs": ("jsonb", required_name),
        "score": ("integer", "YES"), "level": ("text", "YES"), "email": ("text", "YES")}

    def expected():
        out = {}
        for version, group in groups:
            for i in group:
                value = profile(version, i)
                out[i] = {c: value.get(c) for c in columns}
        if fmt == "json_schema":  # rows before v2 get the columns it added with its defaults
            for i in (2, 3):
                out[i].update(score=5, level="basic")
        return out  # (proto3 fields have no defaults: those rows keep NULL there)

    assert table_rows(postgres, topic, columns) == expected()

    replay = run_cli("run", config, "--bootstrap-servers", kafka.servers, "--from", "earliest")
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert table_rows(postgres, topic, columns) == expected()
    assert query(postgres, 'SELECT id, "__connect_offset" FROM "%s" WHERE id IN (0, 1) ORDER BY id'
                 % topic) == [(0, 8), (1, 9)]
    assert kafka.committed("connect-jdbc-" + topic, topic, 1) == {0: 12}

    # v3 made name optional; auto.evolve only adds columns (as Confluent's sink): a v3 record with no
    # name lands in Protobuf's nullable column, and is refused by JSON Schema's NOT NULL one, naming the
    # record, with nothing of it committed
    kafka.produce(topic, [(key(20), value(3, {**profile(3, 20), "name": None}))], partition=0)
    third = run_cli("run", config, "--bootstrap-servers", kafka.servers)
    if fmt == "protobuf":
        assert third.returncode == 0, third.stderr[-3000:]
        assert table_rows(postgres, topic, columns)[20] == {
            "id": 20, "name": None, "attrs": {"v": 3, "i": 20}, "score": 320, "level": "silver",
            "email": None}
        assert kafka.committed("connect-jdbc-" + topic, topic, 1) == {0: 13}
    else:
        assert third.returncode == 1
        err = " ".join(third.stderr.split())
        assert "failed on record topic=%s partition=0 offset=12" % topic in err, err[-3000:]
        assert 'null value in column "name"' in err, err[-3000:]
        assert kafka.committed("connect-jdbc-" + topic, topic, 1) == {0: 12}
        assert 20 not in table_rows(postgres, topic, columns)
