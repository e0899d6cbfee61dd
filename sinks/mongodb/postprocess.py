"""``post.processor.chain``: what edits a record's documents before its write model is made.

The official connector's post processors, by their class names (the full name, or the simple one):

- ``DocumentIdAdder``: sets the value document's ``_id`` with ``document.id.strategy`` (unless the
  document has one and ``document.id.strategy.overwrite.existing=false``). It is put first in the chain
  when the chain does not name it, as the official connector does.
- ``AllowListKeyProjector``, ``AllowListValueProjector``, ``BlockListKeyProjector``,
  ``BlockListValueProjector`` (and their old names ``Whitelist...``/``Blacklist...``): keep or drop the
  fields ``key.projection.list`` / ``value.projection.list`` name. A name is a dotted path into
  sub-documents (and the documents of arrays); ``*`` matches any one field name, ``**`` any path below,
  and ``prefix*`` (at the top level) any field starting with ``prefix``.
- ``RenameByMapping`` (``field.renamer.mapping``: ``[{"oldName": "value.a.b", "newName": "c"}]``) and
  ``RenameByRegExp`` (also ``RenameByRegex``; ``field.renamer.regexp``: ``[{"regexp": "^value\\..*",
  "pattern": "_", "replace": "-"}]``): rename fields of the key (paths ``key.<path>``) and value (``value.
  <path>``) documents; a new name already present is not overwritten (the field is dropped instead, as
  the official connector does). Regular expressions are Python's (Java's ``$1`` in a replacement is
  taken as group 1).
- ``KafkaMetaAdder``: adds ``topic-partition-offset`` (``<topic>-<partition>-<offset>``) and
  ``CreateTime`` (the record's timestamp) to the value document.
- ``NullFieldValueRemover``: drops the value document's fields (at any depth) whose value is null.
"""

from __future__ import annotations

import abc
import itertools
import json
import re
from typing import Any, ClassVar, Mapping, Sequence

from common.errors import ConfigError
from sinks.mongodb.documents import SinkDocument

ID = "_id"
PACKAGE = "com.mongodb.kafka.connect.sink.processor"

#: ``*.projection.type`` values: which fields a projection keeps (the old names are still taken).
PROJECTION_TYPES = ("none", "allowlist", "blocklist", "whitelist", "blacklist")


