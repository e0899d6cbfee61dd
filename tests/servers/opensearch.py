"""A throwaway OpenSearch 2.19 node, embedded in a small Java main, and where a test finds a cluster.

The node comes from Maven Central jars (``org.opensearch:opensearch``, the ``transport-netty4-client``,
``analysis-common`` and ``lang-painless`` plugins and ``log4j-core``, which the others do not pull in),
resolved once with ``mvn`` into the cache the local Kafka broker uses
(``${BEAMCONNECT_CACHE:-~/.cache/beamconnect}/opensearch-<version>``), under a file lock, with a
``settings.xml`` whose one mirror is Maven Central (a POM naming other repositories then fails fast
instead of hanging). :data:`NODE_MAIN` is compiled there once.

The distribution's launcher wants files the jars lack, so the node starts the way OpenSearch's own test
framework starts one: a ``Node`` subclass given its plugins as classes (Netty4, common analysis,
Painless) and the settings ``path.home``/``path.data``/``path.logs`` in the server's directory,
``network.host=127.0.0.1``, ``http.port`` and ``transport.port`` on free ports,
``discovery.type=single-node``, no disk watermarks. No security manager, no bootstrap checks: fine for
tests.

Logins: the security plugin is not among those jars, so the main holds a small plugin of its own
(``BasicAuth``, an ``ActionPlugin`` wrapping every REST handler, the hook the security plugin itself
uses): when the node is started with a user and password (they reach it through its environment, never
its command line), every HTTP request without them is answered by the node itself with ``401`` and a
``security_exception``, as a secured cluster answers. That is what the sink's wrong-credentials test
meets.

:meth:`~tests.servers.base.ServerProcess.pause` and ``resume`` stop the node (SIGTERM: the main's
shutdown hook closes the node) and start it again on the same ports and data.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import pathlib
import secrets
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Optional, Sequence

from common.errors import BeamConnectError, ConfigError
from pipelines.dev_cache import cached, compile_java, maven_jars
from pipelines.dev_kafka import java_executable
from tests.servers.base import HOST, USER, ServerProcess

_LOGGER = logging.getLogger(__name__)

OPENSEARCH_VERSION = "2.19.6"
"""The newest OpenSearch that runs on Java 17 (3.x needs Java 21)."""
_LOG4J_VERSION = "2.25.4"  # the log4j-api that opensearch 2.19.6 depends on
_HEAP = "512m"

NODE_MAIN = """\
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.function.UnaryOperator;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.util.concurrent.ThreadContext;
import org.opensearch.core.rest.RestStatus;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.ActionPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.rest.BytesRestResponse;
import org.opensearch.rest.RestChannel;
import org.opensearch.rest.RestHandler;
import org.opensearch.rest.RestRequest;
import org.opensearch.transport.Netty4Plugin;
import org.opensearch.client.node.NodeClient;

/**
 * A single embedded OpenSearch node: HOME HTTP_PORT TRANSPORT_PORT [setting=value ...].
 * With $OPENSEARCH_USER and $OPENSEARCH_PASSWORD set, every REST request needs them (HTTP Basic).
 */
