"""A throwaway HDFS (Hadoop's ``MiniDFSCluster``: one namenode, one datanode) and where a test finds one.

The cluster is Hadoop's own test cluster, started by ``org.apache.hadoop.mapreduce.MiniHadoopClusterManager
-nomr`` (only HDFS, no MapReduce) from Maven Central's ``hadoop-minicluster`` jars, resolved once with
``mvn`` into the cache the local Kafka broker uses (``${BEAMCONNECT_CACHE:-~/.cache/beamconnect}/
hadoop-minicluster-<version>``), under a file lock. Its classpath also needs junit, a mockito-core 2.x
and a jackson-core of the 2.12 line (each missing one fails the start with a ``NoClassDefFoundError``),
pinned here. The namenode's RPC and HTTP (WebHDFS) servers listen on free loopback ports; the
datanode's own ports are picked by the cluster on 127.0.0.1, and WebHDFS redirects point there.
Permissions are on, and the superuser is the user that started the cluster (this process's user),
which is who the sink writes as (``HADOOP_USER_NAME``, else the login name).

Set ``BEAMCONNECT_WEBHDFS_URL`` (``http://HOST:PORT``, a namenode's WebHDFS address; optionally
``BEAMCONNECT_HDFS_RPC_URL``, its ``hdfs://HOST:PORT``) to use a running cluster instead; the suite's
user must be able to write below ``/``, and each test writes below a directory of its own.
"""

from __future__ import annotations

import dataclasses
import getpass
import logging
import os
import pathlib
import subprocess
import urllib.parse
from typing import List, Optional, Sequence

import requests

from common.errors import BeamConnectError, ConfigError
from pipelines.dev_cache import cached, maven_jars
from pipelines.dev_kafka import java_executable
from tests.servers.base import HOST, ServerProcess

_LOGGER = logging.getLogger(__name__)

HADOOP_VERSION = "3.4.1"
URL_VARIABLE = "BEAMCONNECT_WEBHDFS_URL"
RPC_URL_VARIABLE = "BEAMCONNECT_HDFS_RPC_URL"
_ARTIFACTS = [("org.apache.hadoop", "hadoop-minicluster", HADOOP_VERSION),
              ("junit", "junit", "4.13.2"),
              ("org.mockito", "mockito-core", "2.28.2"),
              ("com.fasterxml.jackson.core", "jackson-core", "2.12.7")]
_HEAP = "512m"
_LOG4J_PROPERTIES = """\
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={path}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=%d %p %c{{1}} %m%n
"""


@dataclasses.dataclass(frozen=True)
class Hdfs:
    """An HDFS cluster as a test sees it: its addresses, and plain WebHDFS calls to seed and read it.

    The calls here are the test's own (``requests``), independent of the sink's client.

    Args:
      webhdfs: The namenode's WebHDFS base, ``http://HOST:PORT``.
      rpc: The namenode's ``hdfs://HOST:PORT``, when known.
      user: Who the calls act as (``user.name``).
      server: The suite's own cluster, or None for one an environment variable names.
    """

    webhdfs: str
    rpc: Optional[str] = None
    user: str = dataclasses.field(default_factory=getpass.getuser)
    server: Optional[ServerProcess] = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def http_address(self) -> str:
        """``HOST:PORT`` of WebHDFS, as ``dfs.namenode.http-address`` writes it."""
        return urllib.parse.urlsplit(self.webhdfs).netloc

    def _call(self, method: str, path: str, op: str, **params) -> requests.Response:
        url = "%s/webhdfs/v1%s" % (self.webhdfs, urllib.parse.quote(path))
        response = requests.request(method, url, params={"op": op, "user.name": self.user, **params},
                                    timeout=30, allow_redirects=False)
        if response.status_code == 307:  # OPEN redirects to the datanode
            response = requests.request(method, response.headers["Location"], timeout=60)
        return response

    def files(self, path: str) -> List[str]:
        """Every file below ``path`` (hidden ones too), as paths relative to it, sorted."""
        found = []

        def walk(directory: str, relative: str) -> None:
            response = self._call("GET", directory, "LISTSTATUS")
            if response.status_code == 404:
                return
            response.raise_for_status()
            for status in response.json()["FileStatuses"]["FileStatus"]:
                child = "%s/%s" % (relative, status["pathSuffix"]) if relative else status["pathSuffix"]
                if status["type"] == "DIRECTORY":
                    walk("%s/%s" % (directory.rstrip("/"), status["pathSuffix"]), child)
                else:
                    found.append(child)

        walk(path, "")
        return sorted(found)

    def read(self, path: str) -> bytes:
        response = self._call("GET", path, "OPEN")
        response.raise_for_status()
        return response.content

    def put(self, path: str, data: bytes) -> None:
        url = "%s/webhdfs/v1%s" % (self.webhdfs, urllib.parse.quote(path))
        first = requests.put(url, params={"op": "CREATE", "overwrite": "true", "user.name": self.user},
                             timeout=30, allow_redirects=False)
        first.raise_for_status()
        second = requests.put(first.headers["Location"], data=data, timeout=60)
        second.raise_for_status()

    def delete(self, path: str) -> None:
        self._call("DELETE", path, "DELETE", recursive="true").raise_for_status()

    def mkdirs(self, path: str, permission: Optional[str] = None) -> None:
        params = {"permission": permission} if permission else {}
        self._call("PUT", path, "MKDIRS", **params).raise_for_status()

    def set_permission(self, path: str, permission: str) -> None:
        self._call("PUT", path, "SETPERMISSION", permission=permission).raise_for_status()


