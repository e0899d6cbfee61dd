"""The rows of one staging load, as Arrow columns: as DB-API rows, or as one bulk-load payload.

:class:`Staged` holds one Arrow array per staging column, with the column's Connect kind and the type
family of the table's column. :meth:`Staged.rows` gives the Python values a driver binds (multi-row
``INSERT``: SQLite, and MySQL/MariaDB where the server refuses ``LOAD DATA LOCAL INFILE``);
:meth:`Staged.payload` gives the same values as tab-separated text, the format that PostgreSQL's ``COPY
... FROM STDIN`` and MySQL's ``LOAD DATA`` read by default: fields separated by tabs, rows ended by
newlines, ``\\N`` for NULL (so an empty string stays an empty string), and a backslash before a
backslash, tab, newline or carriage return in a value.

The payload is built column by column with Arrow kernels where the value reaches the database as it is
(integers, floats, booleans, strings, bytes, decimals, dates, times, timestamps into columns of their
own family); where a value is cast or adapted first (schemaless data meeting an existing column of
another type, JSON of nested values), each value goes through the same cast and adaptation as the
driver path and is then written as the text the driver would send.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Optional, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_NATURAL = {"int8": "int", "int16": "int", "int32": "int", "int64": "int", "float32": "float",
            "float64": "float", "string": "string", "boolean": "boolean", "bytes": "bytes"}
# Connect kinds whose Arrow values go straight into a column of this family, as text.
_DIRECT = {("decimal", "decimal"): pa.types.is_decimal, ("date", "date"): pa.types.is_date,
           ("time", "time"): pa.types.is_time, ("timestamp", "timestamp"): pa.types.is_timestamp}
_ESCAPES = ((b"\\", b"\\\\"), (b"\t", b"\\t"), (b"\n", b"\\n"), (b"\r", b"\\r"))
_NULL = b"\\N"


def converter(dialect, kind: Optional[str], column_family: str):
    """How values of ``kind`` go into a column of ``column_family``: None where the driver takes them
    as they are, else a function of one value."""
    if _NATURAL.get(kind) == column_family and dialect.binds_natively(kind):
        return None
    from sinks.jdbc.tables import cast

    def convert(value):
        return dialect.adapt(cast(value, column_family), kind)

    return convert


class Staged:
    """The columns of one staging load.

    Args:
      dialect: The sink's :class:`~sinks.jdbc.dialects.Dialect`.
      names: The staging columns' names.
      arrays: One Arrow array per name, all of one length.
      kinds: Each column's Connect kind (None when unknown).
      families: Each table column's type family (see :func:`sinks.jdbc.tables.family`).
    """

    def __init__(self, dialect, names: Sequence[str], arrays: Sequence[pa.Array],
                 kinds: Sequence[Optional[str]], families: Sequence[str]):
        self.dialect = dialect
        self.names = list(names)
        self._arrays = list(arrays)
        self._kinds = list(kinds)
        self._families = list(families)
        self._length = len(self._arrays[0]) if self._arrays else 0

    def __len__(self) -> int:
        return self._length

    def rows(self) -> list:
        """The rows as tuples of the values the driver binds."""
        columns = []
        for array, kind, column_family in zip(self._arrays, self._kinds, self._families):
            values = _pylist(array)
            convert = converter(self.dialect, kind, column_family)
            columns.append(values if convert is None else [convert(v) for v in values])
        return list(zip(*columns))

    def payload(self) -> memoryview:
        """The rows as tab-separated text with backslash escapes and ``\\N`` for NULL, one line each."""
        columns = [self._text(a, k, f) for a, k, f in zip(self._arrays, self._kinds, self._families)]
        lines = pc.binary_join_element_wise(*columns, pa.scalar(b"\t", pa.large_binary()))
        lines = pc.binary_join_element_wise(lines, pa.scalar(b"", pa.large_binary()),
                                            pa.scalar(b"\n", pa.large_binary()))
        if isinstance(lines, pa.ChunkedArray):
            lines = lines.combine_chunks()
        _, offsets, data = lines.buffers()
        bounds = np.frombuffer(offsets, dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
        if not len(lines):
            return memoryview(b"")
        return memoryview(data)[int(bounds[0]):int(bounds[-1])]

    def _text(self, array: pa.Array, kind: Optional[str], column_family: str) -> pa.Array:
        """One column as escaped text (``large_binary``), NULLs as ``\\N``."""
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        text = None
        if converter(self.dialect, kind, column_family) is None or (
                (kind, column_family) in _DIRECT and _DIRECT[kind, column_family](array.type)):
            text = self._direct(array)
        if text is None:  # each value cast and adapted as the driver path does, then as its text
            convert = converter(self.dialect, kind, column_family)
            values = _pylist(array)
            if convert is not None:
                values = [convert(v) for v in values]
            literal = self.dialect.literal
            text = pa.array([None if v is None else literal(v) for v in values], pa.large_binary())
            text = escape(text)
        return pc.fill_null(text, pa.scalar(_NULL, pa.large_binary()))

    def _direct(self, array: pa.Array) -> Optional[pa.Array]:
        """The column's text by Arrow kernels, or None where its type needs the value path."""
        t = array.type
        if pa.types.is_null(t):
            return pa.nulls(len(array), pa.large_binary())
        if pa.types.is_integer(t) or pa.types.is_decimal(t) or pa.types.is_date(t) or \
                pa.types.is_time(t):
            return pc.cast(pc.cast(array, pa.large_string()), pa.large_binary())
        if pa.types.is_floating(t):  # as the driver sends a Python float: widened to a double
            return pc.cast(pc.cast(pc.cast(array, pa.float64()), pa.large_string()), pa.large_binary())
        if pa.types.is_boolean(t):
            return self.dialect.boolean_text(array)
        if pa.types.is_timestamp(t):
            if t.tz is not None:  # local times of db.timezone, as adapt() makes them
                try:
                    array = pc.local_timestamp(array.cast(pa.timestamp(t.unit,
                                                                       tz=self.dialect.zone_name)))
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a zone Arrow does not know
                    return None
            return pc.cast(pc.cast(array, pa.large_string()), pa.large_binary())
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return escape(pc.cast(pc.cast(array, pa.large_string()), pa.large_binary()))
        if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
            return self.dialect.bytes_text(array)
        return None


