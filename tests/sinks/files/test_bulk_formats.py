"""The bulk JSON-lines and Avro encoders write exactly the bytes of the per-record paths."""

import datetime
import decimal
import hashlib
import io
import json
import random

import fastavro
import pyarrow as pa
import pytest

from sinks.avro_schema import avro_schema_of
from sinks.files.formats import make_format
from sinks.files.formats.arrow_avro import avro_blocks
from sinks.files.formats.arrow_json import json_lines
from sinks.files.formats.avro import per_record
from sinks.files.formats.jsonl import _default, per_row

UTC = datetime.timezone.utc
ROWS = 400


def _text(rng):
    return "".join(rng.choice(["a", "Z", "é", "日本", "🙂", " ", ",", "{", "'", "\u2028"])
                   for _ in range(rng.randrange(0, 8)))


def _escaped(rng):
    return _text(rng) + rng.choice(['"', "\\", "\n", "\t", "\x00", "\x1f", "\x7f", ""])


def _float(rng):
    return rng.choice([0.0, -0.0, 1.0, 0.1, 1e16, 1e15, 1.5e-7, 123456789.125, 1e300, -2.5e-300,
                       float("nan"), float("inf"), rng.uniform(-1e6, 1e6),
                       rng.random() * 10 ** rng.randrange(-20, 20)])


def _decimal(digits, scale):
    return lambda r: decimal.Decimal(r.randrange(-10 ** digits + 1, 10 ** digits)).scaleb(-scale)


def _inner(r):
    return {"x": r.choice([None, r.randrange(100)]), "s": r.choice([None, _text(r)]),
            "deep": r.choice([None, {"f": r.choice([None, _float(r)])}])}


def _some(make, most=3):
    return lambda r: [make(r) for _ in range(r.randrange(most + 1))]


EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
INNER = pa.struct([pa.field("x", pa.int32()), pa.field("s", pa.string()),
                   pa.field("deep", pa.struct([pa.field("f", pa.float64())]))])
#: name -> (Arrow type, one value from a Random)
KINDS = {
    "i8": (pa.int8(), lambda r: r.randrange(-128, 128)),
    "i16": (pa.int16(), lambda r: r.randrange(-2 ** 15, 2 ** 15)),
    "i32": (pa.int32(), lambda r: r.randrange(-2 ** 31, 2 ** 31)),
    "i64": (pa.int64(), lambda r: r.choice([0, -1, 2 ** 63 - 1, -2 ** 63, r.randrange(-2 ** 40, 2 ** 40)])),
    "u64": (pa.uint64(), lambda r: r.choice([0, 2 ** 64 - 1, r.randrange(2 ** 40)])),
    "f32": (pa.float32(), _float),
    "f64": (pa.float64(), _float),
    "ok": (pa.bool_(), lambda r: r.random() < 0.5),
    "s": (pa.string(), _text),
    "escaped": (pa.string(), _escaped),
    "ls": (pa.large_string(), _text),
    "b": (pa.binary(), lambda r: r.randbytes(r.randrange(5))),
    "lb": (pa.large_binary(), lambda r: r.randbytes(r.randrange(4))),
    "dec": (pa.decimal128(7, 2), _decimal(7, 2)),
    "dec0": (pa.decimal128(5, 0), _decimal(5, 0)),
    "dec8": (pa.decimal128(12, 8), lambda r: decimal.Decimal(r.choice([0, 1, -5, r.randrange(10 ** 12)])).scaleb(-8)),
    "dec256": (pa.decimal256(40, 3), _decimal(39, 3)),
    "day": (pa.date32(), lambda r: datetime.date(1, 1, 1) + datetime.timedelta(days=r.randrange(3652058))),
    "at": (pa.time32("ms"), lambda r: datetime.time(r.randrange(24), r.randrange(60), r.randrange(60),
                                                    r.choice([0, 5000, 999000]))),
    "at_us": (pa.time64("us"), lambda r: datetime.time(r.randrange(24), 0, 0, r.randrange(10 ** 6))),
    "ts": (pa.timestamp("ms", "UTC"),
           lambda r: EPOCH + datetime.timedelta(milliseconds=r.randrange(-10 ** 12, 10 ** 13))),
    "ts_naive": (pa.timestamp("us"),
                 lambda r: datetime.datetime(2026, 1, 2) + datetime.timedelta(microseconds=r.randrange(10 ** 12))),
    "ts_berlin": (pa.timestamp("s", "Europe/Berlin"),
                  lambda r: datetime.datetime(2026, r.randrange(1, 13), 2, tzinfo=UTC)),
    "inner": (INNER, _inner),
    "ints": (pa.list_(pa.int64()), _some(lambda r: r.choice([None, r.randrange(-9, 9)]))),
    "names": (pa.large_list(pa.string()), _some(lambda r: _escaped(r) if r.random() < 0.1 else _text(r), 2)),
    "nested": (pa.list_(pa.list_(INNER)),
               _some(lambda r: [{"x": 1, "s": None, "deep": None}] * r.randrange(2), 2)),
    "counts": (pa.map_(pa.string(), pa.int64()), _some(lambda r: (_text(r), r.choice([None, 1])), 2)),
    "by_id": (pa.map_(pa.int32(), pa.string()), _some(lambda r: (r.randrange(9), "v"), 2)),
    "fixed": (pa.binary(3), lambda r: r.randbytes(3)),
}


