"""Conditional creates and replays against a real blob service (Azurite): a replay of the same bytes
leaves the blob alone, other bytes under the same name end as this run's, and SAS credentials work and
stay hidden."""

import datetime
import logging
import os
import re

import pytest

from sinks.files.storage import StorageError, storage_for
from sinks.files.storage.azure import MIN_BLOCK_SIZE
from tests.sinks.files.test_storage import values

NAME = "t+0+0000000000.json"


@pytest.fixture
def store(azure_container):
    return storage_for(values(**azure_container.config(prefix="data"), azblob_block_size=str(MIN_BLOCK_SIZE)))


@pytest.fixture
def uploads(monkeypatch):
    """The options of every upload the store makes, in order."""
    from azure.storage.blob import BlobClient

    calls = []
    original = BlobClient.upload_blob

    def recording(self, data, *args, **kwargs):
        calls.append({k: v for k, v in kwargs.items() if k in ("overwrite", "etag", "match_condition")})
        return original(self, data, *args, **kwargs)

    monkeypatch.setattr(BlobClient, "upload_blob", recording)
    return calls


@pytest.mark.parametrize("size", [100, 2 * MIN_BLOCK_SIZE + 5], ids=["one-put", "block-list"])
def test_a_new_blob_is_a_conditional_create(store, azure_container, uploads, size):
    data = os.urandom(size)

    store.write(store.path(NAME), data)

    assert uploads == [{"overwrite": False}]  # If-None-Match: *
    assert azure_container.read("data/" + NAME) == data


@pytest.mark.parametrize("size", [100, 2 * MIN_BLOCK_SIZE + 5], ids=["one-put", "block-list"])
def test_a_replay_of_the_same_bytes_leaves_the_blob_as_it_is(store, azure_container, uploads, size):
    data = os.urandom(size)
    store.write(store.path(NAME), data)
    before = azure_container.etags()

    store.write(store.path(NAME), data)

    assert azure_container.etags() == before  # not written again
    assert uploads == [{"overwrite": False}, {"overwrite": False}]


@pytest.mark.parametrize("left", [b"x" * 100, os.urandom(2 * MIN_BLOCK_SIZE + 5), b"shorter"],
                         ids=["same-size", "block-list", "other-size"])
def test_other_bytes_left_under_the_name_end_as_this_runs(store, azure_container, uploads, caplog, left):
    azure_container.put("data/" + NAME, left)  # a killed run that cut its files differently
    etag = azure_container.etags()["data/" + NAME]
    data = b"y" * 100

    with caplog.at_level(logging.INFO, logger="sinks.files.storage.azure"):
        store.write(store.path(NAME), data)

    assert azure_container.read("data/" + NAME) == data
    assert uploads[-1]["overwrite"] is True  # with If-Match on the ETag just read:
    assert uploads[-1]["etag"].strip('"') == etag.strip('"')
    assert "replaced %s (%d bytes, left by an earlier run) with this run's 100 bytes" % (
        store.path(NAME), len(left)) in caplog.text


def test_a_blob_that_changes_between_the_read_and_the_overwrite_is_compared_again(
        store, azure_container, monkeypatch):
    from azure.storage.blob import BlobClient

    azure_container.put("data/" + NAME, b"left by a killed run")
    original = BlobClient.get_blob_properties
    reads = []

    def read_then_change(self, *args, **kwargs):
        properties = original(self, *args, **kwargs)
        reads.append(properties.etag)
        if len(reads) == 1:  # another writer lands right after the first read
            azure_container.put("data/" + NAME, b"written in between")
        return properties

    monkeypatch.setattr(BlobClient, "get_blob_properties", read_then_change)
    store.write(store.path(NAME), b"this run's file")

    assert len(reads) == 2 and reads[0] != reads[1]
    assert azure_container.read("data/" + NAME) == b"this run's file"


def test_a_blob_deleted_between_the_conflict_and_the_read_is_created(store, azure_container, monkeypatch):
    from azure.storage.blob import BlobClient

    azure_container.put("data/" + NAME, b"left by a killed run")
    original = BlobClient.get_blob_properties

    def deleted_first(self, *args, **kwargs):
        monkeypatch.setattr(BlobClient, "get_blob_properties", original)
        azure_container.client.delete_blob("data/" + NAME)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BlobClient, "get_blob_properties", deleted_first)
    store.write(store.path(NAME), b"this run's file")

    assert azure_container.read("data/" + NAME) == b"this run's file"


def _sas(container, **permissions):
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    return generate_container_sas(container.account.name, container.name, account_key=container.account.key,
                                  permission=ContainerSasPermissions(**permissions),
                                  expiry=datetime.datetime.now(datetime.timezone.utc)
                                  + datetime.timedelta(hours=1))


def _sas_store(container, token):
    return storage_for(values(**{"azblob.sas.token": token, "azblob.container.name": container.name,
                                 "store.url": container.account.endpoint}))


def test_a_sas_token_with_read_write_delete_and_list_does_everything(azure_container):
    if azure_container.account.key is None:
        pytest.skip("the account's key is not known")
    store = _sas_store(azure_container, _sas(azure_container, read=True, write=True, delete=True, list=True))
    path = store.path("topics", NAME)

    store.check()
    store.write(path, b"one")
    store.write(path, b"one")
    store.write(path, b"two")
    assert list(store.walk(store.path("topics"))) == [path]
    store.delete(path)
    assert azure_container.keys() == []


def test_a_read_only_sas_token_fails_the_write_and_stays_hidden(azure_container):
    if azure_container.account.key is None:
        pytest.skip("the account's key is not known")
    token = _sas(azure_container, read=True, list=True)
    store = _sas_store(azure_container, token)
    store.check()  # listing is allowed

    with pytest.raises(StorageError) as raised:
        store.write(store.path(NAME), b"x")

    message = str(raised.value)
    assert re.match(re.escape("could not write az://%s/%s: the credentials may not use container %r at %s ("
                              % (azure_container.name, NAME, azure_container.name,
                                 azure_container.account.endpoint)), message), message
    signature = re.search(r"sig=([^&]+)", token).group(1)
    assert token not in message and signature not in message
