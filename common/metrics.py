"""The names of the counters a run keeps, defined once for the steps that count and the summary that reads.

Names are Kafka Connect's sink task metric names. Beam counters have no labels, so each counter's name
carries its topic-partition (and, for failures, the stage): :func:`counter_name` builds it and
:func:`parse_counter_name` reads it back. Kafka topic names never contain ``/``.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from apache_beam.metrics import Metrics

NAMESPACE = "beamconnect"

READ = "sink-record-read-total"
"""Records read from Kafka."""
WRITTEN = "sink-record-send-total"
"""Records the sink wrote."""
TARGETS = "sink-write-targets-total"
"""Files, tables or topics written to, counted once per write result."""
FAILED = "total-record-failures"
"""Records that failed a stage (labelled with the stage)."""
SKIPPED = "total-records-skipped"
"""Failed records skipped (``errors.tolerance=all``), whether or not they were dead-lettered."""
FILTERED = "sink-record-filtered-total"
"""Records dropped on purpose by a transform (Filter)."""
DEAD_LETTERED = "deadletterqueue-produce-requests"
"""Records written to the dead-letter topic or store."""
RETRIES = "total-retries"
"""Retries of a retriable failure."""

METRICS = (READ, WRITTEN, TARGETS, FAILED, SKIPPED, FILTERED, DEAD_LETTERED, RETRIES)


@dataclasses.dataclass(frozen=True)
class CounterName:
    """A counter of one metric for one source topic-partition (and stage, for failures)."""

    metric: str
    topic: str
    partition: int
    stage: Optional[str] = None

    def __str__(self) -> str:
        return counter_name(self.metric, self.topic, self.partition, self.stage)


def counter_name(metric: str, topic: str, partition: int, stage: Optional[str] = None) -> str:
    """``sink-record-read-total/orders/3`` (with ``/STAGE`` after it for failures)."""
    if metric not in METRICS:
        raise ValueError("metric must be one of %s, got %r" % (", ".join(METRICS), metric))
    name = "%s/%s/%d" % (metric, topic, partition)
    return name if stage is None else "%s/%s" % (name, stage)


def parse_counter_name(name: str) -> Optional[CounterName]:
    """The parts of a name made by :func:`counter_name`; None for any other name."""
    parts = name.split("/")
    if len(parts) not in (3, 4) or parts[0] not in METRICS or not parts[2].isdigit():
        return None
    return CounterName(parts[0], parts[1], int(parts[2]), parts[3] if len(parts) == 4 else None)


def counter(metric: str, topic: str, partition: int, stage: Optional[str] = None):
    """The Beam counter of ``metric`` for a topic-partition."""
    return Metrics.counter(NAMESPACE, counter_name(metric, topic, partition, stage))
