"""Unit tests of the Java regex and replacement translation (``transforms.smt.javaregex``).

Every expected result below is what ``java.util.regex`` gives: ``Pattern.compile(regex)``, then
``matcher(topic).matches()`` and ``replaceFirst(replacement)``, as RegexRouter does.
"""

from __future__ import annotations

import pickle
import re

import pytest

from common.errors import ConfigError
from transforms.smt.javaregex import Replacement, compile_pattern, translate

NO_MATCH = None

# (regex, replacement, topic, Java's result or NO_MATCH)
JAVA_CASES = [
    ("(.*)", "prefix-$1", "orig", "prefix-orig"),
    # replaceFirst replaces the first match from the start, not the whole-name match
    ("a|ab", "X", "ab", "Xb"),
    ("(a|ab)(c|bcd)(d*)", "[$1,$2,$3]", "abcd", "[a,bcd,]"),
    ("a*", "X", "aaa", "X"),
    ("(a*)(b*)", "$2$1", "aabb", "bbaa"),
    # named groups and ${name}
    ("(?<name>[a-z]+)\\.(?<rest>.*)", "${rest}_${name}", "name.rest", "rest_name"),
    ("(?<y>\\d{4})(?<m>\\d{2})", "${m}/${y}", "202401", "01/2024"),
    # escapes in the replacement; a group that took no part inserts nothing
    ("(\\w+)-(\\w+)", "$2\\$$1", "abc-def", "def$abc"),
    ("(.*)", "\\\\$1", "orig", "\\orig"),
    ("(a)(b)?", "<$2>", "a", "<>"),
    # $10 with one group is group 1 and a 0
    ("([a-z]+)(\\d+)", "$10", "abc123", "abc0"),
    # inline flags: to the end of the group, across |
    ("(?i)ORDERS(.*)", "o$1", "orders-v1", "o-v1"),
    ("orders(?i)-V(\\d)", "v$1", "orders-v1", "v1"),
    ("orders(?i)-V(\\d)", "v$1", "ORDERS-v1", NO_MATCH),
    ("x(?i)a|B", "Y", "b", "Y"),
    ("x(?i)a|B", "Y", "xA", "Y"),
    ("(?i:A)|b", "Y", "B", NO_MATCH),
    ("(?i)a(?-i)B|c", "x", "AB", "x"),
    ("(?i)a(?-i)B|c", "x", "Ab", NO_MATCH),
    ("(?i)a(?-i)B|c", "x", "C", NO_MATCH),
    # quoting, classes, unions, intersections
    ("\\Qa.b\\E.*", "Q", "a.bzzz", "Q"),
    ("\\Qa.b\\E.*", "Q", "axbzzz", NO_MATCH),
    ("[a[bc]]+", "N", "abc", "N"),
    ("[\\w&&[^_]]+", "I", "ab_c", NO_MATCH),
    ("[\\w&&[^_]]+", "I", "abc", "I"),
    ("[a-z&&[^aeiou]]+", "C", "bcd", "C"),
    ("[a-z&&[^aeiou]]+", "C", "bad", NO_MATCH),
    ("[^a[^b]]", "Y", "b", "Y"),
    ("[^a[^b]]", "Y", "a", NO_MATCH),
    ("[]a]+", "K", "]a]", "K"),
    ("[^]a]+", "K", "bcd", "K"),
    ("[a-c-e]+", "R", "b-e", "R"),
    ("[\\d-z]+", "D", "1-z", "D"),
    ("[\\x41-\\x5a]+", "R", "ABC", "R"),
    ("\\x61\\u0062\\0143", "H", "abc", "H"),
    # POSIX classes are ASCII; Unicode categories
    ("\\p{Lower}+", "L", "abc", "L"),
    ("\\p{Lower}+", "L", "aBc", NO_MATCH),
    ("\\p{L}+\\d", "U", "abc9", "U"),
    ("\\h*a.*", "h", "abc", "h"),
    # possessive and atomic
    ("a{2,}+a", "P", "aaa", NO_MATCH),
    ("(?>a+)b", "A", "aab", "A"),
    # back references, anchors, look-behind
    ("(x)\\1+", "B", "xxx", "B"),
    ("a.*\\z", "z", "abc", "z"),
    ("(?<=a)b.*", "LB", "abc", NO_MATCH),
]


def route(regex, replacement, topic):
    pattern = compile_pattern(regex, "transforms.r.regex")
    if pattern.fullmatch(topic) is None:
        return NO_MATCH
    return Replacement(replacement, pattern, "transforms.r.replacement").expand(pattern, topic)


@pytest.mark.parametrize("regex,replacement,topic,expected", JAVA_CASES)
def test_matches_and_replaces_as_java_does(regex, replacement, topic, expected):
    assert route(regex, replacement, topic) == expected


