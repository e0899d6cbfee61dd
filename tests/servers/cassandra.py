"""A throwaway single-node Apache Cassandra 5.0 on 127.0.0.1, and where a test finds a cluster.

Cassandra comes from Maven Central (``org.apache.cassandra:cassandra-all`` and its runtime
dependencies), resolved once with ``mvn`` into the cache the local Kafka broker uses
(``${BEAMCONNECT_CACHE:-~/.cache/beamconnect}/cassandra-<version>/libs``), under a file lock, with a
``settings.xml`` whose one mirror is Maven Central (a POM naming other repositories then fails fast
instead of hanging). The jar ships neither ``cassandra.yaml`` nor ``logback.xml``; the suite writes
both into the server's directory:

- ``cassandra.yaml``: one node and seed on 127.0.0.1, the native (CQL) port and the storage port on
  free ports, data, commit log, hints, saved caches and CDC directories in the server's directory,
  ``SimpleSnitch`` (data center ``datacenter1``), ``PasswordAuthenticator``, no snapshots on
  ``DROP``/``TRUNCATE``, ``commitlog_sync: group`` (a write is acknowledged once its commit log
  section is synced, every 5 ms: with the default ``periodic`` sync a node killed within the 10 s
  period loses writes it acknowledged, which its replay skips for want of a sync marker), and
  optional TLS on the native port (``client_encryption_options`` with ``optional: true``: plain and
  TLS clients alike, the node's certificate for 127.0.0.1 signed by a CA of its own,
  :attr:`CassandraServer.ca_file`);
- ``logback.xml``: WARN and above to ``system.log`` (without it, DEBUG floods the output).

The JVM gets the ``--add-exports``/``--add-opens`` flags of Cassandra's ``conf/jvm17-server.options``,
``-javaagent:`` its jamm jar, a 1 GB heap, and ``CassandraDaemon`` runs in the foreground (with
``skip_wait_for_gossip_to_settle=0``, ``superuser_setup_delay_ms=0`` and a short ``ring_delay_ms``: a
single node has no one to wait for). The default superuser ``cassandra``/``cassandra`` is created a
moment after the first start; the launcher then creates the superuser :data:`~tests.servers.base.USER`
with a new password and logs in as it, so the password never appears on a command line.

:meth:`~tests.servers.base.ServerProcess.pause` kills the node (SIGKILL, as a crash: with group sync
the commit log holds every acknowledged write and is replayed on the next start) and ``resume`` starts
it again on the same ports and data, for tests of a cluster that goes away mid-run;
:meth:`~tests.servers.base.ServerProcess.stop` kills it too, its data being thrown away.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import secrets
import signal
import subprocess
import time
from typing import Optional, Sequence

from common.errors import BeamConnectError, ConfigError
from pipelines.dev_cache import cached, maven_jars
from pipelines.dev_kafka import java_executable
from tests.servers.base import HOST, USER, ServerProcess, kill_group

_LOGGER = logging.getLogger(__name__)

CASSANDRA_VERSION = "5.0.9"
DATA_CENTER = "datacenter1"
"""The data center of a node with ``SimpleSnitch``: what ``loadBalancing.localDc`` names."""

_STOP_TIMEOUT_S = 10.0
_DEFAULT_SUPERUSER = ("cassandra", "cassandra")

_YAML = """\
cluster_name: beamconnect
num_tokens: 16
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
data_file_directories: [{dir}/data]
commitlog_directory: {dir}/commitlog
saved_caches_directory: {dir}/saved_caches
hints_directory: {dir}/hints
cdc_raw_directory: {dir}/cdc_raw
{commitlog_sync}
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "{host}:{storage_port}"
listen_address: {host}
rpc_address: {host}
storage_port: {storage_port}
native_transport_port: {native_port}
start_native_transport: true
endpoint_snitch: SimpleSnitch
authenticator: PasswordAuthenticator
authorizer: AllowAllAuthorizer
role_manager: CassandraRoleManager
auto_snapshot: false
snapshot_on_duplicate_row_detection: false
client_encryption_options:
  enabled: true
  optional: true
  keystore: {dir}/keystore.p12
  keystore_password: {keystore_password}
  store_type: PKCS12
  require_client_auth: false
"""

_LOGBACK = """\
<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>{log}</file>
    <encoder><pattern>%-5level [%thread] %date{{ISO8601}} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="FILE"/></root>
