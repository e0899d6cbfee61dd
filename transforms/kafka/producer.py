"""Writing to Kafka: the producer every Kafka-writing part of a connector shares, and its topics.

:func:`make_producer` makes a producer with the settings a sink needs (``acks=all``, idempotence, a
short linger, Java's partitioner and delivery timeout); :func:`produce_all` produces a batch and returns
only once every record is acknowledged, turning librdkafka's errors into :class:`RetriableError` or
:class:`BeamConnectError`; :func:`ensure_topic` creates a topic that is missing, as Kafka Connect does
for its dead-letter queue (and, with ``topic_config``, a compacted topic).

For transactions (the Kafka sink): :func:`make_transactional_producer` makes a producer with a
``transactional.id`` and fences the earlier producers of that id; :func:`produce_each` produces records
to their topics and returns each one's error instead of raising the first, so that a caller can tell
which records the broker refused; :func:`is_rejection` says whether an error is about the record itself
(too large, invalid); :func:`transaction_error` turns a failed transaction call into the error to raise.

Callers pass a ready librdkafka config (``bootstrap.servers`` and the security settings). Values of
keys that may hold a secret never reach a log line or an error message: librdkafka's error texts go
through :func:`~transforms.kafka.clients.scrubbed`, and its log lines through the collapsing, scrubbing
logger of :func:`~transforms.kafka.clients.client_settings`.
"""

from __future__ import annotations

import logging
import time
from typing import Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from common.errors import BeamConnectError, RetriableError
from transforms.kafka.clients import (client_settings, missing_acl, redacted,  # noqa: F401 (re-exported)
                                      scrubbed)

_LOGGER = logging.getLogger(__name__)

#: Settings a producer gets unless the caller's config sets them.
PRODUCER_DEFAULTS = {
    "acks": "all",
    "enable.idempotence": "true",
    "linger.ms": "5",
    # Java's delivery.timeout.ms: every record gets a delivery report within two minutes.
    "delivery.timeout.ms": "120000",
    # Java's default partitioner (murmur2 of the key), so keys land where Java producers put them.
    "partitioner": "murmur2_random",
}

#: librdkafka and broker errors that may pass on a later try (beyond those flagged retriable).
_RETRIABLE_CODES = frozenset((
    KafkaError._MSG_TIMED_OUT, KafkaError._TIMED_OUT, KafkaError._TIMED_OUT_QUEUE,
    KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE,
    KafkaError._QUEUE_FULL, KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT,
    KafkaError._UNKNOWN_PARTITION, KafkaError.REQUEST_TIMED_OUT, KafkaError.NOT_ENOUGH_REPLICAS,
    KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND, KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.NETWORK_EXCEPTION,
    KafkaError.KAFKA_STORAGE_ERROR, KafkaError.UNKNOWN_TOPIC_OR_PART,
))


#: Errors that refuse one record for what it is (its size, its content): writing it again fails again.
REJECTION_CODES = frozenset((
    KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE, KafkaError.INVALID_RECORD,
    KafkaError.INVALID_MSG, KafkaError.INVALID_MSG_SIZE, KafkaError._BAD_MSG,
))


class ProducerRecord(NamedTuple):
    """One record to produce.

    Attributes:
      key: Key bytes, or None.
      value: Value bytes, or None (a tombstone).
      timestamp: Milliseconds since the epoch; None (or a negative value, Kafka's "no timestamp")
        lets the producer stamp the current time. librdkafka reads 0 as "now" too.
      headers: ``(name, bytes or None)`` pairs, or None.
      partition: The target partition; None lets the partitioner choose.
    """

    key: Optional[bytes]
    value: Optional[bytes]
    timestamp: Optional[int] = None
    headers: Optional[list] = None
    partition: Optional[int] = None


def make_producer(config: Mapping[str, str]) -> Producer:
    """A producer with :data:`PRODUCER_DEFAULTS` under the caller's ``config``.

    Args:
      config: librdkafka settings: ``bootstrap.servers`` and security settings; any producer setting
        given here wins over the defaults.

    Raises:
      BeamConnectError: librdkafka rejects the config (the message hides secret values).
    """
    settings = {**PRODUCER_DEFAULTS, **config}
    try:
        producer = Producer(client_settings(settings))
    except (KafkaException, ValueError, TypeError) as exc:
        raise BeamConnectError("could not make a Kafka producer for bootstrap.servers=%s: %s" % (
            settings.get("bootstrap.servers", "?"), scrubbed(_reason(exc), settings))) from None
    _LOGGER.debug("made a Kafka producer with %s", redacted(settings))
    return producer


