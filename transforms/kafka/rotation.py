"""When a window closes for reasons other than its records: the wall-clock schedule and idle partitions.

``rotate.schedule.interval.ms`` closes an open window at the first point of a wall-clock grid after the
window opened; the grid starts at midnight in ``timezone`` and steps by the interval, as Confluent's
storage connectors compute it (``DateTimeUtils.getNextTimeAdjustedByDay``). ``idle.flush.ms`` closes the
open window of a partition that has received nothing for that long.

Both depend on when a record was first seen, which a reader forgets when the runner checkpoints it
and the open window is read again. :class:`Arrivals` remembers, per partition and in the worker
process, when the open window's first record and the newest record were first seen, so that a window
read again keeps its times. A restarted process starts counting again, as Confluent's connectors do.
"""

from __future__ import annotations

import dataclasses
import datetime
import threading
import time
import zoneinfo
from typing import Optional

DAY_MS = 86_400_000


def next_rotation(now_ms: int, interval_ms: int, zone: zoneinfo.ZoneInfo) -> int:
    """The first point of the grid ``midnight + k * interval_ms`` (local midnight of ``now_ms``'s day in
    ``zone``) after ``now_ms``, at most the next midnight."""
    local = datetime.datetime.fromtimestamp(now_ms / 1000, zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    start = int(midnight.timestamp() * 1000)
    step = ((now_ms - start) // interval_ms + 1) * interval_ms
    return start + min(step, DAY_MS)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """``rotate.schedule.interval.ms`` and ``timezone``; ``interval_ms <= 0`` for none."""

    interval_ms: int = -1
    timezone: Optional[str] = None

    def __bool__(self) -> bool:
        return self.interval_ms > 0

    def due(self, opened_ms: int, now_ms: int) -> bool:
        """Whether a window opened at ``opened_ms`` is due to close at ``now_ms``."""
        if self.interval_ms <= 0:
            return False
        return now_ms >= next_rotation(opened_ms, self.interval_ms, zoneinfo.ZoneInfo(self.timezone))


def now_ms() -> int:
    return int(time.time() * 1000)


class Arrivals:
    """First-seen wall times of each partition's open window and newest record, kept across reads.

    Keys name a partition of one pipeline (``(group.id, topic, partition)``). ``saw`` is called with
    each fetched batch's last offset; ``opened`` and ``last_seen`` answer from what was remembered when
    the offsets are the remembered ones, and from now otherwise.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._windows = {}  # key -> (first offset of the open window, first seen ms)
        self._newest = {}  # key -> (newest offset seen, first seen ms)

    def saw(self, key, offset: int, at_ms: int) -> None:
        with self._lock:
            known = self._newest.get(key)
            if known is None or offset > known[0]:
                self._newest[key] = (offset, at_ms)

    def last_seen(self, key, offset: int, at_ms: int) -> int:
        """When ``offset`` (the newest record read) was first seen."""
        with self._lock:
            known = self._newest.get(key)
            return known[1] if known is not None and known[0] == offset else at_ms

    def opened(self, key, first_offset: int, at_ms: int) -> int:
        """When the window starting at ``first_offset`` opened (its first record was first seen)."""
        with self._lock:
            known = self._windows.get(key)
            if known is not None and known[0] == first_offset:
                return known[1]
            self._windows[key] = (first_offset, at_ms)
            return at_ms


#: One per worker process: a checkpointed read resumes in the same process on local runners.
ARRIVALS = Arrivals()
