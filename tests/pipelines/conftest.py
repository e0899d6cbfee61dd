"""Fixtures of the pipeline tests."""

import os
import signal

import pytest


@pytest.fixture
def spawned():
    """Runs started by a test in sessions of their own; any still running when it ends (a failed
    assertion) is killed with its whole process group (a Prism job server too)."""
    procs = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
