"""A throwaway single-node Apache Kafka broker (KRaft mode) for development, demos and tests.

The broker runs from the official ``kafka_2.13`` jars, resolved from Maven Central with ``mvn`` into a cache
outside the repository (``${BEAMCONNECT_CACHE:-~/.cache/beamconnect}/kafka-<version>/libs``). It needs Java 17+
and Maven, nothing else: no Docker, no Kafka distribution tarball.

Every broker gets its own temporary directory (config, data, logs) and free loopback ports, listens on
``127.0.0.1`` only, and is removed on :meth:`LocalKafka.stop` or, at the latest, when the Python process that
started it exits.

Example::

    with LocalKafka(partitions=3) as kafka:
        producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})

A secured broker
----------------

``LocalKafka(security=BrokerSecurity(...))`` adds, next to the PLAINTEXT listener (kept for set-up: its
``User:ANONYMOUS`` principal is a super user, so tests create topics and ACLs there), three listeners:
SASL_SSL with SCRAM-SHA-512, SASL_SSL with PLAIN, and SSL with client certificates required (mTLS,
``CN=<name>`` is ``User:<name>``). The ``StandardAuthorizer`` is on with
``allow.everyone.if.no.acl.found=false``: a user other than ANONYMOUS may do only what an ACL allows.
:attr:`LocalKafka.secured` gives the listeners' addresses and the CA, certificate and key paths
(:mod:`pipelines.dev_certificates` makes them, PEM, in the broker's temporary directory).

Traps, written down so nobody hits them twice:

- Per-listener SASL settings are keyed by the *lower-case* listener name and the mechanism:
  ``listener.name.sasl_scram.scram-sha-512.sasl.jaas.config``. With ``listener.name.SASL_SCRAM...`` the
  broker exits at once with "Could not find a 'KafkaServer' or 'sasl_scram.KafkaServer' entry in the
  JAAS configuration".
- The controller listener and the broker's own requests to it come as ``User:ANONYMOUS`` over
  PLAINTEXT, and the authorizer checks them too: unless ANONYMOUS is a super user, the broker's
  registration with its own controller is refused ("needs CLUSTER_ACTION permission", in server.log
  only) and the broker never answers clients: start() times out rather than fails.
- SCRAM credentials are metadata records: ``alter_user_scram_credentials`` returns once the controller
  took them, and the broker applies them from the metadata log after that, so :meth:`LocalKafka.start`
  waits until each SCRAM user can log in before it returns. Kafka refuses fewer than 4096 iterations;
  8192 are used.
- A PEM key store takes an unencrypted PKCS#8 key with *no* ``ssl.key.password`` and refuses any
  ``ssl.keystore.password``; a PEM trust store refuses ``ssl.truststore.password``.
- librdkafka checks the broker's host name by default, against the *IP address* in
  ``bootstrap.servers``, so the broker certificate carries ``IP:127.0.0.1`` as a subject alternative
  name next to ``DNS:localhost``.
- Java renders a certificate's subject as ``CN=carol`` (RFC 2253); ``ssl.principal.mapping.rules`` match
  that string, and without a rule the principal is ``User:CN=carol``.

What a client without an ACL sees from this broker (the connector's errors name the ACL for each):
a topic it may not DESCRIBE is left out of a full metadata answer (it looks missing; asked for by name
it is ``TOPIC_AUTHORIZATION_FAILED``); a consumer's ``committed()`` on a group it may not READ times out
and ``commit()`` waits "for coordinator" (only an AdminClient gets ``GROUP_AUTHORIZATION_FAILED``); an
idempotent producer without WRITE on any topic fails fatally with ``CLUSTER_AUTHORIZATION_FAILED`` when
it asks for its producer id.
"""

from __future__ import annotations

import atexit
import base64
import dataclasses
import functools
import logging
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import IO, Dict, Mapping, Optional, Sequence, Set, Tuple
from xml.sax.saxutils import quoteattr

from common.errors import BeamConnectError, ConfigError
from pipelines.dev_cache import cache_dir, cached, maven_jars
from pipelines.processes import accepts_connections, die_with_parent, free_ports, stop_process

_LOGGER = logging.getLogger(__name__)

