"""Publishing to ActiveMQ over STOMP 1.2 with stomp.py: a receipt confirms each message.

Every ``SEND`` asks for a receipt (its ``receipt`` is the message's id), and a batch's frames are
written back to back before the receipts are awaited. Both brokers handle a connection's frames in
order and send a persistent message's receipt once their store has written it: ActiveMQ Classic once
KahaDB has synced it to its journal (a ``SEND`` asking for a receipt waits for its store), Artemis
once its journal has. The broker, told apart by the ``server`` header of ``CONNECTED``, changes the
rest:

- ActiveMQ Classic: ``amq-msg-type`` makes text formats text messages and ``bytes`` bytes messages.
  A frame over the transport's ``maxFrameSize`` (or a header over its ``maxHeaderLength``) ends the
  connection with an ``ERROR`` naming no frame: after the receipts of the frames before it (see
  :mod:`~sinks.queues.activemq.publisher`).
- Artemis: at least once, like Classic: messages over STOMP carry no ``_AMQ_DUPL_ID``, because
  Artemis (2.40) cannot keep duplicate detection over STOMP from losing or refusing records:

  - a ``SEND`` outside a transaction has its duplicate id cached as soon as it is routed, while the
    message joins the queue only once its journal write has completed. When the sending connection
    dies in between (a run killed, or a network cut, while a batch is in flight), the message stays
    in the journal but not in the queue until the broker restarts, and its id stays cached: the
    rerun's copy is confirmed and dropped, so the record is missing until a restart. Killed 0 to 30
    ms after writing a batch's frames, 8 of 16 runs lost 4 to 246 messages that way; over AMQP,
    killed the same way, none of 65 lost any. Without the id the rerun's copy is delivered, and
    after a restart the journal's copy too (a copy with the same ``KAFKA_MESSAGE_ID``);
  - a transaction per batch would close that gap (its ids are cached only once its ``COMMIT`` is
    stored, and the transaction of a dead connection is rolled back: nothing was lost in 78 kills),
    but Artemis fails the ``COMMIT`` of a transaction holding one message it has seen
    (``AMQ339013``, and the connection ends), and a replayed batch holds nothing else.

  AMQP has neither problem (:mod:`~sinks.queues.activemq.amqp`): ``amqp://`` is exactly once on
  Artemis. A text message is a ``SEND`` without ``content-length`` (how Artemis
  tells text from bytes), unless its UTF-8 holds a NUL byte, which only a ``content-length`` frame
  carries (it then arrives as a bytes message). A refused ``SEND`` gets an ``ERROR`` with its
  ``receipt-id`` that names no cause (``AMQ339011``), and the connection ends.
- Another broker is sent the Artemis way, without ``_AMQ_DUPL_ID``; its receipts confirm what it
  makes them confirm.

No STOMP transactions: Artemis fails a whole transaction holding one message it has seen (above),
and ActiveMQ Classic answers the ``SEND`` frames of a transaction several times slower.

``persistent``, ``priority``, ``expires`` (the send time plus ``jms.time.to.live.ms``) and
``correlation-id`` are STOMP's headers for JMS's delivery mode, priority, expiration and
JMSCorrelationID on both brokers; the properties are headers too, which both brokers keep as string
properties. A record header named like a header STOMP or the brokers read (:data:`RESERVED_HEADERS`)
is refused. Before any record is read, :meth:`StompPublisher.check` finds out whether the user may
send to the destination.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Dict, List, Optional, Sequence

from common.errors import BeamConnectError
from sinks.queues.activemq.config import ActiveMQSinkConfig
from sinks.queues.activemq.outgoing import Outgoing
from sinks.queues.activemq.publisher import (ARTEMIS, CLASSIC, OTHER, ActiveMQPublisher, Attempt,
                                             broker_text, denied, follow_up, passing)
from sinks.queues.publish import ConnectionLost

_LOGGER = logging.getLogger(__name__)

_INSTALL_HINT = "activemq.url=stomp:// needs stomp.py: pip install 'beamconnect[activemq]'"
#: Headers of a ``SEND`` frame that STOMP, ActiveMQ Classic or Artemis read themselves.
RESERVED_HEADERS = ("destination", "transaction", "receipt", "content-length", "content-type",
                    "persistent", "priority", "expires", "correlation-id", "reply-to", "type",
                    "message-id", "subscription", "ack", "id", "amq-msg-type", "redelivered",
                    "timestamp", "destination-type", "AMQ_SCHEDULED_DELAY", "AMQ_SCHEDULED_PERIOD",
                    "AMQ_SCHEDULED_REPEAT", "AMQ_SCHEDULED_CRON")
#: Milliseconds between the heart-beats each side sends.
HEARTBEAT_MS = 10_000
#: Seconds :meth:`StompPublisher.close` waits for the broker to answer ``DISCONNECT``.
CLOSE_TIMEOUT = 2.0


class _QuietSendErrors(logging.Filter):
    """Drops stomp.py's traceback of a frame it could not write: the publisher reports what the
    broker said before it closed the connection."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "error sending frame"


