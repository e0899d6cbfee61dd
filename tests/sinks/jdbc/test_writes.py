"""The JDBC sink's writes against each database: SQLite in-process, PostgreSQL and MariaDB servers."""

import decimal
import re

import pytest

from common.errors import BeamConnectError, RetriableError
from sinks.base import Mode
from sinks.jdbc.records import HIDDEN
from tests.sinks.jdbc.conftest import bundle, schema, table_name, write

UPSERT = {"auto.create": "true", "insert.mode": "upsert", "pk.mode": "record_key", "pk.fields": "id"}


def _ids(rows):
    return [r[0] for r in rows]


def test_insert_mode_without_a_key_writes_every_record(db):
    t = table_name()
    config = db.config(**{"auto.create": "true", "batch.size": "3"})
    write(config, bundle(t, [(None, {"a": i, "s": "v%d" % i}) for i in range(3)]))

    assert db.rows(t, "a, s", order="a") == [(0, "v0"), (1, "v1"), (2, "v2")]
    assert not set(HIDDEN) & set(db.columns(t))  # insert mode keeps no source coordinates


def test_insert_mode_skips_what_a_replay_brings_again(db):
    t = table_name()
    config = db.config(**{"auto.create": "true", "batch.size": "3"})
    first = bundle(t, [(None, {"a": i}) for i in range(3)])
    second = bundle(t, [(None, {"a": i}) for i in range(3, 6)], start=3)

    write(config, first)
    write(config, first, second)  # the first again (a replay), then the next
    write(config, second)

    assert _ids(db.rows(t, "a", order="a")) == [0, 1, 2, 3, 4, 5]
    assert [r for r in db.rows("__beamconnect_offsets", "table_name, kafka_topic, kafka_partition, "
                               "start_offset, end_offset") if r[0] == t] == [(t, t, 0, 0, 6)]


def test_stored_offsets_are_where_the_table_ends(db):
    from sinks.jdbc.sink import JdbcSink

    t = table_name()
    config = db.config(**{"auto.create": "true", "batch.size": "3"})
    write(config, bundle(t, [(None, {"a": i}) for i in range(3)]),
          bundle(t, [(None, {"a": i}) for i in range(6, 9)], start=6))  # 3..5 never landed

    stored = JdbcSink().stored_offsets(config, [(t, 0), (t, 1)])

    assert stored == {(t, 0): 3}


def test_a_later_window_landing_first_keeps_the_stored_offset_at_the_runs_start(db):
    from sinks.jdbc.sink import JdbcSink
    from transforms.kafka.planning import PartitionPlan

    t = table_name()
    config = db.config(**{"auto.create": "true", "batch.size": "3"})
    plans = [PartitionPlan(t, 0, 10, 19)]
    write(config, bundle(t, [(None, {"a": i}) for i in range(16, 19)], start=16, window_start=16),
          plans=plans)
    assert JdbcSink().stored_offsets(config, [(t, 0)]) == {(t, 0): 10}

    write(config, bundle(t, [(None, {"a": i}) for i in range(10, 13)], start=10), plans=plans)
    assert JdbcSink().stored_offsets(config, [(t, 0)]) == {(t, 0): 13}
    write(config, bundle(t, [(None, {"a": i}) for i in range(13, 16)], start=13), plans=plans)
    assert JdbcSink().stored_offsets(config, [(t, 0)]) == {(t, 0): 19}
    assert [r for r in db.rows("__beamconnect_offsets", "table_name, start_offset, end_offset")
            if r[0] == t] == [(t, 10, 19)]


def test_pk_mode_kafka_keys_rows_by_their_coordinates(db):
    t = table_name()
    config = db.config(**{"auto.create": "true", "pk.mode": "kafka", "insert.mode": "upsert",
                          "batch.size": "2"})
    write(config, bundle(t, [(None, {"a": 1}), (None, {"a": 2})], partition=3))

    rows = db.rows(t, "__connect_topic, __connect_partition, __connect_offset, a", order="a")
    assert rows == [(t, 3, 0, 1), (t, 3, 1, 2)]


@pytest.mark.parametrize("mode", ["insert", "upsert"])
def test_pk_mode_record_value(db, mode):
    t = table_name()
    config = db.config(**{"auto.create": "true", "pk.mode": "record_value", "pk.fields": "id",
                          "insert.mode": mode, "batch.size": "2"})
    write(config, bundle(t, [(None, {"id": 1, "v": "a"}), (None, {"id": 2, "v": "b"})]))

    assert db.rows(t, "id, v", order="id") == [(1, "a"), (2, "b")]


