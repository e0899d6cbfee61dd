"""Fixtures of the Azure Blob tests: one Azure account per session (the suite's own Azurite, or the one
``AZURE_STORAGE_CONNECTION_STRING`` names) and a new container per test."""

import pytest

from tests.servers.azurite import open_account
from tests.sinks.files.azure.containers import Container


@pytest.fixture(scope="session")
def azure_account():
    """An Azure storage account: a local Azurite's, or the one ``AZURE_STORAGE_CONNECTION_STRING``
    names."""
    yield from open_account()


@pytest.fixture
def azure_container(azure_account):
    """A new container in the account, deleted after the test."""
    container = Container(azure_account)
    try:
        yield container
    finally:
        container.delete()
