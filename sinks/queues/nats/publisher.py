"""Publishing to NATS JetStream with nats-py: batches with every acknowledgement awaited at once.

:class:`NatsPublisher` is the :class:`~sinks.queues.publish.Publisher` of the NATS sink. nats-py is an
asyncio client and the Publisher interface is synchronous, so each publisher owns an event loop running
in a background thread of its own (nats-py's reader, flusher and pings keep running between batches)
and hands it one coroutine per call.

A batch is published as plain NATS messages whose reply subjects are tokens under one inbox of the
connection: every message is sent before any acknowledgement is awaited, and the batch is confirmed
once JetStream has answered each of them, within ``nats.publish.ack.timeout.ms``. A ``PubAck`` with
``duplicate: true`` (the stream already holds that ``Nats-Msg-Id``) counts as confirmed. The sink reads
the replies itself rather than through nats-py's ``publish_async``: nats-py 2.16 raises a JetStream
error reply inside its reply handler instead of failing the publish's future, which then never
completes.

What a reply, or its absence, means:

- no acknowledgement in time, or the connection closed: :class:`~sinks.queues.publish.ConnectionLost`;
  the writer connects anew and publishes the batch again (the same ``Nats-Msg-Id`` values, which the
  stream's duplicate window drops if the first copies were stored). nats-py's own reconnection is off:
  a failed connection is replaced by a new one and the batch sent again on it, rather than left in the
  buffer of a client that is reconnecting, whose acknowledgements may never come;
- "no responders" (no stream captures the subject): a refusal of those records, unless JetStream says a
  stream does capture the subject (a stream recovering after a restart), which counts as a lost
  connection;
- a JetStream error (message larger than the stream's ``max_msg_size``, another stream captures the
  subject than ``nats.stream``): a refusal; a 5xx error (JetStream unavailable for now, a stream full
  with ``discard: new``, which a work-queue stream's consumers may empty) counts as a lost connection,
  retried until ``nats.publish.max.retries``;
- a message whose headers and value exceed the server's ``max_payload``, whose subject is invalid, or
  whose headers NATS cannot carry as they are: refused before it is sent (the server would otherwise
  close the connection on it).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import json
import logging
import os
import re
import ssl
import threading
from typing import Dict, List, Optional, Tuple

from common.errors import BeamConnectError, ConfigError, RejectedRecord
from sinks.queues.messages import Message, describe_range
from sinks.queues.nats.config import (COORDINATE_HEADERS, EXPECTED_STREAM_HEADER, ID_HEADER,
                                      NatsSinkConfig, header_name_problem, subject_problem)
from sinks.queues.publish import ConnectionLost, Publisher

_LOGGER = logging.getLogger(__name__)

_HEADER_LINE = b"NATS/1.0\r\n"
_NO_RESPONDERS = "503"
# Seconds a call into the loop may take beyond its own timeouts before the loop counts as stuck.
_SLACK_S = 5.0
_CLOSE_TIMEOUT_S = 2.0
_PERMISSION = re.compile(r"permissions violation for publish to \"?([^\"'\s]+)", re.IGNORECASE)


class Refused(Exception):
    """Why one message cannot be published (it is refused before it is sent)."""


class _Denied(Exception):
    """The server refused the user publishing to the message's subject."""


def prepare(config: NatsSinkConfig, message: Message) -> Tuple[str, Dict[str, str], bytes]:
    """``(subject, headers, payload)`` of ``message`` as it is published.

    Headers, in order: ``Nats-Msg-Id`` (the message id), ``Nats-Expected-Stream`` (with
    ``nats.stream``), the coordinate headers, the key header, then the record's headers. NATS
    headers are text: each value is the UTF-8 text of the bytes, a null value an empty one.

    Raises:
      Refused: the subject is invalid, or a header cannot be carried as it is (not UTF-8, a line
        break, surrounding whitespace, a repeated or reserved name).
    """
    subject = config.subject_of(message)
    problem = subject_problem(subject)
    if problem:
        raise Refused("subject %r (nats.subject=%r) is invalid: %s"
                      % (subject, config.subject, problem))
    headers = {ID_HEADER: message.id}
    if config.stream:
        headers[EXPECTED_STREAM_HEADER] = config.stream
    if config.coordinates:
        values = (message.topic, str(message.partition), str(message.offset),
                  None if message.timestamp is None else str(message.timestamp))
        headers.update((name, value) for name, value in zip(COORDINATE_HEADERS, values)
                       if value is not None)
    if config.key_header and message.key is not None:
        headers[config.key_header] = _text(message.key, "the key (nats.key.header=%s)"
                                           % config.key_header)
    for name, value in message.headers:
        problem = header_name_problem(name, config.coordinates)
        if problem is None and name.lower() == config.key_header.lower():
            problem = "nats.key.header=%s carries the key" % config.key_header
        if problem is None and name in headers:
            problem = "the header is repeated, and a NATS message carries one value per name here"
        if problem:
            raise Refused("header %r cannot be published: %s" % (name, problem))
        headers[name] = "" if value is None else _text(value, "header %r" % name)
    return subject, headers, message.value if message.value is not None else b""


