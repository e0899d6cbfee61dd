"""The end-to-end run the registry converter tests share: twelve serialized records and one with a bad
magic byte (offset 5) on one partition, read through ``python -m pipelines run`` with the converter,
written to Parquet, the bad record dead-lettered with Connect's error headers."""

import glob
import json
import os
import uuid

import pyarrow.parquet as pq

from tests.helpers import read_messages, run_cli

BAD_RECORD = b"\x07not registry framed"
BAD_OFFSET = 5


def run_to_parquet(kafka, tmp_path, prefix: str, converter: str, registry_url: str, serialize):
    """Produces ``serialize(i, topic)`` for i in 0..11 with :data:`BAD_RECORD` at offset 5, runs a
    files connector with ``converter`` and a dead-letter topic; returns (rows, schema of the first
    file, dead letters)."""
    topic = kafka.topic(partitions=1, prefix=prefix)
    dlq = "dlq-%s" % uuid.uuid4().hex[:10]
    values = [serialize(i, topic) for i in range(12)]
    values.insert(BAD_OFFSET, BAD_RECORD)
    kafka.produce(topic, [(b"k%d" % i, v) for i, v in enumerate(values)], partition=0)
    config = tmp_path / (prefix + ".json")
    config.write_text(json.dumps({
        "name": "%s-%s" % (prefix, topic), "connector.class": "files", "topics": topic,
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": converter, "value.converter.schema.registry.url": registry_url,
        "store.url": str(tmp_path / "out"), "format.class": "parquet", "flush.size": "5",
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true",
    }))

    result = run_cli("run", config, "--bootstrap-servers", kafka.servers)

    assert result.returncode == 0, result.stderr[-3000:]
    files = sorted(glob.glob(os.path.join(str(tmp_path / "out"), "topics", topic, "partition=0",
                                          "*.parquet")))
    assert files
    rows = [row for path in files for row in pq.read_table(path).to_pylist()]
    return rows, pq.read_table(files[0]).schema, read_messages(kafka.servers, dlq, 1)


def check_rows(rows, expected) -> None:
    """Every record came through, in order, equal field by field to ``expected(i)``."""
    assert [r["id"] for r in rows] == list(range(12))
    for i, row in enumerate(rows):
        for name, value in expected(i).items():
            assert row[name] == value, (i, name)


def check_dead_letter(letters, converter: str) -> None:
    """The bad record reached the dead-letter topic as written, with the converter named."""
    assert [m.value() for m in letters] == [BAD_RECORD]
    headers = dict(letters[0].headers())
    assert headers["__connect.errors.offset"] == str(BAD_OFFSET).encode()
    assert headers["__connect.errors.stage"] == b"VALUE_CONVERTER"
    assert headers["__connect.errors.class.name"] == converter.encode()
    assert b"Unknown magic byte!" in headers["__connect.errors.exception.message"]
