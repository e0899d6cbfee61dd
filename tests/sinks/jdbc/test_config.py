"""The JDBC sink's keys: Confluent's names and defaults, Debezium's aliases, URLs, hidden passwords."""

import re

import pytest

from common.configdef import describe
from common.errors import ConfigError
from pipelines.config.connector import parse_connector_config
from sinks import find_sink
from sinks.jdbc import JdbcSink
from sinks.jdbc.config import CONFIG_DEF
from sinks.jdbc.urls import parse_url

SECRET = "pa55-w0rd!"


def parse(**raw):
    return JdbcSink().parse(CONFIG_DEF.parse({"connection.url": "jdbc:sqlite:x.db", **raw}))


def connector(**raw):
    return parse_connector_config({"name": "c", "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
                                   "topics": "orders", "connection.url": "jdbc:sqlite:x.db", **raw},
                                  bootstrap_servers="127.0.0.1:9092")


@pytest.mark.parametrize("name", ["jdbc", "io.confluent.connect.jdbc.JdbcSinkConnector",
                                  "io.debezium.connector.jdbc.JdbcSinkConnector"])
def test_every_class_name_finds_the_sink(name):
    assert isinstance(find_sink(name), JdbcSink)


def test_defaults_are_confluents():
    config = parse()

    assert (config.insert_mode, config.pk_mode, config.pk_fields, config.delete_enabled) == (
        "insert", "none", (), False)
    assert (config.table_format, config.auto_create, config.auto_evolve) == ("${topic}", False, False)
    assert (config.batch_size, config.max_retries, config.retry_backoff_ms) == (3000, 10, 3000)
    assert (config.attempts, config.backoff_ms, config.timezone) == (3, 10000, "UTC")
    assert JdbcSink().bundling(config).flush_size == 3000
    assert JdbcSink.commits_offsets is True


def test_pk_mode_kafka_names_confluents_columns():
    assert parse(**{"pk.mode": "kafka"}).pk_fields == ("__connect_topic", "__connect_partition",
                                                      "__connect_offset")


def test_debezium_keys_stand_for_confluents():
    config = parse(**{"primary.key.mode": "record_key", "primary.key.fields": "id",
                      "collection.name.format": "t_${topic}", "schema.evolution": "basic",
                      "connection.username": "u", "field.include.list": "a,b",
                      "connection.url": "jdbc:postgresql://h/db"})

    assert (config.pk_mode, config.pk_fields, config.table_format) == ("record_key", ("id",), "t_${topic}")
    assert config.auto_create and config.auto_evolve
    assert (config.target.user, config.fields) == ("u", ("a", "b"))
    assert config.table_name("orders") == "t_orders"


def test_conflicting_confluent_and_debezium_keys_raise():
    with pytest.raises(ConfigError, match=re.escape(
            "pk.mode='record_value' and primary.key.mode='record_key' conflict: set one of them")):
        parse(**{"pk.mode": "record_value", "primary.key.mode": "record_key"})


def test_delete_enabled_needs_pk_mode_record_key():
    with pytest.raises(ConfigError, match=re.escape(
            "delete.enabled=true needs pk.mode=record_key, got pk.mode='record_value'")):
        parse(**{"delete.enabled": "true", "pk.mode": "record_value"})


def test_upsert_needs_a_key():
    with pytest.raises(ConfigError, match=re.escape(
            "insert.mode=upsert needs a primary key: pk.mode must be kafka, record_key or "
            "record_value, got 'none'")):
        parse(**{"insert.mode": "upsert"})


