"""The JDBC sink: rows in PostgreSQL, MySQL/MariaDB or SQLite, exactly once (Confluent's and Debezium's
JDBC sink keys)."""

from sinks.jdbc.sink import JdbcSink

__all__ = ["JdbcSink"]
