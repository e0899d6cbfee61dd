"""Unit tests of the transform chain's predicates (``transforms.smt.chain`` and ``config``).

As in Kafka Connect, a transform with ``predicate=p`` applies to the records ``p`` holds for (or,
with ``negate=true``, does not); the others pass it unchanged, and the chain keeps the bundle's
record order. Built with :func:`parse_chain` from connector keys, as users write them.
"""

from __future__ import annotations

import dataclasses
import re

import pyarrow as pa
import pytest

from common.errors import ConfigError, DataError
from tests.transforms.smt.bundles import bundle
from transforms.schema import connect_field, schema_info
from transforms.smt.base import Transformation, Transformed
from transforms.smt.config import parse_chain
from transforms.smt.filter import Filter
from transforms.smt.headers import InsertHeader


def chain(**keys):
    return parse_chain({k.replace("_", "."): v for k, v in keys.items()})


TWO_GUARDED = {
    "transforms": "a,b",
    "transforms.a.type": "InsertHeader",
    "transforms.a.header": "a",
    "transforms.a.value.literal": "A",
    "transforms.a.predicate": "p",
    "transforms.b.type": "InsertHeader",
    "transforms.b.header": "b",
    "transforms.b.value.literal": "B",
    "predicates": "p",
    "predicates.p.type": "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
    "predicates.p.name": "mark",
}


def marked(*flags):
    """Records 0..n-1, each with a ``mark`` header where its flag is true."""
    return bundle([{"n": i} for i in range(len(flags))],
                  headers=[[("mark", b"")] if flag else None for flag in flags])


def names(headers):
    return [None if h is None else [k for k, _ in h] for h in headers]


def test_predicate_selects_the_records_a_transform_applies_to():
    result = parse_chain(TWO_GUARDED).apply(marked(True, False, True, False))
    assert result.failures == () and result.dropped == 0
    out = result.bundle
    assert out.offsets == [0, 1, 2, 3]
    assert out.values.to_pylist() == [{"n": 0}, {"n": 1}, {"n": 2}, {"n": 3}]
    assert names(out.headers) == [["mark", "a", "b"], ["b"], ["mark", "a", "b"], ["b"]]


def test_negate_applies_the_transform_where_the_predicate_does_not_hold():
    result = parse_chain({**TWO_GUARDED, "transforms.a.negate": "true"}).apply(
        marked(True, False, True, False))
    assert names(result.bundle.headers) == [["mark", "b"], ["a", "b"], ["mark", "b"], ["a", "b"]]


@pytest.mark.parametrize("flags", [(True, True), (False, False)])
def test_a_predicate_that_holds_for_all_or_none(flags):
    result = parse_chain(TWO_GUARDED).apply(marked(*flags))
    expected = ["mark", "a", "b"] if flags[0] else ["b"]
    assert names(result.bundle.headers) == [expected, expected]


def test_the_predicate_sees_the_records_as_earlier_transforms_left_them():
    keys = {
        "transforms": "route,tag",
        "transforms.route.type": "RegexRouter",
        "transforms.route.regex": "orders",
        "transforms.route.replacement": "sales",
        "transforms.route.predicate": "first",
        "transforms.tag.type": "InsertHeader",
        "transforms.tag.header": "sales",
        "transforms.tag.value.literal": "yes",
        "transforms.tag.predicate": "isSales",
        "predicates": "first,isSales",
        "predicates.first.type": "HasHeaderKey",
        "predicates.first.name": "mark",
        "predicates.isSales.type": "TopicNameMatches",
        "predicates.isSales.pattern": "sales",
    }
    out = parse_chain(keys).apply(marked(True, False, True)).bundle
    assert out.topics == ["sales", "orders", "sales"]
    assert names(out.headers) == [["mark", "sales"], None, ["mark", "sales"]]


