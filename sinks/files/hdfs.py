"""Confluent's HDFS sink connectors (``io.confluent.connect.hdfs3.Hdfs3SinkConnector``, and the HDFS 2
``io.confluent.connect.hdfs.HdfsSinkConnector``) as the file sink with the HDFS connector's names.

Delivery: exactly once. Files are named as the HDFS connector names them,
``<topic>+<partition>+<first offset>+<last offset>.<ext>`` (:class:`~sinks.files.naming.RangeNaming`),
in the file sink's layout (``<topics.dir>/<topic>/partition=<p>/``), each written under a temporary name
and renamed into place (:class:`~sinks.files.storage.hdfs.HdfsStorage`). As the HDFS connector does, a
restart reads each partition's committed offset from the names already in the store: the largest last
offset of the partition's files, plus one (the sink's :meth:`HdfsSink.stored_offsets`, which win over the
consumer group's, unless the group committed further: the records in between wrote no file, being
filtered, ignored tombstones or dead letters). The group is still committed after every write, for lag
tools. A value file counts only once every file written beside it (``.keys``, ``.headers``) is there:
those are written after it. Files of a killed run past that point (a window whose files were not all
written) and temporary files are removed, as the file sink removes uncommitted files, so a rerun
converges to what a clean run from there writes; a replayed window rewrites the same names with the
same bytes, each file replaced whole.

The names decide only where they can: with the default partitioner (each window of a partition is one
file in the partition's own directory), no transform that renames topics (files are then named by the
new topic) and ``behavior.on.null.values`` other than ``write`` (tombstones go to another directory).
Otherwise a window's files are not one unit, so the group's committed offsets decide, as for the S3
sink. The names are read as the truth only while each partition's windows are written in order, as
on the DirectRunner and Prism, where one worker reads a partition at a time; a runner that splits one
partition's read across workers may leave a later window of a killed run without an earlier one.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Mapping, Optional, Sequence

from common.configdef import ConfigDef, ConfigKey
from common.errors import BeamConnectError, ConfigError
from sinks.base import ConnectorContext
from sinks.files.config import CONFIG_DEF, IGNORED_KEYS, FilesSinkConfig
from sinks.files.naming import RangeNaming
from sinks.files.sink import FilesSink

_LOGGER = logging.getLogger(__name__)

CONNECTOR_CLASSES = ("io.confluent.connect.hdfs3.Hdfs3SinkConnector",
                     "io.confluent.connect.hdfs.HdfsSinkConnector")
DEFAULT_FORMAT = "io.confluent.connect.hdfs3.avro.AvroFormat"
"""The HDFS connector's default ``format.class`` (Avro)."""

#: The HDFS 2 connector's own partitioner classes, and the storage-common ones they mean.
HDFS_PARTITIONERS = {"io.confluent.connect.hdfs.partitioner.%s" % name:
                     "io.confluent.connect.storage.partitioner.%s" % name
                     for name in ("DefaultPartitioner", "FieldPartitioner", "TimeBasedPartitioner",
                                  "HourlyPartitioner", "DailyPartitioner")}

#: Transforms that set a record's target topic, by class name.
_TOPIC_ROUTERS = ("RegexRouter", "TimestampRouter")
_NO_HIVE = "Hive tables are not created or updated here (hive.integration=true is refused)"

IGNORED_HDFS_KEYS = {
    **IGNORED_KEYS,
    "logs.dir": "no write-ahead log is kept: the committed file names and offsets decide where a "
                "restart resumes",
    "kerberos.ticket.renew.period.ms": "a new ticket is taken from connect.hdfs.keytab whenever the old "
                                       "one expires",
    "retry.backoff.ms": "a failed write stops the run, and the rerun resumes from the committed names",
    "shutdown.timeout.ms": "files are written whole as each window closes; nothing is left to flush",
    **{key: _NO_HIVE for key in ("hive.metastore.uris", "hive.conf.dir", "hive.home", "hive.database",
                                 "hive.table.name", "hive.integration.partitioning")},
}


def _config_def() -> ConfigDef:
    keys = []
    for key in CONFIG_DEF:
        if key.name == "format.class":
            key = dataclasses.replace(key, default=DEFAULT_FORMAT,
                                      doc=key.doc + " Default: the HDFS connector's AvroFormat.")
        elif key.name == "partitioner.class":
            key = dataclasses.replace(key, choices=key.choices + tuple(HDFS_PARTITIONERS),
                                      doc=key.doc + " The HDFS 2 connector's own class names work too.")
        keys.append(key)
    return ConfigDef(keys) + ConfigDef([
        ConfigKey("hive.integration", "boolean", False, group="HDFS",
                  doc="Only false: Hive tables are not created or updated here."),
        ConfigKey("topic.capture.groups.regex", "string", None, group="HDFS",
                  doc="Refused: topics.dir takes no ${n} substitutions here."),
    ])


@dataclasses.dataclass(frozen=True)
class HdfsSinkConfig(FilesSinkConfig):
    """The file sink's config with what recovery from the names needs.

    Attributes:
      recovers: Whether the names decide where a partition resumes (see the module docstring).
      group_settings: The connector's consumer settings (``bootstrap.servers``, ``group.id``, security),
        to read the group's committed offsets; never shown.
    """

    recovers: bool = True
    group_settings: Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False, compare=False)


