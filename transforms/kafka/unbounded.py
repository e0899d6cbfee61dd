"""``ReadFromKafka`` unbounded: one restriction per partition from its start offset on, never done.

Files still close at points that depend only on the data, as in Confluent's sinks: a window holds
``flush.size`` records, or ends before the first record whose timestamp is ``rotate.interval.ms`` or
more past the window's first record. The reader claims offsets only when a window closes, so every
checkpoint falls on a window edge; records of a still-open window are read again after a checkpoint.
A partition that delivers nothing for ``idle_seconds`` defers; its watermark then moves to the wall
clock, or to its open window's first record, whichever is earlier (the idle-partition policy).

Two settings close windows on the clock instead (:mod:`transforms.kafka.rotation`):
``rotate.schedule.interval.ms`` closes the open window at the first point of the wall-clock grid after
it opened (checked before each fetched batch is added, and while the partition is quiet), and
``idle.flush.ms`` closes the open window of a partition that has received nothing for that long. Where
such a window ends depends on when it was read, so a replay may cut elsewhere: the sink removes what
was written past the committed offsets before the run reads (:meth:`sinks.base.Sink.recover`), and the
replay rebuilds from there.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from typing import Mapping, Optional

import apache_beam as beam
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.utils.timestamp import Duration, Timestamp
from confluent_kafka import Consumer, TopicPartition

from common import metrics
from transforms.kafka import progress
from transforms.kafka.clients import client_settings
from transforms.kafka.fetch import FETCH_BATCH, TIMESTAMP, Buffer, split_errors
from transforms.kafka.read import READER_DEFAULTS, READER_FIXED
from transforms.kafka.restriction import PartitionRange, PartitionRangeTracker
from transforms.kafka.rotation import ARRIVALS, Schedule, now_ms
from transforms.records import KafkaBundle

_LOGGER = logging.getLogger(__name__)

UNBOUNDED = sys.maxsize


@dataclasses.dataclass(frozen=True)
class StreamTask:
    """One partition of an unbounded read and how its windows close."""

    topic: str
    partition: int
    start: int
    flush_size: int
    rotate_interval_ms: int  # <= 0: by count only
    close_caught_up: bool = False  # also close a window once the partition is read to its end
    schedule: Schedule = Schedule()  # rotate.schedule.interval.ms: close on the wall-clock grid
    idle_flush_ms: int = -1  # close the open window after this long without a record
    scope: str = ""  # names the pipeline's partitions in ARRIVALS (the group.id)


class UnboundedPartitionTracker(PartitionRangeTracker):
    """Splits only to checkpoint, at the first unclaimed offset (always a window edge)."""

    def try_split(self, fraction_of_remainder):
        if fraction_of_remainder != 0 or self._exhausted:
            return None
        cur = self._next_unclaimed()
        if cur >= self._range.stop:
            return None
        primary = dataclasses.replace(self._range, stop=cur, origin=min(self._range.origin, cur))
        residual = PartitionRange(cur, self._range.stop, cur, self._range.flush_size)
        self._range = primary
        return primary, residual

    def is_bounded(self) -> bool:
        return False


class _UnboundedProvider(RestrictionProvider):
    def initial_restriction(self, task: StreamTask) -> PartitionRange:
        return PartitionRange(task.start, UNBOUNDED, task.start, task.flush_size)

    def create_tracker(self, restriction: PartitionRange) -> UnboundedPartitionTracker:
        return UnboundedPartitionTracker(restriction)

    def restriction_size(self, task, restriction: PartitionRange) -> int:
        return 1  # the backlog is unknown here

    def truncate(self, task, restriction):
        return None  # on drain, stop reading


class _StreamPartitionFn(beam.DoFn):
    def __init__(self, consumer_config: Mapping[str, str], idle_seconds: float):
        self._config = dict(consumer_config)
        self._idle_seconds = idle_seconds
        self._consumer: Optional[Consumer] = None

    def setup(self):
        self._consumer = Consumer(client_settings(self._config))

    @beam.DoFn.unbounded_per_element()
    def process(self, task: StreamTask,
                tracker=beam.DoFn.RestrictionParam(_UnboundedProvider()),
                watermark=beam.DoFn.WatermarkEstimatorParam(
                    ManualWatermarkEstimator.default_provider())):
        start = tracker.current_restriction().start
        consumer = self._consumer
        consumer.assign([TopicPartition(task.topic, task.partition, start)])
        try:
            yield from self._read(task, consumer, tracker, watermark, start)
        finally:
            consumer.unassign()

    def _read(self, task, consumer, tracker, watermark, start):
        topic, partition = task.topic, task.partition
        counter = metrics.counter(metrics.READ, topic, partition)
        buf = Buffer(topic, partition, start)
        idle_since = time.monotonic()
        caught_up = False  # the consumer reported the end of the partition since the last record
        key = (task.scope, topic, partition)
        while True:
            messages = consumer.consume(num_messages=FETCH_BATCH, timeout=0.2)
            messages, eof = split_errors(messages, topic, partition, self._config)
            messages = [m for m in messages if m.partition() == partition and m.topic() == topic]
            now = now_ms()
            if not messages:
                if eof is not None and not caught_up:
                    caught_up, idle_since = True, time.monotonic()
                    if task.close_caught_up and buf.offsets:  # the end came after the records
                        bundle = self._close(buf, tracker, watermark, counter)
                        if bundle is None:
                            return
                        yield bundle
                if buf.offsets and (self._scheduled(task, key, buf, now)
                                    or self._idle(task, key, buf, caught_up, now)):
                    bundle = self._close(buf, tracker, watermark, counter)
                    if bundle is None:
                        return
                    yield bundle
                # Only a partition that is at its end and stays there is idle; a slow first fetch
                # (a loaded broker) must not make the reader defer before it ever reads.
                if caught_up and time.monotonic() - idle_since >= self._idle_seconds:
                    self._advance_idle(watermark, buf)
                    tracker.defer_remainder(Duration(seconds=self._idle_seconds))
                    return
                continue
            caught_up = eof is not None
            idle_since = time.monotonic()
            ARRIVALS.saw(key, messages[-1].offset(), now)
            if buf.offsets and self._scheduled(task, key, buf, now):  # before this batch's records
                bundle = self._close(buf, tracker, watermark, counter)
                if bundle is None:
                    return
                yield bundle
            stamps = [s[1] for s in map(TIMESTAMP, messages)]
            i = 0
            while i < len(messages):
                take = min(len(messages) - i, task.flush_size - len(buf.offsets))
                closes = len(buf.offsets) + take == task.flush_size
                if task.rotate_interval_ms > 0:
                    first = buf.timestamps[0] if buf.offsets else stamps[i]
                    limit = first + task.rotate_interval_ms
                    for j in range(i + (0 if buf.offsets else 1), i + take):
                        if stamps[j] >= limit:
                            take, closes = j - i, True
                            break
                chunk = messages[i:i + take]
                opening = not buf.offsets
                buf.add(chunk, [m.offset() for m in chunk])
                if opening and buf.offsets:
                    ARRIVALS.opened(key, buf.offsets[0], now)
                i += take
                if closes or (task.close_caught_up and caught_up and i == len(messages)):
                    bundle = self._close(buf, tracker, watermark, counter)
                    if bundle is None:
                        return  # the runner checkpointed: the rest is read again by the residual
                    yield bundle

    @staticmethod
    def _scheduled(task, key, buf, now: int) -> bool:
        """The open window passed a point of the rotate.schedule.interval.ms grid."""
        return bool(task.schedule) and task.schedule.due(
            ARRIVALS.opened(key, buf.offsets[0], now), now)

    @staticmethod
    def _idle(task, key, buf, caught_up: bool, now: int) -> bool:
        """The partition is read to its end and got no record for idle.flush.ms."""
        return (task.idle_flush_ms > 0 and caught_up
                and now - ARRIVALS.last_seen(key, buf.offsets[-1], now) >= task.idle_flush_ms)

    def _close(self, buf, tracker, watermark, counter):
        """The buffered window as a timestamped bundle, or None when the runner took the rest."""
        bundle = buf.take()
        if not tracker.try_claim(bundle.offsets[-1]):
            return None
        buf.window_start = bundle.offsets[-1] + 1
        counter.inc(len(bundle))
        event_time = Timestamp(micros=max(bundle.timestamps) * 1000)
        current = watermark.current_watermark()
        if current is None or event_time > current:
            watermark.set_watermark(event_time)
        progress.report(bundle.topic, bundle.partition, bundle.offsets[-1] + 1, len(bundle))
        self._report_log_end(bundle.topic, bundle.partition)
        return beam.window.TimestampedValue(bundle, event_time)

    def _report_log_end(self, topic: str, partition: int) -> None:
        """The partition's log end as the consumer last fetched it (no broker call), for the lag."""
        try:
            _, high = self._consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                           cached=True)
        except Exception:  # cached values are best effort: no fetch response yet
            return
        if high is not None and high >= 0:
            metrics.LIVE.log_end(topic, partition, high)

    @staticmethod
    def _advance_idle(watermark, buf) -> None:
        now = Timestamp.now()
        if buf.offsets:
            now = min(now, Timestamp(micros=buf.timestamps[0] * 1000))
        current = watermark.current_watermark()
        if current is None or now > current:
            watermark.set_watermark(now)

    def teardown(self):
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