</configuration>
"""

# conf/jvm17-server.options of Apache Cassandra 5.0 (the JPMS and Netty lines).
_JVM17_OPTIONS = (
    "-Djdk.attach.allowAttachSelf=true",
    "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports", "java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports", "java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports", "java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports", "java.sql/java.sql=ALL-UNNAMED",
    "--add-exports", "java.base/java.lang.ref=ALL-UNNAMED",
    "--add-exports", "jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-exports", "jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports", "jdk.attach/sun.tools.attach=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens", "jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens", "java.base/java.io=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens", "jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang=ALL-UNNAMED",
    "--add-opens", "java.base/java.util=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.allocator.useCacheForAllThreads=true",
    "-Dio.netty.allocator.maxOrder=11",
)


@dataclasses.dataclass(frozen=True)
class CassandraCluster:
    """A Cassandra cluster and a login to it.

    Args:
      host: A contact point's host.
      port: Its native (CQL) port.
      user: The login (a superuser: tests create keyspaces).
      password: Its password; left out of ``repr``.
      local_dc: The data center to connect to (``loadBalancing.localDc``).
      server: The suite's own node, or None for a cluster an environment variable names.
    """

    host: str
    port: int
    user: str
    password: str = dataclasses.field(repr=False)
    local_dc: str = DATA_CENTER
    server: Optional["CassandraServer"] = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def contact_point(self) -> str:
        return "%s:%d" % (self.host, self.port)

    def connect(self, keyspace: Optional[str] = None, timeout: float = 30.0):
        """A ``cassandra-driver`` ``(cluster, session)`` logged in as :attr:`user`; shut the cluster
        down when done."""
        return connect(self.host, self.port, self.user, self.password, self.local_dc, keyspace,
                       timeout)


def connect(host: str, port: int, user: str, password: str, local_dc: str = DATA_CENTER,
            keyspace: Optional[str] = None, timeout: float = 30.0):
    """``(cluster, session)`` of ``cassandra-driver`` on one contact point."""
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import ConstantReconnectionPolicy, DCAwareRoundRobinPolicy

    profile = ExecutionProfile(load_balancing_policy=DCAwareRoundRobinPolicy(local_dc),
                               request_timeout=timeout)
    cluster = Cluster([host], port=port, auth_provider=PlainTextAuthProvider(user, password),
                      execution_profiles={EXEC_PROFILE_DEFAULT: profile}, connect_timeout=timeout,
                      reconnection_policy=ConstantReconnectionPolicy(0.5, max_attempts=None),
                      idle_heartbeat_interval=2, protocol_version=5)
    try:
        return cluster, cluster.connect(keyspace)
    except BaseException:
        cluster.shutdown()
        raise


def cluster_from_variables(contact_points: str, user: Optional[str], password: Optional[str],
                           local_dc: Optional[str], variable: str) -> CassandraCluster:
    """The cluster ``host:port`` (in ``variable``) names, with its login.

    Raises:
      ConfigError: the value is not ``host:port``, or a login is missing; the message names the
        variable, never the password.
    """
    host, _, port = contact_points.split(",")[0].strip().rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError("%s must be HOST:PORT, got %r" % (variable, contact_points))
    if not user or password is None:
        raise ConfigError("%s needs the user and password variables beside it" % variable)
    return CassandraCluster(host=host, port=int(port), user=user, password=password,
                            local_dc=local_dc or DATA_CENTER)


class CassandraServer(ServerProcess):
    """A Cassandra node of its own on 127.0.0.1: CQL on :attr:`port`, the storage port on
    :attr:`ports` [1].

    Example::

        with CassandraServer() as server:
            cluster, session = server.cluster.connect()

    Args:
      options: Extra JVM options (``-Dcassandra.*`` system properties).
      heap: The JVM heap (``-Xms``/``-Xmx``).
      quick_start: Compile with C1 only (``-XX:TieredStopAtLevel=1``): starts and restarts take about
        half the time on a busy machine, at the cost of peak throughput (benchmarks turn it off).
      group_sync: ``commitlog_sync: group`` (see the module docstring), else Cassandra's default
        ``periodic`` (10 s), which acknowledges writes before they are synced (benchmarks).
    """

    name = "Cassandra"
    port_count = 2

    def __init__(self, options: Sequence[str] = (), heap: str = "1g", quick_start: bool = True,
                 group_sync: bool = True):
        super().__init__(options)
        self.heap = heap
        self.quick_start = quick_start
        self.group_sync = group_sync
        self._password = secrets.token_hex(16)

    @property
    def ca_file(self) -> pathlib.Path:
        """The PEM certificate of the CA that signed the node's TLS certificate (for 127.0.0.1)."""
        return self.workdir / "ca.pem"

    @property
    def cluster(self) -> CassandraCluster:
        """The login to this node; only after :meth:`start`."""
        if self.workdir is None:
            raise BeamConnectError("the local Cassandra server has not been started")
        return CassandraCluster(host=HOST, port=self.port, user=USER, password=self._password,
                                server=self)

    def _initialize(self) -> None:
        self._libs = ensure_cassandra()
        for name in ("data", "commitlog", "saved_caches", "hints", "cdc_raw"):
            (self.workdir / name).mkdir()
        keystore_password = secrets.token_hex(12)
        _write_tls_files(self.workdir, keystore_password)
        yaml = self.workdir / "cassandra.yaml"
        yaml.touch(mode=0o600)
        yaml.write_text(_YAML.format(
            dir=self.workdir, host=HOST, native_port=self.ports[0], storage_port=self.ports[1],
            keystore_password=keystore_password,
            commitlog_sync="commitlog_sync: group\ncommitlog_sync_group_window: 5ms" if self.group_sync
            else "commitlog_sync: periodic\ncommitlog_sync_period: 10000ms"))
        (self.workdir / "logback.xml").write_text(_LOGBACK.format(log=self.workdir / "system.log"))

    def _launch(self) -> subprocess.Popen:
        jamm = sorted(self._libs.glob("jamm-*.jar"))
        if not jamm:
            raise BeamConnectError("Cassandra: no jamm jar in %s" % self._libs)
        argv = [java_executable(), "-Xms%s" % self.heap, "-Xmx%s" % self.heap, "-Xss512k",
                *(["-XX:TieredStopAtLevel=1"] if self.quick_start else []), "-XX:+UseG1GC",
                "-XX:+HeapDumpOnOutOfMemoryError", "-XX:HeapDumpPath=/dev/null",
                *_JVM17_OPTIONS, "-javaagent:%s" % jamm[-1],
                "-Dcassandra.config=file://%s" % (self.workdir / "cassandra.yaml"),
                "-Dlogback.configurationFile=%s" % (self.workdir / "logback.xml"),
                "-Dcassandra.storagedir=%s" % self.workdir,
                "-Dcassandra.logdir=%s" % self.workdir,
                "-Dcassandra-foreground=yes",
                "-Dcassandra.skip_wait_for_gossip_to_settle=0",
                "-Dcassandra.superuser_setup_delay_ms=0",
                "-Dcassandra.ring_delay_ms=100",
                *self.options,
                "-cp", str(self._libs / "*"), "org.apache.cassandra.service.CassandraDaemon"]
        with open(self.workdir / "cassandra.out", "ab") as output:
            return subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT,
                                    **self._popen_options())

    def _ping(self) -> bool:
        return True  # the CQL port opens once the node serves requests

    def _after_start(self) -> None:
        """Creates :data:`USER` as a superuser, logged in as the default superuser once it exists."""
        deadline = time.monotonic() + 60.0
        while True:
            try:
                cluster, session = connect(HOST, self.port, *_DEFAULT_SUPERUSER, timeout=10.0)
                break
            except Exception as exc:  # the default superuser is created just after the start
                if time.monotonic() > deadline:
                    raise BeamConnectError("Cassandra: could not log in as the default superuser: "
                                           "%s\n%s" % (exc, self.log_tail())) from None
                time.sleep(0.3)
        try:
            session.execute("CREATE ROLE IF NOT EXISTS %s WITH PASSWORD = %%s AND SUPERUSER = true "
                            "AND LOGIN = true" % USER, (self._password,))
        finally:
            cluster.shutdown()

    def _shutdown(self, process: subprocess.Popen) -> None:
        """SIGKILL, as a crash would: acknowledged writes are in the synced commit log, replayed at
        the next start; a clean shutdown (drain) takes seconds longer for nothing."""
        kill_group(process, signal.SIGKILL, self.name, _STOP_TIMEOUT_S)

    def _log_files(self) -> Sequence[pathlib.Path]:
        return [self.workdir / "cassandra.out", self.workdir / "system.log"]


