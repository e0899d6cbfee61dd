"""The publish loop both protocols share: send a batch, read what the broker said of each message.

A protocol (:mod:`~sinks.queues.activemq.stomp`, :mod:`~sinks.queues.activemq.amqp`) implements
:meth:`ActiveMQPublisher._send`: it sends some messages on the open connection and reports an
:class:`Attempt`: which messages the broker confirmed, which it refused naming them (a STOMP ``ERROR``
with the ``receipt-id`` of their ``SEND``, an AMQP ``Rejected`` outcome), and whether the connection
ended with an error naming no message. :meth:`ActiveMQPublisher.publish` turns attempts into the
:class:`~sinks.queues.publish.Publisher` contract:

- the messages refused are left out and the others sent again on a new connection (both brokers
  close a connection after refusing a message), until each is confirmed or refused; then the refused
  ones raise :class:`~common.errors.RejectedRecord`;
- a connection the broker closes with an error that names no message (ActiveMQ Classic closes the
  connection of a frame larger than its transport's ``maxFrameSize``) is taken up again with the
  first message it did not confirm sent alone: refused again, it is the one refused; confirmed, the
  others go on. A broker answers a connection's messages in order, so the messages before it were
  confirmed;
- an attempt that confirmed nothing, refused nothing and lost its connection is
  :class:`~sinks.queues.publish.ConnectionLost` (the writer reconnects with backoff and sends the
  batch again); one that made progress first is taken up again at once.

Broker errors are sorted by what they say: a refused permission stops the run (every message would
be refused), a full address or memory limit is a lost connection (it may pass), anything else refuses
the message. Their text is cut before the message dump some brokers append (Artemis describes the
refused message, properties and all), so no record content reaches an error.
"""

from __future__ import annotations

import abc
import dataclasses
import logging
import re
from typing import Dict, List, Optional, Sequence, Set

from common.errors import BeamConnectError, RejectedRecord
from sinks.queues.activemq.config import ActiveMQSinkConfig
from sinks.queues.activemq.outgoing import Outgoing, outgoing
from sinks.queues.messages import Message
from sinks.queues.publish import ConnectionLost, Publisher

_LOGGER = logging.getLogger(__name__)

#: Brokers told apart by what they announce when a connection opens.
CLASSIC, ARTEMIS, OTHER = "ActiveMQ Classic", "ActiveMQ Artemis", "broker"

_DENIED = re.compile(r"not authori[sz]ed|does not have permission|unauthori[sz]ed-access|"
                     r"AMQ229032|AMQ119032|security exception", re.IGNORECASE)
_PASSING = re.compile(r"is full|resource-limit-exceeded|Usage Manager|AMQ229102|"
                      r"connection:forced|shutting down|is stopping|is stopped", re.IGNORECASE)
_FOLLOW_UP = re.compile(r"AMQ339010|Connection is not valid", re.IGNORECASE)
_DUMP = re.compile(r"\s*(Core|AMQP|Stomp|ActiveMQ\w*)?Message\[.*", re.DOTALL)
_MAX_TEXT = 300


def broker_text(text: Optional[str]) -> str:
    """A broker's error text fit for an error message: one line, without the message dump some
    brokers append, at most 300 characters."""
    text = _DUMP.sub("", str(text or "")).strip()
    text = " ".join(text.split())
    return text[:_MAX_TEXT] + ("..." if len(text) > _MAX_TEXT else "") or "(no reason given)"


def denied(text: str) -> bool:
    """Whether a broker's error is a refused permission."""
    return bool(_DENIED.search(text))


def passing(text: str) -> bool:
    """Whether a broker's error may pass by itself (a full address, a broker stopping)."""
    return bool(_PASSING.search(text))


def follow_up(text: str) -> bool:
    """Whether a broker's error only says an earlier one closed the connection."""
    return bool(_FOLLOW_UP.search(text))


