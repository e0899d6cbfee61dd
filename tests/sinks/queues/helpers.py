"""What the queue sinks' end-to-end tests share: runs of the CLI, as processes of their own that a test
kills with SIGKILL, and the records and names they use."""

import os
import signal
import subprocess
import time
import uuid

from tests.helpers import ROOT, cli_command, cli_env, run_cli, start_cli

#: The first record's timestamp in :func:`records`.
FIRST_TIMESTAMP_MS = 1_700_000_000_000


def unique(prefix):
    """``<prefix>-<10 hex digits>``: a connector, queue or topic name no other test uses."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def records(count, start=0, spacing_ms=1, extra_headers=()):
    """``(key, value, timestamp, headers)`` of records ``start`` to ``start + count``: ``k<i>``,
    ``v<i>``, timestamps ``spacing_ms`` apart and a header ``n`` = ``<i>``, then ``extra_headers``."""
    return [(b"k%d" % i, b"v%d" % i, FIRST_TIMESTAMP_MS + i * spacing_ms,
             [("n", b"%d" % i), *extra_headers]) for i in range(start, start + count)]


def bare_records(count):
    """``(key, value, timestamp, headers)`` of ``count`` records ``k<i>``, ``v<i>``, with neither a
    timestamp nor headers."""
    return [(b"k%d" % i, b"v%d" % i, None, None) for i in range(count)]


def run(config, servers, *args, timeout=300):
    """``python -m pipelines run CONFIG --bootstrap-servers SERVERS ARGS`` to its end."""
    return run_cli("run", config, "--bootstrap-servers", servers, *args, timeout=timeout)


def start_run(config, servers, *args, quiet=False):
    """The same run started as a process group of its own (:func:`stop` ends all of it), its output
    captured as text, or dropped with ``quiet``."""
    if quiet:
        return subprocess.Popen(cli_command("run", config, "--bootstrap-servers", servers, *args),
                                cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    return start_cli("run", config, "--bootstrap-servers", servers, *args, start_new_session=True)


def stop(proc, timeout=60):
    """SIGKILLs a :func:`start_run` process group unless it has ended; returns what it wrote to
    stderr (None when that was dropped or read already)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.stderr is None or proc.stderr.closed:
        proc.wait(timeout)
        return None
    return proc.communicate(timeout=timeout)[1]


def kill_when(proc, reached, timeout=120):
    """Calls ``reached()`` every 50 ms until it returns something true (or ``timeout`` s passed),
    then SIGKILLs the run's process group; returns what ``reached`` returned last.

    Raises:
      AssertionError: the run ended before it could be killed (with the end of its output).
    """
    deadline, value = time.monotonic() + timeout, None
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            value = reached()
            if value:
                break
            time.sleep(0.05)
    finally:
        ended = proc.poll() is not None
        output = stop(proc)
    assert not ended, "the run ended before it could be killed" + (
        ": " + output[-3000:] if output else "")
    return value
