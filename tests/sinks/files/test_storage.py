"""Stores of the file sink: which store the keys name, and what every store promises, checked against
real servers (a local directory, moto's S3 server, the GCS emulator)."""

import os
import pickle
import re

import pytest

from common.configdef import Password
from common.errors import ConfigError
from sinks.files.config import CONFIG_DEF
from sinks.files.storage import (SCHEMES, AzureBlobStorage, GcsStorage, HdfsStorage, LocalStorage,
                                  S3Storage, StorageError, storage_for)
from sinks.files.storage.s3 import MIN_PART_SIZE


def values(**keys):
    raw = {"format.class": "json", "flush.size": "10"}
    raw.update({k.replace("_", "."): v for k, v in keys.items()})
    return CONFIG_DEF.parse(raw)


def store_for(**keys):
    return storage_for(values(**keys))


# Which store the keys name.

def test_local_paths_and_file_urls(tmp_path):
    assert store_for(store_url=str(tmp_path)).root == str(tmp_path)
    assert store_for(store_url=str(tmp_path) + "/./sub/..").root == str(tmp_path)
    local = store_for(store_url="file://%s/data" % tmp_path)
    assert type(local) is LocalStorage and local.root == str(tmp_path / "data")
    assert local.path("topics", "t", "f.json") == str(tmp_path / "data" / "topics" / "t" / "f.json")


def test_gs_url_names_bucket_and_prefix():
    gcs = store_for(store_url="gs://archive/kafka/raw/")

    assert type(gcs) is GcsStorage
    assert (gcs.bucket, gcs.prefix, gcs.endpoint) == ("archive", "kafka/raw", None)
    assert gcs.path("topics", "t", "partition=0", "t+0+0.json") == \
        "gs://archive/kafka/raw/topics/t/partition=0/t+0+0.json"


@pytest.mark.parametrize("scheme", ["s3", "s3a"])
def test_s3_url_names_bucket_and_prefix(scheme):
    s3 = store_for(store_url="%s://archive/raw" % scheme, s3_region="eu-west-1")

    assert type(s3) is S3Storage
    assert (s3.bucket, s3.prefix, s3.region, s3.endpoint) == ("archive", "raw", "eu-west-1", None)
    assert s3.path("topics", "t") == "s3://archive/raw/topics/t"
    assert s3.path("") == "s3://archive/raw"


def test_confluent_s3_keys_with_an_endpoint_store_url():
    s3 = store_for(**{"s3.bucket.name": "archive", "store.url": "http://127.0.0.1:9000",
                      "aws.access.key.id": "AK", "aws.secret.access.key": "SK",
                      "s3.path.style.access.enabled": "false", "s3.part.size": str(MIN_PART_SIZE),
                      "storage.class": "io.confluent.connect.s3.storage.S3Storage"})

    assert (s3.bucket, s3.prefix, s3.endpoint) == ("archive", "", "http://127.0.0.1:9000")
    assert (s3.access_key_id, s3.secret_access_key) == ("AK", "SK")
    assert isinstance(s3.secret_access_key, Password) and "SK" not in repr(s3.secret_access_key)
    assert s3.path_style is False and s3.part_size == MIN_PART_SIZE
    assert s3.path("topics") == "s3://archive/topics"


def test_confluent_gcs_keys():
    gcs = store_for(**{"gcs.bucket.name": "archive", "gcs.credentials.path": "/keys/sa.json",
                       "storage.class": "io.confluent.connect.gcs.storage.GcsStorage"})

    assert (gcs.bucket, gcs.prefix, gcs.credentials_path) == ("archive", "", "/keys/sa.json")


