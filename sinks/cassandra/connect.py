"""A ``cassandra-driver`` session from the sink's config, and what a failed request means.

The session connects to the contact points with the PLAIN login (``auth.*``) and TLS (``ssl.*``) when
set, routes each request token-aware to a replica in ``loadBalancing.localDc``, times requests out
after ``queryExecutionTimeout`` and reconnects to a node that went away every half second to five
seconds (the driver's default backs off to ten minutes, which would leave a restarted node unused for
most of a run). It uses the driver's libev event loop (bundled in its wheels; Python 3.12 has no
``asyncore`` for the fallback loop).

:func:`classify` sorts a failed request: ``retriable`` (a node away, unavailable replicas, a timeout,
an overloaded node: :class:`~common.errors.RetriableError`, retried per ``errors.retry.timeout``),
``refused`` (the cluster refused this record's write: the record goes to the error path) or
``fatal`` (a refused login or permission: the run stops).
"""

from __future__ import annotations

import logging
import ssl
from typing import Optional

from common.errors import BeamConnectError, ConfigError

_LOGGER = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0

_RETRIABLE = {"Unavailable", "ReadTimeout", "WriteTimeout", "Timeout", "CoordinationFailure",
              "WriteFailure", "ReadFailure", "CDCWriteFailure", "OperationTimedOut", "NoHostAvailable",
              "ConnectionException", "ConnectionShutdown", "ConnectionBusy", "ServerError",
              "OverloadedErrorMessage", "IsBootstrappingErrorMessage", "TruncateError"}
_REFUSED = {"InvalidRequest", "InvalidRequestException", "FunctionFailure"}


def missing_driver() -> BeamConnectError:
    return BeamConnectError("the Cassandra sink needs cassandra-driver: pip install 'beamconnect[cassandra]' "
                            "(or pip install cassandra-driver)")


def open_session(config, keyspace: Optional[str] = None):
    """``(cluster, session)`` connected to the cluster; shut the cluster down when done.

    Raises:
      BeamConnectError: the cluster is unreachable, or refused the login (naming the contact points
        and the user, never the password).
    """
    try:
        from cassandra.auth import PlainTextAuthProvider
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable
        from cassandra.policies import (DCAwareRoundRobinPolicy, ExponentialReconnectionPolicy,
                                        TokenAwarePolicy)
    except ImportError:
        raise missing_driver() from None
    profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=config.local_dc)),
        request_timeout=config.request_timeout)
    options = dict(
        contact_points=list(config.contact_points), execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        reconnection_policy=ExponentialReconnectionPolicy(0.5, 5.0, max_attempts=None),
        connect_timeout=min(CONNECT_TIMEOUT, config.request_timeout),
        control_connection_timeout=min(CONNECT_TIMEOUT, config.request_timeout),
        compression=config.compression or False, idle_heartbeat_interval=10,
        executor_threads=2)
    if config.username:
        options["auth_provider"] = PlainTextAuthProvider(config.username, str(config.password))
    if config.ssl is not None:
        options["ssl_context"] = _ssl_context(config.ssl)
    cluster = Cluster(**options)
    try:
        return cluster, cluster.connect(keyspace)
    except NoHostAvailable as exc:
        cluster.shutdown()
        raise connect_error(config, exc) from None
    except Exception as exc:
        cluster.shutdown()
        if type(exc).__module__.startswith("cassandra"):
            raise BeamConnectError("could not connect to %s: %s" % (config.describe(), exc)) from None
        raise


def connect_error(config, exc) -> BeamConnectError:
    """The error a failed connection becomes: a refused login, or an unreachable cluster."""
    errors = getattr(exc, "errors", None) or {}
    for error in errors.values():
        if _is_auth(error):
            return BeamConnectError(
                "%s refused the login (auth.username=%r): %s; check auth.username and "
                "auth.password" % (config.describe(), config.username or "", _auth_reason(error, config)))
    reasons = "; ".join("%s: %s" % (host, error) for host, error in errors.items()) or str(exc)
    return BeamConnectError("could not reach %s within %gs (contactPoints, port): %s"
                            % (config.describe(), min(CONNECT_TIMEOUT, config.request_timeout), reasons))


def classify(error: BaseException) -> str:
    """``retriable``, ``refused`` or ``fatal`` (see the module docstring)."""
    names = {c.__name__ for c in type(error).__mro__}
    errors = (getattr(error, "errors", None) or {}).values()
    if "NoHostAvailable" in names and any(_is_auth(e) for e in errors):
        return "fatal"
    if names & {"Unauthorized", "AuthenticationFailed"}:
        return "fatal"
    if names & _RETRIABLE:
        return "retriable"
    if names & _REFUSED:
        return "refused"
    return "fatal"


def describe_error(error: BaseException) -> str:
    """One line for a failed request (the server's message, without the driver's wrapping)."""
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    if "message=" in message:
        message = message.split("message=", 1)[1].strip('"}')
    return "%s: %s" % (type(error).__name__, message.strip())


def _is_auth(error) -> bool:
    names = {c.__name__ for c in type(error).__mro__}
    return bool(names & {"AuthenticationFailed", "BadCredentials"}) or (
        "Bad credentials" in str(error) or "Provided username" in str(error))


def _auth_reason(error, config) -> str:
    text = str(error)
    if config.password:
        text = text.replace(str(config.password), "[hidden]")
    if "message=" in text:
        text = text.split("message=", 1)[1].strip('"}')
    return text.strip().rstrip("'\")")


def _ssl_context(settings) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = settings.hostname_validation
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        if settings.truststore:
            context.load_verify_locations(cafile=settings.truststore)
        else:
            context.load_default_certs()
        if settings.cert_chain:
            context.load_cert_chain(settings.cert_chain, settings.private_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("the TLS files (ssl.truststore.path, ssl.openssl.keyCertChain, "
                          "ssl.openssl.privateKey) cannot be used: %s" % exc) from None
    if settings.cipher_suites:
        try:
            context.set_ciphers(":".join(settings.cipher_suites))
        except ssl.SSLError:
            raise ConfigError("ssl.cipherSuites=%r: none of them is a cipher suite OpenSSL offers "
                              "(use OpenSSL's names, as in ECDHE-RSA-AES128-GCM-SHA256)"
                              % ",".join(settings.cipher_suites)) from None
    return context
