"""What the Schema Registry end-to-end tests of the sinks share, for Avro, Protobuf and JSON Schema: the
converter and dead-letter keys of a connector config, records of every type and of three versions of one
subject, producing them with confluent-kafka's AvroSerializer, ProtobufSerializer and JSONSerializer,
records the converters must refuse (a bad magic byte, an unknown schema id), reading the dead-letter
topic back, the ``schema_registry`` fixture where the suite has no shared one, and a TCP proxy that can
refuse connections (a registry gone away mid-run).

Decisions:
- The records are written by the real serializers against the real registry (Apicurio's
  Confluent-compatible API), so the run reads Confluent's wire format with the ids the registry gave.
- The every-type Protobuf message and JSON Schema are the converters' own
  (:mod:`tests.transforms.converters.protobuf_records` and ``json_schema_records``): what reaches the
  sinks is what the converter tests pin down.
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

from tests.helpers import read_messages
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


def avro_serializer(registry_url: str, schema_text: str, topic: str, field: str = "value"):
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


#: The registry converters by the format names the tests use.
CONVERTERS = {"avro": "io.confluent.connect.avro.AvroConverter",
              "protobuf": "io.confluent.connect.protobuf.ProtobufConverter",
              "json_schema": "io.confluent.connect.json.JsonSchemaConverter"}
STRING_CONVERTER = "org.apache.kafka.connect.storage.StringConverter"


def converter_config(registry_url: str, value: str, key: str = None) -> dict:
    """The converter keys of a connector reading values (and keys, when ``key`` names a format; else
    string keys) of format ``value`` (a :data:`CONVERTERS` name) from the registry at ``registry_url``."""
    config = {"key.converter": STRING_CONVERTER, "value.converter": CONVERTERS[value],
              "value.converter.schema.registry.url": registry_url}
    if key is not None:
        config.update({"key.converter": CONVERTERS[key], "key.converter.schema.registry.url": registry_url})
    return config


def dead_letter_config(topic: str) -> dict:
    """``errors.tolerance=all`` with the dead-letter topic ``topic`` and its context headers."""
    return {"errors.tolerance": "all", "errors.deadletterqueue.topic.name": topic,
            "errors.deadletterqueue.topic.replication.factor": "1",
            "errors.deadletterqueue.context.headers.enable": "true"}


JDBC_CONNECTOR = "io.confluent.connect.jdbc.JdbcSinkConnector"
SEARCH_CONNECTOR = "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector"


def jdbc_config(topic: str, postgres, converters: dict, **overrides) -> dict:
    """A JDBC sink config (``auto.create=true``) writing ``topic`` into ``postgres`` (the suite's
    PostgreSQL server) with ``converters`` (:func:`converter_config`)."""
    return {"name": "jdbc-" + topic, "connector.class": JDBC_CONNECTOR, "topics": topic, **converters,
            "connection.url": postgres.jdbc_url, "connection.user": postgres.user,
            "connection.password": postgres.password, "auto.create": "true", **overrides}


def search_config(name: str, topic: str, cluster, converters: dict, **overrides) -> dict:
    """An Elasticsearch sink config (``schema.ignore=false``: the mapping is made from the Connect
    schema) writing ``topic`` into ``cluster`` (an OpenSearch cluster of the suite) with
    ``converters`` (:func:`converter_config`)."""
    config = {"name": name, "connector.class": SEARCH_CONNECTOR, "topics": topic, **converters,
              "connection.url": cluster.url, "schema.ignore": "false"}
    if cluster.user is not None:
        config.update({"connection.username": cluster.user, "connection.password": cluster.password})
    config.update(overrides)
    return config


def query(postgres, sql: str, **params) -> list:
    """The rows (tuples) of ``sql`` run on ``postgres`` with bound ``params``."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(postgres.sqlalchemy_url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sqlalchemy.text(sql), params)]
    finally:
        engine.dispose()


def table_exists(postgres, table: str) -> bool:
    """Whether ``postgres`` has a table named ``table``."""
    return bool(query(postgres, "SELECT 1 FROM information_schema.tables WHERE table_name = :t", t=table))


def table_rows(postgres, table: str, columns: list) -> dict:
    """``{first column's value: {column: value}}`` of every row of ``table``."""
    names = ", ".join('"%s"' % c for c in columns)
    return {r[0]: dict(zip(columns, r)) for r in query(postgres, 'SELECT %s FROM "%s"' % (names, table))}


