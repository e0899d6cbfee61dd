"""HDFS, reached through WebHDFS (fsspec's client), or through libhdfs where that is installed.

``hdfs.url`` (or ``store.url``) names the file system and an optional base directory:

- ``hdfs://namenode:8020/base``: the namenode's WebHDFS address comes from ``hadoop.conf.dir``
  (``hdfs-site.xml``'s ``dfs.namenode.http-address``, or ``https-address`` under
  ``dfs.http.policy=HTTPS_ONLY``; for an HA nameservice, ``hdfs://nameservice``, every namenode's,
  the active one found by asking), else the namenode's host on port 9870. ``hdfs:///base`` takes the
  namenode from ``core-site.xml``'s ``fs.defaultFS``. When libhdfs is found (``ARROW_LIBHDFS_DIR``,
  or ``lib/native/libhdfs.so`` below ``hadoop.home`` or ``HADOOP_HOME``) the file system is spoken to
  natively instead, through ``pyarrow.fs.HadoopFileSystem``, with the conf files' properties;
- ``webhdfs://host:port/base`` (``swebhdfs://`` for HTTPS): that WebHDFS (or HttpFS) address, never libhdfs.

A file is written under a hidden temporary name in its final directory (``.<name>.<token>.tmp``,
which HDFS tools and the HDFS connector's own recovery skip) and renamed into place. WebHDFS renames
with ``renameoptions=OVERWRITE`` (HDFS's ``rename2``), which replaces an existing file atomically, so a
replay that rewrites a name swaps the file whole; libhdfs's rename fails onto an existing file, so there
an existing file with the same bytes is kept (a replay writes the same bytes) and another one is deleted
first. Either way a reader sees the old file, no file, or the new one; never a part of one. A file is
durable once the rename returns: HDFS has acknowledged every block on the datanodes by then.

The client acts as ``HADOOP_USER_NAME`` (else the login name), as Hadoop's own clients do, taken when
the config is read; with ``hdfs.authentication.kerberos=true`` it logs in with SPNEGO as
``connect.hdfs.principal`` from ``connect.hdfs.keytab`` instead (requests-gssapi, or
requests-kerberos). The keys are read by :mod:`sinks.files.storage.hadoop`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import subprocess
import urllib.parse
import uuid
from typing import Any, Iterator, Optional, Sequence

from sinks.files.naming import temp_name
from sinks.files.storage.base import LazyClient, Storage, StorageError

_LOGGER = logging.getLogger(__name__)

TIMEOUT_S = 300.0
"""Seconds a datanode may take to take one file's bytes."""


@dataclasses.dataclass(frozen=True)
class KerberosLogin:
    """``connect.hdfs.principal`` from ``connect.hdfs.keytab`` (``hdfs.namenode.principal``, if set, for
    the native client)."""

    principal: str
    keytab: str
    namenode_principal: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class NativeClient:
    """The libhdfs connection: the namenode (``port`` 0 for an HA nameservice), where libhdfs was found,
    and the Hadoop properties read from ``hadoop.conf.dir``."""

    host: str
    port: int
    libhdfs_dir: str
    hadoop_home: Optional[str] = None
    conf: tuple = ()


