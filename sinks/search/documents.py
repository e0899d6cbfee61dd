"""What the search sinks share: the id of a record's document, and its value as a JSON document.

Ids. Confluent's Elasticsearch sink names a document by the record key: a string key as it is, an
integer key in decimal (:func:`key_ids`); a null or empty key, or a key of another type (bytes, a
struct, a float), names no document. Without keys (``key.ignore=true``) the id is the record's
coordinates, ``<topic>+<partition>+<offset>`` (:func:`coordinates_id`). Either way a replay of a record
names the same document.

Documents. A record value becomes the JSON object Confluent's sink sends: Kafka's ``JsonConverter``
with ``schemas.enable=false`` applied to the value (:func:`json_documents` as bytes, :func:`documents`
as dicts):

- Decimal: a JSON number (a double), as Confluent writes it with a schema (with ``schema.ignore=true``
  Confluent writes the converter's base64 of the unscaled bytes instead, which no search can use);
- Timestamp: epoch milliseconds; Time: milliseconds of the day; Date: epoch milliseconds of its
  midnight UTC. Confluent writes a Date as days since the epoch, which a ``date`` field (the type its
  own mapping gives a Date) reads as milliseconds, so 2024-01-01 lands as 1970-01-01T00:00:19.723Z
  (confluentinc/kafka-connect-elasticsearch#62); milliseconds read right by both;
- bytes: base64 text;
- maps with string keys: an object (``compact_map_entries``, Confluent's default), else, and for other
  keys, an array of ``{"key": k, "value": v}``;
- a null field whose schema has a default: the default (as ``JsonConverter`` replaces it).

These hold at any depth, in the fields of structs, the items of arrays and the keys and values of maps
(a map of decimals or timestamps, as Protobuf and JSON Schema records carry, is written like a field of
them).

A value that is not an object (a string, a number, an array) is no document. With ``raw=True``, a
schemaless JSON value (``JsonConverter`` with ``schemas.enable=false``) is sent as read, which is
exactly the document and the fastest path: the caller says so only when no transform edited the
values (their bytes as read would not show the edits). A raw value spanning several lines is written
again on one line (bulk bodies are one JSON document per line).

Each function returns one entry per kept record of the bundle, in order; a record that cannot be an id
or a document gets an :class:`Invalid` saying why, so the caller decides what happens to it.
"""

from __future__ import annotations

import base64
import dataclasses
from typing import Any, Callable, List, Optional, Union

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from transforms.records import ConvertedBundle
from transforms.schema import schema_info

_DAY_MS = 86_400_000
_TO_MS = {"s": 1000, "ms": 1, "us": -1000, "ns": -1_000_000}  # negative: divide


@dataclasses.dataclass(frozen=True)
class Invalid:
    """A record that names no document, or whose value is no document.

    Attributes:
      reason: Why, for errors and dead letters (``the record key is null: ...``).
    """

    reason: str


def coordinates_id(topic: str, partition: int, offset: int) -> str:
    """``<topic>+<partition>+<offset>``: the document id of a record without a key's id."""
    return "%s+%d+%d" % (topic, partition, offset)


def key_ids(bundle: ConvertedBundle) -> List[Union[str, Invalid]]:
    """Each kept record's key as a document id: a string as it is, an integer in decimal."""
    keys = bundle.keys
    kind = keys.type
    if pa.types.is_dictionary(kind):
        keys = keys.dictionary_decode()
        kind = keys.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if not keys.null_count and pc.min(pc.utf8_length(keys)).as_py() != 0:
            return keys.to_pylist()
        return [_NULL_KEY if k is None else _EMPTY_KEY if k == "" else k for k in keys.to_pylist()]
    if pa.types.is_integer(kind):
        return [_NULL_KEY if k is None else str(k) for k in keys.to_pylist()]
    if pa.types.is_null(kind):
        return [_NULL_KEY] * len(keys)
    other = Invalid("a %s key cannot be a document id (only string and integer keys can)"
                    % _kind(kind))
    return [_NULL_KEY if null else other for null in keys.is_null().to_pylist()]


