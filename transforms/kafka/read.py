"""``ReadFromKafka``: a bounded read of planned topic-partitions, as a splittable DoFn on confluent-kafka.

Each :class:`~transforms.kafka.planning.PartitionPlan` becomes one restriction. The reader ``assign``s
(never ``subscribe``s) its partition, fetches in batches of up to ``FETCH_BATCH`` records, claims each batch
with one ``try_claim`` of its last offset and emits one :class:`~transforms.records.KafkaBundle` per
window of ``flush_size`` offsets (the sink's :class:`~transforms.records.Bundling`). Nothing is committed here: offsets are committed by
:class:`~transforms.kafka.commit.CommitOffsets` once the sink has written.

A run that holds partial windows (:class:`HoldPartial`: micro-batch mode, ``--hold-partial``) does not
emit a partition's last window when the plan ends inside it; it reports where that window starts
instead, and the commit stops there, so the next run reads the window again from its start and the
chain of windows is the one a single run over all the records makes. With ``rotate.interval.ms`` such
a run also ends a window before the first record that far (record time) past the window's first record,
as the streaming reader does; window edges then depend on the data before them, so the read is not
split. With ``rotate.schedule.interval.ms`` the held window is emitted after all once a point of the
wall-clock grid has passed since its first record's timestamp.
"""

from __future__ import annotations

import bisect
import dataclasses
import gc
import logging
import time
from typing import Mapping, Optional, Sequence

import apache_beam as beam
from apache_beam.transforms.core import RestrictionProvider
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from common import metrics
from common.errors import BeamConnectError
from common.logs import partition_fields
from transforms.kafka import progress
from transforms.kafka.clients import client_settings, missing_acl
from transforms.kafka.planning import PartitionPlan
from transforms.kafka.restriction import PartitionRange, PartitionRangeTracker
from transforms.kafka.rotation import Schedule, now_ms
from transforms.records import KafkaBundle

_LOGGER = logging.getLogger(__name__)

# Reader settings that consumer.override.* may change.
READER_DEFAULTS = {
    "auto.offset.reset": "earliest",
    "isolation.level": "read_uncommitted",  # the Java consumer's default, as Kafka Connect runs it
    # librdkafka waits 1 s before refetching while its queue is full; with a DoFn working between polls
    # that stalls the read. Keep a deep, quickly refilled queue instead.
    "fetch.queue.backoff.ms": "10",
    "queued.min.messages": "200000",
}
# Reader settings that always apply: offsets are committed only after the sink has written, and the
# reader needs to see the end of a partition.
READER_FIXED = {"enable.auto.commit": "false", "enable.auto.offset.store": "false",
                "enable.partition.eof": "true"}
FETCH_BATCH = 10_000
# Unbound methods, mapped over a fetched batch at C speed.
_OFFSET, _ERROR, _KEY, _VALUE = Message.offset, Message.error, Message.key, Message.value
_TIMESTAMP, _HEADERS = Message.timestamp, Message.headers
STALL_SECONDS = 120.0
#: The tag of the output that reports held windows: ``(topic, partition, first offset)``.
HELD = "held"


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


@dataclasses.dataclass(frozen=True)
class ReadTask:
    """One element of the read: a partition's plan and the width of its bundle windows.

    ``next_plan``, with read-ahead, is the partition read after this one: a second consumer starts
    fetching it while this one is read, converted and written. ``hold``: the run holds partial windows.
    """

    plan: PartitionPlan
    flush_size: int
    next_plan: Optional[PartitionPlan] = None
    hold: Optional[HoldPartial] = None


@dataclasses.dataclass(frozen=True)
class _TimeCutRange(PartitionRange):
    """A range whose windows ``rotate.interval.ms`` also cuts: their edges depend on the data."""


class _UnsplitTracker(PartitionRangeTracker):
    """Never splits a :class:`_TimeCutRange`: a split at an offset edge would start windows there
    that a single read would not."""

    def try_split(self, fraction_of_remainder):
        return None


class _PartitionRangeProvider(RestrictionProvider):
    def initial_restriction(self, task: ReadTask) -> PartitionRange:
        kind = (_TimeCutRange if task.hold is not None and task.hold.rotate_interval_ms > 0
                else PartitionRange)
        return kind(task.plan.start, task.plan.end, task.plan.start, task.flush_size)

    def create_tracker(self, restriction: PartitionRange) -> PartitionRangeTracker:
        if isinstance(restriction, _TimeCutRange):
            return _UnsplitTracker(restriction)
        return PartitionRangeTracker(restriction)

    def restriction_size(self, task, restriction: PartitionRange) -> int:
        return restriction.size()


