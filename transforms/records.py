"""The elements that flow between the stages of a connector pipeline.

A pipeline never moves single records: the Kafka source emits one :class:`KafkaBundle` per window of a
topic-partition, converters turn it into a :class:`ConvertedBundle` of Arrow arrays, which
single-message transforms edit column by column, and the sink turns it into one :class:`WriteResult`.
A record that fails any stage becomes a :class:`FailedRecord` carrying its source coordinates and raw
bytes, which the error path (:mod:`transforms.errors`) skips, dead-letters or stops the run on.

Source and target stay apart: a bundle's ``topic`` and ``partition`` are where its records were read,
and offsets are committed, and stale output cleaned, for them; a transform that renames topics
(RegexRouter, TimestampRouter) sets each record's target topic, which sinks use to name what they write.
"""

from __future__ import annotations

import dataclasses
import pickle
import traceback
from typing import Any, Iterator, Optional, Sequence

import pyarrow as pa
from apache_beam import coders
from apache_beam.coders import coder_impl

Headers = Optional[list]


class Stage:
    """Kafka Connect's names of the stages a record can fail in (``__connect.errors.stage``)."""

    KEY_CONVERTER = "KEY_CONVERTER"
    VALUE_CONVERTER = "VALUE_CONVERTER"
    HEADER_CONVERTER = "HEADER_CONVERTER"
    TRANSFORMATION = "TRANSFORMATION"
    TASK_PUT = "TASK_PUT"
    KAFKA_CONSUME = "KAFKA_CONSUME"


@dataclasses.dataclass(frozen=True)
class Bundling:
    """How the Kafka read cuts each partition into the bundles a sink writes as one unit.

    Attributes:
      flush_size: ``flush.size``. Bounded runs: offsets per bundle, aligned to the run's planned start.
        Streaming: records per bundle at most.
      rotate_interval_ms: ``rotate.interval.ms``. Streaming: a bundle also ends before the first record
        this many ms (record time) past its first record; -1 for never.
      close_caught_up: Streaming: a bundle also ends once its partition is read to the end (the
        records a Kafka Connect task's ``put()`` gets at once), so that the records of a quiet topic
        are written within moments. Sinks whose writes cost little per call (databases, queues)
        set it; the file sink does not, since it would roll tiny files.
      rotate_schedule_ms: ``rotate.schedule.interval.ms``: a bundle also ends at the first point of a
        wall-clock grid (from midnight in ``timezone``, every this many ms) after it opened; -1 for
        never. Streaming: whenever the reader sees the point pass. Bounded runs that hold partial
        windows: their last window is due once a point passed after its first record's timestamp.
        The cut depends on the clock, so a sink that sets it removes, before a streaming run reads,
        what it wrote past the committed offsets (:meth:`sinks.base.Sink.recover`).
      timezone: The IANA time zone of that grid.
      idle_flush_ms: Streaming: a bundle also ends once its partition has received nothing for this
        many ms (wall clock); -1 for never.
      hold_partial: Bounded runs that hold partial windows (micro-batch mode, ``--hold-partial``):
        a partition's last window, cut short by the plan's end, is neither emitted nor committed
        unless ``rotate_schedule_ms`` says it is due; the next run reads it again from its start, so
        the chain of bundles is the one a single run over all the records makes. In those runs
        ``rotate_interval_ms`` also cuts windows, as in streaming. Sinks whose output depends on
        where bundles end (files) set it.
    """

    flush_size: int
    rotate_interval_ms: int = -1
    close_caught_up: bool = False
    rotate_schedule_ms: int = -1
    timezone: Optional[str] = None
    idle_flush_ms: int = -1
    hold_partial: bool = False


@dataclasses.dataclass
class KafkaBundle:
    """Raw records of one topic-partition whose offsets fall in one bundle window, in offset order.

    Attributes:
      topic: The topic the records were read from.
      partition: Their partition.
      window_start: First offset of the window the records belong to.
      offsets: Record offsets, strictly increasing; gaps are possible (compaction, transaction markers).
      timestamps: Record timestamps in milliseconds since the epoch.
      timestamp_types: Kafka timestamp types (1 create time, 2 log-append time, 0 not available).
      keys: Key bytes, None for a null key.
      values: Value bytes, None for a null value (tombstone).
      headers: Per record, a list of ``(name, bytes)`` pairs or None.
    """

    topic: str
    partition: int
    window_start: int
    offsets: list
    timestamps: list
    timestamp_types: list
    keys: list
    values: list
    headers: list

    def __len__(self) -> int:
        return len(self.offsets)

    def record_ref(self, index: int) -> str:
        """Names record ``index`` the way every error message does."""
        return record_ref(self.topic, self.partition, self.offsets[index])


