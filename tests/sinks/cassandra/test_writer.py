"""The Cassandra sink's write DoFn against a real node, with bundles made by hand (no Kafka, no CLI)."""

import pyarrow as pa
import pytest

from common.errors import RejectedRecord
from pipelines.config.connector import parse_connector_config
from sinks.base import Mode, WriteContext
from sinks.cassandra.writer import _CassandraWriteFn
from tests.sinks.cassandra.conftest import KEYSPACE, create_table, rows
from transforms.errors import ErrorPolicy
from transforms.records import ConvertedBundle
from transforms.schema import connect_field

T0 = 1_700_000_000_000


def _config(cassandra, table, mapping, table_settings=(), **settings):
    """A config writing topic ``orders`` to ``table``: ``table_settings`` are its
    ``topic.orders.<ks>.<table>.*`` settings, ``settings`` the connector's."""
    prefix = "topic.orders.%s.%s." % (KEYSPACE, table)
    raw = {"name": "c", "connector.class": "cassandra", "topics": "orders", "bootstrap.servers": "h:1",
           "contactPoints": cassandra.host, "port": str(cassandra.port),
           "loadBalancing.localDc": cassandra.local_dc, "auth.username": cassandra.user,
           "auth.password": cassandra.password, prefix + "mapping": mapping}
    raw.update({prefix + k: v for k, v in dict(table_settings).items()})
    raw.update(settings)
    return parse_connector_config(raw).sink_config


def _writer(config, tolerance="none"):
    writer = _CassandraWriteFn(config, WriteContext(Mode.BATCH, errors=ErrorPolicy(tolerance=tolerance)))
    writer.setup()
    return writer


def _bundle(start, records, value_schema=None):
    """records: ``(key, value dict or None, timestamp)``."""
    values = [v for _, v, _ in records]
    return ConvertedBundle("orders", 0, start, list(range(start, start + len(records))),
                           [t for _, _, t in records], pa.array([k for k, _, _ in records]),
                           pa.array(values, value_schema.type if value_schema is not None else None),
                           [None] * len(records), value_schema=value_schema)


def _cells(cql, table):
    return {r[0]: (r[1], r[2]) for r in cql.execute(
        "SELECT id, name, writetime(name) FROM %s.%s" % (KEYSPACE, table))}


def test_two_bundles_written_in_reverse_order_leave_the_newest(cassandra, cql):
    table = create_table(cql, ["id text", "name text"], "id")
    writer = _writer(_config(cassandra, table, "id=key, name=value.name"))
    try:
        older = _bundle(0, [("a", {"name": "old"}, T0), ("b", {"name": "old"}, T0 + 1)])
        newer = _bundle(2, [("a", {"name": "new"}, T0 + 2), ("b", None, T0 + 3)])
        assert writer.write_bundle(newer).records == 2
        assert writer.write_bundle(older).records == 2  # late, and older: changes nothing
        assert _cells(cql, table) == {"a": ("new", (T0 + 2) * 1000)}
        writer.write_bundle(newer)
        writer.write_bundle(older)
        assert _cells(cql, table) == {"a": ("new", (T0 + 2) * 1000)}
    finally:
        writer.teardown()


def test_records_of_one_partition_are_batched_and_a_refused_one_is_found(cassandra, cql):
    table = create_table(cql, ["region text", "id text", "name text"], "region, id")
    writer = _writer(_config(cassandra, table, "region=value.region, id=key, name=value.name"),
                     tolerance="all")
    try:
        records = [("k%02d" % i, {"region": "eu", "name": "n%d" % i}, T0 + i) for i in range(40)]
        records[17] = ("x" * 70_000, {"region": "eu", "name": "n17"}, T0 + 17)  # a clustering key too long
        with pytest.raises(RejectedRecord) as raised:
            writer.write_records(_bundle(0, records))
        assert raised.value.offsets == (17,)
        assert ("Cassandra refused the write to %s.%s: InvalidRequest" % (KEYSPACE, table)
                in str(raised.value))
        assert len(rows(cql, table)) == 39  # the batches without it landed
        times = {r.id: r.wt for r in cql.execute("SELECT id, writetime(name) AS wt FROM %s.%s"
                                                 % (KEYSPACE, table))}
        assert times["k05"] == (T0 + 5) * 1000  # each statement of a batch keeps its own timestamp
        result = writer.write_bundle(_bundle(0, records))
        assert result.records == 39
        assert [f.offset for f in result.failed] == [17]
    finally:
        writer.teardown()


def test_ignore_errors_skips_records_that_errors_tolerance_none_would_stop_on(cassandra, cql):
    table = create_table(cql, ["id text", "qty int"], "id")
    records = [("a", {"qty": 1}, T0), ("b", {"qty": 3_000_000_000}, T0 + 1), ("c", {"qty": 3}, T0 + 2)]
    writer = _writer(_config(cassandra, table, "id=key, qty=value.qty", ignoreErrors="All"))
    try:
        result = writer.write_bundle(_bundle(0, records))
        assert (result.records, result.failed) == (2, ())
        assert rows(cql, table) == [{"id": "a", "qty": 1}, {"id": "c", "qty": 3}]
    finally:
        writer.teardown()
    writer = _writer(_config(cassandra, table, "id=key, qty=value.qty", ignoreErrors="Driver"))
    try:  # a value the mapping cannot convert is not the driver's: it still stops the run
        with pytest.raises(RejectedRecord, match="3000000000 cannot be written to a int column"):
            writer.write_records(_bundle(0, records))
    finally:
        writer.teardown()


