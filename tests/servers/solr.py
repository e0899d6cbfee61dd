"""A throwaway Apache Solr 9 node (standalone mode, basic auth) and where a test finds one: :class:`Solr`.

The node is Solr's own test runner, ``org.apache.solr.embedded.JettySolrRunner`` (``solr-core`` and
``solr-test-framework`` from Maven Central), started by a small Java main (:data:`MAIN`). Both are
resolved and compiled once into the cache the local Kafka broker uses
(``${BEAMCONNECT_CACHE:-~/.cache/beamconnect}/solr-<version>``), under a file lock, with a
``settings.xml`` whose one mirror is Maven Central, so that a POM naming other repositories fails fast
instead of hanging.

The jars ship no configset, so the suite writes the node's home in its temporary directory:

- ``solr.xml`` (empty: every default);
- ``security.json``: Solr's ``BasicAuthPlugin`` with ``blockUnknown`` (every request needs a login) and
  one user, :data:`~tests.servers.base.USER`, whose password is new for every node and stored only as
  Solr's salted SHA-256 hash. JettySolrRunner honours it as a full node does (the node answers 401
  without the login), so the credentials tests run against Solr's own authentication;
- configsets (``configsets/<name>/conf``), from which :meth:`Solr.create_core` makes cores:
  :data:`CONFIGSET` (``solrconfig.xml`` with the update log, ``autoCommit`` every 15 s without opening
  a searcher and no soft commits, so that documents become searchable only on a commit or
  ``commitWithin``; ``schema.xml`` with ``id``, ``_version_``, the sink's source-coordinate fields and
  dynamic fields ``*_s``, ``*_i``, ``*_l``, ``*_d``, ``*_b``, ``*_dt``, ``*_t``, ``*_ss``; any other
  field is refused with HTTP 400), and :data:`PLAIN_CONFIGSET`, the same without the coordinate fields.

Set ``BEAMCONNECT_SOLR_URL`` (``http://USER:PASSWORD@HOST:PORT/solr``) to use a running standalone
node instead; it needs both configsets in its ``configsets`` directory (:func:`write_configsets`
writes them) and basic auth for that user.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
import pathlib
import secrets
import subprocess
import urllib.parse
from typing import Dict, List, Optional, Sequence

import requests

from common.errors import BeamConnectError, ConfigError
from pipelines.dev_cache import cached, compile_java, maven_jars
from pipelines.dev_kafka import java_executable
from tests.servers.base import HOST, USER, ServerProcess

_LOGGER = logging.getLogger(__name__)

SOLR_VERSION = "9.10.1"
CONFIGSET = "beamconnect"
"""The configset whose schema has the sink's source-coordinate fields."""
PLAIN_CONFIGSET = "plain"
"""The same schema without them."""
COORDINATE_FIELDS = (("__connect_topic", "string"), ("__connect_partition", "pint"),
                     ("__connect_offset", "plong"))

_ARTIFACTS = [("org.apache.solr", "solr-core", SOLR_VERSION),
              ("org.apache.solr", "solr-test-framework", SOLR_VERSION)]

MAIN = """\
import org.apache.solr.embedded.JettyConfig;
import org.apache.solr.embedded.JettySolrRunner;

/** A standalone Solr node: SOLR_HOME PORT, at http://127.0.0.1:PORT/solr. */
public class LocalSolr {
    public static void main(String[] args) throws Exception {
        JettySolrRunner solr = new JettySolrRunner(args[0], JettyConfig.builder()
            .setPort(Integer.parseInt(args[1])).setContext("/solr").stopAtShutdown(true).build());
        solr.start();
        Thread.currentThread().join();
    }
}
"""

_LOG4J2_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <File name="file" fileName="{path}"><PatternLayout pattern="%d %p %c{{1}} %m%n"/></File>
  </Appenders>
  <Loggers><Root level="WARN"><AppenderRef ref="file"/></Root></Loggers>
</Configuration>
"""

SOLRCONFIG_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<config>
  <luceneMatchVersion>9.12</luceneMatchVersion>
  <dataDir>${solr.data.dir:}</dataDir>
  <directoryFactory name="DirectoryFactory" class="solr.NRTCachingDirectoryFactory"/>
  <schemaFactory class="ClassicIndexSchemaFactory"/>
  <updateHandler class="solr.DirectUpdateHandler2">
    <updateLog><str name="dir">${solr.ulog.dir:}</str></updateLog>
    <autoCommit><maxTime>15000</maxTime><openSearcher>false</openSearcher></autoCommit>
  </updateHandler>
  <requestHandler name="/select" class="solr.SearchHandler">
    <lst name="defaults"><int name="rows">10000</int></lst>
  </requestHandler>
</config>
"""

