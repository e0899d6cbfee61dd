"""The connector config: Kafka Connect's keys, parsed and checked before anything runs."""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any, Mapping, Optional

from confluent_kafka import Consumer, KafkaException

from pipelines.config.consumer import translate
from pipelines.config.providers import resolve_config_providers
from common.configdef import NO_DEFAULT, ConfigDef, ConfigKey, check_unknown
from common import secrets
from common.errors import ConfigError, Problems
from pipelines.config.deadletters import dead_letter_writer, error_policy, producer_settings
from sinks import SINKS, find_sink
from sinks.base import ConnectorContext
from transforms.converters import Converter, make_converter
from transforms.errors import TOLERANCES, DeadLetterWriter, ErrorPolicy
from transforms.smt import TransformChain, parse_chain

_LOGGER = logging.getLogger(__name__)

JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"

COMMON = ConfigDef([
    ConfigKey("name", "string", NO_DEFAULT, regex=r"[A-Za-z0-9._\-]+", group="Connector",
              doc="Connector name; the consumer group is connect-<name>."),
    ConfigKey("connector.class", "class", NO_DEFAULT, group="Connector",
              doc="Sink family: files (or Confluent's S3/GCS sink class names)."),
    ConfigKey("topics", "list", (), group="Connector", doc="Topics to read (or topics.regex)."),
    ConfigKey("topics.regex", "string", None, group="Connector",
              doc="A regular expression; every topic whose whole name matches is read."),
    ConfigKey("tasks.max", "int", 1, min=1, group="Connector",
              doc="Up to this many tasks share the topic-partitions: worker processes on the local "
                  "runner and on Dask, --parallelism on Flink, --max_num_workers on Dataflow."),
    ConfigKey("key.converter", "class", JSON_CONVERTER, group="Converters",
              doc="Converter of record keys (default as Apache Kafka's connect-distributed.properties)."),
    ConfigKey("value.converter", "class", JSON_CONVERTER, group="Converters",
              doc="Converter of record values."),
    ConfigKey("transforms", "list", (), group="Transforms",
              doc="Aliases of single-message transforms, applied in order (transforms.<alias>.type=...)."),
    ConfigKey("predicates", "list", (), group="Transforms",
              doc="Names of predicates that transforms.<alias>.predicate may name."),
    ConfigKey("errors.tolerance", "string", "none", choices=TOLERANCES, group="Errors",
              doc="none: the first failed record stops the run with nothing committed; all: failed "
                  "records are skipped (and dead-lettered when a dead-letter path is set)."),
    ConfigKey("errors.retry.timeout", "int", 0, min=-1, group="Errors",
              doc="How long (ms) retriable failures are retried; 0 never, -1 without end."),
    ConfigKey("errors.retry.delay.max.ms", "int", 60000, min=1, group="Errors",
              doc="The longest wait (ms) between two retries of a retriable failure."),
    ConfigKey("errors.log.enable", "boolean", False, group="Errors",
              doc="Log each failed record with its coordinates, stage and cause."),
    ConfigKey("errors.log.include.messages", "boolean", False, group="Errors",
              doc="Also log a failed record's key, value and headers."),
    ConfigKey("errors.deadletterqueue.topic.name", "string", "", group="Errors",
              doc="A topic that failed records are written to (errors.tolerance=all)."),
    ConfigKey("errors.deadletterqueue.topic.replication.factor", "int", 3, min=-1, group="Errors",
              doc="Replication factor of the dead-letter topic when it is created (-1: the broker's)."),
    ConfigKey("errors.deadletterqueue.context.headers.enable", "boolean", False, group="Errors",
              doc="Add the __connect.errors.* headers (topic, partition, offset, stage, exception...) "
                  "to dead letters."),
    ConfigKey("errors.deadletterqueue.store.url", "string", None, group="Errors",
              doc="A store (directory, s3://, gs://) that failed records are written to as JSON lines, "
                  "instead of a topic."),
    ConfigKey("bootstrap.servers", "string", None, group="Kafka",
              doc="Kafka brokers (may also be given with --bootstrap-servers)."),
    ConfigKey("metrics.port", "int", None, min=0, max=65535, group="Monitoring",
              doc="Serve Prometheus metrics (/metrics) and a status page (/) on this port while a "
                  "run works (0: a free port); --metrics-port wins."),
    ConfigKey("metrics.address", "string", "0.0.0.0", group="Monitoring",
              doc="The address the metrics port binds."),
])

PASSTHROUGH_PREFIXES = ("key.converter.", "value.converter.", "consumer.override.",
                        "producer.override.", "transforms.", "predicates.")

# Valid in Kafka Connect, no effect here: accepted with one warning each.
IGNORED = {
    "header.converter": "headers are kept as raw bytes",
    "config.action.reload": "a run reads its config once",
}

# Valid in Kafka Connect, not available yet: an error, never silently dropped.
NOT_YET: dict = {}