def test_upsert_keeps_the_last_record_per_key_and_tombstones_delete(db):
    t = table_name()
    config = db.config(**UPSERT, **{"delete.enabled": "true", "batch.size": "6"})
    write(config, bundle(t, [("a", {"v": 1}), ("b", {"v": 2}), ("a", {"v": 3}), ("c", {"v": 4}),
                             ("c", None), ("b", None)], key_string=True))

    assert db.rows(t, "id, v, __connect_offset", order="id") == [("a", 3, 2)]


def test_a_tombstone_then_a_new_record_in_one_bundle_leaves_the_new_record(db):
    t = table_name()
    config = db.config(**UPSERT, **{"delete.enabled": "true", "batch.size": "2"})
    write(config, bundle(t, [("a", {"v": 1}), ("b", {"v": 1})], key_string=True))
    write(config, bundle(t, [("a", None), ("a", {"v": 2})], key_string=True, start=2))

    assert db.rows(t, "id, v", order="id") == [("a", 2), ("b", 1)]


def test_tombstones_are_ignored_without_delete_enabled(db):
    t = table_name()
    config = db.config(**UPSERT, **{"batch.size": "2"})
    write(config, bundle(t, [("a", {"v": 1}), ("a", None)], key_string=True))

    assert db.rows(t, "id, v") == [("a", 1)]


def test_update_mode_changes_existing_rows_only(db):
    t = table_name()
    write(db.config(**UPSERT, **{"batch.size": "1"}), bundle(t, [("a", {"v": 1})], key_string=True))
    config = db.config(**{**UPSERT, "insert.mode": "update", "batch.size": "2"})
    write(config, bundle(t, [("a", {"v": 5}), ("z", {"v": 9})], key_string=True, start=1))

    assert db.rows(t, "id, v") == [("a", 5)]


def test_struct_keys_with_pk_fields(db):
    t = table_name()
    key = schema(("region", "string", {"optional": False}), ("n", "int32", {"optional": False}))
    value = schema(("region", "string"), ("n", "int32"), ("total", "float64"))
    config = db.config(**{**UPSERT, "pk.fields": "region,n", "batch.size": "3"})
    write(config, bundle(t, [({"region": "eu", "n": 1}, {"total": 1.5}),
                             ({"region": "us", "n": 1}, {"total": 2.5}),
                             ({"region": "eu", "n": 1}, {"total": 3.5})],
                         key_schema=key, value_schema=value))

    assert db.rows(t, "region, n, total", order="region") == [("eu", 1, 3.5), ("us", 1, 2.5)]


def test_replaying_a_bundle_gives_the_same_table(db):
    t = table_name()
    config = db.config(**UPSERT, **{"delete.enabled": "true", "batch.size": "4"})
    b = bundle(t, [("a", {"v": 1}), ("b", {"v": 2}), ("a", {"v": 3}), ("b", None)], key_string=True)
    write(config, b)
    before = db.rows(t, order="id")

    write(config, b, mode=Mode.STREAMING)
    write(config, b, mode=Mode.REPLAY)  # even without the offsets table's ranges

    assert db.rows(t, order="id") == before == [("a", 3, t, 0, 2)]


def test_two_bundles_of_a_partition_in_reverse_order_leave_the_newest_row(db):
    t = table_name()
    config = db.config(**UPSERT, **{"batch.size": "2", "delete.enabled": "true"})
    older = bundle(t, [("a", {"v": 1}), ("b", {"v": 1})], key_string=True)
    newer = bundle(t, [("a", {"v": 2}), ("c", {"v": 2})], key_string=True, start=2)

    write(config, newer, older)

    assert db.rows(t, "id, v, __connect_offset", order="id") == [("a", 2, 2), ("b", 1, 1), ("c", 2, 3)]
    # and a stale tombstone does not delete a newer row
    write(config, bundle(t, [("c", None)], key_string=True, start=1), mode=Mode.REPLAY)
    assert _ids(db.rows(t, "id", order="id")) == ["a", "b", "c"]


