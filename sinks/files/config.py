"""Config keys of the file sink (Confluent S3/GCS sink keys where they apply)."""

from __future__ import annotations

import dataclasses
import zoneinfo
from typing import Any, Mapping, Optional

from common.configdef import ConfigDef, ConfigKey, NO_DEFAULT
from common.errors import ConfigError
from sinks.files.formats import COMPRESSIONS, FORMATS, Format, make_format
from sinks.files.formats.avro import CODECS as AVRO_CODECS
from sinks.files.formats.parquet import CODECS
from sinks.files.naming import StartOffsetNaming
from sinks.files.schemas import COMPATIBILITIES
from sinks.files.partitioners import EXTRACTORS, PARTITIONERS, Partitioner, make_partitioner
from sinks.files.storage import STORAGE_CLASSES, Storage, storage_for
from sinks.files.storage.s3 import CANNED_ACLS, DEFAULT_PART_SIZE, MIN_PART_SIZE, SSE_ALGORITHMS
from sinks.files.storage import azure

NULL_BEHAVIORS = ("fail", "ignore", "write")

CONFIG_DEF = ConfigDef([
    ConfigKey("store.url", "string", None, group="Storage",
              doc="Where files go: a local directory, file:// URL, gs://bucket/prefix or "
                  "s3://bucket/prefix; with s3.bucket.name or gcs.bucket.name, the store's http(s) "
                  "endpoint (optional)."),
    ConfigKey("storage.class", "class", None, choices=tuple(STORAGE_CLASSES), group="Storage",
              doc="The kind of store (optional: store.url or the bucket keys choose it); must agree "
                  "with them."),
    ConfigKey("s3.bucket.name", "string", None, group="S3",
              doc="S3 bucket (instead of an s3:// store.url)."),
    ConfigKey("s3.region", "string", None, group="S3",
              doc="S3 region; default: boto3's (AWS_REGION, the profile)."),
    ConfigKey("aws.access.key.id", "string", None, group="S3",
              doc="Access key id; default: boto3's credential chain."),
    ConfigKey("aws.secret.access.key", "password", None, group="S3",
              doc="Secret access key, with aws.access.key.id."),
    ConfigKey("s3.path.style.access.enabled", "boolean", True, group="S3",
              doc="Path-style requests (bucket in the path, not the host name)."),
    ConfigKey("s3.part.size", "int", DEFAULT_PART_SIZE, min=MIN_PART_SIZE, max=2**31 - 1, group="S3",
              doc="Files larger than this are uploaded in parts of this size."),
    ConfigKey("s3.part.retries", "int", 3, min=0, group="S3",
              doc="Retries of a failed S3 request (boto3's standard retry mode, with backoff)."),
    ConfigKey("s3.ssea.name", "string", None, choices=SSE_ALGORITHMS, group="S3",
              doc="Server-side encryption of the files: AES256 or aws:kms."),
    ConfigKey("s3.sse.kms.key.id", "string", None, group="S3",
              doc="KMS key for s3.ssea.name=aws:kms (default: the bucket's)."),
    ConfigKey("s3.acl.canned", "string", None, choices=CANNED_ACLS, group="S3",
              doc="Canned ACL of the files (default: the bucket's)."),
    ConfigKey("s3.proxy.url", "string", None, group="S3",
              doc="HTTP(S) proxy for S3 requests."),
    ConfigKey("s3.compression.type", "string", "none", choices=COMPRESSIONS, group="Format",
              doc="JSON and byte-array files: none, or gzip (.json.gz, .bin.gz). Parquet and Avro use their codecs."),
    ConfigKey("gcs.bucket.name", "string", None, group="GCS",
              doc="GCS bucket (instead of a gs:// store.url)."),
    ConfigKey("gcs.credentials.path", "string", None, group="GCS",
              doc="Service account key file; default: Application Default Credentials."),
    ConfigKey("gcs.credentials.json", "password", None, group="GCS",
              doc="Service account key JSON (instead of gcs.credentials.path)."),
    ConfigKey("azblob.account.name", "string", None, group="Azure",
              doc="Storage account name (3-24 lowercase letters and digits)."),
    ConfigKey("azblob.account.key", "password", None, group="Azure",
              doc="The account's access key (or azblob.sas.token, or azblob.connection.string)."),
    ConfigKey("azblob.sas.token", "password", None, group="Azure",
              doc="A shared access signature with read, write, delete and list permissions."),
    ConfigKey("azblob.connection.string", "password", None, group="Azure",
              doc="An Azure Storage connection string (account, key or SAS, endpoint), instead of "
                  "the account keys."),
    ConfigKey("azblob.container.name", "string", None, group="Azure",
              doc="Container (instead of an az:// or abfss:// store.url); default 'default' with "
                  "the Azure storage.class."),
    ConfigKey("azblob.block.size", "int", azure.DEFAULT_BLOCK_SIZE, min=azure.MIN_BLOCK_SIZE,
              max=azure.MAX_BLOCK_SIZE, group="Azure",
              doc="Files larger than this are uploaded as blocks of this size, committed together."),
    ConfigKey("azblob.retry.type", "string", "EXPONENTIAL", choices=azure.RETRY_TYPES, group="Azure",
              doc="EXPONENTIAL (azblob.retry.backoff.ms, doubled each retry) or FIXED backoff."),
    ConfigKey("azblob.retry.retries", "int", 3, min=1, group="Azure",
              doc="Retries of a failed Azure request after the first try."),
    ConfigKey("azblob.retry.backoff.ms", "int", 4000, min=0, group="Azure",
              doc="Delay before the first retry."),
    ConfigKey("azblob.retry.max.backoff.ms", "int", 120000, min=1, group="Azure",
              doc="Longest delay between retries."),
    ConfigKey("azblob.connection.timeout.ms", "int", 30000, min=1, group="Azure",
              doc="Time one try of a request may take to connect, and to read each answer."),
    ConfigKey("azblob.proxy.url", "string", None, group="Azure",
              doc="HTTP(S) proxy for Azure requests."),
    ConfigKey("azblob.proxy.user", "string", None, group="Azure", doc="Proxy user name."),
    ConfigKey("azblob.proxy.password", "password", None, group="Azure", doc="Proxy password."),
    ConfigKey("az.compression.type", "string", None, choices=COMPRESSIONS, group="Format",
              doc="JSON and byte-array files on Azure: none, or gzip (Confluent's Azure name for "
                  "s3.compression.type)."),
    ConfigKey("hdfs.url", "string", None, group="HDFS",
              doc="The HDFS to write to: hdfs://namenode:8020[/path] (or hdfs:/// for "
                  "hadoop.conf.dir's fs.defaultFS), or webhdfs://host:port[/path]; store.url with "
                  "these schemes works too."),
    ConfigKey("hadoop.conf.dir", "string", None, group="HDFS",
              doc="Directory of core-site.xml and hdfs-site.xml: fs.defaultFS and the namenodes' "
                  "WebHDFS addresses (dfs.namenode.http-address, HA nameservices); default: the "
                  "namenode's host on port 9870."),
    ConfigKey("hadoop.home", "string", None, group="HDFS",
              doc="Hadoop's home: where libhdfs (lib/native/libhdfs.so) is looked for, which hdfs:// "
                  "URLs use when it is found (else WebHDFS)."),
    ConfigKey("logs.dir", "string", "logs", group="HDFS",
              doc="Accepted; no write-ahead log is kept here: the committed file names and offsets "
                  "decide where a restart resumes."),
    ConfigKey("hdfs.authentication.kerberos", "boolean", False, group="HDFS",
              doc="Log in to HDFS with Kerberos (SPNEGO on WebHDFS), as connect.hdfs.principal from "
                  "connect.hdfs.keytab; needs requests-gssapi or requests-kerberos."),
    ConfigKey("connect.hdfs.principal", "string", None, group="HDFS",
              doc="Kerberos principal the sink logs in as."),
    ConfigKey("connect.hdfs.keytab", "string", None, group="HDFS",
              doc="Keytab file of connect.hdfs.principal."),
    ConfigKey("hdfs.namenode.principal", "string", None, group="HDFS",
              doc="The namenode's Kerberos principal (nn/_HOST@REALM); the native client's "
                  "dfs.namenode.kerberos.principal. WebHDFS logs in to HTTP@<namenode host>."),
    ConfigKey("kerberos.ticket.renew.period.ms", "int", 3_600_000, min=1, group="HDFS",
              doc="Accepted; a new ticket is taken from the keytab whenever the old one expires."),
    ConfigKey("topics.dir", "string", "topics", group="Storage",
              doc="Top directory below store.url for the topics' files."),
    ConfigKey("format.class", "class", NO_DEFAULT, choices=tuple(FORMATS), group="Format",
              doc="File format: parquet, avro, json or bytearray (Confluent's class names accepted)."),
    ConfigKey("flush.size", "int", NO_DEFAULT, min=1, group="Format",
              doc="Offsets per file: a file holds the records of flush.size consecutive offsets."),
    ConfigKey("parquet.codec", "string", "snappy", choices=tuple(CODECS), group="Format",
              doc="Parquet compression codec."),
    ConfigKey("avro.codec", "string", "null", choices=tuple(AVRO_CODECS), group="Format",
              doc="Avro compression codec (snappy needs cramjam, zstandard needs zstandard)."),
    ConfigKey("format.bytearray.extension", "string", ".bin", group="Format",
              doc="ByteArrayFormat: file name extension."),
    ConfigKey("format.bytearray.separator", "string", None, group="Format",
              doc="ByteArrayFormat: written after every value, with escapes such as \\n (default: "
                  "a newline)."),
    ConfigKey("filename.offset.zero.pad.width", "int", 10, min=0, group="Format",
              doc="Width the start offset in file names is zero-padded to."),
    ConfigKey("store.kafka.keys", "boolean", False, group="Format",
              doc="Also write each file's record keys, to <name>.keys.<ext> (keys.format.class)."),
    ConfigKey("store.kafka.headers", "boolean", False, group="Format",
              doc="Also write each file's record headers, to <name>.headers.<ext> (headers.format.class)."),
    ConfigKey("keys.format.class", "class", "avro", choices=tuple(FORMATS), group="Format",
              doc="Format of the keys files (Confluent's default: Avro)."),
    ConfigKey("headers.format.class", "class", "avro", choices=tuple(FORMATS), group="Format",
              doc="Format of the headers files (Confluent's default: Avro)."),
    ConfigKey("partitioner.class", "class", "default", choices=tuple(PARTITIONERS), group="Partitioner",
              doc="How files are laid out below each topic's directory."),
    ConfigKey("partition.field.name", "list", None, group="Partitioner",
              doc="FieldPartitioner: the value's fields (dotted for nested ones) that name directories."),
    ConfigKey("path.format", "string", None, group="Partitioner",
              doc="TimeBasedPartitioner: Joda-Time pattern of the directories ('year'=YYYY/'month'=MM)."),
    ConfigKey("partition.duration.ms", "int", None, min=1, group="Partitioner",
              doc="TimeBasedPartitioner: the time span of one directory."),
    ConfigKey("timezone", "string", None, group="Partitioner",
              doc="Time-based partitioners: IANA time zone of the directories (required)."),
    ConfigKey("timestamp.extractor", "string", "Record", choices=EXTRACTORS, group="Partitioner",
              doc="Time-based partitioners: Record (the record's timestamp) or RecordField; "
                  "Wallclock is refused (not replay-safe)."),
    ConfigKey("timestamp.field", "string", None, group="Partitioner",
              doc="RecordField: the value's field holding the time (ms, Timestamp or ISO 8601)."),
    ConfigKey("directory.delim", "string", "/", choices=("/",), group="Partitioner",
              doc="Directory delimiter (only '/' here)."),
    ConfigKey("file.delim", "string", "+", group="Partitioner",
              doc="Delimiter between topic, partition and offset in file names."),
    ConfigKey("rotate.interval.ms", "int", -1, min=-1, group="Format",
              doc="--mode streaming: a file ends before the first record this many ms (record "
                  "timestamps) after the file's first record; -1: by flush.size only. A bounded "
                  "run closes its files when it ends."),
    ConfigKey("behavior.on.null.values", "string", "fail", choices=NULL_BEHAVIORS, group="Format",
              doc="What to do with null values (tombstones): fail the run, ignore the record, or "
                  "write its key (and headers) under tombstone.encoded.partition, with "
                  "store.kafka.keys=true (no value file for tombstones), as Confluent's S3 sink."),
    ConfigKey("tombstone.encoded.partition", "string", "tombstone", group="Format",
              doc="behavior.on.null.values=write: the directory below each topic's that tombstones' "
                  "keys files go to."),
    ConfigKey("rotate.schedule.interval.ms", "int", -1, min=-1, group="Format",
              doc="Close each open file at the wall-clock points midnight + k * this many ms in "
                  "timezone (required). --mode streaming: whenever such a point passes; bounded runs "
                  "that hold partial files: their last file is written once a point passed after its "
                  "first record's timestamp. -1: never."),
    ConfigKey("schema.compatibility", "string", "NONE", choices=COMPATIBILITIES, group="Format",
              doc="How a change of value schema is handled, as in Confluent's storage sinks: NONE "
                  "closes the file at any change; BACKWARD/FULL at a higher version (records of lower "
                  "versions are projected to the file's schema), FORWARD at a lower one."),
    ConfigKey("idle.flush.ms", "int", -1, min=-1, group="Format",
              doc="--mode streaming: close the open file of a partition that received no record for "
                  "this many ms (wall clock); -1: never."),
])

