"""Parquet files, as Confluent's ParquetFormat: columns follow the value's schema.

Values without a Connect schema get columns inferred from the data by the converter.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from common.errors import ConfigError
from sinks.files.formats.base import Format, as_table

# parquet.codec -> (pyarrow compression, Confluent's file name infix)
CODECS = {
    "none": ("NONE", ""),
    "snappy": ("SNAPPY", ".snappy"),
    "gzip": ("GZIP", ".gz"),
    "lz4": ("LZ4", ".lz4"),
    "zstd": ("ZSTD", ".zstd"),
    "brotli": ("BROTLI", ".br"),
}


class ParquetFormat(Format):
    def __init__(self, codec: str = "snappy"):
        if codec not in CODECS:
            raise ConfigError("parquet.codec must be one of %s, got %r"
                              % (", ".join(repr(c) for c in CODECS), codec))
        self._compression, self._infix = CODECS[codec]

    @property
    def extension(self) -> str:
        return self._infix + ".parquet"

    def serialize(self, values: pa.Array) -> bytes:
        sink = pa.BufferOutputStream()
        pq.write_table(as_table(values), sink, compression=self._compression)
        return sink.getvalue().to_pybytes()
