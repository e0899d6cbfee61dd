"""``WriteToMongoDB``: each bundle's documents in ordered (or unordered) bulk writes, replay-safe where the
id strategy is.

Per bundle, in record order: each record becomes a document (:mod:`sinks.mongodb.documents`), is mapped
to its namespace, edited by the post processors (its ``_id`` made by the id strategy) and turned into a
write by the write model strategy; consecutive writes to one collection (at most ``max.batch.size``)
go to the server in one ``bulk_write``, as the official connector groups them.

**Conditional writes.** With ``offsets.field`` (default ``__kafka``), each document keeps where it came
from, ``{"topic": <source topic>, "partition": <p>, "offset": <o>}``, and every write whose filter is the
document's ``_id`` (replace, update, delete) carries the condition
``{"$nor": [{"__kafka.topic": T, "__kafka.partition": P, "__kafka.offset": {"$gte": O}}]}`` (``$gt``
for deletes): a document is changed only by a record of a later offset of its partition, or of
another partition or topic (whose offsets do not compare), or when it holds no coordinates. An upsert
whose condition fails tries to insert a second document with that ``_id`` and gets a duplicate-key
error: the sink reads the stored coordinates back, and when they are those of the same or a newer
record, the write is settled as done (not an error, not counted as written). So a replay of a range
rewrites nothing, and two bundles of a partition applied in reverse order leave the newest document.
An ``InsertOne`` that meets an existing ``_id`` is settled the same way when the stored document holds
this very record's coordinates (a replay), and refused otherwise. Set ``offsets.field=`` (empty) to
write as the official connector does: no field, unconditional writes.

**Refused documents.** A record that cannot become a write (no ``_id`` where the strategy needs one, a
tombstone without ``delete.on.null.values``, a value that is not a document) and a document the server
refuses (a ``BulkWriteError``'s ``writeErrors``: a duplicate key, a validation failure) are set aside
with their offsets and handed to the error path as :class:`~common.errors.RejectedRecord` (``errors.
tolerance``, or ``mongo.errors.tolerance`` for this sink's own failures); the rest of the bundle is
written. An ordered bulk write stops at a refused document: the writes after it are sent again on
their own. Conditional replacements (the default strategies) are sent unordered whatever
``bulk.write.ordered`` says: the replacements of one partition commute under their conditions (each
document ends as its newest record), so a replayed bundle takes one round trip, not one per record.
The writes of a bundle are made once: the ids a strategy draws (``BsonOid``, ``Uuid``) are kept while
the bundle is written, and the records already written are not sent again when the bundle is written
again without the refused ones.

**A server away.** pymongo waits up to ``serverSelectionTimeoutMS`` (of ``connection.uri``, 30 s by
default) for a server; a connection lost during a write is retried for that long (the writes are
idempotent: the same documents, ids and conditions); past it, the bundle fails with a
:class:`~common.errors.RetriableError` naming the hosts, retried per ``errors.retry.timeout``, after
which the run fails and commits nothing.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
from typing import Any

import apache_beam as beam

from common.errors import BeamConnectError, DataError, RejectedRecord, RetriableError
from sinks.base import BundleWriter, WriteContext
from sinks.mongodb.config import MongoSinkConfig, Timeseries, TopicConfig
from sinks.mongodb.documents import SinkDocument, documents
from sinks.mongodb.namespace import check_name
from sinks.mongodb.writemodels import DELETE, INSERT, REPLACE
from transforms.errors import FailureRouter
from transforms.records import ConvertedBundle, WriteResult

_LOGGER = logging.getLogger(__name__)

_DUPLICATE_KEY = (11000, 11001, 12582)
# Errors of a server going away or stepping down: the write is tried again.
_PASSING = (91, 189, 10107, 11600, 11602, 13435, 13436)
_AUTH = (13, 18)


@dataclasses.dataclass
class _Write:
    """One record's write: its pymongo operation and what settles a duplicate-key error on it."""

    offset: int
    op: Any
    kind: str
    conditional: bool
    id: Any
    coordinates: dict