@dataclasses.dataclass(frozen=True)
class ConnectorConfig:
    """A validated connector config.

    Attributes:
      name: Connector name.
      connector_class: The ``connector.class`` as written.
      sink: The sink family (see :mod:`sinks`).
      sink_config: The sink's parsed config.
      topics: Named topics.
      topics_regex: Topic pattern, or None.
      key_converter: Configured key converter.
      value_converter: Configured value converter.
      consumer_config: librdkafka settings: bootstrap.servers, group.id and consumer.override.*.
      auto_offset_reset: Where a partition with no committed offset starts.
      transforms: The single-message transform chain (empty without ``transforms``).
      errors: The ``errors.*`` policy.
      dead_letters: Where failed records go (a topic or a store), or None.
      warnings: One line per accepted key that has no effect here.
      metrics_port: ``metrics.port``: where to serve metrics and the status page, or None.
      metrics_address: ``metrics.address``.
      tasks_max: ``tasks.max``: how many tasks share the topic-partitions (:mod:`pipelines.runners`).
    """

    name: str
    connector_class: str
    sink: Any
    sink_config: Any
    topics: tuple
    topics_regex: Optional[str]
    key_converter: Converter
    value_converter: Converter
    consumer_config: Mapping[str, str]
    auto_offset_reset: str
    transforms: TransformChain = TransformChain()
    errors: ErrorPolicy = ErrorPolicy()
    dead_letters: Optional[DeadLetterWriter] = None
    warnings: tuple = ()
    metrics_port: Optional[int] = None
    metrics_address: str = "0.0.0.0"
    tasks_max: int = 1

    @property
    def key_converter_class(self) -> str:
        """Kafka's class name of the key converter (as dead letters name it)."""
        return self.key_converter.java_class or type(self.key_converter).__name__

    @property
    def value_converter_class(self) -> str:
        return self.value_converter.java_class or type(self.value_converter).__name__

    @property
    def group_id(self) -> str:
        return self.consumer_config["group.id"]


NO_BROKERS = "no-brokers-given.invalid:9092"
"""What ``bootstrap.servers`` holds in a config parsed without brokers (a name that never resolves)."""


def parse_connector_config(raw: Mapping[str, str], *, bootstrap_servers: Optional[str] = None,
                           brokers_required: bool = True) -> ConnectorConfig:
    """Validates a raw (string to string) connector config.

    Args:
      raw: Keys and values as written in a properties or JSON config.
      bootstrap_servers: From the command line; wins over the config's ``bootstrap.servers``.
      brokers_required: False for what never connects (``validate``): without brokers, the consumer
        settings are checked with :data:`NO_BROKERS` in their place, and that is what they hold.

    Raises:
      ConfigError: naming the key, the value and what is allowed.
    """
    raw, resolved = resolve_config_providers(raw)
    secrets.register(resolved)
    # Every check that does not need an earlier one's result runs, so that one run lists every
    # problem; a check whose input is already known to be bad is left out rather than reported twice.
    problems = Problems()
    for key, why in NOT_YET.items():
        if key in raw and raw[key].strip():
            problems.add(ConfigError("%s=%r: %s" % (key, raw[key], why)))
    sink = None
    if "connector.class" not in raw:
        problems.add(ConfigError("connector.class is required; one of %s"
                                 % ", ".join(map(repr, SINKS))))
    else:
        with problems.check():
            sink = find_sink(raw["connector.class"].strip())
    if sink is not None:
        check_unknown(raw, [*COMMON.names(), *sink.config_def.names(), *IGNORED, *sink.ignored_keys,
                            *NOT_YET],
                      passthrough_prefixes=PASSTHROUGH_PREFIXES + tuple(sink.key_prefixes),
                      problems=problems)
        secrets.register(v for k, v in raw.items() if _is_secret_key(k, sink))
    else:
        secrets.register(v for k, v in raw.items() if _SECRET_KEY.search(k))
    common = COMMON.parse(raw, problems=problems)
    topics, regex = common["topics"] or [], common["topics.regex"]
    if bool(topics) == bool(regex):
        problems.add(ConfigError("exactly one of topics and topics.regex must be set, got topics=%r "
                                 "and topics.regex=%r" % (raw.get("topics"), raw.get("topics.regex"))))
    if regex:
        try:
            re.compile(regex)
        except re.error as exc:
            problems.add(ConfigError("topics.regex must be a regular expression, got %r: %s"
                                     % (regex, exc)))
    warnings = tuple("%s is accepted but has no effect here: %s" % (k, why)
                     for k, why in {**IGNORED, **(sink.ignored_keys if sink else {})}.items()
                     if k in raw)
    consumer = reset = policy = producer = dead_letters = transforms = None
    consumer_warnings = producer_warnings = ()
    with problems.check():
        consumer, reset, consumer_warnings = _consumer_config(raw, common, bootstrap_servers,
                                                             brokers_required)
    with problems.check():
        policy = error_policy(common)
    with problems.check():
        producer, producer_warnings = producer_settings(raw)
    if consumer is not None and producer is not None:
        with problems.check():
            dead_letters = dead_letter_writer(common, consumer, producer)
    with problems.check():
        transforms = parse_chain(raw)
    converters = {}
    for side in ("key", "value"):
        with problems.check():
            converters[side] = make_converter("%s.converter" % side, common["%s.converter" % side],
                                              _sub_keys(raw, "%s.converter." % side))
    sink_config = None
    if sink is not None:
        sink_values = sink.config_def.parse(raw, problems=problems)
        if not problems.messages:  # a sink's cross-key checks need every key and the context
            context = ConnectorContext(
                name=common["name"], topics=tuple(topics), topics_regex=regex,
                consumer_config=consumer, producer_settings=producer,
                transforms=tuple((s.transformation.alias, s.transformation.type_name)
                                 for s in transforms.steps),
                sink_keys={k: v for k, v in raw.items()
                           if sink.key_prefixes and k.startswith(tuple(sink.key_prefixes))})
            with problems.check():
                sink_config = sink.configure(sink_values, context)
    problems.raise_if_any()
    return ConnectorConfig(
        name=common["name"],
        connector_class=raw["connector.class"].strip(),
        sink=sink,
        sink_config=sink_config,
        topics=tuple(topics),
        topics_regex=regex,
        key_converter=converters["key"],
        value_converter=converters["value"],
        consumer_config=consumer,
        auto_offset_reset=reset,
        transforms=transforms,
        errors=policy,
        dead_letters=dead_letters,
        warnings=warnings + tuple(consumer_warnings) + tuple(producer_warnings),
        metrics_port=common["metrics.port"],
        metrics_address=common["metrics.address"],
        tasks_max=common["tasks.max"],
    )


