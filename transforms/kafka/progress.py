"""Where the Kafka reader reports how far it got.

In a local run the reader works in the driver's process and a progress display registers a listener here.
On a remote worker no listener exists and the reader logs a line now and then instead.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from common import metrics
from common.logs import partition_fields

_LOGGER = logging.getLogger(__name__)

Listener = Callable[[str, int, int, int], None]  # (topic, partition, next offset, records read)
_listeners: list = []
_lock = threading.Lock()
_LOG_EVERY_SECONDS = 10.0
_last_log = {}


def add_listener(listener: Listener) -> None:
    with _lock:
        _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def report(topic: str, partition: int, next_offset: int, records: int) -> None:
    """Called by the reader after each fetched batch with the records it added."""
    metrics.LIVE.read(topic, partition, next_offset)
    if _listeners:
        for listener in list(_listeners):
            listener(topic, partition, next_offset, records)
        return
    now = time.monotonic()
    key = (topic, partition)
    if now - _last_log.get(key, 0.0) >= _LOG_EVERY_SECONDS:
        _last_log[key] = now
        _LOGGER.info("reading topic=%s partition=%d at offset %d", topic, partition, next_offset,
                     extra=partition_fields(topic, partition, next_offset))
