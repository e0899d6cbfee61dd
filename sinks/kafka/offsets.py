"""Where the Kafka sink's transactions keep the source offsets, and reading them back.

Same cluster: the connector's consumer group itself (``send_offsets_to_transaction``); read back with
a stable offset fetch, which waits for transactions in doubt. Another cluster: a compacted topic there
(``kafka.offsets.topic``, one partition), one record per source topic-partition, key
``<name>/<topic>/<partition>``, value the next source offset in decimal, written in the transaction of
the records it settles; read back under ``isolation.level=read_committed`` (the last committed value
of each key wins), then mirrored to the source group for lag tools.

Before anything is read (:meth:`~sinks.kafka.sink.KafkaSink.check`), :func:`fence` initialises the transactions of each partition's
``transactional.id``: that aborts what a killed run left open, which would otherwise hold back both
the stable offsets and the read_committed end of the topics for up to ``transaction.timeout.ms``.
"""

from __future__ import annotations

import logging
import time
from typing import Dict, Optional, Sequence

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from common.errors import BeamConnectError, RetriableError
from sinks.kafka.config import KafkaSinkConfig
from transforms.kafka.planning import retrying
from transforms.kafka.producer import (ProducerRecord, client_settings, discard_producer,
                                       ensure_topic, make_transactional_producer, scrubbed)

_LOGGER = logging.getLogger(__name__)

#: The offsets topic has one partition: every record of it is read at start anyway.
OFFSETS_PARTITIONS = 1


def fence(config: KafkaSinkConfig, partitions: Sequence[tuple]) -> None:
    """Completes or aborts what earlier producers of each partition's ``transactional.id`` left."""
    for topic, partition in partitions:
        producer = make_transactional_producer(config.producer_config,
                                               config.transactional_id(topic, partition))
        discard_producer(producer)


def ensure_offsets_topic(config: KafkaSinkConfig) -> bool:
    """Creates the compacted offsets topic on the target cluster if it is missing."""
    return ensure_topic(config.target_client, config.offsets_topic, OFFSETS_PARTITIONS,
                        config.offsets_replication_factor,
                        topic_config={"cleanup.policy": "compact"})


def offsets_record(config: KafkaSinkConfig, topic: str, partition: int, next_offset: int):
    """``(offsets topic, record)`` saying that ``topic``/``partition`` goes on at ``next_offset``."""
    return config.offsets_topic, ProducerRecord(config.offsets_key(topic, partition),
                                                str(next_offset).encode("ascii"))


def stored(config: KafkaSinkConfig, partitions: Sequence[tuple],
           timeout: float = 60.0) -> Dict[tuple, int]:
    """The next offset of each of ``partitions`` as the transactions committed it (absent: none)."""
    if config.same_cluster:
        return group_offsets(config, partitions, timeout)
    return topic_offsets(config, partitions, timeout)


def group_offsets(config: KafkaSinkConfig, partitions: Sequence[tuple],
                  timeout: float = 60.0) -> Dict[tuple, int]:
    """The group's committed offsets (stable: transactions in doubt are waited for)."""
    consumer = group_client(config)
    try:
        found = retrying(lambda: consumer.committed([TopicPartition(t, p) for t, p in partitions],
                                                    timeout=timeout), timeout)
    except KafkaException as exc:
        raise RetriableError("could not read the offsets of group.id=%s on bootstrap.servers=%s: %s"
                             % (config.group_id, config.source_servers,
                                scrubbed(str(exc.args[0]), config.source_client))) from None
    finally:
        consumer.close()
    return {(tp.topic, tp.partition): tp.offset for tp in found if tp.offset >= 0}


def topic_offsets(config: KafkaSinkConfig, partitions: Sequence[tuple],
                  timeout: float = 60.0) -> Dict[tuple, int]:
    """The committed values of the offsets topic for ``partitions`` (read to its stable end)."""
    wanted = {config.offsets_key(t, p): (t, p) for t, p in partitions}
    settings = config.target_client
    consumer = Consumer(client_settings({
        **settings, "group.id": "beamconnect-offsets-reader", "enable.auto.commit": "false",
        "isolation.level": "read_committed", "enable.partition.eof": "true"}))
    found: Dict[tuple, int] = {}
    try:
        consumer.assign([TopicPartition(config.offsets_topic, p, OFFSET_BEGINNING)
                         for p in range(OFFSETS_PARTITIONS)])
        done = set()
        deadline = time.monotonic() + timeout
        while len(done) < OFFSETS_PARTITIONS:
            if time.monotonic() > deadline:
                raise RetriableError("reading offsets topic %s on bootstrap.servers=%s took longer "
                                     "than %gs" % (config.offsets_topic, config.target_servers, timeout))
            for message in consumer.consume(500, 1.0):
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        done.add(message.partition())
                        continue
                    raise BeamConnectError("reading offsets topic %s on bootstrap.servers=%s failed: %s"
                                           % (config.offsets_topic, config.target_servers,
                                              scrubbed(error.str(), settings)))
                where = wanted.get(message.key())
                if where is not None and message.value() is not None:
                    found[where] = int(message.value().decode("ascii"))
    finally:
        consumer.close()
    return found


def group_client(config: KafkaSinkConfig) -> Consumer:
    """A consumer of the connector's group on the source cluster that never joins it: for the
    transactions' group metadata, stable offset fetches and mirrored commits."""
    return Consumer(client_settings({**config.source_client, "group.id": config.group_id,
                                     "enable.auto.commit": "false",
                                     "isolation.level": "read_committed"}))


def mirror(consumer: Consumer, config: KafkaSinkConfig, topic: str, partition: int,
           next_offset: int) -> None:
    """Commits ``next_offset`` to the source group, for lag tools; a failure is only logged (the
    offsets topic is the truth, and the next mirror catches up)."""
    try:
        result = consumer.commit(offsets=[TopicPartition(topic, partition, next_offset)],
                                 asynchronous=False)
        error: Optional[object] = result[0].error if result else None
    except KafkaException as exc:
        error = exc.args[0]
    if error is not None:
        _LOGGER.warning("could not mirror offset %d of topic=%s partition=%d to group.id=%s: %s",
                        next_offset, topic, partition, config.group_id, error)


__all__ = ["ensure_offsets_topic", "fence", "group_client", "mirror", "offsets_record", "stored"]
