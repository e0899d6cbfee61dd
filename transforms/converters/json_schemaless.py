"""Plain JSON (``schemas.enable=false``) to Arrow, with types inferred over the whole batch.

Every field of every record is kept: objects become structs whose fields are the union of the keys
seen in the batch (absent keys are null), integers ``int64``, other numbers ``double``.

The common batch, one-line JSON objects, is parsed by Arrow's JSON reader in one call
(:mod:`transforms.converters.json_lines`). Any other batch, or one the reader rejects, is parsed record
by record with orjson and built with ``pa.array``; records that are not JSON, or whose
types cannot share one Arrow type with the records before them, are reported as failures.
"""

from __future__ import annotations

import logging
from typing import Any, Optional, Sequence

import orjson
import pyarrow as pa

from transforms.converters.base import Conversion
from transforms.converters.json_lines import read_objects
from transforms.converters.unify import TypeConflict, format_path, unify_types

_LOGGER = logging.getLogger(__name__)

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


class _OutOfRange(Exception):
    def __init__(self, value: int):
        super().__init__()
        self.value = value
        self.path: list[str] = []

    def reason(self) -> str:
        where = " in field %r" % format_path(self.path) if self.path else ""
        return "integer %d%s is outside the int64 range" % (self.value, where)


def convert_schemaless(data: Sequence[Optional[bytes]]) -> Conversion:
    """Converts raw plain-JSON values; None (a tombstone) and JSON ``null`` are null entries."""
    array = read_objects(data)
    if array is not None:
        return Conversion(array)
    entries, failures = [], []
    loads = orjson.loads
    for index, raw in enumerate(data):
        if raw is None:
            entries.append((index, None))
            continue
        try:
            entries.append((index, loads(raw)))
        except orjson.JSONDecodeError as e:
            failures.append((index, "not valid JSON: %s" % e))
    array, conflicts = from_python(entries)
    return Conversion(array, tuple(sorted(failures + conflicts)))


def from_python(entries: list[tuple[int, Any]]) -> tuple[pa.Array, list[tuple[int, str]]]:
    """One array of parsed JSON values, inferring their type.

    Args:
      entries: ``(index, value)`` pairs, values as ``orjson.loads`` returns them.

    Returns:
      The array of the values that fit one type, and ``(index, reason)`` for the others.
    """
    values = [value for _, value in entries]
    try:
        return pa.array(values), []
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    unified, kept, failures = pa.null(), [], []
    for index, value in entries:
        try:
            unified = unify_types(unified, _infer_type(value))
        except TypeConflict as conflict:
            failures.append((index, conflict.reason()))
            continue
        except _OutOfRange as e:
            failures.append((index, e.reason()))
            continue
        kept.append((index, value))
    if failures:
        _LOGGER.debug("%d of %d JSON values do not share one Arrow type with the others",
                      len(failures), len(entries))
    array, rejected = build_array(kept, unified)
    return array, sorted(failures + rejected)


def build_array(entries: list[tuple[int, Any]], arrow_type: pa.DataType
                ) -> tuple[pa.Array, list[tuple[int, str]]]:
    """``pa.array`` of the entries' values; if Arrow rejects some, they are found and left out."""
    try:
        return pa.array([value for _, value in entries], type=arrow_type), []
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    kept, failures = [], []
    for index, value in entries:
        try:
            pa.array([value], type=arrow_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as e:
            failures.append((index, "cannot convert to %s: %s" % (arrow_type, e)))
            continue
        kept.append(value)
    return pa.array(kept, type=arrow_type), failures


def _infer_type(value: Any) -> pa.DataType:
    """The Arrow type ``pa.array`` infers for one parsed JSON value.

    Raises:
      TypeConflict: Items of one list have types no Arrow type holds.
    """
    value_type = type(value)
    if value is None:
        return pa.null()
    if value_type is bool:
        return pa.bool_()
    if value_type is int:
        if _INT64_MIN <= value <= _INT64_MAX:
            return pa.int64()
        raise _OutOfRange(value)
    if value_type is float:
        return pa.float64()
    if value_type is str:
        return pa.string()
    if value_type is dict:
        fields = []
        for key, item in value.items():
            try:
                fields.append(pa.field(key, _infer_type(item)))
            except (TypeConflict, _OutOfRange) as e:
                e.path.insert(0, key)
                raise
        return pa.struct(fields)
    if value_type is list:
        item_type = pa.null()
        for item in value:
            try:
                item_type = unify_types(item_type, _infer_type(item))
            except TypeConflict as conflict:
                conflict.context = conflict.context or "earlier items of the list"
                conflict.path.insert(0, "[]")
                raise
            except _OutOfRange as e:
                e.path.insert(0, "[]")
                raise
        return pa.list_(item_type)
    raise TypeError("not a parsed JSON value: %r" % value_type.__name__)