def _pylist(array: pa.Array) -> list:
    """``array.to_pylist()``, with maps whose keys are all strings (nested ones too) as dicts, so that
    their JSON is an object as JsonConverter writes a Connect map; other maps stay ``(key, value)``
    pairs (JSON arrays of pairs, as JsonConverter writes maps with other keys)."""
    if _string_keyed(array.type):
        return array.to_pylist(maps_as_pydicts="lossy")
    return array.to_pylist()


def _string_keyed(arrow_type: pa.DataType) -> bool:
    """Whether ``arrow_type`` holds maps, all with string keys."""
    found = []

    def walk(t) -> bool:
        if pa.types.is_map(t):
            found.append(t)
            return (pa.types.is_string(t.key_type) or pa.types.is_large_string(t.key_type)) and \
                walk(t.item_type)
        if pa.types.is_struct(t):
            return all(walk(f.type) for f in t)
        if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
            return walk(t.value_type)
        return True

    return walk(arrow_type) and bool(found)


def escape(array: pa.Array) -> pa.Array:
    """A ``large_binary`` array's values with a backslash before each backslash, tab, newline and
    carriage return."""
    for plain, escaped in _ESCAPES:
        if pc.any(pc.match_substring(array, plain)).as_py():
            array = pc.replace_substring(array, plain, escaped)
    return array


def literal_text(value) -> bytes:
    """The text of a Python value as a driver sends it, for the types the casts and adapters leave."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, float):
        return repr(value).encode()
    if isinstance(value, (int, decimal.Decimal)):
        return str(value).encode()
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ").encode()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat().encode()
    return str(value).encode()