def _columns():
    """Every Arrow type the sink hands over, with nulls, edge values and unicode."""
    rng = random.Random(7)
    arrays = {name: pa.array([None if rng.random() < 0.2 else make(rng) for _ in range(ROWS)], t)
              for name, (t, make) in KINDS.items()}
    arrays["nothing"] = pa.array([None] * ROWS, pa.null())
    arrays["tag"] = pa.array([rng.choice(["a", "b", None]) for _ in range(ROWS)]).dictionary_encode()
    return arrays


def _struct(arrays):
    return pa.StructArray.from_arrays(list(arrays.values()), list(arrays))


def test_json_lines_of_every_type_are_the_per_row_bytes():
    values = _struct(_columns())

    data = json_lines(values, _default)

    assert data == per_row(values)
    assert data.count(b"\n") == ROWS


@pytest.mark.parametrize("name", sorted(_columns()))
def test_json_lines_of_each_type_alone_and_in_a_struct(name):
    column = _columns()[name]
    values = _struct({name: column})
    assert json_lines(values, _default) == per_row(values)
    non_null = column.filter(column.is_valid()) if column.null_count < len(column) else column
    assert json_lines(non_null, _default) == per_row(non_null)  # a non-struct value per line


def test_json_lines_written_a_slice_of_rows_at_a_time_are_the_same(monkeypatch):
    from sinks.files.formats import arrow_json

    values = _struct(_columns())
    monkeypatch.setattr(arrow_json, "SLICE_ROWS", 7)  # 400 rows: 58 slices, the last one short

    assert json_lines(values, _default) == per_row(values)
    assert json_lines(values.slice(5, 30), _default) == per_row(values.slice(5, 30))


def test_json_lines_of_slices_chunks_and_edge_shapes():
    values = _struct(_columns())
    chunked = pa.chunked_array([values.slice(0, 7), values.slice(9, 20)])
    for array in (values.slice(3, 101), values.slice(ROWS - 1), chunked):
        assert json_lines(array, _default) == per_row(array)
    assert JsonOf(values.slice(0, 0)) == b""
    empty = pa.array([{}, {}], pa.struct([]))
    assert make_format("json", {}).serialize(empty) == per_row(empty) == b"{}\n{}\n"
    keys = ["", 'q"uote', "back\\slash", "日本\n", "\x01"]
    names = pa.StructArray.from_arrays([pa.array([1, 2])] * len(keys), keys)
    assert json_lines(names, _default) == per_row(names)  # keys escaped as orjson escapes them
    twice = pa.StructArray.from_arrays([pa.array([1]), pa.array([2])], ["a", "a"])
    assert json_lines(twice, _default) is None  # left to the per-row path
    assert make_format("json", {}).serialize(twice) == per_row(twice)


def JsonOf(values):
    return make_format("json", {}).serialize(values)


def test_json_values_that_orjson_refuses_fail_as_before():
    values = _struct({"d": pa.array([datetime.timedelta(seconds=1)], pa.duration("s"))})
    with pytest.raises(TypeError, match="not JSON serializable: datetime.timedelta"):
        per_row(values)
    with pytest.raises(TypeError, match="not JSON serializable: datetime.timedelta"):
        JsonOf(values)


# Avro

