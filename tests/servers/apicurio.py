"""A throwaway Schema Registry: Apicurio Registry 2.4.2, serving Confluent's REST API at ``/apis/ccompat/v7``.

Confluent's own registry is not to be had from the registries this suite installs from; Apicurio's
Confluent-compatible API is what confluent-kafka's serializers and registry client talk to. Newer
Apicurio releases do not resolve from Maven Central alone, so 2.4.2.Final is built once
(:func:`ensure_apicurio`, under the cache's file lock, into ``${BEAMCONNECT_CACHE:-~/.cache/beamconnect}``)
as a small wrapper Quarkus project (:data:`POM`):

- ``io.apicurio:apicurio-registry`` imported as a BOM, ``apicurio-registry-app`` as the one dependency,
  built by quarkus-maven-plugin 2.16.4.Final (the Quarkus of that release) with a current compiler plugin;
- the JSON Schema validator ``org.everit.json.schema``, published only outside Maven Central, swapped for
  ``com.github.erosb:everit-json-schema`` 1.14.2 (the same library under its Maven Central coordinates);
- ``apicurio-common-app-components-config-index`` (a Quarkus extension that indexes dynamic settings at
  build time) left out, and an empty ``DynamicConfigPropertyList`` produced instead (:data:`PRODUCER`);
- ``quarkus.index-dependency.*`` indexing ``apicurio-registry-app``, whose beans Quarkus must see.

:class:`LocalApicurio` runs the runner jar on a free loopback port. Its storage is the app's own SQL
storage on H2, kept in the server's temporary directory rather than in memory, so that
:meth:`~tests.servers.base.ServerProcess.pause` and ``resume`` (a registry going away mid-run) keep the
schemas and their ids. It has no authentication: Apicurio 2.x authenticates through an OpenID Connect
server (its "basic auth" exchanges the credentials for a token there), which this suite does not run.

Differences from Confluent's registry that tests meet: the default compatibility is NONE (Confluent's is
BACKWARD), and an incompatible registration is answered with HTTP 409 but ``error_code`` 0.

``SCHEMA_REGISTRY_URL`` names an existing Confluent-compatible registry to use instead (then no server is
started, and tests that stop the registry are skipped).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from typing import Iterator, Optional, Sequence

from common.errors import BeamConnectError
from pipelines.dev_cache import cached
from pipelines.dev_kafka import java_executable
from tests.servers.base import HOST, ServerProcess

_LOGGER = logging.getLogger(__name__)

VERSION = "2.4.2.Final"
QUARKUS_VERSION = "2.16.4.Final"
EVERIT_VERSION = "1.14.2"
URL_VARIABLE = "SCHEMA_REGISTRY_URL"
"""The environment variable naming an existing registry to test against instead of a local one."""
CCOMPAT_PATH = "/apis/ccompat/v7"

_BUILD_TIMEOUT_S = 1200.0
_RUNNER = "registry-runner.jar"

POM = """\
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.beamconnect</groupId>
  <artifactId>local-schema-registry</artifactId>
  <version>1</version>
  <packaging>jar</packaging>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencyManagement>
    <dependencies>
      <dependency><groupId>io.apicurio</groupId><artifactId>apicurio-registry</artifactId>
        <version>{version}</version><type>pom</type><scope>import</scope></dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency><groupId>io.apicurio</groupId><artifactId>apicurio-registry-app</artifactId>
      <version>{version}</version>
      <exclusions>
        <exclusion><groupId>com.github.everit-org.json-schema</groupId>
          <artifactId>org.everit.json.schema</artifactId></exclusion>
        <exclusion><groupId>io.apicurio</groupId>
          <artifactId>apicurio-common-app-components-config-index</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency><groupId>com.github.erosb</groupId><artifactId>everit-json-schema</artifactId>
      <version>{everit}</version></dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-compiler-plugin</artifactId>
        <version>3.11.0</version></plugin>
      <plugin><groupId>io.quarkus</groupId><artifactId>quarkus-maven-plugin</artifactId>
        <version>{quarkus}</version>
        <executions><execution><goals><goal>build</goal></goals></execution></executions></plugin>
    </plugins>
  </build>
</project>
""".format(version=VERSION, everit=EVERIT_VERSION, quarkus=QUARKUS_VERSION)

PRODUCER = """\
package dev.beamconnect.registry;

import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import java.util.List;
import javax.enterprise.inject.Produces;
import javax.inject.Singleton;

/** No dynamic settings: the build-time index of them is left out of this build. */
public class EmptyDynamicConfig {
    @Produces
    @Singleton
    public DynamicConfigPropertyList dynamicConfigPropertyList() {
        return new DynamicConfigPropertyList(List.of());
    }
}
"""

APPLICATION_PROPERTIES = """\
quarkus.index-dependency.registryapp.group-id=io.apicurio
quarkus.index-dependency.registryapp.artifact-id=apicurio-registry-app
"""

_SETTINGS = """\
<settings>
  <mirrors>
    <mirror><id>central</id><mirrorOf>*</mirrorOf><url>https://repo.maven.apache.org/maven2</url></mirror>
  </mirrors>