IGNORED_KEYS = {
    "locale": "path.format's numeric fields do not depend on it",
}


def config_def(storage_class: Optional[str] = None) -> ConfigDef:
    """The file sink's keys; with ``storage_class``, ``storage.class`` defaults to it (a connector
    class that implies its store, as Confluent's Azure Blob sink does)."""
    if storage_class is None:
        return CONFIG_DEF
    return ConfigDef(dataclasses.replace(key, default=storage_class) if key.name == "storage.class" else key
                     for key in CONFIG_DEF)


@dataclasses.dataclass(frozen=True)
class FilesSinkConfig:
    storage: Storage
    topics_dir: str
    format: Format
    flush_size: int
    pad_width: int
    partitioner: Partitioner
    file_delim: str
    null_values: str
    rotate_interval_ms: int = -1
    keys_format: Optional[Format] = None
    headers_format: Optional[Format] = None
    tombstone_dir: Optional[str] = None
    rotate_schedule_ms: int = -1
    timezone: Optional[str] = None
    idle_flush_ms: int = -1
    topic_renames: tuple = ()
    schema_compatibility: str = "NONE"
    naming: Any = None  # a naming of sinks.files.naming; default: the S3/GCS sinks' names

    def __post_init__(self):
        if self.naming is None:
            object.__setattr__(self, "naming", StartOffsetNaming(self.pad_width, self.file_delim))

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> "FilesSinkConfig":
        if not values["topics.dir"].strip("/"):
            raise ConfigError("topics.dir must name a directory, got %r" % values["topics.dir"])
        if not values["file.delim"]:
            raise ConfigError("file.delim must not be empty")
        tombstones = _tombstone_dir(values)
        schedule, timezone, partitioner_values = _schedule(values)
        return cls(storage=storage_for(values),
                   topics_dir=values["topics.dir"].strip("/"),
                   format=make_format(values["format.class"], values),
                   flush_size=values["flush.size"],
                   pad_width=values["filename.offset.zero.pad.width"],
                   partitioner=make_partitioner(values["partitioner.class"], partitioner_values),
                   file_delim=values["file.delim"],
                   null_values=values["behavior.on.null.values"],
                   rotate_interval_ms=values["rotate.interval.ms"],
                   keys_format=(make_format(values["keys.format.class"], values)
                                if values["store.kafka.keys"] else None),
                   headers_format=(make_format(values["headers.format.class"], values)
                                   if values["store.kafka.headers"] else None),
                   tombstone_dir=tombstones,
                   rotate_schedule_ms=schedule,
                   timezone=timezone,
                   idle_flush_ms=values.get("idle.flush.ms", -1),
                   schema_compatibility=values.get("schema.compatibility", "NONE"))

    def with_connector(self, transforms) -> "FilesSinkConfig":
        """This config, knowing the connector's transforms (``(alias, type)`` pairs): those that
        rename topics, whose files a streaming run's recovery cannot find (see ``FilesSink.recover``)."""
        renames = tuple(alias for alias, kind in transforms
                        if kind.rsplit(".", 1)[-1].split("$")[0] in _TOPIC_RENAMING)
        return dataclasses.replace(self, topic_renames=renames)

    def companions(self) -> dict:
        """The files written next to each value file: {name infix: format}, such as ``.keys``."""
        return {infix: fmt for infix, fmt in ((".keys", self.keys_format),
                                               (".headers", self.headers_format)) if fmt is not None}


