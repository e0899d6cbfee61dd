"""The Cassandra sink's config, mapping language, value conversions and statements, without a cluster."""

import datetime
import decimal
import re
import uuid

import pytest

from common.errors import ConfigError
from pipelines.config.connector import parse_connector_config
from sinks.cassandra.codecs import CodecError, CodecSettings, encoder
from sinks.cassandra.config import to_micros, to_seconds
from sinks.cassandra.mapping import Field, TableSchema, check_columns, parse_mapping
from sinks.cassandra.statements import delete_cql, insert_cql, time_uuid

BASE = {"name": "c", "connector.class": "com.datastax.oss.kafka.sink.CassandraSinkConnector",
        "topics": "orders", "bootstrap.servers": "localhost:9092",
        "contactPoints": "10.0.0.1,db2", "loadBalancing.localDc": "dc1",
        "topic.orders.shop.orders_by_id.mapping": "id=key, total=value.total"}


def _config(**overrides):
    raw = {**BASE, **overrides}
    return parse_connector_config({k: v for k, v in raw.items() if v is not None})


def test_the_datastax_defaults_and_connector_names():
    for name in ("com.datastax.oss.kafka.sink.CassandraSinkConnector",
                 "com.datastax.kafkaconnector.DseSinkConnector", "cassandra"):
        config = _config(**{"connector.class": name}).sink_config
        assert config.contact_points == (("10.0.0.1", 9042), ("db2", 9042))
        assert (config.local_dc, config.request_timeout, config.max_concurrent_requests,
                config.max_batch_records, config.ignore_errors) == ("dc1", 30.0, 500, 32, "none")
        [table] = config.tables
        assert (table.topic, table.keyspace, table.table, table.consistency_level, table.ttl,
                table.ttl_unit, table.timestamp_unit, table.null_to_unset, table.deletes_enabled,
                table.query) == ("orders", "shop", "orders_by_id", "LOCAL_ONE", -1, "SECONDS",
                                 "MICROSECONDS", True, True, None)


def test_no_contact_points_means_localhost_and_contact_points_need_a_data_center():
    config = _config(contactPoints=None, **{"loadBalancing.localDc": None, "port": "9142"}).sink_config
    assert config.contact_points == (("127.0.0.1", 9142),)
    with pytest.raises(ConfigError, match=re.escape(
            "contactPoints='10.0.0.1:9042,db2:9042': when contact points are provided, "
            "loadBalancing.localDc must also be specified")):
        _config(**{"loadBalancing.localDc": None})


def test_the_java_drivers_contact_points_give_a_port_per_host_and_other_driver_keys_are_refused():
    config = _config(contactPoints=None, **{
        "datastax-java-driver.basic.contact-points": "h1:9043, h2:9044"}).sink_config
    assert config.contact_points == (("h1", 9043), ("h2", 9044))
    with pytest.raises(ConfigError, match=re.escape(
            "datastax-java-driver.advanced.heartbeat.interval configures DataStax's Java driver, "
            "which is not used here")):
        _config(**{"datastax-java-driver.advanced.heartbeat.interval": "30 seconds"})


def test_several_tables_per_topic_and_quoted_names():
    config = _config(topics="orders,my.events", **{
        "topic.orders.shop.orders_by_day.mapping": "day=value.day, id=key",
        "topic.orders.shop.orders_by_day.consistencyLevel": "local_quorum",
        "topic.orders.shop.orders_by_day.ttl": "2",
        "topic.orders.shop.orders_by_day.ttlTimeUnit": "HOURS",
        'topic.my.events."Shop"."Events".mapping': '"Id"=key, "value.Name"="value.a b"',
        "topic.my.events.codec.timeZone": "Europe/Paris",
    }).sink_config
    by_table = {t.name: t for t in config.tables}
    assert set(by_table) == {"shop.orders_by_id", "shop.orders_by_day", "Shop.Events"}
    assert by_table["shop.orders_by_day"].consistency_level == "LOCAL_QUORUM"
    assert by_table["shop.orders_by_day"].ttl_seconds == 7200
    events = by_table["Shop.Events"]
    assert events.topic == "my.events"
    assert events.mapping.columns == (("Id", Field("key", None, "key")),
                                      ("value.Name", Field("value", "a b", "value.a b")))
    assert config.codec("my.events").time_zone == "Europe/Paris"
    assert config.codec("orders") == CodecSettings()


