"""A throwaway MariaDB server, and a database on any MariaDB or MySQL server reached through ``mariadb``.

The server runs from Debian's ``mariadb-server`` package: ``mariadb-install-db`` into a temporary
directory, then ``mariadbd --no-defaults`` (no option file of the machine applies) in the foreground on
127.0.0.1 and a free port, with its socket, pid file and error log in that directory. Its settings:

- ``local_infile`` on, so a benchmark can compare a sink against ``LOAD DATA LOCAL INFILE`` (a client must
  allow it too: :meth:`MariaDBDatabase.execute` does, PyMySQL takes ``local_infile=True``);
- ``utf8mb4`` as the server character set and UTC as its time zone;
- no waiting for the disk on commit (``innodb_flush_log_at_trx_commit=0``, no doublewrite buffer): the data
  is thrown away, like PostgreSQL's with ``fsync=off``.

``root`` logs in without a password over the local socket only (the launcher creates the user and database
that way); over TCP only :data:`~tests.servers.base.USER` logs in, with its password. The password is sent
to the server only as its ``mysql_native_password`` hash. The server is stopped by pid (SIGTERM, its normal
shutdown).
"""

from __future__ import annotations

import hashlib
import pathlib
import re
import signal
import subprocess
import xml.etree.ElementTree as ElementTree
from typing import List, Sequence

from tests.servers.base import HOST, LocalServer, find_binary, kill_group
from tests.servers.database import Database, Row, client_env, run_client

_STOP_TIMEOUT_S = 30.0
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
# The client prints each statement's result as an XML document of its own.
_XML_DECLARATION = re.compile(r"<\?xml[^>]*\?>")
# Options both the bootstrap server of mariadb-install-db and the server take.
_STORAGE_OPTIONS = ["--innodb-log-file-size=16M", "--innodb-doublewrite=0",
                    "--innodb-flush-log-at-trx-commit=0"]


class MariaDBDatabase(Database):
    """A database on a MariaDB (or MySQL) server; :meth:`execute` runs the ``mariadb`` client over TCP.

    Values the client cannot put in XML (control characters other than tab and newline, binary data) must
    be selected through ``HEX()``.
    """

    jdbc_scheme = "mariadb"
    sqlalchemy_scheme = "mysql+pymysql"
    default_port = 3306
    url_schemes = ("mysql", "mariadb")

    def execute(self, sql: str, timeout: float = 60.0) -> List[Row]:
        argv = [find_binary("mariadb"), "--no-defaults", "--protocol=TCP", "--host=%s" % self.host,
                "--port=%d" % self.port, "--user=%s" % self.user, "--database=%s" % self.database,
                "--default-character-set=utf8mb4", "--local-infile=1", "--connect-timeout=10", "--xml"]
        # MYSQL_PWD keeps the password off the command line, where ps would show it.
        env = client_env(MYSQL_PWD=self.password)
        return _parse(run_client(argv, sql, env, timeout, self.jdbc_url))


def _parse(output: str) -> List[Row]:
    rows = []
    for document in _XML_DECLARATION.split(output):
        if document.strip():
            for row in ElementTree.fromstring(document).iter("row"):
                rows.append(tuple(None if field.get(_XSI_NIL) == "true" else (field.text or "")
                                  for field in row.iter("field")))
    return rows


def native_password_hash(password: str) -> str:
    """The hash ``mysql_native_password`` stores: ``*`` and the hex of SHA1(SHA1(password)).

    ``CREATE USER ... IDENTIFIED BY PASSWORD '<hash>'`` sets the password without sending it.
    """
    return "*" + hashlib.sha1(hashlib.sha1(password.encode("utf-8")).digest()).hexdigest().upper()


class LocalMariaDB(LocalServer):
    """A MariaDB server of its own on 127.0.0.1 and a free port.

    Example::

        with LocalMariaDB() as server:
            server.database.execute("CREATE TABLE t (id int PRIMARY KEY)")

    Args:
      options: Extra ``mariadbd`` options, e.g. ``["--innodb-buffer-pool-size=512M"]``.
    """

    name = "MariaDB"
    system_user = "mysql"
    database_class = MariaDBDatabase

    @property
    def _data(self) -> pathlib.Path:
        return self.workdir / "data"

    @property
    def _socket(self) -> pathlib.Path:
        return self.workdir / "mariadb.sock"

    def _initialize(self) -> None:
        self._run_tool([find_binary("mariadb-install-db"), "--no-defaults", "--datadir=%s" % self._data,
                        "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"]
                       + _STORAGE_OPTIONS, "mariadb-install-db", as_owner=True)

    def _launch(self) -> subprocess.Popen:
        with open(self.workdir / "mariadbd.out", "wb") as output:
            return subprocess.Popen(
                [find_binary("mariadbd"), "--no-defaults", "--datadir=%s" % self._data,
                 "--bind-address=%s" % HOST, "--port=%d" % self.port, "--socket=%s" % self._socket,
                 "--pid-file=%s" % (self.workdir / "mariadbd.pid"),
                 "--log-error=%s" % (self.workdir / "error.log"), "--skip-name-resolve", "--local-infile=1",
                 "--character-set-server=utf8mb4", "--default-time-zone=+00:00"]
                + _STORAGE_OPTIONS + list(self.options),
                stdout=output, stderr=subprocess.STDOUT, **self._popen_options(signal.SIGTERM))

    def _ping(self) -> bool:
        # mariadb-admin ping succeeds once the server answers, even when it refuses the login.
        ping = subprocess.run([find_binary("mariadb-admin"), "--no-defaults", "--protocol=TCP",
                               "--host=%s" % HOST, "--port=%d" % self.port, "--connect-timeout=2", "ping"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=client_env())
        return ping.returncode == 0

    def _create_database(self, user: str, password: str, database: str) -> None:
        sql = ("DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost';\n"
               "FLUSH PRIVILEGES;\n"
               "CREATE DATABASE `%s` CHARACTER SET utf8mb4;\n"
               "CREATE USER '%s'@'%%' IDENTIFIED BY PASSWORD '%s';\n"
               "GRANT ALL PRIVILEGES ON `%s`.* TO '%s'@'%%';\n"
               % (database, user, native_password_hash(password), database, user))
        self._run_tool([find_binary("mariadb"), "--no-defaults", "--socket=%s" % self._socket, "--user=root"],
                       "creating the user and database", input=sql)

    def _shutdown(self, process: subprocess.Popen) -> None:
        if not kill_group(process, signal.SIGTERM, self.name, _STOP_TIMEOUT_S):
            kill_group(process, signal.SIGKILL, self.name, 30.0)

    def _log_files(self) -> Sequence[pathlib.Path]:
        if self.workdir is None:
            return []
        return [self.workdir / "mariadbd.out", self.workdir / "error.log"]
