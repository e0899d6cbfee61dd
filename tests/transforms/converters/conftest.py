"""Session fixture ``schema_registry``: a Confluent-compatible Schema Registry, started when a test asks.

It is the suite's own Apicurio Registry (see :mod:`tests.servers.apicurio`), or the registry
``SCHEMA_REGISTRY_URL`` names.
"""

import pytest

from tests.servers.apicurio import open_registry


@pytest.fixture(scope="session")
def schema_registry():
    """A :class:`~tests.servers.apicurio.SchemaRegistry`: its ``url`` and, when local, its ``server``."""
    yield from open_registry()
