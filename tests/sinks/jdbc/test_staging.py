"""The staging loads' text (PostgreSQL's COPY, MariaDB's LOAD DATA LOCAL INFILE) and the Arrow
reduction: awkward values arrive as they were sent, on every database."""

import base64
import datetime
import decimal
import logging
import random

import pytest

from sinks.jdbc.config import CONFIG_DEF
from sinks.jdbc.records import Shaper, reduce_batch, reduce_rows
from sinks.jdbc.sink import JdbcSink
from tests.sinks.jdbc.conftest import bundle, schema, table_name, write

STRINGS = ["a,b", 'say "hi"', "tab\there", "line1\nline2", "cr\rlf", "crlf\r\n", "back\\slash",
           "\\N", "NULL", "", None, "ünïcödé ☃ 😀", "\\.", "trailing\\", "'single'", "\\\\n",
           "x" * 3000]
BYTES = [b"\x00\x01\t\n\\\"',\r", b"", None, bytes(range(256)), b"\\N", b"NULL"]
DECIMALS = [decimal.Decimal("-12345.678"), decimal.Decimal("0.000"), None,
            decimal.Decimal("99999999999.999")]
FLOATS = [0.1, -0.0, 1e20, 1.5e-7, None, -2.5]
TIMESTAMPS = [1700000000123, -1, 0, None, 253402300799999]  # the last: 9999-12-31 23:59:59.999


