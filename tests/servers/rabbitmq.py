"""A throwaway RabbitMQ broker, and where a test finds a broker: :class:`RabbitMQBroker`.

The broker runs from Debian's ``rabbitmq-server`` package: ``/usr/lib/rabbitmq/bin/rabbitmq-server`` (the
``/usr/sbin`` wrapper switches to the ``rabbitmq`` user) in the foreground, with everything of its own in a
temporary directory:

- ``HOME`` (the Erlang cookie ``rabbitmqctl`` needs to reach the node), the node name
  ``beamconnect-<port>@localhost``, the Mnesia database, the logs, an empty plugins list and an empty
  ``rabbitmq-env.conf``, so nothing of the machine's ``/etc/rabbitmq`` applies;
- five free loopback ports (:attr:`RabbitMQServer.ports`): AMQP, AMQP over TLS, Erlang distribution, the
  node's own ``epmd`` (``ERL_EPMD_PORT``, bound to 127.0.0.1) and the distribution port of
  ``rabbitmqctl``;
- a CA and a server certificate for ``127.0.0.1``/``localhost`` (:attr:`RabbitMQBroker.ca_file`), and a
  client certificate and key signed by that CA (:attr:`RabbitMQBroker.client_pem`, key and chain in one
  PEM file, as Kafka's PEM key stores are): the TLS listener verifies a client certificate when one
  is sent and takes password logins either way.

The config file creates the user :data:`~tests.servers.base.USER` with a password new for every broker
and full permissions on the virtual host :data:`VHOST`, and no ``guest`` user. The broker is stopped with
``rabbitmqctl stop`` and its ``epmd`` with ``epmd -kill``, then by pid when that fails;
:meth:`~tests.servers.base.ServerProcess.pause` and ``resume`` keep the Mnesia directory, so durable
queues and persistent messages outlive a restart.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import logging
import os
import pathlib
import secrets
import signal
import subprocess
import urllib.parse
from typing import Dict, Optional, Sequence

from common.errors import BeamConnectError, ConfigError
from tests.servers.base import HOST, USER, ServerProcess, find_binary, kill_group

_LOGGER = logging.getLogger(__name__)

VHOST = "sink_test"
"""The virtual host :data:`~tests.servers.base.USER` works in."""

_RABBITMQ_BIN = "/usr/lib/rabbitmq/bin"
_STOP_TIMEOUT_S = 30.0
_INSTALL_HINT = "install Debian's rabbitmq-server package"


@dataclasses.dataclass(frozen=True)
class RabbitMQBroker:
    """A broker and a login to one of its virtual hosts.

    Args:
      host: The broker's host name or address.
      port: Its AMQP port.
      user: The login.
      password: Its password; left out of ``repr``.
      vhost: The virtual host.
      tls_port: Its AMQP-over-TLS port, or None.
      ca_file: A PEM file of the CA that signed the TLS listener's certificate.
      client_pem: A PEM file with a client key and certificate chain signed by that CA.
    """

    host: str
    port: int
    user: str
    password: str = dataclasses.field(repr=False)
    vhost: str = "/"
    tls_port: Optional[int] = None
    ca_file: Optional[str] = None
    client_pem: Optional[str] = None

    @property
    def url(self) -> str:
        """``amqp://USER:PASSWORD@HOST:PORT/VHOST``, percent-encoded as pika's URLParameters takes it."""
        quote = lambda text: urllib.parse.quote(text, safe="")  # noqa: E731
        return "amqp://%s:%s@%s:%d/%s" % (quote(self.user), quote(self.password), self.host, self.port,
                                          quote(self.vhost))

    @classmethod
    def from_url(cls, url: str, variable: str) -> "RabbitMQBroker":
        """The broker an ``amqp://user:pass@host:port/vhost`` URL names (the vhost ``/`` when none).

        Raises:
          ConfigError: the URL is not of that form; the message names ``variable``, never the password.
        """
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "amqp" or not parts.hostname or parts.username is None or parts.password is None:
            raise ConfigError("%s must be amqp://USER:PASSWORD@HOST:PORT/VHOST" % variable)
        vhost = urllib.parse.unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
        return cls(host=parts.hostname, port=parts.port or 5672, user=urllib.parse.unquote(parts.username),
                   password=urllib.parse.unquote(parts.password), vhost=vhost)


