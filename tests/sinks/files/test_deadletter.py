"""Dead letters as JSON-lines files, written and read back on a local directory, moto's S3 server and
the GCS emulator."""

import base64
import json
import os
import pickle
import re

import pytest

from common.errors import BeamConnectError, DataError
from sinks.files.config import CONFIG_DEF
from sinks.files.deadletter import StoreDeadLetters, read_store_dead_letters
from sinks.files.storage import LocalStorage, S3Storage, StorageError, storage_for
from transforms.errors import ErrorPolicy, FailureRouter
from transforms.records import FailedRecord, KafkaBundle, Stage

JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
DATA_EXCEPTION = "org.apache.kafka.connect.errors.DataException"


def values(**keys):
    return CONFIG_DEF.parse({"format.class": "json", "flush.size": "10", **keys})


@pytest.fixture(params=["local", "s3", "gcs"])
def store(request, tmp_path):
    """A Storage on a fresh local directory or bucket, with the bucket's prefix ``dlq``."""
    if request.param == "local":
        return LocalStorage(str(tmp_path / "dlq"))
    made = request.getfixturevalue("%s_bucket" % request.param)
    return storage_for(values(**made.config(prefix="dlq")))


def files(store):
    """``{path below the store's root: bytes}`` of every file, read with the store's own client."""
    found = {}
    root = store.path("")
    for path in store.walk(root):
        if isinstance(store, LocalStorage):
            with open(path, "rb") as f:
                found[os.path.relpath(path, root)] = f.read()
        elif isinstance(store, S3Storage):
            found[path[len(root):].lstrip("/")] = store.client.get_object(
                Bucket=store.bucket, Key=store.key(path))["Body"].read()
        else:
            found[path[len(root):].lstrip("/")] = \
                store.client.bucket(store.bucket).blob(store.key(path)).download_as_bytes()
    return found


def source_bundle(topic="orders", partition=3, start=40):
    return KafkaBundle(topic, partition, start, [start, start + 2, start + 5],
                       [1_700_000_000_000, 1_700_000_000_002, 1_700_000_000_005], [1, 1, 1],
                       [b"k0", None, b"k5"], [b"{bad", b"\x00\xff", None],
                       [[("trace", b"abc"), ("empty", None)], None, []])


def failure(bundle, index):
    try:
        raise DataError("Converting byte[] to Kafka Connect data failed due to serialization error")
    except DataError as exc:
        return FailedRecord.of(bundle, index, Stage.VALUE_CONVERTER, JSON_CONVERTER, exc)


def write(dead_letters, *calls):
    dead_letters.open()
    try:
        for failed in calls:
            dead_letters.write(failed)
    finally:
        dead_letters.close()


def test_dead_letters_are_read_back_as_bundles_of_the_original_partitions(store):
    orders, payments = source_bundle("orders", 3, 40), source_bundle("payments", 0, 7)
    write(StoreDeadLetters(store, "orders-sink"),
          [failure(orders, 1), failure(orders, 2)], [failure(payments, 0)], [failure(orders, 0)])

    assert list(read_store_dead_letters(store)) == [
        KafkaBundle("orders", 3, 40, [40, 42, 45], orders.timestamps, [1, 1, 1], orders.keys,
                    orders.values, [[("trace", b"abc"), ("empty", None)], None, []]),
        KafkaBundle("payments", 0, 7, [7], payments.timestamps[:1], [1], payments.keys[:1],
                    payments.values[:1], payments.headers[:1]),
    ]


def test_one_file_per_write_named_from_the_partition_and_first_offset(store):
    orders = source_bundle()
    first = failure(orders, 0)
    write(StoreDeadLetters(store, "orders-sink"), [first, failure(orders, 1)], [failure(orders, 2)])

    written = files(store)
    assert sorted(written) == ["orders/partition=3/orders+3+0000000040.dlq.jsonl",
                               "orders/partition=3/orders+3+0000000045.dlq.jsonl"]
    lines = written["orders/partition=3/orders+3+0000000040.dlq.jsonl"].decode().splitlines()
    assert len(lines) == 2
    assert list(json.loads(lines[0]).items()) == [
        ("topic", "orders"), ("partition", 3), ("offset", 40), ("timestamp", 1_700_000_000_000),
        ("key", base64.b64encode(b"k0").decode()), ("value", base64.b64encode(b"{bad").decode()),
        ("headers", [{"key": "trace", "value": "YWJj"}, {"key": "empty", "value": None}]),
        ("stage", "VALUE_CONVERTER"), ("class_name", JSON_CONVERTER),
        ("exception_class", DATA_EXCEPTION),
        ("exception_message",
         "Converting byte[] to Kafka Connect data failed due to serialization error"),
        ("exception_stacktrace", first.stacktrace), ("connector_name", "orders-sink"),
    ]
    second = json.loads(lines[1])
    assert (second["key"], second["value"], second["headers"]) == (None, "AP8=", None)


