"""A throwaway NATS server with JetStream, built from nats-server's Go module.

:func:`ensure_nats_server` builds ``github.com/nats-io/nats-server/v2`` at :data:`VERSION` once with
``go install`` into ``${BEAMCONNECT_CACHE:-~/.cache/beamconnect}/nats-server-<version>/nats-server``
(under a file lock, into a partial directory renamed when complete, so that several processes can ask
at once and an interrupted build starts again). :class:`LocalNats` runs it in the foreground::

    nats-server -a 127.0.0.1 -p PORT -js -sd DIR/jetstream -c DIR/nats.conf

with file storage in its own directory, so that :meth:`~tests.servers.base.ServerProcess.pause` and
``resume`` restart it with its streams, messages and duplicate-detection windows as they were. The
config file holds what the command line cannot say: password users (``users``), ``max_payload`` and
any other lines given (``config``: permissions, say).
Without users the server takes anonymous clients. It is stopped with SIGTERM, its normal shutdown.
"""

from __future__ import annotations

import json
import logging
import pathlib
import socket
import subprocess
from typing import Mapping, Optional, Sequence

from common.errors import BeamConnectError
from pipelines.dev_cache import cached, go_executable, run_go
from tests.servers.base import HOST, ServerProcess

_LOGGER = logging.getLogger(__name__)

MODULE = "github.com/nats-io/nats-server/v2"
VERSION = "v2.15.3"


def ensure_nats_server(version: str = VERSION) -> pathlib.Path:
    """Builds nats-server ``version`` unless already built; returns the binary's path.

    Raises:
      BeamConnectError: Go is missing or the build failed (with the end of its output).
    """
    what = "nats-server (go install %s@%s)" % (MODULE, version)
    go_executable(what)

    def make(home: pathlib.Path) -> str:
        _LOGGER.info("building nats-server %s with go install (once)", version)
        run_go(["install", "%s@%s" % (MODULE, version)], what, env={"GOBIN": str(home), "CGO_ENABLED": "0"})
        if not (home / "nats-server").is_file():
            raise BeamConnectError("go install %s@%s finished but built no nats-server" % (MODULE, version))
        return "nats-server %s" % version

    return cached("nats-server-%s" % version.lstrip("v"), make) / "nats-server"


class LocalNats(ServerProcess):
    """A nats-server of its own with JetStream (file storage) on 127.0.0.1 and a free port.

    Example::

        with LocalNats(users={"beam": "secret"}) as server:
            nats.connect(server.url, user="beam", password="secret")

    Args:
      options: Extra ``nats-server`` options.
      users: Password users (name to password); none: anonymous clients are taken.
      max_payload: The server's ``max_payload`` in bytes (its default is 1 MB).
      config: More lines of the config file (an ``authorization`` block with permissions, instead
        of ``users``).
    """

    name = "NATS"

    def __init__(self, options: Sequence[str] = (), users: Optional[Mapping[str, str]] = None,
                 max_payload: Optional[int] = None, config: str = ""):
        super().__init__(options)
        self.users = dict(users or {})
        self.max_payload = max_payload
        self.config = config

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:PORT``."""
        return "nats://%s:%d" % (HOST, self.port)

    def _initialize(self) -> None:
        lines = []
        if self.max_payload is not None:
            lines.append("max_payload: %d" % self.max_payload)
        if self.users:
            entries = ", ".join("{user: %s, password: %s}" % (json.dumps(u), json.dumps(p))
                                for u, p in sorted(self.users.items()))
            lines.append("authorization { users = [%s] }" % entries)
        if self.config:
            lines.append(self.config)
        (self.workdir / "nats.conf").write_text("\n".join(lines) + "\n")
        (self.workdir / "jetstream").mkdir()

    def _launch(self) -> subprocess.Popen:
        binary = ensure_nats_server()
        with open(self.workdir / "nats.log", "ab") as log:
            return subprocess.Popen(
                [str(binary), "-a", HOST, "-p", str(self.port), "-js",
                 "-sd", str(self.workdir / "jetstream"), "-c", str(self.workdir / "nats.conf")]
                + list(self.options),
                stdout=log, stderr=subprocess.STDOUT, **self._popen_options())

    def _ping(self) -> bool:
        """Whether the server greets with an INFO line that announces JetStream."""
        try:
            with socket.create_connection((HOST, self.port), timeout=1.0) as sock:
                greeting = b""
                while not greeting.endswith(b"\r\n") and len(greeting) < 65536:
                    chunk = sock.recv(4096)
                    if not chunk:
                        return False
                    greeting += chunk
        except OSError:
            return False
        if not greeting.startswith(b"INFO "):
            return False
        try:
            return bool(json.loads(greeting[5:]).get("jetstream"))
        except ValueError:
            return False

    def _log_files(self) -> Sequence[pathlib.Path]:
        return [self.workdir / "nats.log"] if self.workdir is not None else []
