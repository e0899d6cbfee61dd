"""Local server processes for development and tests: free ports, and children that never outlive us."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
from typing import Optional, Sequence

_LOGGER = logging.getLogger(__name__)


def free_ports(count: int, avoid: Optional[int] = None) -> Sequence[int]:
    """Distinct free TCP ports on 127.0.0.1 (held open together so that they differ)."""
    with contextlib.ExitStack() as stack:
        ports = []
        while len(ports) < count:
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            if sock.getsockname()[1] != avoid:
                ports.append(sock.getsockname()[1])
        return ports


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def die_with_parent() -> None:
    """In a server's child process: have Linux send it SIGTERM when the parent dies, however it dies.

    atexit hooks do not run when the parent is killed by a signal; without this a killed test run or
    demo would leave its servers running.
    """
    if sys.platform.startswith("linux"):
        import ctypes
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def stop_process(process: subprocess.Popen, what: str, timeout: float = 20.0) -> None:
    """SIGTERM to a server's process group (started with ``start_new_session``), SIGKILL if it has not
    exited after ``timeout`` seconds."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, None)):
        if process.poll() is not None:  # Reaped: its pid may already belong to another process.
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            _LOGGER.warning("%s (pid %d) did not stop within %.0f s; killing it", what, process.pid, wait)
