"""``writemodel.strategy`` and ``delete.writemodel.strategy``: the write each document becomes.

The official connector's strategies (full class names ``com.mongodb.kafka.connect.sink.writemodel.
strategy.<Name>Strategy``, simple names, or without ``Strategy``):

- ``DefaultWriteModel`` (the default): ``ReplaceOneDefault``, or ``InsertOne`` with
  ``timeseries.timefield``.
- ``ReplaceOneDefault``: replace the document of the value's ``_id`` (upsert). Conditional.
- ``InsertOne`` (``InsertOneDefault``): insert the value document (a duplicate ``_id`` is refused).
- ``UpdateOneDefault``: ``$set`` the value's fields on the document of its ``_id`` (upsert).
  Conditional.
- ``UpdateOneTimestamps``: the same (``_id`` included), with ``_modifiedTS`` set to now and
  ``_insertedTS`` on insert. Conditional.
- ``ReplaceOneBusinessKey``: replace the document matching the value's ``_id`` fields (a business key,
  flattened to dotted paths for the partial id strategies), without ``_id`` (upsert).
- ``UpdateOneBusinessKeyTimestamp``: the same, but ``$set`` with the timestamps.
- ``DeleteOneDefault``: delete the document the key names (the key document when it holds an ``_id``,
  else ``{_id: key}``; for a tombstone, the ``_id`` the id strategy makes of the key). Conditional.

"Conditional": where the filter is the document's ``_id``, the sink adds the offsets condition (see
:mod:`sinks.mongodb.writer`); the business-key filters match documents by other fields, where a
failed condition would make the upsert insert a second document, so they stay as they are.
"""

from __future__ import annotations

import abc
import datetime
from typing import Any, ClassVar, Optional

from common.errors import DataError
from sinks.mongodb.documents import SinkDocument
from sinks.mongodb.postprocess import ID

PACKAGE = "com.mongodb.kafka.connect.sink.writemodel.strategy"
MODIFIED_TS, INSERTED_TS = "_modifiedTS", "_insertedTS"

INSERT, REPLACE, UPDATE, DELETE = "insert", "replace", "update", "delete"


class WriteModelStrategy(abc.ABC):
    """Makes the pymongo write of one record.

    Attributes:
      name: The official simple class name.
      kind: One of ``insert``, ``replace``, ``update``, ``delete``.
      conditional: Whether the filter is ``{_id: ...}``, so that the offsets condition can join it.
    """

    name: ClassVar[str]
    kind: ClassVar[str]
    conditional: ClassVar[bool] = True

    @abc.abstractmethod
    def model(self, doc: SinkDocument, condition: Optional[dict]) -> tuple:
        """``(write, _id)``: the write of ``doc`` (a ``pymongo`` ``InsertOne``, ``ReplaceOne``,
        ``UpdateOne`` or ``DeleteOne``), its filter extended with ``condition`` where given, and the
        ``_id`` of the document it writes (None where the filter is a business key).

        Raises:
          DataError: the document lacks what the strategy needs (``_id``, a business key).
        """


def _value(doc: SinkDocument) -> dict:
    if doc.value_doc is None:
        raise DataError("the record has no value document to write")
    return doc.value_doc


def _id_of(doc: SinkDocument) -> Any:
    value = _value(doc)
    if ID not in value:
        raise DataError("the value document has no _id field")
    return value[ID]


def _filter(base: dict, condition: Optional[dict]) -> dict:
    return {**base, **condition} if condition else base


class ReplaceOneDefault(WriteModelStrategy):
    name, kind = "ReplaceOneDefaultStrategy", REPLACE

    def model(self, doc, condition):
        from pymongo import ReplaceOne

        id_value = _id_of(doc)
        return ReplaceOne(_filter({ID: id_value}, condition), _value(doc), upsert=True), id_value


class InsertOneDefault(WriteModelStrategy):
    name, kind, conditional = "InsertOneDefaultStrategy", INSERT, False

    def model(self, doc, condition):
        from pymongo import InsertOne

        value = _value(doc)
        return InsertOne(value), value.get(ID)


class UpdateOneDefault(WriteModelStrategy):
    name, kind = "UpdateOneDefaultStrategy", UPDATE

    def model(self, doc, condition):
        from pymongo import UpdateOne

        fields = dict(_value(doc))
        id_value = fields.pop(ID, None)
        if id_value is None:
            raise DataError("the value document has no _id field")
        return UpdateOne(_filter({ID: id_value}, condition), {"$set": fields}, upsert=True), id_value


