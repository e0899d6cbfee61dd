"""Session fixtures ``postgres`` and ``mariadb``: a real database server each, started when a test asks.

Each yields a :class:`~tests.servers.base.Database`: ``host``, ``port``, ``database``, ``user``,
``password``, ``jdbc_url``, ``sqlalchemy_url`` and ``execute(sql) -> rows``. The server is the suite's own
launcher (Debian's PostgreSQL or MariaDB, in a temporary directory, stopped with the session).

Set ``BEAMCONNECT_POSTGRES_URL`` / ``BEAMCONNECT_MARIADB_URL`` to a SQLAlchemy URL
(``postgresql://USER:PASSWORD@HOST:PORT/DATABASE``, ``mysql://...``) to run against an existing server
instead. Every test shares the one database, so tests name their tables uniquely.
"""

import os
from typing import Iterator, Type

import pytest

from tests.servers.base import LocalServer
from tests.servers.database import Database, QueryError
from tests.servers.mariadb import LocalMariaDB, MariaDBDatabase
from tests.servers.postgres import LocalPostgres, PostgresDatabase

POSTGRES_URL_VARIABLE = "BEAMCONNECT_POSTGRES_URL"
MARIADB_URL_VARIABLE = "BEAMCONNECT_MARIADB_URL"


def open_database(variable: str, database_class: Type[Database], launcher: Type[LocalServer]) -> Iterator[Database]:
    """Yields the database of the server ``variable`` names, or of a new local server stopped afterwards.

    Raises:
      ConfigError: ``variable`` holds an invalid URL.
      QueryError: The server it names refuses the login.
    """
    url = os.environ.get(variable)
    if url:
        database = database_class.from_url(url, variable)
        try:
            database.execute("SELECT 1")
        except QueryError as e:
            raise QueryError("the server %s names cannot be used: %s" % (variable, e)) from None
        yield database
        return
    server = launcher().start()
    try:
        yield server.database
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL database: a local PostgreSQL server's, or the one ``BEAMCONNECT_POSTGRES_URL`` names."""
    yield from open_database(POSTGRES_URL_VARIABLE, PostgresDatabase, LocalPostgres)


@pytest.fixture(scope="session")
def mariadb():
    """A MariaDB database: a local MariaDB server's, or the one ``BEAMCONNECT_MARIADB_URL`` names."""
    yield from open_database(MARIADB_URL_VARIABLE, MariaDBDatabase, LocalMariaDB)