def test_auto_create_maps_every_connect_type(db):
    t = table_name()
    value = schema(
        ("id", "int64", {"optional": False}), ("i8", "int8"), ("i16", "int16"), ("i32", "int32"),
        ("f32", "float"), ("f64", "double"), ("b", "boolean"), ("s", "string"), ("raw", "bytes"),
        ("dec", "bytes", {"name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": "2"}}),
        ("day", "int32", {"name": "org.apache.kafka.connect.data.Date"}),
        ("tod", "int32", {"name": "org.apache.kafka.connect.data.Time"}),
        ("ts", "int64", {"name": "org.apache.kafka.connect.data.Timestamp"}),
        ("tags", "array", {"items": {"type": "string"}}))
    config = db.config(**{"auto.create": "true", "pk.mode": "record_value", "pk.fields": "id",
                          "batch.size": "1"})
    payload = {"id": 1, "i8": -8, "i16": 1600, "i32": 32, "f32": 1.5, "f64": 2.25, "b": True, "s": "x",
               "raw": "AAEC", "dec": "MDk=", "day": 19000, "tod": 3600000, "ts": 1700000000123,
               "tags": ["a", "b"]}
    write(config, bundle(t, [(None, payload)], value_schema=value))

    (row,) = db.rows(t, ", ".join(map(db.quote, ("id", "i8", "i16", "i32", "f32", "f64", "b", "s", "raw",
                                                 "dec", "day", "tod", "ts", "tags"))))
    assert row[:6] == (1, -8, 1600, 32, 1.5, 2.25)
    assert bool(row[6]) is True and row[7] == "x" and bytes(row[8]) == b"\x00\x01\x02"
    assert decimal.Decimal(str(row[9])) == decimal.Decimal("123.45")
    assert str(row[10]) == "2022-01-08"
    assert str(row[11]).lstrip("0").startswith("1:00:00")  # PyMySQL reads TIME as a timedelta
    assert str(row[12]).startswith("2023-11-14 22:13:20.123")
    assert row[13] in (["a", "b"], '["a","b"]', '["a", "b"]')
    columns = db.columns(t)
    assert columns["id"]["nullable"] is False and columns["s"]["nullable"] is True


def test_auto_evolve_adds_a_nullable_column(db):
    t = table_name()
    config = db.config(**{"auto.create": "true", "auto.evolve": "true", "batch.size": "1"})
    write(config, bundle(t, [(None, {"a": 1})]))
    write(config, bundle(t, [(None, {"a": 2, "b": "new"})], start=1))

    assert db.rows(t, "a, b", order="a") == [(1, None), (2, "new")]
    assert db.columns(t)["b"]["nullable"] is True


def test_a_missing_column_without_auto_evolve_stops_with_the_table_named(db):
    t = table_name()
    write(db.config(**{"auto.create": "true", "batch.size": "1"}), bundle(t, [(None, {"a": 1})]))

    with pytest.raises(BeamConnectError, match=re.escape("lacks column(s) 'b' and auto.evolve=false")):
        write(db.config(**{"batch.size": "1"}), bundle(t, [(None, {"a": 2, "b": 1})], start=1))


def test_a_missing_table_without_auto_create_stops(db):
    t = table_name()
    with pytest.raises(BeamConnectError, match=re.escape("does not exist")):
        write(db.config(), bundle(t, [(None, {"a": 1})]))


def test_schemaless_fields_appearing_later_keep_their_first_types(db):
    t = table_name()
    config = db.config(**{"auto.create": "true", "auto.evolve": "true", "batch.size": "2"})
    write(config, bundle(t, [(None, {"n": 1, "empty": None}), (None, {"n": 2, "empty": None})]))
    write(config, bundle(t, [(None, {"n": 3.0, "later": "x", "empty": "now"}),
                             (None, {"n": 4, "later": "y", "obj": {"k": [1]}})], start=2))

    rows = db.rows(t, "n, later, empty", order="n")
    assert rows == [(1, None, None), (2, None, None), (3, "x", "now"), (4, "y", None)]
    assert all(type(r[0]) is int for r in rows)  # 3.0 was cast to the column's integer type


def test_a_rejected_row_is_isolated_and_the_others_land(db):
    t = table_name()
    db.run("CREATE TABLE %s (id INTEGER PRIMARY KEY, v VARCHAR(5) NOT NULL)" % db.quote(t))
    config = db.config(**{"pk.mode": "record_value", "pk.fields": "id", "batch.size": "5"})

    (result,) = write(config, bundle(t, [(None, {"id": 1, "v": "ok"}), (None, {"id": 2, "v": None}),
                                         (None, {"id": 3, "v": "fine"}), (None, {"id": 1, "v": "dup"}),
                                         (None, {"id": 5, "v": "last"})]))

    assert db.rows(t, "id, v", order="id") == [(1, "ok"), (3, "fine"), (5, "last")]
    assert sorted(f.offset for f in result.failed) == [1, 3]
    assert all(f.stage == "TASK_PUT" for f in result.failed)
    assert result.records == 3


