"""The suite's database servers: up, a SQL round trip, a password required over TCP, and stopped for good."""

import dataclasses
import pathlib
import re
import select
import signal
import subprocess
import sys
import time
import uuid

import pytest

from common.errors import BeamConnectError, ConfigError
from pipelines.processes import accepts_connections
from tests.servers import fixtures
from tests.servers.base import process_alive
from tests.servers.database import QueryError
from tests.servers.mariadb import LocalMariaDB, MariaDBDatabase
from tests.servers.postgres import LocalPostgres, PostgresDatabase

REPO = pathlib.Path(__file__).resolve().parents[2]
LAUNCHERS = [pytest.param(LocalPostgres, id="postgres"), pytest.param(LocalMariaDB, id="mariadb")]
# What each client says when the server refuses the login (psql does not try without a password).
REFUSALS = {PostgresDatabase: ['password authentication failed for user "beam"', "fe_sendauth: no password supplied"],
            MariaDBDatabase: ["Access denied for user 'beam'"]}


@pytest.fixture(params=["postgres", "mariadb"])
def database(request):
    return request.getfixturevalue(request.param)


def _wait_gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while process_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_server_is_up(database):
    assert database.execute("SELECT 1") == [("1",)]
    [(current_user,)] = database.execute("SELECT CURRENT_USER")
    assert current_user.split("@")[0] == database.user  # MariaDB adds the host part: beam@%


def test_execute_round_trips_create_insert_select(database):
    table = "t_%s" % uuid.uuid4().hex[:12]
    text = "tab\tnewline\nunicode é ✓ <&>"
    assert database.execute("CREATE TABLE %s (id INT PRIMARY KEY, v VARCHAR(100));\n"
                            "INSERT INTO %s VALUES (1, NULL), (2, ''), (3, '%s'), (4, 'NULL');"
                            % (table, table, text)) == []
    assert database.execute("SELECT id, v FROM %s ORDER BY id; SELECT COUNT(*) FROM %s" % (table, table)) == [
        ("1", None), ("2", ""), ("3", text), ("4", "NULL"), ("4",)]


def test_execute_raises_the_servers_error(database):
    with pytest.raises(QueryError, match="no_such_table"):
        database.execute("SELECT * FROM no_such_table")


def test_urls_and_repr_name_the_server_but_hide_the_password(database):
    scheme = {PostgresDatabase: "postgresql", MariaDBDatabase: "mariadb"}[type(database)]
    assert database.jdbc_url == "jdbc:%s://%s:%d/%s" % (scheme, database.host, database.port, database.database)
    driver = {PostgresDatabase: "postgresql+psycopg", MariaDBDatabase: "mysql+pymysql"}[type(database)]
    assert database.sqlalchemy_url == "%s://%s:%s@%s:%d/%s" % (
        driver, database.user, database.password, database.host, database.port, database.database)
    assert database.password and database.password not in repr(database) + database.jdbc_url


@pytest.mark.parametrize("password", ["wrong-password", ""])
def test_a_wrong_password_is_refused_over_tcp(database, password):
    refusal = "|".join(re.escape(message) for message in REFUSALS[type(database)])
    with pytest.raises(QueryError, match=refusal) as raised:
        dataclasses.replace(database, password=password).execute("SELECT 1")
    assert database.password not in str(raised.value)


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_stop_ends_the_server_and_removes_its_directory(launcher):
    server = launcher().start()
    pid, port, workdir = server.pid, server.port, server.workdir
    try:
        assert process_alive(pid) and accepts_connections(port)
        assert server.database.execute("SELECT 2") == [("2",)]
        logs = "".join(path.read_text(errors="replace") for path in workdir.glob("*.log") if path.is_file())
        assert server.database.password not in logs
    finally:
        server.stop()
    assert not process_alive(pid)
    assert not accepts_connections(port)
    assert not workdir.exists()
    server.stop()  # Idempotent.


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_the_server_dies_with_a_killed_owner_and_its_directory_goes_at_the_next_start(launcher):
    script = ("import time\nfrom %s import %s\nserver = %s().start()\nprint(server.pid, server.workdir, flush=True)\n"
              "time.sleep(600)\n" % (launcher.__module__, launcher.__name__, launcher.__name__))
    owner = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([owner.stdout], [], [], 60)
        assert ready, "the server did not start within 60 s"
        line = owner.stdout.readline()
        assert line, "the server did not start (the error is in the output above)"
        pid, workdir = int(line.split()[0]), pathlib.Path(line.split()[1])
        assert process_alive(pid)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    assert _wait_gone(pid), "the server (pid %d) outlived the process that started it" % pid
    assert workdir.exists()  # Nothing ran to delete it.
    with launcher() as server:
        assert not workdir.exists()
        assert server.database.execute("SELECT 3") == [("3",)]


@pytest.mark.parametrize("launcher, option, logged", [
    pytest.param(LocalPostgres, ["-c", "no_such_setting=1"], 'unrecognized configuration parameter "no_such_setting"',
                 id="postgres"),
    pytest.param(LocalMariaDB, ["--no-such-option"], "unknown option '--no-such-option'", id="mariadb"),
])
def test_a_failed_start_shows_the_log_tail_and_cleans_up(launcher, option, logged):
    server = launcher(options=option)
    with pytest.raises(BeamConnectError, match=re.escape(logged)):
        server.start()
    assert server.pid is None and server.workdir is None


def test_from_url_reads_a_sqlalchemy_url():
    database = PostgresDatabase.from_url("postgresql+psycopg2://u%40x:p%2Fw@db.example:6543/some_db", "V")
    assert database == PostgresDatabase(host="db.example", port=6543, database="some_db", user="u@x",
                                        password="p/w")
    assert database.sqlalchemy_url == "postgresql+psycopg://u%40x:p%2Fw@db.example:6543/some_db"
    assert MariaDBDatabase.from_url("mysql://root@localhost/db", "V").port == 3306


@pytest.mark.parametrize("url, what", [
    ("mysql://u:secret@h/db", "(scheme 'postgresql[+driver]', 'postgres[+driver]')"),
    ("postgresql://u:secret@h:port/db", "(a numeric port)"),
    ("postgresql://u:secret@h:5432/", "(a host, a user and a database)"),
    ("postgresql://u:secret@h/db?sslmode=require", "(without query parameters)"),
])
def test_from_url_names_the_variable_and_hides_the_password(url, what):
    message = ("BEAMCONNECT_POSTGRES_URL must be a URL like postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE "
               "%s, got %r" % (what, url.replace(":secret@", ":***@")))
    with pytest.raises(ConfigError, match=re.escape(message)):
        PostgresDatabase.from_url(url, "BEAMCONNECT_POSTGRES_URL")


def test_the_url_variable_points_the_fixture_at_an_existing_server(postgres, monkeypatch):
    monkeypatch.setenv(fixtures.POSTGRES_URL_VARIABLE, postgres.sqlalchemy_url)
    opened = fixtures.open_database(fixtures.POSTGRES_URL_VARIABLE, PostgresDatabase, LocalPostgres)
    assert next(opened) == postgres
    assert list(opened) == []

    monkeypatch.setenv(fixtures.POSTGRES_URL_VARIABLE, dataclasses.replace(postgres, password="x").sqlalchemy_url)
    with pytest.raises(QueryError, match=re.escape("the server BEAMCONNECT_POSTGRES_URL names cannot be used")):
        next(fixtures.open_database(fixtures.POSTGRES_URL_VARIABLE, PostgresDatabase, LocalPostgres))
