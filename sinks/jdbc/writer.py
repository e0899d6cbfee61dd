"""``WriteToJdbc``: each bundle in one database transaction, replay-safe and reorder-safe.

Delivery: exactly once into the tables, for every insert mode. Per bundle and target table, in one
transaction: the offsets table (``__beamconnect_offsets``) says which offset ranges of the bundle's
source partition the table already holds, and those records are skipped; the rest are reduced (upsert,
update: the last record per key), loaded into a temporary staging table (``COPY`` on PostgreSQL,
``LOAD DATA LOCAL INFILE`` on MySQL/MariaDB where the server takes it, multi-row ``INSERT`` elsewhere)
and written with one statement per operation; then the bundle's window of offsets is added to the
table's ranges. A replay of any range therefore writes nothing twice, and a run killed at any point
leaves each bundle in or out as a whole. The records stay Arrow columns from the converter to the
staging load (see :mod:`sinks.jdbc.staging`); only SQLite's and the fallback's ``INSERT`` statements
bind Python values.

Upsert and update modes also keep each row's source coordinates (``__connect_topic``,
``__connect_partition``, ``__connect_offset``) and write conditionally on them: a row is replaced (or
deleted by a tombstone) only by a record of a later offset of its partition, or of another partition or
topic, whose offsets do not compare. Two bundles of one partition applied in reverse order (possible on
a distributed runner) thus leave the newest row. A tombstone's delete is conditional the same way; a
replay of an older record after its key's tombstone landed in another bundle, applied later, recreates
the row until the tombstone is applied again (the row's coordinates went with it).

Records the database refuses (a constraint, a value too long) are found by bisecting the bundle's
statements inside savepoints and handed back as :class:`~common.errors.RejectedRecord`: the bundle is
written again without them (``errors.tolerance=all`` dead-letters them) or the run stops.
"""

from __future__ import annotations

import logging
from typing import Optional, Sequence

import apache_beam as beam
import numpy as np
import pyarrow as pa

from common.errors import BeamConnectError, RejectedRecord, RetriableError
from sinks.base import BundleWriter, Mode, WriteContext
from sinks.jdbc.connect import Connector
from sinks.jdbc.dialects import OFFSETS_TABLE, copy_line
from sinks.jdbc.records import HIDDEN, OFFSET_COLUMN, PARTITION_COLUMN, TOPIC_COLUMN, Shaper, reduce_batch
from sinks.jdbc.staging import Staged
from sinks.jdbc.tables import Tables
from transforms.records import ConvertedBundle, WriteResult

_LOGGER = logging.getLogger(__name__)


class _Rejected(Exception):
    def __init__(self, found: list):
        super().__init__("rejected")
        self.found = found


