"""The write loop every queue sink shares: publish in confirmed batches, reconnect, resend.

A queue sink (RabbitMQ, ActiveMQ, MQTT, NATS, Redis) implements a :class:`Publisher` for its client
library: ``connect``, ``publish`` a batch and wait until the broker has confirmed every message of it
(publisher confirms, receipts, settlements, PUBACKs, stream acks), ``close``. :class:`PublishWriter`
does the rest:

- a bundle's messages are published in batches of :attr:`PublishSettings.batch_size`; the bundle's
  result (and so its offsets' commit) only comes once every batch is confirmed;
- a connection lost mid-batch (:class:`ConnectionLost`: the broker went away, a confirm timed out) is
  reconnected with backoff, doubling from :attr:`PublishSettings.backoff_ms` with full jitter, and the
  unconfirmed batch is published again, for up to :attr:`PublishSettings.max_retries` tries; then the
  run stops with the bundle's offsets uncommitted;
- a message the broker refuses for what it is raises :class:`~common.errors.RejectedRecord`; the
  bundle is written again without it (:class:`~sinks.base.BundleWriter`), and the batches already
  confirmed for this bundle are not published again.

Delivery is at least once: a batch whose confirms were lost with the connection is published again, and a
run killed after publishing but before committing publishes the bundle again on the next run. Each
message's id (:attr:`~sinks.queues.messages.Message.id`) is the same every time, so consumers, or a
broker that deduplicates by id, drop the copies.
"""

from __future__ import annotations

import abc
import dataclasses
import logging
import random
import time
from typing import Callable, List, Optional, Sequence, Union

import apache_beam as beam

from common.errors import BeamConnectError, RejectedRecord
from sinks.base import BundleWriter, WriteContext
from sinks.queues.messages import Message, describe_range, messages
from transforms.records import ConvertedBundle

_LOGGER = logging.getLogger(__name__)


class ConnectionLost(BeamConnectError):
    """The connection failed or a confirm did not come in time: reconnect and publish the batch again."""


@dataclasses.dataclass(frozen=True)
class PublishSettings:
    """How :class:`PublishWriter` batches and retries (each sink maps its own keys onto these).

    Attributes:
      batch_size: Messages per confirmed batch.
      max_retries: Tries after the first, per batch, when the connection is lost.
      backoff_ms: The first wait before reconnecting; each further wait may be twice as long.
      max_backoff_ms: The longest wait.
      key_format: How keys are written (:data:`~sinks.queues.messages.FORMATS`).
      value_format: How values are written.
    """

    batch_size: int = 500
    max_retries: int = 10
    backoff_ms: int = 100
    max_backoff_ms: int = 10_000
    key_format: str = "raw"
    value_format: str = "raw"


class Publisher(abc.ABC):
    """One connection to a broker, publishing confirmed batches. Made and used by one DoFn instance."""

    @abc.abstractmethod
    def connect(self) -> None:
        """Opens the connection (and channel, session...).

        Raises:
          BeamConnectError: the broker refuses the credentials or the target (not worth retrying);
            the message names the broker and user, never a password.
          ConnectionLost: the broker cannot be reached now.
        """

    @abc.abstractmethod
    def publish(self, batch: Sequence[Message]) -> None:
        """Publishes ``batch`` and returns once the broker has confirmed all of it.

        Raises:
          ConnectionLost: the connection went away, or confirms did not come in time; nothing of
            the batch counts as confirmed.
          RejectedRecord: the broker refused these messages for what they are (no queue took a
            mandatory message, too large); the other messages of the batch were confirmed.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Closes the connection; must not raise."""


def check_publisher(publisher: Publisher, then: Optional[Callable[[], None]] = None) -> None:
    """Connects once, runs ``then`` on the open connection, and closes: refused credentials, an
    unreachable broker or what ``then`` finds are a clear error before any record is read (a sink's
    ``check``).

    Args:
      publisher: A new, unconnected publisher.
      then: A sink's own check of what it will publish to (the exchange exists, the user may send to
        the destination, a stream captures the subject), called after ``connect``.

    Raises:
      BeamConnectError: the broker refused the connection or could not be reached (a
        :class:`ConnectionLost` becomes a plain error here: a check is not retried), or ``then``
        raised it.
    """
    try:
        publisher.connect()
        if then is not None:
            then()
    except ConnectionLost as lost:
        raise BeamConnectError(str(lost)) from None
    finally:
        publisher.close()


