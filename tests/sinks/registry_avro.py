"""What the Schema Registry end-to-end tests of the sinks share: Avro schemas and records, producing
them with confluent-kafka's AvroSerializer, the ``schema_registry`` fixture where the suite has no
shared one, and a TCP proxy that can refuse connections (a registry gone away mid-run).

Decisions:
- The records are written by the real serializer against the real registry (Apicurio's
  Confluent-compatible API), so the run reads Confluent's wire format with the ids the registry gave.
- The proxy refuses connections rather than pausing the registry process: it works as well in front
  of the registry ``SCHEMA_REGISTRY_URL`` names, and one test's outage does not touch the session's
  registry, which other tests use at the same time.
"""

from __future__ import annotations

import datetime
import decimal
import json
import socket
import threading
import time
import urllib.parse

import pytest

from tests.servers.apicurio import open_registry
from tests.servers.base import HOST

UTC = datetime.timezone.utc

#: Every type the JDBC and search sinks take from Avro, with a nested record for Flatten.
ORDER = {
    "type": "record", "name": "Order", "namespace": "shop", "fields": [
        {"name": "id", "type": "long"},
        {"name": "tiny", "type": {"type": "int", "connect.type": "int8"}},
        {"name": "small", "type": {"type": "int", "connect.type": "int16"}},
        {"name": "count", "type": "int"},
        {"name": "big", "type": "long"},
        {"name": "ratio", "type": "float"},
        {"name": "score", "type": "double"},
        {"name": "flag", "type": "boolean"},
        {"name": "name", "type": "string"},
        {"name": "blob", "type": "bytes"},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10,
                                   "scale": 2}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "time_ms", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "ts_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "color", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN"]}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "secret", "type": "string"},
        {"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [
            {"name": "name", "type": "string"},
            {"name": "address", "type": {"type": "record", "name": "Address", "fields": [
                {"name": "city", "type": "string"}, {"name": "zip", "type": "int"}]}}]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
    ],
}
ORDER_TEXT = json.dumps(ORDER)


def order(i: int, revision: int = 0) -> dict:
    """Record ``i`` of ``ORDER`` (``revision`` changes every field but the id); every third has no
    note."""
    j = i + 100 * revision
    return {
        "id": i, "tiny": -(j % 100), "small": -300 - j, "count": j * 10, "big": 2 ** 40 + j,
        "ratio": 0.5 + j, "score": 1e10 + j / 4, "flag": j % 2 == 0, "name": "name %d" % j,
        "blob": bytes([j % 256, 0, 255]), "price": decimal.Decimal("%d.%02d" % (j, j % 100)),
        "day": datetime.date(2024, 1, 1) + datetime.timedelta(days=j),
        "time_ms": datetime.time(1, 2, 3, 4000 + 1000 * (j % 900)),
        "ts_ms": datetime.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC) + datetime.timedelta(hours=j),
        "color": "GREEN" if j % 2 else "RED", "note": None if i % 3 == 2 else "note %d" % j,
        "secret": "s3cret-%d" % j,
        "customer": {"name": "c%d" % j, "address": {"city": "city %d" % j, "zip": 10000 + j}},
        "tags": ["a", "t%d" % j],
    }


def evolving(version: int) -> str:
    """Version 1, 2 or 3 of one subject's schema: v2 adds ``score`` (int, default 5) and ``level``
    (string, default "basic"), v3 adds ``email`` (optional) and makes ``name`` optional."""
    fields = [{"name": "id", "type": "long"}, {"name": "name", "type": "string"},
              {"name": "attrs", "type": {"type": "map", "values": "long"}}]
    if version >= 2:
        fields += [{"name": "score", "type": "int", "default": 5},
                   {"name": "level", "type": "string", "default": "basic"}]
    if version >= 3:
        fields[1] = {"name": "name", "type": ["null", "string"], "default": None}
        fields.append({"name": "email", "type": ["null", "string"], "default": None})
    return json.dumps({"type": "record", "name": "Profile", "namespace": "crm", "fields": fields})


def profile(version: int, i: int) -> dict:
    """A record of ``evolving(version)``."""
    value = {"id": i, "name": "v%d-%d" % (version, i), "attrs": {"v": version, "i": i}}
    if version >= 2:
        value.update(score=100 * version + i, level="gold" if i % 2 else "silver")
    if version >= 3:
        value.update(email="p%d@example.com" % i if i % 2 else None)
    return value


def serializer(registry_url: str, schema_text: str, topic: str, field: str = "value"):
    """A function serializing one value as AvroSerializer does for ``topic``'s keys or values
    (registering ``schema_text`` under the topic's subject)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    serialize = AvroSerializer(SchemaRegistryClient({"url": registry_url}), schema_text)
    context = SerializationContext(topic, MessageField.VALUE if field == "value" else MessageField.KEY)
    return lambda value: serialize(value, context)


def schema_id(raw: bytes) -> int:
    """The schema id in a record's Confluent header."""
    return int.from_bytes(raw[1:5], "big")


def registry_fixture_is_shared() -> bool:
    """Whether the suite's conftests already provide ``schema_registry`` to every test."""
    import tests.conftest
    import tests.servers.fixtures

    return any(hasattr(module, "schema_registry") for module in (tests.conftest, tests.servers.fixtures))


@pytest.fixture(scope="session", name="schema_registry")
def registry_fixture():
    """``schema_registry``: a :class:`~tests.servers.apicurio.SchemaRegistry`, for test modules the
    suite's fixture does not reach (``if not registry_fixture_is_shared(): schema_registry_fixture =
    registry_fixture`` in the module)."""
    yield from open_registry()


class RefusingProxy:
    """A loopback TCP proxy in front of ``target`` (a registry's URL) that can stop and start taking
    connections: :meth:`refuse` closes the listening socket and every open connection (clients then
    get "connection refused"), :meth:`accept` listens again on the same port.

    Args:
      target: The registry's base URL (``http://host:port/path``).
    """

    def __init__(self, target: str):
        from pipelines.processes import free_ports

        parts = urllib.parse.urlsplit(target)
        self._upstream = (parts.hostname, parts.port or 80)
        self._path = parts.path
        self.port = free_ports(1)[0]
        self._lock = threading.Lock()
        self._sockets: list = []
        self._listener = None
        self._stop = threading.Event()
        self.connections = 0
        self.accept()

    @property
    def url(self) -> str:
        return "http://%s:%d%s" % (HOST, self.port, self._path)

    def accept(self) -> None:
        """Listens (again) on :attr:`port`."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, self.port))
        listener.listen(64)
        listener.settimeout(0.1)
        self._stop = threading.Event()
        self._listener = listener
        threading.Thread(target=self._serve, args=(listener, self._stop), daemon=True,
                         name="refusing-proxy").start()

    def refuse(self) -> None:
        """Stops listening and closes every connection."""
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._sockets.clear()
        time.sleep(0.2)  # the accept loop sees the flag within its timeout

    close = refuse

    def _serve(self, listener, stop) -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._upstream, timeout=10)
            except OSError:
                client.close()
                continue
            self.connections += 1
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source, sink) -> None:
    try:
        source.settimeout(None)
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