def produce_all(producer: Producer, topic: str, records: Iterable[ProducerRecord], *,
                timeout: Optional[float] = None,
                config: Optional[Mapping[str, str]] = None) -> List[Tuple[int, int]]:
    """Produces ``records`` to ``topic`` and waits until every one is acknowledged.

    Args:
      producer: A producer from :func:`make_producer`.
      topic: The target topic.
      records: What to produce, in order.
      timeout: Seconds to wait for the acknowledgements; None waits for every delivery report, which
        librdkafka gives within the producer's ``delivery.timeout.ms``. Records still unacknowledged
        when a timeout runs out are purged from the producer's queue (in-flight ones may still land).
      config: The producer's config, only to scrub secret values from error messages.

    Returns:
      The ``(partition, offset)`` of each record, in the order given.

    Raises:
      RetriableError: a record was not acknowledged for a reason that may pass (a timeout, a broker
        away, a leader moving). Some records of the batch may have been written: a retry produces
        them again.
      BeamConnectError: a record cannot be written (too large, not authorised, a fatal producer
        error); the message names the topic and librdkafka's error.
    """
    records = list(records)
    delivered: List[Optional[Tuple[int, int]]] = [None] * len(records)
    errors: List[KafkaError] = []

    def report(index):
        def on_delivery(err, msg):
            if err is not None:
                errors.append(err)
            else:
                delivered[index] = (msg.partition(), msg.offset())
        return on_delivery

    for index, record in enumerate(records):
        kwargs = {"key": record.key, "value": record.value, "on_delivery": report(index)}
        if record.timestamp is not None and record.timestamp > 0:
            kwargs["timestamp"] = record.timestamp
        if record.headers:
            kwargs["headers"] = list(record.headers)
        if record.partition is not None:
            kwargs["partition"] = record.partition
        while True:
            try:
                producer.produce(topic, **kwargs)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.05)
            except KafkaException as exc:  # rejected before sending: drop the rest of the batch
                producer.purge(in_queue=True, in_flight=False)
                producer.flush(0)
                raise _error(exc.args[0], topic, len(records), config) from None
        producer.poll(0)

    try:
        remaining = _flush(producer, timeout)
    except KafkaException as exc:  # a fatal error (a producer id refused) raised out of flush()
        raise _error(exc.args[0], topic, len(records), config) from None
    # The producer's queue also counts requests and events (a producer id being fetched, say): the
    # records still unreported are the ones without a delivery report.
    unreported = delivered.count(None) - len(errors) if remaining else 0
    if unreported:
        producer.purge(in_queue=True, in_flight=False)
        producer.flush(0)
        raise RetriableError("%d of %d records to topic %s were not acknowledged within %gs"
                             % (unreported, len(records), topic, timeout))
    if errors:
        raise _error(errors[0], topic, len(records), config)
    return delivered  # type: ignore[return-value]


def transactional_settings(config: Mapping[str, str], transactional_id: str) -> dict:
    """``config`` with ``transactional.id``, and a delivery timeout within the transaction's
    (librdkafka refuses a longer one) unless the caller sets one."""
    settings = {**config, "transactional.id": transactional_id}
    if not any(k in settings for k in ("delivery.timeout.ms", "message.timeout.ms")):
        settings["delivery.timeout.ms"] = settings.get("transaction.timeout.ms", "60000")
    return settings


def check_producer_settings(config: Mapping[str, str]) -> Optional[str]:
    """librdkafka's complaint about a producer config (secret values hidden), or None when it takes
    it. Contacts no broker: the producer is closed before it could do anything."""
    settings = {**PRODUCER_DEFAULTS, **config, "log_level": 0}
    try:
        producer = Producer(settings)
    except (KafkaException, ValueError, TypeError) as exc:
        return scrubbed(_reason(exc), settings)
    close = getattr(producer, "close", None)
    if close is not None:
        close()
    return None


def make_transactional_producer(config: Mapping[str, str], transactional_id: str, *,
                                timeout: float = 60.0) -> Producer:
    """A producer (see :func:`make_producer`) with ``transactional.id`` ``transactional_id``, its
    transactions initialised.

    Initialising fences every earlier producer with the same id (a zombie of a killed run) and
    completes or aborts the transaction it left open, so what the transaction state says afterwards
    is settled.

    Raises:
      RetriableError: the transaction coordinator did not answer within ``timeout``.
      BeamConnectError: the producer cannot be made or is not allowed to use transactions.
    """
    settings = transactional_settings(config, transactional_id)
    producer = make_producer(settings)
    try:
        producer.init_transactions(timeout)
    except KafkaException as exc:
        discard_producer(producer, 0)
        raise transaction_error(exc, "initialising the transactions of transactional.id=%s on "
                                "bootstrap.servers=%s" % (transactional_id,
                                                          settings.get("bootstrap.servers", "?")),
                                settings) from None
    return producer


