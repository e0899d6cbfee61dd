"""The effect of connector keys on a files run: the README's tuning figures.

Produces N (default 1,000,000) of ``kafka_to_files.py``'s ~170-byte JSON records into 4 partitions, then
runs ``beamconnect run`` (files sink, Parquet, schemaless JSON, ``flush.size=100000``) once with the
defaults and once per ``--set`` variant (``KEY=VALUE,KEY=VALUE``), all in turn, ``--rounds`` times, each
from the earliest offset into an empty directory. Prints each variant's best wall time, records/s,
its rate against the defaults' and the largest peak RSS of its rounds (that process's own).

    .venv/bin/python benchmarks/tuning.py --set flush.size=10000 --set tasks.max=2 \\
        --set consumer.override.queued.min.messages=20000

A local Kafka broker is started and stopped.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import uuid

import harness
from kafka_to_files import PARTITIONS, _value

ROOT = harness.ROOT
sys.path.insert(0, ROOT)


def _properties(store: str, name: str, topic: str, out: str, variant: str) -> str:
    keys = {"name": name, "connector.class": "files", "topics": topic,
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false", "store.url": out,
            "format.class": "parquet", "flush.size": "100000"}
    for pair in filter(None, variant.split(",")):
        key, _, value = pair.partition("=")
        keys[key.strip()] = value.strip()
    return harness.write_properties(store, name, "".join("%s=%s\n" % kv for kv in keys.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--set", dest="variants", action="append", default=[],
                        help="KEY=VALUE[,KEY=VALUE...]: one variant of the connector's keys")
    args = parser.parse_args()

    from pipelines.dev_kafka import LocalKafka

    env = {**os.environ, "PYTHONPATH": ROOT, "NO_GCE_CHECK": "true"}
    variants = ["", *args.variants]
    with LocalKafka() as broker, tempfile.TemporaryDirectory() as store:
        servers = broker.bootstrap_servers
        topic = "tune-%s" % uuid.uuid4().hex[:8]
        rng = random.Random(7)
        harness.produce(servers, topic, PARTITIONS,
                        ((_value(rng, i), i % PARTITIONS) for i in range(args.records)))
        runs = {v: [] for v in variants}
        for round_ in range(args.rounds):
            for i, variant in enumerate(variants):
                out = os.path.join(store, "out")
                config = _properties(store, "tune-%d-%d-%s" % (round_, i, topic), topic, out, variant)
                wall, peak, _ = harness.timed_alone(
                    [sys.executable, "-m", "pipelines", "run", config, "--bootstrap-servers", servers,
                     "-q"], env)
                runs[variant].append((wall, peak))
                shutil.rmtree(out, ignore_errors=True)
        base = min(w for w, _ in runs[""])
        print("%d records, %d partitions, best of %d rounds" % (args.records, PARTITIONS, args.rounds))
        for variant in variants:
            wall = min(w for w, _ in runs[variant])
            peak = max(m for _, m in runs[variant])
            print("%-52s %6.2fs %9.0f records/s  %5.2f of the defaults  peak %4.0f MiB"
                  % (variant or "(defaults)", wall, args.records / wall, base / wall, peak))
    return 0


if __name__ == "__main__":
    sys.exit(main())
