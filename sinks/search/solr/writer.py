"""``WriteToSolr``: each bundle as conditional updates, so that no replay regresses a document.

Per bundle and core: the records reduce to one operation per document id (the last record of each,
:mod:`sinks.search.solr.records`); a real-time get reads the current ``_version_`` and source
coordinates (``__connect_topic``, ``__connect_partition``, ``__connect_offset``) of those documents;
every operation whose document already holds a record of the same partition at this offset or later
is dropped (a replay, or an older bundle landing after a newer one); the others go in one JSON update
request, each add carrying the coordinates and ``_version_`` (the version read, or -1: the document
must not exist), each delete the version read. Solr applies a document only if its version still
matches, so a document changed between the read and the write fails the request with HTTP 409: the
bundle's documents are read again and what is left is sent again (those applied before the conflict
are dropped then, as their coordinates show), up to :data:`CONFLICT_ATTEMPTS` times in a row.

Solr applies an update request's documents one after the other and stops at the first it refuses
(HTTP 400), keeping those before it. Its message names the document (``[doc=<id>]``) for field
errors: that record is rejected (:class:`~common.errors.RejectedRecord`) and the bundle is written
again without it, the documents already applied being dropped as replays. A refusal naming no
document raises :class:`~common.errors.DataError`, and the bundle is halved until the record is found
(:class:`~sinks.base.BundleWriter`). Either way the rejected record goes to the error path
(``errors.tolerance``, the dead-letter queue) before the rest of its bundle lands.
"""

from __future__ import annotations

import logging
from typing import Dict, List

import apache_beam as beam

from common.errors import BeamConnectError, RejectedRecord, RetriableError
from sinks.base import BundleWriter, WriteContext
from sinks.search.solr import records
from sinks.search.solr.client import Refused, SolrClient, VersionConflict, first, update_body
from sinks.search.solr.config import SolrSinkConfig
from sinks.search.solr.records import (COORDINATE_FIELDS, OFFSET_FIELD, PARTITION_FIELD, TOPIC_FIELD,
                                       VERSION_FIELD, Operation)
from transforms.records import ConvertedBundle, WriteResult

_LOGGER = logging.getLogger(__name__)

#: Version conflicts in a row after which a bundle's write counts as a retriable failure.
CONFLICT_ATTEMPTS = 10


def check_core(client: SolrClient, core: str) -> str:
    """The core's ``uniqueKey`` field, once its schema is known to hold what the sink writes.

    Raises:
      BeamConnectError: the core is missing, refuses the login, or lacks ``_version_`` or a
        coordinate field (the message names them and how to add them).
    """
    unique_key = client.unique_key(core)
    missing = client.missing_fields(core, (VERSION_FIELD,) + COORDINATE_FIELDS)
    if missing:
        raise BeamConnectError(
            "core %r has no field %s: the sink keeps each document's source topic, partition and "
            "offset in %s, %s and %s (to write conditionally, so that a replay never regresses a "
            "document) and needs _version_ (with the update log) for optimistic concurrency. Add "
            "them to the schema, e.g. <field name=\"__connect_topic\" type=\"string\" stored=\"true\"/>, "
            "<field name=\"__connect_partition\" type=\"pint\" stored=\"true\"/>, "
            "<field name=\"__connect_offset\" type=\"plong\" stored=\"true\"/> (or with the Schema "
            "API's add-field on a managed schema)"
            % (core, ", ".join(missing), TOPIC_FIELD, PARTITION_FIELD, OFFSET_FIELD))
    return unique_key


