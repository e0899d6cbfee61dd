"""Throwaway ActiveMQ brokers, Classic and Artemis, and where a test finds a broker: :class:`ActiveMQBroker`.

Both come from Maven Central, resolved once with ``mvn`` into the cache the local Kafka broker uses
(``${BEAMCONNECT_CACHE:-~/.cache/beamconnect}``), under a file lock, with a ``settings.xml`` whose one
mirror is Maven Central (a POM naming other repositories then fails fast instead of hanging):

- :class:`ActiveMQClassicServer`: ActiveMQ Classic 6.3.1 embedded in a small Java main
  (:data:`CLASSIC_MAIN`, compiled into the cache) starting a ``BrokerService`` with KahaDB in the
  server's directory, a STOMP and an AMQP transport connector, and one user
  (``SimpleAuthenticationPlugin``, no anonymous access). The connectors refuse frames larger than
  :data:`MAX_FRAME_SIZE` (``transport.maxFrameSize``), so that a test can have a message refused.
- :class:`ArtemisServer`: Apache Artemis 2.40.0 from its distribution tarball
  (``org.apache.activemq:apache-artemis:2.40.0:tar.gz:bin``): ``artemis create`` makes a broker
  instance in the server's directory with one user and logins required, its ``broker.xml`` is given
  free ports, ANYCAST as the routing type of auto-created addresses (by default they are MULTICAST,
  which drops what is sent before a consumer exists), the ``/queue/``/``/topic/`` prefixes on its
  STOMP acceptor and addresses the user may not send to (:data:`FORBIDDEN_PREFIX`), and
  ``bin/artemis run`` runs it. Its journal keeps the default record size, so a
  message with properties over about 490 KB is refused.

The password is new for every server and reaches the Classic broker through its environment, not its
command line. :meth:`~tests.servers.base.ServerProcess.pause` and ``resume`` stop the broker (SIGTERM:
both shut down cleanly) and start it again on the same ports and store, so persistent messages outlive
a restart.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import re
import secrets
import shutil
import subprocess
import tarfile
import tempfile
import urllib.parse
from typing import Dict, Optional, Sequence

from common.errors import BeamConnectError, ConfigError
from pipelines.dev_cache import cached, compile_java, maven_jars, run_maven
from pipelines.dev_kafka import java_executable
from pipelines.processes import accepts_connections
from tests.servers.base import HOST, USER, ServerProcess

_LOGGER = logging.getLogger(__name__)

CLASSIC_VERSION = "6.3.1"
ARTEMIS_VERSION = "2.40.0"
FORBIDDEN_PREFIX = "forbidden."
"""Artemis: addresses starting with this the user may not send to."""
MAX_FRAME_SIZE = 512 * 1024
"""The largest frame the Classic broker's STOMP and AMQP connectors take (``transport.maxFrameSize``)."""

_SLF4J_VERSION = "2.0.16"
# The JIT's first tier only: a test broker lives for seconds to minutes, and starts in half the time.
_QUICK_START = "-XX:TieredStopAtLevel=1"

CLASSIC_MAIN = """\
import java.util.List;
import org.apache.activemq.broker.BrokerPlugin;
import org.apache.activemq.broker.BrokerService;
import org.apache.activemq.security.AuthenticationUser;
import org.apache.activemq.security.SimpleAuthenticationPlugin;

/** An embedded ActiveMQ Classic broker: DATA_DIR STOMP_URI AMQP_URI USER, the password in $ACTIVEMQ_PASSWORD. */
public class LocalActiveMQ {
    public static void main(String[] args) throws Exception {
        BrokerService broker = new BrokerService();
        broker.setBrokerName("local");
        broker.setDataDirectory(args[0]);
        broker.setUseJmx(false);
        broker.addConnector(args[1]);
        broker.addConnector(args[2]);
        SimpleAuthenticationPlugin login = new SimpleAuthenticationPlugin(List.of(
            new AuthenticationUser(args[3], System.getenv("ACTIVEMQ_PASSWORD"), "users")));
        login.setAnonymousAccessAllowed(false);
        broker.setPlugins(new BrokerPlugin[] {login});
        broker.start();
        broker.waitUntilStopped();
    }
}
"""

_CLASSIC_ARTIFACTS = [("org.apache.activemq", name, CLASSIC_VERSION)
                      for name in ("activemq-broker", "activemq-kahadb-store", "activemq-stomp",
                                   "activemq-amqp", "activemq-jaas")] + [
    ("org.slf4j", "slf4j-simple", _SLF4J_VERSION)]


