"""Avro records encoded from Arrow columns in bulk, in the bytes fastavro writes for ``to_pylist()``.

Avro's binary encoding of a record is its fields' encodings one after another, so each column becomes
an array of encoded values (zigzag varints for ``int``/``long``, little-endian IEEE for ``float``
and ``double``, a length and the bytes for ``string``/``bytes``, the branch index before a
``["null", T]`` union's value, counted blocks for arrays) and each record is one element-wise join.
:func:`avro_blocks` then cuts the records into blocks where fastavro would (a block ends with the
first record that brings it to ``SYNC_INTERVAL`` bytes), so that the container file fastavro writes
from these blocks is byte for byte the one it writes from the records.

Only schemas made of those types, over Arrow columns of exactly the matching types, are encoded here
(:func:`avro_blocks` returns None otherwise): logical types, enums, fixed, maps and named references
are left to fastavro's per-record path.
"""

from __future__ import annotations

from typing import Iterator, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SYNC_INTERVAL = 16000  # fastavro's default sync_interval (1000 * SYNC_SIZE)

_BINARY = pa.large_binary()
_EMPTY = pa.scalar(b"", _BINARY)
_INTEGERS = {"int": (pa.int8(), pa.int16(), pa.int32()),
             "long": (pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32())}


def avro_blocks(values: pa.Array, schema) -> Optional[Iterator]:
    """``(record count, encoded records)`` of each block of ``values`` under the Avro ``schema`` (a
    dict or a primitive name, as written), cut where fastavro cuts its blocks; None when fastavro
    must write them."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if len(values) == 0 or not _encodable(schema, values.type):
        return None
    try:
        if pa.types.is_struct(values.type):  # rows(): the fields of a null row are null
            encoded = _record(schema, values.flatten())
        else:
            encoded = _encode(schema, values)
    except _Nulls:  # fastavro names the field in its error
        return None
    return _blocks(encoded)


def _blocks(encoded: pa.Array) -> Iterator:
    """The blocks' bytes one at a time, each made as it is written."""
    _, offsets, data = encoded.buffers()
    offsets = np.frombuffer(offsets, np.int64)[encoded.offset:encoded.offset + len(encoded) + 1]
    start, count = 0, len(encoded)
    while start < count:
        # the first record after which the block holds SYNC_INTERVAL bytes or more
        end = int(np.searchsorted(offsets, offsets[start] + SYNC_INTERVAL, side="left"))
        end = min(max(end, start + 1), count)
        yield end - start, data[int(offsets[start]):int(offsets[end])].to_pybytes()
        start = end


def _branch(schema) -> tuple:
    """(the schema without a ``["null", T]`` union, whether it was one)."""
    if isinstance(schema, list):
        if len(schema) == 2 and schema[0] == "null":
            return schema[1], True
        return None, False
    return schema, False


class _Nulls(Exception):
    """Nulls where the schema has no null branch."""


def _encodable(schema, t: pa.DataType) -> bool:
    schema, _ = _branch(schema)
    if schema is None:
        return False
    kind = schema.get("type") if isinstance(schema, dict) else schema
    if isinstance(schema, dict) and "logicalType" in schema:
        return False
    if kind == "null":
        return t == pa.null()
    if kind in _INTEGERS:
        return t in _INTEGERS[kind]
    if kind == "float":
        return t == pa.float32()
    if kind == "double":
        return t == pa.float64()
    if kind == "boolean":
        return t == pa.bool_()
    if kind == "string":
        return pa.types.is_string(t) or pa.types.is_large_string(t)
    if kind == "bytes":
        return pa.types.is_binary(t) or pa.types.is_large_binary(t)
    if kind == "record" and isinstance(schema, dict):
        fields = schema["fields"]
        return (pa.types.is_struct(t) and t.num_fields == len(fields) and t.num_fields > 0
                and all(t.field(i).name == f["name"] and _encodable(f["type"], t.field(i).type)
                        for i, f in enumerate(fields)))
    if kind == "array" and isinstance(schema, dict):
        return (pa.types.is_list(t) or pa.types.is_large_list(t)) and _encodable(schema["items"],
                                                                                  t.value_type)
    return False


