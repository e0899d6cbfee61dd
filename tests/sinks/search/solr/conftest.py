"""Fixtures of the Solr sink's tests: a real Solr node, a new core per test, bundles and the writer.

``solr`` is a :class:`~tests.servers.solr.Solr`: the suite's own node (Solr 9 standalone with basic
auth, :class:`~tests.servers.solr.LocalSolr`, started on first use and stopped with the session), or
the one ``BEAMCONNECT_SOLR_URL`` names (``http://USER:PASSWORD@HOST:PORT/solr``: a standalone node
with basic auth for that user and the suite's configsets, see :mod:`tests.servers.solr`). Each test
makes its own cores, named uniquely.
"""

import os
import uuid

import pytest

from sinks.base import ConnectorContext, Mode, WriteContext
from sinks.search.solr.config import CONFIG_DEF, SolrSinkConfig
from sinks.search.solr.writer import SolrWriteFn
from tests.servers.solr import CONFIGSET, LocalSolr, Solr
from transforms.converters import make_converter
from transforms.errors import ErrorPolicy
from transforms.records import ConvertedBundle, KafkaBundle

URL_VARIABLE = "BEAMCONNECT_SOLR_URL"


@pytest.fixture(scope="session")
def solr():
    """A Solr node: the one ``BEAMCONNECT_SOLR_URL`` names, else the suite's own."""
    url = os.environ.get(URL_VARIABLE)
    if url:
        node = Solr.from_url(url, URL_VARIABLE)
        node.request("GET", "admin/info/system")  # fail early, and clearly, when it cannot be used
        yield node
        return
    server = LocalSolr().start(timeout=180)
    try:
        yield server.solr
    finally:
        server.stop()


def unique(prefix="t"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


@pytest.fixture
def new_core(solr):
    """Makes new cores (``new_core(configset=CONFIGSET) -> name``), named like topics; on a node
    ``BEAMCONNECT_SOLR_URL`` names they are unloaded, with their data, after the test."""
    made = []

    def make(configset=CONFIGSET):
        name = unique("c")
        solr.create_core(name, configset)
        made.append(name)
        return name

    yield make
    if solr.server is None:
        for name in made:
            solr.unload_core(name)


@pytest.fixture
def core(new_core):
    """A new core of the suite's configset."""
    return new_core()


def sink_config(solr, core=None, **keys):
    """The sink's config for ``core`` (or Solr's base URL), logged in, with ``keys`` over the defaults."""
    raw = {"solr.url": solr.core_url(core) if core else solr.url, "solr.username": solr.username,
           "solr.password": solr.password, **keys}
    return SolrSinkConfig.from_values(CONFIG_DEF.parse(raw), ConnectorContext(name="solr-test"))


def bundle(topic, records, *, partition=0, start=0, topics=None):
    """A converted bundle of ``records`` (``(key, value)``: a string key or None, a schemaless JSON
    value as text or None), offsets from ``start``."""
    keys = [None if k is None else k.encode() for k, _ in records]
    values = [None if v is None else v.encode() for _, v in records]
    offsets = list(range(start, start + len(records)))
    raw = KafkaBundle(topic, partition, start, offsets, [1_700_000_000_000 + o for o in offsets],
                      [1] * len(offsets), keys, values, [None] * len(offsets))
    key_conversion = make_converter("key.converter", "StringConverter", {}).convert(keys)
    value_conversion = make_converter("value.converter", "JsonConverter",
                                      {"schemas.enable": "false"}).convert(values)
    assert not key_conversion.failures and not value_conversion.failures
    return ConvertedBundle(topic, partition, start, offsets, raw.timestamps, key_conversion.values,
                           value_conversion.values, [None] * len(offsets), topics=topics, raw=raw,
                           rows=list(range(len(offsets))))


def write(config, *bundles, tolerance="all"):
    """Runs the sink's write DoFn over ``bundles`` in order (without a dead-letter path: rejected
    records come back in ``WriteResult.failed``); returns the WriteResults."""
    fn = SolrWriteFn(config, WriteContext(Mode.BATCH, errors=ErrorPolicy(tolerance=tolerance),
                                          connector_class="solr"))
    fn.setup()
    try:
        return [result for b in bundles for result in fn.process(b)]
    finally:
        fn.teardown()
