"""What the Schema Registry converters share: their registry keys, the client, and Confluent's wire format.

A record serialized by Confluent's serializers is a magic byte 0, the schema's 4-byte big-endian id in
the registry, and the payload. :class:`RegistrySchemas` fetches a schema by id once per worker (one
client per converter instance, made on first use and dropped when pickled) and keeps what the converter
compiled from it, so that a batch whose records share an id makes one registry call at most, and
usually none.

The keys are Confluent's (without the ``value.converter.`` prefix). Credentials (``basic.auth.user.info``,
a ``userinfo@`` in the URL, ``bearer.auth.token``, ``bearer.auth.client.secret``, the key password) never
appear in logs or errors: errors name the registry by its URLs with any userinfo removed.

A registry that cannot be reached, or answers 5xx or 429, raises :class:`RegistryUnavailable`, a
:class:`~common.errors.RetriableError`; one that refuses the credentials (401, 403) raises
:class:`RegistryRefused`, which stops the run; a schema id the registry does not know (404, or
another 4xx) is reported to the converter as :class:`UnknownSchema`, a per-record failure.
"""

from __future__ import annotations

import logging
import urllib.parse
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import pyarrow as pa

from common.configdef import ConfigDef, ConfigKey
from common.errors import BeamConnectError, ConfigError, RetriableError
from transforms.converters.base import Conversion
from transforms.converters.json_schemaless import build_array
from transforms.converters.unify import TypeConflict, unify_types
from transforms.schema import connect_field

_LOGGER = logging.getLogger(__name__)

MAGIC_BYTE = 0
HEADER_SIZE = 5
_EXTRA_HINT = "pip install 'beamconnect[schema-registry]'"

REGISTRY_KEYS = ConfigDef([
    ConfigKey("schema.registry.url", "list", (), group="Schema Registry",
              doc="Comma-separated URLs of the Schema Registry; tried in order."),
    ConfigKey("basic.auth.credentials.source", "string", "URL",
              choices=("URL", "USER_INFO", "SASL_INHERIT"), group="Schema Registry",
              doc="URL: credentials from the URL's userinfo; USER_INFO: from basic.auth.user.info."),
    ConfigKey("basic.auth.user.info", "password", None, group="Schema Registry",
              doc="user:password for basic.auth.credentials.source=USER_INFO."),
    ConfigKey("bearer.auth.credentials.source", "string", None,
              choices=("STATIC_TOKEN", "OAUTHBEARER", "SASL_OAUTHBEARER_INHERIT", "CUSTOM"),
              group="Schema Registry", doc="STATIC_TOKEN or OAUTHBEARER bearer authentication."),
    ConfigKey("bearer.auth.token", "password", None, group="Schema Registry"),
    ConfigKey("bearer.auth.logical.cluster", "string", None, group="Schema Registry"),
    ConfigKey("bearer.auth.identity.pool.id", "string", None, group="Schema Registry"),
    ConfigKey("bearer.auth.client.id", "string", None, group="Schema Registry"),
    ConfigKey("bearer.auth.client.secret", "password", None, group="Schema Registry"),
    ConfigKey("bearer.auth.scope", "string", None, group="Schema Registry"),
    ConfigKey("bearer.auth.issuer.endpoint.url", "string", None, group="Schema Registry"),
    ConfigKey("schema.registry.ssl.ca.location", "string", None, group="Schema Registry",
              doc="PEM file of the CAs that sign the registry's certificate."),
    ConfigKey("schema.registry.ssl.certificate.location", "string", None, group="Schema Registry",
              doc="PEM client certificate."),
    ConfigKey("schema.registry.ssl.key.location", "string", None, group="Schema Registry",
              doc="PEM client key."),
    ConfigKey("schema.registry.ssl.key.password", "password", None, group="Schema Registry"),
    ConfigKey("schema.registry.ssl.truststore.location", "string", None, group="Schema Registry"),
    ConfigKey("schema.registry.ssl.truststore.password", "password", None, group="Schema Registry"),
    ConfigKey("schema.registry.ssl.truststore.type", "string", None, group="Schema Registry"),
    ConfigKey("schema.registry.ssl.keystore.location", "string", None, group="Schema Registry"),
    ConfigKey("schema.registry.ssl.keystore.password", "password", None, group="Schema Registry"),
    ConfigKey("schema.registry.ssl.keystore.type", "string", None, group="Schema Registry"),
    ConfigKey("schemas.cache.config", "int", 1000, min=0, group="Schema Registry",
              doc="How many schemas (by id) a worker keeps compiled."),
    ConfigKey("auto.register.schemas", "boolean", True, group="Schema Registry",
              doc="A serializer's setting: a sink's converter only reads, so it has no effect."),
    ConfigKey("use.latest.version", "boolean", False, group="Schema Registry",
              doc="A serializer's setting: records are read with the schema their id names."),
    ConfigKey("latest.compatibility.strict", "boolean", True, group="Schema Registry",
              doc="A serializer's setting (with use.latest.version): no effect on reading."),
    ConfigKey("key.subject.name.strategy", "class", None, group="Schema Registry",
              doc="A serializer's setting: reading finds schemas by id, not by subject."),
    ConfigKey("value.subject.name.strategy", "class", None, group="Schema Registry",
              doc="A serializer's setting: reading finds schemas by id, not by subject."),
])

