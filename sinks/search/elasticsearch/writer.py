"""``WriteToSearch``: each bundle as bulk requests, read item by item, idempotent per document id.

A bundle (``batch.size`` x ``max.in.flight.requests`` records of one source partition) becomes one
action per record: ``index`` (``write.method=insert``), ``update`` with ``doc_as_upsert`` (``upsert``),
``create`` (data streams) or ``delete`` (a tombstone with ``behavior.on.null.values=delete``). The
actions are NDJSON bytes built here (each document as :mod:`sinks.search.documents` writes it), cut
into bulk requests of at most ``batch.size`` actions and ``bulk.size.bytes`` bytes, sent up to
``max.in.flight.requests`` at a time, and their answers read item by item:

- acknowledged items count as written; a ``version_conflict_engine_exception`` of a versioned write (or
  of a data stream's ``create`` of an id it holds) means the cluster already holds that record or a
  newer one: counted as a conflict, not an error;
- items answered 429 or 5xx, and whole requests that fail for such a reason (or lose their connection,
  or time out), are sent again, only those, after a random wait of up to ``retry.backoff.ms`` x 2^n, up
  to ``max.retries`` times and within ``flush.timeout.ms``; then the bundle fails with a
  :class:`~common.errors.RetriableError`, which ``errors.retry.timeout`` may retry as a whole;
- documents the cluster refuses for their content (``mapper_parsing_exception`` and the other errors
  Confluent's sink calls malformed) follow ``behavior.on.malformed.documents``: ``fail`` hands them to
  the error path (``errors.tolerance=none`` stops the run naming the record, ``all`` dead-letters it
  and goes on); ``ignore`` and ``warn`` skip them (with ``errors.tolerance=all`` they are
  dead-lettered too, as Confluent reports them to its dead-letter queue); any other item error is
  handed to the error path like ``fail``;
- records that cannot become an action (a null or unusable key as the id, a value that is not an
  object, a tombstone with ``behavior.on.null.values=fail``) are handed to the error path before
  anything is sent, or, with ``drop.invalid.message=true``, dropped with an error log line.

Records handed to the error path go to the connector's failure router with their own reasons, before
the bundle's result is returned, so their dead letters are durable before its offsets are committed.
The bundle's other records are written once: nothing is sent again for them.

Idempotence: with keys, ``index`` and ``delete`` carry ``version_type=external`` with the record's
offset (or ``external.version.header``) as the version, so a replay writes nothing new and a record
older than the document's version never replaces it, in whatever order bundles land. With
``key.ignore`` the id is ``topic+partition+offset``: a replay rewrites the same documents. See
:mod:`sinks.search.elasticsearch.sink` for the guarantee as a whole.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import random
import time
from typing import Optional

import apache_beam as beam
import orjson

from common.errors import BeamConnectError, DataError, RejectedRecord, RetriableError
from sinks.base import BundleWriter, WriteContext
from sinks.search.documents import Invalid, coordinates_id, documents, json_documents, key_ids
from sinks.search.elasticsearch.client import OPENSEARCH, Refused, SearchClient, Unavailable, probe
from sinks.search.elasticsearch.config import ElasticsearchSinkConfig
from sinks.search.elasticsearch.mapping import build_mapping
from transforms.records import ConvertedBundle, Stage, WriteResult

_LOGGER = logging.getLogger(__name__)

#: The item errors Confluent's sink counts as malformed documents.
MALFORMED = frozenset(("mapper_parsing_exception", "strict_dynamic_mapping_exception",
                       "illegal_argument_exception", "action_request_validation_exception",
                       "document_parsing_exception"))
VERSION_CONFLICT = "version_conflict_engine_exception"
_MAX_BACKOFF_S = 60.0


@dataclasses.dataclass
class _Outcome:
    written: int = 0
    deleted: int = 0
    conflicts: int = 0
    refused: list = dataclasses.field(default_factory=list)  # (position, reason) to the error path
    malformed: list = dataclasses.field(default_factory=list)  # (position, reason)


class _SearchWriteFn(BundleWriter):
    """Writes each bundle as bulk requests; one :class:`WriteResult` per bundle naming its indices."""

    def __init__(self, config: ElasticsearchSinkConfig, context: WriteContext):
        super().__init__(context)
        self._config = config
        self._client: Optional[SearchClient] = None
        self._pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._prepared: set = set()

    def setup(self):
        engine, version = probe(self._config)
        self._engine = "%s %s" % ("OpenSearch" if engine == OPENSEARCH else "Elasticsearch", version)
        self._client = SearchClient(self._config, engine)
        if self._config.max_in_flight > 1:
            self._pool = concurrent.futures.ThreadPoolExecutor(self._config.max_in_flight,
                                                               thread_name_prefix="bulk")
        self._prepared = set()

    def teardown(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None
        super().teardown()

    def write_records(self, bundle: ConvertedBundle) -> tuple:
        cfg = self._config
        deadline = time.monotonic() + cfg.flush_timeout_ms / 1000.0
        actions: list = []  # (position in the bundle, NDJSON lines, whether a conflict is written)
        invalid: list = []
        targets = []
        skipped = 0
        for topic, indices in bundle.by_topic():
            part = bundle if indices is None else bundle.take(indices)
            positions = range(len(bundle)) if indices is None else indices
            target = cfg.target(topic)
            targets.append(target)
            self._prepare(target, topic, part)
            skipped += self._actions(part, positions, topic, target, actions, invalid)
        self._refuse(bundle, invalid, droppable=cfg.drop_invalid_message, level=logging.ERROR)
        outcome = _Outcome()
        size = sum(len(a[1]) for a in actions)
        if actions:
            self._send(bundle, actions, deadline, outcome)
        malformed_droppable = cfg.malformed != "fail"
        self._refuse(bundle, outcome.malformed, droppable=malformed_droppable,
                     level=logging.WARNING if cfg.malformed == "warn" else logging.DEBUG)
        self._refuse(bundle, outcome.refused, droppable=False, level=logging.ERROR)
        _LOGGER.info("wrote %d records of topic=%s partition=%d offsets %d..%d to %s: %d indexed, "
                     "%d deleted, %d version conflicts (replayed or older records, left as they "
                     "were), %d tombstones skipped, %d refused",
                     outcome.written + outcome.deleted, bundle.topic, bundle.partition,
                     bundle.offsets[0], bundle.offsets[-1], ", ".join(targets), outcome.written,
                     outcome.deleted, outcome.conflicts, skipped,
                     len(invalid) + len(outcome.malformed) + len(outcome.refused))
        return tuple(targets), size, outcome.written + outcome.deleted

    # -- preparing indices

    def _prepare(self, target: str, topic: str, part: ConvertedBundle) -> None:
        """Creates the index (with its mapping from the value schema) or data stream on first use."""
        cfg = self._config
        if target in self._prepared or part.values.null_count == len(part):
            return
        use_schema = not cfg.ignores_schema(topic) and not cfg.writes_data_streams
        if use_schema and part.value_schema is None:
            raise BeamConnectError(
                "the values of topic=%s have no schema (JsonConverter with schemas.enable=false, or a "
                "StringConverter), so schema.ignore=false cannot make the mapping of %r from one: set "
                "schema.ignore=true, or list the topic in topic.schema.ignore, to leave the mapping to "
                "the cluster" % (topic, target))
        mapping = (build_mapping(part.value_schema, "the value schema of topic=%s" % topic)
                   if use_schema else None)
        client = self._client
        try:
            if cfg.data_stream is not None:
                if client.create_data_stream(target):
                    _LOGGER.info("created data stream %s", target)
            elif cfg.resources:
                if mapping is not None and not client.has_mapping(target):
                    client.put_mapping(target, mapping)
            elif not client.exists(target) and client.create_index(target, mapping):
                _LOGGER.info("created index %s%s", target, " with the mapping of the value schema of "
                             "topic=%s" % topic if mapping else "")
            elif mapping is not None and not client.has_mapping(target):
                client.put_mapping(target, mapping)
        except Unavailable as e:
            raise RetriableError("preparing %s at %s: %s" % (target, cfg.describe(), e)) from None
        except Refused as e:
            raise BeamConnectError("the cluster at %s refused to create %r or its mapping: %s"
                                   % (cfg.describe(), target, e)) from None
        self._prepared.add(target)

    # -- building actions

    def _actions(self, part: ConvertedBundle, positions, topic: str, target: str,
                 actions: list, invalid: list) -> int:
        """Adds the action of each record of ``part`` (or its reason to ``invalid``); returns the
        number of tombstones skipped."""
        cfg = self._config
        if cfg.ignores_key(topic):
            ids = [coordinates_id(topic, part.partition, o) for o in part.offsets]
        else:
            ids = key_ids(part)
        if cfg.writes_data_streams:
            docs = self._stream_documents(part)
        else:
            docs = json_documents(part, compact_map_entries=cfg.compact_map_entries,
                                  raw=cfg.raw_values)
        versioned = cfg.versioned(topic)
        versions = self._versions(part) if versioned else None
        make_doc, make_delete, conflict_ok = _templates(cfg, target, versioned)
        null_values = cfg.null_values
        null_keys = part.keys.is_null().to_pylist() if null_values == "delete" else None
        autogenerated = cfg.autogenerated_ids
        skipped = 0
        for i, position in enumerate(positions):
            doc, doc_id = docs[i], ids[i]
            version = versions[i] if versions is not None else None
            if doc.__class__ is bytes:
                if (autogenerated or doc_id.__class__ is str) and version.__class__ is not Invalid:
                    actions.append((position, make_doc(doc_id, version, doc), conflict_ok))
                    continue
                problems = (doc, version) if autogenerated else (doc_id, version)
            elif doc is None:
                if null_values == "ignore" or (null_values == "delete" and null_keys[i]):
                    skipped += 1
                    continue
                if null_values == "fail":
                    invalid.append((position, "the record value is null (a tombstone) and "
                                              "behavior.on.null.values=fail (set it to ignore or "
                                              "delete)"))
                    continue
                if doc_id.__class__ is str and version.__class__ is not Invalid:
                    actions.append((position, make_delete(doc_id, version), versioned))
                    continue
                problems = (doc_id, version)
            else:
                problems = (doc,)
            invalid.append((position, next(p.reason for p in problems if isinstance(p, Invalid))))
        return skipped

    def _versions(self, part: ConvertedBundle) -> list:
        """The external version of each record: its offset, or ``external.version.header``."""
        name = self._config.version_header
        if name is None:
            return list(part.offsets)
        versions: list = []
        for headers in part.headers:
            value = None
            for key, data in headers or ():
                if key == name:
                    value = data
            if value is None:
                versions.append(Invalid("the record has no header %r (external.version.header) to "
                                        "take its version from" % name))
                continue
            try:
                version = int(bytes(value).decode("utf-8").strip())
            except (UnicodeDecodeError, ValueError):
                version = -1
            versions.append(version if version >= 0 else Invalid(
                "the header %r (external.version.header) does not hold a non-negative integer"
                % name))
        return versions

    def _stream_documents(self, part: ConvertedBundle) -> list:
        """Documents for a data stream: each with ``@timestamp`` from the first present field of
        ``data.stream.timestamp.field``, else the record's timestamp."""
        fields = self._config.timestamp_fields
        made = []
        for doc, timestamp in zip(documents(part, compact_map_entries=self._config.compact_map_entries),
                                  part.timestamps):
            if isinstance(doc, dict):
                for name in fields:
                    if doc.get(name) is not None:
                        doc["@timestamp"] = doc[name]
                        break
                else:
                    doc["@timestamp"] = timestamp
                doc = orjson.dumps(doc)
            made.append(doc)
        return made

    # -- sending

    def _send(self, bundle: ConvertedBundle, actions: list, deadline: float,
              outcome: _Outcome) -> None:
        chunks, chunk, size = [], [], 0
        limit = self._config.bulk_size_bytes
        for action in actions:
            if chunk and (len(chunk) >= self._config.batch_size
                          or (limit is not None and size + len(action[1]) > limit)):
                chunks.append(chunk)
                chunk, size = [], 0
            chunk.append(action)
            size += len(action[1])
        chunks.append(chunk)
        what = "topic=%s partition=%d offsets %d..%d" % (bundle.topic, bundle.partition,
                                                         bundle.offsets[0], bundle.offsets[-1])
        if self._pool is None or len(chunks) == 1:
            results = [self._send_chunk(c, deadline, what) for c in chunks]
        else:
            futures = [self._pool.submit(self._send_chunk, c, deadline, what) for c in chunks]
            concurrent.futures.wait(futures)
            results = [f.result() for f in futures]  # the first failure, once all are done
        for result in results:
            for action, item in result:
                self._count(action, item, outcome)

    def _send_chunk(self, chunk: list, deadline: float, what: str) -> list:
        """``(action, item answer)`` of every action of one bulk request, retrying passing failures."""
        cfg = self._config
        done: list = []
        pending = chunk
        attempt = 0
        while True:
            try:
                answer = self._client.bulk(b"".join([a[1] for a in pending]))
            except Unavailable as e:
                problem = str(e)
            except Refused as e:
                raise BeamConnectError("the cluster at %s refused a bulk request of %d actions of %s: "
                                       "%s%s" % (cfg.describe(), len(pending), what, e,
                                                 " (lower bulk.size.bytes)" if e.status == 413 else "")
                                       ) from None
            else:
                items = answer.get("items") if isinstance(answer, dict) else None
                if not isinstance(items, list) or len(items) != len(pending):
                    raise BeamConnectError("the cluster at %s answered a bulk request of %d actions of "
                                           "%s with %s items" % (cfg.describe(), len(pending), what,
                                                                 len(items) if items else "no"))
                again = []
                for action, item in zip(pending, items):
                    result = next(iter(item.values()))
                    status = result.get("status", 0)
                    if "error" in result and (status == 429 or status >= 500):
                        again.append(action)
                        problem = "%d items answered HTTP %d: %s" % (len(again), status,
                                                                      _item_reason(result))
                    else:
                        done.append((action, result))
                if not again:
                    return done
                pending = again
            attempt += 1
            bound = min(cfg.retry_backoff_ms / 1000.0 * 2 ** attempt, _MAX_BACKOFF_S)
            wait = random.uniform(0, bound)
            if attempt > cfg.max_retries or time.monotonic() + wait > deadline:
                limit = ("max.retries=%d" % cfg.max_retries if attempt > cfg.max_retries
                         else "flush.timeout.ms=%d" % cfg.flush_timeout_ms)
                raise RetriableError("the cluster at %s did not take %d actions of %s within %s: %s"
                                     % (cfg.describe(), len(pending), what, limit, problem))
            _LOGGER.warning("bulk request of %d actions of %s to %s failed (%s); retry %d in %.2fs",
                            len(pending), what, cfg.describe(), problem, attempt, wait)
            time.sleep(wait)

    def _count(self, action: tuple, result: dict, outcome: _Outcome) -> None:
        error = result.get("error")
        if error is None:
            if result.get("result") in ("deleted", "not_found"):
                outcome.deleted += 1
            else:
                outcome.written += 1
            return
        kind = error.get("type", "") if isinstance(error, dict) else ""
        if kind == VERSION_CONFLICT and action[2]:
            outcome.conflicts += 1
            return
        reason = "%s refused the document (index %s, id %s): %s" % (
            self._engine, result.get("_index"), result.get("_id"), _item_reason(result))
        (outcome.malformed if kind in MALFORMED else outcome.refused).append((action[0], reason))

    # -- records for the error path

    def _refuse(self, bundle: ConvertedBundle, refused: list, droppable: bool, level: int) -> None:
        """Hands ``(position, reason)`` records to the error path; droppable ones, without
        ``errors.tolerance=all``, are logged and skipped."""
        if not refused:
            return
        context = self._context
        if droppable and context.errors.tolerance != "all":
            for position, reason in refused:
                _LOGGER.log(level, "skipped record %s: %s", bundle.record_ref(position), reason)
            return
        if context.router is None:  # no router (a hand-built context): the base class isolates them
            reason = refused[0][1]
            raise RejectedRecord(reason, [bundle.offsets[p] for p, r in refused if r == reason])
        context.router.route([bundle.fail(position, Stage.TASK_PUT, context.connector_class,
                                          DataError(reason)) for position, reason in refused])


