"""Dead letters on a Kafka topic, as Kafka Connect's ``DeadLetterQueueReporter`` writes them, and back.

:class:`TopicDeadLetters` produces each failed record to the dead-letter topic with its original key,
value, timestamp and headers, and, with ``errors.deadletterqueue.context.headers.enable``, Connect's
``__connect.errors.*`` context headers appended after them. Every context header value is a UTF-8
string, numbers in decimal, exactly as Connect encodes them, so tools written for Connect's dead-letter
queues read these too.

:func:`restore` turns a bundle read from a dead-letter topic back into bundles of the original
topic-partitions, for a replay through the connector.
"""

from __future__ import annotations

import logging
from typing import List, Mapping, Optional, Sequence

from common.errors import BeamConnectError, ConfigError
from common.logs import partition_fields
from transforms.errors import DeadLetterWriter
from transforms.kafka.producer import (ProducerRecord, close_producer, ensure_topic, make_producer,
                                       produce_all)
from transforms.records import FailedRecord, KafkaBundle

_LOGGER = logging.getLogger(__name__)

HEADER_PREFIX = "__connect.errors."
ERROR_HEADER_ORIG_TOPIC = HEADER_PREFIX + "topic"
ERROR_HEADER_ORIG_PARTITION = HEADER_PREFIX + "partition"
ERROR_HEADER_ORIG_OFFSET = HEADER_PREFIX + "offset"
ERROR_HEADER_CONNECTOR_NAME = HEADER_PREFIX + "connector.name"
ERROR_HEADER_TASK_ID = HEADER_PREFIX + "task.id"
ERROR_HEADER_STAGE = HEADER_PREFIX + "stage"
ERROR_HEADER_EXECUTING_CLASS = HEADER_PREFIX + "class.name"
ERROR_HEADER_EXCEPTION = HEADER_PREFIX + "exception.class.name"
ERROR_HEADER_EXCEPTION_MESSAGE = HEADER_PREFIX + "exception.message"
ERROR_HEADER_EXCEPTION_STACK_TRACE = HEADER_PREFIX + "exception.stacktrace"

#: Connect creates the dead-letter topic with one partition.
DLQ_PARTITIONS = 1
#: ``errors.deadletterqueue.topic.replication.factor``'s default.
DEFAULT_REPLICATION_FACTOR = 3


def context_headers(record: FailedRecord, connector_name: str, task_id: int) -> list:
    """The ``__connect.errors.*`` headers of ``record``, in Connect's order and encoding.

    Values are UTF-8 strings (partition, offset and task id in decimal). As in Connect, an exception
    without a message gets a null ``exception.message``; a record failed with a reason rather than an
    exception carries no stack trace, so it gets no ``exception.stacktrace`` header.
    """
    headers = [
        (ERROR_HEADER_ORIG_TOPIC, _utf8(record.topic)),
        (ERROR_HEADER_ORIG_PARTITION, _utf8(str(record.partition))),
        (ERROR_HEADER_ORIG_OFFSET, _utf8(str(record.offset))),
        (ERROR_HEADER_CONNECTOR_NAME, _utf8(connector_name)),
        (ERROR_HEADER_TASK_ID, _utf8(str(task_id))),
        (ERROR_HEADER_STAGE, _utf8(record.stage)),
        (ERROR_HEADER_EXECUTING_CLASS, _utf8(record.class_name)),
    ]
    if record.exception_class:
        headers.append((ERROR_HEADER_EXCEPTION, _utf8(record.exception_class)))
        headers.append((ERROR_HEADER_EXCEPTION_MESSAGE, _utf8(record.reason) if record.reason else None))
        if record.stacktrace:
            headers.append((ERROR_HEADER_EXCEPTION_STACK_TRACE, _utf8(record.stacktrace)))
    return headers


