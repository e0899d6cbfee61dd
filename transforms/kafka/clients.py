"""Settings every librdkafka client of a connector gets: secrets kept out of logs, logs kept short.

:func:`client_settings` routes a client's own log lines (librdkafka's ``%3|...|FAIL|...`` lines, which
would otherwise go straight to stderr) through Python logging, on this module's logger, so that
``-v``/``-q`` and ``--log-format json`` apply to them too. On the way each line is:

- scrubbed of the values of the config's secret keys (:func:`is_secret`), and of every secret
  :mod:`common.secrets` knows;
- collapsed: a broker that cannot be reached makes librdkafka repeat the same line every few
  milliseconds, once per client. A line that only differs from an earlier one in its numbers
  (timestamps, durations, client ids) is not logged again for :data:`QUIET_SECONDS`; instead, when
  the count of repeats reaches 10, 100, 1000..., one line says how often it came. The clear error the
  connector raises (naming ``bootstrap.servers``) stays the one thing a user needs to read.

Values of keys that may hold a secret (names containing ``password``, ``secret``, ``jaas`` or
``key``) never reach a log line or an error message: :func:`redacted` hides them in configs that are
logged, :func:`scrubbed` in librdkafka's error texts.

:func:`missing_acl` turns the broker's authorization failures (``TOPIC_AUTHORIZATION_FAILED``,
``GROUP_AUTHORIZATION_FAILED``, ``CLUSTER_AUTHORIZATION_FAILED``, ``TRANSACTIONAL_ID_AUTHORIZATION_FAILED``)
into the ACL to add, naming the operation, the resource and, as far as the config tells, the principal.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Dict, Mapping, Tuple

from confluent_kafka import KafkaError

from common import secrets

_LOGGER = logging.getLogger(__name__)

#: Parts of config key names whose values are never logged or shown in errors.
SECRET_KEY_PARTS = ("password", "secret", "jaas", "key")

#: Seconds a repeated librdkafka line stays collapsed before it is logged in full again.
QUIET_SECONDS = 300.0

_HIDDEN = secrets.HIDDEN
_NUMBERS = re.compile(r"\d+")


def is_secret(key: str) -> bool:
    """Whether the value of config key ``key`` may be a secret."""
    lowered = key.lower()
    return any(part in lowered for part in SECRET_KEY_PARTS)


def redacted(config: Mapping[str, object]) -> dict:
    """``config`` with the values of secret keys (see :func:`is_secret`) replaced, for logs."""
    return {k: (_HIDDEN if is_secret(k) else v) for k, v in config.items()}


def scrubbed(text: str, config: Mapping[str, object]) -> str:
    """``text`` (a librdkafka message) with every secret value of ``config`` replaced."""
    for key, value in config.items():
        if is_secret(key) and value is not None and str(value):
            text = text.replace(str(value), _HIDDEN)
    return text


class _Repeats:
    """Counts librdkafka lines by their shape (numbers taken out), across every client of a process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._seen: Dict[Tuple[int, str], list] = {}  # shape -> [count, first seen (monotonic)]

    def count(self, level: int, text: str) -> int:
        """How many times this line's shape came within the quiet period, this one included."""
        shape = (level, _NUMBERS.sub("#", text))
        now = time.monotonic()
        with self._lock:
            entry = self._seen.get(shape)
            if entry is None or now - entry[1] > QUIET_SECONDS:
                entry = self._seen[shape] = [0, now]
            entry[0] += 1
            return entry[0]

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


REPEATS = _Repeats()


def _is_power_of_ten(n: int) -> bool:
    while n % 10 == 0 and n > 1:
        n //= 10
    return n == 1


class ClientLogger:
    """A librdkafka ``logger``: lines on this module's logger, scrubbed and collapsed.

    confluent-kafka calls :meth:`log` with a Python logging level (librdkafka's syslog level mapped),
    a format and its arguments.
    """

    def __init__(self, config: Mapping[str, object]):
        self._secrets = {k: v for k, v in config.items() if is_secret(k)}

    def log(self, level: int, msg: str, *args) -> None:
        if not _LOGGER.isEnabledFor(level):
            return
        text = secrets.redact(scrubbed(msg % args if args else msg, self._secrets))
        repeats = REPEATS.count(level, text)
        if repeats == 1:
            _LOGGER.log(level, "%s", text)
        elif _is_power_of_ten(repeats):
            _LOGGER.log(level, "%s (this line came %d times; repeats are not logged)", text, repeats)


#: librdkafka settings every client gets unless its config sets them. A new client waits half of
#: ``reconnect.backoff.ms`` (at least 11 ms) before it picks a broker for its first request; at
#: librdkafka's default of 100 ms every short-lived client (planning, committing, each reader) spent
#: ~50 ms on that wait. 20 ms is also the first wait before a failed connection is retried (doubling
#: up to ``reconnect.backoff.max.ms``, 10 s), so an unreachable broker is retried a little sooner.
CLIENT_DEFAULTS = {"reconnect.backoff.ms": "20"}


def client_settings(config: Mapping[str, object]) -> dict:
    """``config`` with librdkafka's logs routed through a :class:`ClientLogger` (unless it sets one)
    and :data:`CLIENT_DEFAULTS` under it."""
    return {"logger": ClientLogger(config), **CLIENT_DEFAULTS, **config}


#: The broker's authorization failures and the ACL resource type each one is about.
AUTHORIZATION_FAILURES = {KafkaError.TOPIC_AUTHORIZATION_FAILED: "TOPIC",
                          KafkaError.GROUP_AUTHORIZATION_FAILED: "GROUP",
                          KafkaError.CLUSTER_AUTHORIZATION_FAILED: "CLUSTER",
                          KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED: "TRANSACTIONAL_ID"}


def principal(config: Mapping[str, object]) -> str:
    """Who the broker sees a client with ``config`` as, as far as the config tells.

    ``User:<sasl.username>`` for SASL PLAIN and SCRAM, the client certificate's principal for SSL (the
    broker's ``ssl.principal.mapping.rules`` decide its name), ``User:ANONYMOUS`` for PLAINTEXT.
    """
    protocol = str(config.get("security.protocol", "plaintext")).upper()
    if protocol.startswith("SASL") and config.get("sasl.username"):
        return "User:%s" % config["sasl.username"]
    if protocol == "SSL":
        certificate = config.get("ssl.certificate.location")
        return ("the principal of ssl.certificate.location=%s" % certificate if certificate
                else "User:ANONYMOUS (no client certificate)")
    if protocol == "PLAINTEXT":
        return "User:ANONYMOUS"
    return "this client's principal"


def missing_acl(error: object, config: Mapping[str, object], operations: str, name: str,
                resource_type: str = "") -> str:
    """For an authorization failure, ``"; <principal> needs an ALLOW ACL for <operations> on
    <RESOURCE> <name>"``; for any other error, ``""``.

    Args:
      error: A ``KafkaError`` (anything with ``code()``), or another object (no ACL text).
      config: The client's librdkafka settings (for the principal).
      operations: What the call needs, as Kafka's ACL operations: ``"READ"``, ``"WRITE and DESCRIBE"``.
      name: The resource's name (topic, group, transactional id); unused for the cluster.
      resource_type: The resource type when it is not the one the error code says.
    """
    code = getattr(error, "code", None)
    kind = AUTHORIZATION_FAILURES.get(code()) if callable(code) else None
    if kind is None:
        return ""
    resource = resource_type or kind
    target = "the CLUSTER" if resource == "CLUSTER" else "%s %s" % (resource, name)
    return "; %s needs an ALLOW ACL for %s on %s" % (principal(config), operations, target)
