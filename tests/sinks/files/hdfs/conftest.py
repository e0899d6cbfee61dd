"""Fixtures of the HDFS tests: one HDFS per session and a new directory in it per test.

``hdfs`` is a :class:`~tests.servers.hdfs.Hdfs`: the suite's own MiniDFSCluster
(:class:`~tests.servers.hdfs.LocalHdfs`, started on first use and stopped with the session), or the
cluster ``BEAMCONNECT_WEBHDFS_URL`` names (see :mod:`tests.servers.hdfs`).
"""

import uuid

import pytest

from tests.servers.hdfs import LocalHdfs, from_environment


@pytest.fixture(scope="session")
def hdfs():
    """An HDFS cluster: the one ``BEAMCONNECT_WEBHDFS_URL`` names, else the suite's own."""
    existing = from_environment()
    if existing is not None:
        existing.files("/")  # fail early, and clearly, when it cannot be used
        yield existing
        return
    server = LocalHdfs().start(timeout=180)
    try:
        yield server.hdfs
    finally:
        server.stop()


@pytest.fixture
def hdfs_dir(hdfs):
    """A new directory's absolute path (``/t-<random>``, not yet made), deleted after the test."""
    path = "/t-%s" % uuid.uuid4().hex[:10]
    yield path
    hdfs.delete(path)