def write_ca(directory: pathlib.Path, name: str = "beamconnect test CA"):
    """A new self-signed CA in ``directory`` (``ca.pem``); returns its ``(key, certificate)``."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    (directory / "ca.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key, certificate


def _write_tls_files(directory: pathlib.Path, password: str) -> None:
    """A CA (``ca.pem``) and the node's key and certificate for 127.0.0.1 and localhost, signed by
    it, in a PKCS#12 key store (``keystore.p12``, mode 0600) for ``client_encryption_options``:
    ``optional: true`` serves TLS and plain connections on the one native port."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
    from cryptography.x509.oid import NameOID

    ca_key, ca = write_ca(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
                   .issuer_name(ca.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=30))
                   .add_extension(x509.SubjectAlternativeName([
                       x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]),
                       critical=False)
                   .sign(ca_key, hashes.SHA256()))
    store = directory / "keystore.p12"
    store.touch(mode=0o600)
    store.write_bytes(pkcs12.serialize_key_and_certificates(
        b"node", key, certificate, [ca], BestAvailableEncryption(password.encode())))


def ensure_cassandra() -> pathlib.Path:
    """The cached jars of Cassandra :data:`CASSANDRA_VERSION` (``libs/``), resolved on first use.

    Safe to call from several processes at once (:func:`pipelines.dev_cache.cached`).

    Raises:
      BeamConnectError: ``mvn`` is missing or failed.
    """
    what = "org.apache.cassandra:cassandra-all:%s" % CASSANDRA_VERSION

    def make(home: pathlib.Path) -> str:
        libs = home / "libs"
        count = maven_jars([("org.apache.cassandra", "cassandra-all", CASSANDRA_VERSION)], libs, what)
        if not (libs / ("cassandra-all-%s.jar" % CASSANDRA_VERSION)).is_file():
            raise BeamConnectError("mvn finished but cassandra-all-%s.jar is missing from %s"
                                   % (CASSANDRA_VERSION, libs))
        return "cassandra-all %s, %d jars" % (CASSANDRA_VERSION, count)

    return cached("cassandra-%s" % CASSANDRA_VERSION, make) / "libs"
