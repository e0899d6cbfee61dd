"""Keys and values written in Confluent's wire format, their schemas registered in a Schema Registry.

``kafka.key.format`` / ``kafka.value.format`` ``avro``, ``json_sr`` (alias ``jsonschema``) or
``protobuf`` write what Confluent's AvroConverter / JsonSchemaConverter / ProtobufConverter write: a
magic byte 0, the 4-byte id of the record's schema in the registry, and the payload (Avro binary, JSON
text, or the message indexes and the Protobuf message). The registry is
configured with the converters' keys under the format key (``kafka.value.format.schema.registry.url``,
``kafka.value.format.basic.auth.user.info``... :data:`~transforms.converters.registry.REGISTRY_KEYS`),
and so are the serializer's: ``auto.register.schemas`` (default true), ``use.latest.version``,
``latest.compatibility.strict`` and ``key.subject.name.strategy`` / ``value.subject.name.strategy``
(TopicNameStrategy: subject ``<target topic>-key`` / ``-value``; RecordNameStrategy: the schema's
full name; TopicRecordNameStrategy: ``<target topic>-<full name>``).

Decisions:
- The schema of each record is derived from its Connect schema (the Arrow field, see
  :mod:`transforms.schema`): :mod:`sinks.kafka.payloads`. Records of one bundle that carry their own
  value schemas (a converter read several versions) are written with their own.
- Each distinct ``(subject, schema)`` is registered (or looked up) once per worker, and the bytes are
  framed here rather than by confluent-kafka's ``AvroSerializer``/``JSONSerializer``/
  ``ProtobufSerializer``: those take one schema (or message class) per serializer, look up topic associations on every new subject, and run their rule
  machinery per record; framing here writes the same bytes (checked against ``AvroSerializer``) in
  about half the time (2.0 against 4.0 µs per three-field record), and keeps a registry failure,
  retriable, apart from a record that does not fit, which fails alone.
- A registry that cannot be reached or answers 5xx/429 raises
  :class:`~transforms.converters.registry.RegistryUnavailable` (retried for ``errors.retry.timeout``);
  refused credentials (401, 403) :class:`~transforms.converters.registry.RegistryRefused`, which stops
  the run. A schema the registry will not take (409 incompatible, 422 invalid) or does not hold
  (``auto.register.schemas=false``, 404) fails the records of that schema, routed by
  ``errors.tolerance`` with their topic, partition and offset.
- ``use.latest.version=true`` (Avro and JSON Schema; refused with Protobuf, whose payload is built
  from the record's own message type) writes each record with the subject's latest schema and its
  id; Java's ``latest.compatibility.strict=true`` (its default) checks that schema against each
  record's, which is not done here, so it must be set to false with it: a record that does not fit
  the latest schema then fails alone.
- Credentials never appear in errors: they name the registry by its URLs with any userinfo removed,
  and the keys' values are registered as secrets (their names end in ``password``, ``user.info``,
  ``token`` or ``secret``).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, Dict, Mapping, Optional

from common.configdef import check_unknown
from common.errors import ConfigError
from transforms.converters.registry import (MAGIC_BYTE, REGISTRY_KEYS, RegistryRefused,
                                            RegistryUnavailable, redact_url,
                                            registry_client_config)

_LOGGER = logging.getLogger(__name__)

#: The names users write, to the format written.
REGISTRY_FORMATS = {"avro": "avro", "json_sr": "json_sr", "jsonschema": "json_sr",
                    "protobuf": "protobuf"}
#: The schema type the registry is told, per format.
SCHEMA_TYPES = {"avro": "AVRO", "json_sr": "JSON", "protobuf": "PROTOBUF"}

_STRATEGY_PACKAGE = "io.confluent.kafka.serializers.subject."
STRATEGIES = ("TopicNameStrategy", "RecordNameStrategy", "TopicRecordNameStrategy")

@dataclasses.dataclass(frozen=True)
class RegistryOutput:
    """How one part (key or value) is written with a Schema Registry.

    Attributes:
      config_key: ``kafka.key.format`` or ``kafka.value.format``, for messages.
      part: ``key`` or ``value``.
      format: ``avro`` or ``json_sr``.
      client_config: The ``SchemaRegistryClient`` settings (credentials among them).
      auto_register: ``auto.register.schemas``.
      use_latest: ``use.latest.version``.
      strategy: One of :data:`STRATEGIES`.
      capacity: ``schemas.cache.config``.
    """

    config_key: str
    part: str
    format: str
    client_config: Mapping[str, Any] = dataclasses.field(repr=False)
    auto_register: bool = True
    use_latest: bool = False
    strategy: str = "TopicNameStrategy"
    capacity: int = 1000

    def describe(self) -> str:
        """The registry's URLs, without credentials."""
        return ",".join(redact_url(u) for u in self.client_config["url"].split(","))

    def subject(self, topic: str, record_name: Optional[str]) -> str:
        """The subject of a schema written to ``topic``.

        Raises:
          ValueError: the strategy needs a record name and the schema has none.
        """
        if self.strategy == "TopicNameStrategy":
            return "%s-%s" % (topic, self.part)
        if not record_name:
            raise ValueError("%s.%s.subject.name.strategy=%s needs a named schema (a Connect schema "
                             "name), and this one has none" % (self.config_key, self.part,
                                                               self.strategy))
        if self.strategy == "RecordNameStrategy":
            return record_name
        return "%s-%s" % (topic, record_name)


