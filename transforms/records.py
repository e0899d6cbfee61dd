"""The elements that flow between the stages of a connector pipeline.

A pipeline never moves single records: the Kafka source emits one :class:`KafkaBundle` per file-sized
window of a topic-partition, converters turn it into a :class:`ConvertedBundle` of Arrow arrays, and a
record that fails any stage leaves it as a :class:`FailedRecord` carrying its coordinates and raw bytes.
"""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any, Optional

import pyarrow as pa
from apache_beam import coders
from apache_beam.coders import coder_impl

Headers = Optional[list]


@dataclasses.dataclass
class KafkaBundle:
    """Raw records of one topic-partition whose offsets fall in one bundle window, in offset order.

    Attributes:
      topic: The topic the records were read from.
      partition: Their partition.
      window_start: First offset of the window the records belong to (windows are aligned to the
        planned start offset of the run, ``flush.size`` offsets wide).
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


@dataclasses.dataclass
class ConvertedBundle:
    """Records of one window after the key and value converters, as Arrow arrays.

    Attributes:
      topic: The record topic (single-message transforms may have renamed it).
      partition: The Kafka partition.
      window_start: As in :class:`KafkaBundle`.
      offsets: Offsets of the records kept, in order.
      timestamps: Their timestamps (ms).
      keys: Converted keys, one entry per kept record.
      values: Converted values (a ``StructArray`` for structured data), one entry per kept record.
      headers: Per record headers, as read.
    """

    topic: str
    partition: int
    window_start: int
    offsets: list
    timestamps: list
    keys: pa.Array
    values: pa.Array
    headers: list

    def __len__(self) -> int:
        return len(self.offsets)


@dataclasses.dataclass(frozen=True)
class FailedRecord:
    """A record that one stage could not handle, with everything needed to replay or inspect it.

    Attributes:
      topic: Source topic.
      partition: Source partition.
      offset: Source offset.
      stage: The stage that failed it, named by its config key (``value.converter``, ``format.class``).
      reason: What was wrong, for a person to read.
      key: Raw key bytes.
      value: Raw value bytes.
      headers: Raw headers.
    """

    topic: str
    partition: int
    offset: int
    stage: str
    reason: str
    key: Optional[bytes] = None
    value: Optional[bytes] = None
    headers: Headers = None

    def describe(self) -> str:
        return "%s failed on record %s: %s" % (
            self.stage, record_ref(self.topic, self.partition, self.offset), self.reason)


def record_ref(topic: str, partition: int, offset: int) -> str:
    """``topic=orders partition=3 offset=1042``: how records are named in errors and logs."""
    return "topic=%s partition=%d offset=%d" % (topic, partition, offset)


class _BundleCoder(coders.Coder):
    """Pickles bundles between fused stages, and estimates their size without encoding them.

    Beam samples the byte size of elements for its PCollection metrics by encoding them; for bundles of
    thousands of records that doubled the work of a run.
    """

    def _create_impl(self):
        return coder_impl.CallbackCoderImpl(
            lambda bundle: pickle.dumps(bundle, pickle.HIGHEST_PROTOCOL), pickle.loads,
            size_estimator=_estimated_size)

    def is_deterministic(self) -> bool:
        return False

    def to_type_hint(self):
        return Any


def _estimated_size(bundle) -> int:
    if isinstance(bundle, ConvertedBundle):
        return bundle.values.nbytes + 16 * len(bundle.offsets)
    return 100 * len(bundle.offsets)


coders.registry.register_coder(KafkaBundle, _BundleCoder)
coders.registry.register_coder(ConvertedBundle, _BundleCoder)
