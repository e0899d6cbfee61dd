"""What the benchmarks share: producing a topic fast, and timing a whole process."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Iterable, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def compile_project() -> None:
    """Compiles the project's modules to bytecode, as ``./dev setup`` and a pip install do, so that a
    timed run does not compile them (it would on every start where PYTHONDONTWRITEBYTECODE is set)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", "common", "pipelines",
                    "sinks", "transforms"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def produce(servers: str, topic: str, partitions: int,
            records: Iterable[tuple[bytes, Optional[int]]]) -> None:
    """Creates ``topic`` and produces ``(value, partition)`` pairs to it, batched for speed."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": servers})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result()
    producer = Producer({"bootstrap.servers": servers, "linger.ms": 50, "batch.size": 1_000_000,
                         "queue.buffering.max.messages": 1_000_000})
    for value, partition in records:
        while True:
            try:
                producer.produce(topic, value, partition=partition)
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(120):
        raise SystemExit("records of %s were not delivered" % topic)


def produce_payloads(servers: str, topic: str, partitions: int, source: str, count: int) -> None:
    """Produces what ``payloads(count)`` yields, record i to partition i % ``partitions``: ``source``
    is the text defining it, which the bare clients run as well, so both sides see the same values."""
    namespace: dict = {}
    exec(source, namespace)
    produce(servers, topic, partitions,
            ((value, i % partitions) for i, (key, value) in enumerate(namespace["payloads"](count))))


def write_properties(directory: str, name: str, text: str) -> str:
    """Writes ``<directory>/<name>.properties`` holding ``text``; returns its path."""
    path = os.path.join(directory, name + ".properties")
    with open(path, "w") as f:
        f.write(text)
    return path


def timed(cmd: list, env: dict) -> tuple:
    """(wall seconds, peak RSS in MiB of the child, stdout) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit("%s failed:\n%s" % (cmd[:4], proc.stderr[-4000:]))
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024.0, proc.stdout


# Runs the measured process as its own child and reports its wall time and peak RSS. A process forked
# straight from the benchmark would count the benchmark's memory (the producer's, the servers'
# launchers') in its peak, since Linux carries the RSS high-water mark of the forking process over to
# the child.
_MEASURE = r"""
import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[1], "w") as f:
    f.write("%r %d" % (wall, usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def timed_alone(cmd: list, env: dict) -> tuple:
    """(wall seconds, peak RSS in MiB, stdout) of one whole process, measured alone."""
    with tempfile.NamedTemporaryFile("r", suffix=".rusage") as report:
        proc = subprocess.run([sys.executable, "-c", _MEASURE, report.name, *cmd], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit("%s failed:\n%s" % (cmd[:4], proc.stderr[-4000:]))
        wall, peak = report.read().split()
    return float(wall), int(peak) / 1024.0, proc.stdout


class Registry:
    """A Schema Registry: the one SCHEMA_REGISTRY_URL names, or the tests' local Apicurio Registry
    (started on entry, stopped on exit)."""

    def __enter__(self) -> "Registry":
        from tests.servers.apicurio import URL_VARIABLE, LocalApicurio

        self.url = os.environ.get(URL_VARIABLE, "").rstrip("/")
        self._server = None if self.url else LocalApicurio().start(timeout=120.0)
        self.url = self.url or self._server.url
        return self

    def __exit__(self, *exc_info) -> None:
        if self._server is not None:
            self._server.stop()
