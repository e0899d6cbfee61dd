"""JSON lines, as Confluent's JsonFormat: one JSON value per line, gzip-compressed on request.

Bytes are written as base64 strings, decimals as strings (exact), dates and times in ISO 8601.
"""

from __future__ import annotations

import base64
import decimal
import gzip

import orjson
import pyarrow as pa

from sinks.files.formats.base import Format, rows


def _default(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError("cannot write %r as JSON" % type(value).__name__)


class JsonLinesFormat(Format):
    """Args:
      compression: ``none``, or ``gzip`` (``.json.gz``, as Confluent's ``s3.compression.type=gzip``;
        the gzip header carries no time, so a rewritten file has the same bytes).
    """

    def __init__(self, compression: str = "none"):
        self.compression = compression

    @property
    def extension(self) -> str:
        return ".json.gz" if self.compression == "gzip" else ".json"

    def serialize(self, values: pa.Array) -> bytes:
        dumps = orjson.dumps
        options = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
        data = b"".join(dumps(v, default=_default, option=options) for v in rows(values))
        return gzip.compress(data, compresslevel=6, mtime=0) if self.compression == "gzip" else data
