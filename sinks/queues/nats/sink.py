"""The NATS JetStream sink: each record as a JetStream message, acknowledged before its offset commits.

Delivery: at least once, and exactly once in the stream for every replay that comes within the
stream's duplicate window. Each record is one message on ``nats.subject`` (a template of the record's
topic after the transforms and its source partition), with the value as payload and, as NATS headers,
the key (``Kafka-Key``), the record's headers and its coordinates (``Kafka-Topic``,
``Kafka-Partition``, ``Kafka-Offset``, ``Kafka-Timestamp``). A bundle's offsets are committed (by the
pipeline, to the connector's group) only once JetStream has acknowledged, and so stored, every message
of it (:mod:`sinks.queues.publish`).

How replays stay idempotent: every message carries ``Nats-Msg-Id: <topic>-<partition>-<offset>`` of
its source record, the same on every publish. JetStream drops a message whose id it has already
stored within the stream's ``duplicate_window`` (counted from the first copy's arrival) and
acknowledges it as a duplicate. So a batch published again after a lost connection or a lost
acknowledgement, and the uncommitted bundles a killed run leaves for its rerun, are stored once,
provided the second publish comes within the window of the first. A replay past the window (a rerun
long after a crash, ``--from earliest`` on old offsets, a run resumed after an outage longer than the
window) stores the messages again: beyond the window delivery is at least once. Set the stream's
window longer than the longest time between a publish and the rerun that may repeat it (JetStream
keeps every id of the window in memory; its default is 2 minutes). The ids are unique per stream, not
per subject: a record re-routed to another subject of the same stream within the window is dropped
too, and dead letters replayed with ``replay-dlq`` are published (their first publish was refused, so
no copy holds their id).

A message no stream captures ("no responders"), one larger than the server's ``max_payload`` or the
stream's ``max_msg_size``, one captured by another stream than ``nats.stream``, and one whose headers
NATS cannot carry (not UTF-8 text, repeated names, ``Nats-*`` names) is refused: it goes to the error
path (``errors.tolerance``, dead-letter queue) with its coordinates. A constant ``nats.subject`` that
no stream captures and a missing ``nats.stream`` are config errors before any record is read; refused
credentials stop the run there too, naming the user, never the password.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Mapping

import apache_beam as beam

from common.errors import BeamConnectError, ConfigError
from sinks.base import Bundling, ConnectorContext, Sink, WriteContext
from sinks.queues.nats.config import CONFIG_DEF, NatsSinkConfig, StreamSpec
from sinks.queues.nats.publisher import NatsPublisher
from sinks.queues.publish import PublishWriter, WriteToQueue, check_publisher

_LOGGER = logging.getLogger(__name__)


class NatsSink(Sink):
    """``connector.class=nats``: records published to NATS JetStream, deduplicated by message id."""

    config_def = CONFIG_DEF
    target_noun = "subjects"

    def parse(self, values: Mapping[str, Any]) -> NatsSinkConfig:
        return NatsSinkConfig.from_values(values)

    def configure(self, values: Mapping[str, Any], connector: ConnectorContext) -> NatsSinkConfig:
        return NatsSinkConfig.from_values(values, connector)

    def check(self, config: NatsSinkConfig) -> None:
        """Connects (refused credentials are an error naming the user, never the password), makes
        sure JetStream answers, creates ``nats.stream`` when asked and missing, and checks that a
        constant ``nats.subject`` is captured (by ``nats.stream`` when set)."""
        publisher = NatsPublisher(config)
        check_publisher(publisher, lambda: publisher.run(_check_streams(publisher, config), 30.0))

    def bundling(self, config: NatsSinkConfig) -> Bundling:
        return Bundling(config.flush_size, close_caught_up=True)

    def write(self, config: NatsSinkConfig, context: WriteContext) -> beam.PTransform:
        writer = PublishWriter(context, functools.partial(NatsPublisher, config),
                               config.publish_settings, target=config.subject_of)
        return WriteToQueue(writer, "PublishToNats")


async def _check_streams(publisher: NatsPublisher, config: NatsSinkConfig) -> None:
    from nats import errors
    from nats.js import errors as js_errors

    js, server = publisher.jetstream, publisher.server
    try:
        await js.account_info()
    except (errors.NoRespondersError, js_errors.ServiceUnavailableError):
        raise BeamConnectError("JetStream is not enabled on the NATS server at %s (for this "
                               "account): start nats-server with -js, or enable JetStream for the "
                               "account" % server) from None
    except (errors.TimeoutError, js_errors.APIError) as exc:
        raise BeamConnectError("JetStream on the NATS server at %s did not answer: %s"
                               % (server, exc)) from None
    if config.stream:
        try:
            info = await js.stream_info(config.stream)
        except js_errors.NotFoundError:
            if config.create_stream is None:
                raise ConfigError("nats.stream=%r does not exist on the NATS server at %s: create "
                                  "it, or set nats.stream.create=true" % (config.stream, server)) \
                    from None
            info = await _create_stream(js, config.stream, config.create_stream, server)
        _LOGGER.info("stream %s on %s captures %s, duplicate window %gs: messages published "
                     "again within it are dropped", config.stream, server,
                     ",".join(info.config.subjects or ()), info.config.duplicate_window or 0)
    subject = config.constant_subject
    if subject is None:
        return
    try:
        owner = await js.find_stream_name_by_subject(subject)
    except js_errors.NotFoundError:
        raise ConfigError("nats.subject=%r is captured by no JetStream stream on the NATS server "
                          "at %s, so JetStream would refuse every message: create a stream for it, "
                          "or set nats.stream and nats.stream.create=true" % (subject, server)) \
            from None
    if config.stream and owner != config.stream:
        raise ConfigError("nats.subject=%r is captured by stream %r, not nats.stream=%r"
                          % (subject, owner, config.stream))


async def _create_stream(js, name: str, spec: StreamSpec, server: str):
    from nats.js import api
    from nats.js import errors as js_errors

    try:
        info = await js.add_stream(api.StreamConfig(
            name=name, subjects=list(spec.subjects),
            duplicate_window=spec.duplicate_window_ms / 1000.0,
            storage=api.StorageType(spec.storage), num_replicas=spec.replicas))
    except js_errors.APIError as exc:
        raise BeamConnectError("could not create stream %r (nats.stream.create=true) on the NATS "
                               "server at %s: %s" % (name, server, exc.description)) from None
    _LOGGER.info("created stream %s on %s (subjects %s, %s storage, %d replicas)", name, server,
                 ",".join(spec.subjects), spec.storage, spec.replicas)
    return info
