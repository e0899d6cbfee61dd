"""What a queue sink publishes of a bundle: one :class:`Message` per kept record, with a stable id.

A message carries the record's key and value as bytes (``raw``: as read; ``string``/``json``: the
converted data, :mod:`sinks.encoding`), its headers, its target (the record's topic after the
transforms, which a sink may use as a routing key or subject) and its Kafka coordinates. Its id,
``<topic>-<partition>-<offset>`` of the *source* record, is the same on every replay: it is what lets a
consumer, or a broker that deduplicates (Artemis, NATS JetStream), drop a message published twice.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence, Tuple

from common.errors import BeamConnectError
from sinks.encoding import encode
from transforms.records import ConvertedBundle

#: How a queue sink writes keys and values: the bytes as read, or the converted data as text or JSON.
FORMATS = ("raw", "string", "json")


@dataclasses.dataclass(frozen=True)
class Message:
    """One record to publish.

    Attributes:
      topic: The source topic (read from Kafka).
      partition: The source partition.
      offset: The source offset.
      timestamp: The record's timestamp (epoch milliseconds), or None.
      target: The record's topic after the transforms (``topic`` unless a router renamed it).
      key: The key as bytes, or None.
      value: The value as bytes, or None (a tombstone).
      headers: ``(name, value bytes or None)`` of each header, in order.
    """

    topic: str
    partition: int
    offset: int
    timestamp: Optional[int]
    target: str
    key: Optional[bytes]
    value: Optional[bytes]
    headers: Tuple[Tuple[str, Optional[bytes]], ...] = ()

    @property
    def id(self) -> str:
        """``<topic>-<partition>-<offset>``: the same for every publish of this record."""
        return "%s-%d-%d" % (self.topic, self.partition, self.offset)

    @property
    def size(self) -> int:
        """Bytes of key and value, for the run's byte counts."""
        return len(self.key or b"") + len(self.value or b"")

    def describe(self) -> str:
        """``topic=T partition=P offset=O``, for errors."""
        return "topic=%s partition=%d offset=%d" % (self.topic, self.partition, self.offset)


def messages(bundle: ConvertedBundle, key_format: str = "raw",
             value_format: str = "raw") -> List[Message]:
    """The :class:`Message` of every kept record of ``bundle``, in offset order.

    Raises:
      BeamConnectError: ``raw`` is asked for but the bundle carries no raw records.
    """
    keys = _column(bundle, "keys", key_format)
    values = _column(bundle, "values", value_format)
    timestamps = bundle.timestamps
    return [Message(bundle.topic, bundle.partition, int(bundle.offsets[i]),
                    None if timestamps[i] is None else int(timestamps[i]), bundle.topic_of(i),
                    keys[i], values[i], tuple(bundle.headers[i]) if bundle.headers[i] else ())
            for i in range(len(bundle))]


def describe_range(batch: Sequence[Message]) -> str:
    """``topic=T partition=P offsets A..B``, for errors about a batch."""
    first, last = batch[0], batch[-1]
    return "topic=%s partition=%d offsets %d..%d" % (first.topic, first.partition, first.offset,
                                                      last.offset)


def _column(bundle: ConvertedBundle, name: str, fmt: str) -> list:
    if fmt == "raw":
        if bundle.raw is None or bundle.rows is None:
            raise BeamConnectError("a raw %s format needs the records as read, which the bundle of "
                                   "topic=%s partition=%d does not carry"
                                   % (name[:-1], bundle.topic, bundle.partition))
        raw = getattr(bundle.raw, name)
        return [raw[row] for row in bundle.rows]
    return [encode(v, fmt) for v in getattr(bundle, name).to_pylist()]