class _MongoWriteFn(BundleWriter):
    """Writes each bundle's documents; one :class:`WriteResult` per bundle naming its collections."""

    def __init__(self, config: MongoSinkConfig, context: WriteContext):
        super().__init__(sink_context(config, context))
        self._config = config
        self._client = None

    def setup(self):
        self._client = self._config.client()
        self._window = self._client.options.server_selection_timeout
        self._rate: dict = {}
        self._series: set = set()
        self._reset()

    def teardown(self):
        if self._client is not None:
            self._client.close()
            self._client = None
        super().teardown()

    def process(self, bundle: ConvertedBundle):
        self._reset()
        try:
            yield self.write_bundle(bundle)
        finally:
            self._reset()

    def _reset(self) -> None:
        # Per bundle: offset -> written (True) or settled as already there (False); offset -> its
        # prepared write (or why it has none); the collections written.
        self._settled: dict = {}
        self._prepared: dict = {}
        self._targets: set = set()
        self._documents = None

    # -- a bundle

    def write_records(self, bundle: ConvertedBundle) -> tuple:
        tolerate = self._context.errors.tolerance != "none"
        written = 0
        todo = []
        for index, offset in enumerate(bundle.offsets):
            if offset in self._settled:
                written += self._settled[offset]
            else:
                todo.append(index)
        rejected: list = []
        groups: list = []
        for index in todo:
            prepared = self._prepare(bundle, index)
            if isinstance(prepared, DataError):
                rejected.append((bundle.offsets[index], str(prepared)))
                if not tolerate:
                    break
                continue
            topic_config, namespace, write = prepared
            last = groups[-1] if groups else None
            if (last is not None and last[0] is topic_config and last[1] == namespace
                    and (not topic_config.max_batch_size
                         or len(last[2]) < topic_config.max_batch_size)):
                last[2].append(write)
            else:
                groups.append((topic_config, namespace, [write]))
        if rejected and not tolerate:
            raise _rejection(rejected)
        for topic_config, namespace, writes in groups:
            written += self._bulk(topic_config, namespace, writes, bundle, rejected)
            self._targets.add("%s.%s" % namespace)
            if rejected and not tolerate:
                break
            self._pause(topic_config)
        if rejected:
            raise _rejection(rejected)
        _LOGGER.info("wrote %d records of topic=%s partition=%d offsets %d..%d to %s", written,
                     bundle.topic, bundle.partition, bundle.offsets[0], bundle.offsets[-1],
                     ", ".join(sorted(self._targets)) or "no collection")
        return tuple(sorted(self._targets)), 0, written

    def _prepare(self, bundle: ConvertedBundle, index: int):
        """``(topic config, (database, collection), _Write)`` of record ``index``, or the
        :class:`DataError` saying why it has none; made once per bundle."""
        offset = bundle.offsets[index]
        if offset in self._prepared:
            return self._prepared[offset]
        if self._documents is None or self._documents[0] is not bundle:
            self._documents = (bundle, *documents(bundle))
        _, keys, values = self._documents
        topic = bundle.topic_of(index)
        topic_config = self._config.topic(topic)
        value = values[index]
        try:
            if isinstance(value, DataError):
                raise value
            doc = SinkDocument(topic, bundle.topic, bundle.partition, offset,
                               bundle.timestamps[index], keys[index], value)
            prepared = (topic_config, *_write_of(topic_config, doc))
        except DataError as exc:  # the error path names the record
            prepared = DataError("the record cannot be written: %s" % exc)
        self._prepared[offset] = prepared
        return prepared

    # -- bulk writes

    def _bulk(self, topic_config: TopicConfig, namespace: tuple, writes: list,
              bundle: ConvertedBundle, rejected: list) -> int:
        """Writes ``writes`` to ``namespace``; returns how many landed, adding the refused ones to
        ``rejected`` as ``(offset, reason)``."""
        from bson.errors import InvalidDocument
        from pymongo.errors import BulkWriteError

        collection = self._collection(topic_config, namespace)
        what = "writing records %d..%d of topic=%s partition=%d to %s.%s" % (
            writes[0].offset, writes[-1].offset, bundle.topic, bundle.partition, *namespace)
        # Conditional replacements of one partition commute: each document ends as its newest record
        # whatever the order, so they go unordered (a replayed bundle in one round trip).
        ordered = topic_config.ordered and not all(w.conditional and w.kind == REPLACE for w in writes)
        written = 0
        pending = writes
        while pending:
            batch = pending
            try:
                self._call(lambda: collection.bulk_write([w.op for w in batch], ordered=ordered),
                           what)
            except BulkWriteError as exc:
                errors = sorted(exc.details.get("writeErrors") or [], key=lambda e: e["index"])
                if not errors:
                    concern = (exc.details.get("writeConcernErrors") or [{}])[0]
                    raise RetriableError("%s: the write concern was not met: %s"
                                         % (what, self._config.scrub(str(concern.get("errmsg")))))
                by_index = {e["index"]: e for e in errors}
                if ordered:
                    cut = errors[0]["index"]
                    landed, failed, pending = batch[:cut], [(batch[cut], errors[0])], batch[cut + 1:]
                else:
                    landed = [w for i, w in enumerate(batch) if i not in by_index]
                    failed, pending = [(batch[i], e) for i, e in sorted(by_index.items())], []
                written += self._landed(landed)
                for write, reason in self._refusals(collection, topic_config, namespace, failed):
                    if reason is None:
                        self._settled[write.offset] = False
                    else:
                        rejected.append((write.offset, reason))
                if rejected and self._context.errors.tolerance == "none":
                    return written
                continue
            except (InvalidDocument, OverflowError, KeyError) as exc:
                # A document BSON cannot hold; or (KeyError) a reply the driver cannot read, which
                # FerretDB 1.24 gives to an update it refuses before running its statements.
                if len(batch) == 1:
                    why = ("the server refused it with a reply the driver cannot read (%r missing)"
                           % exc.args[0] if isinstance(exc, KeyError)
                           else "it cannot be written as BSON: %s" % exc)
                    rejected.append((batch[0].offset, "the record could not be written to %s.%s: %s"
                                     % (*namespace, why)))
                    return written
                half = len(batch) // 2
                for part in (batch[:half], batch[half:]):
                    written += self._bulk(topic_config, namespace, part, bundle, rejected)
                return written
            written += self._landed(batch)
            pending = []
        return written

    def _landed(self, writes: list) -> int:
        for write in writes:
            self._settled[write.offset] = True
        return len(writes)

    def _refusals(self, collection, topic_config: TopicConfig, namespace: tuple, failed: list):
        """``(write, reason)`` of each refused write; reason None where a duplicate key shows the
        document already holds this record or a newer one."""
        field = topic_config.offsets_field
        checks = [w for w, e in failed if e.get("code") in _DUPLICATE_KEY and field
                  and (w.conditional or w.kind == INSERT) and w.id is not None]
        stored = self._stored(collection, field, [w.id for w in checks]) if checks else {}
        for write, error in failed:
            if write in checks:
                held = stored.get(_id_key(write.id))
                if held is not None and _settles(held, write):
                    yield write, None
                    continue
            yield write, ("%s.%s refused the document (error %s): %s" % (
                *namespace, error.get("code"),
                self._config.scrub(str(error.get("errmsg", "")).splitlines()[0][:500])))

    def _stored(self, collection, field: str, ids: list) -> dict:
        """The coordinates the documents of ``ids`` hold, by :func:`_id_key`."""
        found = self._call(lambda: list(collection.find({"_id": {"$in": ids}}, {field: 1})),
                           "reading the stored offsets of %d documents" % len(ids))
        return {_id_key(d["_id"]): d.get(field) for d in found if isinstance(d.get(field), dict)}

    def _collection(self, topic_config: TopicConfig, namespace: tuple):
        database, name = namespace
        if topic_config.timeseries is not None and namespace not in self._series:
            self._call(lambda: ensure_timeseries(self._client, database, name,
                                                 topic_config.timeseries),
                       "checking the time series collection %s.%s" % namespace)
            self._series.add(namespace)
        return self._client[database][name]

    def _pause(self, topic_config: TopicConfig) -> None:
        if not topic_config.rate_every_n or not topic_config.rate_timeout_ms:
            return
        count = self._rate.get(topic_config.label, 0) + 1
        if count >= topic_config.rate_every_n:
            time.sleep(topic_config.rate_timeout_ms / 1000.0)
            count = 0
        self._rate[topic_config.label] = count

    def _call(self, call, what: str):
        """``call()``, retried while a lost connection comes back within the driver's server
        selection timeout; see the module docstring."""
        return call_mongo(call, what, self._config, self._window)


