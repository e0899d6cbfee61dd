"""The storage ABC: where the file sink's files live, and what a store must promise.

A store writes a whole file or nothing under its final name, lists what a directory holds and deletes
by name. That is all exactly-once needs: a replayed window rewrites the same name with the same bytes,
and files an uncommitted run left behind are found by listing and removed.
"""

from __future__ import annotations

import abc
import threading
from typing import Iterator, Optional

from common.errors import BeamConnectError


class StorageError(BeamConnectError):
    """A store refused or failed a write, a listing or a delete."""


class Storage(abc.ABC):
    """A place for files, named by ``store.url``.

    Stores are part of the sink config, which is pickled into the workers' DoFns: a store keeps only
    its settings, and makes its client on first use in each process.
    """

    url: str

    @abc.abstractmethod
    def path(self, *parts: str) -> str:
        """The path or URL of ``parts`` below the store's root."""

    @abc.abstractmethod
    def write(self, path: str, data: bytes) -> None:
        """Writes ``data`` as the whole file ``path``, replacing it; durable once this returns.

        Readers see either no file, the file it replaces, or all of ``data``; never a part of it.
        """

    @abc.abstractmethod
    def walk(self, directory: str, start_after: Optional[str] = None) -> Iterator[str]:
        """The path of every file below ``directory`` (none if there is none).

        With ``start_after`` (a path), only those whose path sorts after it are needed; a store may
        still list more (a local directory lists all), never fewer.
        """

    @abc.abstractmethod
    def delete(self, path: str) -> None:
        """Removes a file; a file that is already gone is not an error."""

    @abc.abstractmethod
    def check(self) -> None:
        """Fails with a :class:`StorageError` naming ``store.url`` when files cannot be written there
        (run before any record is read)."""


class LazyClient:
    """For stores whose client is made on first use in each process, under ``self._lock``: neither
    the client nor the lock is pickled with the store. Call :meth:`_no_client` from ``__init__``."""

    def _no_client(self) -> None:
        self._client = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_client"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
