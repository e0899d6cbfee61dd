"""Reading the connector configs Kafka Connect users already have: properties files and JSON.

A file whose first non-blank character is ``{`` is JSON, either the body of a Connect REST request
(``{"name": ..., "config": {...}}``) or a flat object of keys. One starting with ``[`` (a JSON list) is
refused; anything else is a Java properties file.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Iterator

from common.errors import ConfigError

_BLANK = " \t\f"  # what java.util.Properties counts as whitespace
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_HEX = frozenset("0123456789abcdefABCDEF")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Keys of a Connect REST body besides "config"; "tasks" and "type" come with GET /connectors/<name>.
_REST_KEYS = ("name", "config", "tasks", "type")


def load_config(path: str | os.PathLike) -> dict[str, str]:
    """Reads a connector config file into raw keys and string values.

    Args:
      path: A ``.properties`` file, a Connect REST JSON body or a flat JSON object; the format is told
        by the content, not the file name.

    Returns:
      Each key mapped to its value as Connect would see it (JSON numbers as written, ``true``/``false``,
      lists joined by commas).

    Raises:
      ConfigError: the file is missing or unreadable, not UTF-8, or its content is invalid; the message
        names the file, and for JSON the line and column or the key at fault.
    """
    where = os.fsdecode(path)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        raise ConfigError("config file %r does not exist" % where) from None
    except OSError as exc:
        raise ConfigError("config file %r cannot be read: %s" % (where, exc.strerror or exc)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError("config file %r is not UTF-8 text: byte 0x%02x at offset %d"
                          % (where, data[exc.start], exc.start)) from None
    try:
        first = text.lstrip()[:1]
        if first == "[":  # GET /connectors answers a list of names; no properties file starts so
            raise ConfigError("holds a JSON list; a config is a JSON object or a properties file")
        if first == "{":
            return _parse_json(text)
        return parse_properties(text)
    except ConfigError as exc:
        raise ConfigError("config file %r: %s" % (where, exc)) from None


def parse_properties(text: str) -> dict[str, str]:
    """Parses the text of a Java properties file as ``java.util.Properties.load`` does.

    Separators are ``=``, ``:`` or whitespace; ``#`` and ``!`` start comment lines; a line ending in an
    odd number of backslashes continues on the next line, whose leading whitespace is dropped; ``\\t``,
    ``\\n``, ``\\r``, ``\\f``, ``\\uXXXX`` and any escaped character (``\\=``, ``\\:``, ``\\ ``) are
    unescaped. Whitespace before keys and around separators is dropped; trailing whitespace of a value
    is kept. A repeated key keeps its last value.

    Raises:
      ConfigError: a malformed ``\\uXXXX`` escape or an unpaired UTF-16 surrogate, naming its line.
    """
    config = {}
    for start, line in _logical_lines(text):
        key_end, value_start = _split(line)
        try:
            key, value = _unescape(line[:key_end]), _unescape(line[value_start:])
        except ValueError as exc:
            line_number = len(_LINE_BREAK.findall(text, 0, start)) + 1
            raise ConfigError("line %d: %s" % (line_number, exc)) from None
        config[key] = value
    return config


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yields (offset of first character, line) per logical line, as Java's Properties.LineReader."""
    buf: list[str] = []
    start = 0
    skip_blank, continued, backslash = True, False, False
    i, end = 0, len(text)
    while i < end:
        char = text[i]
        i += 1
        if skip_blank:
            if char in _BLANK or (not continued and char in "\r\n"):
                continue
            skip_blank = continued = False
        if not buf and char in "#!":  # a comment: drop the rest of the natural line
            while i < end and text[i] not in "\r\n":
                i += 1
            skip_blank = True
            continue
        if char not in "\r\n":
            if not buf:
                start = i - 1
            buf.append(char)
            backslash = not backslash if char == "\\" else False
        elif not buf:
            skip_blank = True
        elif backslash:  # continued: drop the backslash and the next line's leading whitespace
            buf.pop()
            backslash = False
            if i == end:  # Java ends a line continued into nothing, even an empty one
                yield start, "".join(buf)
                return
            skip_blank = continued = True
            if char == "\r" and i < end and text[i] == "\n":
                i += 1
        else:
            yield start, "".join(buf)
            buf, skip_blank = [], True
    if buf or backslash:  # a lone "\\" at the very end is an empty key, as in Java
        yield start, "".join(buf[:-1] if backslash else buf)


