"""HdfsStorage against a real HDFS (MiniDFSCluster): the contract every store passes, a rename onto an
existing file, temporary names, and ``check`` naming what is wrong before any record is read."""

import re

import pytest

from sinks.files.storage import HdfsStorage, StorageError, storage_for
from sinks.files.storage.hdfs import HdfsStorage as _Hdfs
from tests.servers.hdfs import conf_dir
from tests.sinks.files.test_storage import (  # noqa: F401  the store contract, run on this store
    test_a_large_file_arrives_whole, test_check_passes_on_an_empty_store, test_store_survives_pickling_after_use,
    test_walk_may_start_after_a_path, test_write_list_replace_and_delete, values)


@pytest.fixture(params=["webhdfs", "hdfs+conf"])
def store(request, hdfs, hdfs_dir, tmp_path):
    """The test's directory through a ``webhdfs://`` URL, or an ``hdfs://`` URL whose WebHDFS address
    comes from ``hadoop.conf.dir``."""
    if request.param == "webhdfs":
        keys = {"hdfs.url": "webhdfs://%s%s" % (hdfs.http_address, hdfs_dir)}
    else:
        keys = {"hdfs.url": "hdfs:///%s" % hdfs_dir.strip("/"),
                "hadoop.conf.dir": str(conf_dir(tmp_path / "conf", hdfs))}
    made = storage_for(values(**keys))
    assert isinstance(made, HdfsStorage) and made.native is None
    return made


def test_paths_are_urls_below_the_store(hdfs, hdfs_dir, tmp_path):
    store = storage_for(values(**{"hdfs.url": "hdfs:///%s/" % hdfs_dir.strip("/"),
                                  "hadoop.conf.dir": str(conf_dir(tmp_path, hdfs, rpc="hdfs://nn:8020"))}))

    assert store.url == "hdfs://nn:8020%s" % hdfs_dir
    assert store.path("topics", "t") == "hdfs://nn:8020%s/topics/t" % hdfs_dir
    assert store.hdfs_path(store.path("topics", "t", "f.avro")) == "%s/topics/t/f.avro" % hdfs_dir
    assert store.namenodes == (hdfs.webhdfs,)


def test_a_replay_replaces_an_existing_file_whole_and_leaves_no_temporary_file(store, hdfs, hdfs_dir):
    path = store.path("topics", "t", "partition=0", "t+0+0000000000+0000000009.avro")
    store.write(path, b"first")
    store.write(path, b"second, longer than the first")  # HDFS's plain rename fails onto a file

    assert hdfs.read("%s/topics/t/partition=0/t+0+0000000000+0000000009.avro" % hdfs_dir) == \
        b"second, longer than the first"
    assert hdfs.files(hdfs_dir) == ["topics/t/partition=0/t+0+0000000000+0000000009.avro"]


def test_walk_lists_hidden_temporary_files_too(store, hdfs, hdfs_dir):
    hdfs.put("%s/d/.t+0+0000000000+0000000009.avro.abc.tmp" % hdfs_dir, b"left by a killed run")
    store.write(store.path("d", "e", "f.avro"), b"x")

    assert sorted(store.walk(store.path("d"))) == [store.path("d", ".t+0+0000000000+0000000009.avro.abc.tmp"),
                                                   store.path("d", "e", "f.avro")]
    assert list(store.walk(store.path("missing"))) == []


def test_check_names_a_directory_the_user_may_not_write(hdfs, hdfs_dir):
    hdfs.mkdirs(hdfs_dir + "/locked", permission="555")
    store = _Hdfs("webhdfs://x%s/locked/out" % hdfs_dir, hdfs_dir + "/locked/out", [hdfs.webhdfs],
                  user="nobody")

    with pytest.raises(StorageError, match=re.escape(
            "store.url=webhdfs://x%s/locked/out cannot be used: user nobody may not write to %s/locked: "
            "Permission denied: user=nobody, access=WRITE" % (hdfs_dir, hdfs_dir))):
        store.check()
    with pytest.raises(StorageError, match=re.escape(
            "could not write webhdfs://x%s/locked/out/f.avro: AccessControlException: Permission "
            "denied: user=nobody, access=WRITE" % hdfs_dir)):
        store.write(store.path("f.avro"), b"x")


def test_check_names_a_store_url_below_a_file(hdfs, hdfs_dir):
    hdfs.put(hdfs_dir + "/file", b"")
    store = storage_for(values(**{"hdfs.url": "webhdfs://%s%s/file/out" % (hdfs.http_address, hdfs_dir)}))

    with pytest.raises(StorageError, match=re.escape(
            "store.url=webhdfs://%s%s/file/out cannot be used: %s/file is not a directory"
            % (hdfs.http_address, hdfs_dir, hdfs_dir))):
        store.check()


def test_check_names_a_namenode_that_does_not_answer():
    store = storage_for(values(**{"hdfs.url": "webhdfs://127.0.0.1:9/data"}))

    with pytest.raises(StorageError, match=re.escape(
            "store.url=webhdfs://127.0.0.1:9/data cannot be used: ConnectionError: ")):
        store.check()


def test_an_ha_nameservice_finds_its_active_namenode(hdfs, hdfs_dir, tmp_path):
    """The first namenode listed does not answer (as a dead one does); the second is used."""
    (tmp_path / "hdfs-site.xml").write_text(
        '<configuration>'
        '<property><name>dfs.nameservices</name><value>lake</value></property>'
        '<property><name>dfs.ha.namenodes.lake</name><value>nn1,nn2</value></property>'
        '<property><name>dfs.namenode.http-address.lake.nn1</name><value>127.0.0.1:9</value></property>'
        '<property><name>dfs.namenode.http-address.lake.nn2</name><value>%s</value></property>'
        '</configuration>' % hdfs.http_address)
    store = storage_for(values(**{"hdfs.url": "hdfs://lake%s" % hdfs_dir, "hadoop.conf.dir": str(tmp_path)}))

    assert store.namenodes == ("http://127.0.0.1:9", hdfs.webhdfs)
    store.write(store.path("a.json"), b"{}\n")
    assert hdfs.files(hdfs_dir) == ["a.json"]
