"""The Cassandra sink: records as rows of Cassandra tables, with the DataStax connector's keys.

``connector.class=com.datastax.oss.kafka.sink.CassandraSinkConnector`` (also its older name
``com.datastax.kafkaconnector.DseSinkConnector``, or ``cassandra``) with the DataStax Apache Kafka
Connector's keys (:mod:`sinks.cassandra.config`): each record of a topic is written to the tables
``topic.<topic>.<keyspace>.<table>.mapping`` names, as the mapping says (:mod:`sinks.cassandra.mapping`),
with prepared statements executed concurrently (:mod:`sinks.cassandra.writer`).

Delivery: at least once, and idempotent, so replays leave the tables as one clean run would. Every
write carries ``USING TIMESTAMP`` from the record (its Kafka timestamp in microseconds, or the
mapped ``__timestamp``), deletes included (:mod:`sinks.cassandra.statements`): a replay of any range
(a rerun after a killed run, ``--from earliest``, a retry after a timeout) writes the same cells with
the same write times again, which changes nothing, and an older record, written late, never wins over
a newer one, since Cassandra keeps the cell with the greatest write time (on a tie, a delete, then
the greater value). Offsets are committed by the pipeline after the bundles are acknowledged at their
``consistencyLevel``; a failed or killed run commits nothing, and its rerun writes those records
again. Not replay-safe: a user ``query`` without ``USING TIMESTAMP`` bound from the record (it then
writes at the server's time), and records without a Kafka timestamp (the same).

:meth:`CassandraSink.check` connects with the configured login and reads every table's schema before
any record is read: refused credentials, a missing keyspace or table, a mapping naming a column the
table lacks or leaving out a primary key column, and a user query the cluster refuses are errors then.
"""

from __future__ import annotations

from typing import Any, Mapping

import apache_beam as beam

from common.errors import ConfigError
from sinks.base import Bundling, ConnectorContext, Sink, WriteContext
from sinks.cassandra.config import CONFIG_DEF, IGNORED_KEYS, KEY_PREFIXES, CassandraSinkConfig


class CassandraSink(Sink):
    """The DataStax Apache Kafka Connector's keys; prepared, timestamped writes per record."""

    config_def = CONFIG_DEF
    ignored_keys = IGNORED_KEYS
    key_prefixes = KEY_PREFIXES
    target_noun = "tables"

    def parse(self, values: Mapping[str, Any]) -> CassandraSinkConfig:
        raise ConfigError("the Cassandra sink needs the connector's settings (its topic.* keys): "
                          "build it with configure(values, connector)")

    def configure(self, values: Mapping[str, Any], connector: ConnectorContext) -> CassandraSinkConfig:
        return CassandraSinkConfig.from_values(values, connector)

    def check(self, config: CassandraSinkConfig) -> None:
        """Logs in, reads each table's schema, checks its mapping and prepares its statements."""
        from sinks.cassandra.connect import open_session
        from sinks.cassandra.statements import prepare

        cluster, session = open_session(config)
        try:
            for table in config.tables:
                prepare(session, table, config.codec(table.topic))
        finally:
            cluster.shutdown()

    def bundling(self, config: CassandraSinkConfig) -> Bundling:
        return Bundling(config.flush_size, close_caught_up=True)

    def write(self, config: CassandraSinkConfig, context: WriteContext) -> beam.PTransform:
        from sinks.cassandra.writer import WriteToCassandra

        return WriteToCassandra(config, context)