def _encode(schema, array: pa.Array) -> pa.Array:
    """Each value's Avro encoding, as a large_binary array without nulls."""
    schema, nullable = _branch(schema)
    if schema == "null":  # encoded as nothing
        return pa.array([b""] * len(array), _BINARY)
    if array.null_count and not nullable:
        raise _Nulls()
    kind = schema.get("type") if isinstance(schema, dict) else schema
    if kind == "record":
        encoded = _record(schema, array.flatten())
    elif kind == "array":
        encoded = _array(schema, array)
    elif kind in ("string", "bytes"):
        text = pc.cast(pc.cast(array, pa.large_string() if kind == "string" else _BINARY), _BINARY)
        text = pc.fill_null(text, _EMPTY) if text.null_count else text
        encoded = pc.binary_join_element_wise(_longs(pc.binary_length(text)), text, _EMPTY)
    else:
        filled = pc.fill_null(array, False if kind == "boolean" else 0) if array.null_count else array
        if kind in _INTEGERS:
            encoded = _longs(filled)
        else:
            width = {"float": 4, "double": 8, "boolean": 1}[kind]
            raw = np.ascontiguousarray(filled.to_numpy(zero_copy_only=False)).view(np.uint8)
            encoded = pa.LargeBinaryArray.from_buffers(
                _BINARY, len(array), [None, pa.py_buffer(np.arange(len(array) + 1, dtype=np.int64) * width),
                                      pa.py_buffer(raw.tobytes())])
    if not nullable:
        return encoded
    present = pc.binary_join_element_wise(pa.scalar(b"\x02", _BINARY), encoded, _EMPTY)
    return pc.if_else(array.is_valid(), present, pa.scalar(b"\x00", _BINARY)) if array.null_count \
        else present


def _record(schema: dict, children: list) -> pa.Array:
    return pc.binary_join_element_wise(*(_encode(f["type"], child)
                                         for f, child in zip(schema["fields"], children)), _EMPTY)


def _array(schema: dict, array: pa.Array) -> pa.Array:
    """fastavro's array: the item count and the items, then 0 (an empty array is 0 alone)."""
    offsets = pc.cast(array.offsets, pa.int64())
    first = offsets[0].as_py()
    items = array.values.slice(first, offsets[-1].as_py() - first)
    encoded = _encode(schema["items"], items) if len(items) else pa.array([], _BINARY)
    joined = pc.binary_join(pa.LargeListArray.from_arrays(pc.subtract(offsets, first), encoded), _EMPTY)
    lengths = pc.list_value_length(array)
    lengths = pc.fill_null(lengths, 0) if lengths.null_count else lengths
    zero = pa.scalar(b"\x00", _BINARY)
    full = pc.binary_join_element_wise(_longs(lengths), pc.fill_null(joined, _EMPTY), zero, _EMPTY)
    return pc.if_else(pc.greater(lengths, 0), full, zero)


def _longs(array: pa.Array) -> pa.Array:
    """Avro's zigzag varint of each (non-null) integer."""
    v = np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.int64)
    zigzag = ((v << 1) ^ (v >> 63)).view(np.uint64)
    lengths = np.ones(len(v), np.int64)
    rest = zigzag >> np.uint64(7)
    while rest.any():
        lengths += rest != 0
        rest >>= np.uint64(7)
    width = int(lengths.max()) if len(v) else 1
    shifts = np.arange(width, dtype=np.uint64) * np.uint64(7)
    groups = ((zigzag[:, None] >> shifts[None, :]) & np.uint64(0x7F)).astype(np.uint8)
    more = np.arange(width)[None, :] < (lengths[:, None] - 1)
    groups |= (more * 0x80).astype(np.uint8)
    data = groups[np.arange(width)[None, :] < lengths[:, None]]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return pa.LargeBinaryArray.from_buffers(_BINARY, len(v), [None, pa.py_buffer(offsets),
                                                              pa.py_buffer(data.tobytes())])