class SolrWriteFn(BundleWriter):
    """Writes each bundle with conditional updates; one :class:`WriteResult` per bundle naming its
    cores."""

    def __init__(self, config: SolrSinkConfig, context: WriteContext):
        super().__init__(context)
        self._config = config
        self._client = None
        self._unique_keys: Dict[str, str] = {}
        # (core, id, offset) of what this bundle's requests sent: a request that failed may have
        # applied some of them, which count as written when a retry finds them
        self._attempted: set = set()

    def setup(self):
        self._client = SolrClient(self._config)
        self._unique_keys = {}

    def teardown(self):
        if self._client is not None:
            self._client.close()
            self._client = None
        super().teardown()

    def _unique_key(self, core: str) -> str:
        unique_key = self._unique_keys.get(core)
        if unique_key is None:
            unique_key = self._unique_keys[core] = check_core(self._client, core)
        return unique_key

    def write_bundle(self, bundle: ConvertedBundle) -> WriteResult:
        self._attempted = set()
        try:
            return super().write_bundle(bundle)
        finally:
            self._attempted = set()

    def write_records(self, bundle: ConvertedBundle) -> tuple:
        config = self._config
        plan = records.plan(bundle, config.core_of, self._unique_key, config.delete_enabled)
        if plan.refused:
            reason = plan.refused[0][1]
            raise RejectedRecord(reason, [offset for offset, why in plan.refused if why == reason])
        targets, size, written = [], 0, 0
        for core, operations in plan.operations.items():
            count, body_size = self._apply(bundle, core, operations)
            targets.append(core)
            size += body_size
            written += count
        return tuple(targets), size, written

    def _apply(self, bundle: ConvertedBundle, core: str, operations: List[Operation]) -> tuple:
        """Writes ``operations`` to ``core`` conditionally; ``(records written, bytes sent)``."""
        unique_key = self._unique_key(core)
        fields = (unique_key, VERSION_FIELD) + COORDINATE_FIELDS
        where = "core %r, topic=%s partition=%d offsets %d..%d" % (
            core, bundle.topic, bundle.partition, bundle.offsets[0], bundle.offsets[-1])
        for _ in range(CONFLICT_ATTEMPTS):
            stored = self._client.get(core, [op.id for op in operations], fields, unique_key)
            adds, deletes, sent = [], [], []
            landed = 0  # records whose documents an earlier, failed request of this bundle applied
            for op in operations:
                current = stored.get(op.id)
                if current is not None and _holds(current, bundle.topic, bundle.partition, op.offset):
                    if (core, op.id, op.offset) in self._attempted and \
                            int(first(current[OFFSET_FIELD])) == op.offset:
                        landed += len(op.offsets)
                    continue  # a replay, or a newer record of the partition landed first
                if op.document is None:
                    if current is not None:
                        deletes.append({"id": op.id, VERSION_FIELD: current[VERSION_FIELD]})
                        sent.append(op)
                    elif (core, op.id, op.offset) in self._attempted:
                        landed += len(op.offsets)
                    continue
                document = dict(op.document)
                document[TOPIC_FIELD] = bundle.topic
                document[PARTITION_FIELD] = bundle.partition
                document[OFFSET_FIELD] = op.offset
                document[VERSION_FIELD] = current[VERSION_FIELD] if current is not None else -1
                adds.append(document)
                sent.append(op)
            skipped = len(operations) - len(sent)
            if not sent:
                _LOGGER.debug("%s: nothing to write (%d documents hold these records or newer)",
                              where, skipped)
                return landed, 0
            body = update_body(adds, deletes)
            self._attempted.update((core, op.id, op.offset) for op in sent)
            try:
                self._client.update(core, body)
            except VersionConflict:  # its message names the document: record content, not logged
                _LOGGER.info("%s: a document changed since it was read (HTTP 409); reading the "
                             "documents again", where)
                continue
            except Refused as refused:
                offsets = [op.offset for op in sent if op.id == refused.doc_id]
                if offsets:
                    raise RejectedRecord(str(refused), offsets) from None
                raise
            _LOGGER.debug("%s: indexed %d documents, deleted %d, left %d holding newer records",
                          where, len(adds), len(deletes), skipped)
            return landed + sum(len(op.offsets) for op in sent), len(body)
        raise RetriableError("%s: the documents kept changing while they were written (%d version "
                             "conflicts in a row)" % (where, CONFLICT_ATTEMPTS))


def _holds(current: dict, topic: str, partition: int, offset: int) -> bool:
    """Whether a stored document already holds the record at ``offset`` of that partition, or a later
    one (documents of other partitions or topics, whose offsets do not compare, do not)."""
    try:
        return (str(first(current.get(TOPIC_FIELD))) == topic
                and int(first(current.get(PARTITION_FIELD))) == partition
                and int(first(current.get(OFFSET_FIELD))) >= offset)
    except (TypeError, ValueError):
        return False


class WriteToSolr(beam.PTransform):
    """Writes converted bundles to Solr cores; one :class:`~transforms.records.WriteResult` per bundle,
    naming the cores it wrote.

    Args:
      config: The parsed :class:`~sinks.search.solr.config.SolrSinkConfig`.
      context: The run's mode, plans and error path.
    """

    def __init__(self, config: SolrSinkConfig, context: WriteContext):
        super().__init__()
        self._config = config
        self._context = context

    def expand(self, bundles):
        return bundles | "IndexInSolr" >> beam.ParDo(
            SolrWriteFn(self._config, self._context)).with_output_types(WriteResult)
