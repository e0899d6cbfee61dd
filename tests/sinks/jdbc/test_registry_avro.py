"""Avro from a real Schema Registry into PostgreSQL through ``python -m pipelines run``: every type field
by field and the columns ``auto.create`` makes, through Flatten, ReplaceField and InsertField; schema
evolution over three versions of one subject with and without ``auto.evolve``; and a registry that goes
away mid-run, retried for ``errors.retry.timeout``, or not back in time.

Records are written by confluent-kafka's AvroSerializer against the registry (Apicurio's
Confluent-compatible API); the run reads them with ``io.confluent.connect.avro.AvroConverter``.
"""

import re
import time

from tests.helpers import start_cli, run_cli, write_config
from tests.sinks.registry_records import (
    ORDER_TEXT, RefusingProxy, avro_serializer, converter_config, evolving, jdbc_config, order,
    primary_key, profile, profile_key_serializer, query, registry_fixture, registry_fixture_is_shared,
    schema_id, table_columns, table_exists, table_rows)

if not registry_fixture_is_shared():  # the fixture lives in tests/transforms/converters/conftest.py
    schema_registry_fixture = registry_fixture

SMT_CHAIN = {
    "transforms": "flatten,fields,insert",
    "transforms.flatten.type": "org.apache.kafka.connect.transforms.Flatten$Value",
    "transforms.flatten.delimiter": "_",
    "transforms.fields.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
    "transforms.fields.exclude": "secret",
    "transforms.fields.renames": "name:full_name,customer_name:buyer",
    "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
    "transforms.insert.topic.field": "src_topic",
    "transforms.insert.offset.field": "src_offset",
    "transforms.insert.static.field": "origin",
    "transforms.insert.static.value": "avro",
}


