"""Tests of config key definitions: parsing, errors, unknown keys and descriptions."""

import pickle
import re

import pytest

from pipelines.config import NO_DEFAULT, ConfigDef, ConfigError, ConfigKey, check_unknown
from common.configdef import Password, describe, to_connect_string

DEFN = ConfigDef([
    ConfigKey("store.url", "string", NO_DEFAULT, group="Storage"),
    ConfigKey("topics.dir", "string", "topics", regex="[a-z]+"),
    ConfigKey("format.class", "class", NO_DEFAULT, choices=("parquet", "json")),
    ConfigKey("flush.size", "int", NO_DEFAULT, min=1),
    ConfigKey("ratio", "double", 0.5, min=0, max=1),
    ConfigKey("enabled", "boolean", True),
    ConfigKey("topics", "list", ()),
    ConfigKey("secret", "password", None),
    ConfigKey("optional", "string", None),
])
REQUIRED = {"store.url": "/tmp/out", "format.class": "parquet", "flush.size": "3"}


def parse(**overrides):
    raw = {**REQUIRED, **{k.replace("_", "."): v for k, v in overrides.items()}}
    return DEFN.parse(raw)


def test_parse_fills_defaults_in_definition_order():
    values = DEFN.parse(REQUIRED)
    assert list(values) == list(DEFN.names())
    assert values == {"store.url": "/tmp/out", "topics.dir": "topics", "format.class": "parquet",
                      "flush.size": 3, "ratio": 0.5, "enabled": True, "topics": (), "secret": None,
                      "optional": None}


def test_parse_types():
    values = DEFN.parse({**REQUIRED, "flush.size": " +42 ", "ratio": "1e-1", "enabled": "FALSE",
                         "topics": " a, b ,,c ,", "store.url": "  /data  ", "secret": " s3cr3t "})
    assert values["flush.size"] == 42 and type(values["flush.size"]) is int
    assert values["ratio"] == 0.1
    assert values["enabled"] is False
    assert values["topics"] == ("a", "b", "c")
    assert values["store.url"] == "/data"
    assert values["secret"] == "s3cr3t" and isinstance(values["secret"], Password)


def test_parse_ignores_unknown_keys():
    assert "other" not in DEFN.parse({**REQUIRED, "other": "x"})


def test_parse_accepts_typed_values():
    values = DEFN.parse({**REQUIRED, "flush.size": 7, "enabled": False, "topics": ["a", "b"]})
    assert (values["flush.size"], values["enabled"], values["topics"]) == (7, False, ("a", "b"))


def test_empty_list_and_empty_optional_string():
    values = parse(topics="  ", optional="")
    assert values["topics"] == () and values["optional"] == ""


