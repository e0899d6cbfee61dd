"""Publishing confirmed batches to RabbitMQ with pika: every message of a batch sent, then one wait.

pika's ``BlockingChannel`` in confirm mode waits for each message's confirm before it sends the next,
a round trip per message. This publisher drives pika's asynchronous ``SelectConnection`` on its own
``IOLoop`` instead (``poll``/``process_timeouts``, as ``BlockingConnection`` itself does): a batch's
messages are written back to back, their frames joined into one socket write per
:data:`SEND_EVERY` messages (pika writes each frame, three per message, on its own), and the broker's
``basic.ack``/``basic.nack`` (usually one ``multiple`` ack for many) are matched to them by delivery
tag, which counts the channel's publishes from 1. A batch is confirmed when every tag is acked; then:

- a message the broker returned (``mandatory`` and no queue took it, ``basic.return`` before its ack)
  or could not encode (a key longer than a ``correlation_id`` holds) is refused: ``RejectedRecord``;
- a nacked message is published again, up to ``rabbitmq.publish.max.retries`` times, then refused;
- a batch not confirmed within ``rabbitmq.publish.ack.timeout``, or whose connection closes, is
  :class:`~sinks.queues.publish.ConnectionLost`: the connection is dropped (no late ack can be
  mistaken for a new batch's) and :class:`~sinks.queues.publish.PublishWriter` reconnects and
  publishes it again;
- the broker closing the channel refuses the batch: for a missing exchange or a permission, a
  :class:`~common.errors.BeamConnectError` stops the run; for a message it cannot take (406, e.g.
  larger than ``max_message_size``) a ``DataError`` lets the bundle be split until that record is
  found. The next batch opens a new channel.

Each message carries ``message_id`` = ``<topic>-<partition>-<offset>`` of its source record (the same
on every replay), the record's timestamp (AMQP counts seconds) and the delivery mode; and, as
configured, the key as ``correlation_id``, the record's headers and ``KAFKA_TOPIC``,
``KAFKA_PARTITION``, ``KAFKA_OFFSET``.
"""

from __future__ import annotations

import collections
import functools
import logging
import re
import struct
import time
from typing import Callable, Dict, List, Optional, Sequence

from common.errors import BeamConnectError, DataError, RejectedRecord
from sinks.queues.messages import Message, describe_range
from sinks.queues.publish import ConnectionLost, Publisher
from sinks.queues.rabbitmq.config import RabbitMQSinkConfig

_LOGGER = logging.getLogger(__name__)

#: Messages encoded before they are handed to the socket (and the broker's replies read so far).
SEND_EVERY = 25
#: Seconds :meth:`RabbitMQPublisher.close` waits for the broker to acknowledge the close.
CLOSE_TIMEOUT = 2.0
# Reply codes of a channel the broker closes.
_NOT_FOUND, _ACCESS_REFUSED, _PRECONDITION_FAILED = 404, 403, 406
# How pika's exceptions quote a broker's reply: (403) 'ACCESS_REFUSED - Login was refused ...'
_REPLY = re.compile(r"\((\d{3})\) '(.*)'")
_INSTALL_HINT = "the RabbitMQ sink needs pika: pip install 'beamconnect[rabbitmq]'"


def _pika():
    try:
        import pika
    except ImportError:
        raise BeamConnectError(_INSTALL_HINT) from None
    return pika


@functools.lru_cache(maxsize=None)
def _connection_class():
    """pika's ``SelectConnection`` writing what is published between :meth:`hold` and
    :meth:`release` to the socket in one piece.

    pika hands each frame to its transport on its own, and the transport sends each with a
    ``send()`` of its own: three system calls per message (method, header, body), which cost more
    than everything else a publish does. Holding a batch's frames and writing them joined makes it
    one call per batch. (``_adapter_emit_data`` is where every pika 1.x connection writes.)
    """
    pika = _pika()

    class CoalescingConnection(pika.SelectConnection):
        _held: Optional[list] = None

        def hold(self) -> None:
            self._held = []

        def release(self) -> bool:
            """Writes what was held; whether there was anything."""
            held, self._held = self._held, None
            if held and self._transport is not None:
                super()._adapter_emit_data(b"".join(held))
                return True
            return False

        def _adapter_emit_data(self, data: bytes) -> None:
            if self._held is not None:
                self._held.append(data)
            else:
                super()._adapter_emit_data(data)

    return CoalescingConnection


