"""``ReadFromKafka``: a bounded read of planned topic-partitions on confluent-kafka, in two shapes.

- The splittable read (the default): each :class:`~transforms.kafka.planning.PartitionPlan` becomes one
  restriction of a splittable DoFn, which a runner that splits dynamically (Dataflow, Flink) may split
  on window edges while it runs. On the local runners, where one process reads the partitions in turn,
  a second consumer fetches the next planned partition ahead.
- The work-item read (``tasks=N``): each plan is cut on window edges into offset ranges, sized so that
  N tasks get several each and a range's records fit a worker's memory; the ranges are reshuffled and
  read by a plain DoFn. Runners without splittable DoFns (Dask) and several worker processes of one
  machine (``tasks.max > 1``) use it: every range is one unit of work a runner can hand to any worker,
  and rerun elsewhere if that worker dies.

Both cut the same windows (:mod:`transforms.kafka.fetch`): windows are aligned to each plan's start, so
the bundles, and so the files, are the same however the work is spread. Nothing is committed here:
offsets are committed by :class:`~transforms.kafka.commit.CommitOffsets` once the sink has written.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import math
import os
from typing import Mapping, Optional, Sequence

import apache_beam as beam
from apache_beam.transforms.core import RestrictionProvider
from confluent_kafka import Consumer, TopicPartition

from transforms.kafka.clients import client_settings
from transforms.kafka.fetch import STALL_SECONDS, HeldWindow, HoldPartial, read_windows
from transforms.kafka.planning import PartitionPlan
from transforms.kafka.restriction import PartitionRange, PartitionRangeTracker
from transforms.records import KafkaBundle

_LOGGER = logging.getLogger(__name__)

__all__ = ["HoldPartial", "HeldWindow", "ReadFromKafka", "ReadTask", "ReadItem", "work_items"]

# Reader settings that consumer.override.* may change.
READER_DEFAULTS = {
    "auto.offset.reset": "earliest",
    "isolation.level": "read_uncommitted",  # the Java consumer's default, as Kafka Connect runs it
    # librdkafka waits 1 s before refetching while its queue is full; with a DoFn working between polls
    # that stalls the read. Keep a deep, quickly refilled queue instead.
    "fetch.queue.backoff.ms": "10",
    "queued.min.messages": "200000",
    # A consumer moved on to the next partition waited up to the broker's 500 ms for the fetch it
    # held open at the end of the last one.
    "fetch.wait.max.ms": "100",
}
# Reader settings that always apply: offsets are committed only after the sink has written, and the
# reader needs to see the end of a partition.
READER_FIXED = {"enable.auto.commit": "false", "enable.auto.offset.store": "false",
                "enable.partition.eof": "true"}
#: The most offsets one work item spans (unless one window is wider): what a worker holds at once where
#: the runner materialises a step's output (Dask), and the unit a dead worker's replacement redoes.
ITEM_OFFSETS = 200_000
#: Work items per task, where the backlog allows: enough for the runner to even out uneven partitions.
ITEMS_PER_TASK = 4


@dataclasses.dataclass(frozen=True)
class ReadTask:
    """One element of the splittable read: a partition's plan and the width of its bundle windows.

    ``next_plan``, with read-ahead, is the partition read after this one: a second consumer starts
    fetching it while this one is read, converted and written. ``hold``: the run holds partial windows.
    """

    plan: PartitionPlan
    flush_size: int
    next_plan: Optional[PartitionPlan] = None
    hold: Optional[HoldPartial] = None


@dataclasses.dataclass(frozen=True)
class ReadItem:
    """One element of the work-item read: offsets ``[start, stop)`` of ``plan``'s partition, whose
    windows are aligned to ``plan.start``; ``start`` is a window edge, and so is ``stop`` unless it is
    the plan's end."""

    plan: PartitionPlan
    start: int
    stop: int
    flush_size: int
    hold: Optional[HoldPartial] = None


def _time_cut(hold: Optional[HoldPartial]) -> bool:
    return hold is not None and hold.rotate_interval_ms > 0


