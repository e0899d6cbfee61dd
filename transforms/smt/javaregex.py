"""Java regular expressions and replacement strings, run by Python's :mod:`re`.

Kafka Connect's RegexRouter and TopicNameMatches take ``java.util.regex`` patterns, and RegexRouter a
``Matcher.replaceFirst`` replacement (``$1``, ``${name}``, ``\\$``). Users copy both from working
Connect configs, so they are read as Java reads them and translated once, when the pipeline is built:

- Java-only spellings become Python's: ``(?<name>x)`` and ``\\k<name>``, ``\\Q...\\E``, ``\\z`` and
  ``\\Z``, ``\\h`` ``\\v`` ``\\R``, ``\\x{h...h}``, ``\\0nnn`` octal, ``\\cX``, ``\\e``, the POSIX
  classes (``\\p{Lower}``, ASCII as in Java) and Unicode general categories (``\\p{L}``, ``\\pL``,
  ``\\p{IsLu}``); nested classes, intersections and negations (``[a-z&&[^aeiou]]``, ``[^a[^b]]``),
  with lookaheads where one Python class will not do; inline flags in mid-pattern (``a(?i)b|c``) as
  scoped groups reaching to the end of the enclosing group, across ``|``; possessive quantifiers and
  atomic groups (Python 3.11 and later).
- What Java rejects is rejected (``{`` that is not a repetition, unknown escapes and inline
  modifiers, Python-only syntax such as ``(?P<n>...)`` or ``(?#...)``), and what has no Python
  equivalent is refused by name: scripts, blocks and other ``\\p{...}`` properties, the ``x``, ``u``
  and ``U`` flags, ``\\G``, ``\\X``, ``\\b{g}``, back references to a group that has not closed
  (Java lets them fail to match), and what Python's ``re`` itself cannot run (a look-behind of
  varying width).
- Patterns compile with :data:`re.ASCII`: ``\\d``, ``\\w``, ``\\s``, ``\\b`` and case-insensitive
  matching are ASCII-only, as in Java without ``UNICODE_CHARACTER_CLASS``/``UNICODE_CASE``.

Java's ``.`` and ``$`` also take ``\\r``, ``\\u0085``, ``\\u2028`` and ``\\u2029`` for line ends,
Python's only ``\\n``; topic names cannot hold any of them, so the two never disagree on a topic.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from typing import Optional

from common.errors import ConfigError

_CAN_POSSESS = sys.version_info >= (3, 11)
_MAX = 0x10FFFF

# ``\h`` and ``\v`` as Java defines them, as code point ranges.
_HORIZONTAL = ((0x09, 0x09), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680), (0x180E, 0x180E),
               (0x2000, 0x200A), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000))
_VERTICAL = ((0x0A, 0x0D), (0x85, 0x85), (0x2028, 0x2029))
_LINEBREAK = "(?:\\r\\n|[\\n\\x0b\\f\\r\\x85\\u2028\\u2029])"


def _chars(text: str) -> tuple:
    return tuple((ord(c), ord(c)) for c in text)


_PUNCT = _chars("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
# Java's POSIX character classes (US-ASCII only).
_POSIX = {
    "Lower": ((0x61, 0x7A),), "Upper": ((0x41, 0x5A),), "ASCII": ((0x00, 0x7F),),
    "Alpha": ((0x41, 0x5A), (0x61, 0x7A)), "Digit": ((0x30, 0x39),),
    "Alnum": ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)), "Punct": _PUNCT,
    "Graph": ((0x21, 0x7E),), "Print": ((0x20, 0x7E),), "Blank": ((0x20, 0x20), (0x09, 0x09)),
    "Cntrl": ((0x00, 0x1F), (0x7F, 0x7F)), "XDigit": ((0x30, 0x39), (0x41, 0x46), (0x61, 0x66)),
    "Space": ((0x09, 0x0D), (0x20, 0x20)),
}
_CATEGORIES = {"L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No",
               "P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So",
               "Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf", "Cs", "Co", "Cn"}


class _Invalid(ValueError):
    """Java itself rejects the pattern."""


class _Unsupported(ValueError):
    """Java accepts the construct; Python's re has no equivalent."""