def header_value(value: Optional[bytes]):
    """A Kafka header's bytes as an AMQP field: UTF-8 text as a long string, other bytes as a byte
    array, null as void (what a consumer reading Kafka Connect's string headers expects)."""
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return bytes(value)


class RabbitMQPublisher(Publisher):
    """One connection and confirm-mode channel to the broker of ``config``.

    Args:
      config: The sink's config.
    """

    def __init__(self, config: RabbitMQSinkConfig):
        self._config = config
        self._loop = None
        self._connection = None
        self._channel = None
        self._closed: Optional[BaseException] = None  # why the connection closed
        self._channel_closed: Optional[BaseException] = None
        self._tag = 0  # the last delivery tag of the channel
        self._pending: "collections.OrderedDict[int, Message]" = collections.OrderedDict()
        self._nacked: List[Message] = []
        self._returned: Dict[str, str] = {}

    # -- connection -------------------------------------------------------------------------------

    def connect(self) -> None:
        pika = _pika()
        from pika.adapters.select_connection import IOLoop

        config = self._config
        quiet = logging.getLogger("pika")
        if quiet.level == logging.NOTSET and not logging.getLogger().isEnabledFor(logging.DEBUG):
            # pika narrates every connection at INFO and logs each failure at ERROR, which this
            # module reports itself, with the broker's reply; --verbose shows pika's lines
            quiet.setLevel(logging.CRITICAL)
        self._loop = IOLoop()
        self._loop.activate_poller()
        opened: dict = {}
        self._connection = _connection_class()(
            self._parameters(pika),
            on_open_callback=lambda connection: opened.setdefault("ok", connection),
            on_open_error_callback=lambda connection, error: opened.setdefault("error", error),
            on_close_callback=self._on_connection_closed, custom_ioloop=self._loop)
        timeout = (config.connection_timeout_ms + config.handshake_timeout_ms) / 1000.0 + 5.0
        self._run_until(lambda: opened, timeout, "connecting")
        if "error" in opened:
            self._connection = None
            raise _open_error(opened["error"], config)
        self._open_channel()

    def _parameters(self, pika):
        config = self._config
        tls = None
        if config.tls is not None:
            tls = pika.SSLOptions(config.tls.context(), config.host)
        connect_timeout = config.connection_timeout_ms / 1000.0 or None
        return pika.ConnectionParameters(
            host=config.host, port=config.port, virtual_host=config.virtual_host,
            credentials=pika.PlainCredentials(config.username, str.__str__(config.password),
                                              erase_on_connect=True),
            channel_max=config.channel_max or 65535, frame_max=config.frame_max,
            heartbeat=config.heartbeat_s, ssl_options=tls, connection_attempts=1,
            socket_timeout=connect_timeout,
            stack_timeout=(config.connection_timeout_ms + config.handshake_timeout_ms) / 1000.0 or None,
            client_properties={"connection_name": "beamconnect %s" % config.name})

    def _open_channel(self) -> None:
        pika = _pika()
        opened: dict = {}
        self._channel_closed = None
        self._connection.channel(on_open_callback=lambda channel: opened.setdefault("channel", channel))
        self._run_until(lambda: opened or self._channel_closed, 30.0, "opening a channel")
        if self._channel_closed is not None:
            raise self._channel_error(self._channel_closed, "opening a channel")
        channel = opened["channel"]
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        selected: dict = {}
        try:
            channel.confirm_delivery(ack_nack_callback=self._on_confirm,
                                     callback=lambda frame: selected.setdefault("ok", frame))
        except pika.exceptions.MethodNotImplemented:
            raise BeamConnectError("%s does not support publisher confirms"
                                   % self._config.describe()) from None
        self._run_until(lambda: selected or self._channel_closed, 30.0, "turning on confirms")
        if self._channel_closed is not None:
            raise self._channel_error(self._channel_closed, "turning on confirms")
        self._channel, self._tag = channel, 0

    def check_exchange(self) -> None:
        """Makes sure ``rabbitmq.exchange`` exists (a passive declare; a missing one closes the
        channel, which is opened again).

        Raises:
          BeamConnectError: it does not, or the user may not use it.
          ConnectionLost: the broker went away.
        """
        if not self._config.exchange:
            return  # the default exchange always exists (and cannot be declared)
        done: dict = {}
        self._channel.exchange_declare(self._config.exchange, passive=True,
                                       callback=lambda frame: done.setdefault("ok", frame))
        self._run_until(lambda: done or self._channel_closed, 30.0, "checking the exchange")
        if self._channel_closed is not None:
            error = self._channel_error(self._channel_closed, "checking the exchange")
            self._open_channel()
            raise error

    def close(self) -> None:
        connection, loop = self._connection, self._loop
        self._connection = self._channel = self._loop = None
        try:
            if connection is not None and not (connection.is_closed or connection.is_closing):
                connection.close()
            if connection is not None and loop is not None:
                deadline = time.monotonic() + CLOSE_TIMEOUT
                while not connection.is_closed and time.monotonic() < deadline:
                    loop.poll()
                    loop.process_timeouts()
        except Exception as exc:  # closing must not raise: the connection is dropped either way
            _LOGGER.debug("closing the connection to %s: %s", self._config.describe(), exc)
        finally:
            if loop is not None:
                try:
                    loop.close()
                except Exception:  # noqa: BLE001 - as above
                    pass

    # -- publishing -------------------------------------------------------------------------------

    def publish(self, batch: Sequence[Message]) -> None:
        if self._connection is None or self._closed is not None:
            raise ConnectionLost(self._lost_reason())
        if self._channel is None or self._channel_closed is not None:
            self._open_channel()
        refused: Dict[int, str] = {}
        todo = list(batch)
        for attempt in range(self._config.nack_retries + 1):
            self._send(todo, refused)
            self._wait(batch)
            todo, self._nacked = self._nacked, []
            if not todo or attempt == self._config.nack_retries:
                break
            _LOGGER.warning("%s: the broker nacked %d messages (%s); publishing them again (try %d "
                            "of %d)", self._config.describe(), len(todo), describe_range(todo),
                            attempt + 2, self._config.nack_retries + 1)
        for message in todo:
            refused[message.offset] = ("the broker nacked it %d times"
                                       % (self._config.nack_retries + 1))
        returned, self._returned = self._returned, {}
        if returned:
            for message in batch:
                if message.id in returned:
                    refused[message.offset] = returned[message.id]
        if refused:
            reasons = sorted(set(refused.values()))
            raise RejectedRecord("%s refused the message: %s" % (self._config.describe(),
                                                                 "; ".join(reasons)),
                                 sorted(refused))

    def _send(self, messages: Sequence[Message], refused: Dict[int, str]) -> None:
        pika = _pika()
        config = self._config
        channel, pending = self._channel, self._pending
        properties = pika.BasicProperties
        exchange, fixed_key, mandatory = config.exchange, config.routing_key, config.mandatory
        delivery_mode = config.delivery_mode
        forward_key, metadata, forward_headers = (config.forward_key, config.forward_metadata,
                                                  config.forward_headers)
        tag = self._tag
        self._connection.hold()
        try:
            for message in messages:
                headers = None
                if forward_headers and message.headers:
                    headers = {name: header_value(value) for name, value in message.headers}
                if metadata:
                    headers = headers if headers is not None else {}
                    headers["KAFKA_TOPIC"] = message.target
                    headers["KAFKA_PARTITION"] = message.partition
                    headers["KAFKA_OFFSET"] = message.offset
                timestamp = message.timestamp
                props = properties(
                    delivery_mode=delivery_mode, message_id=message.id, headers=headers,
                    timestamp=timestamp // 1000 if timestamp is not None and timestamp >= 0 else None,
                    correlation_id=message.key if forward_key else None)
                try:
                    channel.basic_publish(exchange, fixed_key or message.target, message.value or b"",
                                          props, mandatory)
                except (pika.exceptions.ShortStringTooLong, struct.error, TypeError,
                        ValueError) as exc:  # nothing was sent: the frames are encoded first
                    refused[message.offset] = _encoding_problem(message, exc, config)
                    continue
                tag += 1
                pending[tag] = message
                if tag % SEND_EVERY == 0:
                    if self._connection.release():  # the broker works on these meanwhile
                        self._loop.poll()
                        self._loop.process_timeouts()
                    self._connection.hold()
        except (pika.exceptions.ChannelWrongStateError,
                pika.exceptions.ConnectionWrongStateError) as exc:
            # closed under us: what is pending cannot be confirmed; _wait raises why
            self._channel_closed = self._channel_closed or self._closed or exc
        finally:
            self._tag = tag
            self._connection.release()

    def _wait(self, batch: Sequence[Message]) -> None:
        config, loop, pending = self._config, self._loop, self._pending
        timeout = config.ack_timeout_ms / 1000.0
        deadline = time.monotonic() + timeout if timeout else None
        wake = loop.call_later(timeout, lambda: None) if timeout else None
        try:
            while pending and self._closed is None and self._channel_closed is None:
                if deadline is not None and time.monotonic() >= deadline:
                    count = len(pending)
                    pending.clear()
                    raise ConnectionLost("%s confirmed %d of %d messages of %s within "
                                         "rabbitmq.publish.ack.timeout=%d ms"
                                         % (config.describe(), len(batch) - count, len(batch),
                                            describe_range(batch), config.ack_timeout_ms))
                loop.poll()
                loop.process_timeouts()
        finally:
            if wake is not None:
                loop.remove_timeout(wake)
        if self._closed is not None:
            pending.clear()
            raise ConnectionLost(self._lost_reason())
        if self._channel_closed is not None:
            pending.clear()
            raise self._channel_error(self._channel_closed, "publishing %s" % describe_range(batch))

    # -- callbacks --------------------------------------------------------------------------------

    def _on_confirm(self, frame) -> None:
        method, pending = frame.method, self._pending
        nack = method.NAME == "Basic.Nack"
        if method.multiple:
            while pending and next(iter(pending)) <= method.delivery_tag:
                _, message = pending.popitem(last=False)
                if nack:
                    self._nacked.append(message)
        else:
            message = pending.pop(method.delivery_tag, None)
            if nack and message is not None:
                self._nacked.append(message)

    def _on_return(self, channel, method, properties, body) -> None:
        self._returned[properties.message_id] = (
            "it was returned with %d %s: no queue is bound to exchange %r for routing key %r"
            % (method.reply_code, method.reply_text, method.exchange, method.routing_key)
            if method.reply_code == 312 else
            "it was returned with %d %s" % (method.reply_code, method.reply_text))

    def _on_channel_closed(self, channel, reason) -> None:
        if channel is self._channel or self._channel is None:
            self._channel_closed = reason

    def _on_connection_closed(self, connection, reason) -> None:
        self._closed = reason
        self._channel_closed = self._channel_closed or reason

    # -- helpers ----------------------------------------------------------------------------------

    def _run_until(self, done: Callable[[], object], timeout: float, what: str) -> None:
        loop = self._loop
        deadline = time.monotonic() + timeout
        wake = loop.call_later(timeout, lambda: None)
        try:
            while not done() and self._closed is None:
                if time.monotonic() >= deadline:
                    raise ConnectionLost("%s: %s took longer than %.0f s"
                                         % (self._config.describe(), what, timeout))
                loop.poll()
                loop.process_timeouts()
        finally:
            loop.remove_timeout(wake)
        if not done() and self._closed is not None:
            raise ConnectionLost(self._lost_reason())

    def _lost_reason(self) -> str:
        return "the connection to %s was lost: %s" % (self._config.describe(),
                                                       _describe(self._closed) or "closed")

    def _channel_error(self, reason: BaseException, what: str) -> BeamConnectError:
        pika = _pika()
        config = self._config
        if isinstance(reason, pika.exceptions.ChannelClosedByBroker):
            text = "%d %s" % (reason.reply_code, reason.reply_text)
            if reason.reply_code == _NOT_FOUND:
                return BeamConnectError("rabbitmq.exchange=%r cannot be used on %s: %s"
                                        % (config.exchange, config.describe(), text))
            if reason.reply_code == _ACCESS_REFUSED:
                return BeamConnectError("%s refused %s: %s (check the user's permissions on the "
                                        "virtual host)" % (config.describe(), what, text))
            if reason.reply_code == _PRECONDITION_FAILED:
                return DataError("%s closed the channel %s: %s" % (config.describe(), what, text))
        if self._closed is not None:
            return ConnectionLost(self._lost_reason())
        return ConnectionLost("%s closed the channel %s: %s"
                              % (config.describe(), what, _describe(reason)))


