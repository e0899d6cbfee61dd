"""Stores of the file sink, chosen by ``store.url``'s scheme or by Confluent's bucket keys.

=====================================  ==========================================================
``/data/out``, ``file:///data/out``    :class:`LocalStorage`: a local or mounted directory
``gs://bucket/prefix``                 :class:`GcsStorage`; or ``gcs.bucket.name=bucket``
``s3://bucket/prefix``                 :class:`S3Storage`; or ``s3.bucket.name=bucket``
``az://container/p``, ``abfss://``     :class:`AzureBlobStorage`; or ``azblob.container.name``
                                       (see :mod:`sinks.files.storage.azure`)
``hdfs://nn:8020/p``, ``webhdfs://``   :class:`HdfsStorage`; or ``hdfs.url`` (see
                                       :mod:`sinks.files.storage.hdfs`)
``http(s)://host:port``                the endpoint of an S3-compatible (or GCS) store whose bucket
                                       is ``s3.bucket.name`` (or ``gcs.bucket.name``), as in
                                       Confluent's S3 sink
=====================================  ==========================================================
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any, Mapping, Optional

from common.errors import ConfigError
from sinks.files.storage.azure import KEYS as AZURE_KEYS, AzureBlobStorage, azure_storage, names_azure
from sinks.files.storage.base import Storage, StorageError
from sinks.files.storage.gcs import GcsStorage
from sinks.files.storage.hadoop import HDFS_ONLY_KEYS, hdfs_storage, hdfs_url, is_hdfs
from sinks.files.storage.hdfs import HdfsStorage
from sinks.files.storage.local import LocalStorage
from sinks.files.storage.s3 import DEFAULT_PART_SIZE, S3Storage, require_boto3

SCHEMES = ("file", "gs", "s3", "az", "abfs", "abfss", "hdfs", "webhdfs", "swebhdfs")

#: ``storage.class`` values (Confluent's class names and short names) and the scheme each means.
STORAGE_CLASSES = {
    "local": "file",
    "gcs": "gs",
    "s3": "s3",
    "io.confluent.connect.gcs.storage.GcsStorage": "gs",
    "io.confluent.connect.s3.storage.S3Storage": "s3",
    "azure": "az",
    "io.confluent.connect.azure.blob.storage.AzureBlobStorage": "az",
    "hdfs": "hdfs",
    "io.confluent.connect.hdfs3.storage.HdfsStorage": "hdfs",
    "io.confluent.connect.hdfs.storage.HdfsStorage": "hdfs",
}

_KINDS = {"file": "local", "gs": "GCS", "s3": "S3", "az": "Azure Blob", "hdfs": "HDFS"}

#: Keys that only apply to one kind of store (those without a default value).
_ONLY_FOR = {
    "s3": ("s3.region", "aws.access.key.id", "aws.secret.access.key", "s3.ssea.name",
           "s3.sse.kms.key.id", "s3.acl.canned", "s3.proxy.url"),
    "gs": ("gcs.credentials.path", "gcs.credentials.json"),
    "az": AZURE_KEYS,
    "hdfs": HDFS_ONLY_KEYS,
}


def storage_for(values: Mapping[str, Any]) -> Storage:
    """The store the file sink's keys name; any conflict between them is a ConfigError."""
    url: Optional[str] = values.get("store.url") or None
    buckets = {k: values.get(k) for k in ("s3.bucket.name", "gcs.bucket.name") if values.get(k)}
    if len(buckets) > 1:
        raise ConfigError("set s3.bucket.name or gcs.bucket.name, not both")
    parsed = urllib.parse.urlparse(url) if url else None
    scheme = parsed.scheme.lower() if parsed else ""
    endpoint = None
    if buckets and values.get("azblob.container.name"):
        raise ConfigError("set %s or azblob.container.name, not both" % next(iter(buckets)))
    if is_hdfs(values):
        if buckets:
            raise ConfigError("set hdfs.url (or an hdfs:// store.url) or %s, not both" % next(iter(buckets)))
        scheme, shown = "hdfs", hdfs_url(values)
    elif buckets:
        key, bucket = next(iter(buckets.items()))
        if url is not None and scheme not in ("http", "https"):
            raise ConfigError("with %s set, store.url may only be the store's http(s):// endpoint, got %r; "
                              "name the bucket in one place" % (key, url))
        scheme, endpoint, prefix = ("s3" if key.startswith("s3") else "gs"), url, ""
        shown = "%s://%s" % (scheme, bucket)
    elif names_azure(values, scheme):
        scheme, shown = "az", url or "az://%s" % (values.get("azblob.container.name") or "default")
    elif url is None:
        raise ConfigError("store.url is required: a local directory, a file://, gs:// or s3:// URL "
                          "(or set s3.bucket.name or gcs.bucket.name)")
    elif scheme in ("http", "https"):
        raise ConfigError("store.url=%r is an endpoint; it needs s3.bucket.name (or gcs.bucket.name) to "
                          "name the bucket, or use an s3://bucket or gs://bucket URL" % url)
    elif scheme in ("s3", "s3a", "gs"):
        scheme = "s3" if scheme == "s3a" else scheme
        bucket, prefix, shown = parsed.netloc, parsed.path.strip("/"), url
        if not bucket:
            raise ConfigError("store.url must name a bucket (%s://bucket/prefix), got %r" % (scheme, url))
    elif scheme in ("", "file"):
        scheme = "file"
    else:
        raise ConfigError("store.url scheme must be one of %s (or a local path), got %r"
                          % (", ".join(repr(s) for s in SCHEMES), url))

    _check_storage_class(values.get("storage.class"), scheme)
    for other, keys in _ONLY_FOR.items():
        for key in keys:
            if other != scheme and values.get(key) is not None:
                raise ConfigError("%s applies only to %s stores; this connector writes to %s"
                                  % (key, _KINDS[other], url or shown))
    if values.get("gcs.credentials.path") and values.get("gcs.credentials.json"):
        raise ConfigError("set gcs.credentials.path or gcs.credentials.json, not both")
    if bool(values.get("aws.access.key.id")) != bool(values.get("aws.secret.access.key")):
        raise ConfigError("aws.access.key.id and aws.secret.access.key go together; set both, or neither "
                          "to use boto3's credential chain")
    if values.get("s3.sse.kms.key.id") and values.get("s3.ssea.name") != "aws:kms":
        raise ConfigError("s3.sse.kms.key.id needs s3.ssea.name=aws:kms, got s3.ssea.name=%r"
                          % values.get("s3.ssea.name"))
    if scheme == "hdfs":
        return hdfs_storage(values)
    if values.get("hdfs.authentication.kerberos"):
        raise ConfigError("hdfs.authentication.kerberos applies only to HDFS stores; this connector "
                          "writes to %s" % (url or shown))
    if scheme == "file":
        return _local(url)
    if scheme == "az":
        return azure_storage(values)
    if scheme == "gs":
        return GcsStorage(bucket, prefix, shown, credentials_path=values.get("gcs.credentials.path"),
                          credentials_json=values.get("gcs.credentials.json"), endpoint=endpoint)
    require_boto3()
    part_size = values.get("s3.part.size") or DEFAULT_PART_SIZE
    return S3Storage(bucket, prefix, shown, region=values.get("s3.region"), endpoint=endpoint,
                     access_key_id=values.get("aws.access.key.id"),
                     secret_access_key=values.get("aws.secret.access.key"),
                     path_style=values.get("s3.path.style.access.enabled", True), part_size=part_size,
                     retries=values.get("s3.part.retries", 3), proxy=values.get("s3.proxy.url"),
                     sse=values.get("s3.ssea.name"), sse_kms_key_id=values.get("s3.sse.kms.key.id"),
                     acl=values.get("s3.acl.canned"))


def _local(url: str) -> LocalStorage:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file" and parsed.netloc not in ("", "localhost"):
        raise ConfigError("store.url must be a local path or a file:// URL without a host "
                          "(file:///abs/path), got %r" % url)
    path = parsed.path if parsed.scheme == "file" else url
    if not path:
        raise ConfigError("store.url must name a directory, got %r" % url)
    return LocalStorage(os.path.abspath(os.path.expanduser(path)), url)


def _check_storage_class(name: Optional[str], scheme: str) -> None:
    if name is None:
        return
    wanted = STORAGE_CLASSES[name]
    if wanted != scheme:
        raise ConfigError("storage.class=%s is a %s store, but the store's keys name a %s store"
                          % (name, _KINDS[wanted], _KINDS[scheme]))


__all__ = ["AzureBlobStorage", "GcsStorage", "HdfsStorage", "LocalStorage", "S3Storage", "SCHEMES", "STORAGE_CLASSES",
           "Storage", "StorageError", "storage_for"]
