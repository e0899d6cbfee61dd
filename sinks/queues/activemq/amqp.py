"""Publishing to ActiveMQ over AMQP 1.0 with python-qpid-proton: settlements confirm each message.

A batch's messages are transferred back to back on one sender link, unsettled, and the publisher
then waits until the broker has settled each with its outcome (proton's ``BlockingConnection``
drives the connection; its ``BlockingSender.send`` would wait a round trip per message). Both
brokers settle a durable message once it is stored (Artemis's journal, Classic's KahaDB):

- ``Accepted``: confirmed;
- ``Rejected``: refused, with the broker's error condition (Artemis rejects a message whose
  properties exceed its journal's record size); a refused permission stops the run and
  ``amqp:resource-limit-exceeded`` (a full address) counts as a lost connection;
- ``Released`` or ``Modified``, no outcome in time, or the connection ending: not confirmed.

Each message carries its id as the AMQP ``message-id`` and, to Artemis, as the ``_AMQ_DUPL_ID``
application property, which its duplicate detection drops a replay by (``amqpDuplicateDetection``,
on by default). ``durable``, ``priority``, ``ttl`` and ``correlation-id`` are AMQP's header and
properties for JMS's delivery mode, priority, expiration and JMSCorrelationID; the message
annotation ``x-opt-jms-msg-type`` makes text formats JMS text messages (the body an ``amqp-value``
string) and ``bytes`` bytes messages (a ``data`` section), as both brokers map AMQP to JMS.

The destination is addressed with the prefixes a broker announces (ActiveMQ Classic's
``queue://``/``topic://``) or else by name with the target capability ``queue`` or ``topic``
(Artemis's anycast or multicast routing).
"""

from __future__ import annotations

import logging
from typing import Optional, Sequence

from common.errors import BeamConnectError
from sinks.queues.activemq.config import ActiveMQSinkConfig
from sinks.queues.activemq.outgoing import ARTEMIS_DUPLICATE_ID, Outgoing
from sinks.queues.activemq.publisher import (ARTEMIS, CLASSIC, OTHER, ActiveMQPublisher, Attempt,
                                             broker_text, denied, passing)
from sinks.queues.publish import ConnectionLost

_LOGGER = logging.getLogger(__name__)

_INSTALL_HINT = ("activemq.url=amqp:// needs python-qpid-proton: "
                 "pip install 'beamconnect[activemq]'")
#: JMS message types of the ``x-opt-jms-msg-type`` annotation.
_JMS_BYTES, _JMS_TEXT = 3, 5
#: Seconds :meth:`AmqpPublisher.close` waits for the broker to acknowledge the close.
CLOSE_TIMEOUT = 2.0


def _proton():
    try:
        import proton
        import proton.reactor
        import proton.utils
    except ImportError:
        raise BeamConnectError(_INSTALL_HINT) from None
    return proton


def _condition_text(condition) -> str:
    if condition is None:
        return ""
    return broker_text("%s: %s" % (condition.name, condition.description)
                       if condition.description else condition.name)