_SCHEMA_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<schema name="{name}" version="1.6">
  <uniqueKey>id</uniqueKey>
  <fieldType name="string" class="solr.StrField" sortMissingLast="true" docValues="true"/>
  <fieldType name="boolean" class="solr.BoolField" sortMissingLast="true"/>
  <fieldType name="pint" class="solr.IntPointField" docValues="true"/>
  <fieldType name="plong" class="solr.LongPointField" docValues="true"/>
  <fieldType name="pdouble" class="solr.DoublePointField" docValues="true"/>
  <fieldType name="pdate" class="solr.DatePointField" docValues="true"/>
  <fieldType name="text" class="solr.TextField" positionIncrementGap="100">
    <analyzer>
      <tokenizer class="solr.StandardTokenizerFactory"/>
      <filter class="solr.LowerCaseFilterFactory"/>
    </analyzer>
  </fieldType>
  <field name="id" type="string" indexed="true" stored="true" required="true"/>
  <field name="_version_" type="plong" indexed="false" stored="false"/>
  <field name="_root_" type="string" indexed="true" stored="false" docValues="false"/>
{coordinates}
  <dynamicField name="*_s" type="string" indexed="true" stored="true"/>
  <dynamicField name="*_i" type="pint" indexed="true" stored="true"/>
  <dynamicField name="*_l" type="plong" indexed="true" stored="true"/>
  <dynamicField name="*_d" type="pdouble" indexed="true" stored="true"/>
  <dynamicField name="*_b" type="boolean" indexed="true" stored="true"/>
  <dynamicField name="*_dt" type="pdate" indexed="true" stored="true"/>
  <dynamicField name="*_t" type="text" indexed="true" stored="true"/>
  <dynamicField name="*_ss" type="string" indexed="true" stored="true" multiValued="true"/>
</schema>
"""


def schema_xml(coordinates: bool) -> str:
    """The suite's ``schema.xml``, with or without the sink's source-coordinate fields."""
    fields = "\n".join('  <field name="%s" type="%s" indexed="true" stored="true"/>' % field
                       for field in COORDINATE_FIELDS) if coordinates else ""
    return _SCHEMA_XML.format(name=CONFIGSET if coordinates else PLAIN_CONFIGSET,
                              coordinates=fields)


def write_configsets(home: pathlib.Path) -> None:
    """Writes :data:`CONFIGSET` and :data:`PLAIN_CONFIGSET` under ``home/configsets``."""
    for name, coordinates in ((CONFIGSET, True), (PLAIN_CONFIGSET, False)):
        conf = home / "configsets" / name / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "solrconfig.xml").write_text(SOLRCONFIG_XML)
        (conf / "schema.xml").write_text(schema_xml(coordinates))


def security_json(user: str, password: str) -> str:
    """``security.json`` for ``BasicAuthPlugin`` with one user (Solr's salted double SHA-256)."""
    salt = secrets.token_bytes(32)
    digest = hashlib.sha256(hashlib.sha256(salt + password.encode("utf-8")).digest()).digest()
    credential = "%s %s" % (base64.b64encode(digest).decode(), base64.b64encode(salt).decode())
    return json.dumps({"authentication": {"class": "solr.BasicAuthPlugin", "blockUnknown": True,
                                          "credentials": {user: credential}}})


@dataclasses.dataclass(frozen=True)
class Solr:
    """A Solr node and a login to it, with what tests ask of it.

    Args:
      url: Solr's base URL, ``http://HOST:PORT/solr``.
      username: The login.
      password: Its password; left out of ``repr``.
      server: The suite's own node, or None for one an environment variable names.
    """

    url: str
    username: str
    password: str = dataclasses.field(repr=False)
    server: Optional[ServerProcess] = dataclasses.field(default=None, repr=False, compare=False)

    @classmethod
    def from_url(cls, url: str, variable: str) -> "Solr":
        """The node an ``http://USER:PASSWORD@HOST:PORT/solr`` URL names.

        Raises:
          ConfigError: the URL is not of that form; the message names ``variable``, never the password.
        """
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username is None \
                or parts.password is None:
            raise ConfigError("%s must be http://USER:PASSWORD@HOST:PORT/solr" % variable)
        netloc = parts.hostname + (":%d" % parts.port if parts.port else "")
        base = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        return cls(base, urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password))

    def request(self, method: str, path: str, **kwargs) -> dict:
        """One request to ``<url>/<path>`` with the login; the JSON answer.

        Raises:
          BeamConnectError: Solr answered with an error status.
        """
        response = requests.request(method, "%s/%s" % (self.url, path),
                                    auth=(self.username, self.password), timeout=60, **kwargs)
        if response.status_code != 200:
            raise BeamConnectError("Solr answered %s %s with HTTP %d: %s"
                                   % (method, path, response.status_code, response.text[:2000]))
        return response.json()

    def create_core(self, name: str, configset: str = CONFIGSET) -> str:
        """Creates core ``name`` from ``configset``; returns its URL."""
        self.request("GET", "admin/cores", params={"action": "CREATE", "name": name,
                                                   "configSet": configset})
        return self.core_url(name)

    def unload_core(self, name: str) -> None:
        """Unloads core ``name`` and deletes its index and directory."""
        self.request("GET", "admin/cores", params={"action": "UNLOAD", "core": name, "deleteIndex": "true",
                                                   "deleteInstanceDir": "true"})

    def core_url(self, name: str) -> str:
        return "%s/%s" % (self.url, name)

    def get(self, core: str, ids: Sequence[str]) -> Dict[str, dict]:
        """Real-time get: the current documents of ``ids`` (committed or not), by id."""
        found = self.request("POST", "%s/get" % core, data=[("id", i) for i in ids] + [("wt", "json")])
        docs = found["response"]["docs"] if "response" in found else [d for d in [found["doc"]] if d]
        return {doc["id"]: doc for doc in docs}

    def search(self, core: str, query: str = "*:*") -> List[dict]:
        """The committed (searchable) documents matching ``query``, sorted by id."""
        found = self.request("GET", "%s/select" % core, params={"q": query, "sort": "id asc",
                                                                 "wt": "json"})
        return found["response"]["docs"]

    def commit(self, core: str) -> None:
        self.request("GET", "%s/update" % core, params={"commit": "true"})

    def documents(self, core: str) -> Dict[str, dict]:
        """Every document of ``core`` after a commit, by id, without ``_version_``."""
        self.commit(core)
        return {doc["id"]: {k: v for k, v in doc.items() if k != "_version_"}
                for doc in self.search(core)}


