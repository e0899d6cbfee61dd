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
in place, and a replayed window rewrites the same names with the same records.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Mapping, Optional, Sequence

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.metrics import Metrics

from sinks.base import Sink, Windows
from sinks.files.config import CONFIG_DEF, IGNORED_KEYS, FilesSinkConfig
from sinks.files.storage import StorageError
from sinks.files.naming import file_name, parse_file_name, parse_temp_name
from transforms.errors import RecordError
from transforms.records import ConvertedBundle, record_ref

_LOGGER = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class FileWritten:
    """The result of writing one file."""

    topic: str
    partition: int
    path: str
    first_offset: int
    last_offset: int
    records: int
    size: int


class _WriteFileFn(beam.DoFn):
    def __init__(self, config: FilesSinkConfig):
        self._config = config

    def process(self, bundle: ConvertedBundle):
        cfg = self._config
        values, offsets = bundle.values, bundle.offsets
        kept = pa.array(range(len(offsets)), pa.int64())  # the bundle's rows still written
        if values.null_count:
            if cfg.null_values == "fail":
                first = next(i for i, v in enumerate(values.is_null().to_pylist()) if v)
                raise RecordError(
                    "record %s has a null value and behavior.on.null.values=fail; set it to 'ignore' "
                    "to skip tombstones. The run stopped and committed no offsets."
                    % record_ref(bundle.topic, bundle.partition, offsets[first]))
            keep = values.is_valid()
            offsets = [o for o, k in zip(offsets, keep.to_pylist()) if k]
            values = pc.filter(values, keep)
            kept = pc.filter(kept, keep)
        if not offsets:
            return
        # Every file of the window is in place before any result goes on to be committed, and the file
        # ending last comes first: a streaming run commits once per window, at its end (a commit
        # between two of its files would realign the windows of a restart, and so the file names).
        written = [result for directory, positions in cfg.partitioner.split(bundle, offsets, values)
                   for result in self._write(bundle, directory, offsets, values, positions, kept)]
        yield from sorted(written, key=lambda w: -w.last_offset)

    def _write(self, bundle: ConvertedBundle, directory: str, offsets: Sequence[int], values, positions,
               kept) -> list:
        """The window's records that go to ``directory``: the value file, and the keys and headers
        files next to it when they are stored; one result per file."""
        cfg = self._config
        if positions is not None:
            offsets = pc.take(pa.array(offsets, pa.int64()), positions).to_pylist()
            values = pc.take(values, positions)
        files = [("", cfg.format, values)]
        companions = cfg.companions()
        if companions:
            rows = kept if positions is None else pc.take(kept, positions)
            files += [(infix, fmt, _keys(bundle, rows, offsets) if infix == ".keys"
                       else _headers(bundle, rows)) for infix, fmt in companions.items()]
        results = []
        for infix, fmt, data_values in files:
            name = file_name(bundle.topic, bundle.partition, offsets[0], infix + fmt.extension,
                             pad=cfg.pad_width, delim=cfg.file_delim)
            path = cfg.storage.path(cfg.topics_dir, bundle.topic, directory, name)
            data = fmt.serialize(data_values)
            try:
                cfg.storage.write(path, data)
            except StorageError as exc:
                raise StorageError("%s (records topic=%s partition=%d offsets %d..%d). The run stopped; "
                                   "the file's offsets are not committed."
                                   % (exc, bundle.topic, bundle.partition, offsets[0], offsets[-1])) \
                    from exc
            _LOGGER.debug("wrote %s (%d records, offsets %d..%d)", path, len(offsets), offsets[0],
                          offsets[-1])
            results.append(FileWritten(bundle.topic, bundle.partition, path, offsets[0], offsets[-1],
                                       len(offsets), len(data)))
        Metrics.counter("beamconnect", "written/%s/%d" % (bundle.topic, bundle.partition)).inc(
            len(offsets))
        Metrics.counter("beamconnect", "files/%s/%d" % (bundle.topic, bundle.partition)).inc(
            len(results))
        return results


_HEADERS_TYPE = pa.list_(pa.struct([pa.field("key", pa.string(), nullable=False),
                                    pa.field("value", pa.binary())]))


def _keys(bundle: ConvertedBundle, rows: pa.Array, offsets: Sequence[int]) -> pa.Array:
    keys = pc.take(bundle.keys, rows)
    if keys.null_count:
        first = pc.index(pc.is_null(keys), True).as_py()
        raise RecordError("record %s has a null key and store.kafka.keys=true; a keys file holds one "
                          "key per record. The run stopped and committed no offsets."
                          % record_ref(bundle.topic, bundle.partition, offsets[first]))
    return keys


