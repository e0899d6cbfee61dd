"""The MongoDB sink family: Kafka records as documents, with the official MongoDB Kafka sink connector's
keys and write semantics (``com.mongodb.kafka.connect.MongoSinkConnector``).

Delivery: at least once into MongoDB, made effectively once by the id strategy. MongoDB writes are
not transactional with Kafka offsets: each bundle is written with bulk writes and the group's offsets
are committed after the run, so a run that fails or is killed is read again from the last committed
offsets, and what a replay does depends on ``document.id.strategy`` (see :mod:`sinks.mongodb.ids`):

- ``KafkaMetaData``, ``FullKey``, ``PartialKey``, ``PartialValue``, ``ProvidedInKey``,
  ``ProvidedInValue`` (and their ``UuidProvidedIn*`` forms): a record always gets the same ``_id``, so
  a replay lands on the same document. With the ``_id``-filtered write models (``ReplaceOneDefault``,
  the default, ``UpdateOneDefault``, ``UpdateOneTimestamps``, ``DeleteOneDefault``) and
  ``offsets.field`` on (the default), every write is conditional on the source offset the document
  holds: a replay rewrites nothing, and bundles applied out of order (a distributed runner) leave the
  newest document, so the collection ends as one clean run leaves it: **exactly-once results**.
  ``InsertOne`` skips a replayed record (its ``_id`` is there with its own coordinates) and refuses a
  different record with that ``_id``. The business-key models (``ReplaceOneBusinessKey``,
  ``UpdateOneBusinessKeyTimestamp``) filter by other fields and stay unconditional: a replay of a
  range applies the same records in the same order again (the same result), but records of one key
  applied out of order leave the last applied.
- ``BsonOid`` (the official default) and ``Uuid``: every write makes a new ``_id``, so a replay writes
  every record again as a new document (**at least once, duplicates on replay**); the config is
  accepted, as in Kafka Connect, with a warning. Within one run, the ids of a bundle are drawn once, so
  retries of that bundle (a server away, refused documents set aside) do not duplicate.

With ``offsets.field=`` (empty) the writes are the official connector's, unconditional: replays of
the key-based strategies still converge (the last write of each key wins), out-of-order bundles may
not. Tombstones delete (``delete.on.null.values``, with a key-based id strategy) only a document that
does not hold a newer record; a replay of an older record after its key's tombstone recreates the
document until the tombstone is replayed too.

Where FerretDB (the MongoDB-compatible server the tests run on) differs from MongoDB, the sink keeps
to MongoDB's documented behaviour and the suite's FerretDB is patched (see ``tests/servers/
ferretdb.py``): FerretDB 1.24 reports a failing ``update`` statement at index 0 without ``n`` and
``nModified`` (which pymongo cannot read), hangs on long bulks of replacements, scans a collection for
``_id`` lookups on SQLite, and drops the connection on Decimal128 values (Connect decimals); it has no
time series collections (``timeseries.*`` is refused by the server when the collection is made) and
no transactions, which the sink does not use.
"""

from __future__ import annotations

from typing import Any, Mapping

import apache_beam as beam

from common.errors import ConfigError
from sinks.base import Bundling, ConnectorContext, Sink, WriteContext
from sinks.mongodb.config import CONFIG_DEF, IGNORED_KEYS, OVERRIDE_PREFIX, MongoSinkConfig
from sinks.mongodb.namespace import DefaultNamespaceMapper


class MongoSink(Sink):
    """``connector.class=com.mongodb.kafka.connect.MongoSinkConnector``: bulk writes per collection."""

    config_def = CONFIG_DEF
    ignored_keys = IGNORED_KEYS
    key_prefixes = (OVERRIDE_PREFIX,)
    target_noun = "collections"

    def parse(self, values: Mapping[str, Any]) -> MongoSinkConfig:
        raise ConfigError("the MongoDB sink needs the connector's topics and topic.override.* keys: "
                          "build it with configure(values, connector)")

    def configure(self, values: Mapping[str, Any], connector: ConnectorContext) -> MongoSinkConfig:
        return MongoSinkConfig.from_values(values, connector)

    def check(self, config: MongoSinkConfig) -> None:
        """Reaches the server with ``connection.uri``'s credentials (a refusal names the hosts, never
        the password) and makes the time series collections of fixed names that are missing."""
        from sinks.mongodb.writer import call_mongo, ensure_timeseries

        client = config.client()
        try:
            window = client.options.server_selection_timeout
            call_mongo(lambda: client.admin.command("ping"), "connecting", config, window)
            for topic_config in (config.base, *config.overrides.values()):
                mapper = topic_config.namespace
                if topic_config.timeseries is None or type(mapper) is not DefaultNamespaceMapper:
                    continue
                names = [mapper.collection] if mapper.collection else [
                    t for t in config.topics if config.topic(t) is topic_config]
                for name in names:
                    call_mongo(lambda: ensure_timeseries(client, mapper.database, name,
                                                         topic_config.timeseries),
                               "making the time series collection %s.%s" % (mapper.database, name),
                               config, window)
        finally:
            client.close()

    def bundling(self, config: MongoSinkConfig) -> Bundling:
        return Bundling(config.flush_size, close_caught_up=True)

    def write(self, config: MongoSinkConfig, context: WriteContext) -> beam.PTransform:
        from sinks.mongodb.writer import WriteToMongoDB

        return WriteToMongoDB(config, context)
