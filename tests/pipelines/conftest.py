"""Fixtures of the pipeline tests."""

import os
import signal

import pytest


@pytest.fixture
def spawned():
    """Runs started by a test in sessions of their own; any still running when it ends (a failed
    assertion) is killed with its whole process group (a Prism job server too)."""
    procs = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class SecuredKafka:
    """A broker with SASL_SSL (SCRAM-SHA-512 and PLAIN) and mTLS listeners, the authorizer on.

    ``admin`` works over the PLAINTEXT listener as the super user ANONYMOUS: it creates topics,
    produces, reads committed offsets and creates ACLs. Everybody else may do only what an ACL allows.

    Attributes:
      broker: The :class:`pipelines.dev_kafka.LocalKafka`.
      listeners: Its :class:`pipelines.dev_kafka.SecuredListeners`.
      admin: A ``KafkaHelper`` (tests/conftest.py) on the PLAINTEXT listener.
      passwords: Each SASL user's password (``alice``, ``dave``: SCRAM-SHA-512; ``bob``: PLAIN).
    """

    SCRAM_USERS = ("alice", "dave")
    PLAIN_USERS = ("bob",)
    CERTIFICATE_USERS = ("carol",)

    def __init__(self, broker, helper):
        self.broker = broker
        self.listeners = broker.secured
        self.admin = helper
        self.passwords = dict(broker.security.scram_users, **broker.security.plain_users)

    def allow(self, principal, resource_type, name, *operations, pattern="LITERAL"):
        """Creates ALLOW ACLs for ``principal`` (``User:alice``) on one resource, from any host.

        Args:
          resource_type: ``TOPIC``, ``GROUP``, ``CLUSTER`` or ``TRANSACTIONAL_ID``.
          operations: ``READ``, ``WRITE``, ``DESCRIBE``, ``CREATE``...
          pattern: ``LITERAL`` or ``PREFIXED``.
        """
        from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType,
                                           ResourcePatternType, ResourceType)

        bindings = [AclBinding(ResourceType[resource_type], name, ResourcePatternType[pattern], principal,
                               "*", AclOperation[operation], AclPermissionType.ALLOW)
                    for operation in operations]
        for future in self.admin.admin.create_acls(bindings).values():
            future.result()

    def allow_connector(self, principal, name, topic):
        """The ACLs a sink connector ``name`` reading ``topic`` needs: READ and DESCRIBE on the topic,
        READ on its group ``connect-<name>`` and on the run lease's ``connect-<name>.running``."""
        self.allow(principal, "TOPIC", topic, "READ", "DESCRIBE")
        self.allow(principal, "GROUP", "connect-%s" % name, "READ")
        self.allow(principal, "GROUP", "connect-%s.running" % name, "READ")

    def scram_overrides(self, user, prefix="consumer.override."):
        """Java client keys for SASL_SSL with SCRAM-SHA-512 as ``user``, the CA as a PEM file."""
        return {prefix + "security.protocol": "SASL_SSL",
                prefix + "sasl.mechanism": "SCRAM-SHA-512",
                prefix + "sasl.jaas.config": 'org.apache.kafka.common.security.scram.ScramLoginModule '
                                             'required username="%s" password="%s";'
                                             % (user, self.passwords[user]),
                prefix + "ssl.ca.location": self.listeners.ca_location}

    def plain_overrides(self, user, prefix="consumer.override."):
        """Java client keys for SASL_SSL with PLAIN as ``user``."""
        return {prefix + "security.protocol": "SASL_SSL",
                prefix + "sasl.mechanism": "PLAIN",
                prefix + "sasl.jaas.config": 'org.apache.kafka.common.security.plain.PlainLoginModule '
                                             'required username="%s" password="%s";'
                                             % (user, self.passwords[user]),
                prefix + "ssl.ca.location": self.listeners.ca_location}

    def certificate_overrides(self, user, prefix="consumer.override."):
        """Client keys for SSL with ``user``'s client certificate (PEM files)."""
        certificate, key = self.listeners.certificates[user]
        return {prefix + "security.protocol": "SSL",
                prefix + "ssl.ca.location": self.listeners.ca_location,
                prefix + "ssl.certificate.location": certificate,
                prefix + "ssl.key.location": key}


@pytest.fixture(scope="session")
def secured_kafka():
    """A secured broker of its own (see :class:`SecuredKafka`), started on first use."""
    import secrets as random_secrets

    from pipelines.dev_kafka import BrokerSecurity, LocalKafka
    from tests.conftest import KafkaHelper

    def password(user):
        return "%s-%s" % (user, random_secrets.token_hex(12))

    security = BrokerSecurity(scram_users={u: password(u) for u in SecuredKafka.SCRAM_USERS},
                              plain_users={u: password(u) for u in SecuredKafka.PLAIN_USERS},
                              certificate_users=SecuredKafka.CERTIFICATE_USERS)
    broker = LocalKafka(security=security).start()
    try:
        yield SecuredKafka(broker, KafkaHelper(broker.bootstrap_servers))
    finally:
        broker.stop()
