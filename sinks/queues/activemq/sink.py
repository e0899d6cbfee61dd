"""The ActiveMQ sink: records sent to one queue or topic of ActiveMQ Classic or Artemis.

``connector.class=io.confluent.connect.jms.ActiveMqSinkConnector`` (or ``activemq``) with Confluent's
``activemq.*`` and ``jms.*`` keys (:mod:`sinks.queues.activemq.config`). Each record becomes one
message on ``jms.destination.name``: a text message of the converted value (``jms.message.format``
``string`` or ``json``) or a bytes message of the value as read (``bytes``), with the delivery mode,
priority and time to live asked for, the key as JMSCorrelationID and the record's coordinates and
headers as properties when asked for. The protocol is the scheme of ``activemq.url``: STOMP 1.2
(:mod:`~sinks.queues.activemq.stomp`) or AMQP 1.0 (:mod:`~sinks.queues.activemq.amqp`); OpenWire is
refused when the config is validated, with the STOMP and AMQP URLs to use instead.

Delivery. A bundle's messages are sent in batches of ``activemq.publish.batch.size``, each confirmed
by the broker before the next is sent (a STOMP receipt per message, an AMQP settlement with the
``Accepted`` outcome per message); the bundle's offsets are committed only
once every batch of it is confirmed (:class:`~sinks.queues.publish.PublishWriter`). With
``jms.delivery.mode=persistent`` both brokers confirm a message once their store has written it
(KahaDB, the Artemis journal), so a broker stopped and restarted loses nothing confirmed; the sink
reconnects with backoff and sends the unconfirmed batch again. A message the broker refuses (larger
than Classic's ``maxFrameSize``, larger than an Artemis journal record) or that cannot be sent as
asked (see :mod:`~sinks.queues.activemq.outgoing`) goes to the error path (``errors.tolerance``,
the dead letter queue) with its offset; a refused permission or login stops the run, and is found
before any record is read.

Replays, and what they do, per broker. Every message carries ``KAFKA_MESSAGE_ID`` =
``<topic>-<partition>-<offset>`` of its source record (and, over AMQP, the same ``message-id``), the
same on every send. A batch whose confirmations were lost is sent again, and a run killed after
sending but before its commit sends its bundles again on the next run:

- **Artemis over AMQP: exactly once.** Each message also carries the id as ``_AMQ_DUPL_ID``, and Artemis's
  duplicate detection drops a message whose id it has seen on that address, so a replayed message is
  confirmed but not delivered again. The broker remembers the last ``id-cache-size`` ids per address
  (20,000 by default, kept across restarts with ``persist-id-cache``): a replay reaching further back
  (a bounded run is committed at its end, so a killed run replays from its start; ``--from earliest``)
  delivers the older messages again. Two connectors sending the same source records to one address
  have each other's copies dropped.
- **Artemis over STOMP: at least once**, as Classic. STOMP sends carry no ``_AMQ_DUPL_ID``: outside
  a transaction, Artemis caches a message's duplicate id when it routes it but queues the message
  only once its journal write completes, so a connection that dies in between (a run killed
  mid-batch) leaves messages in the journal, not in the queue, until the broker restarts, with their
  ids cached and the rerun's copies dropped; inside one, it fails the commit of any transaction
  holding a message it has seen, which is what a replayed batch holds
  (:mod:`~sinks.queues.activemq.stomp`). Use ``amqp://`` for exactly once on Artemis.
- **ActiveMQ Classic: at least once.** Classic does not deduplicate a new connection's messages, so a
  queue may hold a message twice, with the same ``KAFKA_MESSAGE_ID``, by which consumers drop the
  copies.
- ``jms.delivery.mode=non_persistent``: at most once across a broker restart (the broker keeps such
  messages in memory only); the rest as above.
"""

from __future__ import annotations

import functools
from typing import Any, Mapping

import apache_beam as beam

from sinks.base import Bundling, ConnectorContext, Sink, WriteContext
from sinks.queues.activemq.config import CONFIG_DEF, IGNORED_KEYS, ActiveMQSinkConfig
from sinks.queues.activemq.publisher import ActiveMQPublisher
from sinks.queues.publish import PublishWriter, WriteToQueue, check_publisher


def make_publisher(config: ActiveMQSinkConfig) -> ActiveMQPublisher:
    """A new, unconnected publisher for the protocol of ``activemq.url``."""
    if config.url.protocol == "stomp":
        from sinks.queues.activemq.stomp import StompPublisher

        return StompPublisher(config)
    from sinks.queues.activemq.amqp import AmqpPublisher

    return AmqpPublisher(config)


class ActiveMQSink(Sink):
    """Confluent's ActiveMQ sink keys; confirmed batches to one queue or topic over STOMP or AMQP."""

    config_def = CONFIG_DEF
    ignored_keys = IGNORED_KEYS
    target_noun = "destinations"

    def parse(self, values: Mapping[str, Any]) -> ActiveMQSinkConfig:
        return ActiveMQSinkConfig.from_values(values, ConnectorContext(name="activemq"))

    def configure(self, values: Mapping[str, Any], connector: ConnectorContext) -> ActiveMQSinkConfig:
        return ActiveMQSinkConfig.from_values(values, connector)

    def check(self, config: ActiveMQSinkConfig) -> None:
        """Logs in and makes sure the user may send to the destination (refused credentials or
        permissions, an unreachable broker, a TLS failure are errors naming the URL and user, never
        the password)."""
        publisher = make_publisher(config)
        check_publisher(publisher, publisher.check)

    def bundling(self, config: ActiveMQSinkConfig) -> Bundling:
        return Bundling(config.flush_size, close_caught_up=True)

    def write(self, config: ActiveMQSinkConfig, context: WriteContext) -> beam.PTransform:
        writer = PublishWriter(context, functools.partial(make_publisher, config),
                               config.publish_settings(), target=config.target())
        return WriteToQueue(writer, "PublishToActiveMQ")
