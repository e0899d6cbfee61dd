"""The JDBC sink family: Kafka records as table rows in PostgreSQL, MySQL/MariaDB or SQLite.

Delivery: exactly once, in every insert mode, through the offsets table ``__beamconnect_offsets`` that
each bundle's transaction updates with its rows (see :mod:`sinks.jdbc.writer`); the sink therefore
commits its own offsets (``commits_offsets``) and the planner starts each partition where its table's
ranges end (:meth:`JdbcSink.stored_offsets`).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import apache_beam as beam

from sinks.base import Bundling, Sink, WriteContext
from sinks.jdbc.config import CONFIG_DEF, IGNORED_KEYS, JdbcSinkConfig


class JdbcSink(Sink):
    """Confluent's and Debezium's JDBC sink keys; one transaction per bundle and table."""

    config_def = CONFIG_DEF
    ignored_keys = IGNORED_KEYS
    commits_offsets = True
    target_noun = "tables"

    def parse(self, values: Mapping[str, Any]) -> JdbcSinkConfig:
        return JdbcSinkConfig.from_values(values)

    def check(self, config: JdbcSinkConfig) -> None:
        """Connects (within connection.attempts) and makes the offsets table if it is missing."""
        from sinks.jdbc.connect import Connector
        from sinks.jdbc.tables import Tables

        connector = Connector(config)
        try:
            connector.transaction(lambda cursor: cursor.execute("SELECT 1"), "connecting")
            Tables(connector.engine, connector.dialect, config).ensure_offsets()
        finally:
            connector.close()

    def offsets_location(self, config: JdbcSinkConfig) -> str:
        from sinks.jdbc.dialects import OFFSETS_TABLE

        return "the table %s of %s" % (OFFSETS_TABLE, config.target.describe())

    def stored_offsets(self, config: JdbcSinkConfig, partitions: Sequence[tuple]) -> Mapping[tuple, int]:
        from sinks.jdbc.writer import stored_offsets

        return stored_offsets(config, partitions)

    def bundling(self, config: JdbcSinkConfig) -> Bundling:
        return Bundling(config.batch_size, close_caught_up=True)

    def write(self, config: JdbcSinkConfig, context: WriteContext) -> beam.PTransform:
        from sinks.jdbc.writer import WriteToJdbc

        return WriteToJdbc(config, context)