class ReadFromKafkaUnbounded(beam.PTransform):
    """Reads Kafka partitions from their planned start without end, as Confluent-style file windows.

    Args:
      plans: Partition plans; only ``start`` is used.
      consumer_config: librdkafka settings (as for the bounded read).
      flush_size: Records per window at most.
      rotate_interval_ms: Close a window before a record this many ms past its first record (<= 0: never).
      close_caught_up: Also close a window once the partition is read to its end (what is there now).
      idle_seconds: Defer a partition that delivered nothing for this long.
      schedule: ``rotate.schedule.interval.ms`` and ``timezone``: close the open window at the first
        point of the wall-clock grid after it opened.
      idle_flush_ms: Close the open window of a partition that got no record for this many ms
        (``idle.flush.ms``; <= 0: never).
    """

    def __init__(self, plans, consumer_config: Mapping[str, str], flush_size: int,
                 rotate_interval_ms: int = -1, idle_seconds: float = 1.0,
                 close_caught_up: bool = False, schedule: Optional[Schedule] = None,
                 idle_flush_ms: int = -1):
        super().__init__()
        if flush_size < 1:
            raise ValueError("flush_size must be at least 1, got %r" % flush_size)
        schedule = schedule or Schedule()
        if schedule and not schedule.timezone:
            raise ValueError("a schedule needs a timezone")
        scope = consumer_config.get("group.id", "")
        self._tasks = [StreamTask(p.topic, p.partition, p.start, flush_size, rotate_interval_ms,
                                  close_caught_up, schedule, idle_flush_ms, scope) for p in plans]
        self._config = {**READER_DEFAULTS, **consumer_config, **READER_FIXED}
        self._idle_seconds = idle_seconds

    def expand(self, pbegin):
        return (pbegin
                | "Partitions" >> beam.Create(self._tasks)
                | "ReadPartitions" >> beam.ParDo(
                    _StreamPartitionFn(self._config, self._idle_seconds)).with_output_types(
                        KafkaBundle))

