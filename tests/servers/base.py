"""The life cycle the suite's throwaway servers share: a directory, a system user, readiness, stop.

:class:`ServerProcess` runs one server process on free loopback ports in a temporary directory of its
own, and makes sure it never outlives the test run (:class:`LocalServer`, a database server, adds a
user and a database):

- :meth:`ServerProcess.stop` (the fixtures call it in their finalizer) stops it and deletes the directory;
- an ``atexit`` hook stops every server still running when the interpreter exits;
- the server process is started with a parent-death signal (``PR_SET_PDEATHSIG``), so the kernel stops it
  when the process that started it dies, however it dies (``kill -9``, a crash, a CI cancellation).
  Linux sends it when the *thread* that started the server ends: start servers from the main thread, as
  pytest's fixtures do, or from a thread that lives as long as they should;
- a directory left behind by a killed run (its owner process is gone) is deleted by the next start.

PostgreSQL and MariaDB refuse to run as root. When the suite runs as root, a server and its set-up tools
run as the ``postgres`` / ``mysql`` system user, which their Debian packages create. The user is switched
by ``subprocess`` itself rather than by ``runuser``: ``runuser`` forks and changes credentials, and either
one clears a parent-death signal, while ``preexec_fn`` runs after ``subprocess`` has switched the user.
"""

from __future__ import annotations

import abc
import atexit
import logging
import os
import pathlib
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Callable, ClassVar, Dict, Optional, Sequence, Set

from common.errors import BeamConnectError
from pipelines.processes import accepts_connections, free_ports
from tests.servers.database import Database, client_env

_LOGGER = logging.getLogger(__name__)

HOST = "127.0.0.1"
USER = "beam"
"""The password user every local server creates; the password is new for every server."""
DATABASE = "sink_test"
"""The database every local server creates, owned by (PostgreSQL) or granted to (MariaDB) :data:`USER`."""

_OWNER_FILE = "owner.pid"
_LOG_TAIL_LINES = 30
_INSTALL_HINT = "./dev test installs it (Debian packages postgresql and mariadb-server)"