class Projection:
    """An allow-list or block-list of field paths, applied to a document in place.

    Args:
      kind: ``allowlist`` or ``blocklist`` (``whitelist``/``blacklist`` alike).
      fields: The comma-separated field paths, as configured.
    """

    def __init__(self, kind: str, fields: str):
        self.allow = kind.lower() in ("allowlist", "whitelist")
        names = [f for f in re.split(r"\s*,\s*", fields.strip()) if f]
        if self.allow:  # every left prefix of a path is kept too, so that recursion reaches it
            expanded = set()
            for name in names:
                expanded.add(name)
                while "." in name:
                    name = name.rsplit(".", 1)[0]
                    if name:
                        expanded.add(name)
            self.fields = frozenset(expanded)
        else:
            self.fields = frozenset(names)

    def apply(self, doc: dict) -> None:
        if self.allow:
            if "**" not in self.fields:
                self._keep("", doc)
        else:
            for field in self.fields:
                self._drop(field, doc)

    def _keep(self, prefix: str, doc: dict) -> None:
        for name in list(doc):
            path = name if not prefix else prefix + "." + name
            value = doc[name]
            if path not in self.fields and not self._wildcard(path):
                del doc[name]
            if isinstance(value, dict):
                if path + ".**" not in self.fields:
                    self._keep(path, value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        self._keep(path, item)

    def _wildcard(self, path: str) -> bool:
        for field in self.fields:
            if "." not in field and field != "*" and field.endswith("*") and path.startswith(field[:-1]):
                return True
        parts = path.split(".")
        for mask in itertools.product((False, True), repeat=len(parts)):
            if ".".join("*" if star else part for part, star in zip(parts, mask)) in self.fields:
                return True
        return False

    def _drop(self, field: str, doc: dict) -> None:
        if "." not in field:
            if field in ("*", "**"):
                self._drop_wildcard(field, "", doc)
            elif field.endswith("*"):
                for name in [n for n in doc if n.startswith(field[:-1])]:
                    del doc[name]
            else:
                doc.pop(field, None)
            return
        first, rest = field.split(".", 1)
        if first in ("*", "**"):
            self._drop_wildcard(first, rest, doc)
            return
        value = doc.get(first)
        if isinstance(value, dict):
            self._drop(rest, value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    self._drop(rest, item)

    def _drop_wildcard(self, first: str, rest: str, doc: dict) -> None:
        for name in list(doc):
            value = doc[name]
            if first == "**" or not isinstance(value, dict):
                del doc[name]
            elif rest:
                self._drop(rest, value)


class PostProcessor(abc.ABC):
    """One step of the chain: edits a record's documents in place.

    Raises (from :meth:`process`):
      DataError: the record cannot be processed (an id strategy needs what it lacks).
    """

    name: ClassVar[str]

    @abc.abstractmethod
    def process(self, doc: SinkDocument) -> None:
        """Edits ``doc``'s key or value document."""


class DocumentIdAdder(PostProcessor):
    name = "DocumentIdAdder"

    def __init__(self, strategy, overwrite: bool):
        self.strategy = strategy
        self.overwrite = overwrite

    def process(self, doc: SinkDocument) -> None:
        value = doc.value_doc
        if value is not None and (self.overwrite or ID not in value):
            value[ID] = self.strategy.generate(doc)


class FieldProjector(PostProcessor):
    def __init__(self, projection: Projection, key: bool):
        self.projection = projection
        self.key = key

    def process(self, doc: SinkDocument) -> None:
        target = doc.key_doc if self.key else doc.value_doc
        if target is not None:
            self.projection.apply(target)


class Renamer(PostProcessor):
    """Renames the fields of the key and value documents, by ``renamed(path, name)``."""

    @abc.abstractmethod
    def renamed(self, path: str, name: str) -> str:
        """The new name of field ``name`` under ``path`` (``key``, ``value.a``)."""

    def process(self, doc: SinkDocument) -> None:
        if doc.has_key:
            self._rename("key", doc.key_doc)
        if doc.value_doc is not None:
            self._rename("value", doc.value_doc)

    def _rename(self, path: str, doc: dict) -> None:
        added = {}
        for name in list(doc):
            value = doc[name]
            new = self.renamed(path, name)
            if new != name:
                del doc[name]
                if new not in doc and new not in added:  # never overwrite another field
                    added[new] = value
            if isinstance(value, dict):
                self._rename(path + "." + new, value)
        doc.update(added)


class RenameByMapping(Renamer):
    name = "RenameByMapping"

    def __init__(self, mapping: Mapping[str, str]):
        self.mapping = dict(mapping)

    def renamed(self, path: str, name: str) -> str:
        return self.mapping.get(path + "." + name, name)


class RenameByRegExp(Renamer):
    name = "RenameByRegExp"

    def __init__(self, rules: Sequence[tuple]):
        self.rules = [(re.compile(regexp), re.compile(pattern), replace)
                      for regexp, pattern, replace in rules]

    def renamed(self, path: str, name: str) -> str:
        new = name
        for regexp, pattern, replace in self.rules:
            if regexp.fullmatch(path + "." + name):
                new = pattern.sub(replace, new)
        return new


class KafkaMetaAdder(PostProcessor):
    name = "KafkaMetaAdder"

    def process(self, doc: SinkDocument) -> None:
        if doc.value_doc is not None:
            doc.value_doc["topic-partition-offset"] = "%s-%d-%d" % (doc.topic, doc.partition, doc.offset)
            if doc.timestamp is not None:
                doc.value_doc["CreateTime"] = doc.timestamp


class NullFieldValueRemover(PostProcessor):
    name = "NullFieldValueRemover"

    def process(self, doc: SinkDocument) -> None:
        if doc.value_doc is not None:
            _drop_nulls(doc.value_doc)


def _drop_nulls(doc: dict) -> None:
    for name in list(doc):
        value = doc[name]
        if value is None:
            del doc[name]
        elif isinstance(value, dict):
            _drop_nulls(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    _drop_nulls(item)


# Simple class name -> (of the key?, an allow-list?) of the projectors.
_PROJECTORS = {
    "AllowListKeyProjector": (True, True), "AllowListValueProjector": (False, True),
    "BlockListKeyProjector": (True, False), "BlockListValueProjector": (False, False),
    "WhitelistKeyProjector": (True, True), "WhitelistValueProjector": (False, True),
    "BlacklistKeyProjector": (True, False), "BlacklistValueProjector": (False, False),
}

#: Every post processor the chain takes, by simple class name, with its Java package.
POST_PROCESSORS = {
    "DocumentIdAdder": PACKAGE, "KafkaMetaAdder": PACKAGE, "NullFieldValueRemover": PACKAGE,
    **{name: PACKAGE for name in _PROJECTORS},
    "RenameByMapping": PACKAGE + ".field.renaming", "RenameByRegExp": PACKAGE + ".field.renaming",
}
_ALIASES = {"RenameByRegex": "RenameByRegExp"}


def post_processor_name(value: str) -> str:
    """The simple class name of a ``post.processor.chain`` entry (full or simple name).

    Raises:
      ConfigError: it names none of :data:`POST_PROCESSORS`.
    """
    simple = value.strip().rsplit(".", 1)[-1]
    simple = _ALIASES.get(simple, simple)
    package = value.strip().rsplit(".", 1)[0] if "." in value else None
    if simple not in POST_PROCESSORS or package not in (None, POST_PROCESSORS[simple]):
        raise ConfigError("post.processor.chain must list post processors among %s, got %r"
                          % (", ".join(sorted(POST_PROCESSORS)), value))
    return simple


def make_chain(names: Sequence[str], values: Mapping[str, Any], id_adder: PostProcessor) -> tuple:
    """The chain of post processors ``names`` (simple names), ``DocumentIdAdder`` first if not named.

    Args:
      names: From :func:`post_processor_name`.
      values: The topic's parsed keys (projection lists, renamer settings).
      id_adder: The ``DocumentIdAdder`` to use.

    Raises:
      ConfigError: a projector's type key says otherwise, or a renamer's JSON is invalid.
    """
    chain = []
    for name in names:
        if name == "DocumentIdAdder":
            chain.append(id_adder)
        elif name in _PROJECTORS:
            key, allow = _PROJECTORS[name]
            side = "key" if key else "value"
            configured = values["%s.projection.type" % side].lower()
            wanted = ("allowlist", "whitelist") if allow else ("blocklist", "blacklist")
            if configured not in wanted:
                raise ConfigError("%s.projection.type must be %r for post processor %s in "
                                  "post.processor.chain, got %r" % (side, wanted[0], name, configured))
            chain.append(FieldProjector(Projection(configured, values["%s.projection.list" % side]),
                                        key))
        elif name == "RenameByMapping":
            chain.append(RenameByMapping(_mapping(values["field.renamer.mapping"])))
        elif name == "RenameByRegExp":
            chain.append(RenameByRegExp(_regexps(values["field.renamer.regexp"])))
        elif name == "KafkaMetaAdder":
            chain.append(KafkaMetaAdder())
        elif name == "NullFieldValueRemover":
            chain.append(NullFieldValueRemover())
    if "DocumentIdAdder" not in names:
        chain.insert(0, id_adder)
    return tuple(chain)


def _json_array(key: str, text: str) -> list:
    try:
        parsed = json.loads(text or "[]")
    except ValueError as exc:
        raise ConfigError("%s must be a JSON array, got %r: %s" % (key, text, exc)) from None
    if not isinstance(parsed, list) or not all(isinstance(i, dict) for i in parsed):
        raise ConfigError("%s must be a JSON array of objects, got %r" % (key, text))
    return parsed


def _mapping(text: str) -> dict:
    mapping = {}
    for item in _json_array("field.renamer.mapping", text):
        if not isinstance(item.get("oldName"), str) or not isinstance(item.get("newName"), str):
            raise ConfigError("field.renamer.mapping entries must have string oldName and newName, "
                              "got %r" % (item,))
        mapping[item["oldName"]] = item["newName"]
    return mapping


def _regexps(text: str) -> list:
    rules = []
    for item in _json_array("field.renamer.regexp", text):
        regexp, pattern, replace = item.get("regexp"), item.get("pattern"), item.get("replace")
        if not all(isinstance(v, str) for v in (regexp, pattern, replace)):
            raise ConfigError("field.renamer.regexp entries must have string regexp, pattern and "
                              "replace, got %r" % (item,))
        try:
            re.compile(regexp)
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError("field.renamer.regexp has an invalid regular expression in %r: %s"
                              % (item, exc)) from None
        rules.append((regexp, pattern, _python_replacement(replace)))
    return rules


def _python_replacement(replace: str) -> str:
    """Java's ``$1`` group references as Python's ``\\g<1>``; a backslash stays an escape."""
    return re.sub(r"\$(\d+)", r"\\g<\1>", replace)