def test_filter_with_record_is_tombstone_drops_tombstones():
    keys = {
        "transforms": "dropTombstones",
        "transforms.dropTombstones.type": "org.apache.kafka.connect.transforms.Filter",
        "transforms.dropTombstones.predicate": "isTombstone",
        "predicates": "isTombstone",
        "predicates.isTombstone.type": "RecordIsTombstone",
    }
    source = bundle([{"n": 0}, None, {"n": 2}, None, {"n": 4}], keys=["k0", "k1", "k2", "k3", "k4"])
    result = parse_chain(keys).apply(source)
    assert result.dropped == 2 and result.failures == ()
    out = result.bundle
    assert out.offsets == [0, 2, 4]
    assert out.keys.to_pylist() == ["k0", "k2", "k4"]
    assert out.values.to_pylist() == [{"n": 0}, {"n": 2}, {"n": 4}]
    assert out.last_offset == 4

    kept = parse_chain({**keys, "transforms.dropTombstones.negate": "true"}).apply(source)
    assert kept.dropped == 3 and kept.bundle.offsets == [1, 3]


def test_filter_dropping_everything_leaves_no_bundle():
    result = chain(transforms="drop", transforms_drop_type="Filter").apply(marked(True, False))
    assert result.bundle is None and result.dropped == 2


class FailOdd(Transformation):
    """Fails records whose ``n`` is odd; keeps the others."""

    def apply(self, bundle):
        ns = bundle.values.field("n").to_pylist()
        failures = tuple((i, DataError("odd %d" % n)) for i, n in enumerate(ns) if n % 2)
        keep = [i for i, n in enumerate(ns) if not n % 2]
        return Transformed(bundle.take(keep) if keep else None, failures)


class AddField(Transformation):
    """Adds an int64 field ``added`` (``n * 10``) to a struct value, in its schema too if any."""

    def apply(self, bundle):
        values = bundle.values
        added = pa.array([n * 10 for n in values.field("n").to_pylist()], pa.int64())
        fields = list(values.type) + [pa.field("added", pa.int64(), False)]
        array = pa.StructArray.from_arrays([values.field(f.name) for f in values.type] + [added],
                                           fields=fields)
        schema = bundle.value_schema
        if schema is not None:
            info = schema_info(schema)
            schema = connect_field(schema.name, array.type, schema.nullable, schema_name=info.name,
                                   version=info.version)
        return Transformed(dataclasses.replace(bundle, values=array, value_schema=schema))


def with_test_transforms(monkeypatch):
    from transforms.smt import registry

    transformations = dict(registry.TRANSFORMATIONS)
    transformations["FailOdd"] = (FailOdd, None)
    transformations["AddField"] = (AddField, None)
    monkeypatch.setattr(registry, "TRANSFORMATIONS", transformations)


def test_failure_indices_refer_to_the_bundle_the_chain_was_given(monkeypatch):
    with_test_transforms(monkeypatch)
    keys = {
        "transforms": "drop,fail",
        "transforms.drop.type": "Filter",
        "transforms.drop.predicate": "isTombstone",
        "transforms.fail.type": "FailOdd",
        "transforms.fail.predicate": "marked",
        "predicates": "isTombstone,marked",
        "predicates.isTombstone.type": "RecordIsTombstone",
        "predicates.marked.type": "HasHeaderKey",
        "predicates.marked.name": "mark",
    }
    # input index:   0        1     2        3        4     5        6
    values = [{"n": 0}, None, {"n": 1}, {"n": 3}, None, {"n": 5}, {"n": 6}]
    mark = [True, True, True, False, False, True, True]
    source = bundle(values, headers=[[("mark", b"")] if m else None for m in mark])
    result = parse_chain(keys).apply(source)
    assert result.dropped == 2
    assert [(i, t.alias, str(e)) for i, t, e in result.failures] == [
        (2, "fail", "odd 1"), (5, "fail", "odd 5")]
    assert result.bundle.offsets == [0, 3, 6]  # 3 is odd but not marked: the transform skipped it


def test_a_shape_change_on_some_records_is_merged_back(monkeypatch):
    with_test_transforms(monkeypatch)
    keys = {
        "transforms": "add",
        "transforms.add.type": "AddField",
        "transforms.add.predicate": "marked",
        "predicates": "marked",
        "predicates.marked.type": "HasHeaderKey",
        "predicates.marked.name": "mark",
    }
    result = parse_chain(keys).apply(marked(False, True, False, True))
    assert result.failures == ()
    out = result.bundle
    assert out.offsets == [0, 1, 2, 3]
    assert out.values.to_pylist() == [{"n": 0, "added": None}, {"n": 1, "added": 10},
                                      {"n": 2, "added": None}, {"n": 3, "added": 30}]
    assert out.value_schema is None
    assert names(out.headers) == [None, ["mark"], None, ["mark"]]


