"""Google Cloud Storage, through ``google-cloud-storage`` (``gs://bucket/prefix`` or ``gcs.bucket.name``).

Credentials: ``gcs.credentials.json`` (a service account key's JSON) or ``gcs.credentials.path`` (its
file), as Confluent's GCS sink takes them; otherwise Application Default Credentials (the worker's service
account on Dataflow). ``STORAGE_EMULATOR_HOST`` points the client at an emulator, as in Google's own
libraries.
"""

from __future__ import annotations

import json
from typing import Any, Iterator, Optional

from sinks.files.storage.objects import ObjectStorage


class GcsStorage(ObjectStorage):
    """A GCS bucket. Uploads are single requests checked with CRC32C; an object appears whole or not
    at all. A write is retried on transient errors even though it has no generation precondition:
    it rewrites the same bytes under the same name, so a repeat is harmless."""

    scheme = "gs"

    def __init__(self, bucket: str, prefix: str = "", url: str = "", *,
                 credentials_path: Optional[str] = None, credentials_json: Optional[str] = None,
                 endpoint: Optional[str] = None):
        super().__init__(bucket, prefix, url or "gs://%s/%s" % (bucket, prefix.strip("/")))
        self.credentials_path = credentials_path
        self.credentials_json = credentials_json
        self.endpoint = endpoint

    def _make_client(self) -> Any:
        from google.cloud import storage
        from google.oauth2 import service_account

        credentials = None
        if self.credentials_json:
            credentials = service_account.Credentials.from_service_account_info(
                json.loads(self.credentials_json))
        elif self.credentials_path:
            credentials = service_account.Credentials.from_service_account_file(self.credentials_path)
        options = {"api_endpoint": self.endpoint} if self.endpoint else None
        project = credentials.project_id if credentials is not None else None
        return storage.Client(project=project, credentials=credentials, client_options=options)

    def _put(self, key: str, data: bytes) -> None:
        from google.cloud.storage.retry import DEFAULT_RETRY

        blob = self.client.bucket(self.bucket).blob(key)
        blob.upload_from_string(data, content_type="application/octet-stream", checksum="crc32c",
                                retry=DEFAULT_RETRY)

    def _list(self, prefix: str, start_after: Optional[str]) -> Iterator[str]:
        for blob in self.client.list_blobs(self.bucket, prefix=prefix, start_offset=start_after):
            if blob.name != start_after:  # start_offset is inclusive
                yield blob.name

    def _delete(self, key: str) -> None:
        from google.api_core.exceptions import NotFound

        try:
            self.client.bucket(self.bucket).blob(key).delete()
        except NotFound:
            pass

    def _reason(self, exc: Exception) -> str:
        from google.api_core.exceptions import Forbidden, NotFound

        if isinstance(exc, NotFound):
            return "bucket %r does not exist" % self.bucket
        if isinstance(exc, Forbidden):
            return "the credentials may not use bucket %r (%s)" % (self.bucket, exc.message)
        return super()._reason(exc)
