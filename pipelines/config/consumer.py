"""Kafka Connect's ``consumer.override.*`` keys (Java consumer settings) as librdkafka settings.

Most Java consumer keys have the same name in librdkafka. The rest are renamed, translated (a PLAIN
or SCRAM ``sasl.jaas.config``), accepted with a warning where they have no effect here, or refused
with the librdkafka setting to use instead (Java key stores).
"""

from __future__ import annotations

import re
from typing import Mapping

from common.errors import ConfigError

RENAMED = {
    "fetch.max.wait.ms": "fetch.wait.max.ms",
    "receive.buffer.bytes": "socket.receive.buffer.bytes",
    "send.buffer.bytes": "socket.send.buffer.bytes",
}

NO_EFFECT = {
    "key.deserializer": "records are read as bytes and converted by key.converter",
    "value.deserializer": "records are read as bytes and converted by value.converter",
    "partition.assignment.strategy": "partitions are assigned by the pipeline, never by a group",
    "max.poll.interval.ms": "the pipeline assigns partitions and never joins the group",
    "exclude.internal.topics": "topics are chosen by topics or topics.regex",
    "default.api.timeout.ms": "the Java client's API timeout has no librdkafka counterpart",
    "client.dns.lookup": "librdkafka resolves every address of a host",
    "interceptor.classes": "Java interceptors cannot run here",
    "metric.reporters": "Java metric reporters cannot run here",
    "security.providers": "Java security providers cannot run here",
}

KEY_STORES = {
    "ssl.truststore.location": "ssl.ca.location (a PEM file)",
    "ssl.truststore.password": "ssl.ca.location (a PEM file)",
    "ssl.truststore.type": "ssl.ca.location (a PEM file)",
    "ssl.keystore.location": "ssl.certificate.location and ssl.key.location (PEM files)",
    "ssl.keystore.password": "ssl.key.password",
    "ssl.keystore.type": "ssl.certificate.location and ssl.key.location (PEM files)",
}

_JAAS = re.compile(r"\s*org\.apache\.kafka\.common\.security\.(plain\.PlainLoginModule|"
                   r"scram\.ScramLoginModule)\s+required\s+(?P<options>.*?);?\s*$", re.DOTALL)
_JAAS_OPTION = re.compile(r'(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"')


def translate(overrides: Mapping[str, str]) -> tuple:
    """``(librdkafka settings, warnings)`` for the ``consumer.override.`` keys (prefix stripped)."""
    settings, warnings = {}, []
    for key, value in overrides.items():
        full = "consumer.override." + key
        if key in KEY_STORES:
            raise ConfigError("%s is a Java key store setting; librdkafka reads PEM files: use "
                              "consumer.override.%s instead" % (full, KEY_STORES[key]))
        if key in NO_EFFECT:
            warnings.append("%s is accepted but has no effect here: %s" % (full, NO_EFFECT[key]))
        elif key == "sasl.jaas.config":
            settings.update(_jaas(value))
        elif key == "ssl.endpoint.identification.algorithm":
            settings[key] = value or "none"  # Java's "" turns hostname checks off
        else:
            settings[RENAMED.get(key, key)] = value
    return settings, warnings


def _jaas(value: str) -> dict:
    match = _JAAS.match(value)
    if match is None:
        raise ConfigError("consumer.override.sasl.jaas.config must use the PlainLoginModule or the "
                          "ScramLoginModule (others have no librdkafka counterpart; use its sasl.* "
                          "settings), got %r" % _redact(value))
    options = {k: v.replace('\\"', '"') for k, v in _JAAS_OPTION.findall(match["options"])}
    missing = [k for k in ("username", "password") if k not in options]
    if missing:
        raise ConfigError("consumer.override.sasl.jaas.config needs %s, got %r"
                          % (" and ".join(missing), _redact(value)))
    return {"sasl.username": options["username"], "sasl.password": options["password"]}


def _redact(value: str) -> str:
    return _JAAS_OPTION.sub(lambda m: '%s="[hidden]"' % m[1] if m[1] == "password" else m[0], value)
