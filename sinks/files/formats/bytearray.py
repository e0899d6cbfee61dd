"""Raw value bytes, as Confluent's ByteArrayFormat: each value's bytes, then the separator.

For archiving records as they were produced: pair it with ``value.converter=ByteArrayConverter``
(string values are written as UTF-8 too).
"""

from __future__ import annotations

import gzip

import pyarrow as pa
import pyarrow.compute as pc

from common.errors import BeamConnectError
from sinks.files.formats.base import Format


class ByteArrayFormat(Format):
    """Args:
      extension: ``format.bytearray.extension`` (default ``.bin``).
      separator: ``format.bytearray.separator``, written after every value (default a newline).
      compression: ``none`` or ``gzip`` (``s3.compression.type``; ``.bin.gz``, no time in the header).
    """

    def __init__(self, extension: str = ".bin", separator: str = "\n", compression: str = "none"):
        self._extension = extension
        self.separator = separator.encode("utf-8")
        self.compression = compression

    @property
    def extension(self) -> str:
        return self._extension + (".gz" if self.compression == "gzip" else "")

    def serialize(self, values: pa.Array) -> bytes:
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            values = pc.cast(values, pa.binary())
        if not (pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)):
            raise BeamConnectError(
                "format.class=ByteArrayFormat writes each value's raw bytes, but the values are %s; set "
                "value.converter=org.apache.kafka.connect.converters.ByteArrayConverter" % values.type)
        data = self.separator.join(values.to_pylist()) + self.separator if len(values) else b""
        return gzip.compress(data, compresslevel=6, mtime=0) if self.compression == "gzip" else data
