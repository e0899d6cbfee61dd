"""Config keys of the file sink (Confluent S3/GCS sink keys where they apply)."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional

from common.configdef import ConfigDef, ConfigKey, NO_DEFAULT
from common.errors import ConfigError
from sinks.files.formats import COMPRESSIONS, FORMATS, Format, make_format
from sinks.files.formats.avro import CODECS as AVRO_CODECS
from sinks.files.formats.parquet import CODECS
from sinks.files.partitioners import EXTRACTORS, PARTITIONERS, Partitioner, make_partitioner
from sinks.files.storage import STORAGE_CLASSES, Storage, storage_for
from sinks.files.storage.s3 import CANNED_ACLS, DEFAULT_PART_SIZE, MIN_PART_SIZE, SSE_ALGORITHMS

NULL_BEHAVIORS = ("fail", "ignore")

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
              doc="What to do with null values (tombstones): fail the run or ignore the record."),
])

IGNORED_KEYS = {
    "locale": "path.format's numeric fields do not depend on it",
    "rotate.schedule.interval.ms": "a bounded run closes every file when it ends",
    "schema.compatibility": "records of one file are written with the union of their schemas",
}


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

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> "FilesSinkConfig":
        if not values["topics.dir"].strip("/"):
            raise ConfigError("topics.dir must name a directory, got %r" % values["topics.dir"])
        if not values["file.delim"]:
            raise ConfigError("file.delim must not be empty")
        return cls(storage=storage_for(values),
                   topics_dir=values["topics.dir"].strip("/"),
                   format=make_format(values["format.class"], values),
                   flush_size=values["flush.size"],
                   pad_width=values["filename.offset.zero.pad.width"],
                   partitioner=make_partitioner(values["partitioner.class"], values),
                   file_delim=values["file.delim"],
                   null_values=values["behavior.on.null.values"],
                   rotate_interval_ms=values["rotate.interval.ms"],
                   keys_format=(make_format(values["keys.format.class"], values)
                                if values["store.kafka.keys"] else None),
                   headers_format=(make_format(values["headers.format.class"], values)
                                   if values["store.kafka.headers"] else None))

    def companions(self) -> dict:
        """The files written next to each value file: {name infix: format}, such as ``.keys``."""
        return {infix: fmt for infix, fmt in ((".keys", self.keys_format),
                                               (".headers", self.headers_format)) if fmt is not None}