class _ReadPartitionFn(beam.DoFn):
    """Reads the claimed offsets of one partition and emits them as window-aligned bundles."""

    def __init__(self, consumer_config: Mapping[str, str], stall_seconds: float):
        self._config = dict(consumer_config)
        self._stall_seconds = stall_seconds
        self._consumer: Optional[Consumer] = None
        self._spare: Optional[Consumer] = None  # with read-ahead: fetching the next partition
        self._warm = None  # (topic, partition, offset) the spare consumer was assigned at

    def setup(self):
        self._consumer = Consumer(client_settings(self._config))
        # Beam's heap is large; without this the cyclic GC rescans it while the consumer allocates
        # messages and reading slows several times.
        gc.freeze()

    def process(self, task: ReadTask, tracker=beam.DoFn.RestrictionParam(_PartitionRangeProvider())):
        plan = task.plan
        rng = tracker.current_restriction()
        if rng.start >= rng.stop:
            return
        topic, partition = plan.topic, plan.partition
        read_counter = metrics.counter(metrics.READ, topic, partition)
        if self._warm == (topic, partition, rng.start):
            self._consumer, self._spare = self._spare, self._consumer
        else:
            if self._warm is not None:  # fetched ahead for a range that starts elsewhere: stop it
                self._spare.unassign()
            self._consumer.assign([TopicPartition(topic, partition, rng.start)])
        self._warm = None
        consumer = self._consumer
        if task.next_plan is not None:
            self._read_ahead(task.next_plan)
        # The read allocates millions of small objects and creates no cycles: collecting while it runs
        # only rescans live batches. The sink downstream may create cycles (a driver's futures and
        # callbacks) while it writes a bundle, so the young generations are collected after each
        # bundle; full collection resumes when the partition is done.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for bundle in self._read(consumer, tracker, topic, partition, read_counter, task.hold):
                yield bundle
                if gc_was_enabled:
                    gc.collect(1)
        finally:
            if gc_was_enabled:
                gc.enable()
            consumer.unassign()

    def _read_ahead(self, plan: PartitionPlan) -> None:
        """Has the spare consumer fetch ``plan``'s partition (into librdkafka's queue, outside the
        GIL) while this one is processed; the next element takes it over if it starts there."""
        if self._spare is None:
            self._spare = Consumer(client_settings(self._config))
        self._spare.assign([TopicPartition(plan.topic, plan.partition, plan.start)])
        self._warm = (plan.topic, plan.partition, plan.start)

    def _read(self, consumer, tracker, topic, partition, read_counter, hold=None):
        rng = tracker.current_restriction()
        window_end = rng.next_boundary(rng.start + 1)
        buf = _Buffer(topic, partition, rng.window_start(rng.start))
        rotate_ms = hold.rotate_interval_ms if hold is not None else -1
        origin = rng.origin  # where windows are counted from: moved by each cut by record time
        position = rng.start
        last_progress = time.monotonic()
        while position < tracker.current_restriction().stop:
            messages = consumer.consume(num_messages=FETCH_BATCH, timeout=0.5)
            if not messages:
                if time.monotonic() - last_progress > self._stall_seconds:
                    raise BeamConnectError(
                        "no records arrived from topic=%s partition=%d at offset %d for %ds, though "
                        "offsets up to %d were planned" % (topic, partition, position,
                                                           self._stall_seconds,
                                                           tracker.current_restriction().stop - 1))
                continue
            last_progress = time.monotonic()
            messages, eof = _split_errors(messages, topic, partition, self._config)
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
            kept = self._claim(tracker, offsets)
            if kept < len(offsets):
                messages, offsets = messages[:kept], offsets[:kept]
                position = tracker.current_restriction().stop
            if not messages:
                break
            position = max(position, offsets[-1] + 1)
            # Emit every window this batch completes, then keep the rest.
            start = 0
            if rotate_ms > 0:
                stamps = [s[1] for s in map(_TIMESTAMP, messages)]
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
        self._claim_rest(tracker)
        if (hold is not None and window_end > tracker.current_restriction().stop
                and not (buf.offsets and hold.schedule.due(buf.timestamps[0], now_ms()))):
            _LOGGER.info("holding topic=%s partition=%d from offset %d (%d records of a partial "
                         "window) for the next run", topic, partition, buf.window_start,
                         len(buf.offsets), extra=partition_fields(topic, partition, buf.window_start))
            yield beam.pvalue.TaggedOutput(HELD, (topic, partition, buf.window_start))
            return
        if buf.offsets:
            read_counter.inc(len(buf.offsets))
            yield buf.take()

    @staticmethod
    def _claim(tracker, offsets: Sequence[int]) -> int:
        """Claims a batch; returns how many of its records are still inside the (maybe split) range."""
        kept = len(offsets)
        while kept:
            if tracker.try_claim(offsets[kept - 1]):
                return kept
            kept = bisect.bisect_left(offsets, tracker.current_restriction().stop, 0, kept)
        return 0

    @staticmethod
    def _claim_rest(tracker) -> None:
        """Claims the offsets after the last record (gaps, markers) so the tracker sees the range done."""
        while True:
            stop = tracker.current_restriction().stop
            try:
                if tracker.try_claim(stop - 1) or tracker.current_restriction().stop == stop:
                    return
            except ValueError:  # stop - 1 was claimed with the last record
                return

    def teardown(self):
        for consumer in (self._consumer, self._spare):
            if consumer is not None:
                consumer.close()
        self._consumer = self._spare = None


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