@pytest.mark.parametrize("db", ["postgres", "mariadb"], indirect=True)  # SQLite has no lengths
def test_a_value_too_long_is_rejected(db):
    t = table_name()
    db.run("CREATE TABLE %s (v VARCHAR(3))" % db.quote(t))
    (result,) = write(db.config(**{"batch.size": "3"}),
                      bundle(t, [(None, {"v": "abc"}), (None, {"v": "toolong"}), (None, {"v": "x"})]))

    assert sorted(_ids(db.rows(t, "v"))) == ["abc", "x"]
    assert [f.offset for f in result.failed] == [1]


def test_with_tolerance_none_a_rejected_row_writes_nothing_of_its_bundle(db):
    t = table_name()
    db.run("CREATE TABLE %s (id INTEGER PRIMARY KEY)" % db.quote(t))
    config = db.config(**{"pk.mode": "record_value", "pk.fields": "id", "batch.size": "2"})
    (result,) = write(config, bundle(t, [(None, {"id": 1}), (None, {"id": 1})]), tolerance="none")

    assert [f.offset for f in result.failed] == [1]
    assert db.rows(t) == []


def test_hostile_table_and_column_names_are_just_names(db):
    t = 'orders"; drop table x; -- `' + table_name()
    db.run("CREATE TABLE %s (a INTEGER)" % db.quote("x_" + t[-11:]))
    config = db.config(**{"auto.create": "true", "batch.size": "1"})
    write(config, bundle(t, [(None, {"we'ird\"; col`": 1})]))

    assert db.rows(t) == [(1,)]
    assert db.rows("x_" + t[-11:]) == []


def test_records_that_are_not_structs_are_rejected(db):
    t = table_name()
    config = db.config(**{"auto.create": "true", "batch.size": "1"})
    write(config, bundle(t, [(None, {"a": 1})]))
    (result,) = write(config, bundle(t, [(None, 5)], start=1))

    assert db.rows(t, "a") == [(1,)]
    assert [f.offset for f in result.failed] == [1]
    assert "not a struct" in result.failed[0].reason


def test_timestamps_are_written_in_db_timezone(db):
    t = table_name()
    value = schema(("ts", "int64", {"name": "org.apache.kafka.connect.data.Timestamp"}))
    config = db.config(**{"auto.create": "true", "batch.size": "1", "db.timezone": "Europe/Berlin"})
    write(config, bundle(t, [(None, {"ts": 0})], value_schema=value))

    assert str(db.rows(t)[0][0]).startswith("1970-01-01 01:00:00")


def test_a_database_that_is_down_is_retried_then_named_without_the_password(tmp_path):
    from tests.sinks.jdbc.conftest import Db

    down = Db("postgres", "jdbc:postgresql://127.0.0.1:9/shop", "connect", "s3cret-pw")
    config = down.config(**{"connection.attempts": "2", "connection.backoff.ms": "1",
                            "max.retries": "1", "retry.backoff.ms": "1"})

    with pytest.raises(RetriableError) as caught:
        write(config, bundle("t", [(None, {"a": 1})]))

    message = str(caught.value)
    assert "postgresql database 'shop' at 127.0.0.1:9" in message
    assert "connection.attempts" in message and "max.retries=1" in message
    assert "s3cret-pw" not in message and "s3cret-pw" not in repr(config)


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_current_schema_places_tables_and_offsets(db):
    import sqlalchemy

    s = table_name("s")
    db.run("CREATE SCHEMA %s" % db.quote(s))
    t = table_name()
    url = db.url + "?currentSchema=%s" % s
    config = db.config(**UPSERT, **{"connection.url": url, "batch.size": "2"})
    write(config, bundle(t, [("a", {"v": 1}), ("a", {"v": 2})], key_string=True))
    write(config, bundle(t, [("a", {"v": 0})], key_string=True), mode=Mode.REPLAY)  # older: kept

    with db.engine().connect() as conn:
        rows = list(conn.execute(sqlalchemy.text('SELECT id, v FROM "%s"."%s"' % (s, t))))
        offsets = list(conn.execute(sqlalchemy.text(
            'SELECT end_offset FROM "%s".__beamconnect_offsets' % s)))
    assert [tuple(r) for r in rows] == [("a", 2)] and [tuple(r) for r in offsets] == [(2,)]


