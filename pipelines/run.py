"""One bounded run of a connector: plan, run the pipeline, report."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import importlib
import logging
import sys
import threading
import time
from typing import Optional, Sequence, TextIO, Union

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from confluent_kafka import TopicPartition

from common import metrics
from pipelines import runners
from pipelines.build import build_pipeline, build_streaming_pipeline
from pipelines.config.connector import ConnectorConfig
from common.errors import BeamConnectError, ConfigError
from pipelines.progress import Progress, summary_table
from transforms.kafka.planning import (START_POLICIES, PartitionPlan, Planner, group_consumer,
                                       retrying)

_LOGGER = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """Command-line choices of one run.

    Attributes:
      start: ``committed`` (default), ``earliest``, ``latest`` or a timestamp.
      until: Read only records before this time.
      max_records: Plan at most this many offsets in total.
      beam_args: Beam pipeline options (``--runner`` etc.).
      hold_partial: Leave each partition's partial last window, uncommitted, for the next run (for
        sinks whose bundling asks for it: files); micro-batch mode and ``--hold-partial``.
    """

    start: Union[str, datetime.datetime] = "committed"
    until: Optional[datetime.datetime] = None
    max_records: Optional[int] = None
    beam_args: Sequence[str] = ()
    hold_partial: bool = False


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What one bounded run did.

    Attributes:
      plans: The partition plans.
      counters: The run's counters, by :class:`~common.metrics.CounterName`; None where the runner
        reports no metrics (then ``records_read`` is the planned offsets).
      committed: The group's committed offsets afterwards, by (topic, partition).
      elapsed: Seconds, planning included.
      target_noun: What the sink writes (``files``), for the summary.
    """

    plans: tuple
    counters: dict
    committed: dict
    elapsed: float
    target_noun: str = "targets"

    def total(self, metric: str, stage: Optional[str] = None) -> int:
        """The sum of a metric over every partition (and, for failures, one stage or all)."""
        if self.counters is None:
            return sum(p.size for p in self.plans) if metric == metrics.READ else 0
        return sum(v for k, v in self.counters.items()
                   if k.metric == metric and (stage is None or k.stage == stage))

    @property
    def records_read(self) -> int:
        return self.total(metrics.READ)

    @property
    def records_written(self) -> int:
        return self.total(metrics.WRITTEN)

    @property
    def records_failed(self) -> int:
        return self.total(metrics.FAILED)

    @property
    def targets_written(self) -> int:
        return self.total(metrics.TARGETS)

    files_written = targets_written

    def table(self) -> str:
        return summary_table(self.plans, self.counters, self.committed, self.elapsed,
                             self.target_noun)


def parse_start(value: str) -> Union[str, datetime.datetime]:
    """``--from``: committed, earliest, latest or an ISO 8601 timestamp."""
    if value in START_POLICIES:
        return value
    try:
        return parse_time(value)
    except ConfigError:
        raise ConfigError("--from must be one of %s or an ISO 8601 timestamp, got %r"
                          % (", ".join(START_POLICIES), value)) from None


def parse_time(value: str) -> datetime.datetime:
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError("expected an ISO 8601 timestamp such as 2026-01-31T12:00:00Z, got %r"
                          % value) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def check_runner(beam_args: Sequence[str]) -> None:
    """Fails early, naming the extra to install, when the chosen runner's libraries are missing."""
    options = PipelineOptions(list(beam_args))
    runner = options.get_all_options().get("runner") or ""
    if runner.split(".")[-1] in ("DataflowRunner", "TestDataflowRunner"):
        try:
            for module in ("apitools", "google.cloud.dataflow_v1beta3"):
                importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError("--runner %s needs the Dataflow client libraries (%s); install them with "
                              "pip install 'beamconnect[gcp]'" % (runner, exc.name)) from None


def plan_run(config: ConnectorConfig, options: RunOptions) -> list:
    planner = Planner(config.consumer_config)
    topics = planner.topics(config.topics, config.topics_regex)
    if not topics:
        raise BeamConnectError("topics.regex=%r matches no topic on bootstrap.servers=%s"
                               % (config.topics_regex, config.consumer_config["bootstrap.servers"]))
    stored = (functools.partial(config.sink.stored_offsets, config.sink_config)
              if config.sink.commits_offsets else None)
    plans = planner.plan(topics, start=options.start, until=options.until,
                         reset=config.auto_offset_reset, max_records=options.max_records,
                         stored=stored)
    metrics.LIVE.plan(plans)  # partition count, log ends and start positions for the live metrics
    return plans


