"""What one record becomes on its way to ActiveMQ, whichever protocol carries it.

An :class:`Outgoing` holds a record's body (text or bytes, as ``jms.message.format`` says), its id,
its JMSCorrelationID (the key, with ``jms.forward.kafka.key``) and its properties, in the order they
are sent:

- ``KAFKA_MESSAGE_ID``: ``<topic>-<partition>-<offset>`` of the source record, on every message, the
  same on every replay (STOMP brokers replace a ``message-id`` with their own, so the property is what
  a consumer deduplicates by; AMQP also carries it as the ``message-id``);
- ``KAFKA_TOPIC`` (string: the record's topic after the transforms, as Connect's
  ``SinkRecord.topic()``), ``KAFKA_PARTITION`` (int) and ``KAFKA_OFFSET`` (long), with
  ``jms.forward.kafka.metadata`` (STOMP headers are text: there they are strings);
- the record's headers as string properties, with ``jms.forward.kafka.headers`` (a header with a null
  value is left out; of two headers with one name, the last wins).

A record that cannot be sent as asked is refused (:class:`~common.errors.RejectedRecord`, so it goes
to the error path): a text body or a key that is not UTF-8, a header whose value is not UTF-8, or a
header named like what JMS reserves (``JMS...``), Artemis reads (``_AMQ_...``), a STOMP frame's own
headers (``priority``, ``content-type``...) or a property this sink sets. Such headers are refused
rather than renamed or dropped, so that a consumer never gets properties other than the record's.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Collection, Optional, Tuple

from common.errors import RejectedRecord
from sinks.queues.activemq.config import ActiveMQSinkConfig
from sinks.queues.messages import Message

#: The property holding every message's id.
ID_PROPERTY = "KAFKA_MESSAGE_ID"
#: The properties of ``jms.forward.kafka.metadata``.
METADATA_PROPERTIES = ("KAFKA_TOPIC", "KAFKA_PARTITION", "KAFKA_OFFSET")
#: Artemis's duplicate detection property.
ARTEMIS_DUPLICATE_ID = "_AMQ_DUPL_ID"
#: Prefixes of property names JMS reserves (``JMSXGroupID``...) or Artemis reads itself (scheduling,
#: grouping, last values, duplicates).
BROKER_PREFIXES = ("JMS", "_AMQ_", "_HQ_")
#: Names this sink sets itself.
OWN_PROPERTIES = (ID_PROPERTY,) + METADATA_PROPERTIES


@dataclasses.dataclass(frozen=True)
class Outgoing:
    """One message to send.

    Attributes:
      message: The record it is made of.
      body: The body's bytes (b'' for a tombstone).
      text: Whether it is a text message (else a bytes message).
      correlation_id: The key as a string (``jms.forward.kafka.key``), or None.
      properties: ``(name, value)`` of each property, a value being a string or an int.
    """

    message: Message
    body: bytes
    text: bool
    correlation_id: Optional[str] = None
    properties: Tuple[Tuple[str, Any], ...] = ()

    @property
    def id(self) -> str:
        return self.message.id

    @property
    def offset(self) -> int:
        return self.message.offset


def outgoing(message: Message, config: ActiveMQSinkConfig, reserved: Collection[str]) -> Outgoing:
    """The :class:`Outgoing` of ``message``.

    Args:
      message: The record.
      config: The sink's config.
      reserved: Header names the protocol carrying it reads itself (compared case-insensitively).

    Raises:
      RejectedRecord: the record cannot be sent as asked (see the module docstring).
    """
    body = message.value if message.value is not None else b""
    if config.text:
        _utf8(body, "value", message, "jms.message.format=%s sends it as a text message: use "
                                      "jms.message.format=bytes" % config.message_format)
    correlation_id = None
    if config.forward_key and message.key is not None:
        correlation_id = _utf8(message.key, "key", message,
                               "jms.forward.kafka.key sends it as a string JMSCorrelationID")
    properties = {ID_PROPERTY: message.id}
    if config.forward_metadata:
        properties.update(zip(METADATA_PROPERTIES, (message.target, message.partition, message.offset)))
    if config.forward_headers:
        refused = {name.lower() for name in reserved} | {n.lower() for n in OWN_PROPERTIES}
        for name, value in message.headers:
            if value is None:
                continue
            if not name or name.lower() in refused or name.startswith(BROKER_PREFIXES):
                raise RejectedRecord(
                    "the header %r of %s has a name that %s: drop it (DropHeaders) or copy it under "
                    "another name before (HeaderFrom), or set jms.forward.kafka.headers=false"
                    % (name, message.describe(),
                       "this sink sets itself" if name.lower() in {n.lower() for n in OWN_PROPERTIES}
                       else "is empty" if not name else "the broker reads itself"),
                    message.offset)
            properties[name] = _utf8(value, "header %r" % name, message,
                                     "jms.forward.kafka.headers sends headers as string properties")
    return Outgoing(message, body, config.text, correlation_id, tuple(properties.items()))


def _utf8(data: bytes, what: str, message: Message, why: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RejectedRecord("the %s of %s is not UTF-8 text (%s at byte %d), and %s"
                             % (what, message.describe(), exc.reason, exc.start, why),
                             message.offset) from None