@dataclasses.dataclass(frozen=True)
class RecordSchemas:
    """Each record's own value schema, when the records of a bundle carry different ones.

    A converter unifies the schemas of one bundle into ``value_schema``; a sink that writes one schema
    per file (``schema.compatibility``) needs each record's own. They hold only while the bundle's
    ``value_schema`` is still the unified field they refine (``of``): a transform that changes the
    value schema replaces it, and they then no longer apply.

    Attributes:
      of: The bundle's ``value_schema`` as the converter set it.
      fields: Per kept record, its own schema as an Arrow field (None for a null value).
    """

    of: pa.Field
    fields: tuple

    def take(self, indices: Sequence[int]) -> "RecordSchemas":
        return RecordSchemas(self.of, tuple(self.fields[i] for i in indices))


@dataclasses.dataclass
class ConvertedBundle:
    """Records of one window after the converters (and transforms), as Arrow arrays.

    Attributes:
      topic: The source topic.
      partition: The source partition.
      window_start: As in :class:`KafkaBundle`.
      offsets: Offsets of the records kept, in order.
      timestamps: Their timestamps (ms).
      keys: Converted keys, one entry per kept record.
      values: Converted values (a ``StructArray`` for structured data), one entry per kept record.
      headers: Per record headers, ``(name, bytes)`` pairs or None; transforms may edit them.
      key_schema: The keys' Connect schema as an Arrow field (type, nullability for ``optional``,
        Connect name, version, doc, parameters and default in its metadata, see
        :mod:`transforms.schema`); None for schemaless keys (JSON without schemas).
      value_schema: Likewise for the values.
      topics: Each record's target topic where a transform renamed it; None when every record goes to
        ``topic``.
      raw: The bundle as read, for the error path: a record failing a later stage is dead-lettered with
        its original bytes, headers and timestamp. None only in tests that build bundles by hand.
      rows: For each kept record, its index in ``raw``.
      last_offset: The last offset of the window that this bundle covers, kept or not: a write of the
        bundle settles every offset up to it (records dropped by a filter or dead-lettered included).
      record_schemas: Each record's own value schema when they differ (see :class:`RecordSchemas`);
        None when ``value_schema`` describes every record.
    """

    topic: str
    partition: int
    window_start: int
    offsets: list
    timestamps: list
    keys: pa.Array
    values: pa.Array
    headers: list
    key_schema: Optional[pa.Field] = None
    value_schema: Optional[pa.Field] = None
    topics: Optional[list] = None
    raw: Optional[KafkaBundle] = dataclasses.field(default=None, repr=False)
    rows: Optional[list] = None
    last_offset: Optional[int] = None
    record_schemas: Optional[RecordSchemas] = None

    def __post_init__(self):
        if self.last_offset is None and self.offsets:
            self.last_offset = self.offsets[-1]

    def __len__(self) -> int:
        return len(self.offsets)

    def record_ref(self, index: int) -> str:
        """Names kept record ``index`` by its source coordinates."""
        return record_ref(self.topic, self.partition, self.offsets[index])

    def value_schemas(self) -> Optional[tuple]:
        """Each kept record's own value schema (Arrow fields, None for null values), or None when
        they are not known apart from ``value_schema``: one schema, schemaless values, or a transform
        changed the values' schema."""
        own = self.record_schemas
        if own is None or own.of is not self.value_schema or len(own.fields) != len(self):
            return None
        return own.fields

    def topic_of(self, index: int) -> str:
        """The target topic of kept record ``index``."""
        return self.topic if self.topics is None else self.topics[index]

    def by_topic(self) -> Iterator[tuple[str, Optional[list]]]:
        """``(target topic, indices)`` in order of first appearance; indices None for all records."""
        if self.topics is None:
            yield self.topic, None
            return
        groups: dict = {}
        for index, name in enumerate(self.topics):
            groups.setdefault(name, []).append(index)
        if len(groups) == 1:
            yield next(iter(groups)), None
            return
        yield from groups.items()

    def take(self, indices: Sequence[int]) -> "ConvertedBundle":
        """A bundle of the kept records at ``indices`` (increasing), everything else alike."""
        positions = pa.array(indices, pa.int64())
        return dataclasses.replace(
            self,
            offsets=[self.offsets[i] for i in indices],
            timestamps=[self.timestamps[i] for i in indices],
            keys=self.keys.take(positions),
            values=self.values.take(positions),
            headers=[self.headers[i] for i in indices],
            topics=None if self.topics is None else [self.topics[i] for i in indices],
            rows=None if self.rows is None else [self.rows[i] for i in indices],
            record_schemas=(None if self.value_schemas() is None  # dropped once they no longer apply
                            else self.record_schemas.take(indices)),
        )

    def fail(self, index: int, stage: str, class_name: str, error: BaseException) -> "FailedRecord":
        """The failure of kept record ``index`` in ``stage``, with its raw bytes when known."""
        if self.raw is not None and self.rows is not None:
            return FailedRecord.of(self.raw, self.rows[index], stage, class_name, error)
        return FailedRecord(self.topic, self.partition, self.offsets[index], stage, class_name,
                            str(error), exception_class=exception_class(error),
                            timestamp=self.timestamps[index], headers=self.headers[index])