def compile_pattern(pattern: str, key: str) -> re.Pattern:
    """Compiles a Java regular expression for Python.

    Args:
      pattern: The pattern as a Connect config holds it.
      key: The config key it came from, as errors name it (``transforms.route.regex``).

    Raises:
      ConfigError: Java would reject the pattern, or it uses a construct Python cannot run.
    """
    try:
        translated = translate(pattern)
    except _Invalid as e:
        raise ConfigError("%s must be a valid Java regular expression, got %r: %s"
                          % (key, pattern, e)) from None
    except _Unsupported as e:
        raise ConfigError("%s must be a Java regular expression without %s (no Python equivalent), "
                          "got %r" % (key, e, pattern)) from None
    try:
        return re.compile(translated, re.ASCII)
    except re.error as e:
        raise ConfigError("%s must be a Java regular expression that Python's re can run, got %r: %s"
                          % (key, pattern, e)) from None


def translate(pattern: str) -> str:
    """The Python spelling of a Java regular expression, to compile with :data:`re.ASCII`.

    Raises:
      ValueError: Java would reject the pattern, or it uses a construct with no Python
        equivalent; the message says which.
    """
    return _Translator(pattern).run()


class _Level:
    """One open group: whether it captures, and the inline flags set in it so far (each opened a
    scoped Python group that closes with it)."""

    def __init__(self, number: Optional[int] = None):
        self.number = number
        self.opened = 0
        self.on: frozenset = frozenset()
        self.off: frozenset = frozenset()