def produce_each(producer: Producer, records: Sequence[Tuple[str, ProducerRecord]], *,
                 timeout: Optional[float] = None) -> List[Optional[KafkaError]]:
    """Produces each ``(topic, record)`` and waits for every delivery report.

    Unlike :func:`produce_all`, an error does not stop the batch: each record's error is returned in
    its place (None for a record written), including errors raised when a record is handed to the
    producer (such as a record larger than its ``message.max.bytes``).

    Raises:
      RetriableError: some reports did not come within ``timeout``.
    """
    errors: List[Optional[KafkaError]] = [None] * len(records)
    pending = set()

    def report(index):
        def on_delivery(err, msg):
            pending.discard(index)
            if err is not None:
                errors[index] = err
        return on_delivery

    for index, (topic, record) in enumerate(records):
        kwargs = _produce_kwargs(record)
        kwargs["on_delivery"] = report(index)
        pending.add(index)
        while True:
            try:
                producer.produce(topic, **kwargs)
                break
            except BufferError:
                producer.poll(0.05)
            except KafkaException as exc:
                pending.discard(index)
                errors[index] = exc.args[0]
                break
        producer.poll(0)
    # The producer's queue also counts requests and events: the records still unreported are those
    # without a delivery report.
    if _flush(producer, timeout) and pending:
        raise RetriableError("%d of %d records were not acknowledged within %gs"
                             % (len(pending), len(records), timeout))
    return errors


def is_rejection(error: KafkaError) -> bool:
    """Whether ``error`` refuses a record for what it is (its size or content), not for a passing
    reason or the producer's state."""
    return error.code() in REJECTION_CODES


def transaction_error(exc: KafkaException, what: str,
                      config: Optional[Mapping[str, str]] = None) -> BeamConnectError:
    """The error to raise for a transaction call (``what``) that raised ``exc``.

    An error that aborting the transaction (or trying again) may get past is a
    :class:`RetriableError`; a fatal one (the producer fenced by a newer one with the same
    ``transactional.id``, transactions not allowed) is a :class:`BeamConnectError`.
    """
    error = exc.args[0] if exc.args else None
    if not isinstance(error, KafkaError):
        return BeamConnectError("%s failed: %s" % (what, scrubbed(str(exc), config or {})))
    reason = scrubbed("%s (%s)" % (error.str(), error.name()), config or {})
    if error.code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
        reason += missing_acl(error, config or {}, "WRITE and DESCRIBE",
                              (config or {}).get("transactional.id", "?"))
    elif error.code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED:
        reason += missing_acl(error, config or {}, "IDEMPOTENT_WRITE", "")
    if error.fatal():
        if error.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                            KafkaError.INVALID_PRODUCER_EPOCH):
            reason += "; a newer producer with the same transactional.id (another run) took over"
        return BeamConnectError("%s failed: %s" % (what, reason))
    if error.retriable() or error.txn_requires_abort() or error.code() in _RETRIABLE_CODES:
        return RetriableError("%s failed: %s" % (what, reason))
    return BeamConnectError("%s failed: %s" % (what, reason))


def close_producer(producer: Producer, timeout: float = 30.0) -> None:
    """Waits up to ``timeout`` for outstanding deliveries, purges what is left and closes."""
    if producer.flush(timeout):
        producer.purge()
        producer.flush(0)
    close = getattr(producer, "close", None)  # confluent-kafka 2.10+
    if close is not None:
        close()


def discard_producer(producer: Producer, timeout: float = 5.0) -> None:
    """:func:`close_producer` for a producer that may be in a fatal state (fenced, say), where
    flushing raises: the error is logged, never raised."""
    try:
        close_producer(producer, timeout)
    except KafkaException as exc:
        _LOGGER.debug("closing a producer in a failed state: %s", exc.args[0] if exc.args else exc)


