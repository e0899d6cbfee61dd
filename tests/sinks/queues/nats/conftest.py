"""Session fixture ``nats_server``: a real NATS server with JetStream, started when a test asks.

The server is the suite's own launcher (:class:`~tests.servers.nats.LocalNats`: nats-server built
from its Go module, file storage in a temporary directory, stopped with the session). Set
``BEAMCONNECT_NATS_URL`` (``nats://HOST:PORT``, JetStream enabled, anonymous clients allowed) to run
against an existing server instead; the tests that stop and restart the server, or need password
users, then start local servers of their own. Every test makes uniquely named streams and subjects.
"""

import asyncio
import os
import uuid
from typing import List, Optional

import pytest

from tests.servers.nats import LocalNats

NATS_URL_VARIABLE = "BEAMCONNECT_NATS_URL"


class NatsServer:
    """A NATS server the tests talk to with nats-py: streams made, messages read back.

    Args:
      url: ``nats://HOST:PORT``.
      local: The launcher when the server is this session's own (it can be paused and resumed).
      user: A user and password, when the server has password users.
    """

    def __init__(self, url: str, local: Optional[LocalNats] = None, user: tuple = ()):
        self.url = url
        self.local = local
        self.user = user

    def run(self, work, on_connection=False):
        """Runs ``work(js)`` (a coroutine function; ``work(nc)`` with ``on_connection``) on a new
        connection; returns its result."""
        import nats

        async def main():
            options = dict(user=self.user[0], password=self.user[1]) if self.user else {}
            nc = await nats.connect(self.url, allow_reconnect=False, **options)
            try:
                return await work(nc if on_connection else nc.jetstream())
            finally:
                await nc.close()

        return asyncio.run(main())

    def max_payload(self) -> int:
        """The server's ``max_payload``."""
        async def read(nc):
            return nc.max_payload

        return self.run(read, on_connection=True)

    def stream(self, subjects=None, **config) -> tuple:
        """A new stream capturing ``subjects`` (default: one new subject); returns (name, subjects)."""
        name = "S%s" % uuid.uuid4().hex[:10]
        subjects = list(subjects or ["subj-%s" % uuid.uuid4().hex[:10]])

        async def add(js):
            await js.add_stream(name=name, subjects=subjects, **config)

        self.run(add)
        return name, subjects

    def count(self, stream: str) -> int:
        """Messages stored in ``stream``."""
        async def info(js):
            return (await js.stream_info(stream)).state.messages

        return self.run(info)

    def messages(self, stream: str) -> List:
        """Every message of ``stream`` in stream order, as nats-py ``Msg`` objects."""
        from nats.errors import TimeoutError as NatsTimeout
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        async def read(js):
            total = (await js.stream_info(stream)).state.messages
            consumer = await js.add_consumer(stream, ConsumerConfig(
                ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=30))
            sub = await js.pull_subscribe_bind(consumer=consumer.name, stream=stream)
            found = []
            while len(found) < total:
                try:
                    found.extend(await sub.fetch(min(1000, total - len(found)), timeout=5))
                except NatsTimeout:
                    break
            await sub.unsubscribe()
            return found

        return self.run(read)


@pytest.fixture(scope="session")
def nats_server():
    """The NATS server of ``BEAMCONNECT_NATS_URL``, or a local one stopped with the session."""
    url = os.environ.get(NATS_URL_VARIABLE)
    if url:
        yield NatsServer(url)
        return
    server = LocalNats().start()
    try:
        yield NatsServer(server.url, server)
    finally:
        server.stop()


@pytest.fixture
def own_nats_server():
    """A local NATS server of this test's own (to stop and restart), stopped after it."""
    server = LocalNats().start()
    try:
        yield NatsServer(server.url, server)
    finally:
        server.stop()
