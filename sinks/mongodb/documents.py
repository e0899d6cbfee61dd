"""From a converted bundle to the documents the MongoDB sink writes: one :class:`SinkDocument` per record.

A record's key and value become BSON documents as the official connector's ``SinkConverter`` makes
them: a struct (a Connect schema, or schemaless JSON) or a map is a document; a string is parsed as
(extended) JSON text, which must be an object; bytes are read as a BSON document. A key is converted
only when a strategy asks for it (``FullKey``, ``PartialKey``, ``ProvidedInKey``, a key field path, a
tombstone's delete), so the keys of the other strategies may be anything.

Values are the Python values of the Arrow arrays, with what BSON cannot hold as such converted: a
Connect Date becomes a datetime at midnight UTC, a Time a datetime on 1970-01-01 (as the official
connector writes both), a Decimal a ``Decimal128``, a map a sub-document (its keys as strings).
Schemaless JSON (no Connect schema) leaves out null fields: the converter infers one struct type over a
batch, so a field absent from a record reads as null when another record of its batch has it, and
leaving nulls out keeps each document, and an id made of it (``FullKey``), independent of the records
it happened to be read with.
"""

from __future__ import annotations

import datetime
from typing import Any, Callable, Optional

import pyarrow as pa

from common.errors import DataError
from transforms.records import ConvertedBundle, record_ref

_EPOCH = datetime.datetime(1970, 1, 1)


class SinkDocument:
    """One record as the sink's strategies see it: its key and value documents and coordinates.

    Attributes:
      topic: The record's topic after the transforms (the default collection, ``KafkaMetaData`` ids).
      source_topic: The topic it was read from (its offsets are this topic's).
      partition: Its source partition.
      offset: Its source offset.
      timestamp: Its timestamp (epoch ms), or None.
      value_doc: The value as a document (a dict the post processors edit in place), or None for a
        tombstone.
    """

    __slots__ = ("topic", "source_topic", "partition", "offset", "timestamp", "value_doc", "_key",
                 "_key_doc")

    def __init__(self, topic: str, source_topic: str, partition: int, offset: int,
                 timestamp: Optional[int], key: Any, value_doc: Optional[dict]):
        self.topic = topic
        self.source_topic = source_topic
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
        self.value_doc = value_doc
        self._key = key
        self._key_doc = None

    @property
    def has_key(self) -> bool:
        return self._key is not None

    @property
    def key_doc(self) -> Optional[dict]:
        """The key as a document (None for a null key).

        Raises:
          DataError: the key is not a document (a plain string, a number).
        """
        if self._key_doc is None and self._key is not None:
            self._key_doc = as_document(self._key, "key")
        return self._key_doc

    def describe(self) -> str:
        return record_ref(self.source_topic, self.partition, self.offset)


def column(array: pa.Array, schema: Optional[pa.Field]) -> list:
    """The Python values of a converted key or value column, ready for BSON (see the module docstring);
    strings and bytes stay as they are, to be read as documents when needed."""
    values = array.to_pylist()
    fix = _fixer(array.type, schemaless=schema is None)
    if fix is None:
        return values
    return [None if v is None else fix(v) for v in values]


def as_document(value: Any, what: str) -> dict:
    """A key or value (as :func:`column` gives it) as a document.

    Raises:
      DataError: it is neither a document, nor JSON text of an object, nor BSON bytes.
    """
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        from bson import json_util

        try:
            parsed = json_util.loads(value)
        except ValueError as exc:
            raise DataError("the record %s is a string that is not JSON: %s" % (what, exc)) from None
        if not isinstance(parsed, dict):
            raise DataError("the record %s is JSON text of a %s, not of a document"
                            % (what, type(parsed).__name__))
        return parsed
    if isinstance(value, (bytes, bytearray, memoryview)):
        import bson

        try:
            return bson.decode(bytes(value))
        except (bson.errors.InvalidBSON, ValueError, IndexError) as exc:
            raise DataError("the record %s is bytes that are not a BSON document: %s"
                            % (what, exc)) from None
    raise DataError("the record %s is a %s, not a document (a struct, a map, JSON text of an object "
                    "or BSON bytes)" % (what, type(value).__name__))


def documents(bundle: ConvertedBundle) -> tuple[list, list]:
    """The keys and value documents of every kept record of ``bundle``: ``(keys, values)``, a value
    being a dict, None (a tombstone) or a :class:`DataError` saying why it is not a document."""
    keys = column(bundle.keys, bundle.key_schema)
    values = []
    for value in column(bundle.values, bundle.value_schema):
        if value is None or isinstance(value, dict):
            values.append(value)
            continue
        try:
            values.append(as_document(value, "value"))
        except DataError as exc:
            values.append(exc)
    return keys, values


def _fixer(t: pa.DataType, schemaless: bool) -> Optional[Callable[[Any], Any]]:
    """A function converting a non-null value of Arrow type ``t`` for BSON, or None if none is needed."""
    if pa.types.is_struct(t):
        fields = [(t.field(i).name, _fixer(t.field(i).type, schemaless)) for i in range(t.num_fields)]
        fixed = [(name, f) for name, f in fields if f is not None]
        if not fixed and not schemaless:
            return None
        if schemaless:
            fixes = dict(fixed)

            def struct(d):
                return {k: (fixes[k](v) if k in fixes else v) for k, v in d.items() if v is not None}
            return struct

        def struct_with_schema(d):
            for name, f in fixed:
                if d[name] is not None:
                    d[name] = f(d[name])
            return d
        return struct_with_schema
    if pa.types.is_map(t):
        item = _fixer(t.item_type, schemaless)
        return lambda pairs: {str(k): (v if v is None or item is None else item(v)) for k, v in pairs}
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        element = _fixer(t.value_type, schemaless)
        if element is None:
            return None
        return lambda items: [None if v is None else element(v) for v in items]
    if pa.types.is_date(t):
        return lambda d: datetime.datetime(d.year, d.month, d.day)
    if pa.types.is_time(t):
        return lambda v: datetime.datetime.combine(_EPOCH.date(), v)
    if pa.types.is_decimal(t):
        from bson.decimal128 import Decimal128

        return lambda v: Decimal128(v)
    return None
