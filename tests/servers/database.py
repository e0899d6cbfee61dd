"""Where a test database is, and SQL run on it through the server's own command-line client.

:class:`Database` is what the ``postgres`` and ``mariadb`` fixtures yield: host, port, database, user and
password, the JDBC and SQLAlchemy URLs a connector config or a driver takes, and :meth:`Database.execute`,
so that checking a sink's writes needs no Python driver.
"""

from __future__ import annotations

import abc
import dataclasses
import os
import subprocess
import urllib.parse
from typing import ClassVar, Dict, List, Optional, Sequence, Tuple

from common.errors import BeamConnectError, ConfigError

Row = Tuple[Optional[str], ...]


class QueryError(BeamConnectError):
    """The command-line client refused the connection or the SQL; the message is the client's error."""


@dataclasses.dataclass(frozen=True)
class Database(abc.ABC):
    """One database on a server, and a login to it.

    Rows from :meth:`execute` hold values as the server's client prints them, as text (``None`` for NULL):
    PostgreSQL prints booleans as ``t``/``f``, MariaDB as ``1``/``0``; select binary columns as hex.

    Args:
      host: The server's host name or address.
      port: Its TCP port.
      database: The database the user works in.
      user: The login.
      password: The login's password; left out of ``repr``.
    """

    host: str
    port: int
    database: str
    user: str
    password: str = dataclasses.field(repr=False)

    jdbc_scheme: ClassVar[str]
    sqlalchemy_scheme: ClassVar[str]
    default_port: ClassVar[int]
    url_schemes: ClassVar[Tuple[str, ...]]
    """The dialect names :meth:`from_url` accepts before an optional ``+driver``."""

    @property
    def jdbc_url(self) -> str:
        """``jdbc:<scheme>://HOST:PORT/DATABASE``, without credentials (Connect's ``connection.url``)."""
        return "jdbc:%s://%s:%d/%s" % (self.jdbc_scheme, _url_host(self.host), self.port, self.database)

    @property
    def sqlalchemy_url(self) -> str:
        """``<dialect>+<driver>://USER:PASSWORD@HOST:PORT/DATABASE``, credentials percent-encoded."""
        return "%s://%s:%s@%s:%d/%s" % (
            self.sqlalchemy_scheme, _quote(self.user), _quote(self.password), _url_host(self.host), self.port,
            _quote(self.database))

    @classmethod
    def from_url(cls, url: str, variable: str) -> "Database":
        """Parses a SQLAlchemy URL naming an existing server, as the ``BEAMCONNECT_*_URL`` variables hold.

        Args:
          url: ``<dialect>[+<driver>]://USER[:PASSWORD]@HOST[:PORT]/DATABASE``.
          variable: Where the URL came from, for error messages (which never show the password).

        Raises:
          ConfigError: The URL is not of that form.
        """
        example = "%s://USER:PASSWORD@HOST:PORT/DATABASE" % cls.sqlalchemy_scheme
        parts = urllib.parse.urlsplit(url)

        def invalid(what: str) -> ConfigError:
            return ConfigError("%s must be a URL like %s %s, got %r" % (variable, example, what, _masked(url)))

        dialect = parts.scheme.split("+", 1)[0]
        if dialect not in cls.url_schemes:
            allowed = ", ".join(repr(scheme + "[+driver]") for scheme in cls.url_schemes)
            raise invalid("(scheme %s)" % allowed)
        try:
            port = parts.port or cls.default_port
        except ValueError:
            raise invalid("(a numeric port)") from None
        database = urllib.parse.unquote(parts.path[1:])
        if not parts.hostname or not parts.username or not database or "/" in database:
            raise invalid("(a host, a user and a database)")
        if parts.query or parts.fragment:
            raise invalid("(without query parameters)")
        return cls(host=parts.hostname, port=port, database=database, user=urllib.parse.unquote(parts.username),
                   password=urllib.parse.unquote(parts.password or ""))

    @abc.abstractmethod
    def execute(self, sql: str, timeout: float = 60.0) -> List[Row]:
        """Runs SQL (one or more ``;``-separated statements) over TCP with this login.

        Args:
          sql: The statements, sent to the client on stdin (never on its command line).
          timeout: Seconds the client may take.

        Returns:
          The rows of every statement that returns rows, in order, each a tuple of text values.

        Raises:
          QueryError: The server refused the login or a statement (the first failing one ends the run).
        """


def run_client(argv: Sequence[str], sql: str, env: Dict[str, str], timeout: float, where: str) -> str:
    """Runs a command-line SQL client with ``sql`` on stdin and returns its output.

    Raises:
      QueryError: The client failed; the message is its error output, naming ``where`` it connected.
    """
    client = os.path.basename(argv[0])
    try:
        result = subprocess.run(list(argv), input=sql.encode("utf-8"), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise QueryError("%s did not finish within %.0f s on %s" % (client, timeout, where)) from None
    if result.returncode != 0:
        raise QueryError("%s failed on %s (exit code %d): %s" % (
            client, where, result.returncode, result.stderr.decode("utf-8", "replace").strip()))
    return result.stdout.decode("utf-8")


def client_env(**variables: str) -> Dict[str, str]:
    """This process's environment without the clients' own variables (``PG*``, ``MYSQL*``), plus ``variables``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PG", "MYSQL", "MARIADB"))}
    env.update(variables)
    return env


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def _url_host(host: str) -> str:
    return "[%s]" % host if ":" in host else host


def _masked(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":%s@" % parts.password, ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