@pytest.mark.parametrize("raw, message", [
    ({"insert.mode": "merge"}, "insert.mode must be one of 'insert', 'upsert', 'update', got 'merge'"),
    ({"pk.mode": "key"}, "pk.mode must be one of 'none', 'kafka', 'record_key', 'record_value', got 'key'"),
    ({"batch.size": "0"}, "batch.size must be at least 1, got '0'"),
    ({"quote.sql.identifiers": "never"}, "quote.sql.identifiers must be 'always', got 'never'"),
    ({"table.types": "VIEW"}, "table.types must be 'TABLE', got 'VIEW'"),
    ({"truncate.enabled": "true"}, "truncate.enabled must be false"),
    ({"db.timezone": "Mars/Olympus"}, "db.timezone must be an IANA time zone such as 'UTC', got 'Mars/Olympus'"),
    ({"table.name.format": "${topic}_${partition}"}, "table.name.format may only use ${topic}"),
    ({"pk.mode": "kafka", "pk.fields": "a,b"}, "pk.fields with pk.mode=kafka must name 3 columns"),
    ({"dialect.name": "PostgreSqlDatabaseDialect"}, "dialect.name='PostgreSqlDatabaseDialect' does not match"),
])
def test_bad_values_name_the_key_and_what_is_allowed(raw, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse(**raw)


def test_jdbc_postgres_url_with_parameters():
    target = parse_url("jdbc:postgresql://db1:5433/shop?sslmode=require&currentSchema=kafka"
                       "&ApplicationName=bc", "connect", SECRET)

    assert (target.dialect, target.host, target.port, target.database) == ("postgresql", "db1", 5433, "shop")
    assert target.schema == "kafka"
    assert target.connect_args == {"sslmode": "require", "application_name": "bc"}
    assert target.describe() == "postgresql database 'shop' at db1:5433 as user 'connect'"
    url = target.sqlalchemy_url()
    assert url.drivername == "postgresql+psycopg" and SECRET not in str(url)


@pytest.mark.parametrize("url, dialect, port", [
    ("jdbc:mysql://h/crm", "mysql", 3306), ("jdbc:mariadb://h:3307/crm?useSSL=false", "mysql", 3307),
    ("mysql+pymysql://u:pw@h/crm", "mysql", 3306), ("postgresql://h/crm", "postgresql", 5432),
])
def test_server_urls(url, dialect, port):
    target = parse_url(url)
    assert (target.dialect, target.port, target.database) == (dialect, port, "crm")


@pytest.mark.parametrize("url, path", [("jdbc:sqlite:/tmp/a.db", "/tmp/a.db"), ("jdbc:sqlite:a.db", "a.db"),
                                       ("sqlite:///a.db", "a.db"), ("jdbc:sqlite::memory:", ":memory:")])
def test_sqlite_urls(url, path):
    assert parse_url(url).database == path


def test_unsupported_urls_and_parameters():
    with pytest.raises(ConfigError, match=re.escape("connection.url must be a jdbc:postgresql://")):
        parse_url("jdbc:oracle:thin:@h:1521:x")
    with pytest.raises(ConfigError, match=re.escape("connection.url parameter 'foo' is not supported for "
                                                     "postgresql; supported: ")):
        parse_url("jdbc:postgresql://h/db?foo=1")


def test_the_password_is_never_shown():
    config = parse(**{"connection.url": "jdbc:postgresql://h/db", "connection.password": SECRET})
    assert SECRET not in repr(config) and SECRET not in repr(config.target)
    assert str.__str__(config.target.password) == SECRET
    from_url = parse_url("jdbc:postgresql://h/db?user=u&password=%s" % SECRET)
    assert str.__str__(from_url.password) == SECRET and SECRET not in repr(from_url)
    with pytest.raises(ConfigError) as caught:
        parse_url("jdbc:postgresql://u:%s@h/db?bad=1" % SECRET)
    assert SECRET not in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        parse_url("jdbc:postgres:nohost?password=%s" % SECRET)
    assert SECRET not in str(caught.value)
    rows = describe(CONFIG_DEF)
    assert [r["type"] for r in rows if r["name"] == "connection.password"] == ["password"]


def test_a_connector_config_validates_and_warns_of_keys_without_effect():
    config = connector(**{"connection.pool.max_size": "5", "insert.mode": "upsert", "pk.mode": "kafka"})

    assert isinstance(config.sink, JdbcSink)
    assert config.sink_config.insert_mode == "upsert"
    assert [w.split(" ", 1)[0] for w in config.warnings] == ["connection.pool.max_size"]
    with pytest.raises(ConfigError, match=re.escape("did you mean 'insert.mode'?")):
        connector(**{"insert.mod": "upsert"})


def test_without_the_extra_a_run_names_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    with pytest.raises(Exception, match=re.escape("install it with pip install 'beamconnect[jdbc]'")):
        JdbcSink().check(parse())
