"""Unit tests of the predicates (``transforms.smt.predicates``), after Connect's
``TopicNameMatchesTest`` and ``HasHeaderKeyTest``."""

from __future__ import annotations

import pickle
import re

import pyarrow as pa
import pytest

from common.errors import ConfigError
from tests.transforms.smt.bundles import bundle
from transforms.smt.predicates import (
    PREDICATES, HasHeaderKey, RecordIsTombstone, TopicNameMatches)


def on_topics(*topics):
    source = bundle([{"a": i} for i in range(len(topics))], topic=topics[0])
    source.topics = list(topics)
    return source


def test_topic_name_matches_the_whole_name():
    predicate = TopicNameMatches("p", {"pattern": "my-prefix-.*"})
    topics = ["my-prefix-", "my-prefix-foo", "x-my-prefix-", "x-my-prefix-foo", "your-prefix-",
              "your-prefix-foo"]
    assert list(predicate.test(on_topics(*topics))) == [True, True, False, False, False, False]


def test_topic_name_matches_the_source_topic_when_nothing_was_routed():
    predicate = TopicNameMatches("p", {"pattern": "orders|payments"})
    assert list(predicate.test(bundle([{"a": 1}, {"a": 2}], topic="orders"))) == [True, True]
    assert list(predicate.test(bundle([{"a": 1}], topic="orders-eu"))) == [False]


def test_topic_name_matches_takes_java_syntax():
    predicate = TopicNameMatches("p", {"pattern": "(?<env>prod|test)\\.\\p{Lower}+"})
    assert list(predicate.test(on_topics("prod.orders", "dev.orders", "test.Orders"))) == [
        True, False, False]


@pytest.mark.parametrize("props,message", [
    ({}, "predicates.p.pattern is required"),
    ({"pattern": ""}, "predicates.p.pattern must be a non-empty string, got ''"),
    ({"pattern": "["}, "predicates.p.pattern must be a valid Java regular expression, got '[': "
                       "Unclosed character class near index 0"),
    ({"pattern": "*"}, "predicates.p.pattern must be a valid Java regular expression, got '*': "
                       "Dangling meta character '*' near index 0"),
    ({"pattern": "a", "patern": "b"}, "unknown key 'predicates.p.patern' for this predicate 'p' "
                                      "(TopicNameMatches); did you mean 'predicates.p.pattern'?"),
])
def test_topic_name_matches_config_errors(props, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        TopicNameMatches("p", props)


def test_has_header_key():
    predicate = HasHeaderKey("p", {"name": "foo"})
    headers = [
        [("foo", b"")], [("foo", b""), ("bar", b"")],
        [("bar", b""), ("foo", b""), ("bar", b""), ("foo", b"")],
        [("bar", b"")], [("bar", b""), ("bar", b"")], [], None, [("Foo", b"")], [("foo", None)],
    ]
    source = bundle([{"a": 1}] * len(headers), headers=headers)
    assert list(predicate.test(source)) == [True, True, True, False, False, False, False, False, True]


@pytest.mark.parametrize("props,message", [
    ({}, "predicates.p.name is required"),
    ({"name": ""}, "predicates.p.name must be a non-empty string, got ''"),
])
def test_has_header_key_config_errors(props, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        HasHeaderKey("p", props)


def test_record_is_tombstone():
    predicate = RecordIsTombstone("p", {})
    assert list(predicate.test(bundle([{"a": 1}, None, {"a": 2}, None]))) == [False, True, False, True]
    schema = pa.field("v", pa.string())
    assert list(predicate.test(bundle(["x", None, ""], schema))) == [False, True, False]
    assert list(predicate.test(bundle([None, None]))) == [True, True]


def test_record_is_tombstone_looks_at_the_value_only():
    source = bundle([None, {"a": 1}], keys=["k", None])
    assert list(RecordIsTombstone("p", {}).test(source)) == [True, False]


def test_record_is_tombstone_has_no_keys():
    with pytest.raises(ConfigError, match=re.escape(
            "unknown key 'predicates.p.pattern'; known keys: (none)")):
        RecordIsTombstone("p", {"pattern": "x"})


def test_registered_under_connect_names():
    for cls in (TopicNameMatches, HasHeaderKey, RecordIsTombstone):
        assert PREDICATES["org.apache.kafka.connect.transforms.predicates." + cls.__name__] is cls
        assert PREDICATES[cls.__name__] is cls
    assert len(PREDICATES) == 6


def test_predicates_pickle():
    predicate = pickle.loads(pickle.dumps(TopicNameMatches("p", {"pattern": "a.*"})))
    assert list(predicate.test(on_topics("ab", "ba"))) == [True, False]
