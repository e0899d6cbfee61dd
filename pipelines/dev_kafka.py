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
"""

from __future__ import annotations

import atexit
import base64
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
from typing import IO, Optional, Set
from xml.sax.saxutils import quoteattr

from common.errors import BeamConnectError, ConfigError
from pipelines.dev_cache import cache_dir, cached, maven_jars
from pipelines.processes import accepts_connections, die_with_parent, free_ports, stop_process

_LOGGER = logging.getLogger(__name__)

KAFKA_VERSION = "4.4.0"
"""The Apache Kafka release the local broker runs (``org.apache.kafka:kafka_2.13``)."""

_LOG4J_VERSION = "2.24.3"
_MIN_JAVA = 17
_STOP_TIMEOUT_S = 20.0
_LOG_TAIL_LINES = 40

# Kafka's jars depend on slf4j-api 1.7.x, so the log4j binding must be the slf4j 1.x one
# (log4j-slf4j-impl); with log4j-slf4j2-impl slf4j 1.7 finds no binding and the broker logs nothing.
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


def ensure_kafka_jars() -> pathlib.Path:
    """Downloads the broker's jars unless already cached, and returns the directory holding them.

    Safe to call from several processes at once: one resolves with ``mvn`` under a file lock while the
    others wait. A download that was interrupted is started again from scratch.

    Returns:
      ``<cache>/kafka-<KAFKA_VERSION>/libs``, for a ``-cp 'libs/*'`` class path.

    Raises:
      BeamConnectError: Java 17+ or Maven is missing, or Maven failed to resolve the jars.
    """
    java_executable()
    if shutil.which("mvn") is None:
        raise BeamConnectError("mvn was not found on PATH. " + _SETUP_HINT)

    def make(home: pathlib.Path) -> str:
        libs = home / "libs"
        _LOGGER.info("Downloading Apache Kafka %s jars from Maven Central into %s", KAFKA_VERSION, libs)
        count = maven_jars(_ARTIFACTS, libs, "org.apache.kafka:kafka_2.13:%s" % KAFKA_VERSION)
        if not (libs / ("kafka_2.13-%s.jar" % KAFKA_VERSION)).is_file():
            raise BeamConnectError("mvn finished but kafka_2.13-%s.jar is missing from %s"
                                   % (KAFKA_VERSION, libs))
        return "kafka_2.13 %s, %d jars" % (KAFKA_VERSION, count)

    return cached("kafka-%s" % KAFKA_VERSION, make) / "libs"


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


class LocalKafka:
    """A single-node Kafka broker and controller on loopback, in a temporary directory.

    Topics are not created automatically (``auto.create.topics.enable=false``); create them with an
    AdminClient. Internal topics (consumer offsets, transaction state) use replication factor 1.

    Args:
      port: The client port on 127.0.0.1; a free one when None.
      partitions: ``num.partitions``, the partition count of topics created without one.
    """

    def __init__(self, port: Optional[int] = None, partitions: int = 1):
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
        libs = ensure_kafka_jars()
        java = java_executable()
        try:
            self._launch(java, libs)
            self._wait_ready(timeout)
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
            self._run_broker(java_executable(), ensure_kafka_jars())
            self._wait_ready(timeout)
        return self

    def __enter__(self) -> "LocalKafka":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _launch(self, java: str, libs: pathlib.Path) -> None:
        if self._requested_port is not None:
            _check_port_free(self._requested_port)
            port, controller_port = self._requested_port, free_ports(1, avoid=self._requested_port)[0]
        else:
            port, controller_port = free_ports(2)
        self._port = port
        self._workdir = workdir = pathlib.Path(tempfile.mkdtemp(prefix="beamconnect-kafka-"))
        _RUNNING.add(self)
        properties = workdir / "server.properties"
        properties.write_text(_server_properties(port, controller_port, workdir / "data", self._partitions))
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
                     KAFKA_VERSION, self._process.pid, self._port, workdir)

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


def _server_properties(port: int, controller_port: int, data: pathlib.Path, partitions: int) -> str:
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
    }
    return "".join("%s=%s\n" % (key, value.replace("\\", "\\\\")) for key, value in settings.items())


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


__all__ = ["KAFKA_VERSION", "LocalKafka", "cache_dir", "ensure_kafka_jars", "java_executable",
           "run_dev_kafka"]