class UpdateOneTimestamps(WriteModelStrategy):
    name, kind = "UpdateOneTimestampsStrategy", UPDATE

    def model(self, doc, condition):
        from pymongo import UpdateOne

        now = _now()
        id_value = _id_of(doc)
        fields = {**_value(doc), MODIFIED_TS: now}
        return UpdateOne(_filter({ID: id_value}, condition),
                         {"$set": fields, "$setOnInsert": {INSERTED_TS: now}}, upsert=True), id_value


class BusinessKey(WriteModelStrategy):
    """The strategies whose filter is the value's ``_id`` document (the business key)."""

    conditional = False

    def __init__(self, flatten: bool):
        self.flatten = flatten

    def key_and_fields(self, doc: SinkDocument) -> tuple:
        fields = dict(_value(doc))
        key = fields.pop(ID, None)
        if not isinstance(key, dict):
            raise DataError("%s needs the value's _id to be a document of the business key fields, "
                            "got %s (with an _id already in the value, set "
                            "document.id.strategy.overwrite.existing=true)"
                            % (self.name, "none" if key is None else "a %s" % type(key).__name__))
        return (flatten_keys(key) if self.flatten else key), fields


class ReplaceOneBusinessKey(BusinessKey):
    name, kind = "ReplaceOneBusinessKeyStrategy", REPLACE

    def model(self, doc, condition):
        from pymongo import ReplaceOne

        key, fields = self.key_and_fields(doc)
        return ReplaceOne(key, fields, upsert=True), None


class UpdateOneBusinessKeyTimestamp(BusinessKey):
    name, kind = "UpdateOneBusinessKeyTimestampStrategy", UPDATE

    def model(self, doc, condition):
        from pymongo import UpdateOne

        key, fields = self.key_and_fields(doc)
        now = _now()
        return UpdateOne(key, {"$set": {**fields, MODIFIED_TS: now},
                               "$setOnInsert": {INSERTED_TS: now}}, upsert=True), None


class DeleteOneDefault(WriteModelStrategy):
    """Deletes by key: with an id strategy (tombstones, ``delete.on.null.values``) by the ``_id`` it
    makes of the key; without one (as ``writemodel.strategy``) by the key document itself when it holds
    an ``_id``, else by ``{_id: key}``."""

    name, kind = "DeleteOneDefaultStrategy", DELETE

    def __init__(self, id_strategy=None):
        self.id_strategy = id_strategy

    def model(self, doc, condition):
        from pymongo import DeleteOne

        if not doc.has_key:
            raise DataError("%s needs the record key to name the document to delete, and the key "
                            "is null" % self.name)
        if self.id_strategy is not None:
            base = {ID: self.id_strategy.generate(doc)}
        else:
            key = doc.key_doc
            base = dict(key) if ID in key else {ID: key}
        return DeleteOne(_filter(base, condition)), base[ID]


def flatten_keys(doc: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}``: a business key of sub-documents as dotted paths."""
    flat = {}
    for name, value in doc.items():
        if isinstance(value, dict):
            flat.update(flatten_keys(value, prefix + name + "."))
        else:
            flat[prefix + name] = value
    return flat


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


#: ``writemodel.strategy`` choices, by official simple class name (DefaultWriteModelStrategy resolves
#: to one of them).
WRITE_MODELS = ("DefaultWriteModelStrategy", "ReplaceOneDefaultStrategy", "InsertOneDefaultStrategy",
                "UpdateOneDefaultStrategy", "UpdateOneTimestampsStrategy",
                "ReplaceOneBusinessKeyStrategy", "UpdateOneBusinessKeyTimestampStrategy",
                "DeleteOneDefaultStrategy")
#: ``delete.writemodel.strategy`` choices.
DELETE_MODELS = ("DeleteOneDefaultStrategy",)


def make_write_model(name: str, partial_id: bool, timeseries: bool) -> WriteModelStrategy:
    """The strategy of simple class name ``name`` (one of :data:`WRITE_MODELS`)."""
    if name == "DefaultWriteModelStrategy":
        name = "InsertOneDefaultStrategy" if timeseries else "ReplaceOneDefaultStrategy"
    simple = {"ReplaceOneDefaultStrategy": ReplaceOneDefault, "InsertOneDefaultStrategy": InsertOneDefault,
              "UpdateOneDefaultStrategy": UpdateOneDefault,
              "UpdateOneTimestampsStrategy": UpdateOneTimestamps,
              "DeleteOneDefaultStrategy": DeleteOneDefault}
    if name in simple:
        return simple[name]()
    if name == "ReplaceOneBusinessKeyStrategy":
        return ReplaceOneBusinessKey(partial_id)
    return UpdateOneBusinessKeyTimestamp(partial_id)
