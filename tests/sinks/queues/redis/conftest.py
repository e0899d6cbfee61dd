"""Session fixture ``redis_server``: a real Redis server, started when a test asks.

The server is the suite's own launcher (:class:`~tests.servers.redis.LocalRedis`: Debian's
redis-server 7, append-only file in a temporary directory, stopped with the session). Set
``BEAMCONNECT_REDIS_URL`` (``redis://[user:password@]HOST:PORT[/DB]``) to run against an existing
server instead; the test that stops and restarts the server is then skipped, and the credentials
test starts a server of its own anyway. Every test uses uniquely named Kafka topics, so streams.
"""

import dataclasses
import os
from typing import Optional

import pytest

from tests.servers.redis import LocalRedis

REDIS_URL_VARIABLE = "BEAMCONNECT_REDIS_URL"


@dataclasses.dataclass
class RedisServer:
    """The server the tests write to.

    Attributes:
      url: ``redis://...``, as ``redis.uri`` takes it.
      local: The launcher when the server is this session's own (pause, resume).
    """

    url: str
    local: Optional[LocalRedis] = None

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, protocol=2)

    def entries(self, stream: str) -> list:
        """``(id, {field: value})`` of every entry of ``stream``, fields and values as bytes."""
        return [(entry_id, dict(fields)) for entry_id, fields in self.client().xrange(stream)]


@pytest.fixture(scope="session")
def redis_server():
    """A Redis server: this session's own, or the one ``BEAMCONNECT_REDIS_URL`` names."""
    url = os.environ.get(REDIS_URL_VARIABLE)
    if url:
        server = RedisServer(url)
        server.client().ping()
        yield server
        return
    local = LocalRedis().start()
    try:
        yield RedisServer(local.url, local)
    finally:
        local.stop()