KAFKA_VERSION = "4.4.0"
"""The Apache Kafka release the local broker runs by default (``org.apache.kafka:kafka_2.13``)."""

SUPPORTED_VERSIONS = ("3.9.1", KAFKA_VERSION)
"""Broker releases the suite runs connectors against (KRaft mode): the last 3.x and the newest 4.x."""

_LOG4J_VERSION = "2.24.3"
_MIN_JAVA = 17
_STOP_TIMEOUT_S = 20.0
_LOG_TAIL_LINES = 40

# Kafka's jars depend on slf4j-api 1.7.x, so the log4j binding must be the slf4j 1.x one
# (log4j-slf4j-impl); with log4j-slf4j2-impl slf4j 1.7 finds no binding and the broker logs nothing.
def _artifacts(version: str) -> list:
    return [("org.apache.kafka", "kafka_2.13", version)] + _ARTIFACTS[1:]


_ARTIFACTS = [("org.apache.kafka", "kafka_2.13", KAFKA_VERSION),
              ("org.apache.logging.log4j", "log4j-slf4j-impl", _LOG4J_VERSION),
              ("org.apache.logging.log4j", "log4j-core", _LOG4J_VERSION)]

_LOG4J2_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <File name="file" fileName={path}>
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Root level="WARN"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
"""

_SETUP_HINT = ("Java {java}+ and Maven are required to run a local Kafka broker; the setup command in "
               "README.md installs them.").format(java=_MIN_JAVA)


def ensure_kafka_jars(version: str = KAFKA_VERSION) -> pathlib.Path:
    """Downloads the broker's jars unless already cached, and returns the directory holding them.

    Safe to call from several processes at once: one resolves with ``mvn`` under a file lock while the
    others wait. A download that was interrupted is started again from scratch.

    Returns:
      ``<cache>/kafka-<version>/libs``, for a ``-cp 'libs/*'`` class path.

    Raises:
      BeamConnectError: Java 17+ or Maven is missing, or Maven failed to resolve the jars.
    """
    java_executable()
    if shutil.which("mvn") is None:
        raise BeamConnectError("mvn was not found on PATH. " + _SETUP_HINT)

    def make(home: pathlib.Path) -> str:
        libs = home / "libs"
        _LOGGER.info("Downloading Apache Kafka %s jars from Maven Central into %s", version, libs)
        count = maven_jars(_artifacts(version), libs, "org.apache.kafka:kafka_2.13:%s" % version)
        if not (libs / ("kafka_2.13-%s.jar" % version)).is_file():
            raise BeamConnectError("mvn finished but kafka_2.13-%s.jar is missing from %s"
                                   % (version, libs))
        return "kafka_2.13 %s, %d jars" % (version, count)

    return cached("kafka-%s" % version, make) / "libs"


def ensure_kafka_3_9_jars() -> pathlib.Path:
    """The jars of the 3.x release of :data:`SUPPORTED_VERSIONS` (for the version matrix's tests)."""
    return ensure_kafka_jars(SUPPORTED_VERSIONS[0])


def java_executable() -> str:
    """The ``java`` to run the broker with: ``$JAVA_HOME/bin/java`` if set, else the one on PATH.

    Raises:
      BeamConnectError: There is no java, or it is older than Java 17.
    """
    java_home = os.environ.get("JAVA_HOME")
    candidate = os.path.join(java_home, "bin", "java") if java_home else None
    if not (candidate and os.access(candidate, os.X_OK)):
        candidate = shutil.which("java")
    if candidate is None:
        raise BeamConnectError("java was not found on PATH. " + _SETUP_HINT)
    major = _java_major_version(candidate)
    if major < _MIN_JAVA:
        raise BeamConnectError("%s is Java %d; Apache Kafka %s needs Java %d or newer. %s"
                               % (candidate, major, KAFKA_VERSION, _MIN_JAVA, _SETUP_HINT))
    return candidate


@functools.lru_cache(maxsize=None)
def _java_major_version(java: str) -> int:
    try:
        result = subprocess.run([java, "-version"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BeamConnectError("could not run %s -version: %s. %s" % (java, e, _SETUP_HINT)) from None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stdout)
    if match is None:
        raise BeamConnectError("could not read the Java version from %s -version: %r. %s"
                               % (java, result.stdout.strip(), _SETUP_HINT))
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0_392" is Java 8.


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SCRAM_ITERATIONS = 8192


@dataclasses.dataclass(frozen=True)
class BrokerSecurity:
    """Who may log in to a secured :class:`LocalKafka`, on which listener.

    Args:
      scram_users: User name -> password, for the SASL_SSL listener with SCRAM-SHA-512.
      plain_users: User name -> password, for the SASL_SSL listener with PLAIN.
      certificate_users: Names to make client certificates for (subject ``CN=<name>``, principal
        ``User:<name>``), for the SSL listener that requires one.
    """

    scram_users: Mapping[str, str] = dataclasses.field(default_factory=dict)
    plain_users: Mapping[str, str] = dataclasses.field(default_factory=dict)
    certificate_users: Sequence[str] = ()

    def __post_init__(self):
        for key, names in (("scram_users", self.scram_users), ("plain_users", self.plain_users),
                           ("certificate_users", self.certificate_users)):
            for user in names:
                if not _NAME.fullmatch(user):
                    raise ConfigError("%s must hold user names of letters, digits, '.', '_' and '-', "
                                      "got %r" % (key, user))
        for users in (self.scram_users, self.plain_users):
            for user, password in users.items():
                if not password:
                    raise ConfigError("the password of user %r must not be empty" % (user,))

    def __repr__(self) -> str:  # the passwords stay out of reprs (test ids, logs)
        return "BrokerSecurity(scram_users=%r, plain_users=%r, certificate_users=%r)" % (
            sorted(self.scram_users), sorted(self.plain_users), list(self.certificate_users))


@dataclasses.dataclass(frozen=True)
class SecuredListeners:
    """Where a secured :class:`LocalKafka` listens, and the TLS files a client needs.

    Attributes:
      scram_servers: ``bootstrap.servers`` of the SASL_SSL listener with SCRAM-SHA-512.
      plain_servers: ``bootstrap.servers`` of the SASL_SSL listener with PLAIN.
      ssl_servers: ``bootstrap.servers`` of the SSL listener that requires a client certificate.
      ca_location: The CA certificate (PEM) that signed the broker's and the clients' certificates.
      certificates: Each certificate user's ``(certificate, key)`` PEM paths.
    """

    scram_servers: str
    plain_servers: str
    ssl_servers: str
    ca_location: str
    certificates: Mapping[str, Tuple[str, str]]


class LocalKafka:
    """A single-node Kafka broker and controller on loopback, in a temporary directory.

    Topics are not created automatically (``auto.create.topics.enable=false``); create them with an
    AdminClient. Internal topics (consumer offsets, transaction state) use replication factor 1.

    Args:
      port: The client port on 127.0.0.1; a free one when None.
      partitions: ``num.partitions``, the partition count of topics created without one.
      security: Adds the SASL_SSL and mTLS listeners and turns the authorizer on (see the module
        docs); None keeps the single PLAINTEXT listener and no authorizer.
      version: The Apache Kafka release (see :data:`SUPPORTED_VERSIONS`); its jars are fetched once.
    """

    def __init__(self, port: Optional[int] = None, partitions: int = 1,
                 security: Optional[BrokerSecurity] = None, version: str = KAFKA_VERSION):
        if port is not None and not 0 < port < 65536:
            raise ConfigError("port must be between 1 and 65535, got %r" % (port,))
        if partitions < 1:
            raise ConfigError("partitions must be a positive integer, got %r" % (partitions,))
        self._requested_port = port
        self._partitions = partitions
        self._port: Optional[int] = None
        self._workdir: Optional[pathlib.Path] = None
        self._process: Optional[subprocess.Popen] = None
        self._output: Optional[IO[bytes]] = None
        self._security = security
        self._secured: Optional[SecuredListeners] = None
        self.version = version

    @property
    def security(self) -> Optional[BrokerSecurity]:
        """The users this broker was made with (None: PLAINTEXT only, no authorizer)."""
        return self._security

    @property
    def secured(self) -> SecuredListeners:
        """The secured listeners and TLS files; only after :meth:`start` of a broker with ``security``."""
        if self._secured is None:
            raise BeamConnectError("the local Kafka broker was not started with security")
        return self._secured

    @property
    def bootstrap_servers(self) -> str:
        """``127.0.0.1:PORT``, for a client's ``bootstrap.servers``; only after :meth:`start`."""
        if self._port is None:
            raise BeamConnectError("the local Kafka broker has not been started")
        return "127.0.0.1:%d" % self._port

    @property
    def pid(self) -> Optional[int]:
        """The broker's Java process id while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 120.0) -> "LocalKafka":
        """Formats the storage, starts the broker and waits until it answers a metadata request.

        Args:
          timeout: Seconds to wait for the broker to accept clients (the jar download, if any, is extra).

        Returns:
          This broker, started.

        Raises:
          BeamConnectError: Java or Maven is missing, the port is taken, or the broker did not become
            ready in time; the message ends with the tail of the broker's log.
        """
        if self._process is not None:
            raise BeamConnectError("the local Kafka broker is already running on %s" % self.bootstrap_servers)
        libs = ensure_kafka_jars(self.version)
        java = java_executable()
        try:
            self._launch(java, libs)
            self._wait_ready(timeout)
            if self._security is not None:
                self._add_scram_users(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stops the broker (SIGTERM, then SIGKILL after 20 s) and deletes its directory; idempotent."""
        process, self._process = self._process, None
        if process is not None:
            stop_process(process, "Kafka broker", _STOP_TIMEOUT_S)
            _LOGGER.info("Stopped the local Kafka broker on 127.0.0.1:%s", self._port)
        if self._output is not None:
            self._output.close()
            self._output = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self._port = None
        self._secured = None
        _RUNNING.discard(self)

    def pause(self) -> None:
        """Stops the broker process, keeping its port and data for :meth:`resume` (for tests of a
        broker that goes away mid-run); idempotent."""
        process, self._process = self._process, None
        if process is not None:
            stop_process(process, "Kafka broker", _STOP_TIMEOUT_S)
            _LOGGER.info("Paused the local Kafka broker on 127.0.0.1:%s", self._port)

    def resume(self, timeout: float = 120.0) -> "LocalKafka":
        """Starts the broker :meth:`pause` stopped again, on the same port and data."""
        if self._workdir is None:
            raise BeamConnectError("the local Kafka broker was never started")
        if self._process is None:
            self._run_broker(java_executable(), ensure_kafka_jars(self.version))
            self._wait_ready(timeout)
        return self

    def __enter__(self) -> "LocalKafka":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _launch(self, java: str, libs: pathlib.Path) -> None:
        extra = 3 if self._security is not None else 0
        if self._requested_port is not None:
            _check_port_free(self._requested_port)
            port, controller_port, *secured_ports = [self._requested_port] + list(
                free_ports(1 + extra, avoid=self._requested_port))
        else:
            port, controller_port, *secured_ports = free_ports(2 + extra)
        self._port = port
        self._workdir = workdir = pathlib.Path(tempfile.mkdtemp(prefix="beamconnect-kafka-"))
        _RUNNING.add(self)
        security = {}
        if self._security is not None:
            security = self._secure(workdir, controller_port, secured_ports)
        properties = workdir / "server.properties"
        properties.write_text(_server_properties(port, controller_port, workdir / "data", self._partitions,
                                                 security))
        log4j = workdir / "log4j2.xml"
        log4j.write_text(_LOG4J2_XML.format(path=quoteattr(str(workdir / "server.log"))))
        class_path = ["-Dlog4j2.configurationFile=%s" % log4j, "-cp", str(libs / "*")]

        formatted = subprocess.run(
            [java] + class_path + ["kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(properties)],
            cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, timeout=120)
        if formatted.returncode != 0:
            raise BeamConnectError("formatting the Kafka storage failed (exit code %d):\n%s"
                                   % (formatted.returncode, _tail(formatted.stdout)))

        self._run_broker(java, libs)

    def _secure(self, workdir: pathlib.Path, controller_port: int, ports: Sequence[int]) -> Dict[str, str]:
        """Makes the TLS files and returns the broker settings of the secured listeners."""
        from pipelines.dev_certificates import make_certificates

        certificates = make_certificates(workdir / "tls", self._security.certificate_users)
        scram, plain, mtls = ports
        self._secured = SecuredListeners(
            "127.0.0.1:%d" % scram, "127.0.0.1:%d" % plain, "127.0.0.1:%d" % mtls,
            certificates.ca_location, dict(certificates.clients))
        return _security_properties(self._port, controller_port, self._secured, certificates.server_keystore,
                                    self._security.plain_users)

    def _add_scram_users(self, timeout: float) -> None:
        """Adds the SCRAM-SHA-512 credentials over PLAINTEXT and waits until each user can log in."""
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                           UserScramCredentialUpsertion)

        users = self._security.scram_users
        if not users:
            return
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, _SCRAM_ITERATIONS)
        futures = admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(user, info, password.encode("utf-8"))
             for user, password in users.items()])
        for user, future in futures.items():
            try:
                future.result()
            except KafkaException as exc:
                raise BeamConnectError("adding the SCRAM-SHA-512 credentials of user %r failed: %s"
                                       % (user, exc.args[0].str())) from None
        deadline = time.monotonic() + timeout
        for user, password in users.items():
            client = AdminClient({"bootstrap.servers": self._secured.scram_servers,
                                  "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                                  "sasl.username": user, "sasl.password": password,
                                  "ssl.ca.location": self._secured.ca_location, "log_level": 0})
            while True:
                try:
                    client.list_topics(timeout=2.0)
                    break
                except KafkaException:
                    if time.monotonic() > deadline:
                        raise BeamConnectError("SCRAM-SHA-512 user %r could not log in to %s within "
                                               "%.0f s:\n%s" % (user, self._secured.scram_servers,
                                                                 timeout, self._log_tail())) from None
                    time.sleep(0.2)

    def _run_broker(self, java: str, libs: pathlib.Path) -> None:
        workdir = self._workdir
        class_path = ["-Dlog4j2.configurationFile=%s" % (workdir / "log4j2.xml"), "-cp", str(libs / "*")]
        if self._output is not None:
            self._output.close()
        self._output = open(workdir / "kafka.out", "ab")
        self._process = subprocess.Popen(
            [java, "-Xms256m", "-Xmx1g"] + class_path + ["kafka.Kafka", str(workdir / "server.properties")],
            cwd=workdir, stdin=subprocess.DEVNULL, stdout=self._output, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=die_with_parent)
        _LOGGER.info("Started Apache Kafka %s (pid %d) on 127.0.0.1:%d, directory %s",
                     self.version, self._process.pid, self._port, workdir)

    def _wait_ready(self, timeout: float) -> None:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        started = time.monotonic()
        deadline = started + timeout
        admin = None
        while True:
            if not self.running:
                raise BeamConnectError("the Kafka broker exited with code %s before accepting clients:\n%s"
                                       % (self._process.returncode, self._log_tail()))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BeamConnectError("the Kafka broker did not accept clients on %s within %.0f s:\n%s"
                                       % (self.bootstrap_servers, timeout, self._log_tail()))
            # Probing the socket first keeps librdkafka from logging "connection refused" while the JVM boots.
            if admin is None and accepts_connections(self._port):
                admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
            if admin is not None:
                try:
                    admin.list_topics(timeout=min(2.0, remaining))
                except KafkaException:
                    pass
                else:
                    _LOGGER.info("Kafka broker ready on %s after %.1f s",
                                 self.bootstrap_servers, time.monotonic() - started)
                    return
            else:
                time.sleep(0.1)

    def _log_tail(self) -> str:
        """The last lines of the JVM output and of the broker's WARN log, for error messages."""
        if self._workdir is None:
            return "(no log)"
        parts = []
        for name in ("kafka.out", "server.log"):
            path = self._workdir / name
            if path.is_file() and path.stat().st_size:
                parts.append("--- %s ---\n%s" % (name, _tail(path.read_text(errors="replace"))))
        return "\n".join(parts) or "(the broker wrote no log)"


