"""A throwaway Redis server (Debian's ``redis-server`` 7) on 127.0.0.1 and a free port.

``redis-server <config file>`` in the foreground, the config in a temporary directory of its own:
``bind 127.0.0.1``, ``port <port>``, ``dir <directory>``, no RDB snapshots (``save ""``) and the
append-only file on (``appendonly yes``, fsync every second), so what was written survives
:meth:`~tests.servers.base.ServerProcess.pause` (SIGTERM: Redis syncs the AOF before it exits) and
:meth:`~tests.servers.base.ServerProcess.resume`. With ``password``, the ``default`` user needs it
(``requirepass``); with ``users``, each is an ACL user with every right on every key. Passwords go to
the config file (mode 0600), never to a command line.
"""

from __future__ import annotations

import pathlib
import signal
import socket
import subprocess
from typing import Mapping, Optional, Sequence

from tests.servers.base import HOST, ServerProcess, find_binary, kill_group


class LocalRedis(ServerProcess):
    """A Redis server of its own.

    Example::

        with LocalRedis() as server:
            redis.Redis(host=server.host, port=server.port).ping()

    Args:
      options: Extra config file lines (``["maxmemory 10mb"]``).
      password: The ``default`` user's password (``requirepass``), or None for none.
      users: ``{user: password}`` of ACL users with every right.
    """

    name = "Redis"

    def __init__(self, options: Sequence[str] = (), password: Optional[str] = None,
                 users: Optional[Mapping[str, str]] = None):
        super().__init__(options)
        self.password = password
        self.users = dict(users or {})

    @property
    def host(self) -> str:
        return HOST

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>``, as ``redis.uri`` takes it (no credentials in it)."""
        return "redis://%s:%d" % (HOST, self.port)

    def _initialize(self) -> None:
        lines = ["bind %s" % HOST, "port %d" % self.port, "dir %s" % self.workdir, 'save ""',
                 "appendonly yes", "appendfsync everysec", "daemonize no", "protected-mode no",
                 "logfile %s" % (self.workdir / "redis.log")]
        if self.password is not None:
            lines.append("requirepass %s" % self.password)
        for user, password in self.users.items():
            lines.append("user %s on >%s ~* &* +@all" % (user, password))
        config = self.workdir / "redis.conf"
        config.write_text("\n".join(lines + list(self.options)) + "\n")
        config.chmod(0o600)

    def _launch(self) -> subprocess.Popen:
        with open(self.workdir / "redis.out", "ab") as output:
            return subprocess.Popen([find_binary("redis-server"), str(self.workdir / "redis.conf")],
                                    stdout=output, stderr=subprocess.STDOUT,
                                    **self._popen_options(signal.SIGTERM))

    def _ping(self) -> bool:
        """Whether Redis answers PING (a NOAUTH refusal counts: it is up; LOADING does not)."""
        try:
            with socket.create_connection((HOST, self.port), timeout=2) as connection:
                connection.sendall(b"PING\r\n")
                reply = connection.recv(64)
        except OSError:
            return False
        return reply.startswith((b"+PONG", b"-NOAUTH"))

    def _shutdown(self, process: subprocess.Popen) -> None:
        if not kill_group(process, signal.SIGTERM, self.name, 20.0):
            kill_group(process, signal.SIGKILL, self.name, 10.0)

    def _log_files(self) -> Sequence[pathlib.Path]:
        if self.workdir is None:
            return []
        return [self.workdir / "redis.out", self.workdir / "redis.log"]
