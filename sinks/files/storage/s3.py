"""Amazon S3 and S3-compatible stores, through ``boto3`` (``s3://bucket/prefix`` or ``s3.bucket.name``).

Needs the ``[aws]`` extra. Credentials: ``aws.access.key.id`` and ``aws.secret.access.key`` when set,
otherwise boto3's default chain (environment, profile, instance role). The endpoint of an S3-compatible
store is ``store.url`` when ``s3.bucket.name`` names the bucket (Confluent's meaning of ``store.url``
for its S3 sink), or ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import importlib.util
import io
from typing import Any, Iterator, Optional

from common.errors import ConfigError
from sinks.files.storage.objects import ObjectStorage

DEFAULT_PART_SIZE = 25 * 1024 * 1024  # Confluent's s3.part.size default
MIN_PART_SIZE = 5 * 1024 * 1024  # S3's smallest part
SSE_ALGORITHMS = ("AES256", "aws:kms")
CANNED_ACLS = ("private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
               "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write")


def require_boto3() -> None:
    if importlib.util.find_spec("boto3") is None:
        raise ConfigError("an S3 store needs boto3; install it with pip install 'beamconnect[aws]'")


class S3Storage(ObjectStorage):
    """An S3 bucket. A file up to ``s3.part.size`` is one PutObject; a larger one is a multipart
    upload, which S3 makes visible only when it completes. Either is retried on transient errors: a
    repeat rewrites the same bytes under the same name."""

    scheme = "s3"

    def __init__(self, bucket: str, prefix: str = "", url: str = "", *, region: Optional[str] = None,
                 endpoint: Optional[str] = None, access_key_id: Optional[str] = None,
                 secret_access_key: Optional[str] = None, path_style: bool = True,
                 part_size: int = DEFAULT_PART_SIZE, retries: int = 3, proxy: Optional[str] = None,
                 sse: Optional[str] = None, sse_kms_key_id: Optional[str] = None,
                 acl: Optional[str] = None):
        super().__init__(bucket, prefix, url or "s3://%s/%s" % (bucket, prefix.strip("/")))
        self.region = region
        self.endpoint = endpoint
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.path_style = path_style
        self.part_size = part_size
        self.retries = retries
        self.proxy = proxy
        self.object_args = {name: value for name, value in (
            ("ServerSideEncryption", sse), ("SSEKMSKeyId", sse_kms_key_id), ("ACL", acl)) if value}

    def _make_client(self) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(retries={"mode": "standard", "max_attempts": self.retries},
                        s3={"addressing_style": "path" if self.path_style else "auto"},
                        proxies={"http": self.proxy, "https": self.proxy} if self.proxy else None)
        return boto3.session.Session().client(
            "s3", region_name=self.region, endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key_id, aws_secret_access_key=self.secret_access_key,
            config=config)

    def _put(self, key: str, data: bytes) -> None:
        if len(data) <= self.part_size:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **self.object_args)
            return
        from boto3.s3.transfer import TransferConfig

        transfer = TransferConfig(multipart_threshold=self.part_size, multipart_chunksize=self.part_size)
        self.client.upload_fileobj(io.BytesIO(data), self.bucket, key, Config=transfer,
                                   ExtraArgs=self.object_args or None)

    def _list(self, prefix: str, start_after: Optional[str]) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        extra = {"StartAfter": start_after} if start_after else {}
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, **extra):
            for item in page.get("Contents", ()):
                yield item["Key"]

    def _delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def _reason(self, exc: Exception) -> str:
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchBucket", "404"):
                return "bucket %r does not exist" % self.bucket
            if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                return "the credentials may not use bucket %r (%s)" % (self.bucket, code)
        return super()._reason(exc)