class _Translator:
    """One pass over a Java pattern, writing its Python spelling."""

    def __init__(self, pattern: str):
        self.src = pattern
        self.pos = 0
        self.out: list = []
        self.levels = [_Level()]
        self.groups = 0  # capturing groups opened so far
        self.closed: set = set()
        self.names: dict = {}
        self.atom = False  # whether a quantifier may follow

    def fail(self, message: str, at: Optional[int] = None):
        """Java's wording; the index is where the translation stopped (or ``at``)."""
        raise _Invalid("%s near index %d" % (message, self.pos if at is None else at))

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.src[index] if index < len(self.src) else ""

    def take(self, count: int = 1) -> str:
        text = self.src[self.pos:self.pos + count]
        self.pos += count
        return text

    def run(self) -> str:
        while self.pos < len(self.src):
            c = self.peek()
            if c in ("*", "+", "?", "{"):
                self.quantifier()
                continue
            self.atom = True
            if c == "\\":
                self.pos += 1
                self.out.append(self.escape())
            elif c == "[":
                self.pos += 1
                self.out.append(self.char_class()[1])
            elif c == "(":
                self.pos += 1
                self.open_group()
            elif c == ")":
                self.close_group()
            elif c == "|":
                self.pos += 1
                self.alternate()
            else:
                self.pos += 1
                self.out.append(c if c in (".", "^", "$") else re.escape(c))
        if len(self.levels) > 1:
            self.fail("Unclosed group")
        self.out.append(")" * self.levels[0].opened)
        return "".join(self.out)

    def quantifier(self):
        c = self.peek()
        if c == "{":
            match = _QUANTIFIER.match(self.src, self.pos)
            if match is None:
                self.fail("Illegal repetition")
            if match.group(3) and int(match.group(3)) < int(match.group(1)):
                self.fail("Illegal repetition range")
        if not self.atom:
            self.fail("Dangling meta character %r" % c)
        self.out.append(self.take(match.end() - self.pos) if c == "{" else self.take())
        if self.peek() == "?":
            self.out.append(self.take())
        elif self.peek() == "+":
            if not _CAN_POSSESS:
                raise _Unsupported("possessive quantifiers (before Python 3.11)")
            self.out.append(self.take())
        self.atom = False

    def open_group(self):
        self.atom = False
        if self.peek() != "?":
            self.groups += 1
            self.levels.append(_Level(self.groups))
            self.out.append("(")
            return
        self.pos += 1
        c = self.peek()
        if c in (":", "=", "!", ">") or (c == "<" and self.peek(1) in ("=", "!")):
            if c == ">" and not _CAN_POSSESS:
                raise _Unsupported("atomic groups (before Python 3.11)")
            opening = self.take(2 if c == "<" else 1)
            self.levels.append(_Level())
            self.out.append("(?" + opening)
            return
        if c == "<":
            self.pos += 1
            name = self.group_name()
            if name in self.names:
                self.fail("Named capturing group <%s> is already defined" % name)
            self.groups += 1
            self.names[name] = self.groups
            self.levels.append(_Level(self.groups))
            self.out.append("(?P<%s>" % name)
            return
        match = _INLINE_FLAGS.match(self.src, self.pos)
        if match is None:
            self.fail("Unknown inline modifier")
        for flag in match.group(1):
            if flag in _UNSUPPORTED_FLAGS:
                raise _Unsupported("the inline flag (?%s) (%s)" % (flag, _UNSUPPORTED_FLAGS[flag]))
        on = frozenset(_FLAGS[f] for f in match.group(1) if _FLAGS.get(f))
        off = frozenset(_FLAGS[f] for f in match.group(2) or "" if _FLAGS.get(f))
        on -= off
        self.pos = match.end()
        if match.group(3) == ":":
            self.levels.append(_Level())
            self.out.append(_scoped(on, off) if on or off else "(?:")
            return
        level = self.levels[-1]
        level.on, level.off = (level.on - off) | on, (level.off - on) | off
        if on or off:
            self.out.append(_scoped(on, off))
            level.opened += 1

    def close_group(self):
        if len(self.levels) == 1:
            self.fail("Unmatched closing ')'")
        level = self.levels.pop()
        self.out.append(")" * level.opened + ")")
        if level.number is not None:
            self.closed.add(level.number)
        self.pos += 1

    def alternate(self):
        """``|``: Java's inline flags hold to the end of their group, across alternatives."""
        self.atom = False
        level = self.levels[-1]
        self.out.append(")" * level.opened + "|")
        level.opened = 0
        if level.on or level.off:
            self.out.append(_scoped(level.on, level.off))
            level.opened = 1

    def group_name(self) -> str:
        match = _NAME.match(self.src, self.pos)
        if match is None:
            self.fail("capturing group name does not start with a Latin letter")
        self.pos = match.end()
        if self.peek() != ">":
            self.fail("named capturing group is missing trailing '>'")
        self.pos += 1
        return match.group(0)

    def escape(self) -> str:
        """The Python text for the escape after a backslash, outside a class."""
        c = self.peek()
        if c == "":
            self.fail("Unexpected internal error")
        if "1" <= c <= "9":
            return self.back_reference()
        if c == "k":
            self.pos += 1
            if self.take() != "<":
                self.fail("\\k is not followed by '<' for named capturing group")
            name = self.group_name()
            if name not in self.names:
                self.fail("named capturing group <%s> does not exist" % name)
            if self.names[name] not in self.closed:
                raise _Unsupported("back references to a group that has not closed (\\k<%s>)" % name)
            return "(?P=%s)" % name
        if c == "Q":
            self.pos += 1
            end = self.src.find("\\E", self.pos)
            end = len(self.src) if end < 0 else end
            text, self.pos = self.src[self.pos:end], min(end + 2, len(self.src))
            return re.escape(text)
        if c in _ANCHORS:
            self.pos += 1
            if c == "b" and self.peek() == "{":
                raise _Unsupported("\\b{g} (grapheme boundaries)")
            return _ANCHORS[c]
        if c in ("G", "X"):
            raise _Unsupported("\\" + c)
        member = self.class_escape()
        return _class_text(False, [member]) if isinstance(member, tuple) else member

    def back_reference(self) -> str:
        number = int(self.take())
        while self.peek().isdigit() and self.peek().isascii() and \
                number * 10 + int(self.peek()) <= self.groups:
            number = number * 10 + int(self.take())
        if number not in self.closed:
            raise _Unsupported("back references to a group that has not closed (\\%d)" % number)
        return "(?:\\%d)" % number

    def class_escape(self):
        """An escape that may also stand in a class: Python text for one character or for
        ``\\d``-like classes, or code point ranges (a tuple) for the classes Python lacks."""
        c = self.take()
        if c == "":
            self.fail("Unclosed character class")
        if c in _SHORTHANDS:
            return "\\" + c
        if c in _WHITESPACE:
            ranges = _WHITESPACE[c.lower()]
            return _negate(ranges) if c.isupper() else ranges
        if c in ("p", "P"):
            return self.property(c == "P")
        return re.escape(self.char_escape(c))

    def char_escape(self, c: str) -> str:
        """The character that an escape stands for, its letter ``c`` already read."""
        if c in _CONTROL:
            return _CONTROL[c]
        if c == "0":  # \0n, \0nn, or \0mnn with m at most 3
            digits = ""
            while self.peek() != "" and self.peek() in _OCTAL and (
                    len(digits) < 2 or len(digits) == 2 and digits[0] in "0123"):
                digits += self.take()
            if not digits:
                self.fail("Illegal octal escape sequence")
            return chr(int(digits, 8))
        if c == "x":
            if self.peek() == "{":
                end = self.src.find("}", self.pos)
                digits = self.src[self.pos + 1:end] if end > 0 else ""
                if not digits or not all(d in _HEX for d in digits) or int(digits, 16) > _MAX:
                    self.fail("Illegal hexadecimal escape sequence")
                self.pos = end + 1
                return chr(int(digits, 16))
            return chr(self.hex_digits(2, "Illegal hexadecimal escape sequence"))
        if c == "u":
            return chr(self.hex_digits(4, "Illegal Unicode escape sequence"))
        if c == "c":
            if self.peek() == "":
                self.fail("Illegal control escape sequence")
            return chr(ord(self.take()) ^ 64)
        if c == "N" and self.peek() == "{":
            end = self.src.find("}", self.pos)
            try:
                char = unicodedata.lookup(self.src[self.pos + 1:end]) if end > 0 else ""
            except KeyError:
                char = ""
            if not char:
                self.fail("Unknown character name")
            self.pos = end + 1
            return char
        if c.isascii() and c.isalnum():
            self.pos -= 1
            self.fail("Illegal/unsupported escape sequence")
        return c

    def hex_digits(self, count: int, error: str) -> int:
        digits = self.src[self.pos:self.pos + count]
        if len(digits) != count or not all(d in _HEX for d in digits):
            self.fail(error)
        self.pos += count
        return int(digits, 16)

    def property(self, negated: bool) -> tuple:
        if self.peek() == "{":
            end = self.src.find("}", self.pos)
            if end < 0:
                self.fail("Unclosed character family")
            name, self.pos = self.src[self.pos + 1:end], end + 1
        else:
            name = self.take()
        if name in _POSIX:
            ranges = _POSIX[name]
        else:
            category = name
            for prefix in ("Is", "gc=", "general_category="):
                if category.startswith(prefix):
                    category = category[len(prefix):]
                    break
            if category not in _CATEGORIES:
                raise _Unsupported("the character property \\p{%s}" % name)
            ranges = _category(category)
        return _negate(ranges) if negated else ranges

    def char_class(self) -> tuple:
        """A class after its ``[``: ``(members, text)``. ``members`` (Python class text or code point
        ranges) is None unless the class is a plain union another class can absorb; ``text`` is
        the Python pattern for one character of it.

        As in Java, nested classes are unions, ``&&`` intersects the unions either side of it, and
        ``^`` negates the whole class; Python gets lookaheads where one class will not do.
        """
        start = self.pos - 1
        negated = self.peek() == "^"
        if negated:
            self.pos += 1
        operands: list = []  # the unions that && separates
        members: list = []
        others: list = []  # Python texts of nested classes that are not plain unions
        first = True
        while True:
            c = self.peek()
            if c == "":
                self.fail("Unclosed character class", at=start)
            if c == "]" and not first:
                self.pos += 1
                break
            first = False
            if c == "[":
                self.pos += 1
                inner, text = self.char_class()
                if inner is None:
                    others.append(text)
                else:
                    members.extend(inner)
            elif c == "&" and self.peek(1) == "&":
                self.pos += 2
                if members or others:
                    operands.append((members, others))
                members, others = [], []
            elif c == "\\" and self.peek(1) == "Q":
                self.pos += 2
                end = self.src.find("\\E", self.pos)
                end = len(self.src) if end < 0 else end
                members.extend(((ord(ch), ord(ch)),) for ch in self.src[self.pos:end])
                self.pos = min(end + 2, len(self.src))
            else:
                low = self.class_member()
                if not isinstance(low, int):
                    members.append(low)
                elif self.peek() == "-" and self.peek(1) not in ("]", "", "["):
                    self.pos += 1
                    high = self.class_member()
                    if not isinstance(high, int) or high < low:
                        self.fail("Illegal character range")
                    members.append(((low, high),))
                else:
                    members.append(((low, low),))
        if members or others:
            operands.append((members, others))
        if len(operands) == 1 and not operands[0][1]:
            plain = operands[0][0]
            return (None if negated else plain), _class_text(negated, plain)
        unions = []
        for plain, nested in operands:
            texts = ([_class_text(False, plain)] if plain else []) + nested
            unions.append(texts[0] if len(texts) == 1 else "(?:%s)" % "|".join(texts))
        if not unions:
            return None, "[^\\s\\S]" if not negated else "[\\s\\S]"
        text = unions[-1] if len(unions) == 1 else "(?:%s%s)" % (
            "".join("(?=%s)" % u for u in unions[:-1]), unions[-1])
        return None, ("(?:(?!%s)[\\s\\S])" % text) if negated else text

    def class_member(self):
        """One member of a class: a code point (int, may start a range), or a predefined class."""
        c = self.take()
        if c != "\\":
            return ord(c)
        c = self.peek()
        if c == "b":
            self.fail("Illegal/unsupported escape sequence")
        if c in _SHORTHANDS or c in _WHITESPACE or c in ("p", "P"):
            return self.class_escape()
        self.pos += 1
        return ord(self.char_escape(c))


