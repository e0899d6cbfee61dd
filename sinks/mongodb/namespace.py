"""``namespace.mapper``: the database and collection each record is written to.

- ``DefaultNamespaceMapper`` (the default): ``database``, and ``collection``, or else the record's topic
  (after the transforms: a ``RegexRouter`` renames the collection too).
- ``FieldPathNamespaceMapper``: the database and/or collection from a field of the key or value
  document (``namespace.mapper.key|value.database|collection.field``, a dotted path), falling back to
  the default mapper's names when the field is missing or not a string, or, with
  ``namespace.mapper.error.if.invalid=true``, rejecting the record.

Names are the official class names (``com.mongodb.kafka.connect.sink.namespace.mapping.<Name>``) or
their simple names.
"""

from __future__ import annotations

import abc
from typing import Any, Optional

from common.errors import ConfigError, DataError
from sinks.mongodb.documents import SinkDocument

PACKAGE = "com.mongodb.kafka.connect.sink.namespace.mapping"
NAMESPACE_MAPPERS = ("DefaultNamespaceMapper", "FieldPathNamespaceMapper")

_FIELD_KEYS = ("namespace.mapper.key.database.field", "namespace.mapper.value.database.field",
               "namespace.mapper.key.collection.field", "namespace.mapper.value.collection.field")


class NamespaceMapper(abc.ABC):
    """Names the ``(database, collection)`` of a record."""

    @abc.abstractmethod
    def namespace(self, doc: SinkDocument) -> tuple:
        """``(database, collection)`` of ``doc``.

        Raises:
          DataError: the record does not name a valid namespace.
        """


class DefaultNamespaceMapper(NamespaceMapper):
    def __init__(self, database: str, collection: str):
        self.database = database
        self.collection = collection

    def namespace(self, doc: SinkDocument) -> tuple:
        return self.database, self.collection or doc.topic


class FieldPathNamespaceMapper(DefaultNamespaceMapper):
    """Args: the default names, the four field paths (empty: not used) and ``error.if.invalid``."""

    def __init__(self, database: str, collection: str, key_database: str, value_database: str,
                 key_collection: str, value_collection: str, error_if_invalid: bool):
        super().__init__(database, collection)
        self.database_path = (True, key_database) if key_database else (
            (False, value_database) if value_database else None)
        self.collection_path = (True, key_collection) if key_collection else (
            (False, value_collection) if value_collection else None)
        self.error_if_invalid = error_if_invalid

    def namespace(self, doc: SinkDocument) -> tuple:
        database, collection = super().namespace(doc)
        if self.database_path is not None:
            database = self._lookup(doc, *self.database_path, database)
        if self.collection_path is not None:
            collection = self._lookup(doc, *self.collection_path, collection)
        return database, collection

    def _lookup(self, doc: SinkDocument, in_key: bool, path: str, default: str) -> str:
        source = (doc.key_doc if doc.has_key else None) if in_key else doc.value_doc
        what = "key" if in_key else "value"
        if source is None:
            if self.error_if_invalid:
                raise DataError("the record has no %s document to take the namespace field %r from"
                                % (what, path))
            return default
        value = field_lookup(source, path)
        if isinstance(value, str):
            return value
        if self.error_if_invalid:
            raise DataError("the record %s has %s at the namespace field path %r, not a string"
                            % (what, "nothing" if value is None else "a %s" % type(value).__name__,
                               path))
        return default


def field_lookup(doc: dict, path: str) -> Any:
    """The value at dotted ``path`` in ``doc`` (through sub-documents), or None."""
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def make_namespace_mapper(name: str, values) -> NamespaceMapper:
    """The mapper of simple class name ``name`` (one of :data:`NAMESPACE_MAPPERS`) from a topic's
    parsed keys.

    Raises:
      ConfigError: the field path mapper names no field, or both a key and a value field for the
        database or the collection.
    """
    database, collection = values["database"], values["collection"]
    if name == "DefaultNamespaceMapper":
        return DefaultNamespaceMapper(database, collection)
    fields = [values[k] for k in _FIELD_KEYS]
    if not any(fields):
        raise ConfigError("namespace.mapper=%r needs a database or collection field path: set "
                          "namespace.mapper.key|value.database|collection.field"
                          % values["namespace.mapper"])
    for key, value in ((_FIELD_KEYS[0], _FIELD_KEYS[1]), (_FIELD_KEYS[2], _FIELD_KEYS[3])):
        if values[key] and values[value]:
            raise ConfigError("%s and %s must not both be set, got %r and %r"
                              % (key, value, values[key], values[value]))
    return FieldPathNamespaceMapper(database, collection, *fields,
                                    values["namespace.mapper.error.if.invalid"])


def check_name(database: str, collection: str) -> Optional[str]:
    """Why ``database.collection`` is not a name MongoDB takes, or None."""
    if not database or any(c in database for c in '/\\. "$\x00'):
        return "the database name %r is invalid (empty, or holding one of / \\ . space \" $)" % database
    if not collection or "$" in collection or "\x00" in collection or collection.startswith("system."):
        return "the collection name %r is invalid (empty, holding $, or starting with system.)" \
            % collection
    return None