def _templates(cfg: ElasticsearchSinkConfig, target: str, versioned: bool) -> tuple:
    """``(make_doc(id, version, doc), make_delete(id, version), conflict_ok)``: the NDJSON lines
    of a document's action and of a tombstone's delete, and whether a version conflict of a
    document's action means it is already written."""
    dumps = orjson.dumps
    index = dumps(target).replace(b"%", b"%%")
    version = b',"version":%d,"version_type":"external"' if versioned else b""
    delete = b'{"delete":{"_index":' + index + b',"_id":%s' + version + b'}}\n'
    make_delete = ((lambda i, v: delete % (dumps(i), v)) if versioned
                   else (lambda i, v: delete % dumps(i)))
    if cfg.write_method == "upsert":
        line = (b'{"update":{"_index":' + index + b',"_id":%s,"retry_on_conflict":'
                + b"%d" % min(cfg.max_in_flight, 5) + b'}}\n{"doc":%s,"doc_as_upsert":true}\n')
        return (lambda i, v, d: line % (dumps(i), d)), make_delete, False
    op = b"create" if cfg.writes_data_streams else b"index"
    if cfg.autogenerated_ids:
        line = b'{"' + op + b'":{"_index":' + index + b'}}\n%s\n'
        return (lambda i, v, d: line % d), make_delete, False
    line = b'{"' + op + b'":{"_index":' + index + b',"_id":%s' + version + b'}}\n%s\n'
    if versioned:
        return (lambda i, v, d: line % (dumps(i), v, d)), make_delete, True
    return (lambda i, v, d: line % (dumps(i), d)), make_delete, cfg.writes_data_streams


def _item_reason(result: dict) -> str:
    error = result.get("error")
    if not isinstance(error, dict):
        return str(error)
    text = "%s: %s" % (error.get("type"), error.get("reason"))
    cause = error.get("caused_by")
    if isinstance(cause, dict) and cause.get("reason"):
        text += " (caused by %s: %s)" % (cause.get("type"), cause.get("reason"))
    return text


class WriteToSearch(beam.PTransform):
    """Writes converted bundles to Elasticsearch or OpenSearch; one
    :class:`~transforms.records.WriteResult` per bundle, naming the indices it wrote.

    Args:
      config: The parsed :class:`~sinks.search.elasticsearch.config.ElasticsearchSinkConfig`.
      context: The run's error policy and failure router.
    """

    def __init__(self, config: ElasticsearchSinkConfig, context: WriteContext):
        super().__init__()
        self._config = config
        self._context = context

    def expand(self, bundles):
        return bundles | "IndexDocuments" >> beam.ParDo(
            _SearchWriteFn(self._config, self._context)).with_output_types(WriteResult)
