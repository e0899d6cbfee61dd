"""Session fixtures for the Elasticsearch / OpenSearch sink's tests, and helpers to build what they write.

``opensearch`` is an :class:`~tests.servers.opensearch.OpenSearchCluster`: the suite's own embedded
OpenSearch 2.19 node (:class:`~tests.servers.opensearch.LocalOpenSearch`, with a login, started on first
use and stopped with the session), or the cluster ``BEAMCONNECT_OPENSEARCH_URL`` names
(``http(s)://[USER:PASSWORD@]HOST:PORT``). ``elasticsearch`` is the Elasticsearch cluster
``ELASTICSEARCH_URL`` names, for the tests of the ``elasticsearch`` client path; Elasticsearch cannot be
installed on these machines, so without the variable those tests are skipped. Tests name their
indices uniquely (through their topics).
"""

import json
import os
import uuid

import pytest

from common.errors import BeamConnectError
from sinks.base import ConnectorContext, Mode, WriteContext
from sinks.search.elasticsearch import ElasticsearchSink
from sinks.search.elasticsearch.config import CONFIG_DEF
from transforms.converters import make_converter
from transforms.errors import ErrorPolicy
from transforms.records import KafkaBundle
from tests.servers.opensearch import LocalOpenSearch, OpenSearchCluster

URL_VARIABLE = "BEAMCONNECT_OPENSEARCH_URL"
ELASTICSEARCH_VARIABLE = "ELASTICSEARCH_URL"
CONNECTOR_CLASS = "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector"


def _open(url, variable):
    cluster = OpenSearchCluster.from_url(url, variable)
    try:
        cluster.request("GET", "/")
    except (OSError, BeamConnectError) as e:
        raise BeamConnectError("the cluster %s names cannot be used: %s" % (variable, e)) from None
    return cluster


@pytest.fixture(scope="session")
def opensearch():
    """An OpenSearch cluster: the one ``BEAMCONNECT_OPENSEARCH_URL`` names, else the suite's own."""
    url = os.environ.get(URL_VARIABLE)
    if url:
        yield _open(url, URL_VARIABLE)
        return
    server = LocalOpenSearch().start(timeout=240)
    try:
        yield server.cluster
    finally:
        server.stop()


@pytest.fixture(scope="session")
def elasticsearch():
    """The Elasticsearch cluster ``ELASTICSEARCH_URL`` names; skipped without it (no Elasticsearch can
    be installed here)."""
    url = os.environ.get(ELASTICSEARCH_VARIABLE)
    if not url:
        pytest.skip("%s is not set: Elasticsearch cannot be installed on this machine, so the "
                    "elasticsearch client path runs only against a cluster that variable names"
                    % ELASTICSEARCH_VARIABLE)
    return _open(url, ELASTICSEARCH_VARIABLE)


def unique(prefix="es"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def sink_keys(cluster, overrides=None):
    """The sink's raw keys for ``cluster`` (its URL and login), with ``overrides`` on top."""
    keys = {"connection.url": cluster.url}
    if cluster.user is not None:
        keys.update({"connection.username": cluster.user, "connection.password": cluster.password})
    keys.update(overrides or {})
    return keys


def sink_config(cluster, overrides=None, transforms=(), topics=("t",)):
    """The parsed sink config (as :class:`ElasticsearchSink` configures it) for ``cluster``."""
    raw = sink_keys(cluster, overrides)
    return ElasticsearchSink().configure(CONFIG_DEF.parse(raw), ConnectorContext(
        name="test", topics=tuple(topics), transforms=tuple(transforms)))


def bundle(topic, records, *, partition=0, start=0, schema=None, headers=None, topics=None):
    """A converted bundle of ``records``: ``(key, value)`` pairs, offsets from ``start``.

    Keys are strings (StringConverter) or None; values are Python data written as schemaless JSON, or
    as Connect JSON with ``schema``, or raw bytes as given, or None (a tombstone).
    """
    def encode(value):
        if value is None or isinstance(value, bytes):
            return value
        if schema is not None:
            return json.dumps({"schema": schema, "payload": value}).encode()
        return json.dumps(value).encode()

    offsets = list(range(start, start + len(records)))
    raw = KafkaBundle(topic, partition, start, offsets, [1_700_000_000_000 + o for o in offsets],
                      [1] * len(offsets), [None if k is None else k.encode() for k, _ in records],
                      [encode(v) for _, v in records], headers or [None] * len(offsets))
    keys = make_converter("key.converter", "StringConverter", {})
    values = make_converter("value.converter", "JsonConverter",
                            {"schemas.enable": "true" if schema is not None else "false"})
    from transforms.convert import _ConvertFn
    from transforms.errors import FailureRouter

    convert = _ConvertFn(keys, values, "k", "v", FailureRouter(ErrorPolicy(), None))
    (converted,) = list(convert.process(raw))
    if topics is not None:
        converted.topics = list(topics)
    return converted


class Router:
    """A failure router that keeps what it is handed (``errors.tolerance=all`` without a DLQ)."""

    def __init__(self):
        self.failed = []

    def route(self, failed):
        self.failed.extend(failed)

    def teardown(self):
        pass


def write(config, *bundles, tolerance="all", router=None):
    """Runs the sink's write DoFn over ``bundles`` in this process; returns the WriteResults."""
    from sinks.search.elasticsearch.writer import _SearchWriteFn

    context = WriteContext(Mode.BATCH, (), ErrorPolicy(tolerance=tolerance), CONNECTOR_CLASS,
                           router if router is not None else Router())
    fn = _SearchWriteFn(config, context)
    fn.setup()
    try:
        return [fn.write_bundle(b) for b in bundles]
    finally:
        fn.teardown()


def documents(cluster, index):
    """``{id: (version, source)}`` of every document of ``index`` (refreshed first)."""
    cluster.request("POST", "/%s/_refresh" % index)
    answer = cluster.request("POST", "/%s/_search?version=true&size=10000" % index,
                             {"query": {"match_all": {}}, "sort": ["_doc"]})
    return {hit["_id"]: (hit["_version"], hit["_source"]) for hit in answer["hits"]["hits"]}


def sources(cluster, index):
    """``{id: source}`` of every document of ``index``."""
    return {k: source for k, (_, source) in documents(cluster, index).items()}