#: Transforms that set a record's target topic, by class name.
_TOPIC_RENAMING = ("RegexRouter", "TimestampRouter")


def _tombstone_dir(values: Mapping[str, Any]) -> Optional[str]:
    """The directory tombstones' keys go to with ``behavior.on.null.values=write``, else None."""
    if values["behavior.on.null.values"] != "write":
        return None
    if not values["store.kafka.keys"]:
        raise ConfigError("behavior.on.null.values=write needs store.kafka.keys=true: a tombstone is "
                          "written as its key, in a keys file under tombstone.encoded.partition, as "
                          "Confluent's S3 sink writes it")
    directory = (values.get("tombstone.encoded.partition") or "").strip("/")
    if not directory:
        raise ConfigError("tombstone.encoded.partition must name a directory, got %r"
                          % values.get("tombstone.encoded.partition"))
    return directory


def _schedule(values: Mapping[str, Any]) -> tuple:
    """``(rotate.schedule.interval.ms, its timezone, the values the partitioner is built from)``:
    the schedule needs ``timezone`` (as Confluent's sinks do), which only time-based partitioners
    also read."""
    interval = values.get("rotate.schedule.interval.ms", -1)
    if interval is None or interval <= 0:
        return -1, None, values
    timezone = values.get("timezone")
    if not timezone:
        raise ConfigError("rotate.schedule.interval.ms=%d needs timezone (an IANA name such as UTC): "
                          "the schedule counts from midnight there" % interval)
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError("timezone must be an IANA time zone name such as UTC or Europe/Berlin, "
                          "got %r" % timezone) from None
    name = values["partitioner.class"]
    if PARTITIONERS.get(name) in (PARTITIONERS["default"], PARTITIONERS["field"]):
        values = {**values, "timezone": None}
    return interval, timezone, values
