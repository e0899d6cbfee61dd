"""Decoding a batch of Avro records that share a flat writer's schema in one call, straight to Arrow.

fastavro decodes one record per call into Python objects that ``pa.array`` then copies again; at a few
microseconds a record that is most of a Kafka → Parquet run's time. Records of one schema id are the
body of an Avro object container file but for a header and a block count: :func:`container` writes
those around the payloads (no copy of the records' own encoding is changed), and polars' Avro reader
(Rust) decodes the whole block into Arrow columns, several times faster than fastavro per record.

Only schemas whose Connect mapping is the Avro encoding as it is take this path
(:func:`block_schema`): a record of fields that are ``null``-unions of, or plain, ``boolean``,
``int``, ``long``, ``float``, ``double``, ``string`` or ``bytes``, with no logical type and no
reference to another schema. Anything else, or polars missing (it comes with the
``[schema-registry]`` extra), keeps fastavro's per-record path. A block that does not decode (a
corrupt record in it) is decoded again per record, so that the failure is that record's alone.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any, Optional, Sequence

import pyarrow as pa

_PRIMITIVES = frozenset(("boolean", "int", "long", "float", "double", "string", "bytes"))
MIN_RECORDS = 32  # below this the per-record path is as fast


def available() -> bool:
    try:
        import polars  # noqa: F401
    except ImportError:
        return False
    return True


def block_schema(definition: Any, has_references: bool, field: pa.Field) -> Optional[str]:
    """The writer's schema as container-header text when its records may be decoded as a block."""
    if has_references or not isinstance(definition, dict) or definition.get("type") != "record":
        return None
    if not pa.types.is_struct(field.type) or not definition.get("fields"):
        return None
    for avro_field in definition["fields"]:
        kind = avro_field.get("type")
        if isinstance(kind, list):
            branches = [b for b in kind if b != "null"]
            if len(kind) != 2 or len(branches) != 1:
                return None
            kind = branches[0]
        if not isinstance(kind, str) or kind not in _PRIMITIVES:
            return None  # a logical type, a named or complex type: the per-record path maps it
    return json.dumps(definition, separators=(",", ":"))


def container(schema_text: str, bodies: Sequence[bytes]) -> bytes:
    """An Avro object container file of one block holding ``bodies`` (each a record's encoding)."""
    sync = hashlib.md5(schema_text.encode()).digest()
    header = io.BytesIO()
    header.write(b"Obj\x01")
    meta = {b"avro.schema": schema_text.encode(), b"avro.codec": b"null"}
    _long(header, len(meta))
    for key, value in meta.items():
        _long(header, len(key))
        header.write(key)
        _long(header, len(value))
        header.write(value)
    _long(header, 0)
    header.write(sync)
    block = b"".join(bodies)
    _long(header, len(bodies))
    _long(header, len(block))
    return b"".join((header.getvalue(), block, sync))


def _long(out: io.BytesIO, n: int) -> None:
    n = (n << 1) ^ (n >> 63)
    while n & ~0x7F:
        out.write(bytes(((n & 0x7F) | 0x80,)))
        n >>= 7
    out.write(bytes((n,)))


def decode(schema_text: str, bodies: Sequence[bytes], arrow_type: pa.DataType) -> Optional[pa.Array]:
    """The records as one struct array of ``arrow_type``; None when the block does not decode (then
    decode them one by one to find the bad ones)."""
    import polars

    try:
        table = polars.read_avro(io.BytesIO(container(schema_text, bodies))).to_arrow()
    except Exception:  # polars reports a corrupt block as whichever error its reader met
        return None
    if table.num_rows != len(bodies) or table.column_names != [f.name for f in arrow_type]:
        return None
    columns = [column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
               for column in table.columns]
    try:
        return pa.StructArray.from_arrays(
            [c.cast(f.type) for c, f in zip(columns, arrow_type)], fields=list(arrow_type))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