_JAVA_STORES = ("schema.registry.ssl.truststore.location", "schema.registry.ssl.keystore.location")


class RegistryUnavailable(RetriableError):
    """The registry could not be reached, or answered that it cannot serve now (5xx, 429)."""


class RegistryRefused(BeamConnectError):
    """The registry refuses the converter's credentials (401, 403): no record can be read, so the run
    stops instead of dead-lettering every record."""


class UnknownSchema(Exception):
    """The registry does not know a schema id (or its schema cannot be read): a per-record failure."""


def registry_client_config(config: Mapping[str, Any], config_key: str) -> Dict[str, Any]:
    """The ``SchemaRegistryClient`` settings for a converter's parsed registry keys.

    Raises:
      ConfigError: ``schema.registry.url`` is missing, a refused setting is used, or settings conflict.
    """
    prefix = config_key + "."
    try:
        _httpx()
        from confluent_kafka.schema_registry import SchemaRegistryClient  # noqa: F401
    except ImportError as exc:
        raise ConfigError("%s needs confluent-kafka's Schema Registry client (%s): %s"
                          % (config_key, _EXTRA_HINT, exc)) from None
    urls = [u.strip() for u in config["schema.registry.url"] if u.strip()]
    if not urls:
        raise ConfigError("%sschema.registry.url is required by this converter, got %r"
                          % (prefix, ",".join(config["schema.registry.url"])))
    for url in urls:
        if not url.startswith(("http://", "https://", "mock://")):
            raise ConfigError("%sschema.registry.url must be http:// or https:// URLs, got %r"
                              % (prefix, redact_url(url)))
    # Credentials in a URL go to the client as user info, so that no URL it logs carries them.
    in_url = [urllib.parse.urlsplit(u) for u in urls if not u.startswith("mock://")]
    in_url = [(urllib.parse.unquote(p.username or ""), urllib.parse.unquote(p.password or ""))
              for p in in_url if p.username is not None or p.password is not None]
    client: Dict[str, Any] = {"url": ",".join(redact_url(u) for u in urls), "max.retries": 0,
                              "timeout": 10}
    source = config["basic.auth.credentials.source"]
    user_info = config["basic.auth.user.info"]
    if source == "URL" and in_url:
        if len(set(in_url)) > 1:
            raise ConfigError("%sschema.registry.url holds different credentials in its URLs; the "
                              "registry takes one login" % prefix)
        client["basic.auth.user.info"] = "%s:%s" % in_url[0]
    if source == "SASL_INHERIT":
        raise ConfigError("%sbasic.auth.credentials.source must be URL or USER_INFO, got 'SASL_INHERIT': "
                          "the registry client here does not share the Kafka client's SASL login; put "
                          "the credentials in basic.auth.user.info" % prefix)
    if source == "USER_INFO":
        if not user_info or ":" not in user_info:
            raise ConfigError("%sbasic.auth.user.info must be user:password with "
                              "basic.auth.credentials.source=USER_INFO, got %s"
                              % (prefix, "nothing" if not user_info else "'[hidden]'"))
        if in_url:
            raise ConfigError("%sschema.registry.url holds credentials while basic.auth.credentials.source="
                              "USER_INFO: keep them in one place" % prefix)
        client["basic.auth.user.info"] = str(user_info)
    elif user_info:
        raise ConfigError("%sbasic.auth.user.info is set but basic.auth.credentials.source is %r; set it to "
                          "USER_INFO" % (prefix, source))
    _bearer(config, client, prefix)
    for key in _JAVA_STORES:
        if config[key]:
            raise ConfigError("%s%s is a Java key store, which the registry client here cannot read; give "
                              "PEM files with %s instead, got %r"
                              % (prefix, key, "schema.registry.ssl.ca.location" if "trust" in key else
                                 "schema.registry.ssl.certificate.location and "
                                 "schema.registry.ssl.key.location", config[key]))
    for ours, theirs in (("schema.registry.ssl.ca.location", "ssl.ca.location"),
                         ("schema.registry.ssl.certificate.location", "ssl.certificate.location"),
                         ("schema.registry.ssl.key.location", "ssl.key.location"),
                         ("schema.registry.ssl.key.password", "ssl.key.password")):
        if config[ours]:
            client[theirs] = str(config[ours])
    return client


