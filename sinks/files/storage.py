"""Where the file sink's files live. Writes are atomic: a temporary name, then a rename.

Only the local file system (a path or ``file://`` URL) for now; object stores plug in here.
"""

from __future__ import annotations

import os
import urllib.parse
import uuid
from typing import Iterator

from pipelines.config.errors import ConfigError
from sinks.files.naming import temp_name

SCHEMES = ("file",)


class LocalStorage:
    """A directory tree on a local or mounted file system.

    A file is written under a hidden temporary name in its final directory, flushed with ``fsync`` and
    renamed into place (atomic on POSIX), then the directory is synced, so a file that exists is whole
    and durable.
    """

    def __init__(self, root: str):
        self.root = root

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def write_atomic(self, path: str, data: bytes) -> None:
        directory, name = os.path.split(path)
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, temp_name(name, uuid.uuid4().hex[:12]))
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

    def walk(self, directory: str) -> Iterator[str]:
        """Every file below ``directory`` (none if it does not exist)."""
        for dirpath, _, names in os.walk(directory):
            for name in names:
                yield os.path.join(dirpath, name)

    def delete(self, path: str) -> None:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def storage_for(url: str) -> LocalStorage:
    """The storage behind ``store.url``; an unsupported scheme is a ConfigError."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in ("", "file"):
        if parsed.scheme == "file" and parsed.netloc not in ("", "localhost"):
            raise ConfigError("store.url must be a local path or a file:// URL without a host "
                              "(file:///abs/path), got %r" % url)
        path = parsed.path if parsed.scheme == "file" else url
        if not path:
            raise ConfigError("store.url must name a directory, got %r" % url)
        return LocalStorage(os.path.abspath(os.path.expanduser(path)))
    raise ConfigError("store.url scheme must be one of %s (a local path or file:// URL), got %r"
                      % (", ".join(repr(s) for s in SCHEMES), url))