def _headers(bundle: ConvertedBundle, rows: pa.Array) -> pa.Array:
    """Each record's headers as a list of {key, value} (empty when it has none)."""
    return pa.array([[{"key": k, "value": v} for k, v in (bundle.headers[i] or ())]
                     for i in rows.to_pylist()], _HEADERS_TYPE)


class _RemoveStaleFn(beam.DoFn):
    """Deletes files of uncommitted offsets that this run did not write, and stray temporary files."""

    def __init__(self, config: FilesSinkConfig, plans: Sequence):
        self._config = config
        self._plans = {(p.topic, p.partition): p for p in plans}
        self._extensions = {config.format.extension} | {
            infix + fmt.extension for infix, fmt in config.companions().items()}

    def _stale(self, topic: str, partition: int, offset: int) -> bool:
        """A file of this run's range it did not write, or one past the group's committed offset.

        Files before the plan's start, and committed files past its end (a reset after the topic was
        recreated), are never touched.
        """
        plan = self._plans.get((topic, partition))
        if plan is None or offset < plan.start:
            return False
        return offset < plan.end or plan.committed is None or offset >= plan.committed

    def process(self, written: Sequence[FileWritten]):
        cfg = self._config
        keep = {w.path for w in written}
        for directory, start_after in self._listings():
            for path in cfg.storage.walk(directory, start_after=start_after):
                base = os.path.basename(path)
                parsed = parse_file_name(base, delim=cfg.file_delim)
                stale = (parsed is not None and (parsed.topic, parsed.partition) in self._plans
                         and parsed.extension in self._extensions and path not in keep
                         and self._stale(parsed.topic, parsed.partition, parsed.offset))
                temp = parse_temp_name(base, delim=cfg.file_delim)
                if temp is not None and (temp.topic, temp.partition) not in self._plans:
                    temp = None
                if stale or temp is not None:
                    _LOGGER.info("removing %s, left by an earlier run that did not commit", path)
                    cfg.storage.delete(path)
        yield from written

    def _listings(self):
        """(directory, start_after) pairs that cover every file of the planned partitions: each
        partition's own directory where the partitioner has one, else each topic's directory."""
        cfg = self._config
        whole_topics = set()
        for (topic, partition), plan in sorted(self._plans.items()):
            own = cfg.partitioner.partition_directory(topic, partition)
            if own is None:
                whole_topics.add(topic)
                continue
            directory = cfg.storage.path(cfg.topics_dir, topic, own)
            yield directory, self._listing_start(directory, plan)
        for topic in sorted(whole_topics):
            yield cfg.storage.path(cfg.topics_dir, topic), None

    def _listing_start(self, directory: str, plan) -> Optional[str]:
        """Where a sorted listing of the partition's files may start: its files before the plan's start
        are never stale, and while every offset fits the zero padding, names sort as offsets do."""
        cfg = self._config
        if max(plan.end, plan.committed or 0) >= 10 ** cfg.pad_width:
            return None
        return cfg.storage.path(directory, file_name(plan.topic, plan.partition, plan.start, "",
                                                     pad=cfg.pad_width, delim=cfg.file_delim))

class WriteToFiles(beam.PTransform):
    """Writes converted bundles as files; returns one :class:`FileWritten` per file.

    Args:
      config: The parsed sink config.
      plans: The run's partition plans; offsets from each plan's start on are uncommitted, so files
        there that this run did not write are removed once all writes are done.
    """

    def __init__(self, config: FilesSinkConfig, plans: Sequence):
        super().__init__()
        self._config = config
        self._plans = list(plans)

    def expand(self, bundles):
        return (bundles
                | "WriteFiles" >> beam.ParDo(_WriteFileFn(self._config))
                | "CollectWritten" >> beam.combiners.ToList()
                | "RemoveStaleFiles" >> beam.ParDo(_RemoveStaleFn(self._config, self._plans)))


class WriteEachToFiles(beam.PTransform):
    """Streaming: writes each bundle window as one file as it arrives (no end-of-run cleanup)."""

    def __init__(self, config: FilesSinkConfig):
        super().__init__()
        self._config = config

    def expand(self, bundles):
        return bundles | "WriteFiles" >> beam.ParDo(_WriteFileFn(self._config))


class FilesSink(Sink):
    """Rolling files on a file system (Confluent's S3/GCS sink layout)."""

    config_def = CONFIG_DEF
    ignored_keys = IGNORED_KEYS

    def parse(self, values: Mapping[str, Any]) -> FilesSinkConfig:
        return FilesSinkConfig.from_values(values)

    def check(self, config: FilesSinkConfig) -> None:
        config.storage.check()

    def windows(self, config: FilesSinkConfig) -> Windows:
        return Windows(config.flush_size, config.rotate_interval_ms)

    def write(self, config: FilesSinkConfig, plans: Optional[Sequence]) -> beam.PTransform:
        return WriteEachToFiles(config) if plans is None else WriteToFiles(config, plans)
