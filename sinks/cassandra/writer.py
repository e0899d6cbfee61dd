"""``WriteToCassandra``: each bundle's records as prepared statements, executed concurrently.

Per bundle: every record is bound to its tables' statements (:mod:`sinks.cassandra.statements`),
the statements are grouped by table and partition key into unlogged batches of at most
``maxNumberOfRecordsInBatch`` (one partition per batch, so each applies atomically on its replicas),
and the batches go out with at most ``maxConcurrentRequests`` in flight. The bundle is done once every
one is acknowledged at its consistency level; only then does its result go on to the offset commit.

Failures:

- a record that cannot be bound (a field missing, a value its column's type refuses) or whose write
  the cluster refuses (``InvalidRequest``: a key too long, a value out of range) is handed back as
  :class:`~common.errors.RejectedRecord` and goes to the error path (``errors.tolerance``, the dead
  letter queue) while the rest of the bundle is written. A failing batch is written again statement by
  statement to find the records at fault. ``ignoreErrors=All`` (or ``Driver``, for refusals by the
  cluster only) skips them with a warning instead of stopping a run with ``errors.tolerance=none``, as
  the DataStax connector's task does;
- a node away, unavailable replicas, a timeout: :class:`~common.errors.RetriableError`, and the bundle
  is written again (replays are harmless: see below) for up to ``errors.retry.timeout``; then the run
  fails, and nothing of it is committed;
- a refused permission: the run stops.

Statements that were acknowledged are not sent again when the same bundle is written again without
its rejected records or after a retriable failure (sending them would write the same cells again).
"""

from __future__ import annotations

import logging
from typing import Optional

import apache_beam as beam
import pyarrow as pa

from common.errors import BeamConnectError, RejectedRecord, RetriableError
from sinks.base import BundleWriter, WriteContext
from sinks.cassandra.connect import classify, describe_error, open_session
from sinks.cassandra.statements import Record, Refused, group_by_partition, prepare
from transforms.records import ConvertedBundle, WriteResult, record_ref

_LOGGER = logging.getLogger(__name__)


