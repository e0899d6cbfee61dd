"""The fast path of plain JSON: a batch of one-line JSON objects read by Arrow's JSON reader in one call.

It gives what the record-by-record path gives (same types, same field order: first appearance),
or nothing, leaving the batch to that path. Arrow's reader differs from JSON in two ways handled here:
it turns ISO 8601 strings into timestamps, and it accepts NaN and infinities.

Strings stay strings by typing, up front, the fields that look like timestamps in the first records
as ``string`` (an explicit schema puts them first, so the field order is restored afterwards); a field
that only starts looking like one later costs a second read.
"""

from __future__ import annotations

import io
import logging
from typing import Optional, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

_LOGGER = logging.getLogger(__name__)

_SAMPLE_SIZE = 100


def read_objects(data: Sequence[Optional[bytes]]) -> Optional[pa.Array]:
    """The batch as a struct array (null where the input is None); None if the fast path does not apply.

    It applies when every non-null value starts with ``{`` and holds no newline, and Arrow reads exactly
    one row per value with nothing JSON rejects.
    """
    present = data if None not in data else [raw for raw in data if raw is not None]
    if not present:
        return None
    joined = b"\n".join(present)
    # Every value starts with "{" and holds no newline exactly when the joined text starts with "{" and
    # each of its n - 1 newlines (no more) is followed by "{"; counted at C speed.
    separators = len(present) - 1
    if joined[:1] != b"{" or joined.count(b"\n") != separators or joined.count(b"\n{") != separators:
        return None
    try:
        array = _read_all(joined, b"\n".join(present[:_SAMPLE_SIZE]), len(present))
    except (pa.ArrowException, UnicodeDecodeError) as e:
        _LOGGER.debug("Batch of %d JSON values left to the record-by-record path: %s", len(present), e)
        return None
    if array is None or _has_non_finite(array):
        return None
    if len(present) == len(data):
        return array
    positions, row = [], 0
    for raw in data:
        if raw is None:
            positions.append(None)
        else:
            positions.append(row)
            row += 1
    return array.take(pa.array(positions, type=pa.int64()))


def _read_all(joined: bytes, sample: bytes, rows: int) -> Optional[pa.StructArray]:
    sample_type = pa.struct(list(_read(sample, None).schema))
    pinned = _only_timestamps(pa.field("", sample_type))
    table = _read(joined, None if pinned is None else pa.schema(list(pinned.type)))
    if table.num_rows != rows:
        return None
    if _timestamps_as_strings(pa.field("", pa.struct(list(table.schema))))[1]:
        # A field looks like a timestamp only after the sample: read again with it typed string.
        fixed = [_timestamps_as_strings(f)[0] for f in table.schema]
        table = _read(joined, pa.schema(fixed))
    array = table.to_struct_array().combine_chunks()
    if pinned is not None:
        ordered = _ordered_like(array.type, sample_type)
        if ordered != array.type:
            array = array.cast(ordered)
    return array


def _read(joined: bytes, schema: Optional[pa.Schema]) -> pa.Table:
    options = pa_json.ParseOptions(explicit_schema=schema) if schema is not None else None
    return pa_json.read_json(io.BytesIO(joined), parse_options=options)


def _only_timestamps(field: pa.Field) -> Optional[pa.Field]:
    """The part of a field leading to timestamps, typed string; None if it holds no timestamp."""
    arrow_type = field.type
    if pa.types.is_timestamp(arrow_type):
        return field.with_type(pa.string())
    if pa.types.is_struct(arrow_type):
        children = [c for c in (_only_timestamps(f) for f in arrow_type) if c is not None]
        return field.with_type(pa.struct(children)) if children else None
    if pa.types.is_list(arrow_type):
        item = _only_timestamps(arrow_type.value_field)
        return field.with_type(pa.list_(item)) if item is not None else None
    return None


def _timestamps_as_strings(field: pa.Field) -> tuple[pa.Field, bool]:
    """The field with every timestamp inside it typed string, and whether there was one."""
    arrow_type = field.type
    if pa.types.is_timestamp(arrow_type):
        return field.with_type(pa.string()), True
    if pa.types.is_struct(arrow_type):
        children = [_timestamps_as_strings(f) for f in arrow_type]
        if any(changed for _, changed in children):
            return field.with_type(pa.struct([f for f, _ in children])), True
    elif pa.types.is_list(arrow_type):
        item, changed = _timestamps_as_strings(arrow_type.value_field)
        if changed:
            return field.with_type(pa.list_(item)), True
    return field, False


def _ordered_like(actual: pa.DataType, sample: pa.DataType) -> pa.DataType:
    """``actual`` with the struct fields seen in the sample first, in the sample's (first-seen) order."""
    if pa.types.is_struct(actual) and pa.types.is_struct(sample):
        rest = {f.name: f for f in actual}
        fields = []
        for sample_field in sample:
            field = rest.pop(sample_field.name, None)
            if field is not None:
                fields.append(field.with_type(_ordered_like(field.type, sample_field.type)))
        fields.extend(rest.values())
        return pa.struct(fields)
    if pa.types.is_list(actual) and pa.types.is_list(sample):
        item = actual.value_field
        return pa.list_(item.with_type(_ordered_like(item.type, sample.value_type)))
    return actual


def _has_non_finite(array: pa.Array) -> bool:
    """Whether a float inside the array is NaN or infinite (which only Arrow's reader accepts)."""
    arrow_type = array.type
    if pa.types.is_floating(arrow_type):
        return bool(pc.any(pc.invert(pc.is_finite(array))).as_py())
    if pa.types.is_struct(arrow_type):
        return any(_has_non_finite(array.field(i)) for i in range(arrow_type.num_fields))
    if pa.types.is_list(arrow_type):
        return _has_non_finite(array.flatten())
    return False