class _JdbcWriteFn(BundleWriter):
    """Writes each bundle in one transaction; one :class:`WriteResult` per bundle naming its tables."""

    def __init__(self, config, context: WriteContext):
        super().__init__(context)
        self._config = config
        self._plans = {(p.topic, p.partition): p for p in context.plans}
        self._connector = None

    def setup(self):
        self._connector = Connector(self._config)
        self._connector.transaction(lambda cursor: None, "connecting")
        self._tables = Tables(self._connector.engine, self._connector.dialect, self._config)
        self._tables.ensure_offsets()
        self._shaper = Shaper(self._config)

    def teardown(self):
        if self._connector is not None:
            self._connector.close()
            self._connector = None

    def process(self, bundle: ConvertedBundle):
        if not len(bundle) and self._context.mode is not Mode.REPLAY:
            self._settle_empty(bundle)
        yield self.write_bundle(bundle)

    # -- the window a bundle settles

    def _window(self, bundle: ConvertedBundle) -> Optional[tuple]:
        """``[start, end)`` of the offsets this bundle settles, or None (dead-letter replays).

        Bounded runs: the bundle's whole window of ``batch.size`` offsets, cut at the plan's end, as the
        Kafka read cuts it; streaming: from the window's start to the bundle's last offset.
        """
        mode = self._context.mode
        if mode is Mode.REPLAY or bundle.window_start is None:
            return None
        start = bundle.window_start
        end = bundle.last_offset + 1 if bundle.last_offset is not None else start
        plan = self._plans.get((bundle.topic, bundle.partition))
        if mode is Mode.BATCH and plan is not None:
            start = max(start, plan.start)
            end = max(end, min(bundle.window_start + self._config.batch_size, plan.end))
        return (start, end) if end > start else None

    def _settle_empty(self, bundle: ConvertedBundle) -> None:
        """An empty bundle (all filtered or dead-lettered) still settles its window in its topic's
        table, so that the stored ranges stay contiguous."""
        window = self._window(bundle)
        name = self._config.table_name(bundle.topic)
        if window is None or self._tables.reflect(name) is None:
            return
        self._connector.transaction(lambda cursor: self._claim(
            cursor, name, bundle.topic, bundle.partition, window, self._anchor(bundle)),
            "settling offsets %d..%d of topic=%s partition=%d" % (
                window[0], window[1] - 1, bundle.topic, bundle.partition))

    # -- writing

    def write_records(self, bundle: ConvertedBundle) -> tuple:
        cfg = self._config
        rejected: list = []
        parts = []
        for topic, indices in bundle.by_topic():
            records = self._shaper.batch(bundle, indices, topic, rejected)
            parts.append((cfg.table_name(topic), records))
        if rejected:  # as below: the records of the first reason, the others come back on the retry
            reason = rejected[0][1]
            raise RejectedRecord(reason, [o for o, r in rejected if r == reason])
        what = "writing records %d..%d of topic=%s partition=%d" % (
            bundle.offsets[0], bundle.offsets[-1], bundle.topic, bundle.partition)
        try:
            infos = {name: self._tables.ensure(name, records, cfg.conditional)
                     for name, records in parts if len(records)}
        except BeamConnectError as exc:
            if type(exc) is not BeamConnectError:  # a subclass (retriable...) keeps its own meaning
                raise
            raise BeamConnectError("%s, %s" % (exc, what)) from None  # which records needed it
        window = self._window(bundle)
        try:
            written = self._connector.transaction(
                lambda cursor: self._write(cursor, bundle, parts, infos, window), what)
        except _Rejected as rejected_rows:
            # the records refused for the first reason; the rest of the bundle is written again, so
            # records refused for other reasons come back with their own
            reason = rejected_rows.found[0][1]
            raise RejectedRecord("%s refused the record: %s" % (cfg.target.describe(), reason),
                                 [o for o, r in rejected_rows.found if r == reason]) from None
        _LOGGER.info("wrote %d records of topic=%s partition=%d offsets %d..%d to %s",
                     written, bundle.topic, bundle.partition, bundle.offsets[0], bundle.offsets[-1],
                     ", ".join(name for name, _ in parts))
        return tuple(name for name, _ in parts), 0, written

    def _write(self, cursor, bundle, parts, infos, window) -> int:
        written = 0
        found: list = []
        for name, records in parts:
            if window is not None and len(records):
                covered = self._covered(cursor, name, bundle.topic, bundle.partition, window)
                if covered:
                    inside = np.zeros(len(records), dtype=bool)
                    for s, e in covered:
                        inside |= (records.offsets >= s) & (records.offsets < e)
                    records = records.filter(~inside)
            if len(records):
                info = infos[name]
                for op, items in reduce_batch(records, self._config.insert_mode):
                    found += self._isolating(cursor, op, items, name, records, info, bundle)
                    written += len(items)
            if window is not None:
                self._claim(cursor, name, bundle.topic, bundle.partition, window,
                            self._anchor(bundle))
        if found:
            raise _Rejected(found)
        return written

    def _isolating(self, cursor, op, items, name, records, info, bundle) -> list:
        """Applies ``items`` in a savepoint; on a refusal for the data, bisects down to the records
        refused and returns them as ``(offset, reason)`` (the caller rolls everything back)."""
        dialect = self._connector.dialect
        cursor.execute("SAVEPOINT bc_rows")
        try:
            self._apply(cursor, op, items, name, records, info, bundle)
        except Exception as exc:
            if not dialect.is_record_error(_driver_error(exc)):
                raise
            cursor.execute("ROLLBACK TO SAVEPOINT bc_rows")
            if len(items) == 1:
                return [(int(records.offsets[items[0]]),
                         self._connector.scrub(str(_driver_error(exc)).strip().splitlines()[0]))]
            line = copy_line(_driver_error(exc))
            if line is not None and 1 <= line <= len(items):  # COPY named the row
                bad = items[line - 1:line]
                rest = np.concatenate([items[:line - 1], items[line:]])
                return (self._isolating(cursor, op, bad, name, records, info, bundle)
                        + (self._isolating(cursor, op, rest, name, records, info, bundle) if len(rest)
                           else []))
            half = len(items) // 2
            return (self._isolating(cursor, op, items[:half], name, records, info, bundle)
                    + self._isolating(cursor, op, items[half:], name, records, info, bundle))
        cursor.execute("RELEASE SAVEPOINT bc_rows")
        return []

    def _apply(self, cursor, op, items, name, records, info, bundle) -> None:
        cfg, dialect = self._config, self._connector.dialect
        table = self._tables.qualified(name)
        conditional = cfg.conditional and all(h in info.columns for h in HIDDEN)
        kinds = {c.name: c.kind for c in records.columns}
        if op == "delete":
            names = list(records.keys) + ([h for h in HIDDEN if h not in records.keys]
                                          if conditional else [])
        else:
            names = [c.name for c in records.columns if c.name in info.columns]
            if conditional:
                names += [h for h in HIDDEN if h not in names]
        fields = {c.name for c in records.columns}
        rows = records.table if len(items) == len(records) else records.table.take(pa.array(items))
        arrays = []
        for n in names:
            if n == OFFSET_COLUMN and n not in fields:
                arrays.append(pa.array(records.offsets[items], pa.int64()))
            elif n == TOPIC_COLUMN and n not in fields:
                arrays.append(pa.repeat(pa.scalar(bundle.topic, pa.string()), len(items)))
            elif n == PARTITION_COLUMN and n not in fields:
                arrays.append(pa.repeat(pa.scalar(bundle.partition, pa.int32()), len(items)))
            else:
                arrays.append(rows.column(n))
        hidden_kinds = {TOPIC_COLUMN: "string", PARTITION_COLUMN: "int32", OFFSET_COLUMN: "int64"}
        staged = Staged(dialect, names, arrays,
                        [kinds[n] if n in fields else hidden_kinds.get(n) for n in names],
                        [info.columns.get(n, "other") for n in names])
        for statement in dialect.create_stage(", ".join(dialect.quote(n) for n in names), table):
            cursor.execute(statement)
        dialect.load(cursor, staged)
        if op == "delete":
            statement = dialect.delete(table, dialect.quote(name), records.keys, conditional)
        elif cfg.insert_mode == "insert":
            statement = dialect.insert(table, names)
        elif cfg.insert_mode == "upsert":
            statement = dialect.upsert(table, names, records.keys)
        else:
            statement = dialect.update(table, dialect.quote(name), names, records.keys, conditional)
        cursor.execute(statement)
        cursor.execute(dialect.drop_stage())

    # -- the offsets table

    def _ranges(self, cursor, name, topic, partition, lock: bool) -> list:
        dialect = self._connector.dialect
        q = dialect.quote
        p = dialect.placeholder
        cursor.execute("SELECT %s, %s FROM %s WHERE %s = %s AND %s = %s AND %s = %s ORDER BY %s%s" % (
            q("start_offset"), q("end_offset"), self._tables.qualified(OFFSETS_TABLE),
            q("table_name"), p, q("kafka_topic"), p, q("kafka_partition"), p, q("start_offset"),
            dialect.lock_suffix() if lock else ""), (name, topic, partition))
        return [(int(s), int(e)) for s, e in cursor.fetchall()]

    def _covered(self, cursor, name, topic, partition, window) -> list:
        return [(s, e) for s, e in self._ranges(cursor, name, topic, partition, lock=True)
                if s < window[1] and e > window[0]]

    def _anchor(self, bundle: ConvertedBundle) -> Optional[int]:
        plan = self._plans.get((bundle.topic, bundle.partition))
        return plan.start if plan is not None else None

    def _claim(self, cursor, name, topic, partition, window, anchor: Optional[int] = None) -> None:
        """Adds ``window`` to the table's ranges of the partition, merging touching ranges.

        ``anchor`` is where the run started reading the partition. When no range reaches it yet (a
        first run, or one started elsewhere with ``--from``) and this window lies past it, an empty
        range ``[anchor, anchor)`` is kept too, so that until the windows before this one land, the
        stored offset stays at the run's start rather than past windows that never landed.
        """
        dialect = self._connector.dialect
        q, p = dialect.quote, dialect.placeholder
        offsets = self._tables.qualified(OFFSETS_TABLE)
        start, end = window
        ranges = self._ranges(cursor, name, topic, partition, lock=True)
        if anchor is not None and anchor < start and not any(s <= anchor <= e for s, e in ranges):
            self._insert_range(cursor, name, topic, partition, anchor, anchor)
            ranges.append((anchor, anchor))
        merged = [(s, e) for s, e in ranges if s <= end and e >= start]
        for s, e in merged:
            start, end = min(start, s), max(end, e)
        if merged:
            cursor.execute("DELETE FROM %s WHERE %s = %s AND %s = %s AND %s = %s AND %s >= %s AND %s <= %s"
                           % (offsets, q("table_name"), p, q("kafka_topic"), p, q("kafka_partition"), p,
                              q("start_offset"), p, q("start_offset"), p),
                           (name, topic, partition, start, end))
        self._insert_range(cursor, name, topic, partition, start, end)

    def _insert_range(self, cursor, name, topic, partition, start, end) -> None:
        dialect = self._connector.dialect
        q, p = dialect.quote, dialect.placeholder
        try:
            cursor.execute("INSERT INTO %s (%s, %s, %s, %s, %s) VALUES (%s, %s, %s, %s, %s)" % (
                self._tables.qualified(OFFSETS_TABLE), q("table_name"), q("kafka_topic"),
                q("kafka_partition"), q("start_offset"), q("end_offset"), p, p, p, p, p),
                (name, topic, partition, start, end))
        except Exception as exc:
            if not dialect.is_record_error(_driver_error(exc)):
                raise
            # another writer settled a range starting here at the same time (a bundle run twice at
            # once): the transaction is tried again, and then skips what that writer wrote
            raise RetriableError("offsets %d..%d of topic=%s partition=%d were settled in %s by "
                                 "another writer meanwhile" % (start, end - 1, topic, partition,
                                                               name)) from None