class AmqpPublisher(ActiveMQPublisher):
    """One AMQP 1.0 connection, session and sender link to the broker of ``config``."""

    def __init__(self, config: ActiveMQSinkConfig):
        super().__init__(config)
        self._connection = None
        self._sender = None

    def connected(self) -> bool:
        return self._sender is not None

    def connect(self) -> None:
        proton = _proton()
        config = self._config
        timeout = config.timeout_ms / 1000.0
        options = {"allow_insecure_mechs": not config.url.tls}
        if config.username:
            options.update(user=config.username, password=str.__str__(config.password))
        ssl_domain = None
        if config.url.tls:
            ssl_domain = proton.SSLDomain(proton.SSLDomain.MODE_CLIENT)
            if config.ca_location:
                ssl_domain.set_trusted_ca_db(config.ca_location)
            ssl_domain.set_peer_authentication(proton.SSLDomain.VERIFY_PEER_NAME,
                                               config.ca_location)
        url = "%s://%s:%d" % ("amqps" if config.url.tls else "amqp",
                              "[%s]" % config.url.host if ":" in config.url.host else config.url.host,
                              config.url.port)
        try:
            connection = proton.utils.BlockingConnection(url, timeout=timeout, ssl_domain=ssl_domain,
                                                         **options)
        except proton.Timeout:
            raise ConnectionLost("%s did not open the connection within %gs"
                                 % (config.describe(), timeout)) from None
        except proton.ProtonException as exc:
            text = broker_text(str(exc))
            if "unauthorized-access" in text or "Authentication failed" in text:
                raise BeamConnectError("%s refused the login: %s" % (config.describe(), text)) from None
            raise ConnectionLost("could not connect to %s: %s" % (config.describe(), text)) from None
        self._connection = connection
        properties = connection.conn.remote_properties or {}
        product = str(properties.get(proton.symbol("product"), ""))
        self.broker = (ARTEMIS if product == "apache-activemq-artemis" else
                       CLASSIC if product == "ActiveMQ" else OTHER)
        prefix = properties.get(proton.symbol("%s-prefix" % config.destination_type))
        address = "%s%s" % (prefix or "", config.destination)
        try:
            self._sender = connection.create_sender(
                address, options=None if prefix else _Capability(config.destination_type))
        except proton.utils.LinkDetached as exc:
            text = _condition_text(exc.link.remote_condition) or broker_text(str(exc))
            if denied(text):
                raise self._denied(text, "a sender") from None
            raise ConnectionLost("%s detached the sender to %s: %s"
                                 % (config.describe(), config.target(), text)) from None
        except (proton.ProtonException, proton.Timeout) as exc:
            raise ConnectionLost("%s: %s" % (config.describe(), broker_text(str(exc)))) from None

    def close(self) -> None:
        connection, self._connection, self._sender = self._connection, None, None
        if connection is not None:
            try:
                connection.timeout = CLOSE_TIMEOUT
                connection.close()
            except Exception:  # the connection is gone already
                pass

    def _send(self, messages: Sequence[Outgoing]) -> Attempt:
        proton = _proton()
        config = self._config
        link = self._sender.link
        attempt = Attempt()
        deliveries = []
        ended: Optional[str] = None
        try:
            for message in messages:
                deliveries.append((message, link.send(self._message(proton, message))))
            terminal = (proton.Delivery.ACCEPTED, proton.Delivery.REJECTED,
                        proton.Delivery.RELEASED, proton.Delivery.MODIFIED)
            self._connection.wait(lambda: all(d.remote_state in terminal for _, d in deliveries),
                                  timeout=config.timeout_ms / 1000.0,
                                  msg="waiting for the outcomes of %d messages" % len(deliveries))
        except proton.utils.ConnectionClosed as exc:
            ended = _condition_text(exc.connection.remote_condition) or "closed"
        except proton.utils.LinkDetached as exc:
            ended = _condition_text(exc.link.remote_condition) or "detached"
        except proton.Timeout:
            attempt.lost = "no outcome within %gs" % (config.timeout_ms / 1000.0)
        except proton.ProtonException as exc:
            attempt.lost = broker_text(str(exc))
        if ended is not None:
            if denied(ended):
                raise self._denied(ended, "a message")
            if passing(ended) or ended in ("closed", "detached"):
                attempt.lost = "the broker ended the connection: %s" % ended
            else:
                attempt.unattributed = ended
        released = None
        for message, delivery in deliveries:
            state = delivery.remote_state
            if state == proton.Delivery.ACCEPTED:
                attempt.confirmed.add(message.offset)
            elif state == proton.Delivery.REJECTED:
                text = _condition_text(delivery.remote.condition) or "rejected"
                if denied(text):
                    raise self._denied(text, "a message")
                if passing(text):
                    released = released or text
                else:
                    attempt.refused[message.offset] = text
            elif state in (proton.Delivery.RELEASED, proton.Delivery.MODIFIED):
                released = released or "released"
            elif attempt.unread is None:
                attempt.unread = message.offset
            if state:
                delivery.settle()
        if released is not None and attempt.lost is None:
            attempt.lost = "the broker did not take every message: %s" % released
        if (len(attempt.confirmed) + len(attempt.refused) < len(messages) and attempt.lost is None
                and attempt.unattributed is None):
            attempt.lost = "the broker did not settle every message"
        return attempt

    def _message(self, proton, message: Outgoing):
        config = self._config
        properties = {name: proton.int32(value) if name == "KAFKA_PARTITION" else value
                      for name, value in message.properties}
        if self.broker is ARTEMIS:
            properties[ARTEMIS_DUPLICATE_ID] = message.id
        amqp = proton.Message(
            id=message.id, durable=config.persistent, priority=config.priority,
            properties=properties,
            annotations={proton.symbol("x-opt-jms-msg-type"):
                         proton.byte(_JMS_TEXT if message.text else _JMS_BYTES)})
        if message.text:
            amqp.body = message.body.decode("utf-8")
        else:
            amqp.body = message.body
            amqp.inferred = True  # binary as a data section: a JMS bytes message
        if config.ttl_ms:
            amqp.ttl = config.ttl_ms / 1000.0
        if message.correlation_id is not None:
            amqp.correlation_id = message.correlation_id
        return amqp


class _Capability:
    """A sender option asking for a queue or a topic by the target's capability."""

    def __init__(self, capability: str):
        self._capability = capability

    def apply(self, sender) -> None:
        import proton

        capabilities = sender.target.capabilities
        capabilities.put_array(False, proton.Data.SYMBOL)
        capabilities.enter()
        capabilities.put_symbol(proton.symbol(self._capability))
        capabilities.exit()

    def test(self, link) -> bool:
        return True