class _Buffer:
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
        types, stamps = zip(*map(_TIMESTAMP, messages))
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


def _split_errors(messages, topic, partition, config=None):
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


class ReadFromKafka(beam.PTransform):
    """Reads the planned offsets of Kafka topic-partitions as window-aligned raw bundles.

    Args:
      plans: One :class:`PartitionPlan` per topic-partition (from :class:`Planner`).
      consumer_config: librdkafka settings: ``bootstrap.servers``, security settings and overrides. The
        reader's own defaults (no auto-commit, fast refetch) apply first and user settings last, except
        ``enable.partition.eof``, which the reader needs.
      flush_size: Width of a bundle window in offsets (``flush.size``); windows are
        aligned to each plan's start, so bundle boundaries depend only on the plan and the data.
      stall_seconds: How long a partition may deliver nothing before the read fails.
      read_ahead: While a partition is read, a second consumer fetches the next planned one. For
        runners where one process reads the partitions in turn (DirectRunner, Prism): about 15% faster
        for one more fetch queue of memory. Elsewhere the next partition may be read by another
        worker, and the fetch would be wasted.
      hold: Hold partial windows (see the module docstring). The transform then returns a dict of two
        PCollections: ``bundles``, and ``held`` with ``(topic, partition, offset)`` where each held
        window starts (what the commit stops at).
    """

    def __init__(self, plans: Sequence[PartitionPlan], consumer_config: Mapping[str, str],
                 flush_size: int, stall_seconds: float = STALL_SECONDS, read_ahead: bool = False,
                 hold: Optional[HoldPartial] = None):
        super().__init__()
        if flush_size < 1:
            raise ValueError("flush_size must be at least 1, got %r" % flush_size)
        if "bootstrap.servers" not in consumer_config:
            raise ValueError("consumer_config needs bootstrap.servers")
        self._plans = [p for p in plans if p.size > 0]
        self._config = {**READER_DEFAULTS, **consumer_config, **READER_FIXED}
        self._flush_size = flush_size
        self._stall_seconds = stall_seconds
        self._read_ahead = read_ahead
        self._hold = hold
        if hold is not None and hold.schedule and not hold.schedule.timezone:
            raise ValueError("a hold schedule needs a timezone")

    def expand(self, pbegin):
        following = self._plans[1:] + [None] if self._read_ahead else [None] * len(self._plans)
        tasks = [ReadTask(plan, self._flush_size, nxt, self._hold)
                 for plan, nxt in zip(self._plans, following)]
        read = beam.ParDo(_ReadPartitionFn(self._config, self._stall_seconds))
        if self._hold is None:
            return (pbegin
                    | "Plans" >> beam.Create(tasks)
                    | "ReadPartitions" >> read.with_output_types(KafkaBundle))
        outputs = (pbegin
                   | "Plans" >> beam.Create(tasks)
                   | "ReadPartitions" >> read.with_outputs(HELD, main="bundles"))
        return {"bundles": outputs.bundles, "held": outputs[HELD]}
