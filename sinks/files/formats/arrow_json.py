"""JSON text of Arrow arrays built column by column: the bytes orjson writes for ``to_pylist()``.

:func:`json_lines` gives the same bytes as ``orjson.dumps(row, default=..., option=OPT_APPEND_NEWLINE)``
for each row of :func:`~sinks.files.formats.base.rows`, without making a Python object per value for
the common types: each column becomes an array of JSON fragments in Arrow (integers cast to text,
strings quoted, structs and lists joined from their children's fragments), and each line is one
element-wise join of the row's fragments, so the file is the joined array's data buffer.

What is done in Arrow, and why it is exact:
- integers: Arrow's decimal text is Python's ``str(int)``; booleans ``true``/``false``; nulls ``null``;
- strings without ``"``, ``\\`` or control characters: quoted as they are (orjson escapes only
  those, and writes other characters, non-ASCII included, as UTF-8);
- floats: orjson itself over the column's list (``[1.0,null,...]``, split at the commas: numbers
  hold none), so orjson's float text is kept;
- decimals of scale 0 to 6 (``str(Decimal)`` uses an exponent only beyond that), as quoted text;
- dates from year 1 to 9999, as Arrow's ISO 8601 text, quoted;
- structs (``{"name":value,...}``) and lists (``[a,b]``) from their children.
Every other column (binary, maps, times, timestamps, dictionaries, strings with characters orjson
escapes...) gets orjson's bytes for each of its values, which is exactly what the per-row path writes
for them: orjson writes a dict as its keys' and values' texts joined with ``:`` and ``,``.
"""

from __future__ import annotations

import io
from typing import Callable, Optional

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

_BINARY = pa.large_binary()
_NULL = pa.scalar(b"null", _BINARY)
_QUOTE = pa.scalar(b'"', _BINARY)
_EMPTY = pa.scalar(b"", _BINARY)
_ESCAPED = r'[\x00-\x1f"\\]'  # what orjson escapes in a string
SLICE_ROWS = 10_000
_FIRST_DAY, _LAST_DAY = -719162, 2932896  # 0001-01-01 and 9999-12-31 as days since the epoch


def json_lines(values: pa.Array, default: Callable) -> Optional[bytes]:
    """One JSON value per row of ``values`` (a struct's fields as an object), each followed by a
    newline; None when only the per-row path can write them (struct fields of one name)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not _unique_names(values.type):
        return None
    if len(values) == 0:
        return b""
    if pa.types.is_struct(values.type) and values.type.num_fields == 0:
        return None
    # a slice of rows at a time, so that only one slice's fragments and lines are held next to the
    # file's bytes (which BytesIO hands over without a copy)
    out = io.BytesIO()
    for start in range(0, len(values), SLICE_ROWS):
        out.write(_lines(values.slice(start, SLICE_ROWS), default))
    return out.getvalue()


def _lines(values: pa.Array, default: Callable) -> pa.Buffer:
    if pa.types.is_struct(values.type):
        lines = _object(values, values.flatten(), default, b"}\n")  # rows(): fields of null rows are null
    else:
        lines = pc.binary_join_element_wise(_fragments(values, default), pa.scalar(b"\n", _BINARY), _EMPTY)
    _, offsets, data = lines.buffers()
    offsets = np.frombuffer(offsets, np.int64)[lines.offset:lines.offset + len(lines) + 1]
    return data[int(offsets[0]):int(offsets[-1])]


def _unique_names(t: pa.DataType) -> bool:
    if pa.types.is_struct(t):
        names = [t.field(i).name for i in range(t.num_fields)]
        return len(set(names)) == len(names) and all(_unique_names(t.field(i).type)
                                                      for i in range(t.num_fields))
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _unique_names(t.value_type)
    if pa.types.is_map(t):
        return _unique_names(t.key_type) and _unique_names(t.item_type)
    return True


def _object(array: pa.StructArray, children: list, default: Callable, close: bytes) -> pa.Array:
    parts = []
    for i, child in enumerate(children):
        key = orjson.dumps(array.type.field(i).name) + b":"
        parts += [pa.scalar((b"{" if i == 0 else b",") + key, _BINARY), _fragments(child, default)]
    return pc.binary_join_element_wise(*parts, pa.scalar(close, _BINARY), _EMPTY)


def _fragments(array: pa.Array, default: Callable) -> pa.Array:
    """Each value's JSON text, as a large_binary array without nulls."""
    t = array.type
    if pa.types.is_null(t):
        return pa.array([b"null"] * len(array), _BINARY)
    if pa.types.is_integer(t):
        text = pc.cast(pc.cast(array, pa.large_string()), _BINARY)
    elif pa.types.is_boolean(t):
        text = pc.if_else(array, pa.scalar(b"true", _BINARY), pa.scalar(b"false", _BINARY))
    elif pa.types.is_float32(t) or pa.types.is_float64(t):
        return _numbers(orjson.dumps(array.to_pylist()), len(array))
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        if pc.any(pc.match_substring_regex(array, _ESCAPED)).as_py():
            return _each(array, default)
        text = _quoted(pc.cast(pc.cast(array, pa.large_string()), _BINARY))
    elif pa.types.is_decimal(t) and 0 <= t.scale <= 6:
        text = _quoted(pc.cast(pc.cast(array, pa.large_string()), _BINARY))
    elif pa.types.is_date32(t) and _within(pc.cast(array, pa.int32()), _FIRST_DAY, _LAST_DAY):
        text = _quoted(pc.cast(pc.cast(array, pa.large_string()), _BINARY))
    elif pa.types.is_struct(t) and t.num_fields:
        text = _object(array, array.flatten(), default, b"}")
        return pc.if_else(array.is_valid(), text, _NULL) if array.null_count else text
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        offsets = pc.cast(array.offsets, pa.int64())
        first = offsets[0].as_py()
        items = array.values.slice(first, offsets[-1].as_py() - first)
        joined = pc.binary_join(pa.LargeListArray.from_arrays(pc.subtract(offsets, first),
                                                              _fragments(items, default)),
                                pa.scalar(b",", _BINARY))
        text = pc.binary_join_element_wise(pa.scalar(b"[", _BINARY), joined, pa.scalar(b"]", _BINARY),
                                           _EMPTY)
        return pc.if_else(array.is_valid(), text, _NULL) if array.null_count else text
    else:
        return _each(array, default)
    return pc.fill_null(text, _NULL) if text.null_count else text


def _numbers(listed: bytes, count: int) -> pa.Array:
    """The elements of orjson's text of a list of numbers (or nulls), which hold no commas."""
    data = listed[1:-1] + b","  # each element and a comma, then the comma cut off
    commas = np.flatnonzero(np.frombuffer(data, np.uint8) == ord(","))
    offsets = np.concatenate([[0], commas + 1]).astype(np.int64)
    with_commas = pa.LargeBinaryArray.from_buffers(_BINARY, count, [None, pa.py_buffer(offsets),
                                                                     pa.py_buffer(data)])
    return pc.binary_slice(with_commas, 0, -1)


def _quoted(text: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(_QUOTE, text, _QUOTE, _EMPTY)


def _within(days: pa.Array, low: int, high: int) -> bool:
    bounds = pc.min_max(days)
    return bounds["min"].as_py() is None or (bounds["min"].as_py() >= low and bounds["max"].as_py() <= high)


def _each(array: pa.Array, default: Callable) -> pa.Array:
    """orjson's text of each value, as the per-row path writes it."""
    dumps, options = orjson.dumps, orjson.OPT_NON_STR_KEYS
    return pa.array([dumps(v, default=default, option=options) for v in array.to_pylist()], _BINARY)
