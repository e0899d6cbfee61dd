"""Fetching one partition's offset range as window-aligned bundles: the loop both bounded reads share.

The reader ``assign``s (never ``subscribe``s) its partition, fetches in batches of up to ``FETCH_BATCH``
records, claims each batch with one ``try_claim`` of its last offset and yields one
:class:`~transforms.records.KafkaBundle` per window of ``flush_size`` offsets. The tracker is a
:class:`~transforms.kafka.restriction.PartitionRangeTracker`: the splittable read's own, or, in the
work-item read, one made for a range no one else splits.

A run that holds partial windows (:class:`HoldPartial`: micro-batch mode, ``--hold-partial``) does not
emit a partition's last window when the plan ends inside it; it yields a :class:`HeldWindow` where that
window starts instead, and the commit stops there, so the next run reads the window again from its start
and the chain of windows is the one a single run over all the records makes. With
``rotate.interval.ms`` such a run also ends a window before the first record that far (record time)
past the window's first record, as the streaming reader does; window edges then depend on the data
before them, so the read is not split. With ``rotate.schedule.interval.ms`` the held window is emitted
after all once a point of the wall-clock grid has passed since its first record's timestamp.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import time
from typing import Mapping, NamedTuple, Optional, Sequence

from confluent_kafka import KafkaError, Message

from common import metrics
from common.errors import BeamConnectError
from common.logs import partition_fields
from transforms.kafka import progress
from transforms.kafka.clients import missing_acl
from transforms.kafka.rotation import Schedule, now_ms
from transforms.records import KafkaBundle

_LOGGER = logging.getLogger(__name__)

FETCH_BATCH = 10_000
# Unbound methods, mapped over a fetched batch at C speed.
_OFFSET, _ERROR, _KEY, _VALUE = Message.offset, Message.error, Message.key, Message.value
TIMESTAMP, _HEADERS = Message.timestamp, Message.headers
STALL_SECONDS = 120.0


class HeldWindow(NamedTuple):
    """Where a held partial window starts: the commit of its partition stops there."""

    topic: str
    partition: int
    offset: int


@dataclasses.dataclass(frozen=True)
class HoldPartial:
    """How a run that holds partial windows decides when they are due after all.

    Attributes:
      rotate_interval_ms: ``rotate.interval.ms``: windows also end before the first record this many ms
        (record time) past their first record; <= 0 for never.
      schedule: ``rotate.schedule.interval.ms`` and ``timezone``.
    """

    rotate_interval_ms: int = -1
    schedule: Schedule = Schedule()


def read_windows(consumer, tracker, topic: str, partition: int, config: Mapping[str, str],
                 stall_seconds: float = STALL_SECONDS, hold: Optional[HoldPartial] = None):
    """Reads the claimed offsets of ``tracker``'s range from ``consumer`` (assigned there already)
    and yields :class:`~transforms.records.KafkaBundle` windows, then, when the run holds partial
    windows and the range ends inside one, a :class:`HeldWindow` where it starts."""
    read_counter = metrics.counter(metrics.READ, topic, partition)
    rng = tracker.current_restriction()
    window_end = rng.next_boundary(rng.start + 1)
    buf = Buffer(topic, partition, rng.window_start(rng.start))
    rotate_ms = hold.rotate_interval_ms if hold is not None else -1
    origin = rng.origin  # where windows are counted from: moved by each cut by record time
    position = rng.start
    last_progress = time.monotonic()
    while position < tracker.current_restriction().stop:
        # Never ask for more than the range still needs: consume() waits out its timeout for a batch
        # it cannot fill, which the last batch of a partition read to its end never can.
        wanted = tracker.current_restriction().stop - position
        messages = consumer.consume(num_messages=max(1, min(FETCH_BATCH, wanted)), timeout=0.5)
        if not messages:
            if time.monotonic() - last_progress > stall_seconds:
                raise BeamConnectError(
                    "no records arrived from topic=%s partition=%d at offset %d for %ds, though "
                    "offsets up to %d were planned" % (topic, partition, position,
                                                       stall_seconds,
                                                       tracker.current_restriction().stop - 1))
            continue
        last_progress = time.monotonic()
        messages, eof = split_errors(messages, topic, partition, config)
        if eof is not None:
            position = max(position, eof)
        if not messages:
            continue
        if messages[0].partition() != partition or messages[-1].partition() != partition:
            # The consumer is reused across partitions; never let a late record of the last one in.
            messages = [m for m in messages if m.partition() == partition and m.topic() == topic]
            if not messages:
                continue
        offsets = list(map(_OFFSET, messages))
        kept = _claim(tracker, offsets)
        if kept < len(offsets):
            messages, offsets = messages[:kept], offsets[:kept]
            position = tracker.current_restriction().stop
        if not messages:
            break
        position = max(position, offsets[-1] + 1)
        # Emit every window this batch completes, then keep the rest.
        start = 0
        if rotate_ms > 0:
            stamps = [s[1] for s in map(TIMESTAMP, messages)]
            while True:
                cut = bisect.bisect_left(offsets, window_end, start)
                timed = _time_cut(buf.timestamps, stamps, start, cut, rotate_ms)
                if timed is None and cut == len(offsets):
                    break
                cut = cut if timed is None else timed
                buf.add(messages[start:cut], offsets[start:cut])
                if buf.offsets:
                    read_counter.inc(len(buf.offsets))
                    yield buf.take()
                start = cut
                if timed is not None:
                    origin = offsets[start]
                buf.window_start = offsets[start] - (offsets[start] - origin) % rng.flush_size
                window_end = buf.window_start + rng.flush_size
        else:
            while offsets[-1] >= window_end:
                cut = bisect.bisect_left(offsets, window_end, start)
                buf.add(messages[start:cut], offsets[start:cut])
                if buf.offsets:
                    read_counter.inc(len(buf.offsets))
                    yield buf.take()
                start = cut  # < len(offsets), since offsets[-1] >= window_end
                window_end = rng.next_boundary(offsets[start] + 1)
                buf.window_start = window_end - rng.flush_size
        buf.add(messages[start:], offsets[start:])
        progress.report(topic, partition, position, len(offsets))
    _claim_rest(tracker)
    if (hold is not None and window_end > tracker.current_restriction().stop
            and not (buf.offsets and hold.schedule.due(buf.timestamps[0], now_ms()))):
        _LOGGER.info("holding topic=%s partition=%d from offset %d (%d records of a partial "
                     "window) for the next run", topic, partition, buf.window_start,
                     len(buf.offsets), extra=partition_fields(topic, partition, buf.window_start))
        yield HeldWindow(topic, partition, buf.window_start)
        return
    if buf.offsets:
        read_counter.inc(len(buf.offsets))
        yield buf.take()


def _claim(tracker, offsets: Sequence[int]) -> int:
    """Claims a batch; returns how many of its records are still inside the (maybe split) range."""
    kept = len(offsets)
    while kept:
        if tracker.try_claim(offsets[kept - 1]):
            return kept
        kept = bisect.bisect_left(offsets, tracker.current_restriction().stop, 0, kept)
    return 0


def _claim_rest(tracker) -> None:
    """Claims the offsets after the last record (gaps, markers) so the tracker sees the range done."""
    while True:
        stop = tracker.current_restriction().stop
        try:
            if tracker.try_claim(stop - 1) or tracker.current_restriction().stop == stop:
                return
        except ValueError:  # stop - 1 was claimed with the last record
            return


def _time_cut(window_stamps, stamps, start: int, cut: int, rotate_ms: int) -> Optional[int]:
    """The first index in ``[start, cut)`` whose record is ``rotate_ms`` or more past the window's
    first record (``window_stamps[0]``, or ``stamps[start]`` for a window that starts here), or None."""
    base = window_stamps[0] if window_stamps else stamps[start] if start < cut else None
    if base is None:
        return None
    limit = base + rotate_ms
    for j in range(start if window_stamps else start + 1, cut):
        if stamps[j] >= limit:
            return j
    return None


class Buffer:
    """The records of the window being filled, column by column."""

    def __init__(self, topic: str, partition: int, window_start: int):
        self.topic, self.partition, self.window_start = topic, partition, window_start
        self._reset()

    def _reset(self):
        self.offsets, self.timestamps, self.types = [], [], []
        self.keys, self.values, self.headers = [], [], []

    def add(self, messages, offsets):
        if not messages:
            return
        self.offsets += offsets
        types, stamps = zip(*map(TIMESTAMP, messages))
        self.types += types
        self.timestamps += stamps
        self.keys += map(_KEY, messages)
        self.values += map(_VALUE, messages)
        self.headers += map(_HEADERS, messages)

    def take(self) -> KafkaBundle:
        bundle = KafkaBundle(self.topic, self.partition, self.window_start, self.offsets,
                             self.timestamps, self.types, self.keys, self.values, self.headers)
        self._reset()
        return bundle


def split_errors(messages, topic, partition, config=None):
    """Separates records from events; returns (records, offset of a partition EOF or None)."""
    if not any(map(_ERROR, messages)):
        return messages, None
    records, eof = [], None
    for m in messages:
        err = m.error()
        if err is None:
            records.append(m)
        elif err.code() == KafkaError._PARTITION_EOF:
            if m.partition() == partition and m.topic() == topic:
                eof = m.offset()
        else:
            raise BeamConnectError("reading topic=%s partition=%d failed: %s%s" % (
                topic, partition, err, missing_acl(err, config or {}, "READ", topic)))
    return records, eof
