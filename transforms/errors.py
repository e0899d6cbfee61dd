"""The error path: what happens to a record that a stage (converter, transform, sink) could not handle.

Every stage hands its failed records to one :class:`FailureRouter`, configured by the connector's
``errors.*`` keys as Kafka Connect's are:

- ``errors.tolerance=none`` (the default): the first failed record stops the run. The router raises
  :class:`RecordError` naming the record (topic, partition, offset), the stage and the cause; the run
  then commits nothing, since the offset commit is its last step.
- ``errors.tolerance=all``: failed records are skipped, and written to the dead letters (a topic, or
  files on a store) when one is configured; the run goes on and commits.

Dead letters are written synchronously, before the stage emits the rest of the bundle, so they are
durable before any offset of that bundle can be committed (on bounded and streaming runs alike). With a
dead-letter path and ``errors.tolerance=none``, the failed record is written there before the run stops,
as Kafka Connect does; a rerun that fails on it again writes it again.

Retriable failures (:class:`common.errors.RetriableError`: a server away, a timeout) are retried by
:func:`retrying` for up to ``errors.retry.timeout`` ms, with exponential backoff and full jitter capped
at ``errors.retry.delay.max.ms``, before they count.
"""

from __future__ import annotations

import abc
import dataclasses
import logging
import random
import time
from typing import Callable, Optional, Sequence, TypeVar

from common import metrics
from common.errors import BeamConnectError, RetriableError
from transforms.records import FailedRecord, record_ref

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")

TOLERANCES = ("none", "all")


class RecordError(BeamConnectError):
    """A record failed a stage and ``errors.tolerance`` does not allow skipping it."""


@dataclasses.dataclass(frozen=True)
class ErrorPolicy:
    """The connector's ``errors.*`` settings.

    Attributes:
      tolerance: ``errors.tolerance``: ``none`` or ``all``.
      retry_timeout_ms: ``errors.retry.timeout``: how long retriable failures are retried (0: never,
        -1: without end).
      retry_delay_max_ms: ``errors.retry.delay.max.ms``: the longest wait between two tries.
      log_enable: ``errors.log.enable``: log each failure (with its coordinates).
      log_include_messages: ``errors.log.include.messages``: also log the record's key, value and
        headers (off by default: record content never reaches the logs unless asked).
      connector_name: For dead-letter headers.
    """

    tolerance: str = "none"
    retry_timeout_ms: int = 0
    retry_delay_max_ms: int = 60_000
    log_enable: bool = False
    log_include_messages: bool = False
    connector_name: str = ""

    def __post_init__(self):
        if self.tolerance not in TOLERANCES:
            raise ValueError("tolerance must be one of %s, got %r" % (TOLERANCES, self.tolerance))


class DeadLetterWriter(abc.ABC):
    """Where failed records go under ``errors.tolerance=all``: a topic, or files on a store.

    Writers are pickled into DoFns: :meth:`open` makes clients (on the worker), :meth:`write` returns
    only once the records are durable, :meth:`close` releases clients.
    """

    #: Where the dead letters go, for logs and the run summary (never with credentials).
    description: str = "dead letters"

    def open(self) -> None:
        """Makes clients; called once per DoFn instance before the first write."""

    @abc.abstractmethod
    def write(self, failed: Sequence[FailedRecord]) -> None:
        """Writes ``failed`` (records of one source topic-partition, in offset order) durably.

        Raises:
          RetriableError: the write may pass if tried again.
          BeamConnectError: it cannot be done.
        """

    def close(self) -> None:
        """Releases clients."""


class FailureRouter:
    """Skips, dead-letters or stops on failed records, as the :class:`ErrorPolicy` says.

    Held by each stage's DoFn, which calls :meth:`teardown` from ``DoFn.teardown``. The dead-letter
    writer is opened when the first failed record arrives (with retries), so a run without failures
    makes no dead-letter client.
    """

    def __init__(self, policy: ErrorPolicy, dead_letters: Optional[DeadLetterWriter] = None):
        self.policy = policy
        self.dead_letters = dead_letters
        self._open = False

    def setup(self) -> None:
        """Nothing to do up front: see the class docstring."""

    def _ensure_open(self) -> None:
        if not self._open:
            self.dead_letters.open()
            self._open = True

    def teardown(self) -> None:
        if self.dead_letters is not None and self._open:
            self.dead_letters.close()
            self._open = False

    def route(self, failed: Sequence[FailedRecord]) -> None:
        """Handles the failed records of one stage and bundle.

        Raises:
          RecordError: ``errors.tolerance=none``; the message names the first record.
        """
        if not failed:
            return
        for record in failed:
            metrics.counter(metrics.FAILED, record.topic, record.partition, record.stage).inc()
            if self.policy.log_enable:
                _LOGGER.error("%s", self._log_line(record))
        if self.dead_letters is not None:
            def write():
                self._ensure_open()
                self.dead_letters.write(failed)

            retrying(write, self.policy,
                     "writing %d dead letters to %s" % (len(failed), self.dead_letters.description),
                     topic=failed[0].topic, partition=failed[0].partition)
            metrics.counter(metrics.DEAD_LETTERED, failed[0].topic, failed[0].partition).inc(
                len(failed))
        if self.policy.tolerance == "none":
            raise RecordError("%s. The run stopped and committed no offsets (errors.tolerance=%s)."
                              % (failed[0].describe(), self.policy.tolerance))
        metrics.counter(metrics.SKIPPED, failed[0].topic, failed[0].partition).inc(len(failed))

    def _log_line(self, record: FailedRecord) -> str:
        line = ("Error encountered in stage %s with class %r, where consumed record is {%s, "
                "timestamp=%s}: %s: %s" % (record.stage, record.class_name,
                                           record_ref(record.topic, record.partition, record.offset),
                                           record.timestamp, record.exception_class, record.reason))
        if self.policy.log_include_messages:
            line += " (key=%r, value=%r, headers=%r)" % (record.key, record.value, record.headers)
        return line


def retrying(call: Callable[[], T], policy: ErrorPolicy, what: str, *, topic: str = "",
             partition: int = 0, sleep: Callable[[float], None] = time.sleep,
             clock: Callable[[], float] = time.monotonic) -> T:
    """Calls ``call``, retrying :class:`RetriableError` for up to ``errors.retry.timeout``.

    Waits grow from 300 ms, doubling, capped at ``errors.retry.delay.max.ms``, each a random share
    of that bound (full jitter), and never past the deadline. The last error is raised once time runs
    out; any other error at once.
    """
    timeout_ms = policy.retry_timeout_ms
    deadline = None if timeout_ms < 0 else clock() + timeout_ms / 1000.0
    attempt = 0
    while True:
        try:
            return call()
        except RetriableError as exc:
            now = clock()
            if deadline is not None and now >= deadline:
                raise
            bound = min(0.3 * (2 ** attempt), policy.retry_delay_max_ms / 1000.0)
            wait = random.uniform(0, bound)
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - now))
            attempt += 1
            _LOGGER.warning("%s failed (%s); try %d in %.2fs", what, exc, attempt + 1, wait)
            if topic:
                metrics.counter(metrics.RETRIES, topic, partition).inc()
            sleep(wait)
