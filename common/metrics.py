"""The names of the counters a run keeps, defined once for the steps that count and the summary that reads.

Names are Kafka Connect's sink task metric names. Beam counters have no labels, so each counter's name
carries its topic-partition (and, for failures, the stage): :func:`counter_name` builds it and
:func:`parse_counter_name` reads it back. Kafka topic names never contain ``/``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Dict, Optional, Tuple

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


def counter(metric: str, topic: str, partition: int, stage: Optional[str] = None) -> "Counter":
    """The counter of ``metric`` for a topic-partition: a Beam counter, mirrored in :data:`LIVE`."""
    return Counter(Metrics.counter(NAMESPACE, counter_name(metric, topic, partition, stage)),
                   CounterName(metric, topic, partition, stage))


class Counter:
    """Increments a Beam counter and this process's :data:`LIVE` totals together."""

    __slots__ = ("_beam", "_name")

    def __init__(self, beam_counter, name: CounterName):
        self._beam = beam_counter
        self._name = name

    def inc(self, n: int = 1) -> None:
        self._beam.inc(n)
        if LIVE.enabled:
            LIVE.add(self._name, n)


class Live:
    """What this process's steps counted and did so far, for the live exporter and status page.

    Beam's counters reach the driver only when a run ends (and, on a remote runner, only through the
    runner's monitoring); these totals are kept as steps count, in the process they run in. On the
    local runners (DirectRunner, Prism with loopback workers) that is the process serving the metrics,
    so they are live there; on remote runners they stay empty and the Beam counters, under the same
    names, are what the runner shows.

    Besides the counters: the plans of the current run (partition count, planned ends), each
    partition's read position and known log end (lag), committed offsets with their time, the time of
    the last failure, and the time bundles spend in the sink's write.

    Nothing is kept unless :attr:`enabled` (the monitoring server turns it on while it serves), so
    that a run without ``--metrics-port`` pays one attribute check per count.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.enabled = False
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.counts: Dict[CounterName, int] = {}
            self.positions: Dict[Tuple[str, int], int] = {}
            self.log_ends: Dict[Tuple[str, int], int] = {}
            self.starts: Dict[Tuple[str, int], int] = {}
            self.committed: Dict[Tuple[str, int], int] = {}
            self.commits: Dict[Tuple[str, int], int] = {}
            self.last_commit_ms: Dict[Tuple[str, int], int] = {}
            self.last_error_ms = 0
            self.writing: Dict[Tuple[str, int], list] = {}  # (last offset, monotonic start) in order
            self.put_times_ms: Dict[Tuple[str, int], list] = {}  # [count, total ms, max ms]

    def add(self, name: CounterName, n: int) -> None:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + n
            if name.metric == FAILED:
                self.last_error_ms = int(time.time() * 1000)

    def plan(self, plans) -> None:
        """A run starts reading ``plans`` (each with ``topic``, ``partition``, ``start``, ``end``)."""
        if not self.enabled:
            return
        with self._lock:
            for p in plans:
                key = (p.topic, p.partition)
                self.starts.setdefault(key, p.start)
                self.positions.setdefault(key, p.start)
                self.log_ends[key] = max(self.log_ends.get(key, 0), p.end)

    def read(self, topic: str, partition: int, next_offset: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            key = (topic, partition)
            self.positions[key] = max(self.positions.get(key, 0), next_offset)
            self.log_ends[key] = max(self.log_ends.get(key, 0), next_offset)

    def log_end(self, topic: str, partition: int, end: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            key = (topic, partition)
            self.log_ends[key] = max(self.log_ends.get(key, 0), end)

    def commit(self, topic: str, partition: int, offset: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            key = (topic, partition)
            self.committed[key] = offset
            self.commits[key] = self.commits.get(key, 0) + 1
            self.last_commit_ms[key] = int(time.time() * 1000)

    def write_started(self, topic: str, partition: int, last_offset: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            self.writing.setdefault((topic, partition), []).append((last_offset, time.monotonic()))

    def write_done(self, topic: str, partition: int, last_offset: int) -> None:
        """A write covering offsets up to ``last_offset`` is durable: times its oldest bundle."""
        if not self.enabled:
            return
        with self._lock:
            key = (topic, partition)
            pending = self.writing.get(key, [])
            done = [started for offset, started in pending if offset <= last_offset]
            if not done:
                return
            self.writing[key] = [(o, s) for o, s in pending if o > last_offset]
            took = (time.monotonic() - min(done)) * 1000.0
            stats = self.put_times_ms.setdefault(key, [0, 0.0, 0.0])
            stats[0] += 1
            stats[1] += took
            stats[2] = max(stats[2], took)

    def snapshot(self) -> dict:
        """A consistent copy of everything, for one scrape or one status page refresh."""
        with self._lock:
            return {"counts": dict(self.counts), "positions": dict(self.positions),
                    "log_ends": dict(self.log_ends), "starts": dict(self.starts),
                    "committed": dict(self.committed), "commits": dict(self.commits),
                    "last_commit_ms": dict(self.last_commit_ms), "last_error_ms": self.last_error_ms,
                    "put_times_ms": {k: tuple(v) for k, v in self.put_times_ms.items()}}


#: This process's live totals (see :class:`Live`).
LIVE = Live()