class LocalSolr(ServerProcess):
    """A standalone Solr node of its own on 127.0.0.1, at ``http://127.0.0.1:<port>/solr``.

    Example::

        with LocalSolr() as server:
            server.solr.create_core("orders")
    """

    name = "Solr"

    def __init__(self, options: Sequence[str] = ()):
        super().__init__(options)
        self._password = secrets.token_hex(16)

    @property
    def solr(self) -> Solr:
        """The node and its login; only after :meth:`start`."""
        if self.workdir is None:
            raise BeamConnectError("the local %s server has not been started" % self.name)
        return Solr("http://%s:%d/solr" % (HOST, self.port), USER, self._password, server=self)

    def _initialize(self) -> None:
        self._home = ensure_solr()
        home = self.workdir / "home"
        home.mkdir()
        (home / "solr.xml").write_text("<solr></solr>\n")
        security = home / "security.json"
        security.write_text(security_json(USER, self._password))
        security.chmod(0o600)
        write_configsets(home)
        (self.workdir / "log4j2.xml").write_text(_LOG4J2_XML.format(path=self.workdir / "solr.log"))

    def _launch(self) -> subprocess.Popen:
        command = [java_executable(), "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                   "-Dlog4j2.configurationFile=%s" % (self.workdir / "log4j2.xml"),
                   "-Dsolr.log.dir=%s" % self.workdir, "-Dsolr.install.dir=%s" % self.workdir,
                   *self.options, "-cp", "%s:%s" % (self._home / "libs" / "*", self._home / "classes"),
                   "LocalSolr", str(self.workdir / "home"), str(self.port)]
        with open(self.workdir / "solr.out", "ab") as output:
            return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                    **self._popen_options())

    def _ping(self) -> bool:
        try:
            response = requests.get("http://%s:%d/solr/admin/info/system" % (HOST, self.port),
                                    auth=(USER, self._password), timeout=5)
        except requests.RequestException:
            return False
        return response.status_code == 200

    def _log_files(self) -> Sequence[pathlib.Path]:
        return [self.workdir / "solr.out", self.workdir / "solr.log"]


def ensure_solr() -> pathlib.Path:
    """The cached Solr jars and compiled main (``libs/``, ``classes/``), made on first use.

    Safe to call from several processes at once (:func:`pipelines.dev_cache.cached`).

    Raises:
      BeamConnectError: Java 17+, Maven or javac is missing, or a step failed.
    """
    def make(home: pathlib.Path) -> str:
        libs = home / "libs"
        count = maven_jars(_ARTIFACTS, libs, "Solr %s" % SOLR_VERSION)
        compile_java("LocalSolr", MAIN, libs, home / "classes", "Solr")
        return "solr %s, %d jars" % (SOLR_VERSION, count)

    return cached("solr-%s" % SOLR_VERSION, make)
