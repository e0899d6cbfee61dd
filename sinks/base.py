"""The sink contract: what every sink family provides, and the write loop they share.

A sink family (files, JDBC, Elasticsearch...) is one module or package exposing a :class:`Sink`. The
connector config names it with ``connector.class``; :data:`sinks.SINKS` maps every accepted name to it.

What flows in and out: the pipeline hands ``write()`` one :class:`~transforms.records.ConvertedBundle`
per window of a source topic-partition (possibly empty, when a filter or the error path took all its
records) and expects exactly one :class:`~transforms.records.WriteResult` per bundle back, once that
bundle is durably written. The offset commit reads nothing else: a bundle's result settles every source
offset up to its ``last_offset``. Records the sink rejects travel in ``WriteResult.failed`` and are
routed by the error path before the commit.

:class:`BundleWriter` is the loop most sinks need: subclass it, implement ``write_records``, and it
handles empty bundles, retriable failures (``errors.retry.timeout``) and rejected records, splitting a
failing bundle until the bad records are isolated so that the good ones land.
"""

from __future__ import annotations

import abc
import dataclasses
import enum
from typing import Any, ClassVar, Mapping, Optional, Sequence

import apache_beam as beam

from common.configdef import ConfigDef
from common.errors import DataError, RejectedRecord
from transforms.errors import ErrorPolicy, FailureRouter, retrying
from transforms.records import Bundling, ConvertedBundle, Stage, WriteResult


class Mode(enum.Enum):
    """How the pipeline runs, which decides what a sink may do at the end.

    BATCH: a bounded run over planned offset ranges; after every write, the sink may clean up what
      earlier, killed runs left inside those ranges (the plans tell them).
    STREAMING: an unbounded run; each bundle's result is committed as it arrives.
    REPLAY: a bounded run over dead letters: bundles hold scattered offsets, so no range cleanup.
    """

    BATCH = "batch"
    STREAMING = "streaming"
    REPLAY = "replay"


@dataclasses.dataclass(frozen=True)
class ConnectorContext:
    """What a sink may need of the connector's own keys, already validated and resolved.

    Attributes:
      name: The connector's ``name``.
      topics: ``topics``.
      topics_regex: ``topics.regex``, or None.
      consumer_config: The source cluster's librdkafka settings: ``bootstrap.servers`` (the command
        line's when given), ``group.id`` and ``consumer.override.*``, translated.
      producer_settings: ``producer.override.*``, translated to librdkafka's names.
      transforms: ``(alias, type)`` of each configured transform, in order (``type`` as Kafka's full
        class name).
      sink_keys: The raw keys (and values) under the sink's :attr:`Sink.key_prefixes`.
    """

    name: str
    topics: tuple = ()
    topics_regex: Optional[str] = None
    consumer_config: Mapping[str, str] = dataclasses.field(default_factory=dict)
    producer_settings: Mapping[str, str] = dataclasses.field(default_factory=dict)
    transforms: tuple = ()
    sink_keys: Mapping[str, str] = dataclasses.field(default_factory=dict)


class Sink(abc.ABC):
    """A sink family.

    Attributes:
      config_def: The sink's own keys (validated with the connector's common keys).
      ignored_keys: Kafka Connect keys of this sink that are accepted but have no effect here, each with
        the reason printed in the warning.
      commits_offsets: Whether the sink commits source offsets itself, in the same transaction as its
        writes (an offsets table, a Kafka transaction). The planner then starts each partition from
        :meth:`stored_offsets` (the sink's truth), and the group's offsets, still committed after the
        writes, only inform lag tools.
      target_noun: What a write result's targets are, for the run summary (``files``, ``tables``).
      key_prefixes: Prefixes of the sink's own keys whose names depend on the config
        (``topic.<topic>.<keyspace>.<table>.mapping``): validation accepts them, and the sink reads
        them from ``ConnectorContext.sink_keys`` in :meth:`configure`, refusing those it does not know.
    """

    config_def: ClassVar[ConfigDef]
    ignored_keys: ClassVar[Mapping[str, str]] = {}
    key_prefixes: ClassVar[tuple] = ()
    commits_offsets: ClassVar[bool] = False
    target_noun: ClassVar[str] = "targets"

    @abc.abstractmethod
    def parse(self, values: Mapping[str, Any]) -> Any:
        """Builds the sink's frozen config from parsed values; raises ConfigError on conflicts."""

    def configure(self, values: Mapping[str, Any], connector: ConnectorContext) -> Any:
        """Builds the sink's config from its parsed keys and the connector's (for sinks that need the
        connector's name, topics or Kafka settings); :meth:`parse` for the others."""
        return self.parse(values)

    def check(self, config: Any) -> None:
        """Fails with a BeamConnectError when the external system cannot be used (a missing bucket or
        database, refused credentials); run before any record is read."""

    def stored_offsets(self, config: Any, partitions: Sequence[tuple]) -> Mapping[tuple, int]:
        """For a sink that commits its own offsets: the next offset to read of each (topic,
        partition) as its own store has it (an offsets table, a transaction's offsets); partitions it
        has none for are left out, and start from the group's committed offset or
        ``auto.offset.reset``."""
        return {}

    def offsets_location(self, config: Any) -> Optional[str]:
        """Where a sink that keeps its own offsets keeps them, when those and not the group's say
        where a run starts (``offsets reset`` refuses then, naming it); None when the group's
        committed offsets are the truth."""
        return None

    def describe_plan(self, config: Any, plan) -> list:
        """For ``beamconnect plan``: lines saying what a run would write for one partition's plan
        (``topic``, ``partition``, ``start``, ``end``); nothing by default."""
        return []

    def recover(self, config: Any, plans: Sequence) -> None:
        """Streaming runs, before any record is read: removes what earlier runs wrote past the
        committed offsets of the planned partitions, for sinks whose writes are named by where a
        bundle starts and whose bundles may end on the clock (files); nothing by default."""

    @abc.abstractmethod
    def bundling(self, config: Any) -> Bundling:
        """How the source should cut partitions into bundles for this sink."""

    @abc.abstractmethod
    def write(self, config: Any, context: "WriteContext") -> beam.PTransform:
        """The transform from converted bundles to write results, one per bundle; safe to replay."""