@pytest.mark.parametrize("key, value, message", [
    ("topics", "orders,other", "topics='orders,other': missing topic settings "
                               "(topic.other.<keyspace>.<table>.mapping) for topic other"),
    ("topic.orders.shop.orders_by_id.consistencyLevel", "SERIAL",
     "topic.orders.shop.orders_by_id.consistencyLevel='SERIAL': a serial consistency level is for "
     "conditional updates"),
    ("topic.orders.shop.orders_by_id.consistencyLevel", "MOST",
     "topic.orders.shop.orders_by_id.consistencyLevel must be one of ANY, ONE"),
    ("topic.orders.shop.orders_by_id.ttl", "-2", "topic.orders.shop.orders_by_id.ttl must be at least -1"),
    ("topic.orders.shop.orders_by_id.ttlTimeUnit", "WEEKS",
     "topic.orders.shop.orders_by_id.ttlTimeUnit must be one of 'NANOSECONDS'"),
    ("topic.orders.shop.orders_by_id.query", "INSERT INTO shop.x (id) VALUES (:id)",
     "You cannot provide both topic.orders.shop.orders_by_id.query and "
     "topic.orders.shop.orders_by_id.deletesEnabled"),
    ("topic.orders.shop.orders_by_id.colour", "red",
     "topic.orders.shop.orders_by_id.colour matches neither topic.<topic>.<keyspace>.<table>.<setting>"),
    ("topic.orders.codec.timeZone", "Mars/Olympus", "topic.orders.codec.timeZone must be a time zone"),
    ("topic.orders.codec.timestamp", "yyyy-ww", "topic.orders.codec.timestamp='yyyy-ww': 'ww' is not "
                                                "supported in patterns here"),
    ("auth.password", "s3cret", "auth.password was specified without auth.username"),
    ("auth.provider", "GSSAPI", "auth.provider='GSSAPI' is not supported"),
    ("cloud.secureConnectBundle", "/b.zip", "cloud.secureConnectBundle='/b.zip' is not supported"),
    ("ssl.truststore.path", "/ca.pem", "ssl.truststore.path is set but ssl.provider is 'None'"),
    ("compression", "LZ4", "compression='LZ4' needs the lz4 package: pip install lz4"),
    ("ignoreErrors", "Some", "ignoreErrors must be one of 'None', 'All', 'Driver'"),
])
def test_invalid_settings_name_the_key_and_value(key, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _config(**{key: value})


def test_a_ttl_mapped_and_set_is_a_conflict_and_the_table_keys_need_a_mapping():
    with pytest.raises(ConfigError, match=re.escape(
            "topic.orders.shop.orders_by_id.mapping maps __ttl and "
            "topic.orders.shop.orders_by_id.ttl=5 is set too")):
        _config(**{"topic.orders.shop.orders_by_id.mapping": "id=key, __ttl=value.ttl",
                   "topic.orders.shop.orders_by_id.ttl": "5"})
    with pytest.raises(ConfigError, match=re.escape("topic.orders.shop.other.mapping is required")):
        _config(**{"topic.orders.shop.other.ttl": "5"})


def test_java_key_stores_are_refused_and_the_password_never_shows(tmp_path):
    store = tmp_path / "store.jks"
    store.write_bytes(b"\xfe\xed\xfe\xed binary")
    with pytest.raises(ConfigError, match=re.escape("ssl.truststore.path=%r is not a PEM file (a Java "
                                                    "key store?" % str(store))):
        _config(**{"ssl.provider": "JDK", "ssl.truststore.path": str(store)})
    with pytest.raises(ConfigError) as raised:
        _config(**{"ssl.provider": "JDK", "ssl.keystore.password": "store-secret"})
    assert "ssl.keystore.password=[hidden]: Java key stores cannot be read here" in str(raised.value)
    assert "store-secret" not in str(raised.value)
    config = _config(**{"auth.username": "writer", "auth.password": "db-secret"}).sink_config
    assert "db-secret" not in repr(config) and "db-secret" not in config.describe()


def test_ignored_keys_warn_and_ignore_errors_takes_the_deprecated_booleans():
    config = _config(jmx="false", connectionPoolLocalSize="8", ignoreErrors="true")
    assert config.sink_config.ignore_errors == "driver"
    assert any(w.startswith("jmx is accepted but has no effect here") for w in config.warnings)


@pytest.mark.parametrize("text, message", [
    ("a=value.*", "wildcards are not part of the DataStax connector's mapping language"),
    ("a=value.x, a=key", "Mapping already defined for column 'a'"),
    ("a=f1", "Invalid field name 'f1': field names in mapping must be 'key', 'value', or start with"),
    ("a=value.x b=key", "could not be parsed at line 1:11: expected ',' or the end, found '='"),
    ("a value.x", "could not be parsed at line 1:2: expected '=', found 'value'"),
    ("a=uuid()", "Invalid field name 'uuid()'"),
    ("__timestamp=now()", "__timestamp must be mapped from a field, not now()"),
    ("", "must map at least one column"),
])
def test_mapping_errors(text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_mapping(text, "topic.t.k.tb.mapping")


def test_every_mapping_form():
    mapping = parse_mapping('id = key, "Name"=value.name, v=value, k2=key.part, nested=value.a.b, '
                            'h=header.trace_id, u=now(), __ttl=value.ttl, __timestamp=value.ts, '
                            'self=value.__self, "__ttl"=value.x', "m")
    assert mapping.columns == (
        ("id", Field("key", None, "key")), ("Name", Field("value", "name", "value.name")),
        ("v", Field("value", None, "value")), ("k2", Field("key", "part", "key.part")),
        ("nested", Field("value", "a.b", "value.a.b")), ("h", Field("header", "trace_id", "header.trace_id")),
        ("u", Field("function", "now()", "now()")), ("self", Field("value", None, "value.__self")),
        ("__ttl", Field("value", "x", "value.x")))  # a quoted __ttl is a column
    assert mapping.ttl == Field("value", "ttl", "value.ttl")
    assert mapping.timestamp == Field("value", "ts", "value.ts")


def test_a_mapping_is_checked_against_the_tables_schema():
    schema = TableSchema({"id": "text", "day": "date", "total": "int", "Note": "text"}, ("id",), ("day",))
    assert check_columns(parse_mapping("id=key, day=value.day, total=value.t, Note=value.n", "m"),
                         schema, "m", "shop.t") is True
    assert check_columns(parse_mapping("id=key, day=value.day", "m"), schema, "m", "shop.t") is False
    with pytest.raises(ConfigError, match=re.escape(
            "m='id=key, day=value.day, colour=value.c, note=value.n': the following columns do not exist "
            "in table shop.t: colour, note (the table has Note; column names are case-sensitive)")):
        check_columns(parse_mapping("id=key, day=value.day, colour=value.c, note=value.n", "m"),
                      schema, "m", "shop.t")
    with pytest.raises(ConfigError, match=re.escape(
            "the following columns are part of the primary key but are not mapped: day")):
        check_columns(parse_mapping("id=key", "m"), schema, "m", "shop.t")
    with pytest.raises(ConfigError, match=re.escape("table shop.c holds counters")):
        check_columns(parse_mapping("id=key", "m"), TableSchema({"id": "text", "n": "counter"}, ("id",)),
                      "m", "shop.c")


def test_statements_carry_the_record_timestamp_and_the_ttl():
    config = _config(**{"topic.orders.shop.orders_by_id.mapping": "id=key, total=value.total, "
                                                                  "__ttl=value.ttl"}).sink_config
    assert insert_cql(config.tables[0]) == ('INSERT INTO "shop"."orders_by_id" ("id", "total") VALUES '
                                            '(?, ?) USING TIMESTAMP ? AND TTL ?')
    config = _config(**{"topic.orders.shop.orders_by_id.ttl": "3",
                        "topic.orders.shop.orders_by_id.ttlTimeUnit": "MINUTES"}).sink_config
    assert insert_cql(config.tables[0]).endswith("USING TIMESTAMP ? AND TTL 180")
    schema = TableSchema({"id": "text", "day": "date", "total": "int"}, ("id",), ("day",))
    assert delete_cql(config.tables[0], schema) == (
        'DELETE FROM "shop"."orders_by_id" USING TIMESTAMP ? WHERE "id" = ? AND "day" = ?')
    assert (to_micros(1_700_000_000_123, "MILLISECONDS"), to_micros(5, "SECONDS"),
            to_micros(1999, "NANOSECONDS"), to_seconds(90_000, "MILLISECONDS"),
            to_seconds(2, "DAYS")) == (1_700_000_000_123_000, 5_000_000, 1, 90, 172_800)


def test_now_is_a_time_uuid_of_the_record_stable_across_replays():
    first = time_uuid(1_700_000_000_000, "orders", 0, 7)
    assert first == time_uuid(1_700_000_000_000, "orders", 0, 7)
    assert first != time_uuid(1_700_000_000_000, "orders", 0, 8)
    assert first.version == 1
    assert 1_700_000_000_000 <= (first.time - 0x01B21DD213814000) // 10_000 < 1_700_000_000_001


class _Type:
    def __init__(self, typename, subtypes=(), fieldnames=()):
        self.typename, self.subtypes, self.fieldnames = typename, subtypes, fieldnames


def test_values_are_converted_to_the_columns_types():
    settings = CodecSettings()
    paris = CodecSettings(time_zone="Europe/Paris", timestamp="yyyy-MM-dd HH:mm:ss")
    assert encoder(_Type("int"), settings)("42") == 42
    assert encoder(_Type("bigint"), settings)(3.0) == 3
    assert encoder(_Type("double"), settings)("1.5") == 1.5
    assert encoder(_Type("decimal"), settings)(0.1) == decimal.Decimal("0.1")
    assert encoder(_Type("text"), settings)({"a": [1, True]}) == '{"a":[1,true]}'
    assert encoder(_Type("text"), settings)(12) == "12"
    assert encoder(_Type("boolean"), settings)("TRUE") is True
    assert encoder(_Type("blob"), settings)("aGk=") == b"hi"
    assert encoder(_Type("uuid"), settings)("0d4b3cc2-5f6e-4a33-9d6c-6fb8d4fb5a68") == uuid.UUID(
        "0d4b3cc2-5f6e-4a33-9d6c-6fb8d4fb5a68")
    utc = datetime.timezone.utc
    assert encoder(_Type("timestamp"), settings)(1_700_000_000_000) == datetime.datetime(
        2023, 11, 14, 22, 13, 20, tzinfo=utc)
    assert encoder(_Type("timestamp"), settings)("2018-11-26T19:26:27.483Z") == datetime.datetime(
        2018, 11, 26, 19, 26, 27, 483000, tzinfo=utc)
    assert encoder(_Type("timestamp"), paris)("2024-07-01 12:00:00").astimezone(utc) == \
        datetime.datetime(2024, 7, 1, 10, 0, tzinfo=utc)
    assert encoder(_Type("date"), settings)("2024-02-29") == datetime.date(2024, 2, 29)
    assert encoder(_Type("time"), settings)("12:30:01.5") == datetime.time(12, 30, 1, 500000)
    assert encoder(_Type("list", (_Type("int"),)), settings)('[1, "2"]') == [1, 2]
    assert encoder(_Type("map", (_Type("text"), _Type("int"))), settings)({"a": "1"}) == {"a": 1}
    address = _Type("org.apache.cassandra.db.marshal.UserType", (_Type("text"), _Type("int")),
                    ("street", "number"))
    assert encoder(address, settings)({"number": "4", "street": "Yawkey Way"}) == ("Yawkey Way", 4)
    for cql_type, value, message in (
            (_Type("int"), "abc", "'abc' cannot be written to a int column: not a number"),
            (_Type("tinyint"), 300, "300 cannot be written to a tinyint column: out of range"),
            (_Type("timeuuid"), str(uuid.uuid4()), "not a time-based (version 1) UUID"),
            (address, {"floor": 1}, "the user-defined type has no field 'floor'")):
        with pytest.raises(CodecError, match=re.escape(message)):
            encoder(cql_type, settings)(value)