_QUANTIFIER = re.compile(r"\{(\d+)(,(\d*))?\}")
_INLINE_FLAGS = re.compile(r"([idmsuxU]*)(?:-([idmsuxU]*))?([:)])")
_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9]*")
_FLAGS = {"i": "i", "m": "m", "s": "s", "d": None}  # d (UNIX_LINES) is what Python does anyway
_UNSUPPORTED_FLAGS = {"x": "COMMENTS", "u": "UNICODE_CASE", "U": "UNICODE_CHARACTER_CLASS"}
_ANCHORS = {"z": "\\Z", "Z": "(?=%s?\\Z)" % _LINEBREAK, "A": "\\A", "b": "\\b", "B": "\\B",
            "R": _LINEBREAK}
_SHORTHANDS = ("d", "D", "w", "W", "s", "S")
_WHITESPACE = {"h": _HORIZONTAL, "H": _HORIZONTAL, "v": _VERTICAL, "V": _VERTICAL}
_CONTROL = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "a": "\a", "e": "\x1b"}
_OCTAL = "01234567"
_HEX = "0123456789abcdefABCDEF"


def _scoped(on: frozenset, off: frozenset) -> str:
    return "(?%s%s:" % ("".join(sorted(on)), "-" + "".join(sorted(off)) if off else "")


