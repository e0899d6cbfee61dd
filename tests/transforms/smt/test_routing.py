"""Unit tests of RegexRouter (``transforms.smt.routing``), after Connect's ``RegexRouterTest``."""

from __future__ import annotations

import pickle
import re

import pyarrow as pa
import pytest

from common.errors import ConfigError
from tests.transforms.smt.bundles import bundle
from transforms.smt.registry import TRANSFORMATIONS
from transforms.smt.routing import RegexRouter


def router(regex, replacement, alias="route"):
    return RegexRouter(alias, {"regex": regex, "replacement": replacement})


def routed(regex, replacement, topic):
    result = router(regex, replacement).apply(bundle([{"a": 1}], topic=topic))
    return result.bundle.topic_of(0)


@pytest.mark.parametrize("regex,replacement,topic,expected", [
    ("foo", "bar", "foo", "bar"),  # staticReplacement
    ("foo", "bar", "orig", "orig"),  # doesntMatch
    ("(.*)", "$1", "orig", "orig"),  # identity
    ("(.*)", "prefix-$1", "orig", "prefix-orig"),  # addPrefix
    ("(.*)", "$1-suffix", "orig", "orig-suffix"),  # addSuffix
    ("(.*)-(\\d\\d\\d\\d\\d\\d\\d\\d)", "$1", "index-20160117", "index"),  # slice
])
def test_connect_cases(regex, replacement, topic, expected):
    assert routed(regex, replacement, topic) == expected


def test_the_whole_name_must_match():
    assert routed("orders", "x", "orders-eu") == "orders-eu"
    assert routed("orders.*", "x", "orders-eu") == "x"


def test_replace_first_replaces_the_first_match_not_the_whole_name():
    # Java: "ab".matches("a|ab") is true, and replaceFirst then finds "a" first
    assert routed("a|ab", "X", "ab") == "Xb"


def test_named_groups_and_dollar_escapes():
    assert routed("(?<env>[a-z]+)\\.(?<name>.+)", "${name}-${env}", "prod.orders") == "orders-prod"
    assert routed("(.*)", "\\$$1", "orders") == "$orders"


def test_sets_target_topics_and_leaves_the_rest():
    source = bundle([{"a": 1}, {"a": 2}], keys=["k1", "k2"], topic="orders",
                    headers=[[("h", b"1")], None])
    result = router("orders", "sales").apply(source)
    out = result.bundle
    assert out.topics == ["sales", "sales"]
    assert out.topic == "orders" and out.partition == 0 and out.offsets == [0, 1]
    assert out.values.equals(source.values) and out.keys.equals(source.keys)
    assert out.headers == [[("h", b"1")], None]
    assert result.failures == () and result.dropped == 0


def test_no_match_leaves_the_bundle_as_it_is():
    source = bundle([{"a": 1}], topic="orders")
    assert router("payments", "x").apply(source).bundle is source


def test_routes_each_record_from_its_current_target_topic():
    source = bundle([{"a": 1}, {"a": 2}, {"a": 3}], topic="orders")
    source.topics = ["orders", "eu.orders", "us.payments"]
    result = router("(eu|us)\\.(.*)", "$2-$1").apply(source)
    assert result.bundle.topics == ["orders", "orders-eu", "payments-us"]
    assert source.topics == ["orders", "eu.orders", "us.payments"]


def test_routers_chain():
    source = bundle([{"a": 1}], topic="orders")
    first = router("(.*)", "$1-v2", "a").apply(source).bundle
    second = router("(.*)-v2", "archive.$1", "b").apply(first).bundle
    assert second.topics == ["archive.orders"]


def test_empty_replacement_is_allowed():
    assert routed("(.*)", "", "orders") == ""


@pytest.mark.parametrize("props,message", [
    ({"replacement": "x"}, "transforms.route.regex is required"),
    ({"regex": "x"}, "transforms.route.replacement is required"),
    ({"regex": "[", "replacement": "x"},
     "transforms.route.regex must be a valid Java regular expression, got '[': "
     "Unclosed character class near index 0"),
    ({"regex": "(a)", "replacement": "$2"},
     "transforms.route.replacement must be a valid Java replacement for its regex, got '$2': "
     "No group 2"),
    ({"regex": "a", "replacement": "b", "regexp": "c"},
     "unknown key 'transforms.route.regexp' for this transform 'route' (RegexRouter); "
     "did you mean 'transforms.route.regex'?"),
])
def test_config_errors(props, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        RegexRouter("route", props)


def test_registered_under_connect_names():
    assert TRANSFORMATIONS["org.apache.kafka.connect.transforms.RegexRouter"] == (RegexRouter, None)
    assert TRANSFORMATIONS["RegexRouter"] == (RegexRouter, None)


def test_pickles():
    copy = pickle.loads(pickle.dumps(router("(.*)", "x-$1")))
    assert copy.apply(bundle([{"a": 1}])).bundle.topics == ["x-orders"]


def test_schemaful_bundle_keeps_its_schema():
    schema = pa.field("v", pa.struct([pa.field("a", pa.int64())]))
    source = bundle([{"a": 1}], schema)
    assert router("orders", "x").apply(source).bundle.value_schema is schema
