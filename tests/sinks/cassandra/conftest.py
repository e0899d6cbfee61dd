"""Session fixtures for the Cassandra sink's tests: a real cluster, a keyspace, and a CQL session.

``cassandra`` is a :class:`~tests.servers.cassandra.CassandraCluster`: the suite's own node (Cassandra
5.0 from Maven Central, :class:`~tests.servers.cassandra.CassandraServer`, started on first use and
stopped with the session), or the cluster ``BEAMCONNECT_CASSANDRA_CONTACT_POINTS`` names
(``host:port``), logged in as ``BEAMCONNECT_CASSANDRA_USERNAME`` with
``BEAMCONNECT_CASSANDRA_PASSWORD`` (a user that may create keyspaces and tables), in data center
``BEAMCONNECT_CASSANDRA_LOCAL_DC`` (default ``datacenter1``). ``cassandra_server`` is the suite's own
node only, for the tests that stop and restart it; they are skipped when the variable is set.

``cql`` is one driver session for the whole test session, and ``keyspace`` the keyspace the tests
create their tables in (``beamconnect_sink_test``, replication factor 1); tests name tables uniquely.
"""

import os
import time
import uuid

import pytest

from tests.servers.cassandra import CassandraServer, cluster_from_variables

CONTACT_POINTS_VARIABLE = "BEAMCONNECT_CASSANDRA_CONTACT_POINTS"
KEYSPACE = "beamconnect_sink_test"


@pytest.fixture(scope="session")
def cassandra_server():
    """The suite's own Cassandra node (skipped when ``BEAMCONNECT_CASSANDRA_CONTACT_POINTS`` is set)."""
    if os.environ.get(CONTACT_POINTS_VARIABLE):
        pytest.skip("%s names an existing cluster, which this test would stop" % CONTACT_POINTS_VARIABLE)
    server = CassandraServer().start(timeout=180)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def cassandra(request):
    """A Cassandra cluster: the one ``BEAMCONNECT_CASSANDRA_CONTACT_POINTS`` names, else the suite's."""
    points = os.environ.get(CONTACT_POINTS_VARIABLE)
    if points:
        cluster = cluster_from_variables(points, os.environ.get("BEAMCONNECT_CASSANDRA_USERNAME"),
                                         os.environ.get("BEAMCONNECT_CASSANDRA_PASSWORD"),
                                         os.environ.get("BEAMCONNECT_CASSANDRA_LOCAL_DC"),
                                         CONTACT_POINTS_VARIABLE)
        driver, session = cluster.connect()  # fail early, and clearly, when it cannot be used
        driver.shutdown()
        return cluster
    return request.getfixturevalue("cassandra_server").cluster


@pytest.fixture(scope="session")
def cql(cassandra):
    """A driver session on the cluster, with the test keyspace created."""
    driver, session = cassandra.connect()
    session.execute("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = "
                    "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KEYSPACE)
    session.set_keyspace(KEYSPACE)
    try:
        yield session
    finally:
        driver.shutdown()


@pytest.fixture(scope="session")
def keyspace(cql):
    return KEYSPACE


def unique(prefix="t"):
    return "%s_%s" % (prefix, uuid.uuid4().hex[:10])


def create_table(cql, columns, primary_key, prefix="t"):
    """A new table of ``columns`` (``"name type"`` strings) in the test keyspace; its name."""
    name = unique(prefix)
    cql.execute("CREATE TABLE %s.%s (%s, PRIMARY KEY (%s))" % (KEYSPACE, name, ", ".join(columns),
                                                              primary_key))
    return name


def rows(cql, table, columns="*"):
    """Every row of ``table`` as dicts, sorted by their items' text."""
    found = [r._asdict() for r in cql.execute("SELECT %s FROM %s.%s" % (columns, KEYSPACE, table))]
    return sorted(found, key=lambda r: repr(sorted(r.items())))


def wait_rows(cql, table, at_least, proc=None, timeout=120.0):
    """Waits until ``table`` holds at least ``at_least`` rows; fails early if ``proc`` ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = cql.execute("SELECT COUNT(*) FROM %s.%s" % (KEYSPACE, table)).one()[0]
        if count >= at_least:
            return count
        if proc is not None and proc.poll() is not None:
            raise AssertionError("the run ended before %d rows were written: %s"
                                 % (at_least, proc.stderr.read()[-3000:] if proc.stderr else ""))
        time.sleep(0.1)
    raise AssertionError("%s held fewer than %d rows after %.0f s" % (table, at_least, timeout))


def wait_usable(cql, timeout=120.0):
    """Waits until ``cql`` answers again (after the node was restarted under it)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            cql.execute("SELECT release_version FROM system.local")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def sink_config(name, topics, cassandra, tables, **overrides):
    """A Cassandra connector config: ``tables`` maps ``topic.<topic>.<ks>.<table>.`` settings
    (given as ``{(topic, table): {"mapping": ..., ...}}``)."""
    config = {"name": name, "connector.class": "com.datastax.oss.kafka.sink.CassandraSinkConnector",
              "topics": topics, "contactPoints": cassandra.host, "port": str(cassandra.port),
              "loadBalancing.localDc": cassandra.local_dc, "auth.username": cassandra.user,
              "auth.password": cassandra.password,
              "key.converter": "org.apache.kafka.connect.storage.StringConverter",
              "value.converter": "org.apache.kafka.connect.json.JsonConverter",
              "value.converter.schemas.enable": "false"}
    for (topic, table), settings in tables.items():
        for setting, value in settings.items():
            config["topic.%s.%s.%s.%s" % (topic, KEYSPACE, table, setting)] = value
    config.update(overrides)
    return config


def produce(servers, topic, records, partition=0):
    """records: ``(key, value, timestamp ms, headers)`` tuples (bytes or str keys and values)."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": servers, "linger.ms": 5, "enable.idempotence": True})
    for key, value, timestamp, headers in records:
        while True:
            try:
                producer.produce(topic, key=key, value=value, headers=headers, partition=partition,
                                 **({"timestamp": timestamp} if timestamp is not None else {}))
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(60):
        raise RuntimeError("records were not delivered")


def read_topic(servers, topic, timeout=30.0):
    """Every record of partition 0 of ``topic``."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": servers, "group.id": "check-" + uuid.uuid4().hex,
                         "enable.auto.commit": "false", "enable.partition.eof": "true"})
    consumer.assign([TopicPartition(topic, 0, 0)])
    messages = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                if message.error().code() == -191:  # _PARTITION_EOF
                    break
                continue
            messages.append(message)
    finally:
        consumer.close()
    return messages