def run_connector(config: ConnectorConfig, options: RunOptions,
                  stream: Optional[TextIO] = None) -> RunResult:
    """Plans and runs one bounded run; returns its counters and the committed offsets."""
    stream = stream or sys.stderr
    started = time.monotonic()
    check_runner(options.beam_args)
    config.sink.check(config.sink_config)
    plans = plan_run(config, options)
    planned = sum(p.size for p in plans)
    _LOGGER.info("planned %d offsets in %d topic-partitions for group.id=%s", planned, len(plans),
                 config.group_id)
    if planned == 0:  # nothing new: no pipeline to start, nothing to commit
        return RunResult(tuple(plans), {}, committed_offsets(config, plans),
                         time.monotonic() - started, config.sink.target_noun)
    with runners.execution(options.beam_args, config.tasks_max) as execution:
        pipeline_options = PipelineOptions(list(execution.args))
        pipeline = beam.Pipeline(runner=runners.batch_runner(pipeline_options),
                                 options=pipeline_options)
        build_pipeline(pipeline, config, plans, hold_partial=options.hold_partial,
                       tasks=execution.tasks)
        with Progress(plans, stream):
            result = pipeline.run()
            try:
                result.wait_until_finish()
            finally:
                runners.finish(result)
    return RunResult(tuple(plans), counters_of(result), committed_offsets(config, plans),
                     time.monotonic() - started, config.sink.target_noun)


def counters_of(result) -> Optional[dict]:
    """A finished pipeline's beamconnect counters, by :class:`~common.metrics.CounterName`; None
    where the runner reports no metrics (Dask)."""
    try:
        found = result.metrics().query(MetricsFilter())
    except (NotImplementedError, AttributeError):
        return None
    counters = {}
    for counter in found["counters"]:
        if counter.key.metric.namespace == metrics.NAMESPACE:
            name = metrics.parse_counter_name(counter.key.metric.name)
            if name is not None:
                counters[name] = counters.get(name, 0) + (counter.committed or counter.attempted or 0)
    return counters


def committed_offsets(config: ConnectorConfig, plans: Sequence[PartitionPlan]) -> dict:
    """The group's committed offsets of the planned partitions, read back from Kafka."""
    if not plans:
        return {}
    consumer = group_consumer(config.consumer_config)
    try:
        tps = retrying(lambda: consumer.committed(
            [TopicPartition(p.topic, p.partition) for p in plans], timeout=15), 30.0)
    finally:
        consumer.close()
    return {(tp.topic, tp.partition): tp.offset for tp in tps if tp.offset >= 0}


def run_streaming(config: ConnectorConfig, options: RunOptions,
                  stream: Optional[TextIO] = None) -> None:
    """Runs one unbounded pipeline until KeyboardInterrupt (SIGINT/SIGTERM) or a failure.

    Each file commits its own offsets once written, so stopping at any point loses nothing: a window
    that was not committed is read again by the next run. Before anything is read, the sink removes
    what earlier runs wrote past the committed offsets (:meth:`~sinks.base.Sink.recover`), so a window
    that closed on the clock and was written but not committed is rebuilt from the committed offset,
    never written twice. On a runner whose ``run()`` returns (portable, Dataflow) the pipeline is
    cancelled when this process is told to stop.
    """
    check_runner(options.beam_args)
    runners.check_streaming(options.beam_args)
    config.sink.check(config.sink_config)
    plans = plan_run(config, options)
    config.sink.recover(config.sink_config, plans)
    _LOGGER.info("streaming %d topic-partitions for group.id=%s from offsets %s", len(plans),
                 config.group_id, ", ".join("%s/%d@%d" % (p.topic, p.partition, p.start)
                                            for p in plans))
    args = list(options.beam_args) or ["--runner", "DirectRunner"]
    pipeline = beam.Pipeline(options=PipelineOptions(args + ["--streaming"]))
    build_streaming_pipeline(pipeline, config, plans)
    result = None
    with Progress(plans, stream, unbounded=True):
        try:
            result = pipeline.run()  # DirectRunner runs the pipeline right here, until interrupted
            done = threading.Event()
            failure = []

            def wait():
                try:
                    result.wait_until_finish()
                except BaseException as exc:  # reported by the caller's thread
                    failure.append(exc)
                finally:
                    done.set()

            threading.Thread(target=wait, name="pipeline", daemon=True).start()
            while not done.wait(0.5):
                pass
            if failure:
                raise failure[0]
        except KeyboardInterrupt:
            _LOGGER.info("streaming stopped")
            if result is not None:
                try:
                    result.cancel()
                except Exception as exc:  # the pipeline may be gone already
                    _LOGGER.debug("cancel: %s", exc)
