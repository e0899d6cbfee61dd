"""Config keys of the MongoDB sink: the official MongoDB Kafka sink connector's, with its defaults.

Connection-wide keys (``connection.uri``, ``server.api.*``) and the keys of each topic's writes
(``database``, ``collection``, ``namespace.mapper``, ``document.id.strategy``, ``writemodel.strategy``,
``post.processor.chain``, ``delete.on.null.values``, ``max.batch.size``, ``bulk.write.ordered``,
``rate.limiting.*``, ``timeseries.*``...). Every topic key may be set for one topic with
``topic.override.<topic>.<key>``, as in the official connector; with ``topics``, ``<topic>`` is the
longest configured topic the key starts with, else (``topics.regex``, a topic renamed by a transform)
the name up to the next dot. A record takes the settings of its topic after the transforms, as a
Kafka Connect sink task sees it.

Two keys are this sink's own: ``flush.size`` (offsets per bundle, the records one ``put()`` would get)
and ``offsets.field`` (the document field keeping each document's source coordinates, which makes
writes conditional: see :mod:`sinks.mongodb.writer`).

Keys of the official connector this sink cannot honour are refused when set (Java key stores, custom
credential providers, client-side field level encryption, CDC handlers, field value transformers);
``mongo.errors.tolerance`` and ``mongo.errors.log.enable`` apply to the whole connector (a
per-topic override of them is refused).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any, Mapping, Optional

from common.configdef import NO_DEFAULT, ConfigDef, ConfigKey, Password
from common.errors import ConfigError
from sinks.base import ConnectorContext
from sinks.mongodb import ids, namespace, postprocess, writemodels

_LOGGER = logging.getLogger(__name__)

DEFAULT_URI = "mongodb://localhost:27017"
OVERRIDE_PREFIX = "topic.override."
DEFAULT_OFFSETS_FIELD = "__kafka"
DATE_FORMAT_DEFAULT = ("yyyy-MM-dd[['T'][ ]][HH:mm:ss[[.][SSSSSS][SSS]][ ]VV[ ]'['VV']'][HH:mm:ss[[.]"
                       "[SSSSSS][SSS]][ ]X][HH:mm:ss[[.][SSSSSS][SSS]]]")

_ID_DEFAULT = ids.PACKAGE + ".BsonOidStrategy"
_MODEL_DEFAULT = writemodels.PACKAGE + ".DefaultWriteModelStrategy"
_DELETE_DEFAULT = writemodels.PACKAGE + ".DeleteOneDefaultStrategy"
_MAPPER_DEFAULT = namespace.PACKAGE + ".DefaultNamespaceMapper"
_CHAIN_DEFAULT = postprocess.PACKAGE + ".DocumentIdAdder"

CONNECTION_DEF = ConfigDef([
    ConfigKey("connection.uri", "password", DEFAULT_URI, group="Connection",
              doc="The MongoDB connection string (hosts, credentials, TLS and driver options); "
                  "never printed."),
    ConfigKey("server.api.version", "string", "", choices=("", "1"), group="Connection",
              doc="The Stable API version to declare (empty: none)."),
    ConfigKey("server.api.deprecation.errors", "boolean", False, group="Connection",
              doc="With server.api.version: fail on deprecated commands."),
    ConfigKey("server.api.strict", "boolean", False, group="Connection",
              doc="With server.api.version: fail on commands outside the Stable API."),
    ConfigKey("flush.size", "int", 10000, min=1, group="Writes",
              doc="Offsets of one partition per bundle: the records one put() of a Kafka Connect task "
                  "would get (max.batch.size splits a bundle's bulk writes further)."),
    ConfigKey("mongo.errors.tolerance", "string", None, choices=("none", "data", "all"),
              group="Errors",
              doc="For the records this sink cannot write (instead of errors.tolerance): none stops "
                  "the run; data and all skip or dead-letter them."),
    ConfigKey("mongo.errors.log.enable", "boolean", None, group="Errors",
              doc="For the records this sink cannot write (instead of errors.log.enable)."),
    # Keys of the official connector refused when set (see REFUSED).
    ConfigKey("connection.ssl.truststore", "string", "", group="Refused"),
    ConfigKey("connection.ssl.truststorePassword", "password", "", group="Refused"),
    ConfigKey("connection.ssl.keystore", "string", "", group="Refused"),
    ConfigKey("connection.ssl.keystorePassword", "password", "", group="Refused"),
    ConfigKey("mongo.custom.auth.mechanism.enable", "boolean", False, group="Refused"),
    ConfigKey("mongo.custom.auth.mechanism.providerClass", "string", "", group="Refused"),
    ConfigKey("csfle.enabled", "boolean", False, group="Refused"),
    ConfigKey("csfle.key.vault.namespace", "string", "", group="Refused"),
    ConfigKey("csfle.local.master.key", "password", "", group="Refused"),
    ConfigKey("csfle.schema.map", "string", "", group="Refused"),
    ConfigKey("csfle.bypass.query.analysis", "boolean", True, group="Refused"),
])

_PROJECTION = ("none", "AllowList", "BlockList", "WhiteList", "BlackList")

TOPIC_DEF = ConfigDef([
    ConfigKey("database", "string", NO_DEFAULT, group="Namespace",
              doc="The database to write to."),
    ConfigKey("collection", "string", "", group="Namespace",
              doc="The collection to write to; empty: the record's topic."),
    ConfigKey("namespace.mapper", "string", _MAPPER_DEFAULT, group="Namespace",
              doc="DefaultNamespaceMapper or FieldPathNamespaceMapper."),
    ConfigKey("namespace.mapper.key.database.field", "string", "", group="Namespace",
              doc="FieldPathNamespaceMapper: the key field naming the database."),
    ConfigKey("namespace.mapper.key.collection.field", "string", "", group="Namespace",
              doc="FieldPathNamespaceMapper: the key field naming the collection."),
    ConfigKey("namespace.mapper.value.database.field", "string", "", group="Namespace",
              doc="FieldPathNamespaceMapper: the value field naming the database."),
    ConfigKey("namespace.mapper.value.collection.field", "string", "", group="Namespace",
              doc="FieldPathNamespaceMapper: the value field naming the collection."),
    ConfigKey("namespace.mapper.error.if.invalid", "boolean", False, group="Namespace",
              doc="FieldPathNamespaceMapper: reject a record whose field is missing or not a string "
                  "(else the default names are used)."),
    ConfigKey("document.id.strategy", "string", _ID_DEFAULT, group="Id strategy",
              doc="How _id is made: BsonOid, Uuid, KafkaMetaData, FullKey, PartialKey, PartialValue, "
                  "ProvidedInKey, ProvidedInValue, UuidProvidedInKey, UuidProvidedInValue."),
    ConfigKey("document.id.strategy.overwrite.existing", "boolean", False, group="Id strategy",
              doc="Replace an _id the value document already has."),
    ConfigKey("document.id.strategy.uuid.format", "string", "string", choices=("string", "binary"),
              group="Id strategy", doc="Uuid: the id as a string or a binary UUID."),
    ConfigKey("document.id.strategy.partial.key.projection.type", "string", "",
              group="Id strategy", doc="PartialKey: AllowList or BlockList (else key.projection.type)."),
    ConfigKey("document.id.strategy.partial.key.projection.list", "string", "",
              group="Id strategy", doc="PartialKey: the key fields (else key.projection.list)."),
    ConfigKey("document.id.strategy.partial.value.projection.type", "string", "",
              group="Id strategy",
              doc="PartialValue: AllowList or BlockList (else value.projection.type)."),
    ConfigKey("document.id.strategy.partial.value.projection.list", "string", "",
              group="Id strategy", doc="PartialValue: the value fields (else value.projection.list)."),
    ConfigKey("writemodel.strategy", "string", _MODEL_DEFAULT, group="Writes",
              doc="DefaultWriteModel, ReplaceOneDefault, InsertOne, UpdateOneDefault, "
                  "UpdateOneTimestamps, ReplaceOneBusinessKey, UpdateOneBusinessKeyTimestamp or "
                  "DeleteOneDefault."),
    ConfigKey("delete.on.null.values", "boolean", False, group="Writes",
              doc="Delete the document a tombstone's key names (needs a key-based id strategy)."),
    ConfigKey("delete.writemodel.strategy", "string", _DELETE_DEFAULT, group="Writes",
              doc="How tombstones delete: DeleteOneDefault."),
    ConfigKey("max.batch.size", "int", 0, min=0, group="Writes",
              doc="Documents per bulk write at most (0: a bundle's documents of one collection)."),
    ConfigKey("bulk.write.ordered", "boolean", True, group="Writes",
              doc="Ordered bulk writes (in record order, stopping at a failing document, which is set "
                  "aside and the rest written after it) or unordered."),
    ConfigKey("rate.limiting.every.n", "int", 0, min=0, group="Writes",
              doc="Pause after this many bulk writes of a topic (0: never)."),
    ConfigKey("rate.limiting.timeout", "int", 0, min=0, group="Writes",
              doc="How long (ms) that pause lasts."),
    ConfigKey("offsets.field", "string", DEFAULT_OFFSETS_FIELD, regex=r"|[^$.\x00][^.\x00]*",
              group="Writes",
              doc="The field keeping each document's source topic, partition and offset, so that a "
                  "document is replaced, updated or deleted only by a record not older than the one "
                  "it holds; empty: no field, unconditional writes."),
    ConfigKey("post.processor.chain", "list", (_CHAIN_DEFAULT,), group="Post processing",
              doc="Post processors applied in order (DocumentIdAdder first if not listed)."),
    ConfigKey("key.projection.type", "string", "none", choices=_PROJECTION, group="Post processing",
              doc="The key projectors' kind: AllowList or BlockList."),
    ConfigKey("key.projection.list", "string", "", group="Post processing",
              doc="The key fields they keep or drop (comma-separated, dotted paths, * and **)."),
    ConfigKey("value.projection.type", "string", "none", choices=_PROJECTION,
              group="Post processing", doc="The value projectors' kind: AllowList or BlockList."),
    ConfigKey("value.projection.list", "string", "", group="Post processing",
              doc="The value fields they keep or drop."),
    ConfigKey("field.renamer.mapping", "string", "[]", group="Post processing",
              doc='RenameByMapping: [{"oldName": "value.a", "newName": "b"}, ...].'),
    ConfigKey("field.renamer.regexp", "string", "[]", group="Post processing",
              doc='RenameByRegExp: [{"regexp": "^value\\\\..*", "pattern": "x", "replace": "y"}, '
                  '...].'),
    ConfigKey("timeseries.timefield", "string", "", group="Time series",
              doc="Write to a time series collection with this time field (created if missing)."),
    ConfigKey("timeseries.metafield", "string", "", group="Time series",
              doc="Its meta field."),
    ConfigKey("timeseries.expire.after.seconds", "int", 0, min=0, group="Time series",
              doc="Its documents' lifetime (0: forever)."),
    ConfigKey("timeseries.granularity", "string", "", choices=("", "seconds", "minutes", "hours"),
              group="Time series", doc="Its granularity."),
    ConfigKey("timeseries.timefield.auto.convert", "boolean", False, group="Time series",
              doc="Convert the time field to a date: numbers as epoch ms, strings as ISO dates."),
    ConfigKey("timeseries.timefield.auto.convert.date.format", "string", DATE_FORMAT_DEFAULT,
              group="Time series", doc="Only the default (ISO dates) is supported."),
    ConfigKey("timeseries.timefield.auto.convert.locale.language.tag", "string", "",
              group="Time series", doc="Only the default (none) is supported."),
    ConfigKey("change.data.capture.handler", "string", "", group="Refused"),
    ConfigKey("change.data.capture.handler.remove.null.values", "boolean", False, group="Refused"),
    ConfigKey("field.value.transformer", "string", "", group="Refused"),
    ConfigKey("field.value.transformer.fields", "string", "", group="Refused"),
])

CONFIG_DEF = CONNECTION_DEF + TOPIC_DEF

#: Keys refused when set to anything but their default, with the reason.
REFUSED = {
    "connection.ssl.truststore": "Java key stores are not read here: give the TLS options in "
                                 "connection.uri (tls=true&tlsCAFile=...&tlsCertificateKeyFile=...)",
    "connection.ssl.truststorePassword": "Java key stores are not read here: see connection.uri's "
                                         "tlsCertificateKeyFilePassword",
    "connection.ssl.keystore": "Java key stores are not read here: give the TLS options in "
                               "connection.uri",
    "connection.ssl.keystorePassword": "Java key stores are not read here",
    "mongo.custom.auth.mechanism.enable": "custom credential providers are Java classes; give the "
                                          "credentials and authMechanism in connection.uri",
    "mongo.custom.auth.mechanism.providerClass": "custom credential providers are Java classes",
    "csfle.enabled": "client-side field level encryption is not supported",
    "csfle.key.vault.namespace": "client-side field level encryption is not supported",
    "csfle.local.master.key": "client-side field level encryption is not supported",
    "csfle.schema.map": "client-side field level encryption is not supported",
    "csfle.bypass.query.analysis": "client-side field level encryption is not supported",
    "change.data.capture.handler": "change data capture handlers are not supported yet: unwrap "
                                   "change events with a transform (ExtractNewRecordState) instead",
    "field.value.transformer": "field value transformers are Java classes",
    "field.value.transformer.fields": "field value transformers are Java classes",
    "timeseries.timefield.auto.convert.date.format": "Java DateTimeFormatter patterns are not "
                                                     "supported: strings are read as ISO dates",
    "timeseries.timefield.auto.convert.locale.language.tag": "Java locales are not supported",
}

#: Keys of older versions of the official connector, accepted with a warning.
IGNORED_KEYS = {
    "max.num.retries": "writes are retried per errors.retry.timeout and the driver's "
                       "serverSelectionTimeoutMS",
    "retries.defer.timeout": "writes are retried per errors.retry.timeout",
}

_NOT_PER_TOPIC = {"connection.uri", "topics", "topics.regex", "flush.size", "mongo.errors.tolerance",
                  "mongo.errors.log.enable", "errors.tolerance", "errors.log.enable"}


@dataclasses.dataclass(frozen=True)
class Timeseries:
    """``timeseries.*`` of a topic: the collection is a time series collection."""

    time_field: str
    meta_field: str = ""
    expire_after_seconds: int = 0
    granularity: str = ""
    auto_convert: bool = False


@dataclasses.dataclass(frozen=True)
class TopicConfig:
    """How one topic's records are written (the base settings, or a topic's with its overrides).

    Attributes:
      label: ``""`` for the base settings, else the topic whose overrides these are.
      namespace: The :class:`~sinks.mongodb.namespace.NamespaceMapper`.
      id_strategy: The :class:`~sinks.mongodb.ids.IdStrategy`.
      post_processors: The chain, ``DocumentIdAdder`` included.
      write_model: The :class:`~sinks.mongodb.writemodels.WriteModelStrategy` of records with values.
      delete_model: Of tombstones (``delete.on.null.values``), or None.
      max_batch_size: ``max.batch.size`` (0: no limit).
      ordered: ``bulk.write.ordered``.
      rate_every_n: ``rate.limiting.every.n``.
      rate_timeout_ms: ``rate.limiting.timeout``.
      offsets_field: ``offsets.field`` (empty: unconditional writes).
      timeseries: The time series settings, or None.
    """

    label: str
    namespace: Any
    id_strategy: Any
    post_processors: tuple
    write_model: Any
    delete_model: Any
    max_batch_size: int
    ordered: bool
    rate_every_n: int
    rate_timeout_ms: int
    offsets_field: str
    timeseries: Optional[Timeseries] = None

    @classmethod
    def from_values(cls, values: Mapping[str, Any], label: str = "") -> "TopicConfig":
        """Builds a topic's settings from :data:`TOPIC_DEF`'s parsed values.

        Raises:
          ConfigError: a strategy is unknown, or the settings conflict.
        """
        if not values["database"].strip():
            raise ConfigError("database must not be empty, got %r" % values["database"])
        for key, why in REFUSED.items():
            if key in TOPIC_DEF and values[key] != TOPIC_DEF[key].default:
                raise ConfigError("%s is not supported: %s, got %r" % (key, why, values[key]))
        mapper = namespace.make_namespace_mapper(
            _class_name("namespace.mapper", values["namespace.mapper"], namespace.NAMESPACE_MAPPERS,
                        namespace.PACKAGE), values)
        id_strategy = _id_strategy(values)
        chain = postprocess.make_chain(
            [postprocess.post_processor_name(n) for n in values["post.processor.chain"]], values,
            postprocess.DocumentIdAdder(id_strategy, values["document.id.strategy.overwrite.existing"]))
        series = _timeseries(values)
        model = writemodels.make_write_model(
            _class_name("writemodel.strategy", values["writemodel.strategy"], writemodels.WRITE_MODELS,
                        writemodels.PACKAGE), id_strategy.partial, series is not None)
        delete_model = None
        if values["delete.on.null.values"]:
            _class_name("delete.writemodel.strategy", values["delete.writemodel.strategy"],
                        writemodels.DELETE_MODELS, writemodels.PACKAGE)
            if not id_strategy.key_based:
                raise ConfigError(
                    "delete.on.null.values=true needs an id strategy made of the key "
                    "(FullKeyStrategy, PartialKeyStrategy or ProvidedInKeyStrategy) to find the "
                    "document a tombstone deletes, got document.id.strategy=%r"
                    % values["document.id.strategy"])
            delete_model = writemodels.DeleteOneDefault(id_strategy)
        return cls(label=label, namespace=mapper, id_strategy=id_strategy, post_processors=chain,
                   write_model=model, delete_model=delete_model,
                   max_batch_size=values["max.batch.size"], ordered=values["bulk.write.ordered"],
                   rate_every_n=values["rate.limiting.every.n"],
                   rate_timeout_ms=values["rate.limiting.timeout"],
                   offsets_field=values["offsets.field"], timeseries=series)


@dataclasses.dataclass(frozen=True)
class MongoSinkConfig:
    """The MongoDB sink's parsed config.

    Attributes:
      connection_uri: ``connection.uri`` (a :class:`~common.configdef.Password`: hidden in ``repr``).
      hosts: The servers it names, for messages (never with credentials).
      server_api: ``(version, strict, deprecation_errors)`` or None.
      flush_size: Offsets per bundle.
      base: The topics' settings without overrides.
      overrides: The settings of each topic that has ``topic.override.<topic>.*`` keys.
      tolerance: ``mongo.errors.tolerance``, or None (the connector's ``errors.tolerance``).
      log_errors: ``mongo.errors.log.enable``, or None (the connector's ``errors.log.enable``).
      topics: The connector's ``topics`` (empty with ``topics.regex``).
    """

    connection_uri: Password = dataclasses.field(repr=False)
    hosts: str
    server_api: Optional[tuple]
    flush_size: int
    base: TopicConfig
    overrides: Mapping[str, TopicConfig] = dataclasses.field(default_factory=dict)
    tolerance: Optional[str] = None
    log_errors: Optional[bool] = None
    topics: tuple = ()

    def topic(self, name: str) -> TopicConfig:
        """The settings records of topic ``name`` (after the transforms) are written with."""
        return self.overrides.get(name, self.base)

    def client(self, **options):
        """A new ``pymongo.MongoClient`` (it connects on first use)."""
        import pymongo

        if self.server_api is not None:
            from pymongo.server_api import ServerApi

            version, strict, deprecation = self.server_api
            options["server_api"] = ServerApi(version, strict=strict, deprecation_errors=deprecation)
        return pymongo.MongoClient(str.__str__(self.connection_uri), appname="beamconnect",
                                   connect=False, **options)

    def scrub(self, text: str) -> str:
        """``text`` without the connection string or its password."""
        uri = str.__str__(self.connection_uri)
        for secret in (uri, _password_of(uri, escaped=True), _password_of(uri)):
            if secret:
                text = text.replace(secret, "[hidden]")
        return text

    @classmethod
    def from_values(cls, values: Mapping[str, Any], connector: ConnectorContext) -> "MongoSinkConfig":
        """Builds the config from :data:`CONFIG_DEF`'s parsed values and the connector's settings
        (its topics, transforms and ``topic.override.*`` keys).

        Raises:
          ConfigError: naming the key at fault.
        """
        for key, why in REFUSED.items():
            if key in CONNECTION_DEF and values[key] != CONNECTION_DEF[key].default:
                shown = "[hidden]" if CONNECTION_DEF[key].type == "password" else values[key]
                raise ConfigError("%s is not supported: %s, got %r" % (key, why, shown))
        uri = values["connection.uri"]
        hosts = _check_uri(uri)
        base_values = {k.name: values[k.name] for k in TOPIC_DEF}
        base = TopicConfig.from_values(base_values)
        by_topic = {}
        for topic, keys in _overrides(connector).items():
            try:
                by_topic[topic] = TopicConfig.from_values({**base_values, **keys}, topic)
            except ConfigError as exc:
                raise ConfigError("%s (for topic %r with its %s%s.* keys)"
                                  % (exc, topic, OVERRIDE_PREFIX, topic)) from None
        version = values["server.api.version"]
        config = cls(connection_uri=uri, hosts=hosts,
                     server_api=(version, values["server.api.strict"],
                                 values["server.api.deprecation.errors"]) if version else None,
                     flush_size=values["flush.size"], base=base, overrides=by_topic,
                     tolerance=values["mongo.errors.tolerance"],
                     log_errors=values["mongo.errors.log.enable"], topics=tuple(connector.topics))
        _warn_replays(config)
        return config


def _warn_replays(config: MongoSinkConfig) -> None:
    unsafe: dict = {}
    for topic_config in (config.base, *config.overrides.values()):
        strategy = topic_config.id_strategy
        if not strategy.replay_safe and topic_config.write_model.name != "DeleteOneDefaultStrategy":
            unsafe.setdefault(strategy.name, []).append(topic_config.label)
    for name, labels in unsafe.items():
        topics = [label for label in labels if label]
        _LOGGER.warning(
            "document.id.strategy=%s%s makes a new _id for every write: records read again (a rerun "
            "after a failure, --from earliest) are written again as new documents; "
            "KafkaMetaDataStrategy, FullKeyStrategy, PartialKeyStrategy, PartialValueStrategy or "
            "ProvidedIn*Strategy write each record to the same document every time", name,
            " (topics %s)" % ", ".join(topics) if topics and "" not in labels else "")


def _class_name(key: str, value: str, names, package: str) -> str:
    """The simple class name ``value`` stands for: a full name in ``package``, a simple name, or one
    without ``Strategy`` (``InsertOne`` for ``InsertOneDefaultStrategy``); case does not matter.

    Raises:
      ConfigError: it stands for none of ``names``.
    """
    text = value.strip()
    prefix, _, simple = text.rpartition(".")
    lowered = {n.lower(): n for n in names}
    if prefix in ("", package):
        for candidate in (simple, simple + "Strategy", simple + "DefaultStrategy"):
            if candidate.lower() in lowered:
                return lowered[candidate.lower()]
    raise ConfigError("%s must be one of %s (or the full class name in %s), got %r"
                      % (key, ", ".join(names), package, value))


def _projection(values: Mapping[str, Any], side: str, strategy: str):
    own = "document.id.strategy.partial.%s.projection." % side
    kind = values[own + "type"] or values["%s.projection.type" % side]
    fields = values[own + "list"] or values["%s.projection.list" % side]
    if kind.lower() not in ("allowlist", "blocklist", "whitelist", "blacklist"):
        raise ConfigError("document.id.strategy=%s needs %stype (or %s.projection.type) to be "
                          "AllowList or BlockList, got %r" % (strategy, own, side, kind))
    return postprocess.Projection(kind, fields)


def _id_strategy(values: Mapping[str, Any]):
    name = _class_name("document.id.strategy", values["document.id.strategy"], ids.ID_STRATEGIES,
                       ids.PACKAGE)
    projection = None
    if name == "PartialKeyStrategy":
        projection = _projection(values, "key", name)
    elif name == "PartialValueStrategy":
        projection = _projection(values, "value", name)
    return ids.make_id_strategy(name, values["document.id.strategy.uuid.format"] == "binary",
                                projection)


def _timeseries(values: Mapping[str, Any]) -> Optional[Timeseries]:
    field = values["timeseries.timefield"].strip()
    if not field:
        return None
    meta = values["timeseries.metafield"].strip()
    if meta in (field, postprocess.ID):
        raise ConfigError("timeseries.metafield must differ from the time field and _id, got %r"
                          % meta)
    return Timeseries(field, meta, values["timeseries.expire.after.seconds"],
                      values["timeseries.granularity"], values["timeseries.timefield.auto.convert"])


def _overrides(connector: ConnectorContext) -> dict:
    """``topic -> {key: parsed value}`` of the ``topic.override.<topic>.<key>`` keys.

    Raises:
      ConfigError: an override names a key that is not a topic key, or (without transforms, which
        may rename topics) a topic the connector does not read.
    """
    found: dict = {}
    named = sorted(connector.topics, key=len, reverse=True)
    for full, raw in sorted(connector.sink_keys.items()):
        if not full.startswith(OVERRIDE_PREFIX):
            continue
        rest = full[len(OVERRIDE_PREFIX):]
        topic = next((t for t in named if rest.startswith(t + ".")), None)
        if topic is None:
            topic = rest.split(".", 1)[0]
        key = rest[len(topic) + 1:]
        if not topic or not key:
            raise ConfigError("%s must be %s<topic>.<key>, got %r" % (full, OVERRIDE_PREFIX, full))
        if key in _NOT_PER_TOPIC or key in CONNECTION_DEF:
            raise ConfigError("%s: %s applies to the whole connector and cannot be set per topic"
                              % (full, key))
        if key not in TOPIC_DEF:
            raise ConfigError("%s: unknown key %r; a topic override sets one of %s"
                              % (full, key, ", ".join(k.name for k in TOPIC_DEF
                                                      if k.group != "Refused")))
        reads = topic in connector.topics or bool(
            connector.topics_regex and re.fullmatch(connector.topics_regex, topic))
        if not reads and not connector.transforms:
            raise ConfigError("%s names topic %r, which the connector does not read (%s)"
                              % (full, topic, "topics=%s" % ",".join(connector.topics)
                                 if connector.topics else "topics.regex=%s" % connector.topics_regex))
        found.setdefault(topic, {})[key] = TOPIC_DEF[key].convert(raw, name=full)
    return found


def _check_uri(uri: str) -> str:
    """The hosts ``uri`` names (``host:port,...``).

    Raises:
      ConfigError: it is not a MongoDB connection string (the message never shows it).
    """
    text = str.__str__(uri)
    if not text.startswith(("mongodb://", "mongodb+srv://")):
        raise ConfigError("connection.uri must be a MongoDB connection string "
                          "(mongodb://... or mongodb+srv://...), got %r" % Password(text))
    if text.startswith("mongodb+srv://"):
        return text[len("mongodb+srv://"):].split("/", 1)[0].rsplit("@", 1)[-1]
    from pymongo.errors import ConfigurationError, InvalidURI
    from pymongo.uri_parser import parse_uri

    try:
        parsed = parse_uri(text, warn=False)
    except (InvalidURI, ConfigurationError, ValueError) as exc:
        message = str(exc).replace(text, "[hidden]")
        password = _password_of(text)
        if password:
            message = message.replace(password, "[hidden]")
        raise ConfigError("connection.uri is not a valid MongoDB connection string: %s"
                          % message) from None
    return ",".join("%s:%d" % node for node in parsed["nodelist"])


def _password_of(uri: str, escaped: bool = False) -> Optional[str]:
    """The password in ``uri``'s user info (as written with ``escaped``, else unescaped), or None."""
    match = re.match(r"mongodb(?:\+srv)?://([^@/]*)@", uri)
    if match and ":" in match.group(1):
        from urllib.parse import unquote

        written = match.group(1).split(":", 1)[1]
        return (written if escaped else unquote(written)) or None
    return None
