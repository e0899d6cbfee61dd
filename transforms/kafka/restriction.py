"""The restriction of the Kafka read: an offset range of one topic-partition, split only on window edges.

File names depend on which records share a window, so a window must be read whole by one worker: the
tracker rounds every split point up to the next window boundary. Windows are ``flush_size`` offsets wide and
aligned to ``origin``, the planned start offset of the partition in this run, so the same plan gives the
same windows however the runner splits, checkpoints or rebalances the read.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from apache_beam.io.iobase import RestrictionProgress, RestrictionTracker


@dataclasses.dataclass(frozen=True)
class PartitionRange:
    """Offsets ``[start, stop)`` of one topic-partition, with windows aligned to ``origin``."""

    start: int
    stop: int
    origin: int
    flush_size: int

    def __post_init__(self):
        if self.flush_size < 1:
            raise ValueError("flush_size must be at least 1, got %r" % self.flush_size)
        if not self.origin <= self.start <= self.stop:
            raise ValueError("need origin <= start <= stop, got %r" % (self,))

    def size(self) -> int:
        return self.stop - self.start

    def window_start(self, offset: int) -> int:
        """First offset of the window holding ``offset``."""
        return offset - (offset - self.origin) % self.flush_size

    def next_boundary(self, offset: int) -> int:
        """The smallest window boundary that is >= ``offset``."""
        start = self.window_start(offset)
        return start if start == offset else start + self.flush_size

    def split_at(self, offset: int) -> tuple["PartitionRange", "PartitionRange"]:
        return (dataclasses.replace(self, stop=offset), dataclasses.replace(self, start=offset))


class PartitionRangeTracker(RestrictionTracker):
    """Claims offsets of a :class:`PartitionRange`; splits only at window boundaries.

    A claim names the last offset of a fetched batch and implicitly claims everything before it. Unlike
    Beam's ``OffsetRestrictionTracker``, a refused claim (the range shrank under a concurrent split) may be
    followed by a claim of a smaller offset that is still in range, so a reader can trim its batch to the
    new stop and keep what is still its own.
    """

    def __init__(self, restriction: PartitionRange):
        self._range = restriction
        self._claimed: Optional[int] = None
        self._exhausted = False

    def current_restriction(self) -> PartitionRange:
        return self._range

    def try_claim(self, position: int) -> bool:
        if self._claimed is not None and position <= self._claimed:
            raise ValueError("claims must increase: %d after %d" % (position, self._claimed))
        if position < self._range.start:
            raise ValueError("cannot claim %d before the range %r" % (position, self._range))
        if position >= self._range.stop:
            self._exhausted = True
            return False
        self._claimed = position
        return True

    def _next_unclaimed(self) -> int:
        return self._range.start if self._claimed is None else self._claimed + 1

    def try_split(self, fraction_of_remainder):
        if self._exhausted:
            return None
        cur = self._next_unclaimed()
        wanted = cur + int(max(0, (self._range.stop - cur) * fraction_of_remainder))
        split = self._range.next_boundary(max(wanted, cur))
        if split <= self._range.start or split >= self._range.stop:
            return None
        self._range, residual = self._range.split_at(split)
        return self._range, residual

    def check_done(self):
        if self._exhausted or self._next_unclaimed() >= self._range.stop:
            return
        raise ValueError("offsets %d..%d of %r were not read" % (
            self._next_unclaimed(), self._range.stop - 1, self._range))

    def current_progress(self) -> RestrictionProgress:
        done = self._next_unclaimed() - self._range.start
        return RestrictionProgress(completed=done, remaining=self._range.stop - self._range.start - done)

    def is_bounded(self) -> bool:
        return True