def _unscaled(value, scale):
    n = int(value.scaleb(scale))
    size = max(1, (n.bit_length() + 8) // 8)
    return base64.b64encode(n.to_bytes(size, "big", signed=True)).decode()


def _pick(values, i):
    return values[i % len(values)]


def _payloads(count):
    out = []
    for i in range(count):
        dec = _pick(DECIMALS, i)
        raw = _pick(BYTES, i)
        out.append({"id": i, "s": _pick(STRINGS, i), "raw": None if raw is None else
                    base64.b64encode(raw).decode(),
                    "dec": None if dec is None else _unscaled(dec, 3), "f": _pick(FLOATS, i),
                    "ts": _pick(TIMESTAMPS, i), "day": None if i % 5 == 4 else i * 1000 - 20000,
                    "tod": None if i % 7 == 6 else (i * 3_723_456) % 86_400_000,
                    "flag": None if i % 3 == 2 else i % 2 == 0, "n": -2147483648 + i})
    return out


VALUE = schema(("id", "int64", {"optional": False}), ("s", "string"), ("raw", "bytes"),
               ("dec", "bytes", {"name": "org.apache.kafka.connect.data.Decimal",
                                 "parameters": {"scale": "3"}}),
               ("f", "double"), ("ts", "int64", {"name": "org.apache.kafka.connect.data.Timestamp"}),
               ("day", "int32", {"name": "org.apache.kafka.connect.data.Date"}),
               ("tod", "int32", {"name": "org.apache.kafka.connect.data.Time"}),
               ("flag", "boolean"), ("n", "int32"))


@pytest.mark.parametrize("mode", ["insert", "upsert"])
def test_awkward_values_arrive_as_they_were_sent(db, mode):
    t = table_name()
    payloads = _payloads(60)
    config = db.config(**{"auto.create": "true", "pk.mode": "record_value", "pk.fields": "id",
                          "insert.mode": mode, "batch.size": "60"})

    (result,) = write(config, bundle(t, [(None, p) for p in payloads], value_schema=VALUE))

    assert not result.failed
    names = ("id", "s", "raw", "dec", "f", "ts", "day", "tod", "flag", "n")
    rows = db.rows(t, ", ".join(map(db.quote, names)), order=db.quote("id"))
    assert len(rows) == len(payloads)
    epoch = datetime.datetime(1970, 1, 1)
    for payload, row in zip(payloads, rows):
        i = payload["id"]
        got = dict(zip(names, row))
        assert got["id"] == i
        assert got["s"] == _pick(STRINGS, i), i
        raw = got["raw"]
        assert (None if raw is None else bytes(raw)) == _pick(BYTES, i), i
        dec = _pick(DECIMALS, i)
        assert (None if got["dec"] is None else decimal.Decimal(str(got["dec"]))) == dec, i
        assert got["f"] == _pick(FLOATS, i), i
        ts = _pick(TIMESTAMPS, i)
        expected_ts = None if ts is None else epoch + datetime.timedelta(milliseconds=ts)
        assert (None if got["ts"] is None else datetime.datetime.fromisoformat(str(got["ts"]))) \
            == expected_ts, i
        day = payload["day"]
        assert (None if got["day"] is None else str(got["day"])) == (
            None if day is None else str(datetime.date(1970, 1, 1) + datetime.timedelta(days=day))), i
        tod = payload["tod"]
        if tod is None:
            assert got["tod"] is None
        else:
            expected = str(datetime.timedelta(milliseconds=tod))
            shown = got["tod"]
            if isinstance(shown, datetime.time):  # PostgreSQL
                shown = datetime.timedelta(hours=shown.hour, minutes=shown.minute,
                                           seconds=shown.second, microseconds=shown.microsecond)
            elif isinstance(shown, str):  # SQLite: ISO text
                h, m, s = shown.split(":")
                shown = datetime.timedelta(hours=int(h), minutes=int(m), seconds=float(s))
            assert shown == datetime.timedelta(milliseconds=tod), (i, expected, shown)
        flag = payload["flag"]
        assert (None if got["flag"] is None else bool(got["flag"])) == flag, i
        assert got["n"] == payload["n"]


@pytest.mark.parametrize("db", ["postgres", "mariadb"], indirect=True)
def test_a_refused_value_after_values_with_newlines_is_the_one_rejected(db):
    t = table_name()
    db.run("CREATE TABLE %s (id INTEGER PRIMARY KEY, v VARCHAR(5))" % db.quote(t))
    config = db.config(**{"pk.mode": "record_value", "pk.fields": "id", "batch.size": "6"})
    values = ["a\nb", "c\r\nd", "e\tf\\", "toolong", "g\n", None]

    (result,) = write(config, bundle(t, [(None, {"id": i, "v": v}) for i, v in enumerate(values)]))

    assert [f.offset for f in result.failed] == [3]
    assert db.rows(t, "id, v", order="id") == [(i, v) for i, v in enumerate(values) if i != 3]


def test_schemaless_values_cast_to_existing_columns_go_through_the_load(db):
    t = table_name()
    db.run("CREATE TABLE %s (n BIGINT, s TEXT, f DOUBLE PRECISION)" % db.quote(t)
           if db.kind == "postgres" else
           "CREATE TABLE %s (n BIGINT, s TEXT, f DOUBLE)" % db.quote(t))
    config = db.config(**{"batch.size": "3"})

    write(config, bundle(t, [(None, {"n": 1e15, "s": 12, "f": 3}), (None, {"n": 2.0, "s": 7, "f": 7}),
                             (None, {"n": None, "s": 0, "f": None})]))

    rows = db.rows(t, "n, s, f")
    assert sorted(rows, key=lambda r: (r[0] is None, r[0] or 0)) == [
        (2, "7", 7.0), (10 ** 15, "12", 3.0), (None, "0", None)]


@pytest.mark.parametrize("db", ["mariadb"], indirect=True)
def test_without_load_data_local_infile_rows_are_staged_with_inserts(db, monkeypatch, caplog):
    import sinks.jdbc.connect as connect
    from sinks.jdbc.dialects import MySqlDialect

    t = table_name()
    # the client does not offer LOCAL INFILE; the dialect tries it and the server refuses
    monkeypatch.setitem(connect.DIALECT_CLASSES, "mysql",
                        lambda sa, zone, local_infile: MySqlDialect(sa, zone, local_infile=True))
    config = db.config(**{"connection.url": db.url + "?allowLoadLocalInfile=false",
                          "auto.create": "true", "insert.mode": "upsert", "pk.mode": "record_value",
                          "pk.fields": "id", "batch.size": "3"})
    with caplog.at_level(logging.WARNING, logger="sinks.jdbc.dialects"):
        write(config, bundle(t, [(None, {"id": 1, "v": "a\tb"}), (None, {"id": 2, "v": ""}),
                                 (None, {"id": 1, "v": "c\\"})]),
              bundle(t, [(None, {"id": 3, "v": None})], start=3))

    assert db.rows(t, "id, v", order="id") == [(1, "c\\"), (2, ""), (3, None)]
    assert sum("refuses LOAD DATA LOCAL INFILE" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("db", ["mariadb"], indirect=True)
def test_allow_load_local_infile_false_stages_with_inserts(db):
    t = table_name()
    config = db.config(**{"connection.url": db.url + "?allowLoadLocalInfile=false",
                          "auto.create": "true", "batch.size": "2"})
    write(config, bundle(t, [(None, {"v": "x\ny"}), (None, {"v": None})]))

    assert sorted(db.rows(t, "v"), key=lambda r: r[0] or "") == [(None,), ("x\ny",)]


def _config(mode, delete=True):
    return JdbcSink().parse(CONFIG_DEF.parse({
        "connection.url": "jdbc:sqlite:x.db", "pk.mode": "record_key", "pk.fields": "k",
        "insert.mode": mode, "delete.enabled": "true" if delete else "false"}))


@pytest.mark.parametrize("mode", ["insert", "upsert", "update"])
def test_the_arrow_reduction_is_the_row_reduction(mode):
    rng = random.Random(7)
    shaper = Shaper(_config(mode))
    for trial in range(40):
        n = rng.randrange(1, 40)
        records = [("k%d" % rng.randrange(6), None if rng.random() < 0.3 else {"v": rng.randrange(9)})
                   for _ in range(n)]
        b = bundle("t", records, key_string=True, start=trial * 100)
        rejected = []
        rows = shaper.shape(b, list(range(len(b))), "t", rejected).rows
        batch = shaper.batch(b, None, "t", [])

        expected = [(op, [item[0] for item in items]) for op, items in reduce_rows(rows, mode)]
        got = [(op, [int(batch.offsets[p]) for p in positions])
               for op, positions in reduce_batch(batch, mode)]
        assert got == expected, records


def test_struct_keys_reduce_by_every_field():
    config = JdbcSink().parse(CONFIG_DEF.parse({
        "connection.url": "jdbc:sqlite:x.db", "pk.mode": "record_key", "insert.mode": "upsert"}))
    key = schema(("a", "string", {"optional": False}), ("b", "int32", {"optional": False}))
    b = bundle("t", [({"a": "x", "b": 1}, {"v": 1}), ({"a": "x", "b": 2}, {"v": 2}),
                     ({"a": "x", "b": 1}, {"v": 3})], key_schema=key)
    batch = Shaper(config).batch(b, None, "t", [])

    ((op, positions),) = reduce_batch(batch, "upsert")
    assert op == "write" and [int(batch.offsets[p]) for p in positions] == [1, 2]


def test_local_infile_serves_only_the_file_the_sinks_load_names(mariadb, tmp_path):
    from pymysql import err

    from sinks.jdbc.local_infile import GuardedConnection

    secret = tmp_path / "secret.txt"
    secret.write_text("do not read\n")
    offered = tmp_path / "staged.tsv"
    offered.write_text("staged\n")
    t = table_name()
    server = mariadb
    conn = GuardedConnection(host=server.host, port=server.port, user=server.user,
                             password=server.password, database=server.database, local_infile=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute("CREATE TABLE %s (v text)" % t)
            load = "LOAD DATA LOCAL INFILE '%s' INTO TABLE " + t
            with pytest.raises(err.OperationalError, match="no load of this connection named"):
                cursor.execute(load % secret)  # asked for outside a load of the sink
            with conn.offering(str(offered)), pytest.raises(err.OperationalError,
                                                            match="secret.txt"):
                cursor.execute(load % secret)  # a load offering another file
            with conn.offering(str(offered)):
                cursor.execute(load % offered)
            cursor.execute("SELECT v FROM %s" % t)
            assert cursor.fetchall() == (("staged",),)  # the connection stays usable throughout
    finally:
        conn.close()


@pytest.mark.parametrize("db", ["mariadb"], indirect=True)
def test_the_sinks_own_loads_use_local_infile(db, caplog):
    t = table_name()
    config = db.config(**{"auto.create": "true", "batch.size": "2"})
    with caplog.at_level(logging.WARNING, logger="sinks.jdbc.dialects"):
        write(config, bundle(t, [(None, {"v": "x\ty"}), (None, {"v": None})]))

    assert sorted(db.rows(t, "v"), key=lambda r: r[0] or "") == [(None,), ("x\ty",)]
    assert not [r for r in caplog.records if "LOAD DATA LOCAL INFILE" in r.getMessage()]