def _class_text(negated: bool, members: list) -> str:
    parts = []
    for member in members:
        if isinstance(member, str):
            parts.append(member)
            continue
        for low, high in member:
            parts.append(_char(low) if low == high else "%s-%s" % (_char(low), _char(high)))
    return "[%s%s]" % ("^" if negated else "", "".join(parts))


def _char(code: int) -> str:
    if code < 0x80 and chr(code).isalnum():
        return chr(code)
    if code < 0x100:
        return "\\x%02x" % code
    return "\\u%04x" % code if code < 0x10000 else "\\U%08x" % code


def _negate(ranges) -> tuple:
    result, start = [], 0
    for low, high in sorted(ranges):
        if low > start:
            result.append((start, low - 1))
        start = max(start, high + 1)
    if start <= _MAX:
        result.append((start, _MAX))
    return tuple(result)


@functools.lru_cache(maxsize=None)
def _category(name: str) -> tuple:
    """Code point ranges of a Unicode general category (``L`` or ``Lu``), from Python's Unicode
    tables (Java's may be of another Unicode version)."""
    ranges, start = [], None
    for code in range(_MAX + 2):
        inside = code <= _MAX and unicodedata.category(chr(code)).startswith(name)
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            ranges.append((start, code - 1))
            start = None
    return tuple(ranges)


