"""Downloading and building the servers the selected tests need, all at once, ahead of their tests.

Each launcher fetches its server the first time a fixture starts it: Maven Central jars (Kafka,
ActiveMQ, Artemis, OpenSearch, Solr, Cassandra), Go modules built into binaries (NATS, FerretDB,
Prism). On a fresh machine one after the other that is minutes of waiting while the tests sit idle.
:func:`prepare_in_background` starts every one the selected tests will need in threads of their own
as soon as the tests are collected, so the downloads overlap each other and the first tests. Each
``ensure_*`` function takes a file lock and returns what an earlier call built, so a fixture that comes
first simply waits for the thread; a preparation that fails is only logged here, and fails again,
with its message, in the fixture that needs it.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from typing import Iterable, List

_LOGGER = logging.getLogger(__name__)

#: Fixture name -> (module, function) that fetches or builds its server (idempotent, locked).
PREPARATIONS = {
    "kafka_bootstrap": ("pipelines.dev_kafka", "ensure_kafka_jars"),
    "kafka_3_9": ("pipelines.dev_kafka", "ensure_kafka_3_9_jars"),
    "prism": ("pipelines.dev_prism", "ensure_prism"),
    "activemq": ("tests.servers.activemq", "ensure_classic"),
    "artemis": ("tests.servers.activemq", "ensure_artemis"),
    "nats_server": ("tests.servers.nats", "ensure_nats_server"),
    "own_nats_server": ("tests.servers.nats", "ensure_nats_server"),
    "mongo": ("tests.servers.ferretdb", "ensure_ferretdb"),
    "opensearch": ("tests.servers.opensearch", "ensure_opensearch"),
    "solr": ("tests.servers.solr", "ensure_solr"),
    "cassandra_server": ("tests.servers.cassandra", "ensure_cassandra"),
    "hdfs": ("tests.servers.hdfs", "ensure_minicluster"),
    "azure_account": ("tests.servers.azurite", "ensure_azurite"),
    "schema_registry": ("tests.servers.apicurio", "ensure_apicurio"),
}


def prepare_in_background(fixture_names: Iterable[str]) -> List[threading.Thread]:
    """Starts a daemon thread for each distinct preparation the fixtures need; returns them."""
    wanted = sorted({PREPARATIONS[name] for name in set(fixture_names) if name in PREPARATIONS})
    threads = []
    for module, function in wanted:
        thread = threading.Thread(target=_prepare, args=(module, function), daemon=True,
                                  name="prepare-%s" % function)
        thread.start()
        threads.append(thread)
    return threads


def _prepare(module: str, function: str) -> None:
    started = time.monotonic()
    try:
        getattr(importlib.import_module(module), function)()
    except Exception as exc:  # the fixture that needs it raises it again, in its test
        _LOGGER.warning("preparing %s.%s failed: %s", module, function, exc)
    else:
        _LOGGER.info("%s.%s ready after %.1f s", module, function, time.monotonic() - started)
