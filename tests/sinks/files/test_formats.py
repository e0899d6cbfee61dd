import datetime
import decimal
import io
import re

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.config.errors import ConfigError
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
    with pytest.raises(ConfigError, match=re.escape("format.class must be one of 'parquet', 'json'")):
        make_format("avro", {})


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
            "s3.compression.type=gzip applies to JSON files; Parquet files are compressed by "
            "parquet.codec")):
        make_format("parquet", {"s3.compression.type": "gzip", "parquet.codec": "snappy"})