def run_dev_kafka(port: Optional[int]) -> int:
    """Runs a local broker until SIGINT or SIGTERM: ``beamconnect dev-kafka``.

    Once the broker accepts clients, prints exactly one line, ``bootstrap.servers=127.0.0.1:PORT``, to
    stdout. Must be called from the main thread (it installs signal handlers).

    Args:
      port: The client port on 127.0.0.1; a free one when None.

    Returns:
      0 after a signal stopped the broker, 1 if the broker died on its own, 130 if interrupted while starting.

    Raises:
      BeamConnectError: The broker could not be started.
    """
    stop = threading.Event()
    ready = threading.Event()
    kafka = LocalKafka(port=port)

    def on_signal(signum, frame):
        stop.set()
        if not ready.is_set():
            raise KeyboardInterrupt  # Still starting: abandon the start (start() cleans up).

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            kafka.start()
            ready.set()
        except KeyboardInterrupt:
            return 130
        sys.stdout.write("bootstrap.servers=%s\n" % kafka.bootstrap_servers)
        sys.stdout.flush()
        while not stop.wait(0.5):
            if not kafka.running:
                sys.stderr.write("The Kafka broker exited unexpectedly:\n%s\n" % kafka._log_tail())
                return 1
        return 0
    finally:
        kafka.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# Brokers started by this process; stopped at exit so none outlives it.
