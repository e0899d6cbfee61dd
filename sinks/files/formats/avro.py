"""Avro container files, as Confluent's AvroFormat: the value's schema is the file's schema.

The file's schema is AvroData.fromConnectSchema of the records' Connect schema (see
:mod:`sinks.avro_schema`): with the Connect schema the sink hands over
(:meth:`~sinks.files.formats.base.Format.serialize_with_schema`), an Avro topic read with AvroConverter
keeps its writer's record names and namespaces, docs, enums, defaults, logical types and ``connect.*``
properties; without one (schemaless values, or values a transform reshaped) the schema is derived from
the values' Arrow type: optional fields become ``["null", T]`` unions defaulting to null, Connect's
Decimal, Date, Time and Timestamp become Avro's logical types, and structs without a name are records
named as Confluent's AvroData names them (``io.confluent.connect.avro.ConnectDefault``,
``ConnectDefault2``...). Maps with string keys are Avro maps; other maps are arrays of key/value
records, as in AvroData.

Files are byte-for-byte reproducible: the sync marker is derived from the schema, so a replayed window
writes the same bytes under the same name. Records of plain types (numbers, booleans, strings, bytes,
records, arrays and optional ones) are encoded from the Arrow columns in bulk
(:mod:`sinks.files.formats.arrow_avro`) and handed to fastavro as blocks; the others go to fastavro
as Python objects, record by record, in the same bytes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import sys
from typing import Optional

import pyarrow as pa

from common.errors import ConfigError
from sinks.avro_schema import avro_schema_of
from sinks.files.formats.arrow_avro import avro_blocks
from sinks.files.formats.base import Format, rows

# avro.codec -> the module fastavro needs for it
CODECS = {"null": None, "deflate": None, "bzip2": None, "xz": None, "snappy": "cramjam",
          "zstandard": "compression.zstd" if sys.version_info >= (3, 14) else "backports.zstd"}


class AvroFormat(Format):
    """Args:
      codec: ``avro.codec``: null, deflate, snappy, bzip2, xz or zstandard.
    """

    def __init__(self, codec: str = "null"):
        if codec not in CODECS:
            raise ConfigError("avro.codec must be one of %s, got %r"
                              % (", ".join(repr(c) for c in CODECS), codec))
        if CODECS[codec] is not None and not _installed(CODECS[codec]):
            raise ConfigError("avro.codec=%s needs the %s module; pip install %s"
                              % (codec, CODECS[codec], CODECS[codec]))
        self.codec = codec

    @property
    def extension(self) -> str:
        return ".avro"

    def serialize(self, values: pa.Array) -> bytes:
        return self.serialize_with_schema(values, None)

    def serialize_with_schema(self, values: pa.Array, schema: Optional[pa.Field]) -> bytes:
        import fastavro
        import fastavro.write

        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        described = schema is not None and schema.type.equals(values.type)
        avro, fix = avro_schema_of(schema if described else None, values.type)
        text = json.dumps(avro, sort_keys=True)
        # fastavro writes the schema it is given into the header. From a Connect schema that is the
        # schema as made: fastavro's parsed form orders a field's doc and default by set iteration,
        # which differs between processes, and would break byte-identical replays. Schemaless values
        # keep the parsed form their files always had.
        header_schema = avro if described else fastavro.parse_schema(avro)
        marker = hashlib.md5(text.encode()).digest()
        out = io.BytesIO()
        blocks = avro_blocks(values, avro) if fix is None else None
        if blocks is None:
            fastavro.writer(out, header_schema, per_record(values, fix), codec=self.codec,
                            sync_marker=marker)
            return out.getvalue()
        writer = fastavro.write.Writer(out, header_schema, codec=self.codec, sync_marker=marker)
        for count, data in blocks:
            writer.write_block(_Block(count, data))
        writer.flush()
        return out.getvalue()


class _Block:
    """A block of encoded records, as fastavro's ``Writer.write_block`` reads one (the two
    attributes of the blocks ``fastavro.block_reader`` gives)."""

    def __init__(self, num_records: int, data: bytes):
        self.num_records = num_records
        self.bytes_ = io.BytesIO(data)


def per_record(values: pa.Array, fix=None) -> list:
    """The records fastavro writes one at a time when the columns cannot be encoded in bulk."""
    records = rows(values)
    return records if fix is None else [fix(r) for r in records]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False
