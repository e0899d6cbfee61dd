import datetime
import decimal
import io
import re

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from common.errors import ConfigError
from sinks.files.formats import make_format
from sinks.files.formats.jsonl import JsonLinesFormat
from sinks.files.formats.parquet import ParquetFormat


def test_parquet_columns_follow_the_struct_fields():
    values = pa.array([{"id": 1, "name": "a"}, {"id": 2, "name": None}])
    fmt = ParquetFormat("snappy")
    assert fmt.extension == ".snappy.parquet"
    table = pq.read_table(io.BytesIO(fmt.serialize(values)))
    assert table.column_names == ["id", "name"]
    assert table.to_pylist() == [{"id": 1, "name": "a"}, {"id": 2, "name": None}]
    assert pq.ParquetFile(io.BytesIO(fmt.serialize(values))).metadata.row_group(0).column(
        0).compression == "SNAPPY"


def test_parquet_non_struct_values_become_a_value_column():
    table = pq.read_table(io.BytesIO(ParquetFormat("none").serialize(pa.array(["x", "y"]))))
    assert table.to_pydict() == {"value": ["x", "y"]}
    assert ParquetFormat("none").extension == ".parquet"
    assert ParquetFormat("gzip").extension == ".gz.parquet"


def test_unknown_codec():
    with pytest.raises(ConfigError, match=re.escape("parquet.codec must be one of")):
        ParquetFormat("lzo")


def test_json_lines():
    values = pa.array([{"a": 1, "b": b"\x00\x01", "d": decimal.Decimal("1.50"),
                        "t": datetime.date(2026, 1, 2)}],
                      pa.struct([("a", pa.int64()), ("b", pa.binary()), ("d", pa.decimal128(5, 2)),
                                 ("t", pa.date32())]))
    out = JsonLinesFormat().serialize(values)
    assert out.endswith(b"\n") and out.count(b"\n") == 1
    assert orjson.loads(out) == {"a": 1, "b": "AAE=", "d": "1.50", "t": "2026-01-02"}


def test_format_names_include_confluent_classes():
    assert isinstance(make_format("io.confluent.connect.s3.format.json.JsonFormat", {}),
                      JsonLinesFormat)
    with pytest.raises(ConfigError, match=re.escape(
            "format.class must be one of 'parquet', 'json', 'avro', ")):
        make_format("orc", {})


def test_gzip_json_lines_are_named_json_gz_and_rewrite_to_the_same_bytes():
    import gzip

    values = pa.array([{"a": i} for i in range(100)])
    fmt = make_format("json", {"s3.compression.type": "gzip"})

    data = fmt.serialize(values)

    assert fmt.extension == ".json.gz"
    assert gzip.decompress(data) == JsonLinesFormat().serialize(values)
    assert fmt.serialize(values) == data  # no time in the header: a replay writes the same bytes


def test_gzip_compression_type_with_parquet_is_a_conflict():
    with pytest.raises(ConfigError, match=re.escape(
            "s3.compression.type=gzip applies to JSON and byte-array files; Parquet files are compressed by "
            "parquet.codec")):
        make_format("parquet", {"s3.compression.type": "gzip", "parquet.codec": "snappy"})


# Avro

def _avro(data):
    import fastavro

    reader = fastavro.reader(io.BytesIO(data))
    return reader.writer_schema, list(reader), reader.codec


def _schema_types(schema):
    return {f["name"]: f["type"] for f in schema["fields"]}


def test_avro_schema_follows_connect_types_with_logical_types_and_optional_unions():
    utc = datetime.timezone.utc
    fields = [pa.field("i8", pa.int8(), nullable=False), pa.field("i64", pa.int64()),
              pa.field("f", pa.float32(), nullable=False), pa.field("d", pa.float64()),
              pa.field("ok", pa.bool_(), nullable=False), pa.field("s", pa.string()),
              pa.field("b", pa.binary()), pa.field("price", pa.decimal128(7, 2), nullable=False),
              pa.field("day", pa.date32()), pa.field("at", pa.time32("ms")),
              pa.field("ts", pa.timestamp("ms", tz="UTC")), pa.field("tags", pa.list_(pa.string())),
              pa.field("inner", pa.struct([pa.field("x", pa.int32(), nullable=False)])),
              pa.field("counts", pa.map_(pa.string(), pa.int64())),
              pa.field("names", pa.map_(pa.int32(), pa.string()))]
    row = {"i8": -3, "i64": 2 ** 40, "f": 1.5, "d": None, "ok": True, "s": "é", "b": b"\x00\xff",
           "price": decimal.Decimal("12345.67"), "day": datetime.date(2026, 1, 2),
           "at": datetime.time(12, 30, 1, 5000), "ts": datetime.datetime(2026, 1, 2, 3, 4, 5, 6000, utc),
           "tags": ["a", None], "inner": {"x": 7}, "counts": [("a", 1), ("b", None)],
           "names": [(1, "one")]}
    values = pa.array([row], pa.struct(fields))

    schema, records, _ = _avro(make_format("avro", {}).serialize(values))

    assert schema["name"] == "io.confluent.connect.avro.ConnectDefault"
    types = _schema_types(schema)
    assert types["i8"] == "int" and types["f"] == "float" and types["ok"] == "boolean"
    assert types["i64"] == ["null", "long"] and types["d"] == ["null", "double"]
    assert types["b"] == ["null", "bytes"]
    assert types["price"] == {"type": "bytes", "logicalType": "decimal", "precision": 7, "scale": 2}
    assert types["day"] == ["null", {"type": "int", "logicalType": "date"}]
    assert types["at"] == ["null", {"type": "int", "logicalType": "time-millis"}]
    assert types["ts"] == ["null", {"type": "long", "logicalType": "timestamp-millis"}]
    assert types["tags"] == ["null", {"type": "array", "items": ["null", "string"]}]
    assert types["counts"] == ["null", {"type": "map", "values": ["null", "long"]}]
    assert types["names"][1]["type"] == "array"  # non-string keys: key/value records, as AvroData
    assert records == [{**row, "counts": {"a": 1, "b": None}, "names": [{"key": 1, "value": "one"}],
                        "at": datetime.time(12, 30, 1, 5000)}]


