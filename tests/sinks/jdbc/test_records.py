"""The reduction buffer and the way records become rows (no database needed)."""

from sinks.jdbc.config import CONFIG_DEF
from sinks.jdbc.records import Shaper, reduce_rows
from sinks.jdbc.sink import JdbcSink
from tests.sinks.jdbc.conftest import bundle, schema


def _rows(*items):
    return [(o, None if v is None else {"id": k, "v": v}, {"id": k}) for o, k, v in items]


def test_upsert_keeps_the_last_record_per_key_and_deletes_first():
    segments = reduce_rows(_rows((0, "a", 1), (1, "b", 1), (2, "a", 2), (3, "b", None), (4, "c", 1)),
                           "upsert")

    assert [(op, [i[0] for i in items]) for op, items in segments] == [("delete", [3]),
                                                                      ("write", [2, 4])]


def test_3000_updates_to_10_keys_write_10_rows():
    rows = _rows(*[(i, "k%d" % (i % 10), i) for i in range(3000)])
    ((op, items),) = reduce_rows(rows, "upsert")
    assert op == "write" and sorted(i[0] for i in items) == list(range(2990, 3000))


def test_update_mode_deletes_before_a_later_update_of_the_same_key():
    segments = reduce_rows(_rows((0, "a", None), (1, "a", 2)), "update")
    assert [(op, [i[0] for i in items]) for op, items in segments] == [("delete", [1]), ("write", [1])]


def test_insert_mode_keeps_every_record_in_order():
    segments = reduce_rows(_rows((0, "a", 1), (1, "a", None), (2, "a", 3), (3, "b", 4)), "insert")
    assert [(op, [i[0] for i in items]) for op, items in segments] == [
        ("write", [0]), ("delete", [1]), ("write", [2, 3])]


def test_fields_whitelist_and_schema_columns():
    config = JdbcSink().parse(CONFIG_DEF.parse({
        "connection.url": "jdbc:sqlite:x.db", "pk.mode": "record_value", "pk.fields": "id",
        "fields.whitelist": "id,keep"}))
    value = schema(("id", "int32", {"optional": False}), ("keep", "string"), ("drop", "string"))
    b = bundle("t", [(None, {"id": 1, "keep": "k", "drop": "d"})], value_schema=value)
    rejected = []

    records = Shaper(config).shape(b, [0], "t", rejected)

    assert [(c.name, c.kind, c.key) for c in records.columns] == [("id", "int32", True),
                                                                   ("keep", "string", False)]
    ((offset, row, key),) = records.rows
    assert (offset, row["keep"], key, rejected) == (0, "k", {"id": 1}, [])


def test_a_null_key_with_record_key_is_rejected():
    config = JdbcSink().parse(CONFIG_DEF.parse({
        "connection.url": "jdbc:sqlite:x.db", "pk.mode": "record_key", "pk.fields": "id"}))
    rejected = []
    records = Shaper(config).shape(bundle("t", [(None, {"v": 1}), ("a", {"v": 2})], key_string=True),
                                   [0, 1], "t", rejected)

    assert [r[0] for r in records.rows] == [1]
    assert rejected == [(0, "the record has a null key (or key field) and pk.mode=record_key")]
