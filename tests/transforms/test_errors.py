"""The error path: routing by errors.tolerance, dead letters before the outcome, retries."""

import logging
import re

import pytest

from common.errors import RetriableError
from transforms.errors import DeadLetterWriter, ErrorPolicy, FailureRouter, RecordError, retrying
from transforms.records import FailedRecord, KafkaBundle, Stage


def _failed(offset=7, value=b"secret-value"):
    raw = KafkaBundle("orders", 1, 0, [offset], [1700], [1], [b"k"], [value], [[("h", b"1")]])
    return FailedRecord.of(raw, 0, Stage.VALUE_CONVERTER,
                           "org.apache.kafka.connect.json.JsonConverter", "not valid JSON")


class _Letters(DeadLetterWriter):
    def __init__(self, fail_first=0):
        self.written, self.opened, self.fail_first = [], 0, fail_first

    def open(self):
        self.opened += 1

    def write(self, failed):
        if self.fail_first:
            self.fail_first -= 1
            raise RetriableError("broker away")
        self.written.extend(failed)


def test_tolerance_none_raises_naming_record_stage_class_and_the_stored_tolerance():
    with pytest.raises(RecordError, match=re.escape(
            "VALUE_CONVERTER (org.apache.kafka.connect.json.JsonConverter) failed on record "
            "topic=orders partition=1 offset=7: not valid JSON. The run stopped and committed no "
            "offsets (errors.tolerance=none).")):
        FailureRouter(ErrorPolicy()).route([_failed()])


def test_tolerance_all_dead_letters_and_goes_on():
    letters = _Letters()
    router = FailureRouter(ErrorPolicy(tolerance="all"), letters)
    router.route([_failed(7), _failed(8)])

    assert [f.offset for f in letters.written] == [7, 8] and letters.opened == 1
    assert letters.written[0].value == b"secret-value" and letters.written[0].timestamp == 1700


def test_dead_letters_are_written_before_tolerance_none_stops_the_run():
    letters = _Letters()
    with pytest.raises(RecordError):
        FailureRouter(ErrorPolicy(), letters).route([_failed()])
    assert len(letters.written) == 1


def test_no_dead_letter_client_is_opened_without_failures():
    letters = _Letters()
    router = FailureRouter(ErrorPolicy(tolerance="all"), letters)
    router.setup()
    router.route([])
    assert letters.opened == 0


def test_dead_letter_writes_are_retried(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    letters = _Letters(fail_first=2)
    FailureRouter(ErrorPolicy(tolerance="all", retry_timeout_ms=10_000), letters).route([_failed()])
    assert len(letters.written) == 1


def test_logs_name_records_but_show_content_only_when_asked(caplog):
    caplog.set_level(logging.ERROR)
    FailureRouter(ErrorPolicy(tolerance="all", log_enable=True)).route([_failed()])
    assert "Error encountered in stage VALUE_CONVERTER" in caplog.text
    assert "topic=orders partition=1 offset=7" in caplog.text
    assert "secret-value" not in caplog.text

    caplog.clear()
    FailureRouter(ErrorPolicy(tolerance="all", log_enable=True,
                              log_include_messages=True)).route([_failed()])
    assert "secret-value" in caplog.text

    caplog.clear()
    FailureRouter(ErrorPolicy(tolerance="all")).route([_failed()])
    assert caplog.text == ""


def test_retrying_backs_off_with_jitter_up_to_the_timeout():
    clock, waits = [0.0], []

    def sleep(seconds):
        waits.append(seconds)
        clock[0] += seconds

    def always():
        raise RetriableError("away")

    policy = ErrorPolicy(retry_timeout_ms=5_000, retry_delay_max_ms=1_000)
    with pytest.raises(RetriableError):
        retrying(always, policy, "test", sleep=sleep, clock=lambda: clock[0])
    assert waits and all(0 <= w <= 1.0 for w in waits)
    assert clock[0] <= 5.0 + 1e-9 and len(waits) >= 5


def test_retrying_does_not_retry_other_errors():
    calls = []

    def broken():
        calls.append(1)
        raise ValueError("no")

    with pytest.raises(ValueError):
        retrying(broken, ErrorPolicy(retry_timeout_ms=-1), "test")
    assert calls == [1]