@pytest.mark.parametrize("java,python", [
    ("foo", "foo"),
    ("(?<n>x)\\k<n>", "(?P<n>x)(?P=n)"),
    ("a(?i)b|c", "a(?i:b)|(?i:c)"),
    ("(a(?s)b)c", "(a(?s:b))c"),
    ("[a[bc]]", "[abc]"),
    ("\\Qa.b\\E*", "a\\.b*"),
    ("\\p{Digit}", "[0-9]"),
    ("(a)\\11", "(a)(?:\\1)1"),
    ("a\\z", "a\\Z"),
])
def test_translation(java, python):
    assert translate(java) == python


def test_shorthand_classes_are_ascii_as_in_java():
    pattern = compile_pattern("\\w+", "k")
    assert pattern.fullmatch("abc_1")
    assert pattern.fullmatch("é") is None
    assert compile_pattern("(?i)é", "k").fullmatch("É") is None  # no UNICODE_CASE


@pytest.mark.parametrize("regex,reason", [
    ("[", "Unclosed character class near index 0"),
    ("a{b", "Illegal repetition near index 1"),
    ("{a", "Illegal repetition near index 0"),
    ("x{3,2}", "Illegal repetition range near index 1"),
    ("*a", "Dangling meta character '*' near index 0"),
    ("a**", "Dangling meta character '*' near index 2"),
    ("ab)", "Unmatched closing ')' near index 2"),
    ("(ab", "Unclosed group near index 3"),
    ("\\y", "Illegal/unsupported escape sequence near index 1"),
    ("a\\E", "Illegal/unsupported escape sequence near index 2"),
    ("[\\b]", "Illegal/unsupported escape sequence near index 2"),
    ("\\0", "Illegal octal escape sequence near index 2"),
    ("\\xZ", "Illegal hexadecimal escape sequence near index 2"),
    ("[z-a]", "Illegal character range near index 4"),
    ("(?P<n>a)", "Unknown inline modifier near index 2"),
    ("(?#note)", "Unknown inline modifier near index 2"),
    ("(?<my_name>a)", "named capturing group is missing trailing '>' near index 5"),
    ("(?<1a>x)", "capturing group name does not start with a Latin letter near index 3"),
    ("(?<a>x)(?<a>y)", "Named capturing group <a> is already defined near index 12"),
    ("\\k<b>(?<b>x)", "named capturing group <b> does not exist near index 5"),
])
def test_what_java_rejects_is_a_config_error(regex, reason):
    """Java's reasons; the index is where the translation stopped, which may differ from Java's."""
    message = "transforms.r.regex must be a valid Java regular expression, got %r: %s" % (regex, reason)
    with pytest.raises(ConfigError, match=re.escape(message)):
        compile_pattern(regex, "transforms.r.regex")


@pytest.mark.parametrize("regex,construct", [
    ("(?x)a b", "the inline flag (?x) (COMMENTS)"),
    ("(?iu)a", "the inline flag (?u) (UNICODE_CASE)"),
    ("(?U)\\w", "the inline flag (?U) (UNICODE_CHARACTER_CLASS)"),
    ("\\p{IsLatin}", "the character property \\p{IsLatin}"),
    ("\\p{javaLowerCase}", "the character property \\p{javaLowerCase}"),
    ("\\Ga", "\\G"),
    ("\\X", "\\X"),
    ("\\b{g}", "\\b{g} (grapheme boundaries)"),
    ("\\2(a)(b)", "back references to a group that has not closed (\\2)"),
    ("(a\\1)", "back references to a group that has not closed (\\1)"),
])
def test_java_constructs_without_python_equivalent_are_named(regex, construct):
    message = ("transforms.r.regex must be a Java regular expression without %s (no Python "
               "equivalent), got %r" % (construct, regex))
    with pytest.raises(ConfigError, match=re.escape(message)):
        compile_pattern(regex, "transforms.r.regex")


def test_what_python_cannot_run_says_so():
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.r.regex must be a Java regular expression that Python's re can run, "
            "got '(?<=a|bc)d': look-behind requires fixed-width pattern")):
        compile_pattern("(?<=a|bc)d", "transforms.r.regex")


@pytest.mark.parametrize("replacement,reason", [
    ("$2", "No group 2"),
    ("${x}", "No group with name {x}"),
    ("${}", "named capturing group has 0 length name"),
    ("${a", "named capturing group is missing trailing '}'"),
    ("${1a}", "capturing group name {1a} starts with digit character"),
    ("$a", "Illegal group reference"),
    ("a$", "Illegal group reference: group index is missing"),
    ("a\\", "character to be escaped is missing"),
])
def test_replacement_errors_are_java_s(replacement, reason):
    pattern = compile_pattern("(a)", "transforms.r.regex")
    message = ("transforms.r.replacement must be a valid Java replacement for its regex, got %r: %s"
               % (replacement, reason))
    with pytest.raises(ConfigError, match=re.escape(message)):
        Replacement(replacement, pattern, "transforms.r.replacement")


def test_compiled_pattern_and_replacement_pickle():
    pattern = compile_pattern("(?<p>[a-z]+)-(\\d+)", "k")
    replacement = Replacement("${p}_$2", pattern, "r")
    pattern, replacement = pickle.loads(pickle.dumps((pattern, replacement)))
    assert replacement.expand(pattern, "orders-7") == "orders_7"