@dataclasses.dataclass(frozen=True)
class WriteContext:
    """What a sink's write transform is told about the run.

    Attributes:
      mode: How the pipeline runs.
      plans: The partition plans (bounded runs: the ranges read and committed; streaming: where each
        partition started).
      errors: The connector's ``errors.*`` policy (retries of retriable failures, tolerance).
      connector_class: ``connector.class`` as configured, for the error path.
      router: The error path. :class:`BundleWriter` hands it the records a write rejects before it
        writes the rest of their bundle, so their dead letters are durable before a sink that
        commits its own offsets can commit them; without one, they travel in ``WriteResult.failed``.
    """

    mode: Mode
    plans: Sequence = ()
    errors: ErrorPolicy = ErrorPolicy()
    connector_class: str = ""
    router: Optional[FailureRouter] = None


class BundleWriter(beam.DoFn):
    """A sink's write DoFn: one :class:`WriteResult` per bundle, with rejected records isolated.

    Subclasses implement :meth:`write_records` (and may use ``setup``/``teardown`` for clients, calling
    ``super()``). A bundle whose write raises :class:`~common.errors.RejectedRecord` is written again
    without that record; one whose write raises another :class:`~common.errors.DataError` is split in
    halves, each written on its own, down to single records, so that only the records that fail are
    left out; :class:`~common.errors.RetriableError` is retried per ``errors.retry.timeout``.
    Replays stay idempotent as long as ``write_records`` is: a bundle that fails the same way splits
    the same way.
    """

    def __init__(self, context: WriteContext):
        self._context = context

    @abc.abstractmethod
    def write_records(self, bundle: ConvertedBundle) -> tuple[tuple, int, int]:
        """Writes a non-empty bundle durably; returns ``(targets, bytes written, records written)``
        (records a sink skips on purpose, such as ignored tombstones, are not written).

        Raises:
          RejectedRecord: one record cannot be written (the others are written on a retry).
          DataError: some record cannot be written, without saying which.
          RetriableError: the write may pass if tried again.
        """

    def process(self, bundle: ConvertedBundle):
        yield self.write_bundle(bundle)

    def teardown(self):
        if self._context.router is not None:
            self._context.router.teardown()

    def write_bundle(self, bundle: ConvertedBundle) -> WriteResult:
        first = bundle.offsets[0] if len(bundle) else bundle.window_start
        last = bundle.last_offset if bundle.last_offset is not None else first - 1
        if not len(bundle):
            return WriteResult(bundle.topic, bundle.partition, first, last, 0)
        parts, failed = [], []
        self._isolate(bundle, parts, failed)
        return WriteResult(bundle.topic, bundle.partition, first, last, sum(p[2] for p in parts),
                           tuple(t for p in parts for t in p[0]), sum(p[1] for p in parts),
                           tuple(failed))

    def _isolate(self, bundle: ConvertedBundle, parts: list, failed: list) -> None:
        context = self._context
        try:
            parts.append(retrying(lambda: self.write_records(bundle), context.errors,
                                    "writing records %d..%d of topic=%s partition=%d"
                                    % (bundle.offsets[0], bundle.offsets[-1], bundle.topic,
                                       bundle.partition),
                                    topic=bundle.topic, partition=bundle.partition))
        except RejectedRecord as rejected:
            offsets = set(rejected.offsets)
            indices = [i for i, o in enumerate(bundle.offsets) if o in offsets]
            if not indices:
                raise
            rejections = [bundle.fail(i, Stage.TASK_PUT, context.connector_class, rejected)
                          for i in indices]
            if context.router is not None:  # dead-lettered (or the run stopped) before the rest lands
                context.router.route(rejections)
            else:
                failed.extend(rejections)
            if context.errors.tolerance == "none":
                return  # the error path stops the run on these: no need to write the rest
            rest = [i for i in range(len(bundle)) if i not in set(indices)]
            if rest:
                self._isolate(bundle.take(rest), parts, failed)
        except DataError as error:
            if len(bundle) == 1:
                rejection = bundle.fail(0, Stage.TASK_PUT, context.connector_class, error)
                if context.router is not None:
                    context.router.route([rejection])
                else:
                    failed.append(rejection)
                return
            half = len(bundle) // 2
            self._isolate(bundle.take(range(half)), parts, failed)
            self._isolate(bundle.take(range(half, len(bundle))), parts, failed)