def test_null_to_unset_false_writes_nulls_and_schemaful_values_need_their_fields(cassandra, cql):
    table = create_table(cql, ["id text", "name text", "qty int"], "id")
    config = _config(cassandra, table, "id=key, name=value.name, qty=value.qty",
                     {"nullToUnset": "false", "deletesEnabled": "false"})
    writer = _writer(config)
    try:
        writer.write_bundle(_bundle(0, [("a", {"name": "x", "qty": 1}, T0)]))
        writer.write_bundle(_bundle(1, [("a", {"name": None, "qty": 2}, T0 + 1)]))
        assert rows(cql, table) == [{"id": "a", "name": None, "qty": 2}]
        schema = connect_field("value", pa.struct([pa.field("name", pa.string())]), True)
        with pytest.raises(RejectedRecord, match="Required field 'value.qty' \\(mapped to column \"qty\"\\) "
                                                 "was missing from record"):
            writer.write_records(_bundle(2, [("b", {"name": "y"}, T0 + 2)], value_schema=schema))
    finally:
        writer.teardown()


def test_a_primary_key_mapped_to_null_is_rejected_with_the_column(cassandra, cql):
    table = create_table(cql, ["id text", "day text", "name text"], "id, day")
    writer = _writer(_config(cassandra, table, "id=key, day=value.day, name=value.name"),
                     tolerance="all")
    try:
        result = writer.write_bundle(_bundle(0, [("a", {"day": None, "name": "x"}, T0),
                                                 ("b", {"day": "mon", "name": "y"}, T0 + 1)]))
        assert result.records == 1
        [failed] = result.failed
        assert failed.offset == 0 and 'Primary key column "day" cannot be mapped to null' in failed.reason
        assert rows(cql, table) == [{"id": "b", "day": "mon", "name": "y"}]
    finally:
        writer.teardown()


def test_a_user_query_binds_its_markers_and_the_mapped_write_timestamp(cassandra, cql):
    import datetime

    from common.errors import ConfigError

    table = create_table(cql, ["id text", "name text"], "id")
    query = ("INSERT INTO %s.%s (id, name) VALUES (:id, :name) USING TIMESTAMP "
             ":message_internal_timestamp" % (KEYSPACE, table))
    settings = {"query": query, "deletesEnabled": "false", "timestampTimeUnit": "MILLISECONDS"}
    writer = _writer(_config(cassandra, table, "id=key, name=value.name, __timestamp=value.at", settings))
    try:
        at = datetime.datetime(2021, 1, 1, tzinfo=datetime.timezone.utc)
        writer.write_bundle(_bundle(0, [("a", {"name": "x", "at": 1_600_000_000_000}, T0)]))
        writer.write_bundle(_bundle(1, [("b", {"name": "y", "at": at}, T0)]))  # a Connect Timestamp
        assert _cells(cql, table) == {"a": ("x", 1_600_000_000_000_000), "b": ("y", 1_609_459_200_000_000)}
    finally:
        writer.teardown()
    with pytest.raises(ConfigError, match="maps extra, which the statement of topic.orders.%s.%s.query does "
                                          "not bind" % (KEYSPACE, table)):
        _writer(_config(cassandra, table, "id=key, name=value.name, extra=value.e, __timestamp=value.at",
                        settings))


def test_tls_with_a_pem_trust_store_and_a_clear_error_for_an_unknown_ca(cassandra_server, cql, tmp_path):
    from common.errors import BeamConnectError
    from sinks.cassandra import CassandraSink
    from tests.servers.cassandra import write_ca

    cassandra = cassandra_server.cluster
    table = create_table(cql, ["id text", "name text"], "id")
    tls = {"ssl.provider": "OpenSSL", "ssl.truststore.path": str(cassandra_server.ca_file),
           "ssl.hostnameValidation": "true"}
    writer = _writer(_config(cassandra, table, "id=key, name=value.name", **tls))
    try:
        writer.write_bundle(_bundle(0, [("a", {"name": "x"}, T0)]))
        assert _cells(cql, table) == {"a": ("x", T0 * 1000)}
    finally:
        writer.teardown()
    write_ca(tmp_path, "some other CA")
    config = _config(cassandra, table, "id=key, name=value.name",
                     **{**tls, "ssl.truststore.path": str(tmp_path / "ca.pem")})
    with pytest.raises(BeamConnectError, match="could not reach Cassandra at 127.0.0.1:%d as "
                                               "auth.username='beam'.*CERTIFICATE_VERIFY_FAILED"
                                               % cassandra.port):
        CassandraSink().check(config)
