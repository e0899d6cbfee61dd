"""Shared fixtures: one real Kafka broker for the whole session.

The broker is the project's own launcher (Apache Kafka from Maven Central, KRaft mode); set
``KAFKA_BOOTSTRAP_SERVERS`` to run the suite against another cluster instead.
"""

import os
import signal
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

pytest_plugins = ["tests.servers.fixtures"]
os.environ.setdefault("NO_GCE_CHECK", "true")


def pytest_collection_finish(session):
    """Fetches and builds the servers the selected tests need, in the background, all at once
    (tests/servers/prepare.py); ``BEAMCONNECT_PREPARE=0`` turns it off."""
    if os.environ.get("BEAMCONNECT_PREPARE", "1") == "0":
        return
    from tests.servers.prepare import prepare_in_background

    prepare_in_background(name for item in session.items for name in getattr(item, "fixturenames", ()))


@pytest.fixture(autouse=True)
def _forget_secrets():
    """Secrets registered by one test's connector config are not hidden in the next test's output."""
    from common import secrets

    secrets.clear()
    yield
    secrets.clear()


@pytest.fixture(scope="session")
def kafka_bootstrap():
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if servers:
        yield servers
        return
    from pipelines.dev_kafka import LocalKafka

    kafka = LocalKafka().start()
    try:
        yield kafka.bootstrap_servers
    finally:
        kafka.stop()


class KafkaHelper:
    """Creates uniquely named topics and produces records to chosen partitions."""

    def __init__(self, servers: str):
        self.servers = servers
        self.admin = AdminClient({"bootstrap.servers": servers})

    def topic(self, partitions: int = 1, prefix: str = "t") -> str:
        name = "%s-%s" % (prefix, uuid.uuid4().hex[:10])
        for future in self.admin.create_topics([NewTopic(name, partitions, 1)]).values():
            future.result()
        return name

    def produce(self, topic: str, records, partition: int = None) -> None:
        """records: iterable of (key, value) bytes pairs."""
        producer = Producer({"bootstrap.servers": self.servers, "linger.ms": 5,
                             "enable.idempotence": True})
        for key, value in records:
            kwargs = {} if partition is None else {"partition": partition}
            while True:
                try:
                    producer.produce(topic, value=value, key=key, **kwargs)
                    break
                except BufferError:
                    producer.poll(0.05)
        if producer.flush(60):
            raise RuntimeError("records were not delivered")

    def committed(self, group: str, topic: str, partitions: int) -> dict:
        """The group's committed offset per partition (-1001 where none is committed)."""
        from transforms.kafka.planning import retrying  # a fresh broker's coordinator needs a moment

        consumer = Consumer({"bootstrap.servers": self.servers, "group.id": group})
        try:
            tps = retrying(lambda: consumer.committed(
                [TopicPartition(topic, p) for p in range(partitions)], timeout=10), 30.0)
        finally:
            consumer.close()
        return {tp.partition: tp.offset for tp in tps}

    def wait_committed(self, group: str, topic: str, expected: dict, proc=None, timeout=90) -> None:
        """Waits until the group's offsets equal ``expected``, failing early if ``proc`` ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.committed(group, topic, len(expected)) == expected:
                return
            if proc is not None and proc.poll() is not None:
                raise AssertionError("the run ended early: " + proc.stderr.read()[-3000:])
            time.sleep(0.3)
        output = ""
        if proc is not None:
            if os.getpgid(proc.pid) == proc.pid:  # started in a session of its own: end all of it
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
            output = "\n" + proc.communicate()[1][-4000:]
        raise AssertionError("offsets %r were not committed within %ds (got %r)%s" % (
            expected, timeout, self.committed(group, topic, len(expected)), output))


@pytest.fixture(scope="session")
def kafka(kafka_bootstrap):
    return KafkaHelper(kafka_bootstrap)


@pytest.fixture(scope="session")
def kafka_3_9():
    """A broker of the last 3.x release (the version matrix); ``KAFKA_3_9_BOOTSTRAP_SERVERS`` names
    a running one instead."""
    servers = os.environ.get("KAFKA_3_9_BOOTSTRAP_SERVERS")
    if servers:
        yield KafkaHelper(servers)
        return
    from pipelines.dev_kafka import LocalKafka

    broker = LocalKafka(version="3.9.1").start()
    try:
        yield KafkaHelper(broker.bootstrap_servers)
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def prism():
    """Beam's Prism runner binary, built from Beam's Go module on first use (``./dev`` builds it)."""
    from pipelines.dev_prism import ensure_prism

    return ensure_prism()


@pytest.fixture(scope="session")
def store_servers(tmp_path_factory):
    """moto's S3 server and the GCS emulator, started on first use and stopped with the session."""
    from tests.object_stores import gcs_server, s3_server

    logs = str(tmp_path_factory.mktemp("store-logs"))
    servers = {}
    try:
        for kind, make in (("s3", s3_server), ("gcs", gcs_server)):
            servers[kind] = make().start(logs)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def _bucket(kind, servers, monkeypatch):
    from tests.object_stores import GcsBucket, S3Bucket

    made = (S3Bucket if kind == "s3" else GcsBucket)(servers[kind])
    for name, value in made.env.items():  # seen by this process and the connector processes it starts
        monkeypatch.setenv(name, value)
    return made


@pytest.fixture
def s3_bucket(store_servers, monkeypatch):
    """A new bucket in moto's S3 server."""
    return _bucket("s3", store_servers, monkeypatch)


@pytest.fixture
def gcs_bucket(store_servers, monkeypatch):
    """A new bucket in the GCS emulator."""
    return _bucket("gcs", store_servers, monkeypatch)


@pytest.fixture(params=["s3", "gcs"])
def bucket(request):
    """A new bucket in S3, then in GCS."""
    return request.getfixturevalue("%s_bucket" % request.param)
