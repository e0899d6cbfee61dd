"""``WriteToKafka``: each bundle's records and its source offsets in one Kafka transaction.

One transactional producer per source topic-partition, ``transactional.id``
``beamconnect-<name>-<topic>-<partition>``; making it fences the producers a killed run left. Each
producer knows the partition's next offset as its store has it (see :mod:`sinks.kafka.offsets`) and
skips records below it, so a replay (``--from earliest``, a retry after an unknown commit outcome)
writes nothing twice. A replay of dead letters (``replay-dlq``) skips nothing and settles no
offsets: replaying the same dead letters twice writes them twice. A transaction holds the bundle's records and the offset past them: on the
same cluster through ``send_offsets_to_transaction`` for the connector's group, on another cluster
as a record of the offsets topic there.

Records the target refuses for what they are (too large, invalid) abort the transaction and come
back as :class:`~common.errors.RejectedRecord` (or, when librdkafka fails a whole batch with them, a
:class:`~common.errors.DataError`, so that the bundle is split down to the records at fault); a
transaction failing for a passing reason is aborted and raises :class:`~common.errors.RetriableError`
(``errors.retry.timeout``). After any failure the partition's producer is dropped (a commit's outcome
may be unknown, a producer may be fenced or still recovering its producer id): the next try starts
on a new one, which settles what the old one left and reads the offsets again.

Keys or values written with a Schema Registry (``avro``, ``json_sr``, ``protobuf``) are serialized
before the
transaction begins: a record that cannot be is left out as a :class:`~common.errors.RejectedRecord`
(dead-lettered by ``errors.tolerance``), and a registry that cannot answer raises
:class:`~transforms.converters.registry.RegistryUnavailable`, retried like any retriable failure,
with no transaction open.
"""

from __future__ import annotations

import logging
from typing import Optional

import apache_beam as beam
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from common.errors import BeamConnectError, DataError, RejectedRecord, RetriableError
from sinks.base import BundleWriter, Mode, WriteContext
from sinks.kafka import offsets as store
from sinks.kafka.config import KafkaSinkConfig
from sinks.kafka.payloads import RegistrySerializer
from sinks.kafka.records import producer_records
from transforms.errors import retrying
from transforms.kafka.producer import (discard_producer, is_rejection, make_transactional_producer,
                                       produce_each, transaction_error)
from transforms.records import ConvertedBundle, WriteResult, record_ref

_LOGGER = logging.getLogger(__name__)

_PURGED = (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT)

#: Seconds each transaction call may take before it counts as failed.
CALL_TIMEOUT = 60.0


class _PartitionProducer:
    """The transactional producer of one source topic-partition, and the next offset it settles."""

    def __init__(self, config: KafkaSinkConfig, topic: str, partition: int):
        self.topic, self.partition = topic, partition
        self.transactional_id = config.transactional_id(topic, partition)
        self.producer = make_transactional_producer(config.producer_config, self.transactional_id,
                                                    timeout=CALL_TIMEOUT)
        try:
            self.next_offset = store.stored(config, [(topic, partition)]).get((topic, partition), -1)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        producer, self.producer = self.producer, None
        if producer is not None:
            discard_producer(producer)

    def abort(self) -> bool:
        """Aborts the open transaction; False when that failed too (drop this producer)."""
        try:
            self.producer.abort_transaction(CALL_TIMEOUT)
            return True
        except KafkaException as exc:
            _LOGGER.warning("aborting the transaction of transactional.id=%s failed: %s",
                            self.transactional_id, exc.args[0])
            return False