class RabbitMQServer(ServerProcess):
    """A RabbitMQ broker of its own on 127.0.0.1 and free ports.

    Example::

        with RabbitMQServer() as server:
            pika.BlockingConnection(pika.URLParameters(server.broker.url))
    """

    name = "RabbitMQ"
    port_count = 5  # AMQP, AMQP over TLS, Erlang distribution, epmd, rabbitmqctl's distribution

    def __init__(self, options: Sequence[str] = ()):
        super().__init__(options)
        self._password = secrets.token_hex(16)

    @property
    def broker(self) -> RabbitMQBroker:
        """The login to :data:`VHOST`; only after :meth:`start`."""
        if self.workdir is None:
            raise BeamConnectError("the local %s server has not been started" % self.name)
        return RabbitMQBroker(host=HOST, port=self.port, user=USER, password=self._password, vhost=VHOST,
                              tls_port=self.ports[1], ca_file=str(self._tls / "ca.pem"),
                              client_pem=str(self._tls / "client.pem"))

    @property
    def _tls(self) -> pathlib.Path:
        return self.workdir / "tls"

    def _environment(self) -> Dict[str, str]:
        amqp, _, dist, epmd, ctl = self.ports
        work = self.workdir
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))},
            "HOME": str(work / "home"),
            "RABBITMQ_NODENAME": "beamconnect-%d@localhost" % amqp,
            "RABBITMQ_USE_LONGNAME": "false",
            "RABBITMQ_NODE_IP_ADDRESS": HOST,
            "RABBITMQ_NODE_PORT": str(amqp),
            "RABBITMQ_DIST_PORT": str(dist),
            "RABBITMQ_CTL_DIST_PORT_MIN": str(ctl),
            "RABBITMQ_CTL_DIST_PORT_MAX": str(ctl),
            "RABBITMQ_CONFIG_FILE": str(work / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(work / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(work / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(work / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(work / "mnesia"),
            "RABBITMQ_LOG_BASE": str(work / "log"),
            "RABBITMQ_PID_FILE": str(work / "rabbitmq.pid"),
            "ERL_EPMD_PORT": str(epmd),
            "ERL_EPMD_ADDRESS": HOST,
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def _initialize(self) -> None:
        work = self.workdir
        for name in ("home", "mnesia", "log", "tls"):
            (work / name).mkdir(mode=0o700)
        _write_certificates(self._tls)
        (work / "rabbitmq-env.conf").write_text("")
        (work / "enabled_plugins").write_text("[].\n")
        (work / "rabbitmq.conf").write_text("\n".join([
            "listeners.tcp.default = %s:%d" % (HOST, self.ports[0]),
            "listeners.ssl.default = %s:%d" % (HOST, self.ports[1]),
            "ssl_options.cacertfile = %s" % (self._tls / "ca.pem"),
            "ssl_options.certfile = %s" % (self._tls / "server.pem"),
            "ssl_options.keyfile = %s" % (self._tls / "server.key"),
            "ssl_options.verify = verify_peer",
            "ssl_options.fail_if_no_peer_cert = false",
            "loopback_users = none",
            "default_vhost = %s" % VHOST,
            "default_user = %s" % USER,
            "default_pass = %s" % self._password,
            "default_permissions.configure = .*",
            "default_permissions.read = .*",
            "default_permissions.write = .*",
            "log.console = false",
            "log.file.level = info",
            "vm_memory_high_watermark.absolute = 512MiB",
            "disk_free_limit.absolute = 50MB",
            *self.options,
        ]) + "\n")
        os.chmod(work / "rabbitmq.conf", 0o600)

    def _launch(self) -> subprocess.Popen:
        binary = os.path.join(_RABBITMQ_BIN, "rabbitmq-server")
        if not os.access(binary, os.X_OK):
            raise BeamConnectError("%s was not found; %s" % (binary, _INSTALL_HINT))
        options = self._popen_options(signal.SIGTERM)
        options["env"] = self._environment()
        with open(self.workdir / "rabbitmq-server.out", "wb") as output:
            return subprocess.Popen([binary], stdout=output, stderr=subprocess.STDOUT, **options)

    def _ping(self) -> bool:
        import pika

        broker = self.broker
        try:
            pika.BlockingConnection(pika.ConnectionParameters(
                HOST, self.port, broker.vhost, pika.PlainCredentials(broker.user, self._password),
                connection_attempts=1, socket_timeout=2, blocked_connection_timeout=2)).close()
            return True
        except pika.exceptions.AMQPError:
            return False

    def _shutdown(self, process: subprocess.Popen) -> None:
        env = self._environment()
        if process.poll() is None:
            try:
                self._run_tool([os.path.join(_RABBITMQ_BIN, "rabbitmqctl"), "stop"], "rabbitmqctl stop",
                               env=env, timeout=_STOP_TIMEOUT_S)
            except BeamConnectError as e:  # The fallback below stops it by pid.
                _LOGGER.warning("%s; stopping it by pid", e)
        if not kill_group(process, signal.SIGTERM, self.name, 10.0):  # A no-op when already reaped.
            kill_group(process, signal.SIGKILL, self.name, 10.0)
        try:
            subprocess.run([find_binary("epmd"), "-kill"], env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        except (BeamConnectError, subprocess.TimeoutExpired) as e:
            _LOGGER.warning("%s: epmd -kill failed: %s", self.name, e)

    def _log_files(self) -> Sequence[pathlib.Path]:
        if self.workdir is None:
            return []
        logs = sorted((self.workdir / "log").glob("*.log")) if (self.workdir / "log").is_dir() else []
        return [self.workdir / "rabbitmq-server.out", *logs]


def _write_certificates(directory: pathlib.Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and localhost, and a client certificate, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject, key, issuer, issuer_key, ca, extensions=()):
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=7))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        for extension in extensions:
            builder = builder.add_extension(extension, critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def key_pem(key):
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    def cert_pem(cert):
        return cert.public_bytes(serialization.Encoding.PEM)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "beamconnect test CA")])
    ca = certificate("beamconnect test CA", ca_key, ca_name, ca_key, True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = certificate("localhost", server_key, ca_name, ca_key, False, [
        x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                     x509.IPAddress(ipaddress.ip_address(HOST))]),
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])])
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = certificate(USER, client_key, ca_name, ca_key, False,
                         [x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])])
    (directory / "ca.pem").write_bytes(cert_pem(ca))
    (directory / "server.pem").write_bytes(cert_pem(server))
    (directory / "server.key").write_bytes(key_pem(server_key))
    (directory / "client.pem").write_bytes(key_pem(client_key) + cert_pem(client) + cert_pem(ca))
