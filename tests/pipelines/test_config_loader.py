"""Tests of reading connector config files: Java properties, Connect REST JSON and flat JSON."""

import json
import re

import pytest

from pipelines.config import ConfigError, load_config, parse_properties


def write(tmp_path, text, name="connector.conf", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


# Properties syntax.

def test_separators():
    text = "a=1\nb:2\nc 3\nd = 4\ne : 5\nf\t6\ng  =  7\n"
    assert parse_properties(text) == {
        "a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6", "g": "7"}


def test_first_separator_wins_and_later_ones_are_value():
    assert parse_properties("url=jdbc:postgresql://h:5432/db?a=b\nx = = y\nk : =v\n") == {
        "url": "jdbc:postgresql://h:5432/db?a=b", "x": "= y", "k": "=v"}


def test_key_without_value():
    assert parse_properties("empty\nempty2=\nempty3   \n") == {"empty": "", "empty2": "", "empty3": ""}


def test_comments_and_blank_lines():
    text = "# comment\n! bang comment\n   # indented comment\n\n   \nkey=value # not a comment\n"
    assert parse_properties(text) == {"key": "value # not a comment"}


def test_whitespace_as_java_trims_it():
    assert parse_properties("  \t key   =   spaced value   \n") == {"key": "spaced value   "}


def test_continuation_drops_leading_whitespace_of_next_line():
    text = "topics=a,\\\n     b,\\\n\tc\nnext=1\n"
    assert parse_properties(text) == {"topics": "a,b,c", "next": "1"}


def test_continuation_keeps_a_comment_marker_as_content():
    assert parse_properties("a=b\\\n# not a comment\n") == {"a": "b# not a comment"}


def test_continuation_ended_by_blank_line():
    assert parse_properties("a=b\\\n\nc=d\n") == {"a": "b", "c": "d"}


def test_even_backslashes_do_not_continue():
    assert parse_properties("path=C:\\\\dir\\\\\nnext=1\n") == {"path": "C:\\dir\\", "next": "1"}


def test_continuation_at_end_of_file():
    assert parse_properties("a=b\\") == {"a": "b"}
    assert parse_properties("a=b\\\n") == {"a": "b"}


def test_line_of_only_a_backslash_as_java_reads_it():
    assert parse_properties("a=1\n\\\n\n  b=2\n") == {"a": "1", "b": "2"}
    assert parse_properties("a=1\n\\") == {"a": "1", "": ""}
    assert parse_properties("a=1\n\\\n# comment after an empty continuation\n") == {"a": "1"}


def test_line_endings():
    assert parse_properties("a=1\r\nb=2\rc=3\\\r\n  4\n") == {"a": "1", "b": "2", "c": "34"}


def test_escapes():
    text = "tab=a\\tb\nnl=a\\nb\ncr=a\\rb\nff=a\\fb\nbs=a\\\\b\nother=\\q\\#\n"
    assert parse_properties(text) == {"tab": "a\tb", "nl": "a\nb", "cr": "a\rb", "ff": "a\fb",
                                      "bs": "a\\b", "other": "q#"}


def test_escaped_separators_in_keys():
    text = "key\\=with\\:seps\\ and\\ space = v\\=1\n"
    assert parse_properties(text) == {"key=with:seps and space": "v=1"}


def test_escaped_leading_space_in_value():
    assert parse_properties("a=\\  padded\n") == {"a": "  padded"}


def test_unicode_escapes():
    text = "e=caf\\u00e9\nemoji=\\uD83D\\uDE00\nkey\\u0041=\\u0041BC\nraw=naïve ☃\n"
    assert parse_properties(text) == {"e": "café", "emoji": "😀", "keyA": "ABC", "raw": "naïve ☃"}


@pytest.mark.parametrize("text, message", [
    ("a=1\nb=\\u12G4\n", "line 2: malformed \\uXXXX escape '\\u12G4'"),
    ("a=1\n\nb=x\\u12", "line 3: malformed \\uXXXX escape '\\u12'"),
    ("a=\\uD83D\n", "line 1: unpaired UTF-16 surrogate"),
])
def test_malformed_unicode_escape(text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_properties(text)


def test_last_value_of_a_repeated_key_wins():
    assert parse_properties("a=1\na=2\n") == {"a": "2"}


def test_empty_text():
    assert parse_properties("") == {} and parse_properties("\n# only\n") == {}


# Files.

def test_load_properties_file(tmp_path):
    text = "name=files-sink\nconnector.class=files\nflush.size=1000\n"
    path = write(tmp_path, text, "sink.properties")
    assert load_config(path) == {"name": "files-sink", "connector.class": "files", "flush.size": "1000"}
    assert load_config(str(path)) == load_config(path)


def test_format_is_told_by_content_not_extension(tmp_path):
    assert load_config(write(tmp_path, '  \n {"a": "1"}', "conf.properties")) == {"a": "1"}
    assert load_config(write(tmp_path, "a=1\n", "conf.json")) == {"a": "1"}


def test_utf8_bom_is_skipped(tmp_path):
    assert load_config(write(tmp_path, '\ufeff{"a": "1"}')) == {"a": "1"}


def test_missing_file(tmp_path):
    path = tmp_path / "nope.properties"
    with pytest.raises(ConfigError, match=re.escape("config file %r does not exist" % str(path))):
        load_config(path)


def test_directory_is_not_a_config(tmp_path):
    with pytest.raises(ConfigError, match=re.escape("config file %r cannot be read" % str(tmp_path))):
        load_config(tmp_path)


def test_not_utf8(tmp_path):
    path = write(tmp_path, "a=caf\xe9\n", encoding="latin-1")
    with pytest.raises(ConfigError, match=re.escape(
            "config file %r is not UTF-8 text: byte 0xe9 at offset 5" % str(path))):
        load_config(path)


def test_properties_error_names_file(tmp_path):
    path = write(tmp_path, "a=\\uZZZZ\n")
    with pytest.raises(ConfigError, match=re.escape(
            "config file %r: line 1: malformed \\uXXXX escape '\\uZZZZ'" % str(path))):
        load_config(path)


# JSON.

def test_flat_json(tmp_path):
    path = write(tmp_path, json.dumps({"name": "s", "connector.class": "files", "topics": "a,b"}))
    assert load_config(path) == {"name": "s", "connector.class": "files", "topics": "a,b"}


def test_json_values_become_connect_strings(tmp_path):
    text = ('{"flush.size": 1000, "ratio": 0.5, "big": 1e3, "neg": -2, "on": true, "off": false, '
            '"topics": ["a", "b"], "mixed": ["x", 1, true], "none": []}')
    assert load_config(write(tmp_path, text)) == {
        "flush.size": "1000", "ratio": "0.5", "big": "1e3", "neg": "-2", "on": "true", "off": "false",
        "topics": "a,b", "mixed": "x,1,true", "none": ""}


def test_rest_json(tmp_path):
    text = json.dumps({"name": "files-sink", "config": {"connector.class": "files", "tasks.max": 1}})
    assert load_config(write(tmp_path, text)) == {
        "connector.class": "files", "tasks.max": "1", "name": "files-sink"}


def test_rest_json_same_name_twice(tmp_path):
    text = json.dumps({"name": "s", "config": {"name": "s", "connector.class": "files"}})
    assert load_config(write(tmp_path, text)) == {"name": "s", "connector.class": "files"}


def test_rest_json_without_outer_name(tmp_path):
    assert load_config(write(tmp_path, '{"config": {"a": "1"}}')) == {"a": "1"}


def test_rest_json_from_get_connector_response(tmp_path):
    text = json.dumps({"name": "s", "config": {"a": "1"}, "tasks": [{"connector": "s", "task": 0}],
                       "type": "sink"})
    assert load_config(write(tmp_path, text)) == {"a": "1", "name": "s"}


def test_rest_json_name_conflict(tmp_path):
    path = write(tmp_path, json.dumps({"name": "outer", "config": {"name": "inner"}}))
    with pytest.raises(ConfigError, match=re.escape(
            "config file %r: name 'outer' and config's name 'inner' differ" % str(path))):
        load_config(path)


def test_rest_json_with_stray_top_level_key(tmp_path):
    path = write(tmp_path, json.dumps({"name": "s", "config": {}, "flush.size": 3}))
    with pytest.raises(ConfigError, match=re.escape("unexpected key 'flush.size' beside 'config'")):
        load_config(path)


@pytest.mark.parametrize("text, message", [
    ('{"a": {"b": "c"}}', "a is a JSON object; a value must be a string, number, boolean or a list"),
    ('{"config": {"a": {"b": 1}}}', "a is a JSON object"),
    ('{"a": null}', "a is null; give a value or leave the key out"),
    ('{"topics": ["x", null]}', "topics holds null in its list"),
    ('{"topics": ["x", ["y"]]}', "topics holds a JSON list in its list"),
    ('{"topics": ["x", {"y": 1}]}', "topics holds a JSON object in its list"),
    ('{"topics": ["x,y"]}', "topics holds 'x,y' in its list; an item with a comma would be read as two"),
    ('{"ratio": NaN}', "ratio is NaN, which is not valid JSON"),
    ('{"a": "1", "a": "2"}', "key 'a' appears twice in one JSON object"),
])
def test_json_value_errors(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=re.escape("config file %r: %s" % (str(path), message))):
        load_config(path)


def test_invalid_json_names_line_and_column(tmp_path):
    path = write(tmp_path, '{\n  "a": "1",\n  "b" "2"\n}\n')
    with pytest.raises(ConfigError, match=re.escape(
            "config file %r: invalid JSON at line 3, column 7: Expecting ':' delimiter" % str(path))):
        load_config(path)


def test_json_list_is_not_a_config(tmp_path):
    path = write(tmp_path, ' ["files-sink"]')
    with pytest.raises(ConfigError, match=re.escape(
            "config file %r: holds a JSON list; a config is a JSON object or a properties file"
            % str(path))):
        load_config(path)