def _bearer(config: Mapping[str, Any], client: Dict[str, Any], prefix: str) -> None:
    source = config["bearer.auth.credentials.source"]
    given = [k for k in ("bearer.auth.token", "bearer.auth.client.id", "bearer.auth.client.secret",
                         "bearer.auth.scope", "bearer.auth.issuer.endpoint.url") if config[k]]
    if source is None:
        if given:
            raise ConfigError("%s%s is set but bearer.auth.credentials.source is not"
                              % (prefix, given[0]))
        return
    if source in ("SASL_OAUTHBEARER_INHERIT", "CUSTOM"):
        raise ConfigError("%sbearer.auth.credentials.source must be STATIC_TOKEN or OAUTHBEARER, got %r: "
                          "%s" % (prefix, source, "the registry client here does not share the Kafka "
                                  "client's OAuth login" if source != "CUSTOM" else
                                  "a custom Java token provider cannot be loaded here"))
    if config["basic.auth.user.info"]:
        raise ConfigError("%sbearer.auth.credentials.source and basic.auth.user.info are both set: "
                          "use one of them" % prefix)
    needed = (("bearer.auth.token",) if source == "STATIC_TOKEN" else
              ("bearer.auth.client.id", "bearer.auth.client.secret", "bearer.auth.scope",
               "bearer.auth.issuer.endpoint.url"))
    for key in needed + ("bearer.auth.logical.cluster",):
        if not config[key]:
            raise ConfigError("%s%s is required with bearer.auth.credentials.source=%s"
                              % (prefix, key, source))
    client["bearer.auth.credentials.source"] = source
    for key in needed + ("bearer.auth.logical.cluster", "bearer.auth.identity.pool.id"):
        if config[key]:
            client[key] = str(config[key])


def _httpx():
    """The HTTP library confluent-kafka's registry client uses: httpx2 where installed, else httpx."""
    try:
        import httpx2 as httpx
    except ImportError:
        import httpx
    return httpx