def _per_record_avro(values, codec="null"):
    """What AvroFormat wrote before the bulk encoder: fastavro over Python objects."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    avro, fix = avro_schema_of(None, values.type)
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(avro), per_record(values, fix), codec=codec,
                    sync_marker=hashlib.md5(json.dumps(avro, sort_keys=True).encode()).digest())
    return out.getvalue()


_AVRO_PLAIN = ["i8", "i16", "i32", "i64", "f32", "f64", "ok", "s", "escaped", "ls", "b", "lb", "inner",
               "ints", "names", "nested", "nothing"]


def _required(arrays):
    """The same columns without nulls, as fields that are not optional (no union in the schema)."""
    fields, columns = [], []
    for name, array in arrays.items():
        if array.type == pa.null():
            continue
        filled = array.filter(array.is_valid())[:50]
        fields.append(pa.field(name, array.type, nullable=False))
        columns.append(filled)
    count = min(len(c) for c in columns)
    return pa.StructArray.from_arrays([c[:count] for c in columns], fields=fields)


@pytest.mark.parametrize("codec", ["null", "deflate", "snappy"])
def test_avro_of_plain_types_is_encoded_in_bulk_in_the_per_record_bytes(codec):
    arrays = _columns()
    values = _struct({name: arrays[name] for name in _AVRO_PLAIN})
    avro, fix = avro_schema_of(None, values.type)
    assert fix is None and avro_blocks(values, avro) is not None  # the bulk path is taken

    data = make_format("avro", {"avro.codec": codec}).serialize(values)

    assert data == _per_record_avro(values, codec)
    records = list(fastavro.reader(io.BytesIO(data)))
    assert len(records) == ROWS and repr(records) == repr(values.to_pylist())  # repr: nan == nan


def test_avro_blocks_are_cut_where_fastavro_cuts_them():
    rng = random.Random(3)
    values = pa.array([{"n": rng.randrange(-2 ** 62, 2 ** 62), "s": "x" * rng.randrange(300)}
                       for _ in range(3000)])

    data = make_format("avro", {}).serialize(values)

    assert data == _per_record_avro(values)
    assert sum(1 for _ in fastavro.block_reader(io.BytesIO(data))) > 10


def test_avro_of_every_type_slices_and_required_fields_are_the_per_record_bytes():
    arrays = _columns()
    supported = {name: array for name, array in arrays.items()
                 if name not in ("u64", "ts_berlin", "dec256", "fixed", "tag", "ts_naive", "at_us", "dec8")}
    values = _struct(supported)  # maps, decimals, dates, times, timestamps: the per-record path
    assert make_format("avro", {}).serialize(values) == _per_record_avro(values)
    plain = _struct({name: arrays[name] for name in _AVRO_PLAIN})
    for array in (plain.slice(5, 77), pa.chunked_array([plain.slice(0, 3), plain.slice(10, 30)]),
                  _required({name: arrays[name] for name in _AVRO_PLAIN})):
        assert make_format("avro", {}).serialize(array) == _per_record_avro(array)
    for name in _AVRO_PLAIN[:-1]:  # each type alone, as non-struct values
        column = arrays[name].filter(arrays[name].is_valid())
        assert make_format("avro", {}).serialize(column) == _per_record_avro(column)


def test_avro_with_a_writers_schema_is_encoded_in_bulk_in_the_per_record_bytes():
    from transforms.converters.avro_data import compile_avro

    writer_schema = {
        "type": "record", "name": "Event", "namespace": "shop", "doc": "an event", "fields": [
            {"name": "id", "type": "long", "doc": "the id"},
            {"name": "user", "type": "string", "default": "nobody"},
            {"name": "score", "type": ["null", "double"], "default": None},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
            {"name": "part", "type": {"type": "record", "name": "Part", "fields": [
                {"name": "n", "type": "int"}, {"name": "raw", "type": ["null", "bytes"]}]}}]}
    compiled = compile_avro(writer_schema)
    rng = random.Random(5)
    values = pa.array([{"id": rng.randrange(-2 ** 50, 2 ** 50), "user": _text(rng),
                        "score": rng.choice([None, _float(rng)]), "tags": [_text(rng)] * rng.randrange(3),
                        "part": {"n": rng.randrange(-99, 99), "raw": rng.choice([None, b"\x00\xff"])}}
                       for _ in range(2000)], compiled.field.type)
    avro, fix = avro_schema_of(compiled.field, values.type)
    assert fix is None and avro_blocks(values, avro) is not None

    data = make_format("avro", {"avro.codec": "deflate"}).serialize_with_schema(values, compiled.field)

    out = io.BytesIO()
    fastavro.writer(out, avro, per_record(values), codec="deflate",
                    sync_marker=hashlib.md5(json.dumps(avro, sort_keys=True).encode()).digest())
    assert data == out.getvalue()
    assert json.loads(fastavro.reader(io.BytesIO(data)).metadata["avro.schema"])["doc"] == "an event"