class _WriteFn(BundleWriter):
    def __init__(self, config: KafkaSinkConfig, context: WriteContext):
        super().__init__(context)
        self._config = config
        self._producers = None
        self._group = None
        self._whole = None
        self._serializers = None

    def setup(self):
        self._producers = {}
        self._group = store.group_client(self._config)
        config = self._config
        self._serializers = {
            name: RegistrySerializer(output) if output is not None else None
            for name, output in (("keys", config.key_registry), ("values", config.value_registry))}

    def teardown(self):
        for producer in (self._producers or {}).values():
            producer.close()
        self._producers = {}
        for serializer in (self._serializers or {}).values():
            if serializer is not None:
                serializer.close()
        self._serializers = None
        if self._group is not None:
            self._group.close()
            self._group = None
        super().teardown()

    def write_bundle(self, bundle: ConvertedBundle) -> WriteResult:
        self._whole = bundle
        try:
            result = super().write_bundle(bundle)
        finally:
            self._whole = None
        if self._context.mode is Mode.REPLAY:
            return result  # dead letters: scattered offsets that were settled long ago
        if result.failed and self._context.errors.tolerance == "none":
            return result  # the run stops on them: nothing past them is settled
        # Rejected records were dead-lettered (by the context's router) before the rest of the
        # bundle was written, so settling their offsets here loses none of them.
        if result.last_offset >= result.first_offset:
            # Offsets no record of which was written (filtered, dead-lettered, skipped): settled by a
            # transaction of their own, so that the group's offsets reach the end of what was read.
            retrying(lambda: self._settle(bundle.topic, bundle.partition, result.last_offset + 1),
                     self._context.errors, "committing offsets of topic=%s partition=%d"
                     % (bundle.topic, bundle.partition), topic=bundle.topic,
                     partition=bundle.partition)
        return result

    def write_records(self, bundle: ConvertedBundle) -> tuple:
        config = self._config
        whole = bundle is self._whole
        partition = self._producer(bundle.topic, bundle.partition)
        end = None  # a replay of dead letters skips nothing and settles nothing
        if self._context.mode is not Mode.REPLAY:
            keep = [i for i, offset in enumerate(bundle.offsets) if offset >= partition.next_offset]
            if not keep:
                return (), 0, 0
            if len(keep) < len(bundle):
                bundle = bundle.take(keep)
            end = bundle.last_offset + 1 if whole else bundle.offsets[-1] + 1
        if config.same_cluster:  # checked first: serializing may register schemas for the target
            for index in range(len(bundle)):
                target = bundle.topic_of(index)
                if config.reads(target):
                    raise BeamConnectError(
                        "record %s would be written to topic %s, which the connector reads on the "
                        "same cluster; route it elsewhere (RegexRouter, TimestampRouter) or set "
                        "producer.override.bootstrap.servers" % (bundle.record_ref(index), target))
        records = producer_records(bundle, config.key_format, config.value_format,
                                   self._serializers)
        self._transaction(partition, bundle, records, end)
        targets = tuple(dict.fromkeys(t for t, _ in records))
        size = sum(len(r.value or b"") + len(r.key or b"") for _, r in records)
        return targets, size, len(records)

    def _producer(self, topic: str, partition: int) -> _PartitionProducer:
        key = (topic, partition)
        producer = self._producers.get(key)
        if producer is None:
            producer = self._producers[key] = _PartitionProducer(self._config, topic, partition)
        return producer

    def _drop(self, partition: _PartitionProducer) -> None:
        self._producers.pop((partition.topic, partition.partition), None)
        partition.close()

    def _abort(self, partition: _PartitionProducer) -> None:
        """Aborts the partition's transaction and drops its producer: the next try starts on a new
        one (librdkafka may still be recovering the old one's producer id after a failed batch)."""
        partition.abort()
        self._drop(partition)

    def _settle(self, topic: str, partition: int, end: int) -> None:
        producer = self._producer(topic, partition)
        if end > producer.next_offset:
            self._transaction(producer, None, [], end)

    def _transaction(self, partition: _PartitionProducer, bundle: Optional[ConvertedBundle],
                     records: list, end: Optional[int]) -> None:
        """Writes ``records`` and, unless ``end`` is None, the offset ``end`` in one transaction."""
        config, producer = self._config, partition.producer
        what = "the transaction of topic=%s partition=%d up to offset %s (transactional.id=%s)" % (
            partition.topic, partition.partition, end, partition.transactional_id)
        try:
            producer.begin_transaction()
        except KafkaException as exc:
            self._drop(partition)
            raise transaction_error(exc, "beginning " + what, config.producer_config) from None
        items = list(records)
        if end is not None and not config.same_cluster:
            items.append(store.offsets_record(config, partition.topic, partition.partition, end))
        try:
            errors = produce_each(producer, items, timeout=CALL_TIMEOUT * 2)
        except RetriableError:
            self._abort(partition)
            raise
        failed = [(i, e) for i, e in enumerate(errors) if e is not None]
        if failed:
            self._abort(partition)
            self._raise_for(failed, bundle, records, what)
        try:
            if end is not None and config.same_cluster:
                producer.send_offsets_to_transaction(
                    [TopicPartition(partition.topic, partition.partition, end)],
                    self._group.consumer_group_metadata(), CALL_TIMEOUT)
            producer.commit_transaction(CALL_TIMEOUT)
        except KafkaException as exc:
            error = exc.args[0]
            if isinstance(error, KafkaError) and error.txn_requires_abort():
                self._abort(partition)
            else:  # the outcome may be unknown: a new producer settles it
                self._drop(partition)
            raise transaction_error(exc, "committing " + what, config.producer_config) from None
        if end is None:
            _LOGGER.info("committed %d replayed records of topic=%s partition=%d to %s",
                         len(records), partition.topic, partition.partition,
                         ",".join(dict.fromkeys(t for t, _ in records)))
            return
        partition.next_offset = end
        if not config.same_cluster:
            store.mirror(self._group, config, partition.topic, partition.partition, end)
        if records:
            _LOGGER.info("committed %d records of topic=%s partition=%d offsets %d..%d to %s with "
                         "offset %d for group.id=%s", len(records), partition.topic,
                         partition.partition, bundle.offsets[0], bundle.offsets[-1],
                         ",".join(dict.fromkeys(t for t, _ in records)), end, config.group_id)
        else:
            _LOGGER.info("committed offset %d of topic=%s partition=%d for group.id=%s", end,
                         partition.topic, partition.partition, config.group_id)

    def _raise_for(self, failed: list, bundle: Optional[ConvertedBundle], records: list,
                   what: str) -> None:
        count = len(records)
        rejected = [(i, e) for i, e in failed if i < count and is_rejection(e)]
        if not rejected:  # records purged after another's failure say nothing of their own
            others = [(i, e) for i, e in failed if e.code() not in _PURGED] or failed
            index, error = others[0]
            target = records[index][0] if index < count else self._config.offsets_topic
            raise transaction_error(KafkaException(error), "producing to topic %s in %s"
                                    % (target, what), self._config.producer_config)
        index, error = rejected[0]
        reason = "topic %s refused the record: %s (%s)" % (records[index][0], error.str(),
                                                           error.name())
        if len(rejected) == 1:
            raise RejectedRecord(reason, bundle.offsets[index])
        if self._context.errors.tolerance == "none":
            # The run stops on the first refused record: find it in aborted transactions rather
            # than by splitting the bundle, whose halves would commit the records before it.
            index = self._first_refused(bundle, records, [i for i, _ in rejected])
            raise RejectedRecord("topic %s refused the record: %s (%s)" % (
                records[index][0], error.str(), error.name()), bundle.offsets[index])
        raise DataError("topic %s refused %d records of %s..%s: %s (%s)" % (
            records[index][0], len(rejected), record_ref(bundle.topic, bundle.partition,
                                                        bundle.offsets[rejected[0][0]]),
            bundle.offsets[rejected[-1][0]], error.str(), error.name()))


    def _first_refused(self, bundle: ConvertedBundle, records: list, candidates: list) -> int:
        """The first of ``candidates`` (indices into ``records``) that the target refuses."""
        low, high = 0, len(candidates)
        while high - low > 1:
            middle = (low + high) // 2
            if self._refuses(bundle, [records[i] for i in candidates[low:middle]]):
                high = middle
            else:
                low = middle
        return candidates[low]

    def _refuses(self, bundle: ConvertedBundle, records: list) -> bool:
        """Whether the target refuses one of ``records``, tried in a transaction that is aborted."""
        partition = self._producer(bundle.topic, bundle.partition)
        try:
            partition.producer.begin_transaction()
            errors = produce_each(partition.producer, records, timeout=CALL_TIMEOUT * 2)
        except KafkaException as exc:
            self._drop(partition)
            raise transaction_error(exc, "trying records of %s" % bundle.record_ref(0),
                                    self._config.producer_config) from None
        finally:
            if partition.producer is not None:
                self._abort(partition)
        return any(e is not None and is_rejection(e) for e in errors)


class WriteToKafka(beam.PTransform):
    """Writes each bundle to its records' target topics in one transaction with its offsets.

    Args:
      config: The sink's parsed config.
      context: What the run tells the sink.

    Returns a PCollection of :class:`~transforms.records.WriteResult`, one per bundle.
    """

    def __init__(self, config: KafkaSinkConfig, context: WriteContext):
        super().__init__()
        self._config = config
        self._context = context

    def expand(self, bundles):
        return bundles | "WriteTransactions" >> beam.ParDo(_WriteFn(self._config, self._context))
