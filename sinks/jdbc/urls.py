"""``connection.url``: JDBC URLs (and SQLAlchemy URLs) as SQLAlchemy engine arguments.

``jdbc:postgresql://host:port/db?sslmode=require&currentSchema=s``, ``jdbc:mysql://host/db``,
``jdbc:mariadb://host/db``, ``jdbc:sqlite:/path/file.db`` (or ``jdbc:sqlite::memory:``), and SQLAlchemy's
own ``postgresql://``, ``mysql+pymysql://``, ``sqlite:///``. The drivers are fixed: psycopg 3 for
PostgreSQL, PyMySQL for MySQL and MariaDB, the standard library's sqlite3.

A password may come from ``connection.password`` or the URL (``?password=`` or ``user:pass@``); it is
kept as a :class:`~common.configdef.Password` and never appears in what :class:`Target` prints.
"""

from __future__ import annotations

import dataclasses
import logging
import urllib.parse
from typing import Mapping, Optional

from common.configdef import Password
from common.errors import ConfigError

_LOGGER = logging.getLogger(__name__)

DIALECTS = ("postgresql", "mysql", "sqlite")
_SCHEMES = {"postgresql": "postgresql", "postgres": "postgresql", "mysql": "mysql",
            "mariadb": "mysql", "sqlite": "sqlite"}
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}

# JDBC URL parameters understood, per dialect: {JDBC name: driver keyword (None: accepted, no effect)}.
_PARAMETERS = {
    "postgresql": {"sslmode": "sslmode", "sslrootcert": "sslrootcert", "sslcert": "sslcert",
                   "sslkey": "sslkey", "ssl": None, "connectTimeout": "connect_timeout",
                   "ApplicationName": "application_name", "applicationName": "application_name",
                   "currentSchema": None, "user": None, "password": None, "options": "options",
                   "targetServerType": None, "reWriteBatchedInserts": None, "stringtype": None},
    "mysql": {"useSSL": None, "sslMode": None, "requireSSL": None, "serverTimezone": None,
              "characterEncoding": None, "useUnicode": None, "allowPublicKeyRetrieval": None,
              "rewriteBatchedStatements": None, "connectTimeout": "connect_timeout",
              "user": None, "password": None, "sessionVariables": None, "zeroDateTimeBehavior": None,
              "allowLoadLocalInfile": "local_infile"},
    "sqlite": {},
}


@dataclasses.dataclass(frozen=True)
class Target:
    """Where the sink writes: a database, how to reach it, and who connects.

    Attributes:
      dialect: ``postgresql``, ``mysql`` (MySQL and MariaDB) or ``sqlite``.
      host: Server host (None for SQLite).
      port: Server port.
      database: Database name, or the SQLite file (``:memory:``).
      user: User name, or None.
      password: The password (hidden in ``repr``), or None.
      schema: PostgreSQL's ``currentSchema``: where unqualified tables go.
      connect_args: Driver keywords (``sslmode``, ``connect_timeout``...).
    """

    dialect: str
    host: Optional[str]
    port: Optional[int]
    database: str
    user: Optional[str] = None
    password: Optional[Password] = dataclasses.field(default=None, repr=False)
    schema: Optional[str] = None
    connect_args: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def describe(self) -> str:
        """``postgresql database 'shop' at db1:5432 as user 'connect'``: for messages; no password."""
        if self.dialect == "sqlite":
            return "sqlite database %r" % self.database
        text = "%s database %r at %s:%s" % (self.dialect, self.database, self.host, self.port)
        return text + (" as user %r" % self.user if self.user else "")

    def sqlalchemy_url(self):
        """The SQLAlchemy URL object (its string form hides the password)."""
        import sqlalchemy

        if self.dialect == "sqlite":
            return sqlalchemy.engine.URL.create("sqlite", database=self.database)
        driver = "postgresql+psycopg" if self.dialect == "postgresql" else "mysql+pymysql"
        return sqlalchemy.engine.URL.create(driver, username=self.user,
                                            password=str.__str__(self.password) if self.password else None,
                                            host=self.host, port=self.port, database=self.database)


def parse_url(url: str, user: Optional[str] = None, password: Optional[str] = None) -> Target:
    """Parses ``connection.url`` with ``connection.user`` / ``connection.password`` beside it.

    Raises:
      ConfigError: naming the URL (without any password), what is wrong and what is allowed.
    """
    text = url.strip()
    if text.startswith("jdbc:"):
        text = text[len("jdbc:"):]
    scheme, sep, rest = text.partition(":")
    base = scheme.split("+", 1)[0].lower()
    if not sep or base not in _SCHEMES:
        raise ConfigError("connection.url must be a jdbc:postgresql://, jdbc:mysql://, jdbc:mariadb:// or "
                          "jdbc:sqlite: URL (or a SQLAlchemy URL), got %r" % _shown(url))
    dialect = _SCHEMES[base]
    if dialect == "sqlite":
        path = rest
        if path.startswith("///"):
            path = path[3:] if not path.startswith("////") else path[3:]
        elif path.startswith("//"):
            path = path[2:]
        path = path.split("?", 1)[0] or ":memory:"
        if path == "memory:":
            path = ":memory:"
        return Target("sqlite", None, None, path)
    if not rest.startswith("//"):
        raise ConfigError("connection.url must name a host, as %s://HOST[:PORT]/DATABASE, got %r"
                          % (scheme, _shown(url)))
    parts = urllib.parse.urlsplit("x:" + rest)
    params = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    if ";" in parts.path:  # jdbc:mysql://h/db;k=v style is not supported
        raise ConfigError("connection.url parameters go after '?', got %r" % _shown(url))
    database = urllib.parse.unquote(parts.path.lstrip("/"))
    if not database:
        raise ConfigError("connection.url must name a database, as %s://HOST[:PORT]/DATABASE, got %r"
                          % (scheme, _shown(url)))
    try:
        port = parts.port or DEFAULT_PORTS[dialect]
    except ValueError:
        raise ConfigError("connection.url has an invalid port, got %r" % _shown(url)) from None
    known = _PARAMETERS[dialect]
    args = {}
    for name, value in params.items():
        if name not in known:
            raise ConfigError("connection.url parameter %r is not supported for %s; supported: %s"
                              % (name, dialect, ", ".join(sorted(known))))
        if known[name] is None and name not in ("user", "password", "currentSchema"):
            _LOGGER.warning("connection.url parameter %s has no effect here", name)
        elif known[name] is not None:
            args[known[name]] = value
    if dialect == "mysql" and params.get("sslMode", "").upper() in ("REQUIRED", "VERIFY_CA",
                                                                      "VERIFY_IDENTITY"):
        args["ssl"] = {}
    url_user = urllib.parse.unquote(parts.username) if parts.username else params.get("user")
    url_password = (urllib.parse.unquote(parts.password) if parts.password is not None
                    else params.get("password"))
    secret = password if password else url_password
    return Target(dialect, parts.hostname, port, database, user or url_user or None,
                  Password(secret) if secret else None, params.get("currentSchema") or None,
                  args)


def _shown(url: str) -> str:
    """The URL with any password replaced by ``[hidden]``."""
    try:
        parts = urllib.parse.urlsplit(url.replace("jdbc:", "", 1))
    except ValueError:
        return "[unparseable URL]"
    shown = url
    if parts.password:
        shown = shown.replace(":" + parts.password + "@", ":[hidden]@")
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    if query.get("password"):
        shown = shown.replace("password=" + urllib.parse.quote(query["password"], safe=""),
                              "password=[hidden]").replace("password=" + query["password"],
                                                           "password=[hidden]")
    return shown