def _stomp():
    try:
        import stomp
    except ImportError:
        raise BeamConnectError(_INSTALL_HINT) from None
    stomp_logger = logging.getLogger("stomp.py")
    if not any(isinstance(f, _QuietSendErrors) for f in stomp_logger.filters):
        stomp_logger.addFilter(_QuietSendErrors())
    return stomp


def _escape(name: str) -> str:
    """A header name as STOMP 1.2 writes it (stomp.py escapes values only)."""
    return (name.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
            .replace(":", "\\c"))


class _Listener:
    """What the broker sent on one connection, for the thread that waits for it."""

    def __init__(self):
        self.condition = threading.Condition()
        self.connected: Optional[dict] = None
        self.receipts: set = set()
        self.errors: List[tuple] = []
        self.disconnected = False

    def on_connected(self, frame):
        with self.condition:
            self.connected = dict(frame.headers)
            self.condition.notify_all()

    def on_receipt(self, frame):
        with self.condition:
            self.receipts.add(frame.headers.get("receipt-id"))
            self.condition.notify_all()

    def on_error(self, frame):
        with self.condition:
            self.errors.append((frame.headers.get("receipt-id"), frame.headers.get("message", "")))
            self.condition.notify_all()

    def on_disconnected(self):
        with self.condition:
            self.disconnected = True
            self.condition.notify_all()

    def wait(self, done, timeout: float) -> bool:
        """Waits until ``done()`` (called under the lock) or the connection ends; False on timeout."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while not done() and not self.disconnected:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.condition.wait(left)
            return True


class StompPublisher(ActiveMQPublisher):
    """One STOMP 1.2 connection to the broker of ``config``."""

    reserved_names = RESERVED_HEADERS

    def __init__(self, config: ActiveMQSinkConfig):
        super().__init__(config)
        self._connection = None
        self._listener: Optional[_Listener] = None
        self._destination = "/%s/%s" % (config.destination_type, config.destination)

    def connected(self) -> bool:
        return self._connection is not None and not self._listener.disconnected

    def connect(self) -> None:
        stomp = _stomp()
        config = self._config
        timeout = config.timeout_ms / 1000.0
        # heart-beats keep an idle connection (a quiet topic) from reading as closed: stomp.py's
        # socket timeout, which bounds connecting, bounds each read too
        connection = stomp.Connection12([(config.url.host, config.url.port)],
                                        heartbeats=(HEARTBEAT_MS, HEARTBEAT_MS),
                                        auto_content_length=False, auto_decode=False,
                                        reconnect_attempts_max=1,
                                        timeout=max(timeout, 3 * HEARTBEAT_MS / 1000.0))
        if config.url.tls:
            connection.set_ssl(for_hosts=[(config.url.host, config.url.port)],
                               ca_certs=config.ca_location)
        listener = _Listener()
        connection.set_listener("beamconnect", listener)
        self._connection, self._listener = connection, listener
        try:
            connection.connect(config.username or None, config.password or None, wait=False)
        except stomp.exception.ConnectFailedException:
            raise ConnectionLost("could not reach %s" % config.describe()) from None
        except OSError as exc:  # a TLS handshake failure, a socket error while writing CONNECT
            raise ConnectionLost("could not connect to %s: %s" % (config.describe(), exc)) from None
        answered = listener.wait(lambda: listener.connected is not None or listener.errors, timeout)
        if listener.errors:
            raise BeamConnectError("%s refused the connection: %s"
                                   % (config.describe(), broker_text(listener.errors[0][1])))
        if listener.connected is None:
            raise ConnectionLost("%s %s" % (config.describe(), "closed the connection before "
                                            "answering CONNECT" if answered else
                                            "did not answer CONNECT within %gs" % timeout))
        server = listener.connected.get("server", "")
        self.broker = (ARTEMIS if server.startswith("ActiveMQ-Artemis") else
                       CLASSIC if server.startswith("ActiveMQ/") else OTHER)
        if self.broker is OTHER:
            _LOGGER.warning("%s announces itself as %r, neither ActiveMQ Classic nor Artemis: its "
                            "receipts confirm what it makes them confirm", config.describe(), server)

    def close(self) -> None:
        connection, listener, self._connection = self._connection, self._listener, None
        if connection is None:
            return
        try:
            if not listener.disconnected:
                connection.disconnect()
                listener.wait(lambda: False, CLOSE_TIMEOUT)
        except Exception:  # the connection is gone already
            pass
        finally:
            try:
                connection.transport.disconnect_socket()
            except Exception:
                pass

    def check(self) -> None:
        """Sends a message in a transaction and aborts it: a broker that may not be sent to refuses
        the ``SEND`` (Artemis names no cause for a refused ``SEND``: only this tells a refused
        permission from a refused message), and no consumer sees the aborted message."""
        listener, transaction = self._listener, "check-" + uuid.uuid4().hex
        self._frame("BEGIN", {"transaction": transaction})
        self._frame("SEND", {"destination": self._destination, "transaction": transaction,
                             "receipt": transaction, "content-length": "0"})
        self._frame("ABORT", {"transaction": transaction, "receipt": transaction + "-abort"})
        timeout = self._config.timeout_ms / 1000.0
        if not listener.wait(lambda: transaction + "-abort" in listener.receipts or listener.errors,
                             timeout):
            raise ConnectionLost("%s did not answer within %gs" % (self._config.describe(), timeout))
        for _, text in listener.errors:
            raise self._denied(broker_text(text), "a test message (in a transaction it aborts)")
        if transaction + "-abort" not in listener.receipts:
            raise ConnectionLost("%s closed the connection" % self._config.describe())

    def _send(self, messages: Sequence[Outgoing]) -> Attempt:
        listener, config = self._listener, self._config
        with listener.condition:
            listener.receipts.clear()
            del listener.errors[:]
        by_id: Dict[str, Outgoing] = {m.id: m for m in messages}
        attempt = Attempt()
        try:
            for message in messages:
                self._frame("SEND", self._headers(message), message.body)
        except Exception as exc:  # the broker closed the connection while the frames were written
            _LOGGER.debug("sending to %s stopped: %s", config.describe(), exc)

        ids = set(by_id)

        def answered():
            failed = {r for r, _ in listener.errors}
            return len(listener.receipts) + len(failed) >= len(ids) and ids <= listener.receipts | failed

        timeout = config.timeout_ms / 1000.0
        in_time = listener.wait(answered, timeout)
        with listener.condition:
            receipts, errors = set(listener.receipts), list(listener.errors)
            closed = listener.disconnected
        for receipt, text in errors:
            text = broker_text(text)
            if denied(text):
                raise self._denied(text, "a message")
            if follow_up(text):
                continue
            if passing(text):
                attempt.lost = text
            elif receipt in by_id and receipt not in receipts:
                attempt.refused[by_id[receipt].offset] = text
            elif attempt.unattributed is None:
                attempt.unattributed = text
        attempt.confirmed = {by_id[r].offset for r in receipts if r in by_id} - set(attempt.refused)
        attempt.unread = next((m.offset for m in messages if m.offset not in attempt.confirmed
                               and m.offset not in attempt.refused), None)
        if attempt.unread is not None and attempt.lost is None and attempt.unattributed is None:
            attempt.lost = ("the connection closed before all receipts came" if closed else
                            "no receipt within %gs" % timeout if not in_time else
                            "the broker did not confirm every message")
        return attempt

    def _headers(self, message: Outgoing) -> Dict[str, str]:
        config = self._config
        headers = {"destination": self._destination, "receipt": message.id,
                   "persistent": "true" if config.persistent else "false",
                   "priority": str(config.priority)}
        if config.ttl_ms:
            headers["expires"] = str(int(time.time() * 1000) + config.ttl_ms)
        if message.correlation_id is not None:
            headers["correlation-id"] = message.correlation_id
        for name, value in message.properties:
            headers[_escape(name)] = str(value)
        if self.broker is CLASSIC:
            headers["amq-msg-type"] = "text" if message.text else "bytes"
            headers["content-length"] = str(len(message.body))
        else:  # no _AMQ_DUPL_ID over STOMP: see the module docstring
            if not message.text or b"\x00" in message.body:
                headers["content-length"] = str(len(message.body))
        return headers

    def _frame(self, command: str, headers: Dict[str, str], body: bytes = b"") -> None:
        self._connection.send_frame(command, headers, body)