def table_columns(postgres, table: str) -> dict:
    """``{column: (data_type, is_nullable)}`` from information_schema."""
    return {name: (kind, nullable) for name, kind, nullable in query(
        postgres, "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                  "WHERE table_name = :t", t=table)}


def primary_key(postgres, table: str) -> list:
    """The primary key columns of ``table``, in key order."""
    return [r[0] for r in query(
        postgres, "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND "
                  "a.attnum = ANY(i.indkey) WHERE i.indisprimary AND i.indrelid = CAST(:t AS regclass)",
        t='"%s"' % table)]


def _context(topic: str, field: str):
    from confluent_kafka.serialization import MessageField, SerializationContext

    return SerializationContext(topic, MessageField.VALUE if field == "value" else MessageField.KEY)


def protobuf_serializer(registry_url: str, message_class, topic: str, field: str = "value"):
    """A function serializing one message of ``message_class`` as ProtobufSerializer does for ``topic``'s
    keys or values (registering its file, and the files it imports as references)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

    serialize = ProtobufSerializer(message_class, SchemaRegistryClient({"url": registry_url}),
                                   {"use.deprecated.format": False})
    context = _context(topic, field)
    return lambda message: serialize(message, context)


def json_serializer(registry_url: str, schema_text: str, topic: str, field: str = "value"):
    """A function serializing one value as JSONSerializer does for ``topic``'s keys or values
    (validating it against ``schema_text`` and registering that)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.json_schema import JSONSerializer

    serialize = JSONSerializer(schema_text, SchemaRegistryClient({"url": registry_url}))
    context = _context(topic, field)
    return lambda value: serialize(value, context)


#: An id no registry of the tests gives out.
UNKNOWN_ID = 2_000_000_000


def bad_magic(raw: bytes) -> bytes:
    """``raw`` (a serialized record) with magic byte 7: no registry converter reads it."""
    return b"\x07" + raw[1:]


def unknown_id(raw: bytes) -> bytes:
    """``raw`` (a serialized record) naming schema :data:`UNKNOWN_ID`."""
    return raw[:1] + UNKNOWN_ID.to_bytes(4, "big") + raw[5:]


#: The converter error messages of :func:`bad_magic` and :func:`unknown_id` records, by format.
UNKNOWN_ID_MESSAGES = {"avro": "Error retrieving Avro schema for id %d" % UNKNOWN_ID,
                       "protobuf": "Error retrieving Protobuf schema for id %d" % UNKNOWN_ID,
                       "json_schema": "Error retrieving JSON schema for id %d" % UNKNOWN_ID}
BAD_MAGIC_MESSAGE = "Unknown magic byte!"


def with_refused(values: list, at: tuple) -> list:
    """``values`` (serialized records) with a :func:`bad_magic` and an :func:`unknown_id` record made of
    the first one inserted at positions ``at[0]`` and ``at[1]``."""
    out = list(values)
    out.insert(at[0], bad_magic(values[0]))
    out.insert(at[1], unknown_id(values[0]))
    return out


def check_refused(servers: str, dlq: str, topic: str, values: list, at: tuple, fmt: str) -> None:
    """The two records :func:`with_refused` put at ``at`` into ``topic`` (partition 0) are in the
    dead-letter topic ``dlq``, as they were read, with their coordinates, stage, converter class
    (``fmt``'s) and reason."""
    letters = read_messages(servers, dlq, 2)
    assert [m.value() for m in letters] == [values[at[0]], values[at[1]]]
    for letter, offset, reason in zip(letters, at, (BAD_MAGIC_MESSAGE, UNKNOWN_ID_MESSAGES[fmt])):
        headers = dict(letter.headers())
        assert headers["__connect.errors.topic"] == topic.encode()
        assert headers["__connect.errors.partition"] == b"0"
        assert headers["__connect.errors.offset"] == str(offset).encode()
        assert headers["__connect.errors.stage"] == b"VALUE_CONVERTER"
        assert headers["__connect.errors.class.name"] == CONVERTERS[fmt].encode()
        assert reason.encode() in headers["__connect.errors.exception.message"], headers


def evolving_proto(version: int) -> str:
    """The ``.proto`` text of version 1, 2 or 3 of ``crm.Profile``, the Protobuf twin of
    :func:`evolving`: v2 adds ``score`` and ``level``, v3 adds ``optional string email`` and makes
    ``name`` ``optional`` (absent rather than ``""``)."""
    fields = ["int64 id = 1;", "string name = 2;", "map<string, int64> attrs = 3;"]
    if version >= 2:
        fields += ["int32 score = 4;", "string level = 5;"]
    if version >= 3:
        fields[1] = "optional string name = 2;"
        fields.append("optional string email = 6;")
    return 'syntax = "proto3";\npackage crm;\n\nmessage Profile {\n%s\n}\n' % "\n".join(
        "  " + f for f in fields)


def evolving_json(version: int) -> str:
    """Version 1, 2 or 3 of one subject's JSON Schema, the twin of :func:`evolving`: v2 adds ``score``
    (int32, default 5) and ``level`` (string, default "basic"), v3 adds an optional ``email`` and makes
    ``name`` optional (``oneOf`` null or string)."""
    properties = {"id": {"type": "integer"}, "name": {"type": "string"},
                  "attrs": {"type": "object", "connect.type": "map",
                            "additionalProperties": {"type": "integer"}}}
    required = ["id", "name", "attrs"]
    if version >= 2:
        properties.update(score={"type": "integer", "connect.type": "int32", "default": 5},
                          level={"type": "string", "default": "basic"})
        required += ["score", "level"]
    if version >= 3:
        properties["name"] = {"oneOf": [{"type": "null"}, {"type": "string"}]}
        properties["email"] = {"oneOf": [{"type": "null"}, {"type": "string"}]}
    return json.dumps({"$schema": "http://json-schema.org/draft-07/schema#", "title": "crm.Profile",
                       "type": "object", "properties": properties, "required": required,
                       "additionalProperties": False})


_PROFILE_KEY_PROTO = 'syntax = "proto3";\npackage crm;\n\nmessage ProfileKey {\n  int64 id = 1;\n}\n'
_PROFILE_KEY_JSON = json.dumps({"type": "object", "title": "crm.ProfileKey",
                                "properties": {"id": {"type": "integer"}}, "required": ["id"]})
_PROFILE_KEY_AVRO = json.dumps({"type": "record", "name": "ProfileKey", "namespace": "crm",
                                "fields": [{"name": "id", "type": "long"}]})


def profile_serializer(registry_url: str, fmt: str, topic: str):
    """A function ``(version, value)`` serializing a value of that version of the evolving subject
    (:func:`profile`) as ``fmt``'s serializer does for ``topic``'s values: Avro with
    :func:`evolving`, JSON Schema with :func:`evolving_json`, Protobuf as a message of
    :func:`evolving_proto` (each version compiled in a pool of its own; null fields left unset)."""
    if fmt == "protobuf":
        from tests.transforms.converters.protobuf_records import message_classes

        classes = {v: message_classes({"crm/profile.proto": evolving_proto(v)}, "crm/profile.proto")[
            "crm.Profile"] for v in (1, 2, 3)}
        serializers = {v: protobuf_serializer(registry_url, classes[v], topic) for v in classes}
        return lambda version, value: serializers[version](classes[version](
            **{k: v for k, v in value.items() if v is not None}))
    schema, make = {"avro": (evolving, avro_serializer), "json_schema": (evolving_json, json_serializer)}[fmt]
    serializers = {v: make(registry_url, schema(v), topic) for v in (1, 2, 3)}
    return lambda version, value: serializers[version](value)


def profile_key_serializer(registry_url: str, fmt: str, topic: str):
    """A function serializing a profile's id as ``fmt``'s serializer does ``topic``'s keys (a
    ``crm.ProfileKey`` record, message or object of one ``id``)."""
    if fmt == "protobuf":
        from tests.transforms.converters.protobuf_records import message_classes

        key_class = message_classes({"crm/key.proto": _PROFILE_KEY_PROTO}, "crm/key.proto")["crm.ProfileKey"]
        serialize = protobuf_serializer(registry_url, key_class, topic, "key")
        return lambda i: serialize(key_class(id=i))
    schema, make = {"avro": (_PROFILE_KEY_AVRO, avro_serializer),
                    "json_schema": (_PROFILE_KEY_JSON, json_serializer)}[fmt]
    serialize = make(registry_url, schema, topic, "key")
    return lambda i: serialize({"id": i})


#: A JSON Schema whose maps and arrays hold logical types: decimals, timestamps and dates as map
#: values (string and int32 keys) and timestamps in an array of objects.
READINGS = {
    "$schema": "http://json-schema.org/draft-07/schema#", "title": "lab.Readings", "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "prices": {"type": "object", "connect.type": "map", "additionalProperties": {
            "type": "number", "title": "org.apache.kafka.connect.data.Decimal", "connect.type": "bytes",
            "connect.parameters": {"scale": "2"}}},
        "seen": {"type": "object", "connect.type": "map", "additionalProperties": {
            "type": "integer", "title": "org.apache.kafka.connect.data.Timestamp", "connect.type": "int64"}},
        "days": {"type": "array", "connect.type": "map", "items": {"type": "object", "properties": {
            "key": {"type": "integer", "connect.type": "int32"},
            "value": {"type": "integer", "title": "org.apache.kafka.connect.data.Date",
                      "connect.type": "int32"}}}},
        "events": {"type": "array", "items": {"type": "object", "properties": {
            "at": {"type": "integer", "title": "org.apache.kafka.connect.data.Timestamp",
                   "connect.type": "int64"},
            "amount": {"type": "number", "title": "org.apache.kafka.connect.data.Decimal",
                       "connect.type": "bytes", "connect.parameters": {"scale": "2"}}},
            "required": ["at", "amount"]}},
    },
    "required": ["id", "prices", "seen", "days", "events"],
}
READINGS_TEXT = json.dumps(READINGS)
#: 2024-05-06T07:08:09.123Z, the first ``seen`` timestamp.
READINGS_EPOCH_MS = 1714979289123


def reading(i: int) -> dict:
    """A record of ``READINGS`` as JSONSerializer takes it (decimals as JSON numbers, timestamps as epoch
    milliseconds, dates as days since the epoch)."""
    return {"id": i, "prices": {"a": i + 0.25, "b": -3.03},
            "seen": {"first": READINGS_EPOCH_MS + i, "last": READINGS_EPOCH_MS + 86_400_000},
            "days": [{"key": i, "value": 19723 + i}],
            "events": [{"at": READINGS_EPOCH_MS - i, "amount": 1.5 + i}]}


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
