"""Progress while a run works, and the summary table at its end."""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Mapping, Optional, Sequence, TextIO

from common import metrics
from transforms.kafka import progress as reader_progress
from transforms.kafka.planning import PartitionPlan

_LOGGER = logging.getLogger(__name__)


class Progress:
    """Counts records read per topic-partition against the plan and shows it.

    On a terminal the display is redrawn in place twice a second; otherwise a log line is written every
    ``log_every`` seconds. Use as a context manager around the pipeline run.

    On a terminal, log lines written to the same stream while the display is up would be overwritten
    by the next redraw (which moves the cursor up over what it drew): a filter on the root logger's
    handlers erases the display before each log line, and the next redraw draws it again below it.
    """

    def __init__(self, plans: Sequence[PartitionPlan], stream: Optional[TextIO] = None,
                 log_every: float = 10.0, unbounded: bool = False):
        self._unbounded = unbounded
        self._records = 0
        self._plans = {(p.topic, p.partition): p for p in plans if p.size > 0 or unbounded}
        self._done = {key: 0 for key in self._plans}
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._interval = 0.5 if self._tty else log_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self._started = time.monotonic()
        self._lines = 0
        self._drawing = threading.RLock()
        self._handlers: list = []

    def __enter__(self) -> "Progress":
        reader_progress.add_listener(self._on_read)
        if self._tty:
            self._handlers = [h for h in logging.getLogger().handlers
                              if getattr(h, "stream", None) in (self._stream, sys.stderr)]
            for handler in self._handlers:
                handler.addFilter(self._erase_before_log)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        reader_progress.remove_listener(self._on_read)
        self._stop.set()
        self._thread.join()
        for handler in self._handlers:
            handler.removeFilter(self._erase_before_log)
        if self._tty:
            self._draw()

    def _erase_before_log(self, record: logging.LogRecord) -> bool:
        """Takes the display off the screen so that the log line lands where it was."""
        with self._drawing:
            if self._lines:
                self._stream.write("\x1b[%dA\x1b[J" % self._lines)
                self._stream.flush()
                self._lines = 0
            elif self._unbounded:  # the one-line display has no newline: clear it, start the line
                self._stream.write("\r\x1b[2K")
                self._stream.flush()
        return True

    def _on_read(self, topic: str, partition: int, next_offset: int, records: int) -> None:
        self._records += records
        plan = self._plans.get((topic, partition))
        if plan is not None and not self._unbounded:
            self._done[(topic, partition)] = min(plan.size, next_offset - plan.start)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._draw()

    def snapshot(self) -> tuple:
        """(offsets done, offsets planned, records/s, seconds left or None)."""
        done = sum(self._done.values())
        planned = sum(p.size for p in self._plans.values())
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = done / elapsed
        left = (planned - done) / rate if rate > 0 else None
        return done, planned, rate, left

    def _draw(self) -> None:
        if self._unbounded:
            elapsed = max(time.monotonic() - self._started, 1e-6)
            line = "streaming: %d records read, %.0f records/s" % (self._records,
                                                                  self._records / elapsed)
            if self._tty:
                with self._drawing:
                    self._stream.write("\r\x1b[2K" + line)
                    self._stream.flush()
            else:
                _LOGGER.info("progress: %s", line)
            return
        done, planned, rate, left = self.snapshot()
        eta = "?" if left is None else "%ds" % left
        total = "total %d/%d offsets (%.0f%%), %.0f records/s, %s left" % (
            done, planned, 100.0 * done / planned if planned else 100.0, rate, eta)
        if not self._tty:
            _LOGGER.info("progress: %s", total)
            return
        lines = ["  %s[%d] %d/%d" % (t, p, self._done[(t, p)], plan.size)
                 for (t, p), plan in sorted(self._plans.items())][:20] + [total]
        out = self._stream
        with self._drawing:
            if self._lines:
                out.write("\x1b[%dA" % self._lines)
            for line in lines:
                out.write("\x1b[2K" + line + "\n")
            out.flush()
            self._lines = len(lines)


def summary_table(plans: Sequence[PartitionPlan],
                  counters: Optional[Mapping[metrics.CounterName, int]],
                  committed: Mapping[tuple, int], elapsed: float, target_noun: str = "targets") -> str:
    """The end-of-run table: per topic-partition records read, written, failed (by stage, when any
    failed) and filtered, what was written to, and the committed offset. ``counters`` is None where
    the runner reports no metrics (Dask): the counts read ``n/a``."""
    if counters is None:
        return _uncounted_table(plans, committed, elapsed, target_noun)
    by_partition: dict = {}
    stages = set()
    for name, value in counters.items():
        cell = by_partition.setdefault((name.topic, name.partition), {})
        key = (name.metric, name.stage)
        cell[key] = cell.get(key, 0) + value
        if name.metric == metrics.FAILED:
            stages.add(name.stage)
    stage_columns = sorted(stages)
    header = ["topic", "partition", "start", "end", "read", "written", *("failed %s" % s.lower()
                                                                         for s in stage_columns)]
    filtered = any(m == metrics.FILTERED for c in by_partition.values() for m, _ in c)
    dead = any(m == metrics.DEAD_LETTERED for c in by_partition.values() for m, _ in c)
    header += (["filtered"] if filtered else []) + (["dead-lettered"] if dead else [])
    header += [target_noun, "committed"]
    rows = [tuple(header)]
    totals = [0] * (len(header) - 5)
    planned = {(p.topic, p.partition): p for p in plans}
    for key in sorted(set(planned) | set(by_partition)):
        p = planned.get(key) or PartitionPlan(key[0], key[1], -1, -1)
        cell = by_partition.get(key, {})
        numbers = [cell.get((metrics.READ, None), 0), cell.get((metrics.WRITTEN, None), 0)]
        numbers += [cell.get((metrics.FAILED, s), 0) for s in stage_columns]
        numbers += [cell.get((metrics.FILTERED, None), 0)] if filtered else []
        numbers += [cell.get((metrics.DEAD_LETTERED, None), 0)] if dead else []
        numbers += [cell.get((metrics.TARGETS, None), 0)]
        totals = [t + n for t, n in zip(totals, numbers)]
        c = committed.get((p.topic, p.partition))
        span = ("-", "-") if p.start < 0 else (str(p.start), str(p.end))
        rows.append((p.topic, str(p.partition), *span, *map(str, numbers),
                     "-" if c is None else str(c)))
    rows.append(("total", "", "", "", *map(str, totals), ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    rate = totals[0] / elapsed if elapsed > 0 else 0.0
    lines.append("elapsed %.1fs, %.0f records/s" % (elapsed, rate))
    return "\n".join(lines)


def _uncounted_table(plans, committed, elapsed, target_noun) -> str:
    header = ("topic", "partition", "start", "end", "read", "written", target_noun, "committed")
    rows = [header]
    for p in sorted(plans, key=lambda p: (p.topic, p.partition)):
        c = committed.get((p.topic, p.partition))
        rows.append((p.topic, str(p.partition), str(p.start), str(p.end), "n/a", "n/a", "n/a",
                     "-" if c is None else str(c)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    planned = sum(p.size for p in plans)
    lines.append("elapsed %.1fs, %.0f offsets/s planned (the runner reports no counts)"
                 % (elapsed, planned / elapsed if elapsed > 0 else 0.0))
    return "\n".join(lines)
