"""Config keys of the Kafka sink, and the connector keys it reads to find both clusters.

The sink's own keys are few (``kafka.key.format``, ``kafka.value.format``, ``flush.size`` and the
offsets topic of the cross-cluster case). Where records go is said with the keys Kafka Connect users
already write: the target cluster is the source cluster unless ``producer.override.bootstrap.servers``
names another, and ``producer.override.*`` (Java producer keys, translated as ``consumer.override.*``
are) configure the producer. The sink is handed those, and the connector's name, topics, consumer
settings (with ``--bootstrap-servers`` when given) and transforms, as a
:class:`~sinks.base.ConnectorContext`; parsing never contacts a broker.

``avro``, ``json_sr`` (alias ``jsonschema``) and ``protobuf`` write Confluent's wire format with a
Schema Registry, configured by the converters' registry keys under the format key
(``kafka.value.format.schema.registry.url``...; see :mod:`sinks.kafka.registry`). Those keys are the
sink's :data:`KEY_PREFIXES` rather than entries of :data:`CONFIG_DEF`, so that the ~25 keys of each
part are checked here (an unknown one is refused with the closest known name) without becoming
template parameters.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping, Optional

from common.configdef import ConfigDef, ConfigKey
from common.errors import ConfigError
from sinks.base import ConnectorContext
from sinks.encoding import check_raw_edits
from sinks.kafka.registry import REGISTRY_FORMATS, RegistryOutput, parse_output
from transforms.kafka.planning import admin_config
from transforms.kafka.producer import check_producer_settings, transactional_settings

#: How keys and values are written: the bytes as read, the converted data as a string or JSON, or
#: in Confluent's wire format with a Schema Registry (``jsonschema`` is ``json_sr``).
FORMATS = ("raw", "string", "json", "avro", "json_sr", "jsonschema", "protobuf")
#: Prefixes of the registry keys of each part (``kafka.value.format.schema.registry.url``).
KEY_PREFIXES = ("kafka.key.format.", "kafka.value.format.")

DEFAULT_OFFSETS_TOPIC = "beamconnect-offsets"

# Producer settings the sink sets itself: a transaction per bundle needs them as they are.
_OWN_PRODUCER_KEYS = {
    "transactional.id": "the sink sets one per source topic-partition "
                        "(beamconnect-<name>-<topic>-<partition>)",
    "enable.idempotence": "transactions need an idempotent producer",
    "acks": "transactions need acks=all",
}


# librdkafka producer settings that clients other than a producer do not take.
_PRODUCER_ONLY = re.compile(r"^(acks|request\.required\.acks|enable\.idempotence|linger\.ms|"
                            r"queue\.buffering\.|batch\.|compression\.|delivery\.|message\.timeout|"
                            r"message\.send\.max\.retries|retries|retry\.backoff|transaction|"
                            r"partitioner|max\.in\.flight|sticky\.partitioning)")


CONFIG_DEF = ConfigDef([
    ConfigKey("kafka.value.format", "string", "raw", group="Kafka sink",
              doc="How values are written: raw (the bytes as read), string (the converted value as "
                  "UTF-8 text), json (the converted value as schemaless JSON), avro, json_sr "
                  "(jsonschema) or protobuf in Confluent's wire format with the Schema Registry that "
                  "kafka.value.format.schema.registry.url names."),
    ConfigKey("kafka.key.format", "string", "raw", group="Kafka sink",
              doc="How keys are written: raw, string, json, avro, json_sr or protobuf, as "
                  "kafka.value.format (registry keys under kafka.key.format.)."),
    ConfigKey("flush.size", "int", 1000, min=1, group="Kafka sink",
              doc="Offsets per bundle: each bundle is written in one transaction with its offsets."),
    ConfigKey("kafka.offsets.topic", "string", DEFAULT_OFFSETS_TOPIC, regex=r"[A-Za-z0-9._\-]+",
              group="Kafka sink",
              doc="Writing to another cluster: the compacted topic there that keeps the source "
                  "offsets, in the records' transactions (created if missing)."),
    ConfigKey("kafka.offsets.topic.replication.factor", "int", -1, min=-1, group="Kafka sink",
              doc="Replication factor of the offsets topic when it is created (-1: the broker's)."),
])


@dataclasses.dataclass(frozen=True)
class KafkaSinkConfig:
    """The Kafka sink's parsed config.

    Attributes:
      name: The connector name (in transactional ids and offsets keys).
      group_id: The connector's consumer group, whose offsets the transactions commit.
      flush_size: Offsets per bundle and transaction.
      key_format: One of :data:`FORMATS` (``jsonschema`` given as ``json_sr``).
      value_format: Likewise.
      source_topics: ``topics``: a record routed to one of them on the source cluster is refused.
      source_regex: ``topics.regex``, likewise.
      source_client: librdkafka connection and security settings of the source cluster.
      producer_config: librdkafka settings of the producer (the target cluster's connection).
      target_client: The target cluster's connection and security settings, for admin clients and
        the offsets topic's reader.
      same_cluster: Whether the target is the source cluster.
      offsets_topic: The offsets topic on the target cluster (another cluster only).
      offsets_replication_factor: Its replication factor when created.
      key_registry: How keys are written with a Schema Registry (``avro``, ``json_sr``,
        ``protobuf``), else None.
      value_registry: Likewise for values.
    """

    name: str
    group_id: str
    flush_size: int
    key_format: str
    value_format: str
    source_topics: tuple
    source_regex: Optional[str]
    source_client: Mapping[str, str] = dataclasses.field(repr=False)
    producer_config: Mapping[str, str] = dataclasses.field(repr=False)
    target_client: Mapping[str, str] = dataclasses.field(repr=False)
    same_cluster: bool = True
    offsets_topic: str = DEFAULT_OFFSETS_TOPIC
    offsets_replication_factor: int = -1
    key_registry: Optional[RegistryOutput] = None
    value_registry: Optional[RegistryOutput] = None

    @property
    def target_servers(self) -> str:
        return self.producer_config["bootstrap.servers"]

    @property
    def source_servers(self) -> str:
        return self.source_client["bootstrap.servers"]

    def transactional_id(self, topic: str, partition: int) -> str:
        """Stable per source topic-partition, so that a rerun fences what a killed run left."""
        return "beamconnect-%s-%s-%d" % (self.name, topic, partition)

    def offsets_key(self, topic: str, partition: int) -> bytes:
        """The offsets topic's key of a source topic-partition: ``<name>/<topic>/<partition>``."""
        return ("%s/%s/%d" % (self.name, topic, partition)).encode("utf-8")

    def reads(self, topic: str) -> bool:
        """Whether the connector reads ``topic`` (on the source cluster)."""
        return topic in self.source_topics or bool(
            self.source_regex and re.fullmatch(self.source_regex, topic))

    @classmethod
    def from_values(cls, values: Mapping[str, Any], connector: ConnectorContext) -> "KafkaSinkConfig":
        """Builds the config from :data:`CONFIG_DEF`'s parsed values and the connector's settings.

        Raises:
          ConfigError: a format is unknown, its registry keys are missing or invalid
            (or set for a format without a registry), a cluster has no bootstrap
            servers, a producer setting the transactions need is overridden, the sink would write
            each record back to the topic it was read from, or a transform edits keys or values
            that ``raw`` would write as read.
        """
        key_format = _format("kafka.key.format", values["kafka.key.format"])
        value_format = _format("kafka.value.format", values["kafka.value.format"])
        key_registry = parse_output("kafka.key.format", key_format, connector.sink_keys)
        value_registry = parse_output("kafka.value.format", value_format, connector.sink_keys)
        name = connector.name
        consumer, producer = dict(connector.consumer_config), dict(connector.producer_settings)
        for key, why in _OWN_PRODUCER_KEYS.items():
            if key in producer and not (key == "enable.idempotence" and producer[key].lower() == "true"
                                        or key == "acks" and producer[key].lower() in ("all", "-1")):
                raise ConfigError("producer.override.%s must not be set for connector.class=kafka: "
                                  "%s, got %r" % (key, why, producer[key]))
        source_servers = consumer.pop("bootstrap.servers")
        group_id = consumer.get("group.id") or "connect-%s" % name
        source_client = {**admin_config(consumer), "bootstrap.servers": source_servers}
        source_client.pop("group.id", None)
        target_servers = producer.pop("bootstrap.servers", None)
        same = not target_servers or _servers(target_servers) == _servers(source_servers)
        producer_config = ({**source_client, **producer} if same
                           else {**producer, "bootstrap.servers": target_servers})
        topics, regex = tuple(connector.topics), connector.topics_regex
        if same and not connector.transforms:
            source = ("topics=%s" % ",".join(topics) if topics else "topics.regex=%s" % regex)
            raise ConfigError(
                "connector.class=kafka without producer.override.bootstrap.servers writes to the "
                "source cluster, and without transforms each record goes back to the topic it was "
                "read from (%s): rename the target topic with a RegexRouter or TimestampRouter "
                "transform, or set producer.override.bootstrap.servers to another cluster" % source)
        check_raw_edits(connector.transforms, {"key": ("kafka.key.format", key_format),
                                               "value": ("kafka.value.format", value_format)})
        problem = check_producer_settings(transactional_settings(producer_config, "check"))
        if problem:
            raise ConfigError("the producer settings (producer.override.*) are invalid: %s" % problem)
        return cls(name=name, group_id=group_id, flush_size=values["flush.size"],
                   key_format=key_format, value_format=value_format, source_topics=topics,
                   source_regex=regex, source_client=source_client, producer_config=producer_config,
                   target_client={k: v for k, v in producer_config.items()
                                  if not _PRODUCER_ONLY.match(k)},
                   same_cluster=same, offsets_topic=values["kafka.offsets.topic"],
                   offsets_replication_factor=values["kafka.offsets.topic.replication.factor"],
                   key_registry=key_registry, value_registry=value_registry)


def _format(key: str, value: str) -> str:
    lowered = value.strip().lower()
    if lowered not in FORMATS:
        raise ConfigError("%s must be one of %s, got %r" % (key, ", ".join(map(repr, FORMATS)), value))
    return REGISTRY_FORMATS.get(lowered, lowered)


def _servers(servers: str) -> frozenset:
    return frozenset(s.strip().lower() for s in servers.split(",") if s.strip())