@dataclasses.dataclass(frozen=True)
class ActiveMQBroker:
    """A broker and a login to it.

    Args:
      kind: ``classic`` or ``artemis``.
      host: The broker's host name or address.
      stomp_port: Its STOMP port.
      amqp_port: Its AMQP 1.0 port.
      user: The login.
      password: Its password; left out of ``repr``.
      server: The suite's own server process, or None for a broker an environment variable names.
    """

    kind: str
    host: str
    stomp_port: int
    amqp_port: int
    user: str
    password: str = dataclasses.field(repr=False)
    server: Optional[ServerProcess] = dataclasses.field(default=None, repr=False, compare=False)

    def url(self, protocol: str) -> str:
        """``stomp://HOST:PORT`` or ``amqp://HOST:PORT``, as ``activemq.url`` takes it."""
        return "%s://%s:%d" % (protocol, self.host, self.stomp_port if protocol == "stomp"
                               else self.amqp_port)

    @classmethod
    def from_url(cls, url: str, kind: str, variable: str) -> "ActiveMQBroker":
        """The broker an ``activemq://USER:PASSWORD@HOST/?stomp=PORT&amqp=PORT`` URL names (ports
        61613 and 5672 when left out).

        Raises:
          ConfigError: the URL is not of that form; the message names ``variable``, never the password.
        """
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "activemq" or not parts.hostname or parts.username is None \
                or parts.password is None:
            raise ConfigError("%s must be activemq://USER:PASSWORD@HOST/?stomp=PORT&amqp=PORT" % variable)
        ports = dict(urllib.parse.parse_qsl(parts.query))
        try:
            stomp_port, amqp_port = int(ports.get("stomp", 61613)), int(ports.get("amqp", 5672))
        except ValueError:
            raise ConfigError("%s must give its ports as numbers (?stomp=PORT&amqp=PORT)" % variable) from None
        return cls(kind=kind, host=parts.hostname, stomp_port=stomp_port, amqp_port=amqp_port,
                   user=urllib.parse.unquote(parts.username), password=urllib.parse.unquote(parts.password))


class _Broker(ServerProcess):
    """What both launchers share: a password, the broker's output in a file, both ports answering."""

    kind: str

    def __init__(self, options: Sequence[str] = ()):
        super().__init__(options)
        self._password = secrets.token_hex(16)
        self._output = None

    @property
    def broker(self) -> ActiveMQBroker:
        """The login to this broker; only after :meth:`start`."""
        if self.workdir is None:
            raise BeamConnectError("the local %s server has not been started" % self.name)
        return ActiveMQBroker(kind=self.kind, host=HOST, stomp_port=self.ports[0], amqp_port=self.ports[1],
                              user=USER, password=self._password, server=self)

    def _ping(self) -> bool:
        return accepts_connections(self.ports[1])

    def _popen(self, argv: Sequence[str], env: Dict[str, str]) -> subprocess.Popen:
        with open(self.workdir / "broker.out", "ab") as output:
            options = self._popen_options()
            options["env"] = {**options["env"], **env}
            return subprocess.Popen(list(argv), stdout=output, stderr=subprocess.STDOUT, **options)


class ActiveMQClassicServer(_Broker):
    """An embedded ActiveMQ Classic broker of its own on 127.0.0.1: STOMP on :attr:`ports` [0], AMQP on [1].

    Example::

        with ActiveMQClassicServer() as server:
            stomp.Connection12([(HOST, server.broker.stomp_port)])
    """

    name = "ActiveMQ"
    kind = "classic"
    port_count = 2

    def _initialize(self) -> None:
        self._home = ensure_classic()
        (self.workdir / "data").mkdir()

    def _launch(self) -> subprocess.Popen:
        stomp, amqp = self.ports
        option = "?transport.maxFrameSize=%d" % MAX_FRAME_SIZE
        return self._popen(
            [java_executable(), "-Xmx256m", _QUICK_START, "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
             "-cp", "%s:%s" % (self._home / "libs" / "*", self._home / "classes"), "LocalActiveMQ",
             str(self.workdir / "data"), "stomp://%s:%d%s" % (HOST, stomp, option),
             "amqp://%s:%d%s" % (HOST, amqp, option), USER, *self.options],
            {"ACTIVEMQ_PASSWORD": self._password})

    def _log_files(self) -> Sequence[pathlib.Path]:
        return [self.workdir / "broker.out"]