def _describe(error: Optional[BaseException]) -> str:
    """The broker's reply (``403 ACCESS_REFUSED - ...``) when an error carries one, else the error."""
    if error is None:
        return ""
    text = str(error) or type(error).__name__
    reply = _REPLY.search(text)
    if reply:
        return "%s %s" % (reply.group(1), reply.group(2))
    return "%s: %s" % (type(error).__name__, text) if type(error).__name__ not in text else text


def _innermost(error: BaseException) -> BaseException:
    """The cause inside pika's wrappers of a failed connection workflow (a refused connection, an
    unknown host, a TLS failure, the broker's reply)."""
    for _ in range(10):
        inner = (error.exceptions[-1] if getattr(error, "exceptions", None) else
                 getattr(error, "exception", None) or
                 (error.args[0] if error.args else None))
        if not isinstance(inner, BaseException):
            return error
        error = inner
    return error


def _encoding_problem(message: Message, exc: Exception, config: RabbitMQSinkConfig) -> str:
    pika = _pika()
    if isinstance(exc, pika.exceptions.ShortStringTooLong):
        if config.forward_key and message.key is not None and len(message.key) > 255:
            return ("its key of %d bytes is longer than the 255 an AMQP correlation_id holds "
                    "(rabbitmq.forward.kafka.key=true)" % len(message.key))
        return "a header name, the routing key or the message id is longer than 255 bytes"
    return "it cannot be encoded as an AMQP message: %s" % exc


