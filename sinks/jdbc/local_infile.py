"""``LOAD DATA LOCAL INFILE`` that serves only the file the sink's own statement names.

With ``LOCAL``, the server asks the client for a file by name, and a plain client sends whatever file
it is asked for: a server (or anyone in the middle of an unencrypted connection) could read any file
this process can. That is why MySQL's Connector/J keeps ``allowLoadLocalInfile`` off by default, and
offers ``allowLoadLocalInfileInPath`` to allow one directory only. The sink goes one step further and
keeps the fast path on: each connection it makes to MySQL/MariaDB is a :class:`GuardedConnection`, which
answers a file request only while one of the sink's loads runs, only with the staging file that load
named, and refuses any other name (the load then fails, and nothing is read from the disk).
``allowLoadLocalInfile=false`` in ``connection.url`` turns ``LOCAL`` off altogether (multi-row
``INSERT`` staging instead).
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator, Optional

from pymysql import connections, err

#: CR_UNKNOWN_ERROR: not one of the codes of a server without LOCAL (the load must fail, not fall back).
_REJECTED = 2000


class _GuardedResult(connections.MySQLResult):
    def _read_load_local_packet(self, first_packet):
        conn = self.connection
        asked = connections.LoadLocalPacketWrapper(first_packet).filename
        offered: Optional[str] = getattr(conn, "offered_file", None)
        if offered is not None and asked == os.fsencode(offered):
            return super()._read_load_local_packet(first_packet)
        conn.write_packet(b"")  # an empty file, so that the exchange ends in step
        with contextlib.suppress(err.MySQLError):
            conn._read_packet()
        raise err.OperationalError(_REJECTED, "the server asked for the local file %r, which no load "
                                              "of this connection named; refused"
                                   % asked.decode("utf-8", "replace"))


class GuardedConnection(connections.Connection):
    """A PyMySQL connection whose ``LOCAL INFILE`` answers only :meth:`offering` the file named."""

    offered_file: Optional[str] = None

    @contextlib.contextmanager
    def offering(self, path: str) -> Iterator[None]:
        """Within the block, a file request for ``path`` (and only it) is answered."""
        self.offered_file = path
        try:
            yield
        finally:
            self.offered_file = None

    def _read_query_result(self, unbuffered=False):
        self._result = None
        result = _GuardedResult(self)
        if unbuffered:
            result.init_unbuffered_query()
        else:
            result.read()
        self._result = result
        if result.server_status is not None:
            self.server_status = result.server_status
        return result.affected_rows


def connect(dialect, connection_record, cargs, cparams):
    """SQLAlchemy's ``do_connect`` hook: a :class:`GuardedConnection` for the engine's arguments."""
    return GuardedConnection(*cargs, **cparams)


@contextlib.contextmanager
def offering(cursor, path: str) -> Iterator[None]:
    """Offers ``path`` on the cursor's connection for the block (a no-op on other connections)."""
    connection = getattr(cursor, "connection", None)
    if isinstance(connection, GuardedConnection):
        with connection.offering(path):
            yield
    else:
        yield