_NULL_KEY = Invalid("the record key is null, so it cannot be the document id")
_EMPTY_KEY = Invalid("the record key is empty, so it cannot be the document id")


def json_documents(bundle: ConvertedBundle, *, compact_map_entries: bool = True,
                   raw: bool = False) -> List[Union[bytes, None, Invalid]]:
    """Each kept record's value as one line of compact JSON; None for a null value (a tombstone).

    Args:
      compact_map_entries: Maps with string keys as objects (else arrays of key/value objects).
      raw: Schemaless JSON values may be sent as read (no transform edited them).
    """
    values = bundle.values
    if raw and bundle.value_schema is None and bundle.raw is not None and bundle.rows is not None:
        return _raw_documents(values, bundle.raw.values, bundle.rows)
    dumps = orjson.dumps
    return [entry if entry is None or isinstance(entry, Invalid) else dumps(entry, default=_default)
            for entry in _python_documents(values, bundle.value_schema, compact_map_entries)]


def documents(bundle: ConvertedBundle, *, compact_map_entries: bool = True
              ) -> List[Union[dict, None, Invalid]]:
    """Each kept record's value as a dict ready for JSON (bytes still bytes); None for a tombstone."""
    return _python_documents(bundle.values, bundle.value_schema, compact_map_entries, encode_bytes=True)


def _raw_documents(values: pa.Array, raw_values: list, rows: list) -> list:
    out = [raw_values[row] for row in rows]
    if values.null_count:
        for index in pc.indices_nonzero(values.is_null()).to_pylist():
            out[index] = None
    not_object = Invalid("the value is not a JSON object, and a document must be one")
    for index, data in enumerate(out):
        if data is None or (data.startswith(b"{") and b"\n" not in data):
            continue
        if not data.lstrip().startswith(b"{"):
            out[index] = not_object
        else:  # a bulk body holds one document per line
            out[index] = orjson.dumps(orjson.loads(data))
    return out


def _python_documents(values: pa.Array, field: Optional[pa.Field], compact: bool,
                      encode_bytes: bool = False) -> list:
    kind = values.type
    is_object = pa.types.is_struct(kind) or (
        compact and pa.types.is_map(kind) and _string_type(kind.key_type))
    if not is_object:
        invalid = Invalid("the value is a %s, not a struct or a map with string keys, and a document "
                          "must be a JSON object" % _kind(kind))
        return [None if null else invalid for null in values.is_null().to_pylist()]
    ready, _ = _jsonable(values, field)
    walk = _walker(ready.type, compact, encode_bytes)
    entries = ready.to_pylist()
    if walk is None:
        return entries
    return [None if entry is None else walk(entry) for entry in entries]