class TopicDeadLetters(DeadLetterWriter):
    """Writes failed records to a Kafka topic (``errors.deadletterqueue.topic.name``).

    :meth:`open` creates the topic when it is missing, with one partition and ``replication_factor``,
    as Connect does. Each record is produced with its original key, value, timestamp and headers, with
    no partition (the one partition of a topic Connect created, or the key's partition in a topic made
    with more); the context headers follow when ``context_headers`` is set.

    Delivery guarantee: at least once. :meth:`write` returns only when the broker acknowledged every
    record (``acks=all``, idempotent producer), so dead letters are durable before the bundle's offsets
    can be committed. A write that fails part-way and is retried, a retried bundle and a replay of the
    source offsets each produce their failed records again: the topic then holds duplicates, which
    carry the same original coordinates in their context headers (:func:`restore` collapses them).

    Writers are pickled into DoFns: no client exists before :meth:`open`, and a pickled writer drops
    its producer.

    Args:
      client_config: librdkafka connection and security settings of the dead-letter topic's cluster;
        producer settings given here win over the producer's defaults.
      topic: The dead-letter topic.
      replication_factor: ``errors.deadletterqueue.topic.replication.factor`` of a topic that must be
        created (-1: the broker's default).
      context_headers: ``errors.deadletterqueue.context.headers.enable``.
      connector_name: The connector's ``name``, for ``__connect.errors.connector.name``.
      task_id: For ``__connect.errors.task.id``.
    """

    def __init__(self, client_config: Mapping[str, str], topic: str,
                 replication_factor: int = DEFAULT_REPLICATION_FACTOR, context_headers: bool = False,
                 connector_name: str = "", task_id: int = 0):
        topic = topic.strip() if isinstance(topic, str) else topic
        if not isinstance(topic, str) or not topic:
            raise ConfigError("errors.deadletterqueue.topic.name must be a topic name, got %r" % (topic,))
        if (not isinstance(replication_factor, int) or isinstance(replication_factor, bool)
                or not (replication_factor == -1 or replication_factor >= 1)):
            raise ConfigError("errors.deadletterqueue.topic.replication.factor must be a positive "
                              "integer or -1, got %r" % (replication_factor,))
        if "bootstrap.servers" not in client_config:
            raise ConfigError("the dead-letter topic's client config needs bootstrap.servers")
        self.client_config = dict(client_config)
        self.topic = topic
        self.replication_factor = replication_factor
        self.context_headers = bool(context_headers)
        self.connector_name = connector_name
        self.task_id = int(task_id)
        self.description = "topic %s" % topic
        self._producer = None
        self._topic_ready = False

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_producer"] = None
        return state

    def open(self) -> None:
        """Creates the topic if it is missing and makes the producer."""
        if not self._topic_ready:
            if ensure_topic(self.client_config, self.topic, DLQ_PARTITIONS, self.replication_factor):
                _LOGGER.warning("dead-letter topic %s did not exist; created it", self.topic)
            self._topic_ready = True
        if self._producer is None:
            self._producer = make_producer(self.client_config)

    def write(self, failed: Sequence[FailedRecord]) -> None:
        """Produces ``failed`` and returns once all are acknowledged.

        Raises:
          RetriableError: a record was not acknowledged for a passing reason.
          BeamConnectError: a record cannot be written to the topic.
        """
        if not failed:
            return
        self.open()
        records = [self._record(r) for r in failed]
        try:
            produce_all(self._producer, self.topic, records, config=self.client_config)
        except BeamConnectError:
            # A retry starts on a new producer: an idempotent producer that hit an error may be
            # unable to produce again.
            self._drop_producer()
            raise
        _LOGGER.info("wrote %d dead letters of topic=%s partition=%d offsets %d..%d to topic %s",
                     len(failed), failed[0].topic, failed[0].partition, failed[0].offset,
                     failed[-1].offset, self.topic,
                     extra=partition_fields(failed[0].topic, failed[0].partition, failed[0].offset,
                                            failed[-1].offset))

    def close(self) -> None:
        """Waits for outstanding deliveries and closes the producer."""
        self._drop_producer()

    def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            close_producer(producer)

    def _record(self, record: FailedRecord) -> ProducerRecord:
        headers = list(record.headers or ())
        if self.context_headers:
            headers += context_headers(record, self.connector_name, self.task_id)
        return ProducerRecord(record.key, record.value, record.timestamp, headers or None)


