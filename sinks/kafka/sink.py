"""The Kafka sink: records forwarded to Kafka topics, exactly once, with Kafka transactions.

Delivery: exactly once into the target topics for consumers reading with
``isolation.level=read_committed``. Each bundle (``flush.size`` offsets of one source partition) is
one transaction holding its records and the source offset past them, so the records and the offsets
commit together or not at all:

- on the source cluster, the offsets go to the connector's consumer group with
  ``send_offsets_to_transaction`` (consume-transform-produce); the group's committed offsets are the
  truth, so :meth:`KafkaSink.stored_offsets` returns none;
- on another cluster (``producer.override.bootstrap.servers``), a transaction can only span that
  cluster, so the offsets are written to a compacted topic there (``kafka.offsets.topic``) in the
  same transaction; :meth:`KafkaSink.stored_offsets` reads them back at start and they win over the
  group's, which they are mirrored to after each commit for lag tools (best effort).

Replays stay exactly once: ``transactional.id`` is stable per source topic-partition, so a rerun
fences what a killed run left (its open transaction is aborted before anything is read), and each
producer skips the records below the offset its store holds, so a replay of offsets already written
(``--from earliest``) writes nothing again. See :mod:`sinks.kafka.writer`.

Keys and values are written as read, as text or JSON, or (``avro``, ``json_sr``, ``protobuf``) in
Confluent's wire format with their schemas in a Schema Registry (:mod:`sinks.kafka.registry`). A schema registered
for a transaction that is then aborted stays registered: registration is idempotent, so a replay
gets the same id.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import apache_beam as beam
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from common.errors import BeamConnectError, ConfigError
from sinks.base import Bundling, ConnectorContext, Sink, WriteContext
from sinks.kafka import offsets as store
from sinks.kafka.config import CONFIG_DEF, KEY_PREFIXES, KafkaSinkConfig
from sinks.kafka.writer import WriteToKafka
from transforms.kafka.producer import client_settings, scrubbed

#: Seconds :meth:`KafkaSink.check` waits for each cluster.
CHECK_TIMEOUT = 15.0


class KafkaSink(Sink):
    """``connector.class=kafka``: to the source cluster or another one, one transaction per bundle."""

    config_def = CONFIG_DEF
    key_prefixes = KEY_PREFIXES
    commits_offsets = True
    target_noun = "topics"

    def parse(self, values: Mapping[str, Any]) -> KafkaSinkConfig:
        raise ConfigError("connector.class=kafka needs the connector's settings: build it with "
                          "configure(values, connector)")

    def configure(self, values: Mapping[str, Any], connector: ConnectorContext) -> KafkaSinkConfig:
        return KafkaSinkConfig.from_values(values, connector)

    def check(self, config: KafkaSinkConfig) -> None:
        """Reaches the target cluster (and, when it is another one, makes sure it is: a
        ``producer.override.bootstrap.servers`` naming the source cluster would write back into
        it), creates the offsets topic there if it is missing, and fences what earlier runs left
        open: before the planner reads any offset, since a transaction in doubt holds back the
        group's stable offsets and the read_committed end of the topics."""
        target = _metadata(config.target_client, "the target cluster at %s" % (
            "bootstrap.servers=%s" % config.target_servers if config.same_cluster
            else "producer.override.bootstrap.servers=%s" % config.target_servers))
        source = target
        if not config.same_cluster:
            source = _metadata(config.source_client,
                               "the source cluster at bootstrap.servers=%s" % config.source_servers)
            if source.cluster_id == target.cluster_id:
                raise ConfigError(
                    "producer.override.bootstrap.servers=%s names the source cluster (cluster id "
                    "%s) by other addresses; leave it out to write to the source cluster"
                    % (config.target_servers, source.cluster_id))
            store.ensure_offsets_topic(config)
        store.fence(config, _source_partitions(config, source))

    def offsets_location(self, config: KafkaSinkConfig) -> Optional[str]:
        """On the source cluster the transactions commit the group's offsets, which a reset moves;
        on another cluster they live in the offsets topic there."""
        if config.same_cluster:
            return None
        return "the compacted topic %s on %s, written in the records' transactions" % (
            config.offsets_topic, config.target_servers)

    def stored_offsets(self, config: KafkaSinkConfig,
                       partitions: Sequence[tuple]) -> Mapping[tuple, int]:
        """On another cluster, the offsets topic's offsets; on the source cluster none (the
        group's committed offsets are the truth there)."""
        if config.same_cluster:
            return {}
        return store.topic_offsets(config, partitions)

    def bundling(self, config: KafkaSinkConfig) -> Bundling:
        return Bundling(config.flush_size, close_caught_up=True)

    def write(self, config: KafkaSinkConfig, context: WriteContext) -> beam.PTransform:
        return WriteToKafka(config, context)


def _metadata(client: Mapping[str, str], what: str):
    try:
        return AdminClient(client_settings(client)).list_topics(timeout=CHECK_TIMEOUT)
    except KafkaException as exc:
        raise BeamConnectError("could not reach %s within %gs: %s"
                               % (what, CHECK_TIMEOUT, scrubbed(str(exc.args[0]), client))) from None


def _source_partitions(config: KafkaSinkConfig, metadata) -> list:
    """The topic-partitions the connector reads, as the source cluster's metadata has them (a
    named topic that is missing is left to the planner, which names it)."""
    return [(name, partition) for name, topic in sorted(metadata.topics.items())
            if topic.error is None and config.reads(name) for partition in sorted(topic.partitions)]