@dataclasses.dataclass(frozen=True)
class FailedRecord:
    """A record that one stage could not handle, with everything needed to replay or inspect it.

    Attributes:
      topic: Source topic.
      partition: Source partition.
      offset: Source offset.
      stage: The stage that failed it, one of :class:`Stage`.
      class_name: What failed it: the converter, transform or connector class as configured.
      reason: What was wrong, for a person to read (the exception message).
      exception_class: The exception's class: Kafka Connect's Java name where the error is one Connect
        also raises (``org.apache.kafka.connect.errors.DataException``), else the Python class.
      stacktrace: The traceback, for the dead-letter context headers.
      timestamp: The record's timestamp (ms).
      key: Raw key bytes.
      value: Raw value bytes.
      headers: Raw headers as read.
    """

    topic: str
    partition: int
    offset: int
    stage: str
    class_name: str
    reason: str
    exception_class: str = ""
    stacktrace: str = ""
    timestamp: Optional[int] = None
    key: Optional[bytes] = None
    value: Optional[bytes] = None
    headers: Headers = None

    @classmethod
    def of(cls, raw: KafkaBundle, index: int, stage: str, class_name: str,
           error: BaseException | str) -> "FailedRecord":
        """Record ``index`` of ``raw`` failed ``stage`` with ``error`` (an exception or a reason)."""
        if isinstance(error, BaseException):
            reason, exc_class, trace = str(error), exception_class(error), _trace(error)
        else:
            reason, exc_class, trace = error, "org.apache.kafka.connect.errors.DataException", ""
        return cls(raw.topic, raw.partition, raw.offsets[index], stage, class_name, reason,
                   exc_class, trace, raw.timestamps[index], raw.keys[index], raw.values[index],
                   raw.headers[index])

    def describe(self) -> str:
        """``VALUE_CONVERTER (JsonConverter) failed on record topic=t partition=0 offset=7: why``."""
        return "%s (%s) failed on record %s: %s" % (
            self.stage, self.class_name, record_ref(self.topic, self.partition, self.offset),
            self.reason)


@dataclasses.dataclass(frozen=True)
class WriteResult:
    """What a sink wrote of one bundle: read by the offset commit, the progress display and the summary.

    Attributes:
      topic: Source topic.
      partition: Source partition.
      first_offset: First source offset the write covers.
      last_offset: Last source offset it settles (the bundle's ``last_offset``): after it is durable,
        every offset up to it is written, skipped on purpose or dead-lettered.
      records: Records written.
      targets: What was written: file paths, tables, topics.
      size: Bytes written, where the sink knows.
      failed: Records the sink rejected (``errors.tolerance=all``), for the error path; they are
        dead-lettered before the write's offsets are committed.
    """

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    records: int
    targets: tuple = ()
    size: int = 0
    failed: tuple = ()


def record_ref(topic: str, partition: int, offset: int) -> str:
    """``topic=orders partition=3 offset=1042``: how records are named in errors and logs."""
    return "topic=%s partition=%d offset=%d" % (topic, partition, offset)


def exception_class(error: BaseException) -> str:
    """Kafka Connect's Java exception name for errors that carry one, else the Python class's name."""
    java = getattr(error, "java_class", None)
    if java:
        return java
    kind = type(error)
    return kind.__qualname__ if kind.__module__ == "builtins" else "%s.%s" % (kind.__module__,
                                                                              kind.__qualname__)


def _trace(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


class _BundleCoder(coders.Coder):
    """Pickles bundles between fused stages, and estimates their size without encoding them.

    Beam samples the byte size of elements for its PCollection metrics by encoding them; for bundles of
    thousands of records that doubled the work of a run.
    """

    def _create_impl(self):
        return coder_impl.CallbackCoderImpl(self.encode, self.decode, size_estimator=_estimated_size)

    def encode(self, bundle) -> bytes:
        return pickle.dumps(bundle, pickle.HIGHEST_PROTOCOL)

    def decode(self, data: bytes):
        return pickle.loads(data)

    def is_deterministic(self) -> bool:
        return False

    def to_type_hint(self):
        return Any


def _estimated_size(bundle) -> int:
    if isinstance(bundle, ConvertedBundle):
        return bundle.values.nbytes + 16 * len(bundle.offsets)
    return 100 * len(getattr(bundle, "offsets", ()))  # a read's held-window marker has none


coders.registry.register_coder(KafkaBundle, _BundleCoder)
coders.registry.register_coder(ConvertedBundle, _BundleCoder)