def parse_output(config_key: str, fmt: str, sink_keys: Mapping[str, str]) -> Optional[RegistryOutput]:
    """The registry settings of one part from the raw keys under ``<config_key>.``.

    Args:
      config_key: ``kafka.key.format`` or ``kafka.value.format``.
      fmt: Its parsed format.
      sink_keys: The connector's raw keys under the sink's key prefixes.

    Returns:
      None when ``fmt`` writes without a registry.

    Raises:
      ConfigError: a key is unknown or invalid, registry keys are set for a format that has no
        registry, ``schema.registry.url`` is missing, or settings conflict.
    """
    prefix = config_key + "."
    given = {k: v for k, v in sink_keys.items() if k.startswith(prefix)}
    check_unknown(given, [prefix + k for k in REGISTRY_KEYS.names()], what="Kafka sink")
    if fmt not in SCHEMA_TYPES:
        if given:
            raise ConfigError("%s is set but %s=%r writes no Schema Registry records; set %s to avro "
                              "or json_sr, or leave the key out"
                              % (sorted(given)[0], config_key, fmt, config_key))
        return None
    values = REGISTRY_KEYS.parse(given, prefix=prefix)
    if not [u for u in values["schema.registry.url"] if u.strip()]:
        raise ConfigError("%sschema.registry.url is required with %s=%r, got %r"
                          % (prefix, config_key, fmt, sink_keys.get(prefix + "schema.registry.url", "")))
    client = registry_client_config(values, config_key)
    part = "key" if config_key.endswith(".key.format") else "value"
    other = "value" if part == "key" else "key"
    if values["%s.subject.name.strategy" % other]:
        raise ConfigError("%s%s.subject.name.strategy names the subject of %ss, which %s does not "
                          "write; set %s%s.subject.name.strategy instead, got %r"
                          % (prefix, other, other, config_key, prefix, part,
                             values["%s.subject.name.strategy" % other]))
    strategy = _strategy(prefix + part + ".subject.name.strategy",
                         values["%s.subject.name.strategy" % part])
    if values["use.latest.version"] and fmt == "protobuf":
        raise ConfigError("%suse.latest.version must be false with %s='protobuf': writing a record "
                          "with a message type other than its own is not supported, got 'true'"
                          % (prefix, config_key))
    if values["use.latest.version"] and values["latest.compatibility.strict"]:
        raise ConfigError(
            "%slatest.compatibility.strict must be false with %suse.latest.version=true: the check "
            "that the latest schema is backward compatible with each record's schema is not made "
            "here (a record that does not fit the latest schema fails alone), got 'true'"
            % (prefix, prefix))
    return RegistryOutput(config_key=config_key, part=part, format=fmt, client_config=client,
                          auto_register=values["auto.register.schemas"],
                          use_latest=values["use.latest.version"], strategy=strategy,
                          capacity=values["schemas.cache.config"])


def _strategy(key: str, value: Optional[str]) -> str:
    if value is None:
        return "TopicNameStrategy"
    short = value[len(_STRATEGY_PACKAGE):] if value.startswith(_STRATEGY_PACKAGE) else value
    if short not in STRATEGIES:
        raise ConfigError("%s must be one of %s, got %r"
                          % (key, ", ".join(repr(_STRATEGY_PACKAGE + s) for s in STRATEGIES), value))
    return short


class SchemaRefused(Exception):
    """The registry will not take a schema, or does not hold it: the records of that schema fail."""