class HdfsStorage(LazyClient, Storage):
    """A directory tree in HDFS, addressed as ``<hdfs.url>/<parts>``.

    Args:
      url: The store's URL as paths show it (``hdfs://nn:8020/base``), without a trailing slash.
      root: The HDFS directory it names (``/base``).
      namenodes: WebHDFS base URLs (``http://host:9870``) of the namenodes, the active one first if
        known; for HA every namenode of the nameservice.
      user: Who the client acts as (``user.name``); None with Kerberos.
      kerberos: The Kerberos login, or None.
      native: Use libhdfs (pyarrow) instead of WebHDFS.
    """

    def __init__(self, url: str, root: str, namenodes: Sequence[str], *, user: Optional[str] = None,
                 kerberos: Optional[KerberosLogin] = None, native: Optional[NativeClient] = None):
        self.url = url
        self.root = root
        self.namenodes = tuple(namenodes)
        self.user = user
        self.kerberos = kerberos
        self.native = native
        self._no_client()

    def __repr__(self) -> str:
        return "HdfsStorage(%r, via %s)" % (self.url, "libhdfs" if self.native else ", ".join(self.namenodes))

    def path(self, *parts: str) -> str:
        rest = "/".join(p.strip("/") for p in parts if p.strip("/"))
        return "%s/%s" % (self.url, rest) if rest else self.url

    def hdfs_path(self, path: str) -> str:
        """The absolute HDFS path of a path this store made."""
        if path != self.url and not path.startswith(self.url + "/"):
            raise ValueError("%s is not in %s" % (path, self.url))
        return (self.root.rstrip("/") + path[len(self.url):]) or "/"

    def _path(self, hdfs_path: str) -> str:
        return self.url + hdfs_path[len(self.root.rstrip("/")):]

    @property
    def client(self) -> "_Client":
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = (_NativeClient(self) if self.native is not None
                                    else _WebHdfsClient(self))
        return self._client

    def write(self, path: str, data: bytes) -> None:
        target = self.hdfs_path(path)
        directory, name = target.rsplit("/", 1)
        tmp = "%s/%s" % (directory, temp_name(name, uuid.uuid4().hex[:12]))
        try:
            self.client.write(tmp, data)
            self.client.replace(tmp, target, data)
        except Exception as exc:
            try:
                self.client.delete(tmp)
            except Exception:  # the write's own error is the one to report
                pass
            raise StorageError("could not write %s: %s" % (path, _reason(exc))) from exc

    def walk(self, directory: str, start_after: Optional[str] = None) -> Iterator[str]:
        try:
            found = list(self.client.files(self.hdfs_path(directory)))
        except Exception as exc:
            raise StorageError("could not list %s: %s" % (directory, _reason(exc))) from exc
        for hdfs_path in found:
            yield self._path(hdfs_path)

    def delete(self, path: str) -> None:
        try:
            self.client.delete(self.hdfs_path(path))
        except Exception as exc:
            raise StorageError("could not delete %s: %s" % (path, _reason(exc))) from exc

    def read(self, path: str) -> bytes:
        """A file's bytes (for checks and tests)."""
        try:
            return self.client.read(self.hdfs_path(path))
        except Exception as exc:
            raise StorageError("could not read %s: %s" % (path, _reason(exc))) from exc

    def check(self) -> None:
        """The root, or its nearest existing parent, must be a directory the user may write to."""
        if self.kerberos is not None and not os.access(self.kerberos.keytab, os.R_OK):
            raise StorageError("store.url=%s: connect.hdfs.keytab=%s is not a readable file"
                               % (self.url, self.kerberos.keytab))
        try:
            existing = self.root
            kind = self.client.kind(existing)
            while kind is None and existing != "/":
                existing = existing.rsplit("/", 1)[0] or "/"
                kind = self.client.kind(existing)
            if kind != "DIRECTORY":
                raise StorageError("%s is not a directory" % existing)
            self.client.check_write(existing)
        except Exception as exc:
            raise StorageError("store.url=%s cannot be used: %s" % (self.url, _reason(exc))) from exc


def _reason(exc: Exception) -> str:
    """One line saying why a call failed: HDFS's own exception where it answered with one (never a
    request's query, which may hold a delegation token)."""
    if isinstance(exc, StorageError):
        return str(exc)
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            remote = response.json()["RemoteException"]
            return "%s: %s" % (remote["exception"], str(remote["message"]).splitlines()[0])
        except (ValueError, KeyError, TypeError, IndexError):
            return "HTTP %d from %s" % (response.status_code, str(response.url).split("?")[0])
    text = str(exc).splitlines()[0] if str(exc) else ""
    return "%s: %s" % (type(exc).__name__, text) if text else type(exc).__name__


class _Client:
    """The calls :class:`HdfsStorage` makes, on absolute HDFS paths."""

    def write(self, path: str, data: bytes) -> None:
        raise NotImplementedError

    def replace(self, source: str, target: str, data: bytes) -> None:
        raise NotImplementedError

    def files(self, directory: str) -> Iterator[str]:
        raise NotImplementedError

    def delete(self, path: str) -> None:
        raise NotImplementedError

    def read(self, path: str) -> bytes:
        raise NotImplementedError

    def kind(self, path: str) -> Optional[str]:
        """``FILE``, ``DIRECTORY``, or None when nothing is there."""
        raise NotImplementedError

    def check_write(self, directory: str) -> None:
        raise NotImplementedError