@pytest.mark.parametrize("keys, message", [
    ({}, "store.url is required: a local directory, a file://, gs:// or s3:// URL (or set s3.bucket.name "
         "or gcs.bucket.name)"),
    ({"store.url": "ftp://nn/data"}, "store.url scheme must be one of %s (or a local path), got "
                                     "'ftp://nn/data'" % ", ".join(map(repr, SCHEMES))),
    ({"store.url": "s3:///raw"}, "store.url must name a bucket (s3://bucket/prefix), got 's3:///raw'"),
    ({"store.url": "http://127.0.0.1:9000"},
     "store.url='http://127.0.0.1:9000' is an endpoint; it needs s3.bucket.name (or gcs.bucket.name)"),
    ({"s3.bucket.name": "a", "gcs.bucket.name": "b"}, "set s3.bucket.name or gcs.bucket.name, not both"),
    ({"s3.bucket.name": "a", "store.url": "s3://a/x"},
     "with s3.bucket.name set, store.url may only be the store's http(s):// endpoint, got 's3://a/x'"),
    ({"gcs.bucket.name": "a", "store.url": "/tmp/x"},
     "with gcs.bucket.name set, store.url may only be the store's http(s):// endpoint, got '/tmp/x'"),
    ({"store.url": "gs://a", "storage.class": "io.confluent.connect.s3.storage.S3Storage"},
     "storage.class=io.confluent.connect.s3.storage.S3Storage is a S3 store, but the store's keys name "
     "a GCS store"),
    ({"store.url": "/tmp/x", "storage.class": "gcs"},
     "storage.class=gcs is a GCS store, but the store's keys name a local store"),
    ({"store.url": "gs://a", "aws.access.key.id": "AK", "aws.secret.access.key": "SK"},
     "aws.access.key.id applies only to S3 stores; this connector writes to gs://a"),
    ({"store.url": "s3://a", "gcs.credentials.path": "/k.json"},
     "gcs.credentials.path applies only to GCS stores; this connector writes to s3://a"),
    ({"store.url": "s3://a", "aws.access.key.id": "AK"},
     "aws.access.key.id and aws.secret.access.key go together"),
    ({"store.url": "gs://a", "gcs.credentials.path": "/k.json", "gcs.credentials.json": "{}"},
     "set gcs.credentials.path or gcs.credentials.json, not both"),
])
def test_conflicting_or_incomplete_store_keys(keys, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        storage_for(values(**keys))


def test_s3_part_size_below_s3_minimum_is_rejected():
    with pytest.raises(ConfigError, match=re.escape("s3.part.size must be at least 5242880, got '1000'")):
        values(store_url="s3://a", s3_part_size="1000")


# What every store promises, on real servers.

@pytest.fixture(params=["local", "s3", "gcs"])
def store(request, tmp_path):
    """A Storage on a fresh local directory or bucket, with the bucket's prefix ``data``."""
    if request.param == "local":
        return LocalStorage(str(tmp_path / "data"))
    made = request.getfixturevalue("%s_bucket" % request.param)
    return storage_for(values(**made.config(prefix="data")))


def test_write_list_replace_and_delete(store):
    first = store.path("topics", "t", "partition=0", "t+0+0000000000.json")
    second = store.path("topics", "t", "partition=1", "t+1+0000000000.json")

    store.write(first, b"one")
    store.write(second, b"two")
    store.write(first, b"one again")  # a replayed window replaces the file whole

    assert sorted(store.walk(store.path("topics", "t"))) == [first, second]
    assert list(store.walk(store.path("topics", "other"))) == []
    assert list(store.walk(store.path("topics", "t", "partition=1"))) == [second]
    assert _read(store, first) == b"one again"
    store.delete(first)
    store.delete(first)  # already gone: not an error
    assert list(store.walk(store.path("topics"))) == [second]


def test_store_survives_pickling_after_use(store):
    path = store.path("topics", "t", "a.json")
    store.write(path, b"before")

    copy = pickle.loads(pickle.dumps(store))

    assert getattr(copy, "_client", None) is None
    copy.write(path, b"after")
    assert _read(store, path) == b"after"


def test_check_passes_on_an_empty_store(store):
    store.check()


def _read(store, path):
    if isinstance(store, HdfsStorage):
        return store.read(path)
    if isinstance(store, LocalStorage):
        with open(path, "rb") as f:
            return f.read()
    key = store.key(path)
    if isinstance(store, S3Storage):
        return store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
    if isinstance(store, AzureBlobStorage):
        return store.client.download_blob(key).readall()
    return store.client.bucket(store.bucket).blob(key).download_as_bytes()


@pytest.mark.parametrize("kind", ["s3", "gcs"])
def test_check_names_a_missing_bucket(kind, store_servers, monkeypatch, request):
    made = request.getfixturevalue("%s_bucket" % kind)
    keys = made.config(prefix="data")
    scheme = "s3" if kind == "s3" else "gs"
    keys["store.url"] = "%s://no-such-bucket/data" % scheme

    with pytest.raises(StorageError, match=re.escape(
            "store.url=%s://no-such-bucket/data cannot be used: bucket 'no-such-bucket' does not exist"
            % scheme)):
        storage_for(values(**keys)).check()


def test_check_names_a_store_url_that_is_not_a_writable_directory(tmp_path):
    (tmp_path / "file").write_text("")

    with pytest.raises(StorageError, match=re.escape(
            "store.url=%s: %s is not a writable directory" % (tmp_path / "file" / "out", tmp_path / "file"))):
        storage_for(values(store_url=str(tmp_path / "file" / "out"))).check()
    storage_for(values(store_url=str(tmp_path / "new" / "out"))).check()  # made on first write


def test_s3_file_larger_than_part_size_is_uploaded_in_parts(s3_bucket):
    store = storage_for(values(**s3_bucket.config(prefix="data"), s3_part_size=str(MIN_PART_SIZE)))
    data = os.urandom(2 * MIN_PART_SIZE + 1000)
    path = store.path("big.parquet")

    store.write(path, data)

    head = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key="data/big.parquet")
    assert head["ETag"].strip('"').endswith("-3")  # S3 marks a multipart object's ETag with its parts
    assert s3_bucket.read("data/big.parquet") == data