def call_mongo(call, what: str, config: MongoSinkConfig, window: float):
    """Runs ``call``, retrying lost connections for up to ``window`` seconds.

    Raises:
      RetriableError: no server answered (the driver's server selection timed out), or connections
        kept failing for ``window`` seconds.
      BeamConnectError: the server refused the command (credentials, rights, a command it lacks).
    """
    from pymongo.errors import (BulkWriteError, ConnectionFailure, OperationFailure,
                                ServerSelectionTimeoutError)

    first = None
    attempt = 0
    while True:
        try:
            return call()
        except BulkWriteError:
            raise
        except ServerSelectionTimeoutError as exc:
            reason = str(exc).split(", Timeout: ")[0]  # without the driver's topology description
            raise RetriableError("no MongoDB server at %s answered within %gs (serverSelectionTimeoutMS) "
                                 "%s: %s" % (config.hosts, window, what,
                                             _first_line(config.scrub(reason)))) from None
        except OperationFailure as exc:
            if exc.code not in _PASSING:
                raise _refused(exc, what, config) from None
            failure = exc
        except ConnectionFailure as exc:  # AutoReconnect, NetworkTimeout
            failure = exc
        reason = _first_line(config.scrub(str(failure)))
        now = time.monotonic()
        first = first if first is not None else now
        if now - first > window:
            raise RetriableError("the connection to MongoDB at %s kept failing for %gs %s: %s"
                                 % (config.hosts, window, what, reason))
        wait = min(0.2 * (2 ** attempt), 2.0)
        attempt += 1
        _LOGGER.warning("%s: the connection to MongoDB at %s failed (%s); trying again in %.1fs",
                        what, config.hosts, reason, wait)
        time.sleep(wait)