class Replacement:
    """A Java replacement string (``Matcher.replaceFirst``) for matches of one pattern.

    ``$n`` and ``${name}`` insert a group (nothing if it did not take part in the match); as in Java,
    ``$12`` is group 12 only if the pattern has that many groups, else group 1 and a ``2``; a
    backslash takes the next character literally.

    Args:
      replacement: The replacement as configured.
      pattern: The compiled pattern whose matches it replaces.
      key: The config key, as errors name it.

    Raises:
      ConfigError: The replacement is malformed or names a group the pattern does not have (Java
        would fail on the first record that matches).
    """

    def __init__(self, replacement: str, pattern: re.Pattern, key: str):
        try:
            self.pieces = tuple(_replacement_pieces(replacement, pattern))
        except _Invalid as e:
            raise ConfigError("%s must be a valid Java replacement for its regex, got %r: %s"
                              % (key, replacement, e)) from None

    def __call__(self, match: re.Match) -> str:
        return "".join(p if isinstance(p, str) else (match.group(p) or "") for p in self.pieces)

    def expand(self, pattern: re.Pattern, text: str) -> str:
        """``Matcher.replaceFirst``: replaces the first match of ``pattern`` in ``text``."""
        return pattern.sub(self, text, count=1)


def _replacement_pieces(replacement: str, pattern: re.Pattern) -> list:
    pieces, literal, i, n = [], [], 0, len(replacement)

    def flush():
        if literal:
            pieces.append("".join(literal))
            literal.clear()

    while i < n:
        c = replacement[i]
        if c == "\\":
            i += 1
            if i == n:
                raise _Invalid("character to be escaped is missing")
            literal.append(replacement[i])
            i += 1
            continue
        if c != "$":
            literal.append(c)
            i += 1
            continue
        i += 1
        if i == n:
            raise _Invalid("Illegal group reference: group index is missing")
        if replacement[i] == "{":
            match = re.compile(r"[a-zA-Z0-9]*").match(replacement, i + 1)
            name, i = match.group(0), match.end()
            if not name:
                raise _Invalid("named capturing group has 0 length name")
            if i == n or replacement[i] != "}":
                raise _Invalid("named capturing group is missing trailing '}'")
            if name[0].isdigit():
                raise _Invalid("capturing group name {%s} starts with digit character" % name)
            if name not in pattern.groupindex:
                raise _Invalid("No group with name {%s}" % name)
            i += 1
            flush()
            pieces.append(pattern.groupindex[name])
            continue
        if not replacement[i].isdigit() or not replacement[i].isascii():
            raise _Invalid("Illegal group reference")
        number = int(replacement[i])
        i += 1
        while i < n and replacement[i].isascii() and replacement[i].isdigit() and \
                number * 10 + int(replacement[i]) <= pattern.groups:
            number = number * 10 + int(replacement[i])
            i += 1
        if number > pattern.groups:
            raise _Invalid("No group %d" % number)
        flush()
        pieces.append(number)
    flush()
    return pieces
