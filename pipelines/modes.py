"""Run modes beyond a single bounded run.

``streaming``: one unbounded pipeline (see :mod:`transforms.kafka.unbounded`); each file commits its
offsets once written, so SIGINT/SIGTERM stops it at once: a window being written is either committed
or read again by the next run.

``micro-batch``: a bounded run every ``--interval``, each planning from the offsets the previous one
committed. SIGINT or SIGTERM asks for a clean stop: the current run finishes and commits, then the loop
ends; a second signal abandons the current run, which then commits nothing (its commit is its last step).
"""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
from typing import Callable, Optional

from common.errors import ConfigError

_LOGGER = logging.getLogger(__name__)

MODES = ("batch", "micro-batch", "streaming")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_interval(text: str) -> float:
    """``'30s'``, ``'5m'``, ``'1h'``, ``'500ms'`` or plain seconds, as a positive number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", text or "")
    seconds = float(match[1]) * _UNITS[match[2] or "s"] if match else 0.0
    if seconds <= 0:
        raise ConfigError("--interval must be a positive duration such as 30s, 5m or 1h, got %r" % text)
    return seconds


class StopRequest:
    """Turns the first SIGINT/SIGTERM into a stop request and the second into KeyboardInterrupt.

    Args:
      immediate: Raise KeyboardInterrupt on the first signal already (streaming, where a pipeline may
        run in this thread and every write commits by itself).
    """

    def __init__(self, immediate: bool = False):
        self.event = threading.Event()
        self._immediate = immediate
        self._previous = {}

    def __enter__(self) -> "StopRequest":
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame) -> None:
        if self._immediate:
            _LOGGER.info("stop requested: stopping the pipeline")
            self.event.set()
            raise KeyboardInterrupt
        if self.event.is_set():
            _LOGGER.warning("second signal: abandoning the current run; it commits nothing")
            raise KeyboardInterrupt
        _LOGGER.info("stop requested: finishing the current run (signal again to abandon it)")
        self.event.set()


def micro_batches(run_once: Callable[[], object], interval: float, stop: threading.Event,
                  max_runs: Optional[int] = None) -> int:
    """Calls ``run_once`` every ``interval`` seconds until ``stop`` is set; returns the runs done."""
    runs = 0
    while not stop.is_set() and (max_runs is None or runs < max_runs):
        started = time.monotonic()
        run_once()
        runs += 1
        if stop.wait(max(0.0, interval - (time.monotonic() - started))):
            break
    _LOGGER.info("stopped after %d runs", runs)
    return runs