def _refused(exc, what: str, config: MongoSinkConfig) -> BeamConnectError:
    message = _first_line(config.scrub(str((exc.details or {}).get("errmsg") or exc)))
    if exc.code in _AUTH:
        return BeamConnectError("MongoDB at %s refused the credentials or rights of connection.uri "
                                "%s: %s" % (config.hosts, what, message))
    return BeamConnectError("MongoDB at %s refused %s (error %s): %s"
                            % (config.hosts, what, exc.code, message))


def ensure_timeseries(client, database: str, name: str, series: Timeseries) -> None:
    """Makes ``database.name`` a time series collection of ``series`` unless it is one.

    Raises:
      BeamConnectError: it exists and is not one, or the server cannot make one.
    """
    from pymongo.errors import CollectionInvalid, OperationFailure

    db = client[database]
    found = list(db.list_collections(filter={"name": name}))
    if found:
        if found[0].get("type") != "timeseries":
            raise BeamConnectError("timeseries.timefield=%s: the collection %s.%s exists and is not a "
                                   "time series collection" % (series.time_field, database, name))
        return
    options: dict = {"timeField": series.time_field}
    if series.meta_field:
        options["metaField"] = series.meta_field
    if series.granularity:
        options["granularity"] = series.granularity
    extra = {"expireAfterSeconds": series.expire_after_seconds} if series.expire_after_seconds else {}
    try:
        db.create_collection(name, timeseries=options, **extra)
    except CollectionInvalid:
        pass  # made meanwhile
    except OperationFailure as exc:
        raise BeamConnectError("timeseries.timefield=%s: MongoDB could not create the time series "
                               "collection %s.%s: %s" % (series.time_field, database, name,
                                                         _first_line(str(exc.details.get("errmsg")
                                                                         or exc)))) from None


