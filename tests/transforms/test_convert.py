"""The convert stage: converters that need a service are retried while it is away."""

import pytest

from common.errors import RetriableError
from transforms.convert import _ConvertFn
from transforms.converters.string import StringConverter
from transforms.errors import ErrorPolicy, FailureRouter
from transforms.records import KafkaBundle


class _Flaky(StringConverter):
    """A StringConverter whose first ``failures`` calls fail as a registry that is away does."""

    def __init__(self, failures):
        super().__init__({}, config_key="value.converter")
        self.calls = 0
        self._failures = failures

    def convert(self, values):
        self.calls += 1
        if self.calls <= self._failures:
            raise RetriableError("the schema registry could not be reached")
        return super().convert(values)


def _bundle():
    return KafkaBundle("t", 3, 10, [10, 11], [0, 0], [1, 1], [b"k1", b"k2"], [b"a", b"b"], [None, None])


def _convert(value_converter, policy):
    fn = _ConvertFn(StringConverter({}, config_key="key.converter"), value_converter, "k", "v",
                    FailureRouter(policy))
    fn.setup()
    try:
        return list(fn.process(_bundle()))
    finally:
        fn.teardown()


def test_a_retriable_converter_failure_is_retried_until_it_passes():
    flaky = _Flaky(failures=2)
    [bundle] = _convert(flaky, ErrorPolicy(retry_timeout_ms=60_000, retry_delay_max_ms=10))
    assert flaky.calls == 3
    assert bundle.values.to_pylist() == ["a", "b"]
    assert bundle.offsets == [10, 11]


def test_without_retry_time_the_failure_stops_the_bundle():
    flaky = _Flaky(failures=1)
    with pytest.raises(RetriableError, match="could not be reached"):
        _convert(flaky, ErrorPolicy(retry_timeout_ms=0))
    assert flaky.calls == 1
