"""A directory on a local or mounted file system (a path or ``file://`` URL)."""

from __future__ import annotations

import os
import uuid
from typing import Iterator, Optional

from sinks.files.naming import temp_name
from sinks.files.storage.base import Storage, StorageError


class LocalStorage(Storage):
    """A directory tree on a local or mounted file system.

    A file is written under a hidden temporary name in its final directory, flushed with ``fsync`` and
    renamed into place (atomic on POSIX), then the directory is synced, so a file that exists is whole
    and durable.
    """

    def __init__(self, root: str, url: str = ""):
        self.root = root
        self.url = url or root

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def write(self, path: str, data: bytes) -> None:
        directory, name = os.path.split(path)
        tmp = os.path.join(directory, temp_name(name, uuid.uuid4().hex[:12]))
        try:
            os.makedirs(directory, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StorageError("could not write %s: %s" % (path, exc)) from exc

    def walk(self, directory: str, start_after: Optional[str] = None) -> Iterator[str]:
        for dirpath, _, names in os.walk(directory):
            for name in names:
                yield os.path.join(dirpath, name)

    def delete(self, path: str) -> None:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass

    def check(self) -> None:
        """The root, or its nearest existing parent, must be a writable directory."""
        existing = self.root
        while not os.path.exists(existing):
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
            raise StorageError("store.url=%s: %s is not a writable directory" % (self.url, existing))
