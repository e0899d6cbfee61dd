"""File formats, found by the ``format.class`` names users write (Confluent's class names too)."""

from __future__ import annotations

from typing import Any, Mapping

from pipelines.config.errors import ConfigError
from sinks.files.formats.base import Format
from sinks.files.formats.jsonl import JsonLinesFormat
from sinks.files.formats.parquet import ParquetFormat


COMPRESSIONS = ("none", "gzip")


def _parquet(values: Mapping[str, Any]) -> Format:
    if values.get("s3.compression.type", "none") != "none":
        raise ConfigError("s3.compression.type=%s applies to JSON files; Parquet files are compressed "
                          "by parquet.codec" % values["s3.compression.type"])
    return ParquetFormat(values["parquet.codec"])


def _json(values: Mapping[str, Any]) -> Format:
    return JsonLinesFormat(values.get("s3.compression.type", "none"))


FORMATS = {
    "parquet": _parquet,
    "json": _json,
    "io.confluent.connect.s3.format.parquet.ParquetFormat": _parquet,
    "io.confluent.connect.gcs.format.parquet.ParquetFormat": _parquet,
    "io.confluent.connect.s3.format.json.JsonFormat": _json,
    "io.confluent.connect.gcs.format.json.JsonFormat": _json,
}


def make_format(name: str, values: Mapping[str, Any]) -> Format:
    try:
        factory = FORMATS[name]
    except KeyError:
        raise ConfigError("format.class must be one of %s, got %r"
                          % (", ".join(repr(n) for n in FORMATS), name)) from None
    return factory(values)


__all__ = ["COMPRESSIONS", "FORMATS", "Format", "JsonLinesFormat", "ParquetFormat", "make_format"]