class _WebHdfsClient(_Client):
    """fsspec's WebHDFS client, on the active namenode (found again when one answers as standby)."""

    def __init__(self, store: HdfsStorage):
        self._store = store
        self._fs = None

    def _connect(self, namenode: str):
        from fsspec.implementations.webhdfs import WebHDFS

        parts = urllib.parse.urlsplit(namenode)
        fs = WebHDFS(parts.hostname, parts.port, user=self._store.user, use_https=parts.scheme == "https",
                     skip_instance_cache=True)
        if self._store.kerberos is not None:
            fs.session.auth = kerberos_auth(self._store.kerberos)
        return fs

    def _active(self, refresh: bool = False):
        if self._fs is not None and not refresh:
            return self._fs
        namenodes = self._store.namenodes
        if len(namenodes) == 1:
            self._fs = self._connect(namenodes[0])
            return self._fs
        failures = []
        for namenode in namenodes:
            fs = self._connect(namenode)
            try:
                fs.info("/")
            except Exception as exc:
                failures.append("%s: %s" % (namenode, _reason(exc)))
                continue
            self._fs = fs
            return fs
        raise StorageError("no namenode of %s is active (%s)" % (self._store.url, "; ".join(failures)))

    def _call(self, action):
        try:
            return action(self._active())
        except RuntimeError as exc:  # fsspec's error for a namenode in standby, among others
            if len(self._store.namenodes) == 1 or "standby" not in str(exc).lower():
                raise
            return action(self._active(refresh=True))

    def write(self, path: str, data: bytes) -> None:
        # One CREATE carrying the data, with fsspec's own calls: its file object creates an empty file
        # and appends to it, two file closes (each waiting for the namenode) instead of one.
        def write(fs):
            created = fs._call("CREATE", method="put", path=path, redirect=False, overwrite="true")
            location = fs._apply_proxy(created.headers["Location"])
            answer = fs.session.put(location, data=data, timeout=TIMEOUT_S,
                                    headers={"content-type": "application/octet-stream"})
            answer.raise_for_status()
        self._call(write)

    def replace(self, source: str, target: str, data: bytes) -> None:
        # fsspec's mv() is HDFS's rename(), which fails onto an existing file (answering false);
        # rename2 with OVERWRITE replaces it atomically.
        self._call(lambda fs: fs._call("RENAME", method="put", path=source, destination=target,
                                        renameoptions="OVERWRITE"))

    def files(self, directory: str) -> Iterator[str]:
        pending = [directory]
        while pending:
            current = pending.pop()
            try:
                entries = self._call(lambda fs: fs.ls(current, detail=True))
            except FileNotFoundError:
                continue
            for entry in entries:
                if entry["type"] == "directory":
                    pending.append(entry["name"])
                else:
                    yield entry["name"]

    def delete(self, path: str) -> None:
        self._call(lambda fs: fs.rm(path))  # a missing file answers false, which is not an error

    def read(self, path: str) -> bytes:
        return self._call(lambda fs: fs.cat_file(path))

    def kind(self, path: str) -> Optional[str]:
        try:
            return self._call(lambda fs: fs.info(path))["type"].upper()
        except FileNotFoundError:
            return None

    def check_write(self, directory: str) -> None:
        try:
            self._call(lambda fs: fs._call("CHECKACCESS", path=directory, fsaction="-wx"))
        except PermissionError as exc:
            raise StorageError("user %s may not write to %s: %s"
                               % (self._store.user or self._store.kerberos.principal, directory,
                                  str(exc).splitlines()[0])) from None


