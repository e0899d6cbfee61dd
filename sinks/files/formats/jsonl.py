"""JSON lines, as Confluent's JsonFormat: one JSON value per line.

Bytes are written as base64 strings, decimals as strings (exact), dates and times in ISO 8601.
"""

from __future__ import annotations

import base64
import decimal

import orjson
import pyarrow as pa

from sinks.files.formats.base import Format


def _default(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError("cannot write %r as JSON" % type(value).__name__)


class JsonLinesFormat(Format):
    @property
    def extension(self) -> str:
        return ".json"

    def serialize(self, values: pa.Array) -> bytes:
        dumps = orjson.dumps
        options = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
        return b"".join(dumps(v, default=_default, option=options) for v in values.to_pylist())