</settings>
"""


def ensure_apicurio() -> pathlib.Path:
    """The directory holding the built registry (``registry-runner.jar`` and ``lib/``), built once."""
    return cached("apicurio-registry-%s" % VERSION, _build)


def _build(home: pathlib.Path) -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BeamConnectError("mvn was not found on PATH; Apicurio Registry is built from Maven Central")
    with tempfile.TemporaryDirectory(prefix="beamconnect-apicurio-") as work:
        project = pathlib.Path(work)
        (project / "pom.xml").write_text(POM)
        (project / "settings.xml").write_text(_SETTINGS)
        sources = project / "src" / "main" / "java" / "dev" / "beamconnect" / "registry"
        sources.mkdir(parents=True)
        (sources / "EmptyDynamicConfig.java").write_text(PRODUCER)
        resources = project / "src" / "main" / "resources"
        resources.mkdir(parents=True)
        (resources / "application.properties").write_text(APPLICATION_PROPERTIES)
        java_home = os.path.dirname(os.path.dirname(os.path.realpath(java_executable())))
        try:
            result = subprocess.run(
                [mvn, "-q", "-B", "-s", str(project / "settings.xml"), "package", "-DskipTests"],
                cwd=project, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, timeout=_BUILD_TIMEOUT_S, env={**os.environ, "JAVA_HOME": java_home})
        except subprocess.TimeoutExpired:
            raise BeamConnectError("mvn did not build Apicurio Registry %s within %.0f s"
                                   % (VERSION, _BUILD_TIMEOUT_S)) from None
        if result.returncode != 0:
            raise BeamConnectError("mvn failed to build Apicurio Registry %s (exit code %d):\n%s"
                                   % (VERSION, result.returncode, result.stdout[-3000:]))
        target = project / "target"
        runners = list(target.glob("*-runner.jar"))
        if len(runners) != 1 or not (target / "lib").is_dir():
            raise BeamConnectError("the Apicurio Registry build left no runner jar and lib/ in %s" % target)
        shutil.copytree(target / "lib", home / "lib")
        shutil.copy2(runners[0], home / _RUNNER)
    return "Apicurio Registry %s (%d jars)" % (VERSION, len(list((home / "lib").rglob("*.jar"))))


@dataclasses.dataclass(frozen=True)
class SchemaRegistry:
    """A Confluent-compatible Schema Registry a test talks to.

    Attributes:
      url: Its base URL, as ``schema.registry.url`` takes it.
      server: The suite's own server process (to pause and resume), or None for one that
        ``SCHEMA_REGISTRY_URL`` names.
    """

    url: str
    server: Optional[ServerProcess] = dataclasses.field(default=None, repr=False, compare=False)


class LocalApicurio(ServerProcess):
    """Apicurio Registry on a free loopback port, its H2 database in the server's directory."""

    name = "Apicurio"

    @property
    def url(self) -> str:
        """The base URL of the Confluent-compatible API."""
        return "http://%s:%d%s" % (HOST, self.port, CCOMPAT_PATH)

    def _launch(self) -> subprocess.Popen:
        home = ensure_apicurio()
        log = open(self.workdir / "registry.log", "ab")
        try:
            return subprocess.Popen(
                [java_executable(), "-Xmx256m", "-XX:TieredStopAtLevel=1",
                 "-Dquarkus.http.host=%s" % HOST, "-Dquarkus.http.port=%d" % self.port,
                 "-Dquarkus.datasource.jdbc.url=jdbc:h2:file:%s" % (self.workdir / "registry"),
                 "-Dquarkus.datasource.jdbc.min-size=1", "-Dquarkus.datasource.jdbc.initial-size=1",
                 "-Dquarkus.log.console.level=WARN",
                 *self.options, "-jar", str(home / _RUNNER)],
                stdout=log, stderr=subprocess.STDOUT, **self._popen_options())
        finally:
            log.close()

    def _ping(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/subjects", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _log_files(self) -> Sequence[pathlib.Path]:
        return [self.workdir / "registry.log"] if self.workdir is not None else []


def open_registry() -> Iterator[SchemaRegistry]:
    """Yields the registry ``SCHEMA_REGISTRY_URL`` names, or a new local one stopped afterwards."""
    url = os.environ.get(URL_VARIABLE)
    if url:
        yield SchemaRegistry(url.rstrip("/"))
        return
    server = LocalApicurio()
    server.start(timeout=120.0)
    try:
        yield SchemaRegistry(server.url, server)
    finally:
        server.stop()


class BasicAuthProxy:
    """A loopback HTTP proxy in front of a registry that asks for HTTP basic auth, as Confluent's
    registry does when authentication is on (Apicurio 2.x itself has none without an OIDC server).

    Requests without ``Authorization: Basic user:password`` get 401 and are not forwarded; the others
    are forwarded to ``target`` and their answers passed back. ``authorizations`` records the
    ``Authorization`` headers received.

    Args:
      target: The registry's base URL.
      user: The user to accept.
      password: Its password.
    """

    def __init__(self, target: str, user: str, password: str):
        import base64
        import http.server
        import threading

        from pipelines.processes import free_ports

        self.target = target.rstrip("/")
        parts = urllib.parse.urlsplit(self.target)
        origin = "%s://%s" % (parts.scheme, parts.netloc)
        self.authorizations: list = []
        expected = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self):
                proxy.authorizations.append(self.headers.get("Authorization"))
                if self.headers.get("Authorization") != expected:
                    self._answer(401, b'{"error_code":401,"message":"Unauthorized"}')
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                request = urllib.request.Request(
                    origin + self.path, data=body, method=self.command,
                    headers={k: v for k, v in self.headers.items()
                             if k.lower() in ("content-type", "accept")})
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        self._answer(response.status, response.read())
                except urllib.error.HTTPError as error:
                    self._answer(error.code, error.read())

            def _answer(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer((HOST, free_ports(1)[0]), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="registry-auth-proxy")
        self._thread.start()

    @property
    def url(self) -> str:
        """The proxy's URL of the registry's API."""
        return "http://%s:%d%s" % (HOST, self._server.server_address[1],
                                   urllib.parse.urlsplit(self.target).path)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