def ensure_topic(client_config: Mapping[str, str], name: str, partitions: int,
                 replication_factor: int, *, timeout: float = 30.0,
                 topic_config: Optional[Mapping[str, str]] = None) -> bool:
    """Creates topic ``name`` if it is missing; an existing topic is left as it is.

    As Kafka Connect does for its dead-letter queue, the topics are listed first, so that a principal
    that may write to the topic but not create topics works when the topic exists.

    Args:
      client_config: librdkafka connection and security settings.
      name: The topic.
      partitions: Partitions of a new topic.
      replication_factor: Its replication factor (-1: the broker's ``default.replication.factor``).
      timeout: Seconds to wait for each broker request.
      topic_config: Topic settings of a new topic (``cleanup.policy=compact``); an existing topic
        keeps its own.

    Returns:
      Whether the topic was created.

    Raises:
      RetriableError: the brokers could not be reached within ``timeout``.
      BeamConnectError: the topic cannot be created (or the topics listed); the message names the
        topic, the replication factor and the broker's reason.
    """
    servers = client_config.get("bootstrap.servers", "?")
    try:
        admin = AdminClient(client_settings(client_config))
        topics = admin.list_topics(timeout=timeout).topics
    except (KafkaException, ValueError, TypeError) as exc:
        error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
        kind = (RetriableError if isinstance(error, KafkaError) and _retriable(error)
                else BeamConnectError)
        raise kind("could not list the topics on bootstrap.servers=%s to find topic %s: %s"
                   % (servers, name, scrubbed(_reason(exc), client_config))) from None
    existing = topics.get(name)
    if existing is not None and existing.error is None:
        return False
    future = admin.create_topics([NewTopic(name, partitions, replication_factor,
                                           config=dict(topic_config or {}))],
                                 request_timeout=timeout, operation_timeout=timeout)[name]
    try:
        future.result()
    except KafkaException as exc:
        error = exc.args[0]
        if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return False  # made by another worker meanwhile
        raise BeamConnectError(
            "could not create topic %s (partitions=%d, replication.factor=%d) on bootstrap.servers=%s: %s%s"
            % (name, partitions, replication_factor, servers, scrubbed(_reason(exc), client_config),
               missing_acl(error, client_config, "DESCRIBE (and CREATE, to create it)", name))) from None
    _LOGGER.info("created topic %s (partitions=%d, replication.factor=%d)", name, partitions,
                 replication_factor)
    return True


def _produce_kwargs(record: ProducerRecord) -> dict:
    kwargs = {"key": record.key, "value": record.value}
    if record.timestamp is not None and record.timestamp > 0:
        kwargs["timestamp"] = record.timestamp
    if record.headers:
        kwargs["headers"] = list(record.headers)
    if record.partition is not None:
        kwargs["partition"] = record.partition
    return kwargs


def _retriable(error: KafkaError) -> bool:
    if error.fatal():
        return False
    return error.retriable() or error.code() in _RETRIABLE_CODES


def _error(error: KafkaError, topic: str, count: int,
           config: Optional[Mapping[str, str]]) -> BeamConnectError:
    reason = scrubbed("%s (%s)" % (error.str(), error.name()), config or {}) + _denied(error, topic,
                                                                                      config)
    if _retriable(error):
        return RetriableError("producing %d records to topic %s failed: %s" % (count, topic, reason))
    if error.fatal():
        reason += "; the producer cannot produce again"
    return BeamConnectError("producing %d records to topic %s failed: %s" % (count, topic, reason))


def _denied(error: KafkaError, topic: str, config: Optional[Mapping[str, str]]) -> str:
    """The ACL a producer to ``topic`` lacks, for an authorization failure (else "")."""
    config = config or {}
    if error.code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED:  # InitProducerId of an idempotent producer
        return missing_acl(error, config, "WRITE", topic, "TOPIC") + (
            " (an idempotent producer's id needs WRITE on a topic, or IDEMPOTENT_WRITE on the CLUSTER)")
    if error.code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
        return missing_acl(error, config, "WRITE and DESCRIBE", config.get("transactional.id", "?"))
    return missing_acl(error, config, "WRITE and DESCRIBE", topic)


def _reason(exc) -> str:
    error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else exc
    if isinstance(error, KafkaError):
        return error.str()
    return str(error)


def _flush(producer: Producer, timeout: Optional[float]) -> int:
    """Flushes until every queued record is acknowledged or ``timeout`` seconds passed (None: no
    limit); returns how many are still unacknowledged."""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        remaining = producer.flush(_slice(deadline))
        while remaining and (deadline is None or time.monotonic() < deadline):
            remaining = producer.flush(_slice(deadline))
    except SystemError as exc:
        # confluent-kafka raises a fatal error (a refused producer id, say) from within flush() and
        # then runs the delivery callbacks with that exception still set, which Python turns into a
        # SystemError caused by it: the fatal error is the one to report.
        if isinstance(exc.__cause__, KafkaException):
            raise exc.__cause__ from None
        raise
    return remaining


def _slice(deadline: Optional[float]) -> float:
    if deadline is None:
        return 1.0
    return max(0.0, min(1.0, deadline - time.monotonic()))