def test_a_failed_write_names_the_file_and_its_records(s3_bucket):
    import pyarrow as pa
    from sinks.files.config import FilesSinkConfig
    from sinks.base import Mode, WriteContext
    from sinks.files.sink import _WriteFileFn
    from transforms.records import ConvertedBundle

    keys = s3_bucket.config(prefix="data")
    keys["store.url"] = "s3://no-such-bucket/data"
    config = FilesSinkConfig.from_values(values(**keys))
    bundle = ConvertedBundle("orders", 3, 40, [40, 41], [0, 0], pa.array(["k", "k"]),
                             pa.array([{"a": 1}, {"a": 2}]), [None, None])

    with pytest.raises(StorageError, match=re.escape(
            "could not write s3://no-such-bucket/data/topics/orders/partition=3/orders+3+0000000040.json: "
            "bucket 'no-such-bucket' does not exist (records topic=orders partition=3 offsets 40..41). The "
            "run stopped; the file's offsets are not committed.")):
        list(_WriteFileFn(config, WriteContext(Mode.BATCH)).process(bundle))


def test_walk_may_start_after_a_path(store):
    paths = [store.path("d", name) for name in ("t+0+01.json", "t+0+02.json", "t+0+03.json")]
    for path in paths:
        store.write(path, b"x")

    listed = sorted(store.walk(store.path("d"), start_after=store.path("d", "t+0+02")))

    if isinstance(store, (S3Storage, AzureBlobStorage)):
        assert listed == paths[1:]
    else:  # a directory is listed whole; the GCS emulator does not implement startOffset
        assert set(paths[1:]) <= set(listed) <= set(paths)


def test_s3_encryption_and_canned_acl_are_set_on_every_file(s3_bucket):
    store = storage_for(values(**s3_bucket.config(prefix="data"), s3_ssea_name="AES256",
                               s3_acl_canned="bucket-owner-full-control", s3_part_retries="5"))

    store.write(store.path("a.json"), b"{}\n")

    head = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key="data/a.json")
    assert head["ServerSideEncryption"] == "AES256"
    grants = s3_bucket.client.get_object_acl(Bucket=s3_bucket.name, Key="data/a.json")["Grants"]
    assert {g["Permission"] for g in grants} == {"FULL_CONTROL"}
    assert store.client.meta.config.retries["total_max_attempts"] == 6  # the first try and 5 retries


def test_s3_kms_key_is_sent_with_aws_kms(s3_bucket):
    kms = __import__("boto3").client("kms", endpoint_url=s3_bucket.server.endpoint, region_name="us-east-1",
                                     aws_access_key_id="testing", aws_secret_access_key="testing-secret")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    store = storage_for(values(**s3_bucket.config(prefix="data"), s3_ssea_name="aws:kms",
                               s3_sse_kms_key_id=key_id))

    store.write(store.path("a.json"), b"{}\n")

    head = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key="data/a.json")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(key_id)


@pytest.mark.parametrize("keys, message", [
    ({"store.url": "s3://a", "s3.sse.kms.key.id": "k"},
     "s3.sse.kms.key.id needs s3.ssea.name=aws:kms, got s3.ssea.name=None"),
    ({"store.url": "gs://a", "s3.ssea.name": "AES256"},
     "s3.ssea.name applies only to S3 stores; this connector writes to gs://a"),
    ({"store.url": "s3://a", "s3.ssea.name": "DES"},
     "s3.ssea.name must be one of 'AES256', 'aws:kms', got 'DES'"),
])
def test_s3_encryption_keys_are_checked(keys, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        storage_for(values(**keys))


def test_a_large_file_arrives_whole(store):
    """Above 8 MiB GCS switches to a resumable upload; S3 (part size 25 MiB) still sends one request."""
    data = os.urandom(9 * 1024 * 1024 + 7)
    path = store.path("topics", "t", "partition=0", "t+0+0000000000.snappy.parquet")

    store.write(path, data)

    assert _read(store, path) == data
