"""``WriteToFiles``: files per bundle window, laid out as Confluent's S3/GCS sinks lay them out.

Delivery: exactly once. A window's records are the offsets ``[w, w + flush.size)`` of one partition
(windows aligned to the run's planned start). The partitioner splits them by directory, and each
directory's share becomes one file, ``<store>/<topics.dir>/<topic>/<directory>/<topic>+<p>+<first
offset>.<ext>`` (with ``.keys.<ext>`` and ``.headers.<ext>`` files beside it when those are stored), so
names depend only on the data and the config. A replayed window rewrites the same names with the same
records; a file appears whole or not at all (a temporary name and a rename on file systems, one upload
on object stores). After every write, files that this run did not write are removed if they start
inside its range or past the group's committed offset (left by a killed run that planned further, or
laid out differently), as are stray temporary files, so a rerun converges to exactly what a clean run
writes.

In streaming mode windows are cut by the data instead (``flush.size`` records, or ``rotate.interval.ms``
of record time) from the committed offset on; a window's offsets are committed once all its files are
in place, and a replayed window rewrites the same names with the same records. Windows may also close
on the clock (``rotate.schedule.interval.ms``, ``idle.flush.ms``), where a replay may cut elsewhere:
before a streaming run reads, :meth:`FilesSink.recover` removes every file past the committed offsets,
so the replay rebuilds them from the committed offset and no record is written twice.

Bounded runs that hold partial windows (micro-batch mode, ``--hold-partial``) neither write nor commit
a partition's last window when the run ends inside it, so the next run writes it whole and the chain of
files is the one a single run writes (see :class:`~transforms.records.Bundling`).

A value schema change inside a window closes the file as ``schema.compatibility`` says (see
:mod:`sinks.files.schemas`): the window's records are split into consecutive runs of one file schema,
each its own file named by its first offset, so a replay writes the same names. With
``behavior.on.null.values=write`` a window's tombstones become a keys (and headers) file, without a
value file, under ``<topic>/<tombstone.encoded.partition>/``, named by the first tombstone's offset.

Names use each record's target topic (after transforms such as RegexRouter) with its source partition
and offset, as Confluent's sinks do; two source topics routed to one target topic would write the same
names for the same partition and offset, so route distinct topics to distinct names. A record the sink
cannot write (a tombstone with ``behavior.on.null.values=fail``, a null key with
``store.kafka.keys=true``, a record without the field it is partitioned by) is left out and handed to
the error path (``TASK_PUT``); the rest of its window is written, and a replay leaves out the same
records, so it writes the same names.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Mapping, Optional, Sequence

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc

from common.errors import ConfigError, RejectedRecord
from sinks.avro_schema import AvroSchemaError
from sinks.base import BundleWriter, Bundling, ConnectorContext, Mode, Sink, WriteContext
from sinks.files.config import CONFIG_DEF, IGNORED_KEYS, FilesSinkConfig, config_def
from sinks.files.schemas import ProjectionError, check_versions, project, schema_runs
from sinks.files.storage import StorageError
from transforms.records import ConvertedBundle, WriteResult

_LOGGER = logging.getLogger(__name__)


class _WriteFileFn(BundleWriter):
    """Writes each bundle as its files; one :class:`WriteResult` per bundle listing them."""

    def __init__(self, config: FilesSinkConfig, context: WriteContext):
        super().__init__(context)
        self._config = config

    def write_records(self, bundle: ConvertedBundle) -> tuple[tuple, int, int]:
        cfg = self._config
        values = bundle.values
        if values.null_count:
            nulls = values.is_null()
            if cfg.null_values == "fail":
                raise RejectedRecord(
                    "the record has a null value and behavior.on.null.values=fail; set it to 'ignore' "
                    "to skip tombstones, or 'write' to keep their keys",
                    [o for o, n in zip(bundle.offsets, nulls.to_pylist()) if n])
            if cfg.tombstone_dir is None:
                bundle = bundle.take([i for i, n in enumerate(nulls.to_pylist()) if not n])
            if not len(bundle):
                return (), 0, 0
        if cfg.keys_format is not None and bundle.keys.null_count:
            nulls = bundle.keys.is_null().to_pylist()
            raise RejectedRecord("the record has a null key and store.kafka.keys=true; a keys file "
                                 "holds one key per record",
                                 [o for o, n in zip(bundle.offsets, nulls) if n])
        # Every file of the bundle is in place before its result goes on to be committed.
        paths, size = [], 0
        for topic, rows in bundle.by_topic():
            part = bundle if rows is None else bundle.take(rows)
            part, tombstones = _tombstones(part) if cfg.tombstone_dir is not None else (part, None)
            directories = cfg.partitioner.split(part, part.offsets, part.values) if len(part) else ()
            # one file per run of one value schema (schema.compatibility), all checked before writing
            runs = [(d, run, projected, schema) for d, positions in directories
                    for run, projected, schema in self._schema_runs(part, positions)]
            files = [self._write(part, topic, d, run, projected=projected, schema=schema)
                     for d, run, projected, schema in runs]
            if tombstones is not None:  # their keys (and headers) only, as Confluent's S3 sink
                files.append(self._write(tombstones, topic, cfg.tombstone_dir, None,
                                         with_values=False))
            for path, written in (f for group in files for f in group):
                paths.append(path)
                size += written
        return tuple(paths), size, len(bundle)

    def _schema_runs(self, part: ConvertedBundle, positions) -> list:
        """``(positions, values or None, schema)`` of each run of the records at ``positions`` that
        share a value schema under schema.compatibility: their values projected to the run's schema
        (None: as they are), and that schema (the file's)."""
        cfg = self._config
        own = part.value_schemas()
        if own is None:  # one schema for all (or schemaless): nothing to split or project
            if part.value_schema is not None:
                try:
                    check_versions([part.value_schema], cfg.schema_compatibility)
                except ProjectionError as error:
                    at = range(len(part)) if positions is None else positions.to_pylist()
                    raise RejectedRecord(str(error), [part.offsets[i] for i in at]) from None
            return [(positions, None, part.value_schema)]
        at = list(range(len(part))) if positions is None else positions.to_pylist()
        schemas = [own[i] for i in at]
        try:
            runs = schema_runs(schemas, cfg.schema_compatibility)
        except ProjectionError as error:
            raise RejectedRecord(str(error), [part.offsets[at[k]] for k in error.positions]) from None
        out = []
        for begin, end, schema in runs:
            run = at[begin:end]
            try:
                projected = project(part.values.take(pa.array(run, pa.int64())), schemas[begin:end],
                                    schema)
            except ProjectionError as error:
                raise RejectedRecord(str(error), [part.offsets[run[k]] for k in error.positions]) \
                    from None
            out.append((pa.array(run, pa.int64()), projected, schema))
        return out

    def _write(self, bundle: ConvertedBundle, topic: str, directory: str, positions,
               with_values: bool = True, projected: Optional[pa.Array] = None,
               schema: Optional[pa.Field] = None) -> list:
        """The bundle's records that go to ``directory`` of ``topic``: the value file (unless
        ``with_values`` is false; ``projected`` holds the values when they were projected to the
        file's schema, ``schema``), and the keys and headers files next to it when they are stored;
        ``(path, bytes)`` per file."""
        cfg = self._config
        offsets, values, rows = bundle.offsets, bundle.values, None
        if positions is not None:
            offsets = pc.take(pa.array(offsets, pa.int64()), positions).to_pylist()
            values = pc.take(values, positions)
            rows = positions
        if projected is not None:
            values = projected
        files = [("", cfg.format, values, schema)] if with_values else []
        for infix, fmt in cfg.companions().items():
            files.append((infix, fmt, _keys(bundle, rows), bundle.key_schema) if infix == ".keys"
                         else (infix, fmt, _headers(bundle, rows), None))
        results = []
        for infix, fmt, data_values, data_schema in files:
            name = cfg.naming.name(topic, bundle.partition, offsets[0], offsets[-1], infix + fmt.extension)
            path = cfg.storage.path(cfg.topics_dir, topic, directory, name)
            try:
                data = fmt.serialize_with_schema(data_values, data_schema)
            except AvroSchemaError as exc:  # their schema has no Avro schema: the file's records fail
                raise RejectedRecord(str(exc), offsets) from exc
            try:
                cfg.storage.write(path, data)
            except StorageError as exc:
                raise StorageError("%s (records topic=%s partition=%d offsets %d..%d). The run stopped; "
                                   "the file's offsets are not committed."
                                   % (exc, bundle.topic, bundle.partition, offsets[0], offsets[-1])) \
                    from exc
            _LOGGER.debug("wrote %s (%d records, offsets %d..%d)", path, len(offsets), offsets[0],
                          offsets[-1])
            results.append((path, len(data)))
        return results


def _tombstones(bundle: ConvertedBundle) -> tuple:
    """``(records with a value, tombstones or None)`` of one target topic's records."""
    if not bundle.values.null_count:
        return bundle, None
    nulls = bundle.values.is_null().to_pylist()
    return (bundle.take([i for i, n in enumerate(nulls) if not n]),
            bundle.take([i for i, n in enumerate(nulls) if n]))


_HEADERS_TYPE = pa.list_(pa.struct([pa.field("key", pa.string(), nullable=False),
                                    pa.field("value", pa.binary())]))


def _keys(bundle: ConvertedBundle, rows: Optional[pa.Array]) -> pa.Array:
    return bundle.keys if rows is None else pc.take(bundle.keys, rows)


def _headers(bundle: ConvertedBundle, rows: Optional[pa.Array]) -> pa.Array:
    """Each record's headers as a list of {key, value} (empty when it has none)."""
    indices = range(len(bundle)) if rows is None else rows.to_pylist()
    return pa.array([[{"key": k, "value": v} for k, v in (bundle.headers[i] or ())]
                     for i in indices], _HEADERS_TYPE)


class _RemoveStaleFn(beam.DoFn):
    """Deletes files of uncommitted offsets that this run did not write, and stray temporary files.

    Files are named by each record's target topic (a transform may rename it) and its source partition
    and offset; a target topic's files belong to the source topic-partitions whose records this run
    wrote there, and to the source topic itself.
    """

    def __init__(self, config: FilesSinkConfig, plans: Sequence):
        self._config = config
        self._plans = {(p.topic, p.partition): p for p in plans}
        self._extensions = {config.naming.extension(config.format.extension)} | {
            config.naming.extension(infix + fmt.extension) for infix, fmt in config.companions().items()}

    def _stale(self, plan, offset: int) -> bool:
        """A file of this run's range it did not write, or one past the group's committed offset.

        Files before the plan's start, and committed files past its end (a reset after the topic was
        recreated), are never touched.
        """
        if offset < plan.start:
            return False
        return offset < plan.end or plan.committed is None or offset >= plan.committed

    def _owners(self, written: Sequence[WriteResult]) -> dict:
        """{(target topic, partition): plan of the source topic-partition whose files those are}."""
        cfg = self._config
        owners = dict(self._plans)
        for result in written:
            plan = self._plans.get((result.topic, result.partition))
            for path in result.targets:
                parsed = cfg.naming.parse(os.path.basename(path))
                if plan is not None and parsed is not None:
                    owners.setdefault((parsed.topic, parsed.partition), plan)
        return owners

    def process(self, written: Sequence[WriteResult]):
        cfg = self._config
        keep = {path for w in written for path in w.targets}
        owners = self._owners(written)
        for directory, start_after in self._listings(owners):
            for path in cfg.storage.walk(directory, start_after=start_after):
                base = os.path.basename(path)
                parsed = cfg.naming.parse(base)
                plan = owners.get((parsed.topic, parsed.partition)) if parsed is not None else None
                stale = (plan is not None and parsed.extension in self._extensions
                         and path not in keep and self._stale(plan, parsed.offset))
                temp = cfg.naming.parse_temp(base)
                if temp is not None and (temp.topic, temp.partition) not in owners:
                    temp = None
                if stale or temp is not None:
                    _LOGGER.info("removing %s, left by an earlier run that did not commit", path)
                    cfg.storage.delete(path)
        yield from written

    def _listings(self, owners: Mapping):
        """(directory, start_after) pairs that cover every file of the planned partitions: each
        partition's own directory where the partitioner has one, else each topic's directory."""
        cfg = self._config
        whole_topics = set()
        for (topic, partition), plan in sorted(owners.items()):
            own = cfg.partitioner.partition_directory(topic, partition)
            if own is None:
                whole_topics.add(topic)
                continue
            directory = cfg.storage.path(cfg.topics_dir, topic, own)
            yield directory, self._listing_start(directory, topic, plan)
        for topic in sorted(whole_topics):
            yield cfg.storage.path(cfg.topics_dir, topic), None
        if cfg.tombstone_dir is not None:  # every partition's tombstones of a topic, side by side
            for topic in sorted({topic for topic, _ in owners} - whole_topics):
                yield cfg.storage.path(cfg.topics_dir, topic, cfg.tombstone_dir), None

    def _listing_start(self, directory: str, topic: str, plan) -> Optional[str]:
        """Where a sorted listing of the partition's files may start: its files before the plan's start
        are never stale, and while every offset fits the zero padding, names sort as offsets do."""
        cfg = self._config
        if max(plan.end, plan.committed or 0) >= 10 ** cfg.pad_width:
            return None
        return cfg.storage.path(directory, cfg.naming.prefix(topic, plan.partition, plan.start))


class WriteToFiles(beam.PTransform):
    """Writes converted bundles as files; returns one :class:`~transforms.records.WriteResult` per
    bundle, listing its files.

    Args:
      config: The parsed sink config.
      context: The run's mode and plans. In a bounded run (``Mode.BATCH``) offsets from each plan's
        start on are uncommitted, so files there that this run did not write are removed once all
        writes are done; streaming runs clean up before they read (:meth:`FilesSink.recover`), and
        replay runs write each bundle and clean nothing up.
    """

    def __init__(self, config: FilesSinkConfig, context: WriteContext):
        super().__init__()
        self._config = config
        self._context = context

    def expand(self, bundles):
        written = bundles | "WriteFiles" >> beam.ParDo(_WriteFileFn(self._config, self._context))
        if self._context.mode is not Mode.BATCH:
            return written
        return (written
                | "CollectWritten" >> beam.combiners.ToList()
                | "RemoveStaleFiles" >> beam.ParDo(_RemoveStaleFn(self._config,
                                                                  self._context.plans)))


class FilesSink(Sink):
    """Rolling files on a file system or object store (Confluent's S3/GCS sink layout)."""

    config_def = CONFIG_DEF
    ignored_keys = IGNORED_KEYS
    target_noun = "files"

    def __init__(self, storage_class: Optional[str] = None):
        """Args:
          storage_class: The default of ``storage.class``, for a connector class that implies its
            store (``io.confluent.connect.azure.blob.AzureBlobStorageSinkConnector``).
        """
        if storage_class is not None:
            self.config_def = config_def(storage_class)

    def parse(self, values: Mapping[str, Any]) -> FilesSinkConfig:
        return FilesSinkConfig.from_values(values)

    def configure(self, values: Mapping[str, Any], connector: ConnectorContext) -> FilesSinkConfig:
        return self.parse(values).with_connector(connector.transforms)

    def describe_plan(self, config: FilesSinkConfig, plan) -> list:
        """The files a bounded run would write for ``plan``, when the offsets alone decide them: the
        default partitioner, rotation by count only (``flush.size``), no renamed topics. Otherwise a
        line saying what else splits them (record values or times, known only once read)."""
        from sinks.files.partitioners.base import DefaultPartitioner

        if plan.end <= plan.start:
            return []
        splitters = [what for what, on in (
            ("the partitioner (%s)" % type(config.partitioner).__name__,
             type(config.partitioner) is not DefaultPartitioner),
            ("rotate.interval.ms", config.rotate_interval_ms > 0),
            ("rotate.schedule.interval.ms", config.rotate_schedule_ms > 0),
            ("transforms renaming topics", bool(config.topic_renames))) if on]
        if splitters:
            return ["files of at most flush.size=%d records, named by their first offset; %s also "
                    "split them by what the records hold" % (config.flush_size, " and ".join(splitters))]
        directory = config.partitioner.partition_directory(plan.topic, plan.partition)
        names = [config.storage.path(config.topics_dir, plan.topic, directory, config.naming.name(
                     plan.topic, plan.partition, first, min(first + config.flush_size, plan.end) - 1,
                     config.format.extension))
                 for first in range(plan.start, plan.end, config.flush_size)]
        shown = names[:5] + (["... and %d more" % (len(names) - 6), names[-1]] if len(names) > 6
                             else names[5:])
        return ["file " + n if not n.startswith("...") else n for n in shown]

    def recover(self, config: FilesSinkConfig, plans: Sequence) -> None:
        """Removes every file of the planned partitions past their committed offsets (and stray
        temporary files), as a bounded run's cleanup does, before a streaming run reads: files that
        closed on the clock (``rotate.schedule.interval.ms``, ``idle.flush.ms``) and were written but
        not committed would otherwise stay beside the different files their replay writes."""
        if (config.rotate_schedule_ms > 0 or config.idle_flush_ms > 0) and config.topic_renames:
            raise ConfigError(
                "rotate.schedule.interval.ms and idle.flush.ms close files on the clock, so a streaming "
                "run first removes the uncommitted files of its topics; transforms %s rename topics, "
                "whose files it cannot find. Remove those keys, or run --mode micro-batch"
                % ", ".join(config.topic_renames))
        list(_RemoveStaleFn(config, plans).process([]))

    def check(self, config: FilesSinkConfig) -> None:
        config.storage.check()

    def bundling(self, config: FilesSinkConfig) -> Bundling:
        return Bundling(config.flush_size, config.rotate_interval_ms,
                        rotate_schedule_ms=config.rotate_schedule_ms, timezone=config.timezone,
                        idle_flush_ms=config.idle_flush_ms, hold_partial=True)

    def write(self, config: FilesSinkConfig, context: WriteContext) -> beam.PTransform:
        return WriteToFiles(config, context)
