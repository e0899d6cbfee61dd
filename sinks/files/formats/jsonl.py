"""JSON lines, as Confluent's JsonFormat: one JSON value per line, gzip-compressed on request.

Bytes are written as base64 strings, decimals as strings (exact), dates and times in ISO 8601, with
orjson's float and key formatting. The lines are built from the Arrow columns in bulk
(:mod:`sinks.files.formats.arrow_json`); values it cannot write go through orjson row by row, which
gives the same bytes.
"""

from __future__ import annotations

import base64
import decimal
import gzip

import orjson
import pyarrow as pa

from sinks.files.formats.arrow_json import json_lines
from sinks.files.formats.base import Format, rows


def _default(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError("cannot write %r as JSON" % type(value).__name__)


def per_row(values: pa.Array) -> bytes:
    """The lines written one row at a time: what :func:`json_lines` must equal."""
    dumps = orjson.dumps
    options = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
    return b"".join(dumps(v, default=_default, option=options) for v in rows(values))


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
        data = json_lines(values, _default)
        if data is None:
            data = per_row(values)
        return gzip.compress(data, compresslevel=6, mtime=0) if self.compression == "gzip" else data