class ArtemisServer(_Broker):
    """An Apache Artemis broker of its own on 127.0.0.1: STOMP on :attr:`ports` [0], AMQP on [1], and
    its core protocol (for its own tools) on [2].

    Example::

        with ArtemisServer() as server:
            proton.utils.BlockingConnection(server.broker.url("amqp"), user=..., password=...)
    """

    name = "Artemis"
    kind = "artemis"
    port_count = 3

    @property
    def _instance(self) -> pathlib.Path:
        return self.workdir / "instance"

    def _initialize(self) -> None:
        home = ensure_artemis()
        self._run_tool([str(home / "bin" / "artemis"), "create", str(self._instance), "--silent",
                        "--user", USER, "--password", self._password, "--require-login",
                        "--host", HOST, "--no-web", "--no-hornetq-acceptor", "--no-mqtt-acceptor",
                        "--nio", "--java-memory", "512M", *self.options],
                       "artemis create", timeout=120)
        broker_xml = self._instance / "etc" / "broker.xml"
        broker_xml.write_text(_configure(broker_xml.read_text(), *self.ports))

    def _launch(self) -> subprocess.Popen:
        return self._popen([str(self._instance / "bin" / "artemis"), "run"],
                           {"JAVA_ARGS_APPEND": _QUICK_START})

    def _log_files(self) -> Sequence[pathlib.Path]:
        return [self.workdir / "broker.out", self._instance / "log" / "artemis.log"]


def _configure(broker_xml: str, stomp: int, amqp: int, core: int) -> str:
    """``broker.xml`` of ``artemis create`` with the acceptors on free ports, STOMP's queue and topic
    prefixes, addresses no one may send to, and ANYCAST routing for auto-created addresses."""
    def acceptor(name: str, port: int, extra: str = "") -> None:
        nonlocal broker_xml
        pattern = r'(<acceptor name="%s">tcp://)[^:]+:\d+\?' % name
        broker_xml, count = re.subn(pattern, r"\g<1>%s:%d?%s" % (HOST, port, extra), broker_xml)
        if count != 1:
            raise BeamConnectError("Apache Artemis: broker.xml has no %r acceptor to configure" % name)

    acceptor("artemis", core)
    acceptor("amqp", amqp)
    acceptor("stomp", stomp, "anycastPrefix=/queue/;multicastPrefix=/topic/;")
    forbidden = ("<security-settings>\n"
                 "         <security-setting match=\"%s#\">\n"
                 "            <permission type=\"createAddress\" roles=\"amq\"/>\n"
                 "            <permission type=\"createDurableQueue\" roles=\"amq\"/>\n"
                 "            <permission type=\"consume\" roles=\"amq\"/>\n"
                 "         </security-setting>" % FORBIDDEN_PREFIX)
    broker_xml, count = re.subn(r"<security-settings>", forbidden, broker_xml, count=1)
    if count != 1:
        raise BeamConnectError("Apache Artemis: broker.xml has no security-settings")
    routing = ("<address-setting match=\"#\">\n"
               "            <default-address-routing-type>ANYCAST</default-address-routing-type>\n"
               "            <default-queue-routing-type>ANYCAST</default-queue-routing-type>")
    broker_xml, count = re.subn(r'<address-setting match="#">', routing, broker_xml, count=1)
    if count != 1:
        raise BeamConnectError("Apache Artemis: broker.xml has no address-setting for '#'")
    return broker_xml


def ensure_classic() -> pathlib.Path:
    """The cached ActiveMQ Classic jars and compiled main (``libs/``, ``classes/``), made on first use."""
    def make(home: pathlib.Path) -> str:
        libs = home / "libs"
        count = maven_jars(_CLASSIC_ARTIFACTS, libs, "ActiveMQ Classic %s" % CLASSIC_VERSION)
        compile_java("LocalActiveMQ", CLASSIC_MAIN, libs, home / "classes", "ActiveMQ Classic")
        return "activemq %s, %d jars" % (CLASSIC_VERSION, count)

    return cached("activemq-%s" % CLASSIC_VERSION, make)


def ensure_artemis() -> pathlib.Path:
    """The cached, unpacked Apache Artemis distribution, downloaded on first use."""
    def make(home: pathlib.Path) -> str:
        with tempfile.TemporaryDirectory(prefix="beamconnect-artemis-") as work:
            run_maven(["dependency:copy", "-Dartifact=org.apache.activemq:apache-artemis:%s:tar.gz:bin"
                       % ARTEMIS_VERSION, "-DoutputDirectory=%s" % work], "Apache Artemis %s" % ARTEMIS_VERSION)
            with tarfile.open(os.path.join(work, "apache-artemis-%s-bin.tar.gz" % ARTEMIS_VERSION)) as tar:
                tar.extractall(work, filter="tar")
            shutil.move(os.path.join(work, "apache-artemis-%s" % ARTEMIS_VERSION), str(home / "dist"))
        return "artemis %s" % ARTEMIS_VERSION

    return cached("artemis-%s" % ARTEMIS_VERSION, make) / "dist"
