"""Building bundles for transform tests: values as Python objects, schemas as Arrow fields."""

from __future__ import annotations

from typing import Optional, Sequence

import pyarrow as pa

from transforms.records import ConvertedBundle


def bundle(values: Sequence, value_schema: Optional[pa.Field] = None, *, keys: Sequence = None,
           key_schema: Optional[pa.Field] = None, topic: str = "orders", partition: int = 0,
           first_offset: int = 0, timestamps: Sequence[int] = None,
           headers: Sequence = None) -> ConvertedBundle:
    """A bundle of ``values`` (typed by ``value_schema`` when given, else inferred: schemaless)."""
    n = len(values)
    keys = [None] * n if keys is None else list(keys)
    return ConvertedBundle(
        topic, partition, first_offset, list(range(first_offset, first_offset + n)),
        list(timestamps) if timestamps is not None else [1_700_000_000_000 + i for i in range(n)],
        pa.array(keys, type=key_schema.type if key_schema is not None else None),
        pa.array(list(values), type=value_schema.type if value_schema is not None else None),
        list(headers) if headers is not None else [None] * n,
        key_schema=key_schema, value_schema=value_schema)
