"""Session fixture ``mongo``: a real MongoDB-compatible server, started when a test asks; and what the
MongoDB sink's tests share (configs, bundles made from JSON, the write step run in-process).

The server is the suite's own FerretDB (:class:`~tests.servers.ferretdb.LocalFerretDB`: FerretDB 1.24
built from its Go module, SQLite backend, in a temporary directory, stopped with the session). Set
``MONGODB_URI`` (a connection string a pymongo client takes, with any credentials it needs) to run
every test against that server instead (a real MongoDB); the tests that stop and restart the server
or need a server with password users then start FerretDB servers of their own. Tests write to
collections named after their new topics in the database :data:`DATABASE`.
"""

import json
import os
import uuid
from typing import Optional

import pytest

from sinks.base import ConnectorContext, Mode, WriteContext
from sinks.mongodb.config import CONFIG_DEF
from sinks.mongodb.sink import MongoSink
from sinks.mongodb.writer import _MongoWriteFn
from tests.servers.ferretdb import LocalFerretDB
from transforms.converters import make_converter
from transforms.errors import ErrorPolicy, FailureRouter
from transforms.records import KafkaBundle

MONGODB_URI_VARIABLE = "MONGODB_URI"
DATABASE = "beamconnect_test"
CONNECTOR_CLASS = "com.mongodb.kafka.connect.MongoSinkConnector"


class Mongo:
    """A server the tests write to and read back from with pymongo.

    Args:
      uri: Its connection string.
      local: The launcher when the server is this session's own (it can be paused and resumed).
    """

    def __init__(self, uri: str, local: Optional[LocalFerretDB] = None):
        import pymongo

        self.uri = uri
        self.local = local
        self.client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=10000)

    def collection(self, name: str, database: str = DATABASE):
        return self.client[database][name]

    def documents(self, name: str, database: str = DATABASE, projection=None) -> list:
        """Every document of ``database.name``, in ``_id`` order where the ids compare."""
        found = list(self.collection(name, database).find({}, projection))
        try:
            return sorted(found, key=lambda d: d["_id"])
        except TypeError:
            return found


@pytest.fixture(scope="session")
def mongo():
    """The server ``MONGODB_URI`` names, or a local FerretDB of this session."""
    uri = os.environ.get(MONGODB_URI_VARIABLE)
    if uri:
        server = Mongo(uri)
        server.client.admin.command("ping")
        yield server
        return
    local = LocalFerretDB().start()
    try:
        yield Mongo(local.uri, local)
    finally:
        local.stop()


def topic_name(prefix: str = "t") -> str:
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def raw_config(uri: str, topics: str, **overrides) -> dict:
    """The raw keys of a connector of this sink: schemaless JSON keys and values, ``DATABASE``."""
    return {"name": "mongo-" + uuid.uuid4().hex[:8], "connector.class": CONNECTOR_CLASS,
            "topics": topics, "connection.uri": uri, "database": DATABASE,
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "false",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false", **overrides}


def config(uri: str, topics: str, **overrides):
    """The sink's parsed config (only the sink's keys are read), as the connector config makes it."""
    raw = raw_config(uri, topics, **overrides)
    context = ConnectorContext(name=raw["name"], topics=tuple(topics.split(",")),
                               sink_keys={k: v for k, v in raw.items()
                                          if k.startswith(MongoSink.key_prefixes)})
    return MongoSink().configure(CONFIG_DEF.parse(raw), context)


def bundle(topic, records, *, partition=0, start=0, value_schema=None, key_string=False,
           target=None):
    """A converted bundle of ``records``: (key, value) pairs of Python values, offsets from ``start``.

    Values are JSON (with ``value_schema``: Connect JSON with that schema; else schemaless; a value of
    bytes is taken as it is); keys are schemaless JSON, or strings with ``key_string``. ``target``:
    every record's topic after the transforms.
    """
    def encode(value, schema=None):
        if value is None or isinstance(value, bytes):
            return value
        if schema is not None:
            return json.dumps({"schema": schema, "payload": value}).encode()
        return json.dumps(value).encode()

    keys = [k.encode() if key_string and k is not None else encode(k) for k, _ in records]
    values = [encode(v, value_schema) for _, v in records]
    offsets = list(range(start, start + len(records)))
    raw = KafkaBundle(topic, partition, start, offsets, [1700000000000 + o for o in offsets],
                      [1] * len(offsets), keys, values, [None] * len(offsets))
    key_converter = make_converter("key.converter", "StringConverter" if key_string else "JsonConverter",
                                   {} if key_string else {"schemas.enable": "false"})
    value_converter = make_converter("value.converter", "JsonConverter",
                                     {} if value_schema else {"schemas.enable": "false"})
    from transforms.convert import _ConvertFn

    fn = _ConvertFn(key_converter, value_converter, "k", "v", FailureRouter(ErrorPolicy(), None))
    fn.setup()
    (converted,) = list(fn.process(raw))
    if target is not None:
        converted.topics = [target] * len(converted)
    return converted


def write(sink_config, *bundles, tolerance="all"):
    """Runs the sink's write DoFn over ``bundles`` (no router: refused records come back in each
    result's ``failed``); returns the WriteResults."""
    context = WriteContext(Mode.BATCH, (), ErrorPolicy(tolerance=tolerance), CONNECTOR_CLASS)
    fn = _MongoWriteFn(sink_config, context)
    fn.setup()
    try:
        return [r for b in bundles for r in fn.process(b)]
    finally:
        fn.teardown()