def _driver_error(exc: Exception) -> Exception:
    """The DB-API error behind a SQLAlchemy wrapper (or the error itself)."""
    return getattr(exc, "orig", None) or exc


def stored_offsets(config, partitions: Sequence[tuple]) -> dict:
    """The next offset of each (topic, partition) that its table's ranges give: the end of the first
    contiguous range (a gap left by an out-of-order bundle that never landed is read again)."""
    connector = Connector(config)
    try:
        tables = Tables(connector.engine, connector.dialect, config)
        if tables.reflect(OFFSETS_TABLE) is None:
            return {}
        dialect = connector.dialect
        q, p = dialect.quote, dialect.placeholder
        found = {}

        def read(cursor):
            for topic, partition in partitions:
                cursor.execute("SELECT %s, %s FROM %s WHERE %s = %s AND %s = %s AND %s = %s ORDER BY %s"
                               % (q("start_offset"), q("end_offset"), tables.qualified(OFFSETS_TABLE),
                                  q("table_name"), p, q("kafka_topic"), p, q("kafka_partition"), p,
                                  q("start_offset")), (config.table_name(topic), topic, partition))
                ranges = [(int(s), int(e)) for s, e in cursor.fetchall()]
                if ranges:
                    end = ranges[0][1]
                    for s, e in ranges[1:]:
                        if s > end:
                            break
                        end = max(end, e)
                    found[(topic, partition)] = end

        connector.transaction(read, "reading stored offsets")
        return found
    finally:
        connector.close()


class WriteToJdbc(beam.PTransform):
    """Writes converted bundles to database tables; one :class:`~transforms.records.WriteResult` per
    bundle, naming the tables it wrote.

    Args:
      config: The parsed :class:`~sinks.jdbc.config.JdbcSinkConfig`.
      context: The run's mode and plans: in bounded runs a bundle settles its whole window
        (``batch.size`` offsets, cut at the plan's end); streaming bundles settle up to their last
        offset; dead-letter replays (``Mode.REPLAY``) settle nothing and skip nothing.
    """

    def __init__(self, config, context: WriteContext):
        super().__init__()
        self._config = config
        self._context = context

    def expand(self, bundles):
        return bundles | "WriteRows" >> beam.ParDo(
            _JdbcWriteFn(self._config, self._context)).with_output_types(WriteResult)

