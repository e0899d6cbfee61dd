"""What object stores (S3, GCS) share: URLs, keys below a prefix, and a client made on first use.

An object store has no rename, and needs none: an upload becomes visible whole when it completes, so
files are uploaded under their final names. Listing is strongly consistent on both S3 and GCS, so the
end-of-run cleanup sees every file an earlier run left.
"""

from __future__ import annotations

import abc
from typing import Any, Iterator, Optional

from sinks.files.storage.base import LazyClient, Storage, StorageError


class ObjectStorage(LazyClient, Storage):
    """A bucket and a key prefix, addressed as ``<scheme>://<bucket>/<prefix>/...``.

    Subclasses make the client and do the three calls; the client is not pickled.
    """

    scheme: str

    def __init__(self, bucket: str, prefix: str, url: str):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = url
        self._no_client()

    def path(self, *parts: str) -> str:
        return self._url("/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/")))

    def _url(self, key: str) -> str:
        return "%s://%s/%s" % (self.scheme, self.bucket, key)

    def key(self, path: str) -> str:
        """The object key of a path this store made."""
        head = self._url("")
        if not path.startswith(head):
            raise ValueError("%s is not in %s" % (path, head))
        return path[len(head):]

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def write(self, path: str, data: bytes) -> None:
        try:
            self._put(self.key(path), data)
        except Exception as exc:
            raise StorageError("could not write %s: %s" % (path, self._reason(exc))) from exc

    def walk(self, directory: str, start_after: Optional[str] = None) -> Iterator[str]:
        prefix = self.key(directory).rstrip("/")
        prefix = prefix + "/" if prefix else ""
        try:
            for key in self._list(prefix, self.key(start_after) if start_after else None):
                yield self._url(key)
        except Exception as exc:
            raise StorageError("could not list %s: %s" % (directory, self._reason(exc))) from exc

    def delete(self, path: str) -> None:
        try:
            self._delete(self.key(path))
        except Exception as exc:
            raise StorageError("could not delete %s: %s" % (path, self._reason(exc))) from exc

    def check(self) -> None:
        try:
            next(iter(self._list(self.key(self.path("")), None)), None)
        except Exception as exc:
            raise StorageError("store.url=%s cannot be used: %s" % (self.url, self._reason(exc))) \
                from exc

    @abc.abstractmethod
    def _make_client(self) -> Any:
        """A client for this process (credentials and endpoint from the store's settings)."""

    @abc.abstractmethod
    def _put(self, key: str, data: bytes) -> None:
        """Uploads one whole object."""

    @abc.abstractmethod
    def _list(self, prefix: str, start_after: Optional[str]) -> Iterator[str]:
        """Every key that starts with ``prefix`` (and sorts after ``start_after``, when given)."""

    @abc.abstractmethod
    def _delete(self, key: str) -> None:
        """Deletes one object; a missing one is not an error."""

    def _reason(self, exc: Exception) -> str:
        """A one-line reason for a client error (the bucket's name where it is missing)."""
        return "%s: %s" % (type(exc).__name__, exc)
