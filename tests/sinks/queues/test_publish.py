"""The queue sinks' shared write loop: confirmed batches, reconnects that resend, refusals isolated.

The publisher here is an in-memory stand-in recording what it was asked to publish: these tests are
about the loop's bookkeeping; each broker's own tests run it against the real server.
"""

import re

import pyarrow as pa
import pytest

from common.errors import BeamConnectError, RejectedRecord
from sinks.base import Mode, WriteContext
from sinks.queues.messages import messages
from sinks.queues.publish import (ConnectionLost, Publisher, PublishSettings, PublishWriter,
                                  check_publisher)
from transforms.errors import ErrorPolicy
from transforms.records import ConvertedBundle, KafkaBundle


def _bundle(count, first=100, topic="orders"):
    offsets = list(range(first, first + count))
    raw = KafkaBundle(topic, 2, first, offsets, [1000 + o for o in offsets], [1] * count,
                      [b"k%d" % o for o in offsets], [b"v%d" % o for o in offsets],
                      [[("h", b"x")]] * count)
    return ConvertedBundle(topic, 2, first, offsets, [1000 + o for o in offsets], pa.array([None] * count),
                           pa.array(["v%d" % o for o in offsets]), [[("h", b"x")]] * count,
                           raw=raw, rows=list(range(count)))


class _Broker:
    """What every publisher made by one test confirmed, and the failures it should stage."""

    def __init__(self, lose_after=(), refuse=()):
        self.confirmed, self.connects, self.closed = [], 0, 0
        self.lose_after = list(lose_after)  # publish calls (counted over all) that lose the connection
        self.refuse = set(refuse)
        self.calls = 0

    def publisher(self):
        broker = self

        class _Publisher(Publisher):
            def connect(self):
                broker.connects += 1

            def publish(self, batch):
                broker.calls += 1
                if broker.calls in broker.lose_after:
                    raise ConnectionLost("the broker went away")
                refused = [m.offset for m in batch if m.offset in broker.refuse]
                broker.confirmed.extend(m for m in batch if m.offset not in broker.refuse)
                if refused:
                    raise RejectedRecord("no queue took it", refused)

            def close(self):
                broker.closed += 1

        return _Publisher()


ALL = WriteContext(Mode.BATCH, errors=ErrorPolicy(tolerance="all"), connector_class="rabbitmq")


def test_messages_carry_the_record_and_a_stable_id():
    [first, *_] = messages(_bundle(3), "raw", "string")

    assert (first.id, first.key, first.value, first.headers, first.timestamp, first.target) == (
        "orders-2-100", b"k100", b"v100", (("h", b"x"),), 1100, "orders")


def test_a_bundle_is_published_in_confirmed_batches():
    broker = _Broker()
    writer = PublishWriter(ALL, broker.publisher, PublishSettings(batch_size=4))
    [result] = writer.process(_bundle(10))

    assert [m.offset for m in broker.confirmed] == list(range(100, 110))
    assert (broker.calls, broker.connects, result.records, result.last_offset) == (3, 1, 10, 109)
    assert result.targets == ("orders",)


def test_a_lost_connection_reconnects_and_resends_the_unconfirmed_batch():
    broker = _Broker(lose_after=[2, 3])
    waits = []
    writer = PublishWriter(ALL, broker.publisher, PublishSettings(batch_size=4, backoff_ms=100),
                           sleep=waits.append)
    [result] = writer.process(_bundle(10))

    assert [m.offset for m in broker.confirmed] == list(range(100, 110))  # nothing lost, none twice
    assert (broker.connects, broker.closed, result.records) == (3, 2, 10)
    assert len(waits) == 2 and 0.05 <= waits[0] <= 0.1 and 0.1 <= waits[1] <= 0.2


def test_a_connection_that_stays_lost_stops_the_run_naming_the_records():
    broker = _Broker(lose_after=range(1, 100))
    writer = PublishWriter(ALL, broker.publisher, PublishSettings(batch_size=4, max_retries=2),
                           sleep=lambda s: None)
    with pytest.raises(BeamConnectError, match=r"topic=orders partition=2 offsets 100\.\.103 "
                                               r"failed 3 times.*went away"):
        list(writer.process(_bundle(10)))


@pytest.mark.parametrize("target,counted", [
    ("orders-exchange", ("orders-exchange",)),  # the one name every message goes to
    (lambda message: "%s.%d" % (message.target, message.offset % 2), ("orders.0", "orders.1"))],
    ids=["name", "function"])
def test_messages_count_under_the_target_the_sink_names(target, counted):
    writer = PublishWriter(ALL, _Broker().publisher, PublishSettings(batch_size=4), target=target)
    [result] = writer.process(_bundle(10))

    assert result.targets == counted


def test_a_check_connects_runs_the_sinks_own_check_and_closes():
    broker, checked = _Broker(), []
    publisher = broker.publisher()
    check_publisher(publisher, lambda: checked.append(broker.connects))

    assert (checked, broker.closed) == ([1], 1)  # after connecting, before closing


@pytest.mark.parametrize("raised", [ConnectionLost("the broker went away"),
                                    BeamConnectError("exchange 'x' does not exist")],
                         ids=["lost", "refused"])
def test_what_a_check_finds_is_a_plain_error_and_the_connection_is_closed(raised):
    broker = _Broker()

    def fail():
        raise raised

    with pytest.raises(BeamConnectError, match=re.escape(str(raised))) as error:
        check_publisher(broker.publisher(), fail)
    assert type(error.value) is BeamConnectError  # a check is not retried, however it failed
    assert broker.closed == 1


def test_a_refused_message_is_left_out_and_confirmed_batches_are_not_published_again():
    broker = _Broker(refuse={105})
    writer = PublishWriter(ALL, broker.publisher, PublishSettings(batch_size=4))
    [result] = writer.process(_bundle(10))

    assert [m.offset for m in broker.confirmed] == [o for o in range(100, 110) if o != 105]
    assert [(f.offset, f.stage) for f in result.failed] == [(105, "TASK_PUT")]
    assert result.records == 9