public class LocalOpenSearch {
    static class LocalNode extends Node {
        LocalNode(Settings settings) {
            super(InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), null, () -> "local"),
                  List.of(Netty4Plugin.class, CommonAnalysisPlugin.class, PainlessPlugin.class,
                          BasicAuth.class), true);
        }
    }

    /** Answers 401 to every REST request that lacks the configured login. */
    public static class BasicAuth extends Plugin implements ActionPlugin {
        @Override
        public UnaryOperator<RestHandler> getRestHandlerWrapper(ThreadContext threadContext) {
            String user = System.getenv("OPENSEARCH_USER");
            String password = System.getenv("OPENSEARCH_PASSWORD");
            if (user == null || password == null) {
                return UnaryOperator.identity();
            }
            byte[] expected = ("Basic " + Base64.getEncoder().encodeToString(
                (user + ":" + password).getBytes(StandardCharsets.UTF_8))).getBytes(StandardCharsets.UTF_8);
            return handler -> new RestHandler.Wrapper(handler) {
                @Override
                public void handleRequest(RestRequest request, RestChannel channel, NodeClient client)
                        throws Exception {
                    String given = request.header("Authorization");
                    if (given != null && MessageDigest.isEqual(
                            expected, given.getBytes(StandardCharsets.UTF_8))) {
                        super.handleRequest(request, channel, client);
                        return;
                    }
                    BytesRestResponse response = new BytesRestResponse(RestStatus.UNAUTHORIZED,
                        "application/json; charset=UTF-8",
                        "{\\"error\\":{\\"root_cause\\":[{\\"type\\":\\"security_exception\\",\\"reason\\":"
                        + "\\"missing or wrong authentication credentials\\"}],\\"type\\":\\"security_exception\\","
                        + "\\"reason\\":\\"missing or wrong authentication credentials\\"},\\"status\\":401}");
                    response.addHeader("WWW-Authenticate", "Basic realm=\\"LocalOpenSearch\\"");
                    channel.sendResponse(response);
                }
            };
        }
    }

    public static void main(String[] args) throws Exception {
        String home = args[0];
        Settings.Builder settings = Settings.builder()
            .put("path.home", home).put("path.data", home + "/data").put("path.logs", home + "/logs")
            .put("cluster.name", "beamconnect-local").put("node.name", "local")
            .put("network.host", "127.0.0.1").put("http.port", args[1]).put("transport.port", args[2])
            .put("discovery.type", "single-node").put("http.type", "netty4").put("transport.type", "netty4")
            .put("cluster.routing.allocation.disk.threshold_enabled", false);
        for (int i = 3; i < args.length; i++) {
            int equals = args[i].indexOf('=');
            settings.put(args[i].substring(0, equals), args[i].substring(equals + 1));
        }
        Node node = new LocalNode(settings.build());
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
        }));
        node.start();
        System.out.println("started");
        new CountDownLatch(1).await();
    }
}
"""

_LOG4J2_PROPERTIES = """\
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = {path}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d{{ISO8601}}][%-5p][%c{{1.}}] %m%n
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
logger.node.name = org.opensearch.node
logger.node.level = info
"""

_ARTIFACTS = [("org.opensearch", "opensearch", OPENSEARCH_VERSION)] + [
    ("org.opensearch.plugin", name, OPENSEARCH_VERSION)
    for name in ("transport-netty4-client", "analysis-common", "lang-painless")] + [
    ("org.apache.logging.log4j", "log4j-core", _LOG4J_VERSION)]


@dataclasses.dataclass(frozen=True)
class OpenSearchCluster:
    """An OpenSearch (or Elasticsearch) cluster and a login to it.

    Args:
      url: ``http://HOST:PORT``, without credentials.
      user: The login, or None for a cluster that takes none.
      password: Its password; left out of ``repr``.
      server: The suite's own node, or None for a cluster an environment variable names.
    """

    url: str
    user: Optional[str] = None
    password: Optional[str] = dataclasses.field(default=None, repr=False)
    server: Optional["LocalOpenSearch"] = dataclasses.field(default=None, repr=False, compare=False)

    @classmethod
    def from_url(cls, url: str, variable: str) -> "OpenSearchCluster":
        """The cluster an ``http(s)://[USER:PASSWORD@]HOST:PORT`` URL names.

        Raises:
          ConfigError: the URL is not of that form; the message names ``variable``, never the password.
        """
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("%s must be http(s)://[USER:PASSWORD@]HOST:PORT" % variable)
        netloc = parts.hostname if parts.port is None else "%s:%d" % (parts.hostname, parts.port)
        user = urllib.parse.unquote(parts.username) if parts.username is not None else None
        password = urllib.parse.unquote(parts.password) if parts.password is not None else None
        return cls(url="%s://%s" % (parts.scheme, netloc), user=user, password=password)

    @property
    def address(self) -> str:
        """``HOST:PORT`` of the URL."""
        return urllib.parse.urlsplit(self.url).netloc

    def request(self, method: str, path: str, body: Any = None, *, ok=(200, 201),
                timeout: float = 30.0) -> Any:
        """One REST call with the login; returns the parsed JSON answer (None when empty).

        Args:
          body: A dict (sent as JSON), bytes (sent as NDJSON) or None.
          ok: The statuses that count as success; any other raises.

        Raises:
          BeamConnectError: naming the method, path, status and the server's answer.
        """
        headers = {}
        data = None
        if isinstance(body, bytes):
            data, headers["Content-Type"] = body, "application/x-ndjson"
        elif body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        if self.user is not None:
            token = base64.b64encode(("%s:%s" % (self.user, self.password)).encode()).decode()
            headers["Authorization"] = "Basic " + token
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        if status not in ok:
            raise BeamConnectError("%s %s answered %d: %s" % (method, path, status, text[:2000].decode(
                errors="replace")))
        return json.loads(text) if text.strip() else None


class LocalOpenSearch(ServerProcess):
    """An embedded OpenSearch node of its own on 127.0.0.1: HTTP on :attr:`port`, transport on
    :attr:`ports` [1].

    Example::

        with LocalOpenSearch() as server:
            server.cluster.request("GET", "/")

    Args:
      options: Extra node settings, ``setting=value`` (``thread_pool.write.queue_size=1``).
      login: Whether the node asks for a login (:data:`~tests.servers.base.USER` and a new password).
      heap: The JVM heap (``-Xms`` and ``-Xmx``).
      quick_start: Compile with C1 only (``-XX:TieredStopAtLevel=1``): the node starts in about half
        the time and indexes more slowly, which suits tests; benchmarks turn it off.
    """

    name = "OpenSearch"
    port_count = 2

    def __init__(self, options: Sequence[str] = (), login: bool = True, heap: str = _HEAP,
                 quick_start: bool = True):
        super().__init__(options)
        self._password = secrets.token_hex(16) if login else None
        self._heap = heap
        self._quick_start = quick_start

    @property
    def cluster(self) -> OpenSearchCluster:
        """The login to this node; only after :meth:`start`."""
        if self.workdir is None:
            raise BeamConnectError("the local OpenSearch node has not been started")
        return OpenSearchCluster(url="http://%s:%d" % (HOST, self.port),
                                 user=USER if self._password else None, password=self._password,
                                 server=self)

    def _initialize(self) -> None:
        self._home = ensure_opensearch()
        for name in ("data", "logs", "config"):
            (self.workdir / name).mkdir()
        (self.workdir / "log4j2.properties").write_text(
            _LOG4J2_PROPERTIES.format(path=self.workdir / "logs" / "opensearch.log"))

    def _launch(self) -> subprocess.Popen:
        env = {}
        if self._password:
            env = {"OPENSEARCH_USER": USER, "OPENSEARCH_PASSWORD": self._password}
        argv = [java_executable(), "-Xms%s" % self._heap, "-Xmx%s" % self._heap, "-XX:+UseSerialGC",
                *(["-XX:TieredStopAtLevel=1"] if self._quick_start else []),
                "-Djava.awt.headless=true", "-Djna.nosys=true", "-Dfile.encoding=UTF-8",
                "-Dlog4j2.configurationFile=%s" % (self.workdir / "log4j2.properties"),
                "-Dlog4j2.disable.jmx=true", "-Dopensearch.set.netty.runtime.available.processors=false",
                "-cp", "%s:%s" % (self._home / "libs" / "*", self._home / "classes"), "LocalOpenSearch",
                str(self.workdir), str(self.ports[0]), str(self.ports[1]), *self.options]
        with open(self.workdir / "node.out", "ab") as output:
            options = self._popen_options()
            options["env"] = {**options["env"], **env}
            return subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, **options)

    def _ping(self) -> bool:
        """Whether the node answers and its cluster is at least yellow."""
        try:
            health = self.cluster.request("GET", "/_cluster/health", timeout=5)
        except (OSError, BeamConnectError, ValueError):
            return False
        return health.get("status") in ("green", "yellow")

    def _log_files(self) -> Sequence[pathlib.Path]:
        return [self.workdir / "node.out", self.workdir / "logs" / "opensearch.log"]


def ensure_opensearch() -> pathlib.Path:
    """The cached OpenSearch jars and compiled main (``libs/``, ``classes/``), made on first use."""
    def make(home: pathlib.Path) -> str:
        libs = home / "libs"
        count = maven_jars(_ARTIFACTS, libs, "OpenSearch %s" % OPENSEARCH_VERSION)
        compile_java("LocalOpenSearch", NODE_MAIN, libs, home / "classes", "OpenSearch")
        return "opensearch %s, %d jars" % (OPENSEARCH_VERSION, count)

    return cached("opensearch-%s" % OPENSEARCH_VERSION, make)
