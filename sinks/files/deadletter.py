"""Dead letters as JSON-lines files on a store (a local directory, ``s3://`` or ``gs://``), and back.

:class:`StoreDeadLetters` writes the failed records of each :meth:`~StoreDeadLetters.write` call as one
file through the file sink's :class:`~sinks.files.storage.Storage`::

    <store.url>/<topic>/partition=<p>/<topic>+<p>+<first failed offset, 10 digits>.dlq.jsonl

One line per record, keys in this order::

    {"topic": "orders", "partition": 3, "offset": 42, "timestamp": 1700000000000,
     "key": "<base64>" or null, "value": "<base64>" or null,
     "headers": [{"key": "h", "value": "<base64>" or null}] or null,
     "stage": "VALUE_CONVERTER", "class_name": "org.apache.kafka.connect.json.JsonConverter",
     "exception_class": "org.apache.kafka.connect.errors.DataException",
     "exception_message": "...", "exception_stacktrace": "...", "connector_name": "orders-sink"}

:func:`read_store_dead_letters` reads them back as bundles of the original records, for a replay.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

from common.errors import BeamConnectError
from sinks.files.naming import file_name, parse_file_name
from sinks.files.storage import GcsStorage, LocalStorage, S3Storage, Storage, StorageError, storage_for
from transforms.errors import DeadLetterWriter
from transforms.records import FailedRecord, KafkaBundle

_LOGGER = logging.getLogger(__name__)

EXTENSION = ".dlq.jsonl"

#: Kafka's timestamp types, as in :class:`~transforms.records.KafkaBundle`.
_NO_TIMESTAMP_TYPE, _CREATE_TIME = 0, 1


def dead_letter_path(store: Storage, topic: str, partition: int, first_offset: int) -> str:
    """Where the dead letters of ``topic``/``partition`` starting at ``first_offset`` are written."""
    return store.path(topic, "partition=%d" % partition,
                      file_name(topic, partition, first_offset, EXTENSION))


def encode_line(record: FailedRecord, connector_name: str) -> bytes:
    """One JSON line (with its newline) for ``record``; the same record always gives the same bytes."""
    timestamp = record.timestamp if record.timestamp is not None and record.timestamp >= 0 else None
    line = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": timestamp,
        "key": _b64(record.key),
        "value": _b64(record.value),
        "headers": None if record.headers is None else [
            {"key": name, "value": _b64(value)} for name, value in record.headers],
        "stage": record.stage,
        "class_name": record.class_name,
        "exception_class": record.exception_class,
        "exception_message": record.reason,
        "exception_stacktrace": record.stacktrace,
        "connector_name": connector_name,
    }
    return json.dumps(line, separators=(",", ":")).encode("ascii") + b"\n"


class StoreDeadLetters(DeadLetterWriter):
    """Writes failed records as JSON-lines files on a store.

    Each :meth:`write` writes one whole file per source topic-partition in it (the error path hands
    over one topic-partition at a time, so one file per call), named from the topic, the partition and
    the first failed offset (see the module docstring). The store writes a file whole and durably
    before :meth:`write` returns.

    Delivery guarantee: at least once, idempotent per file name. A retried bundle or a replay of the
    same source offsets fails the same records again and rewrites the same file with the same bytes,
    so it leaves no duplicate. A replay that fails a different set of records of a window (say the
    cause was fixed for some) writes a file under another first offset, and records in both files are
    then duplicated; :func:`read_store_dead_letters` keeps each source offset once.

    Args:
      store: The store (pickled with the writer; it makes its client on first use), or a
        ``store.url`` (local path, ``file://``, ``s3://`` or ``gs://``) whose credentials come from the
        environment.
      connector_name: The connector's ``name``, written on every line.
    """

    def __init__(self, store: Union[Storage, str], connector_name: str = ""):
        self.store = _store(store)
        self.connector_name = connector_name
        self.description = "store %s" % self.store.url

    def open(self) -> None:
        """Checks that files can be written to the store."""
        self.store.check()

    def write(self, failed: Sequence[FailedRecord]) -> None:
        """Writes ``failed`` as one file per source topic-partition.

        Raises:
          StorageError: the store failed the write; the message names the file and its records.
        """
        groups: Dict[Tuple[str, int], List[FailedRecord]] = {}
        for record in failed:
            groups.setdefault((record.topic, record.partition), []).append(record)
        for (topic, partition), records in groups.items():
            records.sort(key=lambda r: r.offset)
            path = dead_letter_path(self.store, topic, partition, records[0].offset)
            data = b"".join(encode_line(r, self.connector_name) for r in records)
            try:
                self.store.write(path, data)
            except StorageError as exc:
                raise StorageError("%s (dead letters of topic=%s partition=%d offsets %d..%d)" % (
                    exc, topic, partition, records[0].offset, records[-1].offset)) from exc
            _LOGGER.info("wrote %d dead letters of topic=%s partition=%d offsets %d..%d to %s",
                         len(records), topic, partition, records[0].offset, records[-1].offset, path)


def read_store_dead_letters(store: Union[Storage, str]) -> Iterator[KafkaBundle]:
    """The records :class:`StoreDeadLetters` wrote to ``store``, one bundle per original
    topic-partition (ordered by topic, then partition), for a replay.

    Offsets are in order, a source offset found in several files is kept once, and each bundle's
    ``window_start`` is its first offset. Records come back with their timestamp as create time (type
    1), or -1 and type 0 where none was known. One topic-partition's files are read at a time.

    Args:
      store: The store, or its ``store.url``.

    Raises:
      StorageError: a file cannot be listed or read.
      BeamConnectError: a file holds a line that is not a dead letter of its topic-partition.
    """
    store = _store(store)
    files: Dict[Tuple[str, int], List[Tuple[int, str]]] = {}
    for path in store.walk(store.path("")):
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        if not name.endswith(EXTENSION):
            continue
        parsed = parse_file_name(name)
        if parsed is None or parsed.extension != EXTENSION:
            continue
        files.setdefault((parsed.topic, parsed.partition), []).append((parsed.offset, path))
    for (topic, partition), paths in sorted(files.items()):
        records: Dict[int, tuple] = {}
        for _, path in sorted(paths):
            for number, line in enumerate(_read(store, path).splitlines(), 1):
                if not line.strip():
                    continue
                offset, columns = _decode_line(line, topic, partition, path, number)
                records.setdefault(offset, columns)
        offsets = sorted(records)
        if not offsets:
            continue
        rows = [records[o] for o in offsets]
        yield KafkaBundle(topic, partition, offsets[0], offsets, *(list(c) for c in zip(*rows)))


def _decode_line(line: bytes, topic: str, partition: int, path: str, number: int):
    """``(offset, (timestamp, timestamp type, key, value, headers))`` of one line of ``path``."""
    try:
        item = json.loads(line)
        if (item["topic"], item["partition"]) != (topic, partition):
            raise ValueError("it is a record of topic=%s partition=%s" % (item["topic"],
                                                                         item["partition"]))
        offset = item["offset"]
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise ValueError("offset %r is not an offset" % (offset,))
        timestamp = item["timestamp"]
        headers = item["headers"]
        if headers is not None:
            headers = [(h["key"], _unb64(h["value"])) for h in headers]
        columns = (-1 if timestamp is None else timestamp,
                   _NO_TIMESTAMP_TYPE if timestamp is None else _CREATE_TIME,
                   _unb64(item["key"]), _unb64(item["value"]), headers)
    except (ValueError, KeyError, TypeError) as exc:
        raise BeamConnectError("line %d of %s is not a dead letter of topic=%s partition=%d: %s"
                               % (number, path, topic, partition, exc)) from None
    return offset, columns


def _store(store: Union[Storage, str]) -> Storage:
    if isinstance(store, Storage):
        return store
    return storage_for({"store.url": store})


def _read(store: Storage, path: str) -> bytes:
    """The bytes of file ``path``; the Storage contract has no read, so each kind is read here."""
    try:
        if isinstance(store, LocalStorage):
            with open(path, "rb") as f:
                return f.read()
        if isinstance(store, S3Storage):
            return store.client.get_object(Bucket=store.bucket, Key=store.key(path))["Body"].read()
        if isinstance(store, GcsStorage):
            return store.client.bucket(store.bucket).blob(store.key(path)).download_as_bytes()
    except Exception as exc:
        raise StorageError("could not read %s: %s: %s" % (path, type(exc).__name__, exc)) from exc
    raise StorageError("dead letters cannot be read from a %s store (%s)"
                       % (type(store).__name__, store.url))


def _b64(data: Optional[bytes]) -> Optional[str]:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: Optional[str]) -> Optional[bytes]:
    return None if text is None else base64.b64decode(text, validate=True)


__all__ = ["EXTENSION", "StoreDeadLetters", "dead_letter_path", "encode_line",
           "read_store_dead_letters"]