class _NativeClient(_Client):
    """pyarrow's ``HadoopFileSystem`` on libhdfs."""

    def __init__(self, store: HdfsStorage):
        from pyarrow import fs as pafs

        native = store.native
        os.environ.setdefault("ARROW_LIBHDFS_DIR", native.libhdfs_dir)
        if native.hadoop_home:
            os.environ.setdefault("HADOOP_HOME", native.hadoop_home)
        if not os.environ.get("CLASSPATH"):
            os.environ["CLASSPATH"] = _hadoop_classpath(native.hadoop_home or os.environ.get("HADOOP_HOME"))
        conf = dict(native.conf)
        ticket = None
        if store.kerberos is not None:
            ticket = _ticket_cache(store.kerberos)
            if store.kerberos.namenode_principal:
                conf["dfs.namenode.kerberos.principal"] = store.kerberos.namenode_principal
        self._pafs = pafs
        self._fs = pafs.HadoopFileSystem(native.host, native.port, user=None if ticket else store.user,
                                         kerb_ticket=ticket, extra_conf=conf or None)

    def write(self, path: str, data: bytes) -> None:
        with self._fs.open_output_stream(path) as out:
            out.write(data)

    def replace(self, source: str, target: str, data: bytes) -> None:
        if self.kind(target) == "FILE":  # libhdfs cannot rename onto an existing file
            if self.read(target) == data:
                self.delete(source)
                return
            self.delete(target)
        self._fs.move(source, target)

    def files(self, directory: str) -> Iterator[str]:
        selector = self._pafs.FileSelector(directory, recursive=True, allow_not_found=True)
        for info in self._fs.get_file_info(selector):
            if info.type == self._pafs.FileType.File:
                yield info.path if info.path.startswith("/") else "/" + info.path

    def delete(self, path: str) -> None:
        try:
            self._fs.delete_file(path)
        except FileNotFoundError:
            pass

    def read(self, path: str) -> bytes:
        with self._fs.open_input_stream(path) as stream:
            return stream.read()

    def kind(self, path: str) -> Optional[str]:
        info = self._fs.get_file_info(path)
        return {self._pafs.FileType.File: "FILE",
                self._pafs.FileType.Directory: "DIRECTORY"}.get(info.type)

    def check_write(self, directory: str) -> None:
        probe = "%s/.beamconnect-check-%s" % (directory.rstrip("/"), uuid.uuid4().hex[:12])
        self.write(probe, b"")
        self.delete(probe)


def kerberos_auth(login: KerberosLogin) -> Any:
    """A requests auth that logs in with SPNEGO as ``login.principal`` from its keytab."""
    try:
        import gssapi
        import requests_gssapi
    except ImportError:
        pass
    else:
        name = gssapi.Name(login.principal, gssapi.NameType.kerberos_principal)
        credentials = gssapi.Credentials(name=name, usage="initiate", store={
            "client_keytab": login.keytab, "ccache": "MEMORY:beamconnect-%s" % uuid.uuid4().hex})
        return requests_gssapi.HTTPSPNEGOAuth(creds=credentials,
                                              mutual_authentication=requests_gssapi.OPTIONAL)
    import requests_kerberos

    os.environ.setdefault("KRB5_CLIENT_KTNAME", login.keytab)  # MIT Kerberos logs in from it itself
    return requests_kerberos.HTTPKerberosAuth(principal=login.principal,
                                              mutual_authentication=requests_kerberos.OPTIONAL)


def _ticket_cache(login: KerberosLogin) -> str:
    """A ticket cache file for libhdfs, filled from the keytab with GSSAPI."""
    import tempfile

    import gssapi

    path = os.path.join(tempfile.mkdtemp(prefix="beamconnect-krb5-"), "ccache")
    name = gssapi.Name(login.principal, gssapi.NameType.kerberos_principal)
    credentials = gssapi.Credentials(name=name, usage="initiate",
                                     store={"client_keytab": login.keytab})
    credentials.store(store={"ccache": "FILE:" + path}, overwrite=True, set_default=False)
    return path


def _hadoop_classpath(hadoop_home: Optional[str]) -> str:
    hadoop = os.path.join(hadoop_home, "bin", "hadoop") if hadoop_home else shutil.which("hadoop")
    if not hadoop or not os.access(hadoop, os.X_OK):
        raise StorageError("libhdfs needs Hadoop's jars on CLASSPATH; set CLASSPATH, or hadoop.home "
                           "to a Hadoop installation with bin/hadoop")
    return subprocess.run([hadoop, "classpath", "--glob"], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()
