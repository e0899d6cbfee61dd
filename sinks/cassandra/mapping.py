"""The DataStax connector's mapping language, and a mapping checked against a table's schema.

``topic.<topic>.<keyspace>.<table>.mapping`` lists ``column=field`` pairs, comma-separated:

- ``field`` is ``key`` or ``value`` (the whole key or value, for primitive ones), ``key.<name>`` or
  ``value.<name>`` (a field of a struct or JSON object key or value; a dotted name that is not a
  field itself goes down nested structs), ``header.<name>`` (the first header of that name), or the
  function ``now()`` (a time-based UUID, see :mod:`sinks.cassandra.statements`);
- ``column`` is a column of the table (taken as written, so case-sensitive; double quotes make it
  CQL), or ``__ttl`` / ``__timestamp``: the field is the row's TTL (in ``ttlTimeUnit``) or write
  timestamp (in ``timestampTimeUnit``) instead of a column;
- with ``query``, the columns are the named bind markers of the user's statement.

The grammar is the connector's (letters, digits and ``_`` unquoted, anything double-quoted). There
are no wildcards: the connector has none (``value.*`` is refused with that reason), so every column is
named. :func:`check_columns` is what ``check`` runs against the schema read from the cluster: every
column must exist, every primary key column must be mapped, and counter tables are refused.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Optional, Sequence

from common.errors import ConfigError

TTL_COLUMN = "__ttl"
TIMESTAMP_COLUMN = "__timestamp"
FUNCTIONS = ("now()",)

_TOKEN = re.compile(r'\s*(?:(?P<word>[A-Za-z0-9_]+)|(?P<quoted>"(?:[^"]|"")+")|(?P<punct>[,=.()]))')


@dataclasses.dataclass(frozen=True)
class Field:
    """Where a column's value comes from.

    Attributes:
      source: ``key``, ``value``, ``header`` or ``function``.
      name: The field (``None`` for the whole key or value), the header's name, or the function.
      text: As written (``value.f1``, ``key``, ``now()``).
    """

    source: str
    name: Optional[str]
    text: str


@dataclasses.dataclass(frozen=True)
class Mapping:
    """A parsed mapping.

    Attributes:
      text: As written.
      columns: ``(column, Field)`` of each column (or bind marker), in order.
      ttl: The field mapped to ``__ttl``, or None.
      timestamp: The field mapped to ``__timestamp``, or None.
    """

    text: str
    columns: tuple
    ttl: Optional[Field] = None
    timestamp: Optional[Field] = None

    @property
    def column_names(self) -> tuple:
        return tuple(c for c, _ in self.columns)


@dataclasses.dataclass(frozen=True)
class TableSchema:
    """What the sink needs of a table's schema.

    Attributes:
      columns: Column name to CQL type (``int``, ``list<text>``, ``frozen<address>``).
      partition_key: The partition key columns, in order.
      clustering_key: The clustering columns, in order.
    """

    columns: dict
    partition_key: tuple
    clustering_key: tuple = ()

    @property
    def primary_key(self) -> tuple:
        return self.partition_key + self.clustering_key

    @property
    def is_counter(self) -> bool:
        return any(t == "counter" for t in self.columns.values())


def parse_mapping(text: str, key: str) -> Mapping:
    """Parses ``key``'s value ``text``.

    Raises:
      ConfigError: a syntax error (with its position), a field that is not ``key``, ``value``,
        ``key.*``, ``value.*``, ``header.*`` or a function, a column mapped twice, or a wildcard.
    """
    if "*" in text:
        raise ConfigError("%s=%r: wildcards are not part of the DataStax connector's mapping "
                          "language; map each column, as in 'col1=value.f1, col2=key.f2'" % (key, text))
    tokens = _tokens(text, key)
    position = 0

    def peek(kind: Optional[str] = None, value: Optional[str] = None) -> bool:
        if position >= len(tokens):
            return False
        k, v, _ = tokens[position]
        return (kind is None or k == kind) and (value is None or v == value)

    def take(kind: str, value: Optional[str] = None, what: str = "") -> str:
        nonlocal position
        if not peek(kind, value):
            where = tokens[position][2] if position < len(tokens) else len(text)
            found = repr(tokens[position][1]) if position < len(tokens) else "the end"
            raise ConfigError("%s=%r could not be parsed at line 1:%d: expected %s, found %s"
                              % (key, text, where, what or repr(value), found))
        position += 1
        return tokens[position - 1][1]

    columns, errors = [], []
    ttl = timestamp = None
    seen = set()
    while True:
        if peek("quoted"):
            column, quoted = _unquote(take("quoted")), True
        else:
            column, quoted = take("word", what="a column name"), False
        take("punct", "=")
        field_text = _field(peek, take)
        field = _classify(field_text)
        if field is None:
            errors.append("Invalid field name '%s': field names in mapping must be 'key', 'value', or "
                          "start with 'key.' or 'value.' or 'header.', or be one of supported "
                          "functions: %s" % (field_text, ", ".join(map(repr, FUNCTIONS))))
        name = column if quoted or column not in (TTL_COLUMN, TIMESTAMP_COLUMN) else "@" + column
        if name in seen:
            errors.append("Mapping already defined for column '%s'" % column)
        seen.add(name)
        if field is not None:
            if name == "@" + TTL_COLUMN:
                ttl = field
            elif name == "@" + TIMESTAMP_COLUMN:
                timestamp = field
            else:
                columns.append((column, field))
        if position == len(tokens):
            break
        take("punct", ",", "',' or the end")
    if errors:
        raise ConfigError("%s=%r: %s" % (key, text, "; ".join(errors)))
    for name, field in (("__ttl", ttl), ("__timestamp", timestamp)):
        if field is not None and field.source == "function":
            raise ConfigError("%s=%r: %s must be mapped from a field, not %s"
                              % (key, text, name, field.text))
    return Mapping(text=text, columns=tuple(columns), ttl=ttl, timestamp=timestamp)


def check_columns(mapping: Mapping, schema: TableSchema, key: str, table: str) -> bool:
    """Checks a mapping against its table's schema; True when it maps every column of the table
    (deletes need that, as in the DataStax connector).

    Raises:
      ConfigError: a mapped column does not exist, a primary key column is not mapped, or the table
        holds counters.
    """
    if schema.is_counter:
        raise ConfigError("%s=%r: table %s holds counters, which this sink does not write: a counter "
                          "increment cannot carry a write timestamp, so a replay would count twice"
                          % (key, mapping.text, table))
    missing = [c for c in mapping.column_names if c not in schema.columns]
    if missing:
        hints = []
        lowered = {c.lower(): c for c in schema.columns}
        for c in missing:
            if c.lower() in lowered:
                hints.append("%s (the table has %s; column names are case-sensitive)"
                             % (c, lowered[c.lower()]))
            else:
                hints.append(c)
        raise ConfigError("%s=%r: the following columns do not exist in table %s: %s (its columns: %s)"
                          % (key, mapping.text, table, ", ".join(hints), ", ".join(schema.columns)))
    unmapped = [c for c in schema.primary_key if c not in mapping.column_names]
    if unmapped:
        raise ConfigError("%s=%r: the following columns are part of the primary key but are not "
                          "mapped: %s" % (key, mapping.text, ", ".join(unmapped)))
    return set(mapping.column_names) == set(schema.columns)


def check_bind_markers(mapping: Mapping, markers: Sequence[str], key: str, query_key: str) -> None:
    """With ``query``: every bind marker of the statement is mapped, and every mapped column is a
    bind marker.

    Raises:
      ConfigError: naming the markers or columns that do not match.
    """
    names = set(mapping.column_names)
    if mapping.ttl is not None:
        names.add("message_internal_ttl")
    if mapping.timestamp is not None:
        names.add("message_internal_timestamp")
    unbound = [m for m in markers if m not in names]
    if unbound:
        raise ConfigError("%s: the statement's bind markers %s are not mapped in %s=%r"
                          % (query_key, ", ".join(":" + m for m in unbound), key, mapping.text))
    extra = [c for c in mapping.column_names if c not in markers]
    if extra:
        raise ConfigError("%s=%r maps %s, which the statement of %s does not bind (its markers: %s)"
                          % (key, mapping.text, ", ".join(extra), query_key,
                             ", ".join(":" + m for m in markers) or "none"))


def _tokens(text: str, key: str) -> list:
    tokens, position = [], 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if match is None:
            column = len(text[position:]) - len(text[position:].lstrip()) + position
            raise ConfigError("%s=%r could not be parsed at line 1:%d: unexpected %r"
                              % (key, text, column, text[column]))
        kind = match.lastgroup
        tokens.append((kind, match.group(kind), match.start(kind)))
        position = match.end()
    if not tokens:
        raise ConfigError("%s must map at least one column, as in 'col1=value.f1', got %r" % (key, text))
    return tokens


def _field(peek, take) -> str:
    if peek("quoted"):
        return _unquote(take("quoted"))
    parts = [take("word", what="a field (key, value, key.<f>, value.<f>, header.<h>, now())")]
    if peek("punct", "("):  # a function, possibly qualified: ks.fn()
        take("punct", "(")
        args = []
        while not peek("punct", ")"):
            args.append(take("word", what="a function argument"))
            if peek("punct", ","):
                take("punct", ",")
        take("punct", ")")
        return "%s(%s)" % (parts[0], ",".join(args))
    while peek("punct", ".") or peek("word"):
        if peek("punct", "."):
            take("punct", ".")
            parts.append(".")
        else:
            parts.append(take("word"))
        if peek("punct", "("):
            take("punct", "(")
            take("punct", ")")
            parts.append("()")
    return "".join(parts)


def _classify(text: str) -> Optional[Field]:
    if text in ("key", "value"):
        return Field(text, None, text)
    for source in ("key", "value", "header"):
        if text.startswith(source + ".") and len(text) > len(source) + 1:
            name = text[len(source) + 1:]
            return Field(source, None if name == "__self" and source != "header" else name, text)
    if text in FUNCTIONS:
        return Field("function", text, text)
    return None


def _unquote(text: str) -> str:
    return text[1:-1].replace('""', '"')