def test_avro_of_non_struct_values_has_a_primitive_schema():
    schema, records, _ = _avro(make_format("avro", {}).serialize(pa.array(["x", "y"])))

    assert schema == "string" and records == ["x", "y"]


def test_avro_nested_records_get_distinct_names():
    inner = pa.struct([pa.field("v", pa.int64())])
    values = pa.array([{"a": {"v": 1}, "b": {"v": 2}}], pa.struct([("a", inner), ("b", inner)]))

    schema, records, _ = _avro(make_format("avro", {}).serialize(values))

    names = [t[1]["name"] for t in _schema_types(schema).values()]
    assert len(set(names)) == 2 and all("ConnectDefault" in n for n in names)
    assert records == [{"a": {"v": 1}, "b": {"v": 2}}]


@pytest.mark.parametrize("codec", ["null", "deflate", "snappy", "bzip2", "xz", "zstandard"])
def test_avro_codecs_and_reproducible_bytes(codec):
    values = pa.array([{"n": i, "s": "v%d" % i} for i in range(1000)])
    fmt = make_format("io.confluent.connect.s3.format.avro.AvroFormat", {"avro.codec": codec})

    data = fmt.serialize(values)

    assert fmt.extension == ".avro"
    _, records, used = _avro(data)
    assert used == codec and records == values.to_pylist()
    assert fmt.serialize(values) == data  # a replayed window writes the same bytes


def test_avro_codec_and_compression_type_errors():
    with pytest.raises(ConfigError, match=re.escape("avro.codec must be one of 'null', 'deflate'")):
        make_format("avro", {"avro.codec": "lzo"})
    with pytest.raises(ConfigError, match=re.escape(
            "s3.compression.type=gzip applies to JSON and byte-array files; Avro files are compressed by avro.codec")):
        make_format("avro", {"s3.compression.type": "gzip"})


# ByteArrayFormat

def test_bytearray_writes_raw_values_each_followed_by_the_separator():
    fmt = make_format("io.confluent.connect.s3.format.bytearray.ByteArrayFormat",
                      {"format.bytearray.extension": ".bin", "format.bytearray.separator": None})

    assert fmt.extension == ".bin"
    assert fmt.serialize(pa.array([b"\x00\x01", b"{\"a\":1}"], pa.binary())) == b"\x00\x01\n{\"a\":1}\n"
    assert fmt.serialize(pa.array(["é"])) == "é\n".encode()  # strings as UTF-8
    crlf = make_format("bytearray", {"format.bytearray.separator": "\\r\\n"})  # escapes, as Confluent
    assert crlf.serialize(pa.array([b"a", b"b"])) == b"a\r\nb\r\n"


def test_bytearray_separator_extension_and_gzip():
    import gzip

    fmt = make_format("bytearray", {"format.bytearray.extension": ".raw",
                                    "format.bytearray.separator": "|", "s3.compression.type": "gzip"})
    data = fmt.serialize(pa.array([b"a", b"b"]))

    assert fmt.extension == ".raw.gz"
    assert gzip.decompress(data) == b"a|b|"
    assert fmt.serialize(pa.array([b"a", b"b"])) == data


def test_bytearray_refuses_structured_values_naming_the_converter_to_use():
    from common.errors import BeamConnectError

    with pytest.raises(BeamConnectError, match=re.escape(
            "format.class=ByteArrayFormat writes each value's raw bytes, but the values are struct<a: "
            "int64>; set value.converter=org.apache.kafka.connect.converters.ByteArrayConverter")):
        make_format("bytearray", {}).serialize(pa.array([{"a": 1}]))
    with pytest.raises(ConfigError, match=re.escape(
            "format.bytearray.extension must start with '.' and hold no '/', got 'bin'")):
        make_format("bytearray", {"format.bytearray.extension": "bin"})


def test_rows_match_to_pylist_for_sliced_nested_and_non_struct_values():
    from sinks.files.formats.base import rows

    values = pa.array([{"a": 1, "b": {"c": "x"}}, {"a": None, "b": None}, {"a": 3, "b": {"c": None}}])
    for array in (values, values.slice(1), pa.chunked_array([values, values]), pa.array(["s", None])):
        assert rows(array) == array.to_pylist()