_RUNNING: Set[LocalKafka] = set()


@atexit.register
def _stop_all() -> None:
    for kafka in list(_RUNNING):
        kafka.stop()


def _server_properties(port: int, controller_port: int, data: pathlib.Path, partitions: int,
                       security: Optional[Mapping[str, str]] = None) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": "1@127.0.0.1:%d" % controller_port,
        "controller.listener.names": "CONTROLLER",
        "listeners": "PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d" % (port, controller_port),
        "advertised.listeners": "PLAINTEXT://127.0.0.1:%d" % port,
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data),
        "num.partitions": str(partitions),
        "auto.create.topics.enable": "false",
        # Keep every record: retention goes by record timestamps, and tests and demos produce records
        # stamped months back, which the default 7 days would delete within minutes of a start.
        "log.retention.ms": "-1",
        "group.initial.rebalance.delay.ms": "0",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",  # 50 by default: slow to create on the first group join.
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "min.insync.replicas": "1",
        **(security or {}),
    }
    return "".join("%s=%s\n" % (key, value.replace("\\", "\\\\")) for key, value in settings.items())


def _security_properties(port: int, controller_port: int, listeners: SecuredListeners, keystore: str,
                         plain_users: Mapping[str, str]) -> Dict[str, str]:
    """The settings that add the SASL_SSL and SSL listeners and the authorizer (see the module docs)."""
    addresses = {"SASL_SCRAM": listeners.scram_servers, "SASL_PLAIN": listeners.plain_servers,
                 "MTLS": listeners.ssl_servers}
    plain = "".join(' user_%s="%s"' % (user, password.replace("\\", "\\\\").replace('"', '\\"'))
                    for user, password in plain_users.items())
    advertised = ",".join(["PLAINTEXT://127.0.0.1:%d" % port]
                          + ["%s://%s" % item for item in addresses.items()])
    return {
        "listeners": advertised + ",CONTROLLER://127.0.0.1:%d" % controller_port,
        "advertised.listeners": advertised,
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SCRAM:SASL_SSL,"
                                          "SASL_PLAIN:SASL_SSL,MTLS:SSL",
        "listener.name.sasl_scram.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.sasl_scram.scram-sha-512.sasl.jaas.config":
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        "listener.name.sasl_plain.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plain.plain.sasl.jaas.config":
            "org.apache.kafka.common.security.plain.PlainLoginModule required%s;" % plain,
        "listener.name.mtls.ssl.client.auth": "required",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": keystore,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": listeners.ca_location,
        "ssl.principal.mapping.rules": "RULE:^CN=([A-Za-z0-9._-]+)$/$1/,DEFAULT",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": "User:ANONYMOUS",
    }


def _cluster_id() -> str:
    """A random cluster id in Kafka's ``Uuid`` form: 16 bytes, URL-safe base64, no padding."""
    while True:
        value = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not value.startswith("-"):  # Kafka avoids ids that look like command-line flags.
            return value


def _check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as e:
            raise BeamConnectError("port %d on 127.0.0.1 is not available for Kafka: %s" % (port, e)) from None


def _tail(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


__all__ = ["KAFKA_VERSION", "SUPPORTED_VERSIONS", "BrokerSecurity", "LocalKafka", "SecuredListeners", "cache_dir",
           "ensure_kafka_jars", "java_executable",
           "run_dev_kafka"]
