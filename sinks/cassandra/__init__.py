"""The Cassandra sink: records as Cassandra rows, idempotent by write timestamps (see
:mod:`sinks.cassandra.sink`)."""

from sinks.cassandra.sink import CassandraSink

__all__ = ["CassandraSink"]
