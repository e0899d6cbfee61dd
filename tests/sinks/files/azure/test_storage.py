"""AzureBlobStorage against a real blob service (Azurite): the contract every store passes, large files
as committed block lists, and ``check`` naming what is wrong before any record is read."""

import base64
import hashlib
import os
import re

import pytest

from sinks.files.storage import AzureBlobStorage, StorageError, storage_for
from sinks.files.storage.azure import MIN_BLOCK_SIZE
from tests.sinks.files.test_storage import (  # noqa: F401  the store contract, run on this store
    test_a_large_file_arrives_whole, test_check_passes_on_an_empty_store,
    test_store_survives_pickling_after_use, test_walk_may_start_after_a_path,
    test_write_list_replace_and_delete, values)


@pytest.fixture(params=["url", "keys"])
def store(request, azure_container):
    """The container through an ``az://`` URL with prefix ``data``, or through Confluent's keys."""
    keys = azure_container.config(prefix="data" if request.param == "url" else "")
    made = storage_for(values(**keys))
    assert isinstance(made, AzureBlobStorage)
    return made


def _small_blocks(container):
    return storage_for(values(**container.config(prefix="data"), azblob_block_size=str(MIN_BLOCK_SIZE)))


def test_paths_are_urls_of_the_container(azure_container):
    by_url = storage_for(values(**azure_container.config(prefix="data")))
    by_keys = storage_for(values(**azure_container.config()))

    assert by_url.path("topics", "t") == "az://%s/data/topics/t" % azure_container.name
    assert by_keys.path("topics", "t") == "az://%s/topics/t" % azure_container.name
    assert by_keys.key(by_keys.path("topics", "t", "f.json")) == "topics/t/f.json"


def test_a_file_larger_than_the_block_size_is_one_committed_block_list(azure_container):
    store = _small_blocks(azure_container)
    data = os.urandom(2 * MIN_BLOCK_SIZE + 1000)
    path = store.path("big.parquet")

    store.write(path, data)

    blob = azure_container.client.get_blob_client("data/big.parquet")
    committed, uncommitted = blob.get_block_list("all")
    assert [block.size for block in committed] == [MIN_BLOCK_SIZE, MIN_BLOCK_SIZE, 1000] and not uncommitted
    assert bytes(blob.get_blob_properties().content_settings.content_md5) == hashlib.md5(data).digest()
    assert azure_container.read("data/big.parquet") == data


class _Killed(Exception):
    pass


def _stage_like_a_killed_upload(container, key):
    """Stages one block of a large upload, as this store does, then stops it, as a SIGKILL would."""
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient.from_connection_string(container.account.connection_string,
                                                      max_single_put_size=MIN_BLOCK_SIZE,
                                                      max_block_size=MIN_BLOCK_SIZE)

    def kill(response):
        raise _Killed()

    with pytest.raises(_Killed):
        client.get_blob_client(container.name, key).upload_blob(
            os.urandom(2 * MIN_BLOCK_SIZE), overwrite=False, validate_content=True, raw_response_hook=kill)


def _stage_like_another_tool(container, key):
    """Stages a block whose ID has another length than this store's."""
    container.client.get_blob_client(key).stage_block("killed-0", b"a part of another tool's file")


@pytest.mark.parametrize("stage", [_stage_like_a_killed_upload, _stage_like_another_tool])
@pytest.mark.parametrize("size", [100, MIN_BLOCK_SIZE + 10])
def test_blocks_staged_by_a_killed_upload_are_invisible_and_replaced_by_the_next_write(
        azure_container, stage, size):
    store = _small_blocks(azure_container)
    key = "data/t+0+0000000000.json"
    stage(azure_container, key)
    assert azure_container.client.get_blob_client(key).get_block_list("uncommitted")[1]

    assert azure_container.keys() == []  # staged blocks are no blob
    assert list(store.walk(store.path(""))) == []
    data = os.urandom(size)
    store.write(store.path("t+0+0000000000.json"), data)

    assert azure_container.read(key) == data
    assert azure_container.keys() == [key]


def test_walk_skips_the_directory_markers_of_hierarchical_namespace_accounts(azure_container):
    store = storage_for(values(**azure_container.config(prefix="data")))
    azure_container.client.upload_blob("data/topics/t", b"", metadata={"hdi_isfolder": "true"})
    store.write(store.path("topics", "t", "a.json"), b"{}")

    assert list(store.walk(store.path("topics"))) == [store.path("topics", "t", "a.json")]


def test_delete_removes_a_blob_with_its_snapshots(azure_container):
    store = storage_for(values(**azure_container.config(prefix="data")))
    path = store.path("a.json")
    store.write(path, b"{}")
    azure_container.client.get_blob_client("data/a.json").create_snapshot()

    store.delete(path)

    assert azure_container.keys() == []


def test_check_names_a_missing_container(azure_container, azure_account):
    keys = azure_container.config()
    keys["azblob.container.name"] = "no-such-container"

    with pytest.raises(StorageError, match=re.escape(
            "store.url=az://no-such-container cannot be used: container 'no-such-container' does not exist "
            "in account %r" % azure_account.name)):
        storage_for(values(**keys)).check()


def test_check_names_a_refused_key_and_never_shows_it(azure_container, azure_account):
    wrong = base64.b64encode(b"not the key of this account" * 2).decode()
    keys = dict(azure_container.config(), **{"azblob.account.key": wrong})
    if "azblob.connection.string" in keys:
        pytest.skip("the account is named by a SAS connection string")

    with pytest.raises(StorageError) as raised:
        storage_for(values(**keys)).check()

    message = str(raised.value)
    assert message.startswith("store.url=az://%s cannot be used: the credentials may not use container %r "
                              "in account %r (" % (azure_container.name, azure_container.name,
                                                   azure_account.name)), message
    assert wrong not in message and azure_account.key not in message


def test_check_names_an_endpoint_that_does_not_answer(azure_container):
    from pipelines.processes import free_ports

    keys = dict(azure_container.config(prefix="data"))
    endpoint = "http://127.0.0.1:%d/devstoreaccount1" % free_ports(1)[0]
    keys["azblob.connection.string"] = keys["azblob.connection.string"].replace(
        azure_container.account.endpoint, endpoint)
    store = storage_for(values(**keys, azblob_retry_retries="1", azblob_retry_backoff_ms="0"))

    with pytest.raises(StorageError, match=re.escape(
            "store.url=az://%s/data cannot be used: cannot reach %s (" % (azure_container.name, endpoint))):
        store.check()