class HdfsSink(FilesSink):
    """The file sink writing the HDFS connector's names, resuming from them (see the module docstring)."""

    config_def = _config_def()
    ignored_keys = IGNORED_HDFS_KEYS
    commits_offsets = True

    def parse(self, values: Mapping[str, Any]) -> FilesSinkConfig:
        if values.get("hive.integration"):
            raise ConfigError("hive.integration=true: %s; set it to false, and create tables over "
                              "the files yourself" % _NO_HIVE.split(" (")[0])
        if values.get("topic.capture.groups.regex"):
            raise ConfigError("topic.capture.groups.regex=%r: topics.dir takes no ${n} substitutions "
                              "here; each topic's files go to <topics.dir>/<topic>"
                              % values["topic.capture.groups.regex"])
        if "${" in (values.get("topics.dir") or ""):
            raise ConfigError("topics.dir=%r: ${topic} and ${n} substitutions are not supported; each "
                              "topic's files go to <topics.dir>/<topic>" % values["topics.dir"])
        if values.get("file.delim", "+") != "+":
            raise ConfigError("file.delim=%r: the HDFS connector's names always use '+'"
                              % values["file.delim"])
        name = values.get("partitioner.class")
        if name in HDFS_PARTITIONERS:
            values = {**values, "partitioner.class": HDFS_PARTITIONERS[name]}
        config = super().parse(values)
        return dataclasses.replace(config, naming=RangeNaming(config.pad_width))

    def configure(self, values: Mapping[str, Any], connector: ConnectorContext) -> HdfsSinkConfig:
        config = super().configure(values, connector)
        routers = [alias for alias, kind in connector.transforms
                   if kind.rsplit(".", 1)[-1].split("$")[0] in _TOPIC_ROUTERS]
        recovers = (config.partitioner.partition_directory("t", 0) is not None and not routers
                    and getattr(config, "tombstone_dir", None) is None)
        if not recovers:
            _LOGGER.info("the consumer group's offsets decide where partitions resume: %s",
                         "transforms %s rename topics" % ", ".join(routers) if routers else
                         "a window's records may be written to several files")
        fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(FilesSinkConfig)}
        return HdfsSinkConfig(**fields, recovers=recovers, group_settings=dict(connector.consumer_config))

    def offsets_location(self, config: FilesSinkConfig) -> Optional[str]:
        if not isinstance(config, HdfsSinkConfig) or not config.recovers:
            return None
        return ("the names of its files under %s (a run resumes after the last offset they name)"
                % config.storage.path(config.topics_dir))

    def stored_offsets(self, config: FilesSinkConfig, partitions: Sequence[tuple]) -> Mapping[tuple, int]:
        """The next offset of each partition that has files: the largest last offset in its files'
        names plus one, or the group's committed offset where that is further."""
        if not isinstance(config, HdfsSinkConfig) or not config.recovers:
            return {}
        found = {}
        for topic, partition in partitions:
            end = self._names_end(config, topic, partition)
            if end is not None:
                found[(topic, partition)] = end
        if found and config.group_settings.get("group.id"):
            for tp, offset in _group_offsets(config.group_settings, sorted(found)).items():
                if offset > found[tp]:
                    found[tp] = offset
        for (topic, partition), offset in sorted(found.items()):
            _LOGGER.info("topic=%s partition=%d resumes at offset %d, after the files in %s", topic,
                         partition, offset, self._directory(config, topic, partition))
        return found

    @staticmethod
    def _directory(config: FilesSinkConfig, topic: str, partition: int) -> str:
        return config.storage.path(config.topics_dir, topic,
                                   config.partitioner.partition_directory(topic, partition))

    def _names_end(self, config: FilesSinkConfig, topic: str, partition: int) -> Optional[int]:
        """One past the last offset of the partition's complete files, or None when it has none."""
        naming = config.naming
        names = {os.path.basename(p) for p in config.storage.walk(self._directory(config, topic, partition))}
        extension = naming.extension(config.format.extension)
        companions = [infix + fmt.extension for infix, fmt in config.companions().items()]
        last = None
        for name in names:
            parsed = naming.parse(name)
            if (parsed is None or parsed.extension != extension or parsed.topic != topic
                    or parsed.partition != partition):
                continue
            if all(naming.name(topic, partition, parsed.offset, parsed.end_offset, c) in names
                   for c in companions) and (last is None or parsed.end_offset > last):
                last = parsed.end_offset
        return None if last is None else last + 1


def _group_offsets(settings: Mapping[str, str], partitions: Sequence[tuple]) -> dict:
    """The consumer group's committed offsets of ``partitions`` (those it has)."""
    from confluent_kafka import KafkaException, TopicPartition

    from transforms.kafka.planning import group_consumer, retrying

    consumer = group_consumer(settings)
    try:
        committed = retrying(lambda: consumer.committed([TopicPartition(t, p) for t, p in partitions],
                                                        timeout=15), 15.0)
    except KafkaException as exc:
        raise BeamConnectError("could not read committed offsets of group.id=%s: %s"
                               % (settings.get("group.id"), exc.args[0])) from exc
    finally:
        consumer.close()
    return {(tp.topic, tp.partition): tp.offset for tp in committed if tp.offset >= 0}