def _open_error(error: BaseException, config: RabbitMQSinkConfig) -> BeamConnectError:
    """What a failed connection open means: refused credentials or virtual host (a clear error
    that is not retried) or a broker out of reach (:class:`ConnectionLost`)."""
    pika = _pika()
    exceptions = pika.exceptions
    error = _innermost(error)
    if isinstance(error, (exceptions.ProbableAuthenticationError, exceptions.AuthenticationError)):
        return BeamConnectError("%s refused the login of rabbitmq.username=%r (check "
                                "rabbitmq.username and rabbitmq.password): %s"
                                % (config.describe(), config.username, _describe(error)))
    if isinstance(error, exceptions.ProbableAccessDeniedError) or (
            isinstance(error, exceptions.ConnectionClosedByBroker) and error.reply_code == 530):
        return BeamConnectError("%s refused rabbitmq.username=%r access to rabbitmq.virtual.host=%r "
                                "(it does not exist, or the user has no permissions on it): %s"
                                % (config.describe(), config.username, config.virtual_host,
                                   _describe(error)))
    if isinstance(error, exceptions.ConnectionClosedByBroker) and error.reply_code == 403:
        return BeamConnectError("%s refused the login of rabbitmq.username=%r: %s"
                                % (config.describe(), config.username, _describe(error)))
    return ConnectionLost("could not connect to %s: %s" % (config.describe(), _describe(error)))
