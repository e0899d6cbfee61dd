"""Kafka Connect's ``consumer.override.*`` and ``producer.override.*`` keys (Java client settings) as
librdkafka settings.

Most Java client keys have the same name in librdkafka. The rest are renamed (``max.request.size`` is
``message.max.bytes``; ``buffer.memory``, in bytes, is ``queue.buffering.max.kbytes``), translated (a PLAIN
or SCRAM ``sasl.jaas.config``), accepted with a warning where they have no effect here, or refused
with the librdkafka setting to use instead (Java key stores).

Java's PEM stores are PEM files already, so they are translated: ``ssl.truststore.type=PEM`` with
``ssl.truststore.location`` is ``ssl.ca.location``; ``ssl.keystore.type=PEM`` with
``ssl.keystore.location`` (one file holding the private key and the certificate chain, as Kafka reads it)
is ``ssl.certificate.location`` and ``ssl.key.location`` on that file; the inline
``ssl.truststore.certificates``, ``ssl.keystore.certificate.chain`` and ``ssl.keystore.key`` are
``ssl.ca.pem``, ``ssl.certificate.pem`` and ``ssl.key.pem``. As in Kafka, a store password is refused
with PEM (``ssl.key.password`` is the key's). JKS and PKCS12 stores are refused.
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

# Java producer keys whose librdkafka setting has another name (or unit).
PRODUCER_RENAMED = {
    "max.request.size": "message.max.bytes",
}

PRODUCER_NO_EFFECT = {
    "max.block.ms": "librdkafka's produce() never blocks for metadata; message.timeout.ms bounds "
                    "delivery",
    "key.serializer": "dead letters carry the records' bytes as read",
    "value.serializer": "dead letters carry the records' bytes as read",
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

# Java's inline PEM settings and librdkafka's.
PEM_INLINE = {
    "ssl.truststore.certificates": "ssl.ca.pem",
    "ssl.keystore.certificate.chain": "ssl.certificate.pem",
    "ssl.keystore.key": "ssl.key.pem",
}

# Java's PEM store files and the librdkafka settings that read the same file.
PEM_LOCATIONS = {
    "truststore": ("ssl.ca.location",),
    "keystore": ("ssl.certificate.location", "ssl.key.location"),
}

_JAAS = re.compile(r"\s*org\.apache\.kafka\.common\.security\.(plain\.PlainLoginModule|"
                   r"scram\.ScramLoginModule)\s+required\s+(?P<options>.*?);?\s*$", re.DOTALL)
_JAAS_OPTION = re.compile(r'(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"')


def translate(overrides: Mapping[str, str], prefix: str = "consumer.override.") -> tuple:
    """``(librdkafka settings, warnings)`` for the ``consumer.override.`` (or, with ``prefix``,
    ``producer.override.``) keys, prefix stripped."""
    overrides = dict(overrides)
    settings, warnings = _pem_stores(overrides, prefix), []
    producer = prefix.startswith("producer")
    no_effect = PRODUCER_NO_EFFECT if producer else NO_EFFECT
    for key, value in overrides.items():
        full = prefix + key
        if key in KEY_STORES:
            store = key.split(".")[1]
            raise ConfigError("%s is a Java key store setting; librdkafka reads PEM files: use "
                              "%s%s instead, or %sssl.%s.type=PEM with a PEM %s"
                              % (full, prefix, KEY_STORES[key], prefix, store, store))
        if key in no_effect:
            warnings.append("%s is accepted but has no effect here: %s" % (full, no_effect[key]))
        elif key == "sasl.jaas.config":
            settings.update(_jaas(value, prefix))
        elif key == "ssl.endpoint.identification.algorithm":
            settings[key] = value or "none"  # Java's "" turns hostname checks off
        elif producer and key == "buffer.memory":  # bytes in Java, kilobytes in librdkafka
            settings["queue.buffering.max.kbytes"] = _kilobytes(full, value)
        elif producer and key in PRODUCER_RENAMED:
            settings[PRODUCER_RENAMED[key]] = value
        else:
            settings[RENAMED.get(key, key)] = value
    return settings, warnings


def _pem_stores(overrides: dict, prefix: str) -> dict:
    """librdkafka's settings for Java's PEM stores (see the module docs); the keys translated are
    taken out of ``overrides``."""
    settings = {}
    for store, native in PEM_LOCATIONS.items():
        kind_key = "ssl.%s.type" % store
        if overrides.get(kind_key, "").strip().upper() != "PEM":
            continue
        del overrides[kind_key]
        password_key = "ssl.%s.password" % store
        if password_key in overrides:
            raise ConfigError("%s%s cannot be set with %s%s=PEM (a PEM store has no password; an "
                              "encrypted key's is %sssl.key.password)"
                              % (prefix, password_key, prefix, kind_key, prefix))
        location = overrides.pop("ssl.%s.location" % store, None)
        if location is not None:
            settings.update({key: location.strip() for key in native})
    for java, native in PEM_INLINE.items():
        if java in overrides:
            settings[native] = overrides.pop(java)
    for native in settings:
        if native in overrides:
            java = next(j for j, n in PEM_INLINE.items() if n == native) if native.endswith(".pem") \
                else "ssl.%s.location" % ("truststore" if native == "ssl.ca.location" else "keystore")
            raise ConfigError("set one of %s%s and %s%s, they name the same PEM"
                              % (prefix, java, prefix, native))
    return settings


def _kilobytes(key: str, value: str) -> str:
    try:
        size = int(value)
    except ValueError:
        raise ConfigError("%s must be a number of bytes, got %r" % (key, value)) from None
    return str(max(1, size // 1024))


def _jaas(value: str, prefix: str) -> dict:
    match = _JAAS.match(value)
    if match is None:
        raise ConfigError("%ssasl.jaas.config must use the PlainLoginModule or the "
                          "ScramLoginModule (others have no librdkafka counterpart; use its sasl.* "
                          "settings), got %r" % (prefix, _redact(value)))
    options = {k: v.replace('\\"', '"') for k, v in _JAAS_OPTION.findall(match["options"])}
    missing = [k for k in ("username", "password") if k not in options]
    if missing:
        raise ConfigError("%ssasl.jaas.config needs %s, got %r"
                          % (prefix, " and ".join(missing), _redact(value)))
    return {"sasl.username": options["username"], "sasl.password": options["password"]}


def _redact(value: str) -> str:
    return _JAAS_OPTION.sub(lambda m: '%s="[hidden]"' % m[1] if m[1] == "password" else m[0], value)