def test_rewriting_the_same_failures_gives_the_same_files(store):
    orders, payments = source_bundle("orders", 3, 40), source_bundle("payments", 0, 7)
    calls = ([failure(orders, 0), failure(orders, 2)], [failure(payments, 1)])
    dead_letters = StoreDeadLetters(store, "orders-sink")
    write(dead_letters, *calls)
    before = files(store)

    write(pickle.loads(pickle.dumps(dead_letters)), *calls)  # a retried bundle, on another worker

    assert files(store) == before
    assert sorted(before) == ["orders/partition=3/orders+3+0000000040.dlq.jsonl",
                              "payments/partition=0/payments+0+0000000009.dlq.jsonl"]


def test_a_record_in_two_files_is_read_once(store):
    orders = source_bundle()
    # The first run failed 42 and 45; a replay after a partial fix failed 40 and 42.
    write(StoreDeadLetters(store), [failure(orders, 1), failure(orders, 2)],
          [failure(orders, 0), failure(orders, 1)])

    assert len(files(store)) == 2
    (bundle,) = read_store_dead_letters(store)
    assert (bundle.window_start, bundle.offsets, bundle.keys) == (40, [40, 42, 45], orders.keys)


def test_an_empty_store_has_no_dead_letters(store):
    assert list(read_store_dead_letters(store)) == []


def test_the_failure_router_dead_letters_to_files(store):
    orders = source_bundle()
    router = FailureRouter(ErrorPolicy(tolerance="all", connector_name="c"), StoreDeadLetters(store, "c"))
    router.setup()
    try:
        router.route([failure(orders, 0), failure(orders, 2)])
    finally:
        router.teardown()

    assert list(files(store)) == ["orders/partition=3/orders+3+0000000040.dlq.jsonl"]


def test_a_store_url_is_enough_for_a_local_directory(tmp_path):
    url = "file://%s/dlq" % tmp_path
    orders = source_bundle()
    dead_letters = StoreDeadLetters(url)
    write(dead_letters, [failure(orders, 2)])

    assert dead_letters.description == "store %s" % url
    assert os.path.exists(tmp_path / "dlq" / "orders" / "partition=3" / "orders+3+0000000045.dlq.jsonl")
    assert [b.offsets for b in read_store_dead_letters(url)] == [[45]]


def test_other_files_in_the_store_are_left_out(tmp_path):
    write(StoreDeadLetters(str(tmp_path)), [failure(source_bundle(), 0)])
    (tmp_path / "README.md").write_text("dead letters of orders-sink")
    (tmp_path / "orders" / "partition=3" / ".orders+3+0000000050.dlq.jsonl.abc.tmp").write_text("{")

    assert [b.offsets for b in read_store_dead_letters(str(tmp_path))] == [[40]]


def test_a_line_that_is_not_a_dead_letter_names_the_file(tmp_path):
    write(StoreDeadLetters(str(tmp_path)), [failure(source_bundle(), 0)])
    path = tmp_path / "orders" / "partition=3" / "orders+3+0000000040.dlq.jsonl"
    path.write_bytes(path.read_bytes() + b'{"topic": "payments", "partition": 3}\n')

    with pytest.raises(BeamConnectError, match=re.escape(
            "line 2 of %s is not a dead letter of topic=orders partition=3: it is a record of "
            "topic=payments partition=3" % path)):
        list(read_store_dead_letters(str(tmp_path)))


def test_a_failed_write_names_the_file_and_the_dead_letters(s3_bucket):
    keys = s3_bucket.config(prefix="dlq")
    keys["store.url"] = "s3://no-such-bucket/dlq"
    orders = source_bundle()
    dead_letters = StoreDeadLetters(storage_for(values(**keys)))

    with pytest.raises(StorageError, match=re.escape(
            "could not write s3://no-such-bucket/dlq/orders/partition=3/orders+3+0000000040.dlq.jsonl: "
            "bucket 'no-such-bucket' does not exist (dead letters of topic=orders partition=3 offsets "
            "40..45)")):
        dead_letters.write([failure(orders, 0), failure(orders, 2)])
    with pytest.raises(StorageError, match=re.escape("store.url=s3://no-such-bucket/dlq cannot be used")):
        dead_letters.open()