class ServerProcess(abc.ABC):
    """A server process on 127.0.0.1 and free ports, in a temporary directory of its own.

    A subclass names the server and implements its set-up, launch, readiness probe and shutdown. A server
    is started by :meth:`start` and stopped by :meth:`stop` (or by the safety nets the module docstring
    lists); :meth:`pause` and :meth:`resume` stop and start the process again on the same ports and data,
    for tests of a server that goes away mid-run.

    Args:
      options: Extra server command-line options, appended to the launcher's own.
    """

    name: ClassVar[str]
    """The server's name in logs and errors."""
    system_user: ClassVar[Optional[str]] = None
    """The user the server runs as when the suite runs as root (None: the suite's own user)."""
    port_count: ClassVar[int] = 1
    """How many free ports the server listens on (:attr:`ports`; :attr:`port` is the first)."""

    def __init__(self, options: Sequence[str] = ()):
        self.options = tuple(options)
        self.port: Optional[int] = None
        self.ports: Sequence[int] = ()
        self.workdir: Optional[pathlib.Path] = None
        self._process: Optional[subprocess.Popen] = None

    @property
    def pid(self) -> Optional[int]:
        """The server's main process id while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 60.0) -> "ServerProcess":
        """Creates the server's files, starts it and waits until it answers.

        Raises:
          BeamConnectError: A binary is missing, a set-up step failed, or the server did not answer within
            ``timeout`` seconds; the message ends with the tail of the server's log.
        """
        if self._process is not None:
            raise BeamConnectError("the local %s server is already running on port %d" % (self.name, self.port))
        started = time.monotonic()
        try:
            self.workdir = _make_workdir("beamconnect-%s-" % self.name.lower(), self.system_user)
            _RUNNING.add(self)
            self.ports = tuple(free_ports(self.port_count))
            self.port = self.ports[0]
            self._initialize()
            self._process = self._launch()
            self._wait_ready(started, timeout)
            self._after_start()
        except BaseException:
            self.stop()
            raise
        _LOGGER.info("Started %s (pid %d) on %s:%d in %.1f s, directory %s",
                     self.name, self._process.pid, HOST, self.port, time.monotonic() - started, self.workdir)
        return self

    def stop(self) -> None:
        """Stops the server (by its own shutdown, then by pid) and deletes its directory; idempotent."""
        self.pause()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        _RUNNING.discard(self)

    def pause(self) -> None:
        """Stops the server process, keeping its ports and data for :meth:`resume`; idempotent."""
        process, self._process = self._process, None
        if process is not None:
            self._shutdown(process)
            _LOGGER.info("Stopped %s (pid %d) on %s:%s", self.name, process.pid, HOST, self.port)

    def resume(self, timeout: float = 60.0) -> "ServerProcess":
        """Starts the server paused by :meth:`pause` again, on the same ports and data."""
        if self.workdir is None:
            raise BeamConnectError("the local %s server was never started" % self.name)
        if self._process is None:
            self._process = self._launch()
            self._wait_ready(time.monotonic(), timeout)
        return self

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _initialize(self) -> None:
        """Creates the server's files (a data directory, a config file) in :attr:`workdir`."""

    @abc.abstractmethod
    def _launch(self) -> subprocess.Popen:
        """Starts the server in the foreground, with :meth:`_popen_options`."""

    def _ping(self) -> bool:
        """Whether the server answers, beyond accepting TCP connections on :attr:`port`."""
        return True

    def _after_start(self) -> None:
        """Runs once the server first answers (creating users, databases)."""

    def _shutdown(self, process: subprocess.Popen) -> None:
        """Stops the server and reaps ``process``: SIGTERM to its process group, then SIGKILL."""
        if not kill_group(process, signal.SIGTERM, self.name, 20.0):
            kill_group(process, signal.SIGKILL, self.name, 10.0)

    @abc.abstractmethod
    def _log_files(self) -> Sequence[pathlib.Path]:
        """The files whose tails explain a failed start."""

    def _popen_options(self, death_signal: int = signal.SIGTERM) -> Dict[str, object]:
        """Keyword arguments for ``subprocess.Popen`` of the server: the system user, a session of its own
        (so it can be stopped as a process group) and ``death_signal`` when this process dies."""
        return dict(stdin=subprocess.DEVNULL, cwd=self.workdir, env=client_env(), start_new_session=True,
                    preexec_fn=parent_death_signal(death_signal), **run_as(self.system_user))

    def _make_owned_dir(self, path: pathlib.Path) -> None:
        """Creates a directory only the server's user can enter."""
        path.mkdir(mode=0o700)
        if os.geteuid() == 0 and self.system_user:
            entry = _system_user(self.system_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run_tool(self, argv: Sequence[str], what: str, input: Optional[str] = None, as_owner: bool = False,
                  timeout: float = 60.0, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
        """Runs one of the server's tools to completion; raises with its output when it fails."""
        try:
            result = subprocess.run(
                list(argv), input=input, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                timeout=timeout, cwd=self.workdir, env=env if env is not None else client_env(),
                **(run_as(self.system_user) if as_owner else {}))
        except subprocess.TimeoutExpired:
            raise BeamConnectError("%s: %s did not finish within %.0f s" % (self.name, what, timeout)) from None
        if result.returncode != 0:
            raise BeamConnectError("%s: %s failed (exit code %d):\n%s"
                                   % (self.name, what, result.returncode, _tail(result.stdout)))
        return result

    def _wait_ready(self, started: float, timeout: float) -> None:
        while True:
            if self._process.poll() is not None:
                raise BeamConnectError("%s exited with code %s before accepting connections:\n%s"
                                       % (self.name, self._process.returncode, self.log_tail()))
            if accepts_connections(self.port) and self._ping():
                return
            if time.monotonic() > started + timeout:
                raise BeamConnectError("%s did not accept connections on %s:%d within %.0f s of the start:\n%s"
                                       % (self.name, HOST, self.port, timeout, self.log_tail()))
            time.sleep(0.05)

    def log_tail(self) -> str:
        """The last lines of the server's logs, for error messages."""
        parts = []
        for path in self._log_files():
            if path.is_file() and path.stat().st_size:
                parts.append("--- %s ---\n%s" % (path.name, _tail(path.read_text(errors="replace"))))
        return "\n".join(parts) or "(the server wrote no log)"


class LocalServer(ServerProcess):
    """A database server: a :class:`ServerProcess` that creates a password user and a database.

    A subclass also implements the database creation and names its :class:`Database` client.
    """

    system_user: ClassVar[str]
    database_class: ClassVar[type]
    """The :class:`Database` subclass whose client talks to this server."""

    def __init__(self, options: Sequence[str] = ()):
        super().__init__(options)
        self._password = secrets.token_hex(16)

    @property
    def database(self) -> Database:
        """The database :data:`USER` works in, with its password; only after :meth:`start`."""
        if self._process is None:
            raise BeamConnectError("the local %s server has not been started" % self.name)
        return self.database_class(host=HOST, port=self.port, database=DATABASE, user=USER,
                                   password=self._password)

    def _after_start(self) -> None:
        self._create_database(USER, self._password, DATABASE)

    @abc.abstractmethod
    def _initialize(self) -> None:
        """Creates the data directory (``initdb``, ``mariadb-install-db``) in :attr:`workdir`."""

    @abc.abstractmethod
    def _ping(self) -> bool:
        """Whether the server's own client tool finds it accepting connections."""

    @abc.abstractmethod
    def _create_database(self, user: str, password: str, database: str) -> None:
        """Creates the password user and its database, as the server's superuser over the local socket."""

    @abc.abstractmethod
    def _shutdown(self, process: subprocess.Popen) -> None:
        """Stops the server and reaps ``process``, by pid when the server's own shutdown fails."""


def parent_death_signal(sig: int) -> Callable[[], None]:
    """A ``preexec_fn`` asking Linux to send ``sig`` to the child when its parent dies.

    Unlike ``pipelines.processes.die_with_parent`` it resolves ``prctl`` before the fork: the child has
    already switched to the server's user, which may not be able to read this interpreter's modules. And it
    takes the signal: SIGTERM is PostgreSQL's *smart* shutdown, which waits for every client to disconnect.
    """
    if not sys.platform.startswith("linux"):
        return lambda: None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, sig)


def run_as(user: Optional[str]) -> Dict[str, object]:
    """``subprocess`` keyword arguments running a child as ``user`` when this process is root, else {}."""
    if os.geteuid() != 0 or not user:
        return {}
    entry = _system_user(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def find_binary(name: str, directories: Sequence[str] = ()) -> str:
    """``name`` in the first of ``directories`` holding it, else on PATH, else in the sbin directories."""
    for directory in directories:
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
    found = shutil.which(name, path=search)
    if found is None:
        raise BeamConnectError("%s was not found on PATH or in /usr/sbin; %s" % (name, _INSTALL_HINT))
    return found


def kill_group(process: subprocess.Popen, sig: int, what: str, timeout: float) -> bool:
    """Sends ``sig`` to the process group of ``process`` and waits up to ``timeout`` s; True once reaped."""
    if process.poll() is not None:  # Reaped: its pid may already belong to another process.
        return True
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        _LOGGER.warning("%s (pid %d) did not stop within %.0f s of %s",
                        what, process.pid, timeout, signal.Signals(sig).name)
        return False


def _system_user(user: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise BeamConnectError("the system user %r does not exist; %s" % (user, _INSTALL_HINT)) from None


def _make_workdir(prefix: str, system_user: Optional[str]) -> pathlib.Path:
    """A new temporary directory owned by the server's user, recording which process owns it.

    Directories with this prefix whose owner process is gone (a killed run) are deleted first.
    """
    _remove_abandoned(prefix)
    workdir = pathlib.Path(tempfile.mkdtemp(prefix=prefix))
    (workdir / _OWNER_FILE).write_text("%d\n" % os.getpid())
    if os.geteuid() == 0 and system_user:
        entry = _system_user(system_user)
        os.chown(workdir, entry.pw_uid, entry.pw_gid)
    return workdir


def _remove_abandoned(prefix: str) -> None:
    for path in pathlib.Path(tempfile.gettempdir()).glob(prefix + "*"):
        try:
            owner = int((path / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # Not one of ours, or being created right now.
        if not process_alive(owner):
            _LOGGER.info("Removing %s, left behind by process %d", path, owner)
            shutil.rmtree(path, ignore_errors=True)


def _tail(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


# Servers started by this process; stopped at exit so none outlives it.
_RUNNING: Set[ServerProcess] = set()


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()