def test_a_filtered_out_bundle_still_settles_its_window(db):
    t = table_name()
    config = db.config(**{"auto.create": "true", "batch.size": "2"})
    first = bundle(t, [(None, {"a": 1}), (None, {"a": 2})])
    empty = bundle(t, [(None, {"a": 3}), (None, {"a": 4})], start=2).take([])
    write(config, first, empty)

    from sinks.jdbc.sink import JdbcSink

    assert JdbcSink().stored_offsets(config, [(t, 0)]) == {(t, 0): 4}


@pytest.mark.parametrize("mode, pk_mode", [(m, p) for m in ("insert", "upsert", "update")
                                           for p in ("none", "kafka", "record_key", "record_value")
                                           if not (m != "insert" and p == "none")])
def test_every_insert_mode_with_every_pk_mode(db, mode, pk_mode):
    t = table_name()
    pk_fields = {"record_key": "k", "record_value": "id"}.get(pk_mode)
    keys = {"pk.mode": pk_mode, **({"pk.fields": pk_fields} if pk_fields else {})}
    records = [("a", {"id": 1, "v": "x"}), ("b", {"id": 2, "v": "y"})]
    seed = db.config(**{"auto.create": "true", "insert.mode": "upsert" if mode == "update" else mode,
                        "batch.size": "2", **keys})
    write(seed, bundle(t, records, key_string=True))
    config = db.config(**{"insert.mode": mode, "batch.size": "2", **keys})

    write(config, bundle(t, [("a", {"id": 1, "v": "z"}), ("b", {"id": 2, "v": "y"})], key_string=True,
                         start=2))

    values = sorted(r[0] for r in db.rows(t, "v"))
    expected = {"insert": ["x", "y", "y", "z"] if pk_mode in ("none", "kafka") else None,
                "upsert": ["x", "y", "y", "z"] if pk_mode == "kafka" else ["y", "z"],
                "update": ["x", "y"] if pk_mode == "kafka" else ["y", "z"]}[mode]
    if expected is None:  # insert by a key that is there already: the database refuses both records
        assert values == ["x", "y"]
    else:
        assert values == expected


def test_streaming_bundles_settle_up_to_their_last_offset(db):
    from sinks.jdbc.sink import JdbcSink

    t = table_name()
    config = db.config(**{"auto.create": "true"})
    write(config, bundle(t, [(None, {"a": 1}), (None, {"a": 2})], start=5),
          bundle(t, [(None, {"a": 3})], start=7), mode=Mode.STREAMING)
    write(config, bundle(t, [(None, {"a": 3})], start=7), mode=Mode.STREAMING)

    assert JdbcSink().stored_offsets(config, [(t, 0)]) == {(t, 0): 8}
    assert _ids(db.rows(t, "a", order="a")) == [1, 2, 3]


def test_a_refusal_names_the_database_and_never_the_password(db):
    t = table_name()
    db.run("CREATE TABLE %s (id INTEGER PRIMARY KEY)" % db.quote(t))
    config = db.config(**{"pk.mode": "record_value", "pk.fields": "id", "batch.size": "2"})
    (result,) = write(config, bundle(t, [(None, {"id": 1}), (None, {"id": 1})]))

    (failed,) = result.failed
    assert "database" in failed.reason and "refused the record" in failed.reason
    assert not db.password or db.password not in failed.reason + failed.stacktrace


def test_table_name_format_uses_each_records_target_topic(db):
    t = table_name()
    config = db.config(**{"auto.create": "true", "batch.size": "3", "table.name.format": "kc_${topic}"})
    b = bundle(t, [(None, {"a": 1}), (None, {"a": 2}), (None, {"a": 3})])
    b.topics = [t + "_x", t + "_y", t + "_x"]  # as RegexRouter sets them

    (result,) = write(config, b)

    assert sorted(result.targets) == ["kc_%s_x" % t, "kc_%s_y" % t]
    assert _ids(db.rows("kc_%s_x" % t, "a", order="a")) == [1, 3]
    assert _ids(db.rows("kc_%s_y" % t, "a")) == [2]


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_a_name_postgresql_would_cut_is_refused(db):
    t = "t" * 64
    with pytest.raises(BeamConnectError, match=re.escape("is longer than PostgreSQL's 63-byte names")):
        write(db.config(**{"auto.create": "true", "batch.size": "1"}), bundle(t, [(None, {"a": 1})]))
