"""``document.id.strategy``: how each document's ``_id`` is made, as the official connector makes it.

- ``BsonOid`` (the default): a new ObjectId. Not replay-safe: a replay writes new documents.
- ``Uuid``: a new random UUID (``document.id.strategy.uuid.format``: ``string`` or ``binary``). Not
  replay-safe.
- ``KafkaMetaData``: ``<topic>#<partition>#<offset>`` (the topic after the transforms).
- ``FullKey``: the key document (an empty document for a null key).
- ``PartialKey`` / ``PartialValue``: the key / value document, projected by
  ``document.id.strategy.partial.key|value.projection.type|list`` (else ``key|value.projection.*``).
- ``ProvidedInKey`` / ``ProvidedInValue``: the key's / value's ``_id`` field.
- ``UuidProvidedInKey`` / ``UuidProvidedInValue``: that field as a binary UUID (from a UUID string or
  binary).

All but the first two are replay-safe: a record gets the same ``_id`` every time it is written.
Names are taken as the official class names (``com.mongodb.kafka.connect.sink.processor.id.strategy.
FullKeyStrategy``), their simple names (``FullKeyStrategy``) or without ``Strategy``.
"""

from __future__ import annotations

import abc
import copy
import uuid
from typing import Any, ClassVar, Optional

from common.errors import DataError
from sinks.mongodb.documents import SinkDocument
from sinks.mongodb.postprocess import ID, Projection

PACKAGE = "com.mongodb.kafka.connect.sink.processor.id.strategy"


class IdStrategy(abc.ABC):
    """Makes a record's ``_id``.

    Attributes:
      name: The simple class name of the official strategy.
      replay_safe: Whether a replay of a record gives the same ``_id`` (so it lands on the same document).
      key_based: Whether the ``_id`` comes from the key alone, so that a tombstone can name its document
        (``delete.on.null.values``).
      partial: Whether the id is a projection (business keys of it are flattened to dotted paths).
    """

    name: ClassVar[str]
    replay_safe: ClassVar[bool] = True
    key_based: ClassVar[bool] = False
    partial: ClassVar[bool] = False

    @abc.abstractmethod
    def generate(self, doc: SinkDocument) -> Any:
        """The ``_id`` of ``doc``.

        Raises:
          DataError: the record lacks what the strategy takes the id from.
        """


class BsonOid(IdStrategy):
    name = "BsonOidStrategy"
    replay_safe = False

    def generate(self, doc: SinkDocument) -> Any:
        from bson import ObjectId

        return ObjectId()


class UuidId(IdStrategy):
    name = "UuidStrategy"
    replay_safe = False

    def __init__(self, binary: bool = False):
        self.binary = binary

    def generate(self, doc: SinkDocument) -> Any:
        value = uuid.uuid4()
        if not self.binary:
            return str(value)
        from bson.binary import Binary, UuidRepresentation

        return Binary.from_uuid(value, UuidRepresentation.STANDARD)


class KafkaMetaData(IdStrategy):
    name = "KafkaMetaDataStrategy"

    def generate(self, doc: SinkDocument) -> Any:
        return "%s#%d#%d" % (doc.topic, doc.partition, doc.offset)


class FullKey(IdStrategy):
    name = "FullKeyStrategy"
    key_based = True

    def generate(self, doc: SinkDocument) -> Any:
        return copy.deepcopy(doc.key_doc) if doc.has_key else {}


class PartialKey(IdStrategy):
    name = "PartialKeyStrategy"
    key_based = True
    partial = True

    def __init__(self, projection: Projection):
        self.projection = projection

    def generate(self, doc: SinkDocument) -> Any:
        if not doc.has_key:
            return {}
        key = copy.deepcopy(doc.key_doc)
        self.projection.apply(key)
        return key


class PartialValue(IdStrategy):
    name = "PartialValueStrategy"
    partial = True

    def __init__(self, projection: Projection):
        self.projection = projection

    def generate(self, doc: SinkDocument) -> Any:
        if doc.value_doc is None:
            return {}
        value = copy.deepcopy(doc.value_doc)
        self.projection.apply(value)
        return value


class ProvidedIn(IdStrategy):
    """The ``_id`` field of the key (``in_key``) or the value."""

    def __init__(self, in_key: bool):
        self.in_key = in_key

    @property
    def name(self) -> str:  # type: ignore[override]
        return "ProvidedInKeyStrategy" if self.in_key else "ProvidedInValueStrategy"

    @property
    def key_based(self) -> bool:  # type: ignore[override]
        return self.in_key

    def generate(self, doc: SinkDocument) -> Any:
        source: Optional[dict] = (doc.key_doc if doc.has_key else None) if self.in_key else doc.value_doc
        if source is None or source.get(ID) is None:
            raise DataError("%s needs an _id field in the record %s, which %s"
                            % (self.name, "key" if self.in_key else "value",
                               "is null" if source is not None and ID in source else "has none"))
        return source[ID]


class UuidProvidedIn(ProvidedIn):
    """``ProvidedIn`` with the id as a binary UUID (subtype 4), from a UUID string (with or without
    dashes) or binary."""

    @property
    def name(self) -> str:  # type: ignore[override]
        return "UuidProvidedInKeyStrategy" if self.in_key else "UuidProvidedInValueStrategy"

    @property
    def key_based(self) -> bool:  # type: ignore[override]
        return False  # as the official connector decides

    def generate(self, doc: SinkDocument) -> Any:
        from bson.binary import Binary, UuidRepresentation

        value = super().generate(doc)
        if isinstance(value, Binary) and value.subtype in (3, 4):
            return value
        if isinstance(value, uuid.UUID):
            return Binary.from_uuid(value, UuidRepresentation.STANDARD)
        if isinstance(value, str) and len(value) in (32, 36):
            try:
                return Binary.from_uuid(uuid.UUID(value), UuidRepresentation.STANDARD)
            except ValueError:
                pass
        raise DataError("%s cannot make a UUID of the record's _id %r" % (self.name, value))


#: Every id strategy, by the official simple class name.
ID_STRATEGIES = ("BsonOidStrategy", "UuidStrategy", "KafkaMetaDataStrategy", "FullKeyStrategy",
                 "PartialKeyStrategy", "PartialValueStrategy", "ProvidedInKeyStrategy",
                 "ProvidedInValueStrategy", "UuidProvidedInKeyStrategy", "UuidProvidedInValueStrategy")


def make_id_strategy(name: str, uuid_binary: bool, projection: Optional[Projection]) -> IdStrategy:
    """The strategy of simple class name ``name`` (one of :data:`ID_STRATEGIES`); ``projection`` is
    the partial strategies' (None for the others)."""
    if name == "BsonOidStrategy":
        return BsonOid()
    if name == "UuidStrategy":
        return UuidId(uuid_binary)
    if name == "KafkaMetaDataStrategy":
        return KafkaMetaData()
    if name == "FullKeyStrategy":
        return FullKey()
    if name == "PartialKeyStrategy":
        return PartialKey(projection)
    if name == "PartialValueStrategy":
        return PartialValue(projection)
    if name in ("ProvidedInKeyStrategy", "ProvidedInValueStrategy"):
        return ProvidedIn(name == "ProvidedInKeyStrategy")
    return UuidProvidedIn(name == "UuidProvidedInKeyStrategy")
