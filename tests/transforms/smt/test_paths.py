"""Unit tests of field paths (``transforms.smt.paths``), after Connect's FieldPathNotationTest and
SingleFieldPathTest."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from common.errors import ConfigError, DataError
from transforms.schema import connect_field
from transforms.smt.paths import V1, V2, FieldPath, PathError, parse_steps


@pytest.mark.parametrize("text", ["foo.bar.baz", "foo`bar`", "foo.`bar.baz`"])
def test_v1_is_one_step_whatever_it_holds(text):
    # FieldPathNotationTest.shouldBuildV1WithDotsAndBacktickPair
    assert parse_steps(text, V1) == (text,)
    assert parse_steps(text) == (text,)


@pytest.mark.parametrize("text, steps", [
    # FieldPathNotationTest, case by case
    ("", ()),
    ("foobarbaz", ("foobarbaz",)),
    ("foo.bar.baz", ("foo", "bar", "baz")),
    ("..", ("", "", "")),
    ("foo..", ("foo", "", "")),
    (".bar.", ("", "bar", "")),
    ("..baz", ("", "", "baz")),
    ("foo`bar`baz", ("foo`bar`baz",)),
    ("`foo.bar.baz`", ("foo.bar.baz",)),
    ("foo.`bar.baz`", ("foo", "bar.baz")),
    ("`foo.bar`.baz", ("foo.bar", "baz")),
    ("foo.`bar`.baz", ("foo", "bar", "baz")),
    ("foo.``bar.baz`", ("foo", "`bar.baz")),
    ("foo.`bar.baz``", ("foo", "bar.baz`")),
    ("foo.`ba`r.baz`", ("foo", "ba`r.baz")),
    ("foo.ba`r.baz", ("foo", "ba`r", "baz")),
    ("foo.``bar``.baz", ("foo", "`bar`", "baz")),
    ("``foo.bar.baz``", ("`foo.bar.baz`",)),
    ("foo.`bar\\`.baz`", ("foo", "bar`.baz")),
    ("foo.`bar.`baz`", ("foo", "bar.`baz")),
    ("foo.`bar\\`.`baz`", ("foo", "bar`.`baz")),
    ("foo.`bar\\\\`.\\`baz`", ("foo", "bar\\`.\\`baz")),
])
def test_v2_steps(text, steps):
    assert parse_steps(text, V2) == steps


@pytest.mark.parametrize("text, position", [
    ("`foo.bar.baz", 0), ("foo.`bar.baz", 4), ("foo.bar.`baz", 8), ("foo.bar.`baz\\`", 8)])
def test_v2_open_backtick_pair_is_connects_error(text, position):
    # FieldPathNotationTest.shouldFailV2WhenIncompleteBackticks
    message = ("Incomplete backtick pair in path: [%s], consider adding a backslash before backtick "
               "at position %d to escape it" % (text, position))
    with pytest.raises(PathError, match="^" + re.escape(message) + "$"):
        parse_steps(text, V2)


def test_unknown_version_is_refused():
    with pytest.raises(ValueError, match=re.escape("version must be 'V1' or 'V2', got 'V3'")):
        parse_steps("a", "V3")


def test_from_config_names_the_key():
    config = {"field": "foo.`bar", "field.syntax.version": V2}
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.x.field must be a field path with its backticks paired (Incomplete backtick "
            "pair in path: [foo.`bar], consider adding a backslash before backtick at position 4 to "
            "escape it), got 'foo.`bar'")):
        FieldPath.from_config(config, "field", "transforms.x.")
    with pytest.raises(ConfigError, match=re.escape("transforms.x.field must name a field, got ''")):
        FieldPath.from_config({"field": "", "field.syntax.version": V2}, "field", "transforms.x.")
    path = FieldPath.from_config({"field": "a.b", "field.syntax.version": V1}, "field", "p.")
    assert path.steps == ("a.b",) and str(path) == "a.b"


BAR = connect_field("bar", pa.int32(), False)
INNER = connect_field("baz", pa.struct([connect_field("inner", pa.string(), False)]), True)
FOO = connect_field("foo", pa.struct([BAR, INNER]), False)
SCHEMA = connect_field("value", pa.struct([FOO]), False)


def test_field_from_finds_nested_fields():
    # SingleFieldPathTest.shouldFindField / shouldReturnNullFieldWhenFieldNotFound
    assert FieldPath.parse("foo.bar", V2).field_from(SCHEMA).equals(BAR, check_metadata=True)
    assert FieldPath.parse("foo", V2).field_from(SCHEMA).equals(FOO)
    for text in ("un.known", "foo.unknown", "unknown"):
        assert FieldPath.parse(text, V2).field_from(SCHEMA) is None


def test_field_from_into_a_non_struct_is_connects_error():
    with pytest.raises(DataError, match=re.escape("Cannot look up fields on non-struct type")):
        FieldPath.parse("foo.bar.x", V2).field_from(SCHEMA)


def test_values_from_struct_nulls_below_null_parents():
    # SingleFieldPathTest.shouldFindValueInStruct: foo.baz is null, so foo.baz.inner reads null
    array = pa.array([{"foo": {"bar": 42, "baz": None}}, None,
                      {"foo": {"bar": 7, "baz": {"inner": "x"}}}], SCHEMA.type)
    assert FieldPath.parse("foo.bar", V2).values_from_struct(array, SCHEMA).to_pylist() == [
        42, None, 7]
    values = FieldPath.parse("foo.baz.inner", V2).values_from_struct(array, SCHEMA)
    assert values.to_pylist() == [None, None, "x"]
    assert values.type == pa.string()


def test_values_from_struct_defaults():
    # Struct.get applies defaults on the way; the last step only with_default
    inner = connect_field("n", pa.int32(), True, default=5)
    mid = connect_field("m", pa.struct([inner]), True, default={"n": 9})
    schema = connect_field("value", pa.struct([mid]), False)
    array = pa.array([{"m": None}, {"m": {"n": None}}], schema.type)
    path = FieldPath.parse("m.n", V2)
    assert path.values_from_struct(array, schema).to_pylist() == [9, 5]
    assert path.values_from_struct(array, schema, with_default=False).to_pylist() == [9, None]


def test_values_from_map():
    # SingleFieldPathTest.shouldFindValueInMap / shouldReturnNullValueWhenFieldNotFoundInMap
    array = pa.array([{"foo": {"bar": 42, "baz": None}}, None, {"foo": None}])
    values, failures = FieldPath.parse("foo.bar", V2).values_from_map(array)
    assert values.to_pylist() == [42, None, None] and failures == []
    for text in ("un.known", "foo.unknown", "unknown", "foo.baz.inner"):
        values, failures = FieldPath.parse(text, V2).values_from_map(array)
        assert values.to_pylist() == [None, None, None] and failures == []


def test_values_from_map_fails_steps_into_non_maps():
    array = pa.array([{"a": 5}, {"a": None}, {"a": 6}])
    values, failures = FieldPath.parse("a.b", V2).values_from_map(array)
    assert values.to_pylist() == [None, None, None]
    assert [i for i, _ in failures] == [0, 2]
    assert str(failures[0][1]) == ("Only Map objects supported in absence of schema for "
                                   "[nested field access], found: java.lang.Long")
