"""Config keys with types, defaults and checks: a small version of Kafka's ConfigDef."""

from __future__ import annotations

import dataclasses
import difflib
import enum
import math
import re
from typing import Any, Iterable, Iterator, Mapping

from common.errors import ConfigError, Problems

TYPES = ("string", "int", "double", "boolean", "list", "password", "class")
HIDDEN = "[hidden]"

_INT = re.compile(r"[+-]?[0-9]+")
_DOUBLE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_EXPECTED = {"int": "be an integer", "double": "be a number", "boolean": "be 'true' or 'false'",
             "list": "be a comma-separated list", "string": "be a string", "class": "be a string",
             "password": "be a string"}


class _Sentinel(enum.Enum):
    NO_DEFAULT = "NO_DEFAULT"

    def __repr__(self) -> str:
        return self.value


NO_DEFAULT = _Sentinel.NO_DEFAULT
"""The default of a required key."""


class Password(str):
    """A password value: usable as the string it holds, shown as ``'[hidden]'`` by ``repr``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(HIDDEN)


def to_connect_string(value: Any, type: str) -> str:
    """Writes a typed value (``True``, ``1000``, ``("a", "b")``) as a Connect config does: ``"true"``.

    Raises:
      TypeError: ``value`` is not of ``type`` (one of :data:`TYPES`).
      ValueError: ``type`` is unknown, or the value has no string form (an infinite double, a list item
        holding a comma).
    """
    if type not in TYPES:
        raise ValueError("type must be one of %s, got %r" % (", ".join(map(repr, TYPES)), type))
    if type == "boolean" and isinstance(value, bool):
        return "true" if value else "false"
    if type == "int" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if type == "double" and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError("a double must be finite, got %r" % value)
        return repr(float(value))
    if type == "list" and isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        if any("," in item for item in value):
            raise ValueError("list items must not contain ',', got %r" % (tuple(value),))
        return ",".join(value)
    if type in ("string", "class", "password") and isinstance(value, str):
        return str.__str__(value)
    raise TypeError("%s is not a %s value" % (HIDDEN if type == "password" else repr(value), type))


@dataclasses.dataclass(frozen=True)
class ConfigKey:
    """One config key.

    Attributes:
      name: The key as users write it (``flush.size``).
      type: One of :data:`TYPES`.
      default: The typed default (``1000``, ``True``, ``("a", "b")``); None for an optional key with no
        value; :data:`NO_DEFAULT` for a required key.
      doc: One line for docs and template metadata.
      choices: Allowed values of a string or class key, matched case-insensitively; the parsed value is
        spelled as the choice is.
      min: Smallest allowed int or double (inclusive).
      max: Largest allowed int or double (inclusive).
      regex: A pattern a string value must match as a whole.
      group: Heading under which docs list the key.

    Raises:
      ValueError: the definition itself is inconsistent (an unknown type, a default failing its checks).
    """

    name: str
    type: str
    default: Any = NO_DEFAULT
    doc: str = ""
    choices: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    regex: str | None = None
    group: str = ""

    def __post_init__(self):
        if self.choices is not None and not isinstance(self.choices, str):
            object.__setattr__(self, "choices", tuple(self.choices))
        problem = _definition_problem(self)
        if problem:
            raise ValueError("config key %r: %s" % (self.name, problem))
        if self.default is not NO_DEFAULT and self.default is not None:
            try:
                default = self.convert(to_connect_string(self.default, self.type))
            except (TypeError, ValueError) as exc:  # ConfigError is a ValueError
                raise ValueError("config key %r: invalid default: %s" % (self.name, exc)) from None
            object.__setattr__(self, "default", default)

    @property
    def required(self) -> bool:
        """Whether the key has no default and must be given."""
        return self.default is NO_DEFAULT

    def convert(self, value: Any, *, name: str | None = None) -> Any:
        """Parses one value as written (a typed value is accepted too, as Connect does).

        Args:
          value: The raw value.
          name: The key as errors show it (with its prefix); defaults to ``self.name``.

        Returns:
          An int, float, bool, tuple of str, :class:`Password` or str.

        Raises:
          ConfigError: naming the key, the value and what is allowed.
        """
        name = name or self.name
        shown = HIDDEN if self.type == "password" else value

        def fail(what: str):
            raise ConfigError("%s must %s, got %r" % (name, what, shown))

        if not isinstance(value, str):
            try:
                value = to_connect_string(value, self.type)
            except (TypeError, ValueError):
                fail(_EXPECTED[self.type])
        text = value.strip()
        if self.type == "int":
            if not _INT.fullmatch(text):
                fail(_EXPECTED["int"])
            return self._in_range(int(text), fail)
        if self.type == "double":
            if not _DOUBLE.fullmatch(text) or not math.isfinite(float(text)):
                fail(_EXPECTED["double"])
            return self._in_range(float(text), fail)
        if self.type == "boolean":
            if text.lower() not in ("true", "false"):
                fail(_EXPECTED["boolean"])
            return text.lower() == "true"
        if self.type == "list":
            return tuple(item.strip() for item in text.split(",") if item.strip())
        if self.type == "password":
            return Password(text)
        if self.choices is not None:
            spelled = {c.lower(): c for c in self.choices}
            if text.lower() not in spelled:
                fail("be one of %s" % ", ".join(map(repr, self.choices)))
            text = spelled[text.lower()]
        if self.regex is not None and not re.fullmatch(self.regex, text):
            fail("match '%s'" % self.regex)
        return text

    def _in_range(self, number, fail):
        if self.min is not None and number < self.min:
            fail("be at least %s" % _number(self.min))
        if self.max is not None and number > self.max:
            fail("be at most %s" % _number(self.max))
        return number


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else repr(float(bound))


def _definition_problem(key: ConfigKey) -> str | None:
    if not isinstance(key.name, str) or not key.name:
        return "the name must be a non-empty string"
    if key.type not in TYPES:
        return "type must be one of %s, got %r" % (", ".join(TYPES), key.type)
    if key.choices is not None:
        if key.type not in ("string", "class"):
            return "choices apply to string and class keys only"
        if not isinstance(key.choices, tuple) or not key.choices or (
                not all(isinstance(c, str) for c in key.choices)) or (
                len({c.lower() for c in key.choices}) != len(key.choices)):
            return "choices must be strings that differ other than by case, got %r" % (key.choices,)
    if (key.min is not None or key.max is not None) and key.type not in ("int", "double"):
        return "min and max apply to int and double keys only"
    if key.min is not None and key.max is not None and key.min > key.max:
        return "min %r is above max %r" % (key.min, key.max)
    if key.regex is not None:
        if key.type != "string":
            return "regex applies to string keys only"
        try:
            re.compile(key.regex)
        except (re.error, TypeError):
            return "regex %r does not compile" % (key.regex,)
    return None


class ConfigDef:
    """An ordered set of :class:`ConfigKey`, parsed together.

    Args:
      keys: The keys, in the order docs list them.

    Raises:
      ValueError: two keys share a name.
    """

    def __init__(self, keys: Iterable[ConfigKey] = ()):
        self._keys: dict[str, ConfigKey] = {}
        for key in keys:
            if not isinstance(key, ConfigKey):
                raise TypeError("a ConfigDef holds ConfigKey objects, got %r" % (key,))
            if key.name in self._keys:
                raise ValueError("config key %r is defined twice" % key.name)
            self._keys[key.name] = key

    def __add__(self, other: ConfigDef) -> ConfigDef:
        if not isinstance(other, ConfigDef):
            return NotImplemented
        return ConfigDef([*self, *other])

    def __contains__(self, name: object) -> bool:
        return name in self._keys

    def __iter__(self) -> Iterator[ConfigKey]:
        return iter(self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, name: str) -> ConfigKey:
        return self._keys[name]

    def __repr__(self) -> str:
        return "ConfigDef(%r)" % (list(self._keys),)

    def names(self) -> tuple[str, ...]:
        """The key names, in definition order."""
        return tuple(self._keys)

    def parse(self, raw: Mapping[str, str], *, prefix: str = "",
              problems: Problems | None = None) -> dict[str, Any]:
        """Parses every defined key of a raw config; keys it does not define are left alone.

        Args:
          raw: Keys and string values as written in the config.
          prefix: Written before each name in ``raw`` and in errors (``value.converter.``).
          problems: Where to record each bad key and go on (the key then holds its default, or None
            if it has none); without it the first bad key raises.

        Returns:
          Each defined name (without prefix) mapped to its typed value or default.

        Raises:
          ConfigError: a required key is missing or a value is invalid (``problems`` not given).
        """
        values = {}
        for key in self._keys.values():
            name = prefix + key.name
            try:
                if name in raw:
                    values[key.name] = key.convert(raw[name], name=name)
                elif key.required:
                    raise ConfigError("%s is required%s" % (name, _allowed(key)))
                else:
                    values[key.name] = key.default
            except ConfigError as exc:
                if problems is None:
                    raise
                problems.add(exc)
                values[key.name] = None if key.required else key.default
        return values


def _allowed(key: ConfigKey) -> str:
    """``; one of 'a', 'b'`` for a missing key with choices (``format.class``), else nothing."""
    if not key.choices:
        return ""
    return "; one of %s" % ", ".join(map(repr, key.choices))


def check_unknown(raw_keys: Iterable[str], known: Iterable[str], *,
                  passthrough_prefixes: tuple[str, ...] = (), what: str = "connector",
                  problems: Problems | None = None) -> None:
    """Rejects the keys (in sorted order) that are neither known nor under a passthrough prefix.

    Args:
      raw_keys: The keys of a config.
      known: Every key accepted as is.
      passthrough_prefixes: Keys starting with one of these are accepted (``consumer.override.``).
      what: What the config is for, as named in the error.
      problems: Where to record every unknown key; without it the first one raises.

    Raises:
      ConfigError: naming the key and the closest known key, or else every known key.
    """
    known = sorted(set(known))
    accepted = set(known)
    prefixes = tuple(passthrough_prefixes)
    for key in sorted(set(raw_keys)):
        if key in accepted or key.startswith(prefixes):
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
        if close:
            message = "unknown key %r for this %s; did you mean %r?" % (key, what, close[0])
        else:
            message = "unknown key %r; known keys: %s" % (key, ", ".join(known) or "(none)")
            if prefixes:
                message += "; and any key starting with %s" % ", ".join(map(repr, sorted(prefixes)))
        if problems is None:
            raise ConfigError(message)
        problems.add(ConfigError(message))


def describe(defn: ConfigDef) -> list[dict[str, Any]]:
    """Lists a definition's keys for docs and template metadata.

    Returns:
      One dict per key, in definition order, with name, type, default (as written in a config, or None),
      doc, required, choices, regex, min, max and group. A password's default shows as ``'[hidden]'``.
    """
    rows = []
    for key in defn:
        if key.default is NO_DEFAULT or key.default is None:
            default = None
        elif key.type == "password":
            default = HIDDEN
        else:
            default = to_connect_string(key.default, key.type)
        rows.append({"name": key.name, "type": key.type, "default": default, "doc": key.doc,
                     "required": key.required, "choices": list(key.choices) if key.choices else None,
                     "regex": key.regex, "min": key.min, "max": key.max, "group": key.group})
    return rows
