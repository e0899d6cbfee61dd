"""The Solr sink: records as documents in Solr cores, each document id written once per record.

``connector.class=com.github.jcustenborder.kafka.connect.solr.HttpSolrSinkConnector`` (or ``solr``)
with kafka-connect-solr's keys (:mod:`sinks.search.solr.config`). Each record becomes a JSON document
of its value, whose id is the record key (or, with a null key, the value's ``uniqueKey`` field, or
``<topic>+<partition>+<offset>``; :mod:`sinks.search.solr.records`); a tombstone deletes its key's
document (``solr.delete.documents.enabled``). Documents go to the core ``solr.url`` names, or to the
core each record's topic names. ``solr.commit.within`` asks Solr to make them searchable within that
many ms; Solr's own ``autoCommit`` decides otherwise.

Delivery: effectively exactly once per document id. A bundle's offsets are committed once Solr has
acknowledged its update request, which it does once the documents are in its update log (replayed
when Solr restarts, so a crash of Solr keeps them, committed or not; the log is flushed to the
operating system, and fsynced only with ``<updateLog><str name="syncLevel">FSYNC</str>``); a run
killed before that commit reads and writes the bundle again. Writes are conditional
(:mod:`sinks.search.solr.writer`): each document keeps its source record's topic, partition and
offset in ``__connect_topic``, ``__connect_partition`` and ``__connect_offset``, a record is not
applied to a document that already holds that record or a later one of the same partition, and
Solr's optimistic concurrency (``_version_``) makes the check and the write one step. So a replay
(a rerun after a kill, ``--from earliest``, a dead-letter replay) writes nothing older than what a
document holds, and two bundles of one partition landing in reverse order leave the newer document:
the cores end as a clean run leaves them. A request Solr answers with HTTP 429 or 5xx, or that fails
to connect or times out, is sent again (``solr.max.retries``, ``solr.retry.backoff.ms``;
:mod:`sinks.search.solr.client`): a resent update is conditional on the same versions, so one that
had been applied changes nothing. Where it does not hold:
records of one id from different partitions or topics do not compare (the last written wins), and a
delete takes the document's coordinates with it, so an older record of that id landing after the
tombstone from another bundle (out of order, or a dead-letter replay) creates the document again.

The cores' schemas need ``_version_`` with the update log (every stock configset has both) and the
three coordinate fields; :meth:`SolrSink.check` reads the schema and the login before any record is
read, and names what is missing.
"""

from __future__ import annotations

from typing import Any, Mapping

import apache_beam as beam

from common.errors import ConfigError
from sinks.base import Bundling, ConnectorContext, Sink, WriteContext
from sinks.search.solr.client import SolrClient
from sinks.search.solr.config import (CLOUD_CONFIG_DEF, CLOUD_IGNORED_KEYS, CLOUD_REFUSAL, CONFIG_DEF,
                                      IGNORED_KEYS, SolrSinkConfig)
from sinks.search.solr.writer import WriteToSolr, check_core


class SolrSink(Sink):
    """kafka-connect-solr's ``HttpSolrSinkConnector`` keys; conditional updates per bundle and core."""

    config_def = CONFIG_DEF
    ignored_keys = IGNORED_KEYS
    target_noun = "cores"

    def parse(self, values: Mapping[str, Any]) -> SolrSinkConfig:
        return SolrSinkConfig.from_values(values, ConnectorContext(name="solr"))

    def configure(self, values: Mapping[str, Any], connector: ConnectorContext) -> SolrSinkConfig:
        return SolrSinkConfig.from_values(values, connector)

    def check(self, config: SolrSinkConfig) -> None:
        """Logs in and reads the schema of each core known before the run (``solr.url``'s, or the
        topics' when no transform renames them; else only reaches Solr's base URL): a refused login,
        an unreachable Solr, a missing core or field is an error naming the URL (and user)."""
        client = SolrClient(config)
        try:
            if not config.known_cores:
                client.probe()
            for core in config.known_cores:
                check_core(client, core)
        finally:
            client.close()

    def bundling(self, config: SolrSinkConfig) -> Bundling:
        return Bundling(config.flush_size, close_caught_up=True)

    def write(self, config: SolrSinkConfig, context: WriteContext) -> beam.PTransform:
        return WriteToSolr(config, context)


class CloudSolrSink(Sink):
    """kafka-connect-solr's ``CloudSolrSinkConnector``: its keys are known, and it is refused with the
    way to reach SolrCloud instead (:data:`~sinks.search.solr.config.CLOUD_REFUSAL`)."""

    config_def = CLOUD_CONFIG_DEF
    ignored_keys = CLOUD_IGNORED_KEYS
    target_noun = "collections"

    def parse(self, values: Mapping[str, Any]) -> None:
        raise ConfigError(CLOUD_REFUSAL)

    def bundling(self, config: Any) -> Bundling:
        raise ConfigError(CLOUD_REFUSAL)

    def write(self, config: Any, context: WriteContext) -> beam.PTransform:
        raise ConfigError(CLOUD_REFUSAL)
