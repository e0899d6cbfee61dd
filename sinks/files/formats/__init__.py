"""File formats, found by the ``format.class`` names users write (Confluent's class names too)."""

from __future__ import annotations

import re
from typing import Any, Mapping

from common.errors import ConfigError
from sinks.files.formats.avro import AvroFormat
from sinks.files.formats.base import Format
from sinks.files.formats.bytearray import ByteArrayFormat
from sinks.files.formats.jsonl import JsonLinesFormat
from sinks.files.formats.parquet import ParquetFormat


COMPRESSIONS = ("none", "gzip")


def compression(values: Mapping[str, Any]) -> tuple[str, str]:
    """The key and value of the JSON and byte-array files' compression: ``s3.compression.type``, or
    ``az.compression.type`` (Confluent's Azure sink's name) when that is set."""
    azure = values.get("az.compression.type")
    if azure is None:
        return "s3.compression.type", values.get("s3.compression.type", "none")
    if values.get("s3.compression.type", "none") != "none":
        raise ConfigError("set s3.compression.type or az.compression.type, not both")
    return "az.compression.type", azure


def _uncompressed_json_only(values: Mapping[str, Any], codec_key: str, kind: str) -> None:
    key, value = compression(values)
    if value != "none":
        raise ConfigError("%s=%s applies to JSON and byte-array files; %s files are compressed by %s"
                          % (key, value, kind, codec_key))


def _parquet(values: Mapping[str, Any]) -> Format:
    _uncompressed_json_only(values, "parquet.codec", "Parquet")
    return ParquetFormat(values["parquet.codec"])


def _avro(values: Mapping[str, Any]) -> Format:
    _uncompressed_json_only(values, "avro.codec", "Avro")
    return AvroFormat(values.get("avro.codec", "null"))


def _bytearray(values: Mapping[str, Any]) -> Format:
    extension = values.get("format.bytearray.extension", ".bin")
    if not extension.startswith(".") or "/" in extension:
        raise ConfigError("format.bytearray.extension must start with '.' and hold no '/', got %r"
                          % extension)
    separator = values.get("format.bytearray.separator")
    return ByteArrayFormat(extension, "\n" if separator is None else unescape(separator),
                           compression(values)[1])


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "0": "\0"}


def unescape(text: str) -> str:
    """``\\n``, ``\\r\\n``, ``\\t``, ``\\0``, ``\\\\`` and ``\\uXXXX`` as the characters they
    name (config values are trimmed, so a separator is written with escapes, as in Confluent's)."""
    return re.sub(r"\\(u[0-9a-fA-F]{4}|[nrt0\\])",
                  lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1)[0] == "u"
                  else _ESCAPES[m.group(1)], text)


def _json(values: Mapping[str, Any]) -> Format:
    return JsonLinesFormat(compression(values)[1])



def _string(values: Mapping[str, Any]) -> Format:
    """The HDFS connector's StringFormat: each value's text and a newline, in ``.txt`` files."""
    return ByteArrayFormat(".txt", "\n", compression(values)[1])


def _orc(values: Mapping[str, Any]) -> Format:
    raise ConfigError("format.class=%s: ORC files are not written here; use the HDFS connector's "
                      "ParquetFormat or AvroFormat" % values.get("format.class"))


_HDFS_FORMATS = {"avro.AvroFormat": _avro, "json.JsonFormat": _json, "parquet.ParquetFormat": _parquet,
                 "string.StringFormat": _string, "orc.OrcFormat": _orc}

FORMATS = {
    "parquet": _parquet,
    "json": _json,
    "avro": _avro,
    "bytearray": _bytearray,
    "io.confluent.connect.s3.format.bytearray.ByteArrayFormat": _bytearray,
    "io.confluent.connect.gcs.format.bytearray.ByteArrayFormat": _bytearray,
    "io.confluent.connect.s3.format.avro.AvroFormat": _avro,
    "io.confluent.connect.gcs.format.avro.AvroFormat": _avro,
    "io.confluent.connect.s3.format.parquet.ParquetFormat": _parquet,
    "io.confluent.connect.gcs.format.parquet.ParquetFormat": _parquet,
    "io.confluent.connect.s3.format.json.JsonFormat": _json,
    "io.confluent.connect.gcs.format.json.JsonFormat": _json,
    "io.confluent.connect.azure.blob.format.avro.AvroFormat": _avro,
    "io.confluent.connect.azure.blob.format.bytearray.ByteArrayFormat": _bytearray,
    "io.confluent.connect.azure.blob.format.json.JsonFormat": _json,
    "io.confluent.connect.azure.blob.format.parquet.ParquetFormat": _parquet,
    **{"io.confluent.connect.%s.%s" % (package, name): factory
       for package in ("hdfs3", "hdfs") for name, factory in _HDFS_FORMATS.items()},
}


def make_format(name: str, values: Mapping[str, Any]) -> Format:
    try:
        factory = FORMATS[name]
    except KeyError:
        raise ConfigError("format.class must be one of %s, got %r"
                          % (", ".join(repr(n) for n in FORMATS), name)) from None
    return factory(values)


__all__ = ["AvroFormat", "ByteArrayFormat", "COMPRESSIONS", "FORMATS", "Format", "JsonLinesFormat", "ParquetFormat", "make_format"]