def test_every_type_lands_field_by_field_through_an_smt_chain(kafka, postgres, schema_registry, tmp_path):
    topic = kafka.topic(partitions=1, prefix="avro_jdbc")
    serialize = avro_serializer(schema_registry.url, ORDER_TEXT, topic)
    produced = [(i, order(i)) for i in range(10)] + [(i, order(i, revision=1)) for i in range(3)]
    kafka.produce(topic, [(b"k%d" % i, serialize(v)) for i, v in produced], partition=0)
    config = write_config(tmp_path / "c.json", jdbc_config(
        topic, postgres, converter_config(schema_registry.url, "avro"), **SMT_CHAIN,
        **{"insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "id"}))

    result = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert result.returncode == 0, result.stderr[-3000:]
    assert postgres.password not in result.stdout + result.stderr
    columns = table_columns(postgres, topic)
    assert {name: kind for name, (kind, _) in columns.items()} == {
        "id": "bigint", "tiny": "smallint", "small": "smallint", "count": "integer", "big": "bigint",
        "ratio": "real", "score": "double precision", "flag": "boolean", "full_name": "text",
        "blob": "bytea", "price": "numeric", "day": "date", "time_ms": "time without time zone",
        "ts_ms": "timestamp without time zone", "color": "text", "note": "text", "buyer": "text",
        "customer_address_city": "text", "customer_address_zip": "integer", "tags": "jsonb",
        "src_topic": "text", "src_offset": "bigint", "origin": "text",
        "__connect_topic": "text", "__connect_partition": "integer", "__connect_offset": "bigint"}
    assert {name for name, (_, nullable) in columns.items() if nullable == "YES"} == {
        "note", "src_topic", "src_offset", "origin",
        "__connect_topic", "__connect_partition", "__connect_offset"}
    assert primary_key(postgres, topic) == ["id"]

    names = sorted(columns)
    names.remove("id")
    rows = table_rows(postgres, topic, ["id"] + names)
    newest = {i: (offset, value) for offset, (i, value) in enumerate(produced)}  # the last per id
    assert sorted(rows) == list(range(10))
    for i, (offset, value) in newest.items():
        row = rows[i]
        expected = {
            "tiny": value["tiny"], "small": value["small"], "count": value["count"], "big": value["big"],
            "ratio": value["ratio"], "score": value["score"], "flag": value["flag"],
            "full_name": value["name"], "blob": value["blob"], "price": value["price"],
            "day": value["day"], "time_ms": value["time_ms"],
            "ts_ms": value["ts_ms"].replace(tzinfo=None), "color": value["color"], "note": value["note"],
            "buyer": value["customer"]["name"], "customer_address_city": value["customer"]["address"]["city"],
            "customer_address_zip": value["customer"]["address"]["zip"], "tags": value["tags"],
            "src_topic": topic, "src_offset": offset, "origin": "avro",
            "__connect_topic": topic, "__connect_partition": 0, "__connect_offset": offset}
        for name, want in expected.items():
            got = row[name]
            if isinstance(got, memoryview):
                got = bytes(got)
            assert got == want, (i, name, got, want)
            assert type(got) is type(want), (i, name, type(got), type(want))


def _profiles_config(topic, postgres, registry_url, **overrides):
    return jdbc_config(topic, postgres, converter_config(registry_url, "avro", key="avro"), **{
        "insert.mode": "upsert", "pk.mode": "record_key", "pk.fields": "id", **overrides})


def _produce_version(kafka, topic, registry_url, version, ids):
    key = profile_key_serializer(registry_url, "avro", topic)
    value = avro_serializer(registry_url, evolving(version), topic)
    records = [(key(i), value(profile(version, i))) for i in ids]
    kafka.produce(topic, records, partition=0)
    return {schema_id(v) for _, v in records}


def test_three_versions_of_a_subject_evolve_the_table(kafka, postgres, schema_registry, tmp_path):
    topic = kafka.topic(partitions=1, prefix="avro_evolve")
    config = write_config(tmp_path / "c.json", _profiles_config(topic, postgres, schema_registry.url,
                                                                **{"auto.evolve": "true"}))
    ids = set()
    columns = ["id", "name", "attrs", "score", "level", "email"]

    ids |= _produce_version(kafka, topic, schema_registry.url, 1, range(0, 4))
    first = run_cli("run", config, "--bootstrap-servers", kafka.servers)
    assert first.returncode == 0, first.stderr[-3000:]
    assert set(table_columns(postgres, topic)) == {"id", "name", "attrs", "__connect_topic",
                                              "__connect_partition", "__connect_offset"}
    assert table_columns(postgres, topic)["name"] == ("text", "NO")

    ids |= _produce_version(kafka, topic, schema_registry.url, 2, range(4, 8))
    ids |= _produce_version(kafka, topic, schema_registry.url, 3, [0, 1, 8, 9])
    assert len(ids) == 3
    second = run_cli("run", config, "--bootstrap-servers", kafka.servers)
    assert second.returncode == 0, second.stderr[-3000:]
    found = table_columns(postgres, topic)
    assert {c: found[c] for c in columns} == {
        "id": ("bigint", "NO"), "name": ("text", "NO"), "attrs": ("jsonb", "NO"),
        "score": ("integer", "YES"), "level": ("text", "YES"), "email": ("text", "YES")}

    def expected():
        out = {}
        for version, group in ((1, range(0, 4)), (2, range(4, 8)), (3, [0, 1, 8, 9])):
            for i in group:
                value = profile(version, i)
                out[i] = {c: value.get(c) for c in columns}
        for i in (2, 3):  # v1 rows: the columns v2 added came with its defaults, as Confluent's sink
            out[i].update(score=5, level="basic")
        return out

    assert table_rows(postgres, topic, columns) == expected()
    assert query(postgres, "SELECT column_name, column_default FROM information_schema.columns WHERE "
                 "table_name = '%s' AND column_name IN ('score', 'level', 'email') ORDER BY 1"
                 % topic) == [("email", None), ("level", "'basic'::text"), ("score", "5")]

    replay = run_cli("run", config, "--bootstrap-servers", kafka.servers, "--from", "earliest")
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert table_rows(postgres, topic, columns) == expected()
    assert query(postgres, 'SELECT id, "__connect_offset" FROM "%s" WHERE id IN (0, 1) ORDER BY id'
                  % topic) == [(0, 8), (1, 9)]

    # v3 made name optional, but auto.evolve only adds columns (as Confluent's sink): a v3 record
    # with no name is refused by the NOT NULL column, naming the record, and nothing of it commits
    key = profile_key_serializer(schema_registry.url, "avro", topic)
    value = avro_serializer(schema_registry.url, evolving(3), topic)
    kafka.produce(topic, [(key(20), value({**profile(3, 20), "name": None}))], partition=0)
    nameless = run_cli("run", config, "--bootstrap-servers", kafka.servers)
    assert nameless.returncode == 1
    err = " ".join(nameless.stderr.split())
    assert ('failed on record topic=%s partition=0 offset=12' % topic) in err, err[-3000:]
    assert 'null value in column "name"' in err, err[-3000:]
    assert kafka.committed("connect-jdbc-" + topic, topic, 1) == {0: 12}
    assert 20 not in table_rows(postgres, topic, columns)


def test_without_auto_evolve_a_new_field_stops_the_run_naming_the_column(kafka, postgres,
                                                                          schema_registry, tmp_path):
    topic = kafka.topic(partitions=1, prefix="avro_noevolve")
    config = write_config(tmp_path / "c.json", _profiles_config(topic, postgres, schema_registry.url,
                                                                **{"auto.evolve": "false"}))
    _produce_version(kafka, topic, schema_registry.url, 1, range(0, 3))
    first = run_cli("run", config, "--bootstrap-servers", kafka.servers)
    assert first.returncode == 0, first.stderr[-3000:]
    group = "connect-jdbc-" + topic
    assert kafka.committed(group, topic, 1) == {0: 3}
    _produce_version(kafka, topic, schema_registry.url, 2, range(3, 6))

    second = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert second.returncode == 1
    err = " ".join(second.stderr.split())
    assert re.search(r"""table "%s" in .* lacks column\(s\) 'score', 'level' and auto.evolve=false"""
                     % re.escape(topic), err), err[-3000:]
    assert "writing records 3..5 of topic=%s partition=0" % topic in err, err[-3000:]
    assert kafka.committed(group, topic, 1) == {0: 3}
    assert sorted(r[0] for r in query(postgres, 'SELECT id FROM "%s"' % topic)) == [0, 1, 2]


def _insert_config(topic, postgres, registry_url, timeout_ms):
    return jdbc_config(topic, postgres, converter_config(registry_url, "avro"), **{
        "errors.retry.timeout": str(timeout_ms), "errors.retry.delay.max.ms": "1000", "auto.evolve": "true",
        "batch.size": "50"})


def _produce_three_versions(kafka, topic, registry_url, count):
    records, ids = [], set()
    for version in (1, 2, 3):
        value = avro_serializer(registry_url, evolving(version), topic)
        for i in range(version * 1000, version * 1000 + count):
            raw = value(profile(version, i))
            ids.add(schema_id(raw))
            records.append((b"k%d" % i, raw))
    kafka.produce(topic, records, partition=0)
    assert len(ids) == 3
    return len(records)


def test_a_registry_back_within_the_retry_timeout_writes_every_record_once(kafka, postgres,
                                                                           schema_registry, tmp_path):
    topic = kafka.topic(partitions=1, prefix="avro_retry")
    total = _produce_three_versions(kafka, topic, schema_registry.url, 40)
    proxy = RefusingProxy(schema_registry.url)
    try:
        proxy.refuse()
        config = write_config(tmp_path / "c.json", _insert_config(topic, postgres, proxy.url, 120_000))
        proc = start_cli("run", config, "--bootstrap-servers", kafka.servers)
        time.sleep(8)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert not table_exists(postgres, topic)
        proxy.accept()
        out, err = proc.communicate(timeout=240)
    finally:
        proxy.close()

    assert proc.returncode == 0, err[-3000:]
    assert re.search(r"converting the values of topic=%s partition=0 offsets 0\.\.\d+ failed \(the Schema "
                     r"Registry at %s could not be reached for schema id \d+" % (re.escape(topic),
                                                                                re.escape(proxy.url)),
                     " ".join(err.split())), err[-3000:]
    assert query(postgres, 'SELECT count(*), count(DISTINCT id) FROM "%s"' % topic) == [(total, total)]
    assert kafka.committed("connect-jdbc-" + topic, topic, 1) == {0: total}


def test_a_registry_away_past_the_retry_timeout_stops_the_run_with_nothing_written(
        kafka, postgres, schema_registry, tmp_path):
    topic = kafka.topic(partitions=1, prefix="avro_noretry")
    _produce_three_versions(kafka, topic, schema_registry.url, 10)
    proxy = RefusingProxy(schema_registry.url)
    try:
        proxy.refuse()
        config = write_config(tmp_path / "c.json", _insert_config(topic, postgres, proxy.url, 3000))
        started = time.monotonic()
        result = run_cli("run", config, "--bootstrap-servers", kafka.servers)
        elapsed = time.monotonic() - started
    finally:
        proxy.close()

    assert result.returncode == 1
    err = " ".join(result.stderr.split())
    assert "the Schema Registry at %s could not be reached for schema id" % proxy.url in err, err[-3000:]
    assert elapsed >= 3.0
    assert kafka.committed("connect-jdbc-" + topic, topic, 1) == {0: -1001}
    assert not table_exists(postgres, topic)