def work_items(plans: Sequence[PartitionPlan], flush_size: int, tasks: int,
               hold: Optional[HoldPartial] = None) -> list:
    """Cuts ``plans`` on window edges into :class:`ReadItem`\\ s for ``tasks`` parallel tasks.

    An item spans ``k`` windows: as few as give every task :data:`ITEMS_PER_TASK` items, never more
    than :data:`ITEM_OFFSETS` offsets (but at least one window). Windows cut by record time
    (``rotate.interval.ms`` while holding partial windows) have data-dependent edges: such a plan stays
    one item.
    """
    windows = sum(math.ceil(p.size / flush_size) for p in plans if p.size > 0)
    wanted = max(1, tasks) * ITEMS_PER_TASK
    k = max(1, min(ITEM_OFFSETS // flush_size, math.ceil(windows / wanted)))
    span = k * flush_size
    items = []
    for plan in plans:
        if plan.size <= 0:
            continue
        if _time_cut(hold):
            items.append(ReadItem(plan, plan.start, plan.end, flush_size, hold))
            continue
        for start in range(plan.start, plan.end, span):
            items.append(ReadItem(plan, start, min(plan.end, start + span), flush_size, hold))
    return items


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
        kind = _TimeCutRange if _time_cut(task.hold) else PartitionRange
        return kind(task.plan.start, task.plan.end, task.plan.start, task.flush_size)

    def create_tracker(self, restriction: PartitionRange) -> PartitionRangeTracker:
        if isinstance(restriction, _TimeCutRange):
            return _UnsplitTracker(restriction)
        return PartitionRangeTracker(restriction)

    def restriction_size(self, task, restriction: PartitionRange) -> int:
        return restriction.size()


class _ConsumerFn(beam.DoFn):
    """A DoFn that reads with one consumer of its own, made in ``setup``."""

    def __init__(self, consumer_config: Mapping[str, str], stall_seconds: float):
        self._config = dict(consumer_config)
        self._stall_seconds = stall_seconds
        self._consumer: Optional[Consumer] = None

    def setup(self):
        self._consumer = Consumer(client_settings(self._config))
        # Beam's heap is large; without this the cyclic GC rescans it while the consumer allocates
        # messages and reading slows several times.
        gc.freeze()

    def _windows(self, consumer, tracker, topic, partition, hold):
        """Yields what :func:`read_windows` yields; ``consumer`` is assigned at the range's start."""
        # The read allocates millions of small objects and creates no cycles: collecting while it runs
        # only rescans live batches. The sink downstream may create cycles (a driver's futures and
        # callbacks) while it writes a bundle, so the young generations are collected after each
        # bundle; full collection resumes when the range is done.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for out in read_windows(consumer, tracker, topic, partition, self._config,
                                    self._stall_seconds, hold):
                yield out
                if gc_was_enabled:
                    gc.collect(1)
        finally:
            if gc_was_enabled:
                gc.enable()
            consumer.unassign()

    def teardown(self):
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


class _ReadPartitionFn(_ConsumerFn):
    """The splittable read: the claimed offsets of one partition, as window-aligned bundles."""

    def __init__(self, consumer_config: Mapping[str, str], stall_seconds: float):
        super().__init__(consumer_config, stall_seconds)
        self._spare: Optional[Consumer] = None  # with read-ahead: fetching the next partition
        self._warm = None  # (topic, partition, offset) the spare consumer was assigned at

    def process(self, task: ReadTask, tracker=beam.DoFn.RestrictionParam(_PartitionRangeProvider())):
        plan = task.plan
        rng = tracker.current_restriction()
        if rng.start >= rng.stop:
            return
        topic, partition = plan.topic, plan.partition
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
        yield from self._windows(consumer, tracker, topic, partition, task.hold)

    def _read_ahead(self, plan: PartitionPlan) -> None:
        """Has the spare consumer fetch ``plan``'s partition (into librdkafka's queue, outside the
        GIL) while this one is processed; the next element takes it over if it starts there."""
        if self._spare is None:
            self._spare = Consumer(client_settings(self._config))
        self._spare.assign([TopicPartition(plan.topic, plan.partition, plan.start)])
        self._warm = (plan.topic, plan.partition, plan.start)

    def teardown(self):
        super().teardown()
        if self._spare is not None:
            self._spare.close()
            self._spare = None


class _ReadRangeFn(_ConsumerFn):
    """The work-item read: one :class:`ReadItem`'s offsets, as window-aligned bundles."""

    def process(self, item: ReadItem):
        plan = item.plan
        kind = _TimeCutRange if _time_cut(item.hold) else PartitionRange
        tracker = PartitionRangeTracker(kind(item.start, item.stop, plan.start, item.flush_size))
        _LOGGER.debug("reading work item topic=%s partition=%d offsets %d..%d pid=%d", plan.topic,
                      plan.partition, item.start, item.stop - 1, os.getpid())
        self._consumer.assign([TopicPartition(plan.topic, plan.partition, item.start)])
        yield from self._windows(self._consumer, tracker, plan.topic, plan.partition, item.hold)


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
        worker, and the fetch would be wasted. The splittable read only.
      hold: Hold partial windows (see :mod:`transforms.kafka.fetch`). The transform then returns a dict
        of two PCollections: ``bundles``, and ``held`` with a :class:`HeldWindow` ``(topic, partition,
        offset)`` where each held window starts (what the commit stops at).
      tasks: None for the splittable read; a number of parallel tasks for the work-item read.
    """

    def __init__(self, plans: Sequence[PartitionPlan], consumer_config: Mapping[str, str],
                 flush_size: int, stall_seconds: float = STALL_SECONDS, read_ahead: bool = False,
                 hold: Optional[HoldPartial] = None, tasks: Optional[int] = None):
        super().__init__()
        if flush_size < 1:
            raise ValueError("flush_size must be at least 1, got %r" % flush_size)
        if "bootstrap.servers" not in consumer_config:
            raise ValueError("consumer_config needs bootstrap.servers")
        if tasks is not None and tasks < 1:
            raise ValueError("tasks must be at least 1, got %r" % tasks)
        self._plans = [p for p in plans if p.size > 0]
        self._config = {**READER_DEFAULTS, **consumer_config, **READER_FIXED}
        self._flush_size = flush_size
        self._stall_seconds = stall_seconds
        self._read_ahead = read_ahead and tasks is None
        self._hold = hold
        self._tasks = tasks
        if hold is not None and hold.schedule and not hold.schedule.timezone:
            raise ValueError("a hold schedule needs a timezone")

    def expand(self, pbegin):
        if self._tasks is None:
            following = self._plans[1:] + [None] if self._read_ahead else [None] * len(self._plans)
            elements = [ReadTask(plan, self._flush_size, nxt, self._hold)
                        for plan, nxt in zip(self._plans, following)]
            # One process reads the plans in turn with read-ahead: Create's own reshuffle would only
            # add steps and a stage.
            work = pbegin | "Plans" >> beam.Create(elements, reshuffle=not self._read_ahead)
            read = _ReadPartitionFn(self._config, self._stall_seconds)
        else:
            elements = work_items(self._plans, self._flush_size, self._tasks, self._hold)
            work = (pbegin
                    | "WorkItems" >> beam.Create(elements)
                    | "SpreadWorkItems" >> beam.Reshuffle())
            read = _ReadRangeFn(self._config, self._stall_seconds)
        # Held windows travel in the one output with the bundles (and the bundles' coder, which
        # pickles either): a runner without multiple outputs (Dask) keeps them apart this way too.
        read = work | "ReadPartitions" >> beam.ParDo(read).with_output_types(KafkaBundle)
        if self._hold is None:
            return read
        return {"bundles": read | "Bundles" >> beam.Filter(_is_bundle).with_output_types(KafkaBundle),
                "held": read | "HeldWindows" >> beam.Filter(_is_held).with_output_types(HeldWindow)}


def _is_bundle(element) -> bool:
    return isinstance(element, KafkaBundle)


def _is_held(element) -> bool:
    return isinstance(element, HeldWindow)