@dataclasses.dataclass
class Attempt:
    """What the broker said of the messages one :meth:`ActiveMQPublisher._send` sent.

    Attributes:
      confirmed: Offsets of the messages it confirmed.
      refused: The reason of each message it refused by name, by offset.
      unattributed: An error that ended the connection without naming a message, or None.
      unread: The offset of the first message the broker gave no answer to, or None: with
        ``unattributed``, the message the connection ended on.
      lost: Why the messages neither confirmed nor refused were not (the connection ended, no answer
        in time), or None.
    """

    confirmed: Set[int] = dataclasses.field(default_factory=set)
    refused: Dict[int, str] = dataclasses.field(default_factory=dict)
    unattributed: Optional[str] = None
    unread: Optional[int] = None
    lost: Optional[str] = None


class ActiveMQPublisher(Publisher, abc.ABC):
    """A connection to the broker of ``config`` publishing confirmed batches.

    Args:
      config: The sink's config.
    """

    #: Header names the protocol reads itself (a record header with one of them is refused).
    reserved_names: Sequence[str] = ()

    def __init__(self, config: ActiveMQSinkConfig):
        self._config = config
        self.broker: Optional[str] = None

    @abc.abstractmethod
    def connected(self) -> bool:
        """Whether the connection is open."""

    @abc.abstractmethod
    def _send(self, messages: Sequence[Outgoing]) -> Attempt:
        """Sends ``messages`` on the open connection and waits for the broker's answer to each (or
        the connection's end, or ``activemq.publish.timeout.ms``).

        Raises:
          BeamConnectError: the broker refused a permission.
        """

    def check(self) -> None:
        """After :meth:`connect`: makes sure the user may send to the destination, without a message
        reaching it. Raises BeamConnectError naming the destination and user."""

    def publish(self, batch: Sequence[Message]) -> None:
        refused: Dict[int, str] = {}
        pending: List[Outgoing] = []
        for message in batch:
            try:
                pending.append(outgoing(message, self._config, self.reserved_names))
            except RejectedRecord as rejected:
                refused[message.offset] = str(rejected)
        suspect: Optional[Outgoing] = None
        while pending:
            if not self.connected():
                self.close()
                self.connect()
            sending = [suspect] if suspect is not None else pending
            attempt = self._send(sending)
            for offset, reason in attempt.refused.items():
                refused[offset] = "%s refused the message: %s" % (self._config.describe(), reason)
            answered = attempt.confirmed | set(attempt.refused)
            progress = bool(answered)
            if suspect is not None:
                if suspect.offset not in answered and attempt.unattributed is not None:
                    refused[suspect.offset] = ("%s refused the message, closing the connection, "
                                               "also when it was sent alone: %s"
                                               % (self._config.describe(), attempt.unattributed))
                    answered.add(suspect.offset)
                    progress = True
                suspect = None
            elif attempt.unattributed is not None:
                suspect = next((m for m in sending if m.offset == attempt.unread), None)
                progress = progress or suspect is not None
                if suspect is not None:
                    _LOGGER.warning("%s closed the connection (%s) after confirming %d of %d messages; "
                                    "sending %s alone", self._config.describe(),
                                    attempt.unattributed, len(attempt.confirmed), len(sending),
                                    suspect.message.describe())
            pending = [m for m in pending if m.offset not in answered]
            if attempt.lost is not None or attempt.unattributed is not None:
                self.close()
                if pending and not progress:
                    raise ConnectionLost("%s: %s" % (self._config.describe(),
                                                     attempt.lost or attempt.unattributed))
        if refused:
            offsets = sorted(refused)
            raise RejectedRecord("; ".join("offset %d: %s" % (o, refused[o]) for o in offsets)
                                 if len(offsets) > 1 else refused[offsets[0]], offsets)

    def _denied(self, text: str, what: str) -> BeamConnectError:
        return BeamConnectError("%s refused %s to %s: %s" % (self._config.describe(), what,
                                                             self._config.target(), text))