class Registrations:
    """The ids of schemas in one registry: registered, looked up or the subject's latest, once each.

    Made on the worker (the client is made on first use and dropped when pickled).

    Args:
      output: The part's settings.
    """

    def __init__(self, output: RegistryOutput):
        self._output = output
        self._client = None
        self._ids: Dict[tuple, int] = {}
        self._latest: Dict[str, tuple] = {}
        self.calls = 0

    def __getstate__(self):
        state = self.__dict__.copy()
        state.update(_client=None, _ids={}, _latest={})
        return state

    def id_of(self, subject: str, schema_text: str) -> int:
        """The id records of ``schema_text`` are written with under ``subject`` (registered when
        ``auto.register.schemas``, else looked up).

        Raises:
          SchemaRefused: the registry does not take or hold the schema.
          RegistryUnavailable: the registry could not answer.
          RegistryRefused: the registry refuses the credentials.
        """
        key = (subject, schema_text)
        found = self._ids.get(key)
        if found is not None:
            return found
        from confluent_kafka.schema_registry import Schema

        schema = Schema(schema_text, SCHEMA_TYPES[self._output.format])
        if self._output.auto_register:
            found = self._call(lambda c: c.register_schema(subject, schema),
                               "registering a schema under subject %r" % subject)
        else:
            found = self._call(lambda c: c.lookup_schema(subject, schema),
                               "looking up a schema under subject %r (auto.register.schemas=false)"
                               % subject).schema_id
        if len(self._ids) >= max(self._output.capacity, 1):
            self._ids.pop(next(iter(self._ids)))
        self._ids[key] = found
        _LOGGER.info("%s writes subject %s with schema id %d (%s)", self._output.config_key, subject,
                     found, "registered" if self._output.auto_register else "looked up")
        return found

    def latest(self, subject: str, compile: Callable[[str], Any]) -> tuple:
        """``(id, compile(schema text))`` of the latest schema of ``subject``, fetched once per worker
        (as Java's serializer keeps it with ``latest.cache.ttl.sec=-1``)."""
        found = self._latest.get(subject)
        if found is None:
            registered = self._call(lambda c: c.get_latest_version(subject),
                                    "the latest version of subject %r" % subject)
            try:
                compiled = compile(registered.schema.schema_str)
            except Exception as exc:  # a schema this format cannot read: its records fail
                raise SchemaRefused("the latest schema of subject %r (id %d) cannot be used: %s"
                                    % (subject, registered.schema_id, exc)) from None
            found = self._latest[subject] = (registered.schema_id, compiled)
            _LOGGER.info("%s writes subject %s with its latest schema, id %d (version %s)",
                         self._output.config_key, subject, registered.schema_id, registered.version)
        return found

    def _call(self, call: Callable, what: str) -> Any:
        from confluent_kafka.schema_registry import SchemaRegistryError

        httpx = _httpx()
        output = self._output
        try:
            client = self._connect()
            self.calls += 1
            return call(client)
        except SchemaRegistryError as exc:
            status = exc.http_status_code
            if status in (401, 403):
                raise RegistryRefused("the Schema Registry at %s refused the credentials of %s for %s "
                                      "(HTTP %s): check %s.basic.auth.* or %s.bearer.auth.*"
                                      % (output.describe(), output.config_key, what, status,
                                         output.config_key, output.config_key)) from None
            if status is not None and 400 <= status < 500 and status != 429:
                raise SchemaRefused("the Schema Registry at %s refused %s (HTTP %s, error code %s: %s)"
                                    % (output.describe(), what, status, exc.error_code,
                                       _scrub(exc.error_message, output))) from None
            raise RegistryUnavailable("the Schema Registry at %s could not serve %s (HTTP %s, error "
                                      "code %s)" % (output.describe(), what, status,
                                                    exc.error_code)) from None
        except (httpx.TransportError, OSError) as exc:
            raise RegistryUnavailable("the Schema Registry at %s could not be reached for %s: %s"
                                      % (output.describe(), what, type(exc).__name__)) from None

    def _connect(self):
        if self._client is None:
            from confluent_kafka.schema_registry import SchemaRegistryClient

            try:
                self._client = SchemaRegistryClient.new_client(dict(self._output.client_config))
            except (ValueError, TypeError) as exc:
                raise ConfigError("the Schema Registry settings of %s are invalid: %s"
                                  % (self._output.config_key, _scrub(str(exc), self._output))) from None
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def frame(schema_id: int, payload: bytes) -> bytes:
    """Confluent's wire format: magic byte 0, the 4-byte big-endian schema id, the payload."""
    return bytes((MAGIC_BYTE,)) + schema_id.to_bytes(4, "big") + payload


def _httpx():
    """The HTTP library confluent-kafka's registry client uses: httpx2 where installed, else httpx."""
    try:
        import httpx2 as httpx
    except ImportError:
        import httpx
    return httpx


def _scrub(text: Optional[str], output: RegistryOutput) -> str:
    text = str(text or "")
    for key in ("basic.auth.user.info", "bearer.auth.token", "bearer.auth.client.secret",
                "ssl.key.password"):
        secret = output.client_config.get(key)
        if secret:
            text = text.replace(str(secret), "[hidden]")
    return text