def _write_of(topic_config: TopicConfig, doc: SinkDocument) -> tuple:
    """``((database, collection), _Write)`` of ``doc``.

    Raises:
      DataError: the record cannot be written (see the module docstring).
    """
    namespace = topic_config.namespace.namespace(doc)
    problem = check_name(*namespace)
    if problem:
        raise DataError(problem)
    field = topic_config.offsets_field
    coordinates = {"topic": doc.source_topic, "partition": doc.partition, "offset": doc.offset}
    if doc.value_doc is None:
        if not doc.has_key:
            raise DataError("it has neither a key nor a value")
        model = topic_config.delete_model
        if model is None:
            raise DataError("it is a tombstone (a null value); deleting the document its key names "
                            "needs delete.on.null.values=true")
    else:
        for processor in topic_config.post_processors:
            processor.process(doc)
        if topic_config.timeseries is not None and topic_config.timeseries.auto_convert:
            _convert_time(doc.value_doc, topic_config.timeseries.time_field)
        model = topic_config.write_model
        if field:
            doc.value_doc[field] = coordinates
    condition = None
    if field and model.conditional:
        condition = {"$nor": [{field + ".topic": doc.source_topic, field + ".partition": doc.partition,
                               field + ".offset": {"$gt" if model.kind == DELETE else "$gte":
                                                   doc.offset}}]}
    op, id_value = model.model(doc, condition)
    return namespace, _Write(doc.offset, op, model.kind, condition is not None, id_value, coordinates)


def _settles(held: dict, write: _Write) -> bool:
    """Whether stored coordinates ``held`` make a duplicate-key error on ``write`` a write already
    done: the same record (an insert replayed), or the same or a newer one of its partition (a
    conditional write whose condition failed)."""
    mine = write.coordinates
    if held.get("topic") != mine["topic"] or held.get("partition") != mine["partition"]:
        return False
    stored = held.get("offset")
    if not isinstance(stored, int):
        return False
    return stored == mine["offset"] if write.kind == INSERT else stored >= mine["offset"]


def _convert_time(value: dict, field: str) -> None:
    current = value.get(field)
    if isinstance(current, datetime.datetime) or current is None:
        return
    if isinstance(current, (int, float)) and not isinstance(current, bool):
        value[field] = datetime.datetime.fromtimestamp(int(current) / 1000.0, datetime.timezone.utc)
        return
    if isinstance(current, str):
        try:
            parsed = datetime.datetime.fromisoformat(current.strip())
        except ValueError:
            raise DataError("timeseries.timefield.auto.convert: the time field %r holds %r, not an "
                            "ISO date" % (field, current)) from None
        value[field] = parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)
        return
    raise DataError("timeseries.timefield.auto.convert: the time field %r holds a %s, neither a number "
                    "nor a date string" % (field, type(current).__name__))


def _id_key(value: Any) -> bytes:
    import bson

    return bson.encode({"_": value})


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return (lines[0] if lines else text)[:500]


def _rejection(rejected: list) -> RejectedRecord:
    """The records of the first reason (the others come back when the rest is written again)."""
    reason = rejected[0][1]
    return RejectedRecord(reason, [offset for offset, r in rejected if r == reason])


def sink_context(config: MongoSinkConfig, context: WriteContext) -> WriteContext:
    """``context`` with ``mongo.errors.tolerance`` and ``mongo.errors.log.enable`` in place of the
    connector's ``errors.*`` for the records this sink refuses (``data`` is ``all``: failures that are
    not about the data are never skipped here)."""
    if config.tolerance is None and config.log_errors is None:
        return context
    policy = context.errors
    changes = {}
    if config.tolerance is not None:
        changes["tolerance"] = "none" if config.tolerance == "none" else "all"
    if config.log_errors is not None:
        changes["log_enable"] = config.log_errors
    policy = dataclasses.replace(policy, **changes)
    router = None
    if context.router is not None:
        router = FailureRouter(policy, context.router.dead_letters)
    return dataclasses.replace(context, errors=policy, router=router)


class WriteToMongoDB(beam.PTransform):
    """Writes converted bundles to MongoDB collections; one :class:`~transforms.records.WriteResult`
    per bundle, naming the collections (``database.collection``) it wrote.

    Args:
      config: The parsed :class:`~sinks.mongodb.config.MongoSinkConfig`.
      context: The run's mode and error policy.
    """

    def __init__(self, config: MongoSinkConfig, context: WriteContext):
        super().__init__()
        self._config = config
        self._context = context

    def expand(self, bundles):
        return bundles | "WriteDocuments" >> beam.ParDo(
            _MongoWriteFn(self._config, self._context)).with_output_types(WriteResult)