def _jsonable(array: pa.Array, field: Optional[pa.Field]) -> tuple:
    """``array`` with defaults filled in and logical types as the JSON numbers they are written as
    (Arrow kernels, no Python per value); and whether anything changed."""
    kind = array.type
    changed = False
    info = schema_info(field) if field is not None else None
    if info is not None and info.has_default and info.default is not None and array.null_count and not (
            pa.types.is_struct(kind) or pa.types.is_list(kind) or pa.types.is_map(kind)):
        array = pc.fill_null(array, pa.scalar(info.default, type=kind))
        changed = True
    if pa.types.is_struct(kind):
        children, any_changed = [], False
        for child, child_field in zip(array.flatten(), kind):
            made, child_changed = _jsonable(child, child_field)
            children.append(made)
            any_changed |= child_changed
        if not any_changed:
            return array, changed
        mask = array.is_null() if array.null_count else None
        fields = [pa.field(f.name, c.type, f.nullable) for f, c in zip(kind, children)]
        return pa.StructArray.from_arrays(children, fields=fields, mask=mask), True
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        made, child_changed = _jsonable(array.flatten(), kind.value_field)
        if not child_changed:
            return array, changed
        offsets = pc.subtract(array.offsets, array.offsets[0])
        maker = pa.ListArray if pa.types.is_list(kind) else pa.LargeListArray
        return maker.from_arrays(offsets, made, mask=array.is_null() if array.null_count else None), True
    if pa.types.is_map(kind):  # keys and values as for any field: a map of decimals or timestamps too
        start = array.offsets[0].as_py()
        count = array.offsets[-1].as_py() - start if len(array) else 0
        keys, keys_changed = _jsonable(array.keys.slice(start, count), kind.key_field)
        items, items_changed = _jsonable(array.items.slice(start, count), kind.item_field)
        if not (keys_changed or items_changed):
            return array, changed
        made_type = pa.map_(pa.field(kind.key_field.name, keys.type, False),
                            pa.field(kind.item_field.name, items.type, kind.item_field.nullable))
        offsets = pc.subtract(array.offsets, array.offsets[0])
        return pa.MapArray.from_arrays(offsets, keys, items, type=made_type,
                                       mask=array.is_null() if array.null_count else None), True
    if pa.types.is_timestamp(kind):
        return _scaled(array.cast(pa.int64()), _TO_MS[kind.unit]), True
    if pa.types.is_date32(kind):
        return pc.multiply(array.cast(pa.int32()).cast(pa.int64()), _DAY_MS), True
    if pa.types.is_date64(kind):
        return array.cast(pa.int64()), True
    if pa.types.is_time32(kind):
        return _scaled(array.cast(pa.int32()).cast(pa.int64()), _TO_MS[kind.unit]), True
    if pa.types.is_time64(kind):
        return _scaled(array.cast(pa.int64()), _TO_MS[kind.unit]), True
    if pa.types.is_decimal(kind):  # through the decimal text: Arrow's direct cast is off by an ulp
        return array.cast(pa.string()).cast(pa.float64()), True  # (3.03 became 3.0300000000000002)
    return array, changed


def _scaled(array: pa.Array, factor: int) -> pa.Array:
    if factor == 1:
        return array
    if factor > 0:
        return pc.multiply(array, factor)
    return pc.divide(array, -factor)  # integer division


def _walker(kind: pa.DataType, compact: bool, encode_bytes: bool) -> Optional[Callable[[Any], Any]]:
    """A function turning a ``to_pylist`` entry of ``kind`` into JSON-ready data (maps as objects or
    key/value arrays, bytes as base64 when asked), or None when entries are ready as they are."""
    if pa.types.is_struct(kind):
        walks = [(f.name, _walker(f.type, compact, encode_bytes)) for f in kind]
        walks = [(name, walk) for name, walk in walks if walk is not None]
        if not walks:
            return None

        def struct(entry):
            for name, walk in walks:
                value = entry.get(name)
                if value is not None:
                    entry[name] = walk(value)
            return entry
        return struct
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        item = _walker(kind.value_type, compact, encode_bytes)
        if item is None:
            return None
        return lambda entry: [None if v is None else item(v) for v in entry]
    if pa.types.is_map(kind):
        key = _walker(kind.key_type, compact, encode_bytes) or _same
        value = _walker(kind.item_type, compact, encode_bytes) or _same
        if compact and _string_type(kind.key_type):
            return lambda entry: {k: None if v is None else value(v) for k, v in entry}
        return lambda entry: [{"key": key(k), "value": None if v is None else value(v)}
                              for k, v in entry]
    if encode_bytes and (pa.types.is_binary(kind) or pa.types.is_large_binary(kind)
                         or pa.types.is_fixed_size_binary(kind)):
        return _default
    return None


def _same(value):
    return value


def _default(value: Any):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError("%s values cannot be written as JSON" % type(value).__name__)


def _string_type(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _kind(kind: pa.DataType) -> str:
    if pa.types.is_struct(kind):
        return "struct"
    if pa.types.is_map(kind):
        return "map"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return "array"
    if _string_type(kind):
        return "string"
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return "bytes"
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "number"
    return str(kind)