@pytest.mark.parametrize("raw, message", [
    ({"flush.size": "abc"}, "flush.size must be an integer, got 'abc'"),
    ({"flush.size": "1.5"}, "flush.size must be an integer, got '1.5'"),
    ({"flush.size": "1_000"}, "flush.size must be an integer, got '1_000'"),
    ({"flush.size": "true"}, "flush.size must be an integer, got 'true'"),
    ({"flush.size": ""}, "flush.size must be an integer, got ''"),
    ({"flush.size": True}, "flush.size must be an integer, got True"),
    ({"flush.size": "0"}, "flush.size must be at least 1, got '0'"),
    ({"ratio": "1.5"}, "ratio must be at most 1, got '1.5'"),
    ({"ratio": "-0.1"}, "ratio must be at least 0, got '-0.1'"),
    ({"ratio": "nan"}, "ratio must be a number, got 'nan'"),
    ({"ratio": "1e999"}, "ratio must be a number, got '1e999'"),
    ({"enabled": "yes"}, "enabled must be 'true' or 'false', got 'yes'"),
    ({"enabled": "1"}, "enabled must be 'true' or 'false', got '1'"),
    ({"format.class": "csv"}, "format.class must be one of 'parquet', 'json', got 'csv'"),
    ({"topics.dir": "X1"}, "topics.dir must match '[a-z]+', got 'X1'"),
])
def test_parse_errors(raw, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        DEFN.parse({**REQUIRED, **raw})


@pytest.mark.parametrize("missing", ["store.url", "format.class", "flush.size"])
def test_required_key_missing(missing):
    raw = {k: v for k, v in REQUIRED.items() if k != missing}
    with pytest.raises(ConfigError, match=re.escape("%s is required" % missing)):
        DEFN.parse(raw)


def test_choices_are_case_insensitive_and_normalised():
    assert parse(format_class=" JSON ")["format.class"] == "json"


def test_regex_is_a_full_match():
    assert parse(topics_dir="abc")["topics.dir"] == "abc"
    with pytest.raises(ConfigError, match=re.escape("topics.dir must match '[a-z]+', got 'abc1'")):
        parse(topics_dir="abc1")


def test_prefix_is_used_for_lookup_and_errors():
    defn = ConfigDef([ConfigKey("schemas.enable", "boolean", True),
                      ConfigKey("size", "int", NO_DEFAULT)])
    raw = {"value.converter.schemas.enable": "false", "value.converter.size": "2", "size": "x"}
    assert defn.parse(raw, prefix="value.converter.") == {"schemas.enable": False, "size": 2}
    with pytest.raises(ConfigError, match=re.escape("value.converter.size must be an integer, got 'x'")):
        defn.parse({"value.converter.size": "x"}, prefix="value.converter.")
    with pytest.raises(ConfigError, match=re.escape("key.converter.size is required")):
        defn.parse({"size": "1"}, prefix="key.converter.")


def test_password_is_never_shown():
    defn = ConfigDef([ConfigKey("pw", "password", "default-secret")])
    value = defn.parse({"pw": "hunter2"})["pw"]
    assert value == "hunter2" and "%s" % value == "hunter2"
    assert "hunter2" not in repr(value) and "hunter2" not in repr({"pw": value})
    assert "default-secret" not in repr(defn["pw"]) and "[hidden]" in repr(defn["pw"])
    assert pickle.loads(pickle.dumps(value)) == "hunter2"
    assert describe(defn)[0]["default"] == "[hidden]"


def test_password_hidden_in_errors():
    key = ConfigKey("pw", "password", None)
    with pytest.raises(ConfigError, match=re.escape("pw must be a string, got '[hidden]'")) as info:
        key.convert(12345)
    assert "12345" not in str(info.value)


def test_typed_defaults_are_checked_and_normalised():
    assert ConfigKey("t", "list", ["a", "b"]).default == ("a", "b")
    assert ConfigKey("d", "double", 1).default == 1.0
    assert ConfigKey("c", "class", "JSON", choices=("json",)).default == "json"


@pytest.mark.parametrize("kwargs, message", [
    (dict(type="float"), "config key 'k': type must be one of"),
    (dict(type="int", default="10"), "config key 'k': invalid default"),
    (dict(type="int", default=True), "config key 'k': invalid default"),
    (dict(type="int", default=0, min=1),
     "config key 'k': invalid default: k must be at least 1, got '0'"),
    (dict(type="string", default="x", choices=("a", "b")), "config key 'k': invalid default"),
    (dict(type="string", choices=("a", "A")), "differ other than by case"),
    (dict(type="string", choices="json"), "choices must be strings that differ other than by case"),
    (dict(type="string", choices=()), "choices must be strings that differ other than by case"),
    (dict(type="int", choices=("1",)), "choices apply to string and class keys only"),
    (dict(type="string", min=1), "min and max apply to int and double keys only"),
    (dict(type="int", min=2, max=1), "min 2 is above max 1"),
    (dict(type="list", regex="a"), "regex applies to string keys only"),
    (dict(type="string", regex="("), "regex '(' does not compile"),
])
def test_invalid_definitions(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ConfigKey("k", **kwargs)


def test_config_key_is_frozen_and_hashable():
    key = ConfigKey("k", "list", ("a",))
    with pytest.raises(AttributeError):
        key.name = "other"
    assert hash(key) == hash(ConfigKey("k", "list", ("a",)))


def test_config_def_container():
    assert "flush.size" in DEFN and "nope" not in DEFN
    assert DEFN["flush.size"].type == "int"
    assert [key.name for key in DEFN] == list(DEFN.names())
    assert DEFN.names()[:2] == ("store.url", "topics.dir")
    with pytest.raises(KeyError):
        DEFN["nope"]  # pylint: disable=pointless-statement


def test_config_def_union():
    extra = ConfigDef([ConfigKey("extra", "int", 1)])
    union = DEFN + extra
    assert union.names() == DEFN.names() + ("extra",)
    assert union.parse(REQUIRED)["extra"] == 1
    with pytest.raises(ValueError, match=re.escape("config key 'extra' is defined twice")):
        union + extra  # pylint: disable=pointless-statement


def test_duplicate_names_rejected():
    with pytest.raises(ValueError, match=re.escape("config key 'a' is defined twice")):
        ConfigDef([ConfigKey("a", "int", 1), ConfigKey("a", "string", "x")])


def test_no_default_is_one_picklable_sentinel():
    assert pickle.loads(pickle.dumps(NO_DEFAULT)) is NO_DEFAULT
    assert repr(NO_DEFAULT) == "NO_DEFAULT"
    key = ConfigKey("k", "int", NO_DEFAULT)
    assert key.required and pickle.loads(pickle.dumps(key)).required


def test_check_unknown_accepts_known_and_passthrough():
    check_unknown(["a", "b", "consumer.override.x"], ["a", "b"],
                  passthrough_prefixes=("consumer.override.",))


def test_check_unknown_did_you_mean():
    with pytest.raises(ConfigError, match=re.escape(
            "unknown key 'flush.sise' for this connector; did you mean 'flush.size'?")):
        check_unknown(["flush.size", "flush.sise"], DEFN.names())


def test_check_unknown_names_what():
    with pytest.raises(ConfigError, match=re.escape(
            "unknown key 'schemas.enabled' for this converter; did you mean 'schemas.enable'?")):
        check_unknown(["schemas.enabled"], ["schemas.enable"], what="converter")


def test_check_unknown_lists_known_keys_sorted():
    with pytest.raises(ConfigError, match=re.escape("unknown key 'foo'; known keys: a, b, c")):
        check_unknown(["foo"], ["c", "a", "b", "a"])


def test_check_unknown_reports_first_sorted_key():
    with pytest.raises(ConfigError, match=re.escape("unknown key 'aaa'")):
        check_unknown(["zzz", "aaa"], ["b"])


def test_check_unknown_mentions_passthrough_prefixes():
    with pytest.raises(ConfigError, match=re.escape(
            "unknown key 'foo'; known keys: a; and any key starting with 'x.'")):
        check_unknown(["foo"], ["a"], passthrough_prefixes=("x.",))


@pytest.mark.parametrize("value, type_, text", [
    (True, "boolean", "true"), (False, "boolean", "false"), (1000, "int", "1000"),
    (0.5, "double", "0.5"), (2, "double", "2.0"), (("a", "b"), "list", "a,b"), ((), "list", ""),
    ("x", "string", "x"), ("org.X", "class", "org.X"), (Password("p"), "password", "p"),
])
def test_to_connect_string_round_trips(value, type_, text):
    assert to_connect_string(value, type_) == text
    assert ConfigKey("k", type_).convert(text) == value


@pytest.mark.parametrize("value, type_, error", [
    ("1", "int", TypeError), (True, "int", TypeError), (1, "boolean", TypeError),
    ("a", "list", TypeError),
    (float("inf"), "double", ValueError), (("a,b",), "list", ValueError), (1, "float", ValueError),
])
def test_to_connect_string_rejects(value, type_, error):
    with pytest.raises(error):
        to_connect_string(value, type_)


def test_describe():
    rows = describe(DEFN)
    assert [row["name"] for row in rows] == list(DEFN.names())
    by_name = {row["name"]: row for row in rows}
    assert by_name["store.url"] == {
        "name": "store.url", "type": "string", "default": None, "doc": "", "required": True,
        "choices": None, "regex": None, "min": None, "max": None, "group": "Storage"}
    assert by_name["enabled"]["default"] == "true" and not by_name["enabled"]["required"]
    assert by_name["ratio"]["default"] == "0.5" and by_name["ratio"]["max"] == 1
    assert by_name["format.class"]["choices"] == ["parquet", "json"]
    assert by_name["topics.dir"]["regex"] == "[a-z]+"
    assert by_name["optional"]["default"] is None and not by_name["optional"]["required"]