def redact_url(url: str) -> str:
    """``url`` without any ``user:password@``."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += ":%d" % parts.port
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def split_header(raw: bytes) -> Tuple[Optional[int], str]:
    """``(schema id, "")`` of a Confluent-framed record, or ``(None, reason)`` when it is not one."""
    if len(raw) < HEADER_SIZE:
        return None, "Unknown magic byte! (the record is %d bytes, shorter than the 5-byte header)" % len(raw)
    if raw[0] != MAGIC_BYTE:
        return None, "Unknown magic byte! (got %d, Confluent's wire format starts with 0)" % raw[0]
    return int.from_bytes(raw[1:HEADER_SIZE], "big"), ""


class BatchSchemas:
    """Within one batch: the compiled schema of each record's writer's schema id, or why it has none.

    Every registry converter resolves records the same way: the header gives the id, an id the
    registry does not know (or whose schema does not compile) fails each of its records with one
    reason, asked for once per batch.

    Args:
      registry: The converter's :class:`RegistrySchemas`.
      what: The format as named in errors (``Avro``, ``Protobuf``, ``JSON``).
    """

    def __init__(self, registry: "RegistrySchemas", what: str):
        self._registry = registry
        self._what = what
        self.found: dict = {}  # schema id -> compiled schema, in first-seen order
        self._failed: dict = {}

    def resolve(self, raw: bytes) -> Tuple[Optional[int], Any, str]:
        """``(schema id, compiled schema, "")``, or ``(schema id or None, None, reason)``."""
        schema_id, reason = split_header(raw)
        if schema_id is None:
            return None, None, reason
        compiled = self.found.get(schema_id)
        if compiled is not None:
            return schema_id, compiled, ""
        if schema_id not in self._failed:
            try:
                compiled = self._registry.get(schema_id)
            except UnknownSchema as e:
                self._failed[schema_id] = "Error retrieving %s schema for id %d: %s" % (
                    self._what, schema_id, e)
            else:
                if isinstance(compiled, str):
                    self._failed[schema_id] = "schema id %d: %s" % (schema_id, compiled)
                else:
                    self.found[schema_id] = compiled
                    return schema_id, compiled, ""
        return schema_id, None, self._failed[schema_id]


class RegistrySchemas:
    """Schemas by id, fetched once and compiled by ``compile(schema_str, references)``.

    Args:
      client_config: ``SchemaRegistryClient`` settings (:func:`registry_client_config`).
      compile: Makes what the converter keeps per id from the registry's ``Schema`` (its ``schema_str``
        and ``references``), a function resolving a reference to its own ``Schema``, and a function
        listing the ``(subject, version)`` registrations of the id.
      capacity: How many compiled schemas to keep (``schemas.cache.config``); 0 keeps none between
        batches.
      config_key: ``key.converter`` or ``value.converter``, for messages.
    """

    def __init__(self, client_config: Mapping[str, Any], compile: Callable, capacity: int,
                 config_key: str = "value.converter"):
        self._client_config = dict(client_config)
        self._config_key = config_key
        self._compile = compile
        self._capacity = capacity
        self._client = None
        self._compiled: Dict[int, Any] = {}
        self.fetches = 0

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_client"] = None
        state["_compiled"] = {}
        return state

    def use_client(self, client) -> None:
        """Uses ``client`` (a ``SchemaRegistryClient``, e.g. confluent-kafka's mock one) from now on."""
        self._client = client

    def describe(self) -> str:
        """The registry's URLs, without credentials."""
        return ",".join(redact_url(u) for u in self._client_config["url"].split(","))

    def get(self, schema_id: int) -> Any:
        """What ``compile`` made of schema ``schema_id``.

        Raises:
          UnknownSchema: the registry does not know the id, or its schema does not compile.
          RegistryUnavailable: the registry could not answer.
        """
        compiled = self._compiled.get(schema_id)
        if compiled is not None:
            return compiled
        schema = self._fetch(lambda client: client.get_schema(schema_id),
                             "schema id %d" % schema_id)
        compiled = self._compile(schema, self._reference, lambda: self._versions(schema_id))
        if self._capacity:
            if len(self._compiled) >= self._capacity:
                self._compiled.pop(next(iter(self._compiled)))
            self._compiled[schema_id] = compiled
        return compiled

    def _versions(self, schema_id: int) -> list:
        """``(subject, version)`` of each registration of schema ``schema_id`` ([] if not known, and
        from confluent-kafka's in-process ``mock://`` registry, which does not serve them)."""
        if self._client_config["url"].startswith("mock://"):
            return []
        try:
            found = self._fetch(lambda client: client.get_schema_versions(schema_id),
                                "the versions of schema id %d" % schema_id)
        except UnknownSchema:
            return []
        return [(v.subject, v.version) for v in found]

    def _reference(self, subject: str, version: int) -> Any:
        """The registry's ``Schema`` that a reference names."""
        return self._fetch(lambda client: client.get_version(subject, version).schema,
                           "version %d of subject %r" % (version, subject))

    def _fetch(self, call: Callable, what: str) -> Any:
        from confluent_kafka.schema_registry import SchemaRegistryError

        httpx = _httpx()
        try:
            client = self._connect()
            self.fetches += 1
            return call(client)
        except SchemaRegistryError as exc:
            status = exc.http_status_code
            if status in (401, 403):
                raise RegistryRefused("the Schema Registry at %s refused the credentials of %s for %s "
                                      "(HTTP %s): check basic.auth.* or bearer.auth.*"
                                      % (self.describe(), self._config_key, what, status)) from None
            if status == 404 or (status is not None and 400 <= status < 500 and status != 429):
                raise UnknownSchema("the Schema Registry at %s has no %s (HTTP %s, error code %s)"
                                    % (self.describe(), what, status, exc.error_code)) from None
            raise RegistryUnavailable("the Schema Registry at %s could not serve %s (HTTP %s, error code "
                                      "%s)" % (self.describe(), what, status, exc.error_code)) from None
        except (httpx.TransportError, OSError) as exc:
            raise RegistryUnavailable("the Schema Registry at %s could not be reached for %s: %s"
                                      % (self.describe(), what, type(exc).__name__)) from None

    def _connect(self):
        if self._client is None:
            from confluent_kafka.schema_registry import SchemaRegistryClient

            try:
                self._client = SchemaRegistryClient.new_client(self._client_config)
            except (ValueError, TypeError) as exc:
                raise ConfigError("the Schema Registry settings are invalid: %s"
                                  % str(exc).replace(self._client_config.get("basic.auth.user.info", "\0"),
                                                     "[hidden]")) from None
        return self._client

    def close(self) -> None:
        """Closes the client (a new one is made on the next fetch)."""
        if self._client is not None:
            self._client.close()
            self._client = None


def assemble(entries: list, failures: list, schemas: dict, own: dict, total: int,
             describe: Callable[[Any], str]) -> Conversion:
    """One batch's decoded values as one Arrow array with the Connect schema of their schemas.

    Args:
      entries: ``(index, value)`` of the decoded records.
      failures: ``(index, reason)`` of the records that failed so far (extended here).
      schemas: The batch's compiled schemas by key (a schema id, or an id and message indexes), each
        with a ``field``.
      own: Record index -> its schema's key.
      total: The batch's record count.
      describe: A key, in words, for the error of a record whose schema does not unify with the
        earlier ones.

    Several schemas are unified into one type (their names and docs no longer apply to every record);
    ``record_schemas`` then keeps each surviving record's own schema.
    """
    unified, rejected = pa.null(), {}
    for key, compiled in schemas.items():
        try:
            unified = unify_types(unified, compiled.field.type)
        except TypeConflict as conflict:
            rejected[key] = ("%s does not match earlier records of the batch: %s"
                             % (describe(key), conflict.reason()))
    if rejected:
        failures.extend((i, rejected[own[i]]) for i, _ in entries if own.get(i) in rejected)
        entries = [(i, v) for i, v in entries if own.get(i) not in rejected]
    kept = [c for k, c in schemas.items() if k not in rejected]
    field = kept[0].field if len(kept) == 1 else connect_field("value", unified, True)
    array, bad = build_array(entries, field.type)
    failures.extend(bad)
    if field.type != array.type:  # a batch of nulls only: no schema seen
        field = field.with_type(array.type)
    record_schemas = None
    if len(kept) > 1:
        failed = {i for i, _ in failures}
        record_schemas = tuple(schemas[own[i]].field if i in own else None
                               for i in range(total) if i not in failed)
    return Conversion(array, tuple(sorted(failures)), field, record_schemas)
