"""Connections and transactions: attempts, retries, and errors that name the database, never the
password.

SQLAlchemy, psycopg 3 and PyMySQL are the ``[jdbc]`` extra; they are imported here and nowhere above
``sinks/jdbc``.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, TypeVar

from common.errors import BeamConnectError, RetriableError
from sinks.jdbc.dialects import DIALECT_CLASSES

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")

_EXTRA = "pip install 'beamconnect[jdbc]'"
_MYSQL_RETRIABLE = {1040, 1053, 1205, 1213, 2002, 2003, 2006, 2013, 2055}


def _sqlalchemy():
    try:
        import sqlalchemy
    except ImportError as exc:
        raise BeamConnectError("the JDBC sink needs SQLAlchemy (%s); install it with %s"
                               % (exc.name, _EXTRA)) from None
    return sqlalchemy


def _driver(dialect: str) -> None:
    module = {"postgresql": "psycopg", "mysql": "pymysql"}.get(dialect)
    if module is None:
        return
    try:
        __import__(module)
    except ImportError:
        raise BeamConnectError("connection.url is a %s URL, which needs %s; install it with %s"
                               % (dialect, module, _EXTRA)) from None


class Connector:
    """One engine and one open connection of a writer (or of a check).

    Args:
      config: The :class:`~sinks.jdbc.config.JdbcSinkConfig`.
    """

    def __init__(self, config):
        sqlalchemy = _sqlalchemy()
        target = config.target
        _driver(target.dialect)
        self._config = config
        self._target = target
        args = dict(target.connect_args)
        if target.dialect == "sqlite":
            args["isolation_level"] = None  # transactions are begun explicitly (BEGIN IMMEDIATE)
            args.setdefault("timeout", 30)
        options = {}
        if target.dialect == "mysql":
            args.setdefault("charset", "utf8mb4")
            # the staging loads' LOAD DATA LOCAL INFILE, serving only their own files (local_infile.py);
            # allowLoadLocalInfile=false turns it off
            args["local_infile"] = str(args.get("local_infile", "true")).strip().lower() != "false"
            options["local_infile"] = args["local_infile"]
        self.engine = sqlalchemy.create_engine(target.sqlalchemy_url(), connect_args=args,
                                               poolclass=sqlalchemy.pool.NullPool)
        if target.dialect == "mysql" and args["local_infile"]:
            from sinks.jdbc import local_infile

            sqlalchemy.event.listen(self.engine, "do_connect", local_infile.connect)
        self.dialect = DIALECT_CLASSES[target.dialect](self.engine.dialect, config.timezone, **options)
        self._raw = None

    def scrub(self, text: str) -> str:
        """``text`` without the password in it."""
        password = self._target.password
        if password:
            text = text.replace(str.__str__(password), "[hidden]")
        return text

    def connect(self):
        """The open DB-API connection, made within ``connection.attempts``."""
        if self._raw is not None:
            return self._raw
        cfg = self._config
        error = None
        for attempt in range(cfg.attempts):
            try:
                self._raw = self.engine.raw_connection()
                return self._raw
            except Exception as exc:  # the driver's connection errors, wrapped by SQLAlchemy
                error = exc
                _LOGGER.warning("connecting to %s failed (attempt %d of %d): %s", self._target.describe(),
                                attempt + 1, cfg.attempts, self._message(exc))
                if attempt + 1 < cfg.attempts:
                    time.sleep(cfg.backoff_ms / 1000.0)
        raise RetriableError("could not connect to %s after %d attempt(s) (connection.attempts): %s"
                             % (self._target.describe(), cfg.attempts, self._message(error)))

    def _message(self, exc: Exception) -> str:
        orig = getattr(exc, "orig", None) or exc
        text = " ".join(str(orig).split()) or type(orig).__name__
        return self.scrub(text)

    def close(self) -> None:
        self._drop()
        self.engine.dispose()

    def _retriable(self, exc: Exception) -> bool:
        orig = getattr(exc, "orig", None) or exc
        module = type(orig).__module__.split(".")[0]
        name = type(orig).__name__
        if module == "psycopg":
            import psycopg

            return isinstance(orig, (psycopg.OperationalError, psycopg.InterfaceError))
        if module == "pymysql":
            args = getattr(orig, "args", ())
            return bool(args) and args[0] in _MYSQL_RETRIABLE
        if module == "sqlite3":
            return name == "OperationalError" and ("locked" in str(orig) or "busy" in str(orig))
        return False

    def transaction(self, work: Callable[[object], T], what: str) -> T:
        """Runs ``work(cursor)`` in one transaction, committed at its end.

        A database that is away (a lost connection, a deadlock, a lock timeout) is retried
        ``max.retries`` times, ``retry.backoff.ms`` apart, then raises :class:`RetriableError` naming
        host and database. Any other database error raises :class:`BeamConnectError`; errors that
        ``work`` raises itself are passed on after the rollback.
        """
        cfg = self._config
        sqlite = self.dialect.name == "sqlite"
        for attempt in range(cfg.max_retries + 1):
            try:
                raw = self.connect()
            except RetriableError as exc:
                if attempt < cfg.max_retries:
                    time.sleep(cfg.retry_backoff_ms / 1000.0)
                    continue
                raise RetriableError("%s: %s (max.retries=%d)" % (what, exc, cfg.max_retries)) from None
            cursor = raw.cursor()
            try:
                if sqlite:
                    cursor.execute("BEGIN IMMEDIATE")
                result = work(cursor)
                if sqlite:
                    cursor.execute("COMMIT")
                else:
                    raw.commit()
                return result
            except Exception as exc:
                self._rollback(raw, cursor, sqlite)
                if isinstance(exc, RetriableError) and attempt < cfg.max_retries:
                    _LOGGER.warning("%s: %s; trying again", what, exc)
                    time.sleep(cfg.retry_backoff_ms / 1000.0)
                    continue
                if not _is_driver_error(exc):
                    raise
                if not self._retriable(exc):
                    raise BeamConnectError("%s in %s failed: %s" % (what, self._target.describe(),
                                                                    self._message(exc))) from None
                _LOGGER.warning("%s in %s failed (try %d of %d): %s", what, self._target.describe(),
                                attempt + 1, cfg.max_retries + 1, self._message(exc))
                self._drop()
                if attempt < cfg.max_retries:
                    time.sleep(cfg.retry_backoff_ms / 1000.0)
                    continue
                raise RetriableError("%s in %s failed after %d tries (max.retries=%d): %s" % (
                    what, self._target.describe(), cfg.max_retries + 1, cfg.max_retries,
                    self._message(exc))) from None
        raise AssertionError("unreachable")

    def _rollback(self, raw, cursor, sqlite: bool) -> None:
        try:
            if sqlite:
                cursor.execute("ROLLBACK")
            else:
                raw.rollback()
        except Exception:
            self._drop()

    def _drop(self) -> None:
        if self._raw is not None:
            try:
                self._raw.close()
            except Exception:
                pass
            self._raw = None


def _is_driver_error(exc: Exception) -> bool:
    """Whether ``exc`` comes from the database driver (or SQLAlchemy), not from the sink's own code."""
    orig = getattr(exc, "orig", None) or exc
    return type(orig).__module__.split(".")[0] in ("psycopg", "pymysql", "sqlite3", "sqlalchemy")
