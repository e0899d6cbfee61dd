"""``CommitOffsets``: commits the consumer group's offsets once the sink has durably written.

The step consumes the sink's write results (:class:`~transforms.records.WriteResult`) as a whole (a global
combine, together with the reader's held windows), so on a bounded run it starts only after every write
finished and every failed record was skipped or dead-lettered; it then commits each planned partition's
end offset, or, where the reader held a partial last window for the next run, that window's first
offset. A failed or killed run never reaches it (a record failing under ``errors.tolerance=none`` fails
the run), which is what makes a rerun replay-safe. It uses no side input, so runners that support only
the basic primitives (Dask) run it too.
"""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

import apache_beam as beam
from confluent_kafka import KafkaException, TopicPartition

from common import metrics
from common.errors import BeamConnectError
from common.logs import partition_fields
from transforms.kafka.clients import missing_acl
from transforms.kafka.planning import PartitionPlan, group_consumer, group_denied, retrying
from transforms.records import WriteResult

_LOGGER = logging.getLogger(__name__)


class _CommitFn(beam.DoFn):
    def __init__(self, consumer_config: Mapping[str, str], plans: Sequence[PartitionPlan]):
        self._config = dict(consumer_config)
        self._plans = list(plans)

    def process(self, held: dict):
        ends = {(p.topic, p.partition): min(p.end, held.get((p.topic, p.partition), p.end))
                for p in self._plans}
        consumer = group_consumer(self._config)
        try:
            offsets = [TopicPartition(p.topic, p.partition, ends[(p.topic, p.partition)])
                       for p in self._plans]
            if not offsets:
                return
            result = retrying(lambda: consumer.commit(offsets=offsets, asynchronous=False), 60.0)
        except KafkaException as exc:
            raise BeamConnectError("committing offsets for group.id=%s failed: %s%s"
                                   % (self._config["group.id"], exc.args[0],
                                      group_denied(self._config))) from exc
        finally:
            consumer.close()
        for tp in result:
            if tp.error is not None:
                raise BeamConnectError("committing topic=%s partition=%d offset=%d failed: %s%s"
                                       % (tp.topic, tp.partition, tp.offset, tp.error,
                                          missing_acl(tp.error, self._config, "READ", tp.topic)))
        for plan in self._plans:
            end = ends[(plan.topic, plan.partition)]
            metrics.LIVE.commit(plan.topic, plan.partition, end)
            _LOGGER.info("committed group.id=%s topic=%s partition=%d offset=%d (%d offsets read%s)",
                         self._config["group.id"], plan.topic, plan.partition, end, plan.size,
                         "" if end == plan.end else ", %d held for the next run" % (plan.end - end),
                         extra=partition_fields(plan.topic, plan.partition, end))
        yield from self._plans


class CommitOffsets(beam.PTransform):
    """Commits every plan's end offset after all of ``written`` exists.

    Args:
      consumer_config: librdkafka settings with ``group.id``.
      plans: The run's partition plans.
      held: Where the reader held partial windows (``ReadFromKafka`` with ``hold``): a PCollection of
        ``(topic, partition, offset)``; those partitions are committed up to that offset only.

    Returns the committed plans.
    """

    def __init__(self, consumer_config: Mapping[str, str], plans: Sequence[PartitionPlan],
                 held=None):
        super().__init__()
        if "group.id" not in consumer_config:
            raise ValueError("consumer_config needs group.id")
        self._config = dict(consumer_config)
        self._plans = list(plans)
        self._held = held

    def expand(self, written):
        settled = written | "Settled" >> beam.Map(_no_hold)
        if self._held is not None:
            settled = (settled, self._held) | "WithHeldWindows" >> beam.Flatten()
        held = settled | "WaitForSink" >> beam.CombineGlobally(_HeldStarts())
        return held | "Commit" >> beam.ParDo(_CommitFn(self._config, self._plans))


def _no_hold(result: WriteResult) -> None:
    return None


class _HeldStarts(beam.CombineFn):
    """Collects ``(topic, partition) -> offset`` of the held windows; write results add nothing."""

    def create_accumulator(self):
        return {}

    def add_input(self, held, element):
        if element is not None:
            topic, partition, offset = element
            held[(topic, partition)] = offset
        return held

    def merge_accumulators(self, accumulators):
        merged = {}
        for held in accumulators:
            merged.update(held)
        return merged

    def extract_output(self, held):
        return held


class _CommitEachFn(beam.DoFn):
    """Commits ``last_offset + 1`` of each write result, in the order the results arrive."""

    def __init__(self, consumer_config: Mapping[str, str]):
        self._config = dict(consumer_config)
        self._consumer = None
        self._committed = {}

    def setup(self):
        self._consumer = group_consumer(self._config)

    def process(self, written: WriteResult):
        key = (written.topic, written.partition)
        offset = written.last_offset + 1
        if offset <= self._committed.get(key, -1):
            return
        tp = TopicPartition(written.topic, written.partition, offset)
        try:
            result = retrying(lambda: self._consumer.commit(offsets=[tp], asynchronous=False), 60.0)
        except KafkaException as exc:
            raise BeamConnectError("committing topic=%s partition=%d offset=%d for group.id=%s failed: "
                                   "%s%s" % (tp.topic, tp.partition, offset, self._config["group.id"],
                                             exc.args[0], group_denied(self._config))) from exc
        if result[0].error is not None:
            raise BeamConnectError("committing topic=%s partition=%d offset=%d failed: %s%s"
                                   % (tp.topic, tp.partition, offset, result[0].error,
                                      missing_acl(result[0].error, self._config, "READ", tp.topic)))
        self._committed[key] = offset
        _LOGGER.info("committed group.id=%s topic=%s partition=%d offset=%d", self._config["group.id"],
                     tp.topic, tp.partition, offset, extra=partition_fields(tp.topic, tp.partition, offset))
        metrics.LIVE.commit(tp.topic, tp.partition, offset)
        yield tp.topic, tp.partition, offset

    def teardown(self):
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


class CommitEachWrite(beam.PTransform):
    """Streaming commits: after each durable write, its partition's offset past the written records.

    Each :class:`~transforms.records.WriteResult` settles its source partition up to its ``last_offset``;
    results reach this step in offset order per partition (reading, converting, transforming, writing
    and committing a partition are one fused chain).
    """

    def __init__(self, consumer_config: Mapping[str, str]):
        super().__init__()
        if "group.id" not in consumer_config:
            raise ValueError("consumer_config needs group.id")
        self._config = dict(consumer_config)

    def expand(self, written):
        return written | "CommitEach" >> beam.ParDo(_CommitEachFn(self._config))