def from_environment() -> Optional[Hdfs]:
    """The cluster ``BEAMCONNECT_WEBHDFS_URL`` names, or None when it is not set.

    Raises:
      ConfigError: the variable is not an ``http(s)://HOST:PORT`` address.
    """
    url = os.environ.get(URL_VARIABLE)
    if not url:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or not parts.port:
        raise ConfigError("%s must be http://HOST:PORT (a namenode's WebHDFS address), got %r"
                          % (URL_VARIABLE, url))
    return Hdfs("%s://%s" % (parts.scheme, parts.netloc), os.environ.get(RPC_URL_VARIABLE) or None,
                os.environ.get("HADOOP_USER_NAME") or getpass.getuser())


class LocalHdfs(ServerProcess):
    """A MiniDFSCluster of its own on 127.0.0.1: ``ports`` are the namenode's RPC and HTTP ports.

    Example::

        with LocalHdfs() as server:
            server.hdfs.files("/")
    """

    name = "HDFS"
    port_count = 2

    def __init__(self, options: Sequence[str] = (), quick_start: bool = True):
        """Args:
          options: Extra ``MiniHadoopClusterManager`` options.
          quick_start: Only the JVM's quick compiler (starts faster; writes are slower): off for
            benchmarks.
        """
        super().__init__(options)
        self._jit = ["-XX:TieredStopAtLevel=1"] if quick_start else []

    @property
    def hdfs(self) -> Hdfs:
        """The cluster's addresses; only after :meth:`start`."""
        if self.workdir is None:
            raise BeamConnectError("the local %s cluster has not been started" % self.name)
        return Hdfs("http://%s:%d" % (HOST, self.ports[1]), "hdfs://%s:%d" % (HOST, self.ports[0]),
                    os.environ.get("HADOOP_USER_NAME") or getpass.getuser(), server=self)

    def _initialize(self) -> None:
        self._home = ensure_minicluster()
        (self.workdir / "data").mkdir()
        (self.workdir / "log4j.properties").write_text(
            _LOG4J_PROPERTIES.format(path=self.workdir / "hdfs.log"))

    def _launch(self) -> subprocess.Popen:
        rpc, http = self.ports
        argv = [java_executable(), "-Xmx%s" % _HEAP, "-XX:+UseSerialGC", *self._jit,
                "-Djava.awt.headless=true", "-Dtest.build.data=%s" % (self.workdir / "data"),
                "-Dlog4j.configuration=file:%s" % (self.workdir / "log4j.properties"),
                "-cp", str(self._home / "libs" / "*"), "org.apache.hadoop.mapreduce.MiniHadoopClusterManager",
                "-nomr", "-format", "-nnport", str(rpc), "-nnhttpport", str(http),
                "-D", "dfs.namenode.rpc-bind-host=%s" % HOST, "-D", "dfs.namenode.http-bind-host=%s" % HOST,
                "-D", "dfs.permissions.enabled=true",
                # the datanode's client (WebHDFS writes go through it) asks the namenode again to close
                # a file whose last block it has not heard of yet after 400 ms by default: 20 ms here
                "-D", "dfs.client.block.write.locateFollowingBlock.initial.delay.ms=20", *self.options]
        with open(self.workdir / "hdfs.out", "ab") as output:
            return subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, **self._popen_options())

    def _wait_ready(self, started: float, timeout: float) -> None:
        self.port = self.ports[1]  # readiness is the HTTP side: WebHDFS answering, a datanode live
        try:
            super()._wait_ready(started, timeout)
        finally:
            self.port = self.ports[0]

    def _ping(self) -> bool:
        """Whether the namenode is out of safe mode and has a live datanode."""
        try:
            answer = requests.get("http://%s:%d/jmx" % (HOST, self.ports[1]), timeout=5,
                                  params={"qry": "Hadoop:service=NameNode,name=FSNamesystemState"})
            state = answer.json()["beans"][0]
        except (requests.RequestException, ValueError, KeyError, IndexError):
            return False
        return state.get("NumLiveDataNodes", 0) >= 1 and state.get("FSState") == "Operational"

    def _log_files(self) -> Sequence[pathlib.Path]:
        return [self.workdir / "hdfs.out", self.workdir / "hdfs.log"]


def ensure_minicluster() -> pathlib.Path:
    """The cached ``hadoop-minicluster`` jars (``libs/``), resolved from Maven Central on first use."""
    def make(home: pathlib.Path) -> str:
        count = maven_jars(_ARTIFACTS, home / "libs", "hadoop-minicluster %s" % HADOOP_VERSION)
        return "hadoop-minicluster %s, %d jars" % (HADOOP_VERSION, count)

    return cached("hadoop-minicluster-%s" % HADOOP_VERSION, make)


def conf_dir(directory: pathlib.Path, hdfs: Hdfs, *, rpc: Optional[str] = None) -> pathlib.Path:
    """Writes a Hadoop configuration directory for ``hdfs`` (``core-site.xml`` with ``fs.defaultFS``,
    ``hdfs-site.xml`` with ``dfs.namenode.http-address``) into ``directory``; returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    default_fs = rpc or hdfs.rpc or "hdfs://%s" % urllib.parse.urlsplit(hdfs.webhdfs).hostname
    (directory / "core-site.xml").write_text(_site({"fs.defaultFS": default_fs}))
    (directory / "hdfs-site.xml").write_text(_site({"dfs.namenode.http-address": hdfs.http_address}))
    return directory


def _site(properties: dict) -> str:
    body = "".join("  <property><name>%s</name><value>%s</value></property>\n" % item
                   for item in properties.items())
    return '<?xml version="1.0"?>\n<configuration>\n%s</configuration>\n' % body


__all__ = ["Hdfs", "LocalHdfs", "conf_dir", "ensure_minicluster", "from_environment"]