# Keys that hold secrets without a ConfigDef type saying so: librdkafka's and the Java clients'
# passwords under consumer.override.* / producer.override.*, SASL JAAS configs, tokens.
_SECRET_KEY = re.compile(r"(password|secret|sasl\.jaas\.config|user\.info|token)$|\.key\.pem$",
                         re.IGNORECASE)


def _is_secret_key(key: str, sink) -> bool:
    """Whether ``key``'s value is a secret: a ``password`` key of the connector, its sink or a
    converter, or a key named like one."""
    if _SECRET_KEY.search(key):
        return True
    for definition in (COMMON, sink.config_def):
        if key in definition and definition[key].type == "password":
            return True
    return False


def _sub_keys(raw: Mapping[str, str], prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in raw.items() if k.startswith(prefix)}


def _consumer_config(raw, common, bootstrap_servers, brokers_required: bool = True) -> tuple:
    """(librdkafka settings, auto.offset.reset, warnings); the planner applies the reset itself."""
    overrides, warnings = translate(
        {k: v.strip() for k, v in _sub_keys(raw, "consumer.override.").items()})
    servers = bootstrap_servers or overrides.pop("bootstrap.servers", None) or common["bootstrap.servers"]
    if not servers and not brokers_required:
        servers = NO_BROKERS
    if not servers:
        raise ConfigError("bootstrap.servers is required: set it in the config or pass "
                          "--bootstrap-servers HOST:PORT")
    reset = overrides.pop("auto.offset.reset", "earliest").lower()
    if reset not in ("earliest", "latest", "none"):
        raise ConfigError("consumer.override.auto.offset.reset must be one of 'earliest', 'latest', "
                          "'none', got %r" % raw["consumer.override.auto.offset.reset"])
    for key in ("enable.auto.commit", "enable.auto.offset.store"):
        if overrides.get(key, "false").lower() != "false":
            raise ConfigError("consumer.override.%s must be false: offsets are committed only after the "
                              "sink has written, got %r" % (key, overrides[key]))
    if "group.id" in overrides and not overrides["group.id"]:
        raise ConfigError("consumer.override.group.id must not be empty, got ''")
    config = {"group.id": "connect-%s" % common["name"], **overrides,
              "bootstrap.servers": servers}
    try:  # librdkafka checks every property name and value; quiet, as it may start connecting
        Consumer({**config, "log_level": 0}).close()
    except (KafkaException, ValueError, TypeError) as exc:
        raise _consumer_error(exc, overrides) from None
    return config, reset, warnings


def _consumer_error(exc: Exception, overrides: Mapping[str, str]) -> ConfigError:
    """Names the offending key and value in librdkafka's complaint about a consumer setting."""
    message = exc.args[0].str() if hasattr(exc.args[0], "str") else str(exc.args[0])
    match = re.search(r'(?:property|for) "([^"]+)"|property: "?([\w.]+)', message)
    name = next((g for g in match.groups() if g), None) if match else None
    if name in overrides:
        return ConfigError("consumer.override.%s=%r is invalid: %s" % (name, overrides[name], message))
    if name == "bootstrap.servers":
        return ConfigError("bootstrap.servers is invalid: %s" % message)
    return ConfigError("the consumer settings (consumer.override.*) are invalid: %s" % message)
