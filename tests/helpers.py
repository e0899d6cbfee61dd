"""What several test modules need: a connector config for schemaless JSON topics, and the CLI as a
process of its own (as users and CI run it)."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def json_files_config(name, topic, store, **overrides):
    """The raw config of a files connector reading schemaless JSON values with string keys."""
    return {"name": name, "connector.class": "files", "topics": topic,
            "key.converter": "StringConverter", "value.converter": "JsonConverter",
            "value.converter.schemas.enable": "false", "store.url": str(store),
            "format.class": "parquet", "flush.size": "10", **overrides}


def write_config(path, config):
    path.write_text(json.dumps(config))
    return path


def cli_command(*args):
    return [sys.executable, "-m", "pipelines", *map(str, args)]


def cli_env():
    return {**os.environ, "PYTHONPATH": ROOT}


def start_cli(*args, **popen_kwargs):
    """``python -m pipelines ARGS`` started in the repository, output captured as text."""
    return subprocess.Popen(cli_command(*args), cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen_kwargs)


def run_cli(*args, timeout=300):
    """``python -m pipelines ARGS`` run to its end; returns the CompletedProcess."""
    return subprocess.run(cli_command(*args), cwd=ROOT, env=cli_env(), capture_output=True, text=True,
                          timeout=timeout)


def read_messages(servers, topic, count, timeout=60.0):
    """The first ``count`` messages of ``topic`` (fewer if none comes for ``timeout`` seconds)."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": servers, "group.id": "read-%s" % topic,
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    found = []
    try:
        for message in iter(lambda: consumer.poll(timeout), None):
            if message.error() is None:
                found.append(message)
            if len(found) >= count:
                break
    finally:
        consumer.close()
    return found


def file_bytes(store):
    """Every file below ``store``: path relative to it -> its bytes."""
    found = {}
    for d, _, names in os.walk(store):
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                found[os.path.relpath(os.path.join(d, n), store)] = f.read()
    return found