def _split(line: str) -> tuple[int, int]:
    """Returns where the key ends and the value starts, as Properties.load0."""
    key_end, value_start, separated, backslash = 0, len(line), False, False
    while key_end < len(line):
        char = line[key_end]
        if char in "=:" and not backslash:
            value_start, separated = key_end + 1, True
            break
        if char in _BLANK and not backslash:
            value_start = key_end + 1
            break
        backslash = not backslash if char == "\\" else False
        key_end += 1
    while value_start < len(line):
        char = line[value_start]
        if char not in _BLANK:
            if separated or char not in "=:":
                break
            separated = True
        value_start += 1
    return key_end, value_start


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        char = text[i]
        i += 1
        if char != "\\":
            out.append(char)
        elif i < len(text):
            char = text[i]
            i += 1
            if char == "u":
                digits = text[i:i + 4]
                if len(digits) < 4 or not _HEX.issuperset(digits):
                    raise ValueError("malformed \\uXXXX escape '\\u%s'" % digits)
                out.append(chr(int(digits, 16)))
                i += 4
            else:
                out.append(_ESCAPES.get(char, char))
    result = "".join(out)
    try:  # \uD83D\uDE00 is one character, written as its UTF-16 pair
        return result.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        raise ValueError("unpaired UTF-16 surrogate in %r" % text) from None


class _NotJson(str):
    """NaN or Infinity: accepted by Python's json module, not by JSON or by Connect."""


def _parse_json(text: str) -> dict[str, str]:
    try:
        data = json.loads(text, parse_int=str, parse_float=str, parse_constant=_NotJson,
                          object_pairs_hook=_no_repeats)
    except json.JSONDecodeError as exc:
        raise ConfigError("invalid JSON at line %d, column %d: %s"
                          % (exc.lineno, exc.colno, exc.msg)) from None
    if not isinstance(data.get("config"), dict):
        return {key: _string(key, value) for key, value in data.items()}
    extra = sorted(set(data) - set(_REST_KEYS))
    if extra:
        raise ConfigError("unexpected key %r beside 'config'; a Connect REST body holds only %s"
                          % (extra[0], ", ".join(map(repr, _REST_KEYS))))
    config = {key: _string(key, value) for key, value in data["config"].items()}
    if "name" in data:
        name = _string("name", data["name"])
        if config.setdefault("name", name) != name:
            raise ConfigError("name %r and config's name %r differ; give one name, or the same in both"
                              % (name, config["name"]))
    return config


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ConfigError("key %r appears twice in one JSON object; give it once" % key)
        seen[key] = value
    return seen


def _string(key: str, value: Any) -> str:
    """A JSON value as Connect's string form: numbers as written, true/false, lists joined by commas."""
    if not isinstance(value, list):
        return _scalar(key, value, "%s is %s")
    items = [_scalar(key, item, "%s holds %s in its list") for item in value]
    for item in items:
        if "," in item:
            raise ConfigError("%s holds %r in its list; an item with a comma would be read as two"
                              % (key, item))
    return ",".join(items)


def _scalar(key: str, value: Any, where: str) -> str:
    if isinstance(value, _NotJson):
        raise ConfigError((where + ", which is not valid JSON; write it as a string")
                          % (key, value))
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        raise ConfigError((where + "; give a value or leave the key out") % (key, "null"))
    kind = "a JSON object" if isinstance(value, dict) else "a JSON list"
    raise ConfigError((where + "; a value must be a string, number, boolean or a list of them")
                      % (key, kind))
