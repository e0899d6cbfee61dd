"""From a converted bundle to Solr operations: a document id, a JSON document or a delete per record.

A record's document id (the core's ``uniqueKey`` field) is, in this order:

- its key, as the search sinks share it (:func:`sinks.search.documents.key_ids`: a string key as it
  is, an integer key in decimal; any other key is refused, and ``ExtractField$Key`` picks the field
  that is the id);
- with a null key, the value's own ``uniqueKey`` field, as kafka-connect-solr takes it (a string,
  number or boolean);
- else ``<topic>+<partition>+<offset>`` of the source record
  (:func:`sinks.search.documents.coordinates_id`), the same on every replay.

A value that carries the ``uniqueKey`` field with another id than its key is refused rather than
overwritten or obeyed: either choice would silently merge or split documents.

The value becomes the document as JSON (a struct or map; anything else is refused): null fields are
left out (kafka-connect-solr leaves them out too), Timestamp, Date and Time become Solr's ISO 8601
UTC instants (Time on 1970-01-01, as Connect's ``java.util.Date`` holds it), Decimal its exact
decimal string (a numeric field parses it), bytes base64 (as Solr's binary fields take them in JSON),
maps JSON objects. Nested structs and maps stay JSON objects, which Solr indexes as child documents
(they need ids, or a schema with ``_nest_path_``). The sink adds the source coordinates, see
:data:`COORDINATE_FIELDS`.

Within a bundle, the records of one document id reduce to the last (records are in offset order).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
from typing import Any, Dict, List, Optional, Tuple

from common.errors import DataError
from sinks.search.documents import Invalid, coordinates_id, key_ids
from transforms.records import ConvertedBundle

#: The fields each document keeps its source record's coordinates in, as the JDBC sink's columns.
TOPIC_FIELD, PARTITION_FIELD, OFFSET_FIELD = "__connect_topic", "__connect_partition", "__connect_offset"
COORDINATE_FIELDS = (TOPIC_FIELD, PARTITION_FIELD, OFFSET_FIELD)
VERSION_FIELD = "_version_"

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


@dataclasses.dataclass
class Operation:
    """What one document id becomes after a bundle's records: a document, or a delete.

    Attributes:
      id: The document id.
      offset: The source offset of the last record of that id (the one that decides).
      document: The JSON document (without coordinates), or None for a delete.
      offsets: The source offsets of every record of the bundle this operation stands for.
    """

    id: str
    offset: int
    document: Optional[dict]
    offsets: List[int] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Plan:
    """A bundle's records as operations per core.

    Attributes:
      operations: ``{core: [Operation, ...]}``, operations in order of their deciding offset.
      skipped: Records left out on purpose (tombstones with deletes off, tombstones without a key).
      refused: ``(offset, reason)`` of records that cannot become documents.
    """

    operations: Dict[str, List[Operation]]
    skipped: int
    refused: List[Tuple[int, str]]


def plan(bundle: ConvertedBundle, core_of, unique_key_of, delete_enabled: bool) -> Plan:
    """The operations ``bundle`` makes.

    Args:
      bundle: The records.
      core_of: The core of a target topic.
      unique_key_of: The ``uniqueKey`` field of a core.
      delete_enabled: ``solr.delete.documents.enabled``: whether a tombstone deletes its key's document.
    """
    ids = key_ids(bundle)
    null_keys = bundle.keys.is_null().to_pylist()
    values = bundle.values.to_pylist(maps_as_pydicts="lossy")
    by_core: Dict[str, Dict[str, Operation]] = {}
    skipped, refused = 0, []
    for index, value in enumerate(values):
        offset = int(bundle.offsets[index])
        null_key = null_keys[index]
        if value is None and (null_key or not delete_enabled):
            skipped += 1
            continue
        core = core_of(bundle.topic_of(index))
        try:
            key = None if null_key else ids[index]
            if isinstance(key, Invalid):
                raise DataError(key.reason)
            if value is None:
                doc_id, document = key, None
            else:
                document = json_document(value)
                doc_id = document_id(key, document, unique_key_of(core), bundle.topic,
                                     bundle.partition, offset)
                document[unique_key_of(core)] = doc_id
        except DataError as error:
            refused.append((offset, str(error)))
            continue
        operations = by_core.setdefault(core, {})
        previous = operations.pop(doc_id, None)  # re-inserted: dict order follows the deciding offset
        operation = Operation(doc_id, offset, document, (previous.offsets if previous else []) + [offset])
        operations[doc_id] = operation
    return Plan({core: list(ops.values()) for core, ops in by_core.items()}, skipped, refused)


def document_id(key: Optional[str], document: dict, unique_key: str, topic: str, partition: int,
                offset: int) -> str:
    """The id of a record's document (see the module docstring), from its key as an id (None for a
    null key).

    Raises:
      DataError: the value's ``uniqueKey`` field cannot be an id, or names another id than the key.
    """
    own = document.get(unique_key)
    if key is None:
        if own is not None:
            return scalar_id(own, "the value's %r field" % unique_key)
        return coordinates_id(topic, partition, offset)
    if own is not None and _id_text(own) != key:
        raise DataError("the value's %r field is not the record key, which is the document id: "
                        "remove or rename that field (ReplaceField$Value), or make it the key "
                        "(ValueToKey and ExtractField$Key)" % unique_key)
    return key


def scalar_id(value: Any, what: str) -> str:
    """A field value as a document id.

    Raises:
      DataError: the value is a struct, map or array, or empty.
    """
    if isinstance(value, (dict, list, tuple)):
        raise DataError("%s is %s; a document id must be a string, number or boolean"
                        % (what, _kind(value)))
    text = _id_text(value)
    if not text:
        raise DataError("%s is empty; a document id must not be" % what)
    return text


def _id_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime.date, datetime.time, decimal.Decimal, bytes)):
        return str(solr_value(value))
    return str(value)


def json_document(value: Any) -> dict:
    """A converted value as a Solr JSON document (see the module docstring).

    Raises:
      DataError: the value is not a struct or map.
    """
    if not isinstance(value, dict):
        raise DataError("a value must be a struct or a JSON object to become a Solr document, got %s"
                        % _kind(value))
    return {str(k): solr_value(v) for k, v in value.items() if v is not None}


def solr_value(value: Any) -> Any:
    """One field value as Solr's JSON update handler takes it."""
    if isinstance(value, dict):
        return {str(k): solr_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [solr_value(v) for v in value if v is not None]
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return _instant(value)
    if isinstance(value, datetime.date):
        return _instant(datetime.datetime(value.year, value.month, value.day,
                                          tzinfo=datetime.timezone.utc))
    if isinstance(value, datetime.time):
        return _instant(datetime.datetime.combine(_EPOCH.date(), value, datetime.timezone.utc))
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime.timedelta):
        return value // datetime.timedelta(milliseconds=1)
    return value


def _instant(value: datetime.datetime) -> str:
    """``2024-05-01T12:00:00Z``, with milliseconds when there are any (Solr's date format)."""
    value = value.astimezone(datetime.timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += ".%03d" % (value.microsecond // 1000)
    return text + "Z"


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(value, dict):
        return "a struct or map"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, decimal.Decimal)):
        return "a number"
    return type(value).__name__
