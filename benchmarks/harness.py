"""What the benchmarks share: producing a topic fast, and timing a whole process."""

from __future__ import annotations

import os
import resource
import subprocess
import time
from typing import Iterable, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