class _CassandraWriteFn(BundleWriter):
    """Writes bundles with one driver session per worker; one result per bundle naming its tables."""

    def __init__(self, config, context: WriteContext):
        super().__init__(context)
        self._config = config
        self._cluster = None
        self._session = None
        self._plans: dict = {}
        self._names: dict = {}
        self._done_bundle: Optional[tuple] = None
        self._done: set = set()
        self._ignored: set = set()

    def setup(self):
        self._cluster, self._session = open_session(self._config)
        self._plans = {}
        self._names = {t.prefix: t.name for t in self._config.tables}
        for table in self._config.tables:
            self._plans.setdefault(table.topic, []).append(
                prepare(self._session, table, self._config.codec(table.topic)))

    def teardown(self):
        if self._cluster is not None:
            self._cluster.shutdown()
            self._cluster = self._session = None
        super().teardown()

    def write_records(self, bundle: ConvertedBundle) -> tuple:
        coordinates = (bundle.topic, bundle.partition, bundle.window_start, bundle.last_offset)
        if self._done_bundle != coordinates:  # what earlier tries of this bundle wrote or skipped
            self._done_bundle, self._done, self._ignored = coordinates, set(), set()
        records = _records(bundle)
        statements, owners, refused = [], [], []
        tables = set()
        for i, record in enumerate(records):
            plans = self._plans.get(bundle.topic_of(i))
            if not plans:
                refused.append((record.offset, "mapping", "topic %s is not configured (no "
                                "topic.%s.<keyspace>.<table>.mapping)" % ((bundle.topic_of(i),) * 2)))
                continue
            bound = []
            try:
                for plan in plans:
                    tables.add(plan.table.name)
                    if (record.offset, plan.table.prefix) not in self._done:
                        bound.append((plan, plan.bind(record)))
            except Refused as exc:
                refused.append((record.offset, "mapping", "%s: %s" % (plan.table.name, exc)))
                continue
            for plan, statement in bound:
                statements.append(statement)
                owners.append((record.offset, plan.table.prefix))
        self._reject(bundle, refused)
        self._reject(bundle, self._execute(statements, owners))
        written = sum(1 for r in records if r.offset not in self._ignored)
        _LOGGER.info("wrote %d records of topic=%s partition=%d offsets %d..%d to %s",
                     written, bundle.topic, bundle.partition, bundle.offsets[0], bundle.offsets[-1],
                     ", ".join(sorted(tables)) or "no table")
        return tuple(sorted(tables)), 0, written

    def _reject(self, bundle: ConvertedBundle, failures: list) -> None:
        """Raises RejectedRecord for the records of the first reason (the rest come back on the
        retry without them), or skips those ``ignoreErrors`` covers."""
        ignore = self._config.ignore_errors
        if failures and self._context.errors.tolerance == "none" and ignore != "none":
            kept = []
            for offset, kind, reason in failures:
                if ignore == "all" or kind == "driver":
                    _LOGGER.warning("ignoreErrors=%s: skipped record %s: %s", ignore.capitalize(),
                                    record_ref(bundle.topic, bundle.partition, offset), reason)
                    self._ignored.add(offset)
                else:
                    kept.append((offset, kind, reason))
            failures = kept
        if failures:
            reason = failures[0][2]
            raise RejectedRecord(reason, sorted({o for o, _, r in failures if r == reason}))

    def _execute(self, statements: list, owners: list) -> list:
        """Runs the statements (batched by partition); returns ``(offset, 'driver', reason)`` of the
        records the cluster refused.

        Raises:
          RetriableError: a node away, a timeout; BeamConnectError: a refused permission.
        """
        from cassandra.query import BatchStatement, BatchType

        if not statements:
            return []
        groups = group_by_partition(statements, self._config.max_batch_records)
        requests = []
        for indices, members in groups:
            if len(members) == 1:
                requests.append(members[0])
            else:
                batch = BatchStatement(batch_type=BatchType.UNLOGGED,
                                       consistency_level=members[0].consistency_level)
                for member in members:
                    batch.add(member)
                requests.append(batch)
        retry, failures = [], []
        for (indices, members), (ok, outcome) in zip(groups, self._run(requests)):
            if ok:
                self._done.update(owners[i] for i in indices)
            elif len(members) > 1 and classify(outcome) == "refused":
                retry.extend(indices)  # find the records at fault one by one
            else:
                failures.append((outcome, indices))
        if retry:
            for i, (ok, outcome) in zip(retry, self._run([statements[i] for i in retry])):
                if ok:
                    self._done.add(owners[i])
                else:
                    failures.append((outcome, [i]))
        refused = []
        for error, indices in failures:  # what landed is noted above, before any of these raises
            kind = classify(error)
            if kind == "refused":
                refused.extend((owners[i][0], "driver", "Cassandra refused the write to %s: %s"
                                % (self._names[owners[i][1]], describe_error(error))) for i in indices)
                continue
            what = "writing to %s failed: %s" % (self._config.describe(), describe_error(error))
            raise RetriableError(what) if kind == "retriable" else BeamConnectError(what)
        return refused

    def _run(self, requests: list) -> list:
        from cassandra.concurrent import execute_concurrent

        return execute_concurrent(self._session, [(r, None) for r in requests],
                                  concurrency=min(self._config.max_concurrent_requests, len(requests)),
                                  raise_on_first_error=False)


def _records(bundle: ConvertedBundle) -> list:
    keys, values = bundle.keys.to_pylist(), bundle.values.to_pylist()
    key_fields = _struct_fields(bundle.key_schema)
    value_fields = _struct_fields(bundle.value_schema)
    return [Record(keys[i], values[i], bundle.headers[i], bundle.timestamps[i], bundle.topic,
                   bundle.partition, bundle.offsets[i], key_fields, value_fields)
            for i in range(len(bundle))]


def _struct_fields(schema: Optional[pa.Field]) -> Optional[frozenset]:
    if schema is not None and pa.types.is_struct(schema.type):
        return frozenset(f.name for f in schema.type)
    return None


class WriteToCassandra(beam.PTransform):
    """Writes converted bundles to Cassandra tables; one :class:`~transforms.records.WriteResult` per
    bundle, naming the tables it wrote.

    Args:
      config: The parsed :class:`~sinks.cassandra.config.CassandraSinkConfig`.
      context: The run's mode, plans and error policy.
    """

    def __init__(self, config, context: WriteContext):
        super().__init__()
        self._config = config
        self._context = context

    def expand(self, bundles):
        return bundles | "WriteRows" >> beam.ParDo(
            _CassandraWriteFn(self._config, self._context)).with_output_types(WriteResult)
