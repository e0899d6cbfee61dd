"""What the JDBC sink's tests share: a database of each dialect, bundles made from JSON, and the write
step run in-process."""

import dataclasses
import json
import uuid

import pytest

from sinks.base import Mode, WriteContext
from sinks.jdbc.config import CONFIG_DEF
from sinks.jdbc.sink import JdbcSink
from sinks.jdbc.writer import _JdbcWriteFn
from transforms.converters import make_converter
from transforms.errors import ErrorPolicy
from transforms.kafka.planning import PartitionPlan
from transforms.records import KafkaBundle

DIALECTS = ["sqlite", "postgres", "mariadb"]


@dataclasses.dataclass
class Db:
    """One database of a dialect, as the tests use it."""

    kind: str
    url: str
    user: str = None
    password: str = None
    sqlalchemy_url: str = None

    def config(self, **overrides):
        raw = {"connection.url": self.url, **overrides}
        if self.user:
            raw.setdefault("connection.user", self.user)
        if self.password:
            raw.setdefault("connection.password", self.password)
        return JdbcSink().parse(CONFIG_DEF.parse(raw))

    def engine(self):
        import sqlalchemy

        return sqlalchemy.create_engine(self.sqlalchemy_url, poolclass=sqlalchemy.pool.NullPool)

    def quote(self, name):
        return self.engine().dialect.identifier_preparer.quote_identifier(name)

    def rows(self, table, columns="*", order=None):
        import sqlalchemy

        sql = "SELECT %s FROM %s" % (columns, self.quote(table))
        if order:
            sql += " ORDER BY %s" % order
        with self.engine().connect() as conn:
            return [tuple(r) for r in conn.execute(sqlalchemy.text(sql))]

    def columns(self, table):
        import sqlalchemy

        return {c["name"]: c for c in sqlalchemy.inspect(self.engine()).get_columns(table)}

    def run(self, sql):
        import sqlalchemy

        with self.engine().begin() as conn:
            conn.execute(sqlalchemy.text(sql))


@pytest.fixture(params=DIALECTS)
def db(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "sink.db"
        return Db("sqlite", "jdbc:sqlite:%s" % path, sqlalchemy_url="sqlite:///%s" % path)
    server = request.getfixturevalue(request.param)
    return Db(request.param, server.jdbc_url, server.user, server.password, server.sqlalchemy_url)


@pytest.fixture
def sqlite(tmp_path):
    path = tmp_path / "sink.db"
    return Db("sqlite", "jdbc:sqlite:%s" % path, sqlalchemy_url="sqlite:///%s" % path)


def table_name(prefix="t"):
    return "%s_%s" % (prefix, uuid.uuid4().hex[:8])


def schema(*fields, name=None):
    """A Connect struct schema from (field, type[, extra]) tuples."""
    out = []
    for f in fields:
        entry = {"field": f[0], "type": f[1], "optional": True}
        if len(f) > 2:
            entry.update(f[2])
        out.append(entry)
    s = {"type": "struct", "fields": out, "optional": False}
    if name:
        s["name"] = name
    return s


def bundle(topic, records, *, partition=0, start=0, value_schema=None, key_schema=None,
           key_string=False, window_start=None):
    """A converted bundle of ``records``: (key, value) pairs of Python values, offsets from ``start``.

    Values are JSON (with ``value_schema``: Connect JSON with that schema; else schemaless); keys are
    JSON likewise, or strings with ``key_string``.
    """
    def encode(value, schema_):
        if value is None:
            return None
        if schema_ is not None:
            return json.dumps({"schema": schema_, "payload": value}).encode()
        return json.dumps(value).encode()

    keys = [k.encode() if key_string and k is not None else encode(k, key_schema) for k, _ in records]
    values = [encode(v, value_schema) for _, v in records]
    offsets = list(range(start, start + len(records)))
    raw = KafkaBundle(topic, partition, start if window_start is None else window_start, offsets,
                      [1700000000000 + o for o in offsets], [1] * len(offsets), keys, values,
                      [None] * len(offsets))
    key_converter = make_converter("key.converter", "StringConverter" if key_string else "JsonConverter",
                                   {} if key_string or key_schema else {"schemas.enable": "false"})
    value_converter = make_converter("value.converter", "JsonConverter",
                                     {} if value_schema else {"schemas.enable": "false"})
    from transforms.convert import _ConvertFn
    from transforms.errors import FailureRouter

    fn = _ConvertFn(key_converter, value_converter, "k", "v", FailureRouter(ErrorPolicy(), None))
    fn.setup()
    (converted,) = list(fn.process(raw))
    return converted


def write(config, *bundles, mode=Mode.BATCH, plans=None, tolerance="all"):
    """Runs the sink's write DoFn over ``bundles``; returns the WriteResults."""
    if plans is None:
        ends = {}
        for b in bundles:
            key = (b.topic, b.partition)
            lo, hi = ends.get(key, (b.window_start, b.last_offset + 1 if b.last_offset is not None else 0))
            ends[key] = (min(lo, b.window_start), max(hi, (b.last_offset or 0) + 1))
        plans = [PartitionPlan(t, p, lo, hi) for (t, p), (lo, hi) in ends.items()]
    context = WriteContext(mode, tuple(plans), ErrorPolicy(tolerance=tolerance), "jdbc")
    fn = _JdbcWriteFn(config, context)
    fn.setup()
    try:
        return [r for b in bundles for r in fn.process(b)]
    finally:
        fn.teardown()