def wire_size(headers: Dict[str, str], payload: bytes) -> int:
    """Bytes of headers and payload as the server counts them against ``max_payload``."""
    return (len(_HEADER_LINE) + sum(len(k.encode()) + len(v.encode()) + 4 for k, v in headers.items())
            + 2 + len(payload))


def _text(value: bytes, what: str) -> str:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("%s is not UTF-8 text, which NATS headers carry" % what) from None
    if "\r" in text or "\n" in text:
        raise Refused("%s holds a line break, which NATS headers cannot carry" % what)
    if text != text.strip():
        raise Refused("%s has leading or trailing whitespace, which NATS headers drop" % what)
    return text


class NatsPublisher(Publisher):
    """One NATS connection, publishing acknowledged batches to JetStream.

    Args:
      config: The sink's config.
    """

    def __init__(self, config: NatsSinkConfig):
        self._config = config
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._nc = None
        self._js = None
        self._server: Optional[str] = None
        self._inbox = ""
        self._batches = 0
        self._lost: Optional[asyncio.Event] = None
        self._lost_reason = ""
        self._waiting: Dict[str, tuple] = {}  # reply token -> (message, subject, future)

    @property
    def server(self) -> Optional[str]:
        """The URL of the server connected to."""
        return self._server

    def connect(self) -> None:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="nats-publisher", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
        timeout = self._config.connect_timeout_ms / 1000.0 * 2 * len(self._config.servers)
        self.run(self._connect(), timeout)

    def publish(self, batch) -> None:
        self.run(self._publish(list(batch)), self._config.ack_timeout_ms / 1000.0)

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(
                _CLOSE_TIMEOUT_S + _SLACK_S)
        except BaseException:  # closing must not raise; the loop is stopped below either way
            _LOGGER.debug("closing the NATS connection to %s failed", self._server, exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_SLACK_S)
        if not thread.is_alive():
            loop.close()
        self._nc = self._js = None

    def run(self, coroutine, timeout: float):
        """Runs ``coroutine`` on the publisher's loop and returns its result (after :meth:`connect`).

        Raises:
          ConnectionLost: it did not end within ``timeout`` seconds (and some slack).
        """
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout + _SLACK_S)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise ConnectionLost("the NATS client did not answer within %.0f s"
                                 % (timeout + _SLACK_S)) from None

    @property
    def jetstream(self):
        """nats-py's JetStream context of the connection (for :mod:`sinks.queues.nats.sink`)."""
        return self._js

    async def _connect(self) -> None:
        import nats
        from nats import errors

        config = self._config
        options = connect_options(config)
        self._lost = asyncio.Event()
        failures = []
        for server in config.servers:
            try:
                # One server at a time, tried twice at most (nats-py's fewest): the writer's
                # backoff decides when to try again.
                nc = await nats.connect(
                    servers=[server], name=config.client_name, allow_reconnect=False,
                    max_reconnect_attempts=1, reconnect_time_wait=0,
                    connect_timeout=config.connect_timeout_ms / 1000.0, error_cb=self._on_error,
                    disconnected_cb=self._on_closed, closed_cb=self._on_closed, **options)
            except ssl.SSLError as exc:
                raise BeamConnectError("the TLS handshake with the NATS server at %s failed: %s "
                                       "(nats.tls.*)" % (server, exc)) from None
            except (OSError, asyncio.TimeoutError, errors.NoServersError) as exc:
                # nats-py ends with "no servers available"; the reason is the error before it
                failures.append("%s: %s" % (server, self._lost_reason or _reason(exc)))
                self._lost_reason = ""
                continue
            except errors.Error as exc:
                text = str(exc)
                if "authoriz" in text.lower() or "authentic" in text.lower():
                    raise BeamConnectError("the NATS server at %s refused %s: %s"
                                           % (server, _who(config), text.replace("nats: ", "")
                                              .strip("'"))) from None
                failures.append("%s: %s" % (server, _reason(exc)))
                continue
            self._nc, self._server, self._lost_reason = nc, server, ""
            break
        else:
            raise ConnectionLost("could not reach a NATS server of nats.servers=%s: %s"
                                 % (config.servers_text, "; ".join(failures)))
        self._js = self._nc.jetstream(timeout=config.ack_timeout_ms / 1000.0)
        self._inbox = self._nc.new_inbox()
        try:
            await self._nc.subscribe(self._inbox + ".*", cb=self._on_reply)
            await self._nc.flush(config.connect_timeout_ms / 1000.0)
        except (errors.Error, OSError, asyncio.TimeoutError) as exc:
            raise ConnectionLost("the NATS server at %s did not answer after connecting: %s"
                                 % (server, _reason(exc))) from None

    async def _on_error(self, error) -> None:
        match = _PERMISSION.search(str(error))
        if match:  # the connection stays open: fail the messages of that subject
            for message, subject, future in list(self._waiting.values()):
                if subject == match.group(1) and not future.done():
                    future.set_exception(_Denied())
            return
        _LOGGER.debug("NATS connection to %s: %s", self._server, error)
        if not self._lost_reason:
            self._lost_reason = _reason(error)

    async def _on_closed(self) -> None:
        if self._lost is not None:
            self._lost.set()

    async def _on_reply(self, msg) -> None:
        entry = self._waiting.get(msg.subject[len(self._inbox) + 1:])
        if entry is not None and not entry[2].done():
            entry[2].set_result(msg)

    async def _shutdown(self) -> None:
        nc, self._waiting = self._nc, {}
        if nc is not None and not nc.is_closed:
            try:
                await asyncio.wait_for(nc.close(), _CLOSE_TIMEOUT_S)
            except BaseException:  # the connection is dropped either way
                pass
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _connection_lost(self) -> ConnectionLost:
        reason = ": %s" % self._lost_reason if self._lost_reason else ""
        return ConnectionLost("the connection to the NATS server at %s was lost%s"
                              % (self._server, reason))

    async def _publish(self, batch: List[Message]) -> None:
        from nats import errors

        nc, config = self._nc, self._config
        if nc is None or not nc.is_connected or self._lost.is_set():
            raise self._connection_lost()
        self._batches += 1
        refused: Dict[int, str] = {}
        self._waiting = {}
        loop = asyncio.get_running_loop()
        for index, message in enumerate(batch):
            try:
                subject, headers, payload = prepare(config, message)
                size = wire_size(headers, payload)
                if size > nc.max_payload:
                    raise Refused("the message is %d bytes with its headers, over the NATS server's "
                                  "max_payload of %d" % (size, nc.max_payload))
            except Refused as refusal:
                refused[message.offset] = str(refusal)
                continue
            token = "%d-%d" % (self._batches, index)
            future = loop.create_future()
            self._waiting[token] = (message, subject, future)
            try:
                await nc.publish(subject, payload, reply="%s.%s" % (self._inbox, token),
                                 headers=headers)
            except (errors.BadSubjectError, errors.BadHeaderError) as exc:
                del self._waiting[token]
                refused[message.offset] = "nats-py refuses subject %r or a header name: %s" % (
                    subject, _reason(exc))
            except (errors.ConnectionClosedError, errors.OutboundBufferLimitError,
                    errors.ConnectionReconnectingError, OSError):
                raise self._connection_lost() from None
        if self._waiting:
            await self._await_replies(batch)
        await self._settle(batch, refused)

    async def _await_replies(self, batch: List[Message]) -> None:
        futures = [entry[2] for entry in self._waiting.values()]
        replies = asyncio.ensure_future(asyncio.wait(futures))
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            await asyncio.wait([replies, lost], timeout=self._config.ack_timeout_ms / 1000.0,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            replies.cancel()
            lost.cancel()
        missing = sum(1 for f in futures if not f.done())
        if missing:
            for future in futures:  # the batch goes again: what came back is dropped
                if future.done():
                    future.exception()
                else:
                    future.cancel()
            if self._lost.is_set():
                raise self._connection_lost()
            raise ConnectionLost("JetStream did not acknowledge %d of %d messages of %s within "
                                 "nats.publish.ack.timeout.ms=%d"
                                 % (missing, len(futures), describe_range(batch),
                                    self._config.ack_timeout_ms))

    async def _settle(self, batch: List[Message], refused: Dict[int, str]) -> None:
        """Reads the batch's replies: returns when all are acknowledgements, else raises."""
        duplicates = 0
        captured: Dict[str, Optional[str]] = {}
        outcomes = [(message, subject, future.exception(), future)
                    for message, subject, future in self._waiting.values()]
        for message, subject, failure, future in outcomes:
            if isinstance(failure, _Denied):
                refused[message.offset] = ("the NATS server does not permit %s to publish to "
                                           "subject %r" % (_who(self._config), subject))
                continue
            reply = future.result()
            status = (reply.headers or {}).get("Status")
            if status == _NO_RESPONDERS:
                if subject not in captured:
                    captured[subject] = await self._stream_of(subject)
                if captured[subject] is not None:
                    raise ConnectionLost("JetStream did not answer for subject %r, which stream "
                                         "%r captures (it may be recovering)"
                                         % (subject, captured[subject]))
                refused[message.offset] = ("no JetStream stream captures subject %r%s"
                                           % (subject, " (nats.stream=%s)" % self._config.stream
                                              if self._config.stream else ""))
                continue
            if status is not None:
                raise ConnectionLost("JetStream answered subject %r with status %s"
                                     % (subject, status))
            try:
                answer = json.loads(reply.data)
            except ValueError:
                raise ConnectionLost("JetStream answered subject %r with %r, not an acknowledgement"
                                     % (subject, reply.data[:200])) from None
            error = answer.get("error")
            if error:
                if int(error.get("code") or 0) >= 500:
                    raise ConnectionLost("JetStream cannot take the message on subject %r now: %s "
                                         "(err_code %s)" % (subject, error.get("description"),
                                                            error.get("err_code")))
                refused[message.offset] = ("JetStream refused the message on subject %r: %s "
                                           "(err_code %s)" % (subject, error.get("description"),
                                                              error.get("err_code")))
                continue
            duplicates += bool(answer.get("duplicate"))
        self._waiting = {}
        if duplicates:
            _LOGGER.info("%d messages of %s were already in the stream (published within its "
                         "duplicate window), not stored again", duplicates, describe_range(batch))
        if refused:
            raise RejectedRecord(_refusal_text(batch, refused), sorted(refused))

    async def _stream_of(self, subject: str) -> Optional[str]:
        """The stream capturing ``subject``, or None when none does."""
        from nats import errors
        from nats.js import errors as js_errors

        try:
            return await self._js.find_stream_name_by_subject(subject)
        except js_errors.NotFoundError:
            return None
        except (errors.NoRespondersError, errors.TimeoutError, js_errors.APIError,
                errors.ConnectionClosedError):
            raise ConnectionLost("JetStream did not answer for subject %r, nor whether a stream "
                                 "captures it" % subject) from None


def _refusal_text(batch: List[Message], refused: Dict[int, str]) -> str:
    reasons = sorted(set(refused.values()))
    if len(reasons) == 1:
        return reasons[0]
    by_offset = {m.offset: m for m in batch}
    return "; ".join("%s: %s" % (by_offset[o].describe(), r) for o, r in sorted(refused.items()))


def _who(config: NatsSinkConfig) -> str:
    if config.username:
        return "user %r (nats.username, nats.password)" % config.username
    if config.token:
        return "the token (nats.token)"
    if config.creds_file:
        return "the credentials of nats.creds.file=%s" % config.creds_file
    return "an anonymous connection (no nats.username, nats.token or nats.creds.file)"


def _reason(error: BaseException) -> str:
    text = str(error).replace("nats: ", "").strip()
    return text or type(error).__name__


def connect_options(config: NatsSinkConfig) -> dict:
    """nats-py ``connect`` keyword arguments for credentials and TLS.

    Raises:
      ConfigError: a file named by a key is missing or unreadable, or ``nats.creds.file`` is set
        without the nkeys package.
    """
    options = {}
    if config.username:
        options.update(user=config.username, password=str(config.password))
    elif config.token:
        options.update(token=str(config.token))
    elif config.creds_file:
        if not os.path.isfile(config.creds_file):
            raise ConfigError("nats.creds.file must name a .creds file, got %r: no such file"
                              % config.creds_file)
        if importlib.util.find_spec("nkeys") is None:  # nats-py signs the server's nonce with it
            raise ConfigError("nats.creds.file needs the nkeys package: pip install nkeys")
        options.update(user_credentials=config.creds_file)
    if config.tls:
        try:
            context = ssl.create_default_context(cafile=config.tls_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError("nats.tls.ca.file must be a PEM file of CA certificates, got %r: %s"
                              % (config.tls_ca_file, exc)) from None
        if config.tls_cert_file:
            try:
                context.load_cert_chain(config.tls_cert_file, config.tls_key_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError("nats.tls.cert.file and nats.tls.key.file must be a PEM "
                                  "certificate and its key, got %r and %r: %s"
                                  % (config.tls_cert_file, config.tls_key_file, exc)) from None
        options["tls"] = context
        if config.tls_hostname:
            options["tls_hostname"] = config.tls_hostname
    return options