def restore(bundle: KafkaBundle) -> List[KafkaBundle]:
    """The records of ``bundle``, read from a dead-letter topic, as bundles of their original
    topic-partitions (ordered by topic, then partition).

    Each record's original coordinates come from its ``__connect.errors.topic``, ``.partition`` and
    ``.offset`` headers. The context headers are the ones from the last ``__connect.errors.topic`` on
    (they are appended after the original headers); every ``__connect.errors.*`` header there is
    removed, and the headers before it are the original ones. Offsets are sorted, a record that was
    dead-lettered more than once (a retry, a replay) is kept once, and each bundle's ``window_start``
    is its first original offset. Timestamps are the dead-letter records', which the writer copied
    from the originals.

    Raises:
      BeamConnectError: a record carries no (or unreadable) original coordinates; the message names
        its place in the dead-letter topic.
    """
    groups: dict = {}
    for index in range(len(bundle)):
        topic, partition, offset, headers = _original(bundle, index)
        group = groups.setdefault((topic, partition), {})
        if offset in group:
            continue
        group[offset] = (bundle.timestamps[index], bundle.timestamp_types[index], bundle.keys[index],
                         bundle.values[index], headers)
    restored = []
    for (topic, partition), records in sorted(groups.items()):
        offsets = sorted(records)
        columns = [records[o] for o in offsets]
        restored.append(KafkaBundle(
            topic, partition, offsets[0], offsets, [c[0] for c in columns], [c[1] for c in columns],
            [c[2] for c in columns], [c[3] for c in columns], [c[4] for c in columns]))
    return restored


def _original(bundle: KafkaBundle, index: int):
    """``(topic, partition, offset, original headers)`` of dead-letter record ``index``."""
    headers = list(bundle.headers[index] or ())
    start = None
    for position, (name, _) in enumerate(headers):
        if name == ERROR_HEADER_ORIG_TOPIC:
            start = position
    if start is None:
        raise BeamConnectError(
            "dead-letter record %s has no %s header, so its source record is unknown; restoring "
            "needs dead letters written with errors.deadletterqueue.context.headers.enable=true"
            % (bundle.record_ref(index), ERROR_HEADER_ORIG_TOPIC))
    context = dict(h for h in headers[start:] if h[0].startswith(HEADER_PREFIX))
    try:
        topic = context[ERROR_HEADER_ORIG_TOPIC].decode("utf-8")
        partition = int(context[ERROR_HEADER_ORIG_PARTITION].decode("ascii"))
        offset = int(context[ERROR_HEADER_ORIG_OFFSET].decode("ascii"))
    except (KeyError, AttributeError, UnicodeDecodeError, ValueError):
        raise BeamConnectError(
            "dead-letter record %s has no readable %s, %s and %s headers (got %r): it cannot be "
            "restored to its source record"
            % (bundle.record_ref(index), ERROR_HEADER_ORIG_TOPIC, ERROR_HEADER_ORIG_PARTITION,
               ERROR_HEADER_ORIG_OFFSET, {k: v for k, v in context.items() if k in (
                   ERROR_HEADER_ORIG_TOPIC, ERROR_HEADER_ORIG_PARTITION, ERROR_HEADER_ORIG_OFFSET)})) \
            from None
    original = headers[:start] + [h for h in headers[start:] if not h[0].startswith(HEADER_PREFIX)]
    return topic, partition, offset, original or None


def _utf8(text: Optional[str]) -> Optional[bytes]:
    return None if text is None else text.encode("utf-8")


__all__ = ["DEFAULT_REPLICATION_FACTOR", "HEADER_PREFIX", "TopicDeadLetters", "context_headers",
           "restore"]
