"""Assembling a connector pipeline: read, convert, transform, write, settle, commit, as named steps.

Every stage hands the records it fails to one :class:`~transforms.errors.FailureRouter` built from the
connector's ``errors.*`` keys; dead letters are written before the stage emits its bundle, and the
sink's rejected records are routed right after its write, so all of them are durable before the offset
commit (bounded runs: one commit after everything; streaming: one commit per written bundle). A sink
that commits its own offsets (``Sink.commits_offsets``: an offsets table, a Kafka transaction) is the
truth the planner starts from; the group's offsets are still committed after its writes, so lag tools
and ``kafka-consumer-groups`` see how far it got.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import apache_beam as beam

from common import metrics
from pipelines.config.connector import ConnectorConfig
from pipelines.runners import LOCAL_RUNNERS
from sinks.base import Mode, WriteContext
from transforms.convert import ConvertRecords
from transforms.errors import FailureRouter
from transforms.kafka.commit import CommitEachWrite, CommitOffsets
from transforms.kafka.planning import PartitionPlan
from transforms.kafka.read import HoldPartial, ReadFromKafka
from transforms.kafka.rotation import Schedule
from transforms.kafka.unbounded import ReadFromKafkaUnbounded
from transforms.records import ConvertedBundle, WriteResult
from transforms.smt.apply import ApplyTransforms


@dataclasses.dataclass
class Built:
    """The PCollections a caller may wait on or inspect."""

    written: beam.PCollection
    committed: beam.PCollection


def reads_in_one_process(pipeline: beam.Pipeline) -> bool:
    runner = pipeline.options.get_all_options().get("runner") or "DirectRunner"
    return runner.split(".")[-1] in LOCAL_RUNNERS and (
        pipeline.options.get_all_options().get("direct_num_workers") or 1) <= 1


class _SettleFn(beam.DoFn):
    """Routes the records a sink rejected, counts what it wrote, and passes the result on."""

    def __init__(self, router: FailureRouter):
        self._router = router

    def setup(self):
        self._router.setup()

    def teardown(self):
        self._router.teardown()

    def process(self, result: WriteResult):
        if result.failed:
            self._router.route(list(result.failed))
            result = dataclasses.replace(result, failed=())
        metrics.LIVE.write_done(result.topic, result.partition, result.last_offset)
        metrics.counter(metrics.WRITTEN, result.topic, result.partition).inc(result.records)
        metrics.counter(metrics.TARGETS, result.topic, result.partition).inc(len(result.targets))
        yield result


def _mark_write(bundle):
    """Notes when a bundle reaches the sink, for the time writes take (``put-batch-*-time-ms``)."""
    metrics.LIVE.write_started(bundle.topic, bundle.partition, bundle.last_offset)
    return bundle


def process_bundles(config: ConnectorConfig, bundles, mode: Mode, plans: Sequence[PartitionPlan]):
    """Convert, transform, write and settle raw bundles: the steps every mode (and a replay) shares."""
    router = FailureRouter(config.errors, config.dead_letters)
    converted = bundles | "ConvertRecords" >> ConvertRecords(
        config.key_converter, config.value_converter, router, config.key_converter_class,
        config.value_converter_class)
    if config.transforms:
        converted = converted | "ApplyTransforms" >> ApplyTransforms(config.transforms, router)
    context = WriteContext(mode, tuple(plans), config.errors, config.connector_class, router)
    converted = converted | "MarkWrites" >> beam.Map(_mark_write).with_output_types(ConvertedBundle)
    written = converted | "Write" >> config.sink.write(config.sink_config, context)
    return written | "SettleWrites" >> beam.ParDo(_SettleFn(router)).with_output_types(WriteResult)


def build_pipeline(pipeline: beam.Pipeline, config: ConnectorConfig,
                   plans: Sequence[PartitionPlan], hold_partial: bool = False,
                   tasks: Optional[int] = None) -> Built:
    """Adds a bounded run's steps to ``pipeline`` for the planned partitions.

    ``hold_partial`` (micro-batch mode, ``--hold-partial``), for a sink whose bundling asks for it:
    each partition's partial last window is left, uncommitted, for the next run. ``tasks``: read as
    work items for that many tasks (:class:`~pipelines.runners.Execution`), else the splittable read.
    """
    bundling = config.sink.bundling(config.sink_config)
    hold = None
    if hold_partial and bundling.hold_partial:
        hold = HoldPartial(bundling.rotate_interval_ms,
                           Schedule(bundling.rotate_schedule_ms, bundling.timezone))
    read = pipeline | "ReadFromKafka" >> ReadFromKafka(
        plans, config.consumer_config, bundling.flush_size,
        read_ahead=tasks is None and reads_in_one_process(pipeline), hold=hold, tasks=tasks)
    bundles, held = (read, None) if hold is None else (read["bundles"], read["held"])
    written = process_bundles(config, bundles, Mode.BATCH, plans)
    committed = written | "CommitOffsets" >> CommitOffsets(config.consumer_config, plans, held)
    return Built(written=written, committed=committed)


def build_streaming_pipeline(pipeline: beam.Pipeline, config: ConnectorConfig,
                             plans: Sequence[PartitionPlan]) -> Built:
    """Streaming: an unbounded read from each plan's start; each bundle is committed once written."""
    bundling = config.sink.bundling(config.sink_config)
    bundles = pipeline | "ReadFromKafka" >> ReadFromKafkaUnbounded(
        plans, config.consumer_config, bundling.flush_size, bundling.rotate_interval_ms,
        close_caught_up=bundling.close_caught_up,
        schedule=Schedule(bundling.rotate_schedule_ms, bundling.timezone),
        idle_flush_ms=bundling.idle_flush_ms)
    written = process_bundles(config, bundles, Mode.STREAMING, plans)
    committed = written | "CommitOffsets" >> CommitEachWrite(config.consumer_config)
    return Built(written=written, committed=committed)
