"""The shared write loop: one result per bundle, rejected records isolated, retries."""

import pyarrow as pa
import pytest

from common.errors import DataError, RejectedRecord, RetriableError
from sinks.base import BundleWriter, Mode, WriteContext
from transforms.errors import ErrorPolicy
from transforms.records import ConvertedBundle, KafkaBundle, Stage


def _bundle(values, first=100):
    offsets = list(range(first, first + len(values)))
    raw = KafkaBundle("orders", 2, first, offsets, [7] * len(values), [1] * len(values),
                      [b"k%d" % o for o in offsets], [b"v%d" % o for o in offsets],
                      [None] * len(values))
    return ConvertedBundle("orders", 2, first, offsets, [7] * len(values), pa.array([None] * len(values)),
                           pa.array(values), [None] * len(values), raw=raw,
                           rows=list(range(len(values))))


class _Writer(BundleWriter):
    """Writes values, refusing negative ones: by naming them, or (anonymous) as a whole batch."""

    def __init__(self, context, anonymous=False, flaky=0):
        super().__init__(context)
        self.anonymous, self.flaky, self.calls, self.written = anonymous, flaky, 0, []

    def write_records(self, bundle):
        self.calls += 1
        if self.flaky:
            self.flaky -= 1
            raise RetriableError("the server is away")
        values = bundle.values.to_pylist()
        bad = [o for o, v in zip(bundle.offsets, values) if v < 0]
        if bad and self.anonymous:
            raise DataError("the batch was refused")
        if bad:
            raise RejectedRecord("negative value", bad)
        self.written.extend(values)
        return ("t%d" % bundle.offsets[0],), 10 * len(values), len(values)


ALL = WriteContext(Mode.BATCH, errors=ErrorPolicy(tolerance="all"), connector_class="files")


def test_a_bundle_gives_one_result_covering_its_offsets():
    writer = _Writer(ALL)
    [result] = writer.process(_bundle([1, 2, 3]))

    assert (result.topic, result.partition, result.first_offset, result.last_offset) == ("orders", 2,
                                                                                      100, 102)
    assert (result.records, result.targets, result.size, result.failed) == (3, ("t100",), 30, ())


def test_an_empty_bundle_still_settles_its_offsets():
    bundle = _bundle([1, 2]).take([])
    [result] = _Writer(ALL).process(bundle)

    assert (result.records, result.last_offset, result.targets) == (0, 101, ())


def test_named_rejections_leave_out_only_those_records():
    writer = _Writer(ALL)
    [result] = writer.process(_bundle([1, -2, 3, -4, 5]))

    assert writer.written == [1, 3, 5] and writer.calls == 2
    assert result.records == 3 and result.last_offset == 104
    assert [(f.offset, f.stage, f.class_name, f.reason) for f in result.failed] == [
        (101, Stage.TASK_PUT, "files", "negative value"), (103, Stage.TASK_PUT, "files", "negative value")]
    assert (result.failed[0].key, result.failed[0].value) == (b"k101", b"v101")


def test_an_anonymous_failure_is_split_until_the_bad_records_are_isolated():
    writer = _Writer(ALL, anonymous=True)
    [result] = writer.process(_bundle([1, 2, 3, -4, 5, 6, 7, 8]))

    assert sorted(writer.written) == [1, 2, 3, 5, 6, 7, 8]
    assert [f.offset for f in result.failed] == [103]
    assert result.records == 7 and result.failed[0].exception_class == \
        "org.apache.kafka.connect.errors.DataException"


def test_with_tolerance_none_the_first_rejection_ends_the_write():
    writer = _Writer(WriteContext(Mode.BATCH))
    [result] = writer.process(_bundle([1, -2, 3]))

    assert writer.written == [] and [f.offset for f in result.failed] == [101]


def test_retriable_failures_are_retried_within_errors_retry_timeout(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    context = WriteContext(Mode.BATCH, errors=ErrorPolicy(retry_timeout_ms=60_000))
    writer = _Writer(context, flaky=2)
    [result] = writer.process(_bundle([1]))
    assert result.records == 1 and writer.calls == 3

    with pytest.raises(RetriableError):  # no retry timeout: the first failure counts
        list(_Writer(WriteContext(Mode.BATCH), flaky=1).process(_bundle([1])))


def test_with_a_router_rejected_records_are_dead_lettered_before_the_rest_is_written():
    """A sink that commits its own offsets with the rest of the bundle must not commit past a record
    whose dead letter is not durable yet."""
    from transforms.errors import DeadLetterWriter, FailureRouter

    events = []

    class Letters(DeadLetterWriter):
        def write(self, failed):
            events.append(("dead-lettered", [f.offset for f in failed]))

    class Recording(_Writer):
        def write_records(self, bundle):
            result = super().write_records(bundle)
            events.append(("written", list(bundle.offsets)))
            return result

    router = FailureRouter(ErrorPolicy(tolerance="all"), Letters())
    context = WriteContext(Mode.BATCH, errors=ErrorPolicy(tolerance="all"), connector_class="files",
                           router=router)
    [result] = Recording(context).process(_bundle([1, -2, 3]))

    assert events == [("dead-lettered", [101]), ("written", [100, 102])]
    assert result.failed == () and result.records == 2
