"""Field paths (Connect's ``SingleFieldPath``, KIP-821) and reading them from Arrow columns.

``field.syntax.version=V1`` (the default) takes a path as one field name at the top level, dots and all;
``V2`` splits it at dots into steps into nested structs, a step wrapped in backticks may hold dots
(```foo.bar`.baz``), and a backslash before a backtick that would close a step keeps it as part of the
name (``foo.`bar\\`.baz``` is ``foo``, ``bar`.baz``). A path is parsed once, when the transform is
configured; a backtick pair left open is a config error with Connect's message.

Reading a path follows Connect too: a schemaful column is looked up in its schema first (a path that
the schema lacks reads as no field, a step into a field that is not a struct is an error), then read
with the defaults ``Struct.get`` applies; a schemaless column (maps) reads a missing step as null and
fails the records where a step meets a value that is not a map.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Optional

import pyarrow as pa

from common.configdef import ConfigKey
from common.errors import ConfigError, DataError
from transforms.smt.columns import (
    RowErrors, default_filled, java_class, not_object_message, with_parent_nulls)

V1, V2 = "V1", "V2"

SYNTAX_VERSION = ConfigKey(
    "field.syntax.version", "string", V1, choices=(V1, V2),
    doc="V1: a field name at the top level; V2: a dotted path into nested structs, with backtick "
        "pairs around names that hold dots.")

_BACKTICK, _DOT, _BACKSLASH = "`", ".", "\\"
_NESTED = "nested field access"
NOT_STRUCT = "Cannot look up fields on non-struct type"


class PathError(ValueError):
    """A path that does not parse (an open backtick pair); the message is Connect's."""


def parse_steps(text: str, version: str = V1) -> tuple:
    """The steps of a path: ``("foo.bar",)`` in V1, ``("foo", "bar")`` in V2.

    Raises:
      PathError: a backtick opens a step in V2 and nothing closes it.
      ValueError: ``version`` is neither V1 nor V2.
    """
    if version == V1:
        return (text,)
    if version != V2:
        raise ValueError("version must be %r or %r, got %r" % (V1, V2, version))
    steps = []
    idx, end = 0, len(text)
    while idx < end:
        if text[idx] != _BACKTICK:
            dot = text.find(_DOT, idx)
            if dot < 0:
                steps.append(text[idx:])
                break
            steps.append(text[idx:dot])
            idx = dot + 1
            continue
        opened = idx
        idx += 1
        start, name = idx, ""
        while True:
            idx = text.find(_BACKTICK, idx)
            if idx < 0:
                raise PathError(_incomplete(text, opened))
            escaped = text[idx - 1] == _BACKSLASH
            if idx >= end - 1:  # the closing backtick ends the path
                if escaped:
                    raise PathError(_incomplete(text, opened))
                steps.append(name + text[start:idx])
                idx += 1
                break
            if text[idx + 1] != _DOT:  # a backtick inside the name
                idx += 1
                continue
            if escaped:  # \` before a dot: a backtick of the name, the step goes on
                name += text[start:idx - 1] + _BACKTICK
                idx += 1
                start = idx
                continue
            steps.append(name + text[start:idx])
            idx += 2
            break
    if text.endswith(_DOT):
        steps.append("")
    return tuple(steps)


def _incomplete(text: str, position: int) -> str:
    return ("Incomplete backtick pair in path: [%s], consider adding a backslash before backtick at "
            "position %d to escape it" % (text, position))


@dataclasses.dataclass(frozen=True)
class FieldPath:
    """A parsed field path.

    Attributes:
      text: The path as configured (what errors show).
      steps: Field names from the top.
    """

    text: str
    steps: tuple

    @classmethod
    def parse(cls, text: str, version: str = V1) -> "FieldPath":
        """Raises PathError as :func:`parse_steps` does."""
        return cls(text, parse_steps(text, version))

    @classmethod
    def from_config(cls, config: Mapping, key: str, prefix: str) -> "FieldPath":
        """The path under ``key`` of a parsed config that also holds ``field.syntax.version``.

        Raises:
          ConfigError: the path does not parse, or has no step; naming ``prefix + key``.
        """
        text = config[key]
        try:
            path = cls.parse(text, config[SYNTAX_VERSION.name])
        except PathError as e:
            raise ConfigError("%s%s must be a field path with its backticks paired (%s), got %r"
                              % (prefix, key, e, text)) from None
        if not path.steps:
            raise ConfigError("%s%s must name a field, got %r" % (prefix, key, text))
        return path

    def __str__(self) -> str:
        return self.text

    def field_from(self, schema: pa.Field) -> Optional[pa.Field]:
        """The field at this path in a struct schema; None when a step is not there.

        Raises:
          DataError: a step looks into a schema that is not a struct (Connect's message).
        """
        current = schema
        for step in self.steps:
            if not pa.types.is_struct(current.type):
                raise DataError(NOT_STRUCT)
            index = current.type.get_field_index(step)
            if index < 0:
                return None
            current = current.type.field(index)
        return current

    def values_from_struct(self, array: pa.StructArray, schema: pa.Field,
                           with_default: bool = True) -> pa.Array:
        """The values at this path of a schemaful struct column, whose schema has the path (see
        :meth:`field_from`); null where the record or a struct on the way is null.

        Structs on the way are read with their defaults (``Struct.get``); the last field with its
        default only when ``with_default``.
        """
        current, field = array, schema
        last = len(self.steps) - 1
        for depth, step in enumerate(self.steps):
            index = field.type.get_field_index(step)
            child_field = field.type.field(index)
            child = current.field(index)
            if with_default or depth < last:
                child = default_filled(child, child_field)
            current, field = with_parent_nulls(child, current), child_field
        return current

    def values_from_map(self, array: pa.StructArray) -> tuple:
        """The values at this path of a schemaless column of maps: ``(values, failures)``.

        A step that is not there reads as null (a column of Arrow type null when no record has it);
        a step into a value that is not a map fails that record (Connect's ``nested field access``
        message) and reads as null for the others. ``values`` has a row per row of ``array``.
        """
        current, n = array, len(array)
        for depth, step in enumerate(self.steps):
            if depth:
                if pa.types.is_null(current.type):
                    return current, []
                if not pa.types.is_struct(current.type):
                    errors = RowErrors(n)
                    errors.add(current.is_valid(),
                               not_object_message(_NESTED, java_class(current.type), False))
                    return pa.nulls(n), errors.failures()
            index = current.type.get_field_index(step)
            if index < 0:
                return pa.nulls(n), []
            current = with_parent_nulls(current.field(index), current)
        return current, []