class PublishWriter(BundleWriter):
    """A :class:`~sinks.base.BundleWriter` publishing each bundle's messages through a :class:`Publisher`.

    Args:
      context: The run's write context.
      publisher: Makes a new, unconnected :class:`Publisher` (called on each worker, and after each lost
        connection).
      settings: Batching and retries.
      target: What a message counts under in the run summary: the name every message goes to
        (an exchange, a queue), or a function of the message (its subject, its stream); the
        message's ``target`` topic by default.
      sleep: For tests.
    """

    def __init__(self, context: WriteContext, publisher: Callable[[], Publisher],
                 settings: PublishSettings,
                 target: Union[str, Callable[[Message], str], None] = None,
                 sleep: Callable[[float], None] = time.sleep):
        super().__init__(context)
        self._make_publisher = publisher
        self._settings = settings
        self._target = target
        self._sleep = sleep
        self._publisher: Optional[Publisher] = None
        self._confirmed: set = set()

    def setup(self):
        self._publisher = None

    def teardown(self):
        self._drop()
        super().teardown()

    def write_bundle(self, bundle: ConvertedBundle):
        self._confirmed = set()  # offsets of this bundle confirmed by an earlier try of it
        try:
            return super().write_bundle(bundle)
        finally:
            self._confirmed = set()

    def write_records(self, bundle: ConvertedBundle) -> tuple:
        settings = self._settings
        batch_messages = messages(bundle, settings.key_format, settings.value_format)
        targets = sorted(self._targets(batch_messages))
        size = sum(m.size for m in batch_messages)
        pending = [m for m in batch_messages if m.offset not in self._confirmed]
        for start in range(0, len(pending), settings.batch_size):
            batch = pending[start:start + settings.batch_size]
            try:
                self._publish(batch)
            except RejectedRecord as rejected:  # the rest of the batch is confirmed
                refused = set(rejected.offsets)
                self._confirmed.update(m.offset for m in batch if m.offset not in refused)
                raise
            self._confirmed.update(m.offset for m in batch)
        return tuple(targets), size, len(batch_messages)

    def _targets(self, batch_messages: Sequence[Message]) -> set:
        target = self._target
        if target is None:
            return {m.target for m in batch_messages}
        if callable(target):
            return {target(m) for m in batch_messages}
        return {target} if batch_messages else set()

    def _publish(self, batch: List[Message]) -> None:
        settings = self._settings
        attempt = 0
        while True:
            try:
                if self._publisher is None:
                    publisher = self._make_publisher()
                    self._publisher = publisher
                    publisher.connect()
                self._publisher.publish(batch)
                return
            except ConnectionLost as lost:
                self._drop()
                if attempt >= settings.max_retries:
                    raise BeamConnectError(
                        "publishing %s failed %d times, the last time: %s; nothing of it is committed"
                        % (describe_range(batch), attempt + 1, lost)) from None
                bound = min(settings.backoff_ms * (2 ** attempt), settings.max_backoff_ms) / 1000.0
                wait = random.uniform(bound / 2, bound)
                attempt += 1
                _LOGGER.warning("publishing %s: %s; reconnecting in %.2fs (try %d of %d)",
                                describe_range(batch), lost, wait, attempt + 1,
                                settings.max_retries + 1)
                self._sleep(wait)

    def _drop(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            publisher.close()


class WriteToQueue(beam.PTransform):
    """Converted bundles to write results, through ``writer`` (a :class:`PublishWriter`)."""

    def __init__(self, writer: PublishWriter, label: str = "Publish"):
        super().__init__(label)
        self._writer = writer

    def expand(self, bundles):
        return bundles | beam.ParDo(self._writer)
