"""A throwaway mosquitto MQTT broker (Debian's ``mosquitto`` 2.0) on 127.0.0.1 and a free port.

The broker runs in the foreground with a config file of its own in a temporary directory:

- ``listener <port> 127.0.0.1``, MQTT 5 / 3.1.1;
- persistence on, in that directory: sessions, subscriptions and queued QoS 1 messages survive a
  restart (:meth:`~tests.servers.base.ServerProcess.pause` sends SIGTERM, on which mosquitto saves its
  database), and a client's queue holds up to a million messages, so a persistent subscriber away
  while thousands arrive loses none. Three traps of mosquitto 2.0.11, seen here: it restores the
  sessions of MQTT 3.1.1 clients but not those of MQTT 5 clients; a restored session gets no new
  messages until its client reconnects; and with ``max_queued_messages 0`` (no limit) it closes a
  client's connection right after refusing one of its publishes;
- anonymous clients by default; with ``users``, a password file made by ``mosquitto_passwd -U`` (the
  passwords never reach a command line) and ``allow_anonymous false``;
- an ACL file: anonymous clients may publish and subscribe to everything but topics under
  :data:`REFUSED_PREFIX`, whose publishes mosquitto denies (MQTT 5: a PUBACK with reason code 0x87
  *Not authorized*). Password users have no ACL restriction;
- ``user root`` when the suite runs as root (mosquitto otherwise drops to the ``mosquitto`` user, which
  cannot write the directory).
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
from typing import Mapping, Optional, Sequence

from tests.servers.base import HOST, ServerProcess, find_binary, kill_group

#: Anonymous publishes to this topic and below it are denied by the broker's ACL.
REFUSED_PREFIX = "refused"


class LocalMosquitto(ServerProcess):
    """A mosquitto broker of its own.

    Example::

        with LocalMosquitto() as broker:
            client.connect(broker.host, broker.port)

    Args:
      options: Extra config file lines (``["max_packet_size 2000"]``).
      users: ``{user: password}``; when given, only these users may connect.
    """

    name = "mosquitto"

    def __init__(self, options: Sequence[str] = (), users: Optional[Mapping[str, str]] = None):
        super().__init__(options)
        self.users = dict(users or {})

    @property
    def host(self) -> str:
        return HOST

    @property
    def url(self) -> str:
        """``tcp://127.0.0.1:<port>``, as ``mqtt.server.uri`` takes it."""
        return "tcp://%s:%d" % (HOST, self.port)

    def _initialize(self) -> None:
        workdir = self.workdir
        (workdir / "data").mkdir()
        lines = ["listener %d %s" % (self.port, HOST),
                 "persistence true",
                 "persistence_location %s/" % (workdir / "data"),
                 "max_queued_messages 1000000",
                 "log_dest file %s" % (workdir / "mosquitto.log"),
                 "log_type error", "log_type warning", "log_type notice", "log_type information",
                 "connection_messages true"]
        if os.geteuid() == 0:
            lines.append("user root")
        if self.users:
            passwords = workdir / "passwd"
            passwords.write_text("".join("%s:%s\n" % item for item in self.users.items()))
            passwords.chmod(0o600)
            self._run_tool([find_binary("mosquitto_passwd"), "-U", str(passwords)],
                           "hashing the password file")
            lines += ["allow_anonymous false", "password_file %s" % passwords]
        else:
            acl = workdir / "acl"
            acl.write_text("topic readwrite #\ntopic deny %s/#\n" % REFUSED_PREFIX)
            lines += ["allow_anonymous true", "acl_file %s" % acl]
        (workdir / "mosquitto.conf").write_text("\n".join(lines + list(self.options)) + "\n")

    def _launch(self) -> subprocess.Popen:
        with open(self.workdir / "mosquitto.out", "ab") as output:
            return subprocess.Popen([find_binary("mosquitto"), "-c", str(self.workdir / "mosquitto.conf")],
                                    stdout=output, stderr=subprocess.STDOUT,
                                    **self._popen_options(signal.SIGTERM))

    def _shutdown(self, process: subprocess.Popen) -> None:
        if not kill_group(process, signal.SIGTERM, self.name, 10.0):
            kill_group(process, signal.SIGKILL, self.name, 10.0)

    def _log_files(self) -> Sequence[pathlib.Path]:
        if self.workdir is None:
            return []
        return [self.workdir / "mosquitto.out", self.workdir / "mosquitto.log"]
