"""Unit tests of Filter (``transforms.smt.filter``)."""

from __future__ import annotations

import re

import pytest

from common.errors import ConfigError
from tests.transforms.smt.bundles import bundle
from transforms.smt.filter import Filter
from transforms.smt.registry import TRANSFORMATIONS


def test_drops_every_record_it_is_given():
    result = Filter("drop", {}).apply(bundle([{"a": 1}, None, {"a": 2}]))
    assert result.bundle is None
    assert result.dropped == 3
    assert result.failures == ()


def test_has_no_keys():
    with pytest.raises(ConfigError, match=re.escape(
            "unknown key 'transforms.drop.pattern'; known keys: (none)")):
        Filter("drop", {"pattern": "x"})


def test_registered_under_connect_names():
    assert TRANSFORMATIONS["org.apache.kafka.connect.transforms.Filter"] == (Filter, None)
    assert TRANSFORMATIONS["Filter"] == (Filter, None)
