"""Tables: reflection, ``auto.create``, ``auto.evolve``, and the offsets table.

Once a column exists its type wins: a schemaless field whose values change type from one bundle to the
next (an integer, later a float) is cast to the column's type where that is lossless, and the database
refuses the rest (the record goes to the error path). Columns are added (nullable), never dropped or
altered.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Optional

from common.errors import BeamConnectError
from sinks.jdbc.dialects import OFFSETS_TABLE, Dialect
from sinks.jdbc.records import HIDDEN, Column, Records, to_json

_LOGGER = logging.getLogger(__name__)


@dataclasses.dataclass
class TableInfo:
    """A table as reflected: its columns' type families (int, float, decimal, string, boolean, date,
    timestamp, time, bytes, json, other) and its primary key."""

    name: str
    columns: dict
    keys: tuple


def family(sa_type) -> str:
    import sqlalchemy.types as t

    for cls, name in ((t.Boolean, "boolean"), (t.Integer, "int"), (t.Float, "float"),
                      (t.Numeric, "decimal"), (t.DateTime, "timestamp"), (t.Date, "date"),
                      (t.Time, "time"), (t.JSON, "json"), (t.LargeBinary, "bytes"),
                      (t.BINARY, "bytes"), (t.VARBINARY, "bytes"), (t.String, "string")):
        if isinstance(sa_type, cls):
            return name
    return "other"


def cast(value, column_family: str):
    """A value cast to an existing column's family where that loses nothing (schemaless data)."""
    if value is None:
        return None
    if column_family == "int":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool):
            return int(value)
    elif column_family in ("float", "decimal"):
        if isinstance(value, bool):
            return int(value)
    elif column_family in ("string", "json"):
        if isinstance(value, (dict, list, tuple)):
            return to_json(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)) and column_family == "string":
            return str(value)
    elif column_family == "boolean":
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
    return value


class Tables:
    """Finds, creates and evolves the sink's tables through one SQLAlchemy engine.

    Args:
      engine: The SQLAlchemy engine.
      dialect: The sink's :class:`~sinks.jdbc.dialects.Dialect`.
      config: The sink config (auto.create, auto.evolve, the schema).
    """

    def __init__(self, engine, dialect: Dialect, config):
        self._engine = engine
        self._dialect = dialect
        self._config = config
        self._schema = config.target.schema
        self._known: dict = {}

    def qualified(self, name: str) -> str:
        return self._dialect.table(name, self._schema)

    def reflect(self, name: str) -> Optional[TableInfo]:
        import sqlalchemy

        inspector = sqlalchemy.inspect(self._engine)
        if not inspector.has_table(name, schema=self._schema):
            return None
        columns = {self._name(c["name"]): family(c["type"])
                   for c in inspector.get_columns(name, schema=self._schema)}
        keys = tuple(self._name(k) for k in inspector.get_pk_constraint(
            name, schema=self._schema).get("constrained_columns") or ())
        return TableInfo(name, columns, keys)

    def _name(self, reflected: str) -> str:
        # SQLAlchemy reads MySQL's columns from SHOW CREATE TABLE and leaves a backtick in a name
        # doubled, as that statement escapes it
        return reflected.replace("``", "`") if self._dialect.name == "mysql" else reflected

    def _ddl(self, statements) -> None:
        raw = self._engine.raw_connection()
        try:
            cursor = raw.cursor()
            if self._dialect.name == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
            for statement in statements:
                _LOGGER.info("%s", statement)
                cursor.execute(statement)
            raw.commit() if self._dialect.name != "sqlite" else cursor.execute("COMMIT")
        except Exception:
            try:
                raw.rollback() if self._dialect.name != "sqlite" else cursor.execute("ROLLBACK")
            except Exception:
                pass
            raise
        finally:
            raw.close()

    def ensure(self, name: str, records: Records, conditional: bool) -> TableInfo:
        """The table for ``records``, created or evolved as the config allows.

        Raises:
          BeamConnectError: the table or a column is missing and may not be made.
        """
        cfg = self._config
        wanted = [c for c in records.columns if c.kind is not None]
        if conditional:
            wanted += [Column(h, k, True) for h, k in zip(HIDDEN, ("string", "int32", "int64"))
                       if h not in {c.name for c in wanted}]
        if self._dialect.name == "postgresql":  # PostgreSQL would cut longer names silently
            for what in [name] + [c.name for c in wanted]:
                if len(what.encode()) > 63:
                    raise BeamConnectError("%r is longer than PostgreSQL's 63-byte names (table %s in "
                                           "%s)" % (what, self.qualified(name), cfg.target.describe()))
        info = self._known.get(name)
        if info is None or any(c.name not in info.columns for c in wanted):
            info = self.reflect(name)
        if info is None:
            if not cfg.auto_create:
                raise BeamConnectError("table %s does not exist in %s and auto.create=false"
                                       % (self.qualified(name), cfg.target.describe()))
            try:
                self._ddl([self._dialect.create_table(self.qualified(name), wanted, records.keys)])
            except Exception as exc:
                info = self.reflect(name)  # another worker may have made it first
                if info is None:
                    raise BeamConnectError("creating table %s in %s failed: %s"
                                           % (self.qualified(name), cfg.target.describe(), exc)) from None
            info = self.reflect(name)
            if info is None:
                raise BeamConnectError("table %s was created in %s but cannot be found by its name"
                                       % (self.qualified(name), cfg.target.describe()))
        missing = [c for c in wanted if c.name not in info.columns]
        if missing:
            hidden = [c.name for c in missing if c.name in HIDDEN]
            if not cfg.auto_evolve and not (hidden and cfg.auto_create and len(hidden) == len(missing)):
                raise BeamConnectError(
                    "table %s in %s lacks column(s) %s and auto.evolve=false%s" % (
                        self.qualified(name), cfg.target.describe(),
                        ", ".join(repr(c.name) for c in missing),
                        " (upsert and update keep each row's source topic, partition and offset in "
                        "%s)" % ", ".join(HIDDEN) if hidden else ""))
            statements = [self._dialect.add_column(self.qualified(name),
                                                   dataclasses.replace(c, optional=True, key=False))
                          for c in missing]
            try:
                self._ddl(statements)
            except Exception as exc:
                info = self.reflect(name)
                if any(c.name not in info.columns for c in wanted):
                    raise BeamConnectError("adding columns to %s in %s failed: %s"
                                           % (self.qualified(name), cfg.target.describe(), exc)) from None
            info = self.reflect(name)
        if records.keys and cfg.insert_mode == "upsert" and set(info.keys) != set(records.keys):
            raise BeamConnectError("table %s has primary key (%s), but insert.mode=%s writes by (%s): "
                                   "the conflict target must be the table's primary key"
                                   % (self.qualified(name), ", ".join(info.keys) or "none",
                                      cfg.insert_mode, ", ".join(records.keys)))
        self._known[name] = info
        return info

    def ensure_offsets(self) -> None:
        if self.reflect(OFFSETS_TABLE) is not None:
            return
        try:
            self._ddl([self._dialect.offsets_table(self.qualified(OFFSETS_TABLE))])
        except Exception as exc:
            if self.reflect(OFFSETS_TABLE) is None:
                raise BeamConnectError("creating the offsets table %s in %s failed: %s"
                                       % (self.qualified(OFFSETS_TABLE),
                                          self._config.target.describe(), exc)) from None
