"""A throwaway PostgreSQL server, and a database on any PostgreSQL server reached through ``psql``.

The server runs from Debian's ``postgresql`` package (``/usr/lib/postgresql/<version>/bin``, the newest
installed version): ``initdb`` into a temporary directory, then ``postgres`` in the foreground on 127.0.0.1
and a free port, with its Unix socket in that directory, ``fsync=off`` and ``TimeZone=UTC``.

Connections over the socket are trusted (the launcher uses them, as the ``postgres`` superuser, to create
the user and database); connections over TCP need a password (SCRAM-SHA-256). The login user
:data:`~tests.servers.base.USER` owns the database :data:`~tests.servers.base.DATABASE`, so the tables a
sink creates and the tables a test creates through :meth:`PostgresDatabase.execute` have the same owner.
Its password is sent to the server only as a SCRAM verifier, so no server log can show it.

The server is started directly rather than with ``pg_ctl start``: ``pg_ctl`` leaves the server running
detached from the process that started it, where no parent-death signal reaches it. It is stopped with
``pg_ctl stop -m fast``, and by pid when that fails.
"""

from __future__ import annotations

import base64
import functools
import glob
import hashlib
import hmac
import logging
import os
import pathlib
import signal
import subprocess
from typing import List, Sequence

from common.errors import BeamConnectError
from tests.servers.base import HOST, LocalServer, find_binary, kill_group
from tests.servers.database import Database, Row, client_env, run_client

_LOGGER = logging.getLogger(__name__)

_STOP_TIMEOUT_S = 20.0
_SUPERUSER = "postgres"
# psql's unaligned output with separators that text values do not hold: a NUL ends each row (PostgreSQL
# text cannot contain NUL), the unit separator divides the fields, and the record separator stands for NULL.
_FIELD_SEPARATOR = "\x1f"
_NULL = "\x1e"


@functools.lru_cache(maxsize=None)
def postgres_bin_dir() -> str:
    """The bin directory of the newest PostgreSQL in ``/usr/lib/postgresql``, else the one of ``initdb`` on PATH."""
    versions = [pathlib.Path(path).parent for path in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    if versions:
        return str(max(versions, key=lambda bin_dir: int(bin_dir.parent.name) if bin_dir.parent.name.isdigit() else -1))
    return os.path.dirname(find_binary("initdb"))


def _binary(name: str) -> str:
    return find_binary(name, [postgres_bin_dir()])


class PostgresDatabase(Database):
    """A database on a PostgreSQL server; :meth:`execute` runs ``psql`` over TCP."""

    jdbc_scheme = "postgresql"
    sqlalchemy_scheme = "postgresql+psycopg"
    default_port = 5432
    url_schemes = ("postgresql", "postgres")

    def execute(self, sql: str, timeout: float = 60.0) -> List[Row]:
        argv = [_binary("psql"), "-X", "-q", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1", "-0",
                "-F", _FIELD_SEPARATOR, "-P", "null=" + _NULL,
                "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", self.database, "-f", "-"]
        env = client_env(PGPASSWORD=self.password, PGCLIENTENCODING="UTF8", PGCONNECT_TIMEOUT="10")
        return _parse(run_client(argv, sql, env, timeout, self.jdbc_url))


def _parse(output: str) -> List[Row]:
    rows = output.split("\0")[:-1]  # Every row, the last one too, ends with a NUL.
    return [tuple(None if value == _NULL else value for value in row.split(_FIELD_SEPARATOR)) for row in rows]


def scram_sha_256_verifier(password: str, iterations: int = 4096) -> str:
    """The form PostgreSQL stores a SCRAM-SHA-256 password in (RFC 5802, RFC 7677), with a random salt.

    ``CREATE ROLE ... PASSWORD '<verifier>'`` sets the password without sending it.
    """
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    stored_key = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    encode = lambda data: base64.b64encode(data).decode("ascii")  # noqa: E731
    return "SCRAM-SHA-256$%d:%s$%s:%s" % (iterations, encode(salt), encode(stored_key), encode(server_key))


class LocalPostgres(LocalServer):
    """A PostgreSQL server of its own on 127.0.0.1 and a free port.

    Example::

        with LocalPostgres() as server:
            server.database.execute("CREATE TABLE t (id int PRIMARY KEY)")

    Args:
      options: Extra ``postgres`` options, e.g. ``["-c", "shared_buffers=256MB"]``.
    """

    name = "PostgreSQL"
    system_user = "postgres"
    database_class = PostgresDatabase

    @property
    def _data(self) -> pathlib.Path:
        return self.workdir / "data"

    @property
    def _sockets(self) -> pathlib.Path:
        return self.workdir / "sockets"

    def _initialize(self) -> None:
        self._run_tool([_binary("initdb"), "-D", str(self._data), "-U", _SUPERUSER, "--auth-local=trust",
                        "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
                       "initdb", as_owner=True)
        self._make_owned_dir(self._sockets)

    def _launch(self) -> subprocess.Popen:
        with open(self.workdir / "postgres.log", "wb") as log:
            return subprocess.Popen(
                [_binary("postgres"), "-D", str(self._data), "-h", HOST, "-p", str(self.port),
                 "-k", str(self._sockets), "-c", "fsync=off", "-c", "TimeZone=UTC"] + list(self.options),
                stdout=log, stderr=subprocess.STDOUT,
                # SIGINT is the fast shutdown: it ends client sessions instead of waiting for them.
                **self._popen_options(signal.SIGINT))

    def _ping(self) -> bool:
        ready = subprocess.run([_binary("pg_isready"), "-q", "-h", HOST, "-p", str(self.port), "-t", "2"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=client_env())
        return ready.returncode == 0

    def _create_database(self, user: str, password: str, database: str) -> None:
        sql = ('CREATE ROLE "%s" LOGIN PASSWORD \'%s\';\nCREATE DATABASE "%s" OWNER "%s";\n'
               % (user, scram_sha_256_verifier(password), database, user))
        self._run_tool([_binary("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(self._sockets),
                        "-p", str(self.port), "-U", _SUPERUSER, "-d", "postgres", "-f", "-"],
                       "creating the user and database", input=sql)

    def _shutdown(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            try:
                self._run_tool([_binary("pg_ctl"), "-D", str(self._data), "-m", "fast", "-w",
                                "-t", str(int(_STOP_TIMEOUT_S)), "stop"], "pg_ctl stop", as_owner=True,
                               timeout=_STOP_TIMEOUT_S + 5)
            except BeamConnectError as e:  # The fallback below stops it by pid.
                _LOGGER.warning("%s; stopping it by pid", e)
        if not kill_group(process, signal.SIGINT, self.name, 5.0):  # A no-op when already reaped.
            if not kill_group(process, signal.SIGQUIT, self.name, 5.0):
                kill_group(process, signal.SIGKILL, self.name, 30.0)

    def _log_files(self) -> Sequence[pathlib.Path]:
        return [self.workdir / "postgres.log"] if self.workdir is not None else []
