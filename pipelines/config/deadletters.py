"""The connector's ``errors.*`` keys: the error policy and where dead letters go.

``errors.deadletterqueue.topic.name`` sends failed records to a Kafka topic, as Kafka Connect does, on
the source cluster: the producer uses the consumer's connection and security settings, with
``producer.override.*`` (Java producer keys, translated as ``consumer.override.*`` are) on top.
``errors.deadletterqueue.store.url`` writes them as JSON lines files to a directory, ``s3://`` or
``gs://`` URL instead (credentials from the store's usual chain: environment, profile, instance role,
Application Default Credentials).
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional

from common.errors import ConfigError
from pipelines.config.consumer import translate
from transforms.errors import DeadLetterWriter, ErrorPolicy
from transforms.kafka.planning import admin_config

TOPIC = "errors.deadletterqueue.topic.name"
STORE = "errors.deadletterqueue.store.url"


def error_policy(common: Mapping[str, Any]) -> ErrorPolicy:
    return ErrorPolicy(
        tolerance=common["errors.tolerance"],
        retry_timeout_ms=common["errors.retry.timeout"],
        retry_delay_max_ms=common["errors.retry.delay.max.ms"],
        log_enable=common["errors.log.enable"],
        log_include_messages=common["errors.log.include.messages"],
        connector_name=common["name"])


def producer_settings(raw: Mapping[str, str]) -> tuple[dict, list]:
    """``(librdkafka settings, warnings)`` of the ``producer.override.*`` keys."""
    overrides = {k[len("producer.override."):]: v.strip() for k, v in raw.items()
                 if k.startswith("producer.override.")}
    return translate(overrides, prefix="producer.override.")


def dead_letter_writer(common: Mapping[str, Any], consumer_config: Mapping[str, str],
                       producer: Mapping[str, str]) -> Optional[DeadLetterWriter]:
    """The writer of the configured dead-letter path, or None.

    Raises:
      ConfigError: both a topic and a store are set, or the topic is one the connector reads.
    """
    topic, store = common[TOPIC].strip(), (common[STORE] or "").strip()
    if topic and store:
        raise ConfigError("set one of %s and %s, got %s=%r and %s=%r"
                          % (TOPIC, STORE, TOPIC, topic, STORE, store))
    # Each writer is imported only when configured: the store's pulls in the file sink (formats,
    # stores), the topic's a producer, and most connectors set neither.
    if store:
        from sinks.files.deadletter import StoreDeadLetters

        return StoreDeadLetters(store, connector_name=common["name"])
    if not topic:
        return None
    if topic in common["topics"] or (common["topics.regex"]
                                     and re.fullmatch(common["topics.regex"], topic)):
        source = ("topics=%s" % ",".join(common["topics"]) if common["topics"]
                  else "topics.regex=%s" % common["topics.regex"])
        raise ConfigError("%s=%r must not be a topic the connector reads (%s)" % (TOPIC, topic, source))
    from transforms.kafka.deadletter import TopicDeadLetters

    client = {**admin_config(consumer_config), **producer}
    client.pop("group.id", None)
    return TopicDeadLetters(
        client, topic, replication_factor=common["errors.deadletterqueue.topic.replication.factor"],
        context_headers=common["errors.deadletterqueue.context.headers.enable"],
        connector_name=common["name"])