def test_a_shape_change_on_some_schemaful_records_is_merged_back(monkeypatch):
    with_test_transforms(monkeypatch)
    keys = {
        "transforms": "add",
        "transforms.add.type": "AddField",
        "transforms.add.predicate": "marked",
        "predicates": "marked",
        "predicates.marked.type": "HasHeaderKey",
        "predicates.marked.name": "mark",
    }
    schema = connect_field("v", pa.struct([connect_field("n", pa.int64(), False, doc="count",
                                                         default=0)]), False,
                           schema_name="com.example.Order", version=2)
    source = bundle([{"n": 0}, {"n": 1}], schema, headers=[None, [("mark", b"")]])
    out = parse_chain(keys).apply(source).bundle
    assert out.values.to_pylist() == [{"n": 0, "added": None}, {"n": 1, "added": 10}]
    assert out.value_schema.type == out.values.type
    assert out.value_schema.type.field("added").nullable
    # Both parts are com.example.Order v2 and field n keeps its doc and default on both sides;
    # the merged schema should say so too.
    info = schema_info(out.value_schema)
    assert (info.name, info.version) == ("com.example.Order", 2)
    n = schema_info(out.value_schema.type.field("n"))
    assert (n.doc, n.default) == ("count", 0)


def test_unknown_predicate_name_is_a_config_error():
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.a.predicate='q' names no predicate; predicates='p' defines 'p'")):
        parse_chain({**TWO_GUARDED, "transforms.a.predicate": "q"})


def test_predicate_without_predicates_list_is_a_config_error():
    keys = {k: v for k, v in TWO_GUARDED.items() if not k.startswith("predicates")}
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.a.predicate='p' names no predicate; predicates='' defines none")):
        parse_chain(keys)


def test_negate_needs_a_predicate():
    keys = {k: v for k, v in TWO_GUARDED.items() if k != "transforms.a.predicate"}
    with pytest.raises(ConfigError, match=re.escape(
            "transforms.a.negate=true needs transforms.a.predicate")):
        parse_chain({**keys, "transforms.a.negate": "true"})


@pytest.mark.parametrize("extra,message", [
    ({"predicates.p.type": "HasHeader"},
     "predicates.p.type must be one of the predicates HasHeaderKey, RecordIsTombstone, "
     "TopicNameMatches (or their class names), got 'HasHeader'"),
    ({"predicates.p.name": ""}, "predicates.p.name must be a non-empty string, got ''"),
    ({"transforms.a.negate": "maybe"}, "transforms.a.negate must be 'true' or 'false', got 'maybe'"),
])
def test_predicate_config_errors(extra, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_chain({**TWO_GUARDED, **extra})


def test_parsed_chain_holds_the_steps():
    steps = parse_chain({**TWO_GUARDED, "transforms.a.negate": "true"}).steps
    assert [type(s.transformation) for s in steps] == [InsertHeader, InsertHeader]
    assert steps[0].predicate.name == "p" and steps[0].negate
    assert steps[1].predicate is None and not steps[1].negate
    assert isinstance(chain(transforms="f", transforms_f_type="Filter").steps[0].transformation,
                      Filter)


def test_a_guarded_transform_takes_time_linear_in_the_bundle():
    """40,000 records, half selected: linear work takes well under a second; rebuilding a set or
    a concatenated list per record (``i not in set(selected)``, ``(x + y)[i]``) takes minutes
    at 100,000."""
    import time

    n = 40_000
    source = bundle([{"n": i} for i in range(n)],
                    headers=[[("mark", b"")] if i % 2 else None for i in range(n)])
    steps = parse_chain(TWO_GUARDED)
    start = time.perf_counter()
    out = steps.apply(source).bundle
    elapsed = time.perf_counter() - start
    assert len(out) == n and names(out.headers[:2]) == [["b"], ["mark", "a", "b"]]
    assert elapsed < 3.0, "the chain took %.1f s for %d records" % (elapsed, n)
