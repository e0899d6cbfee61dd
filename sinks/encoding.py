"""Keys and values as bytes, for the sinks that write messages (Kafka, queues): ``string`` or ``json``.

``string`` writes a string as UTF-8, bytes as they are and anything else as JSON text; ``json`` writes
schemaless JSON as Kafka's ``JsonConverter`` with ``schemas.enable=false`` does: bytes as base64,
timestamps as epoch milliseconds, dates as days since the epoch, times as milliseconds of the day,
decimals as numbers. A null stays null.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
from typing import Any, Optional

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def encode(value: Any, fmt: str) -> Optional[bytes]:
    """One converted key or value (as Python data) in ``fmt`` (``string`` or ``json``)."""
    if value is None:
        return None
    if fmt == "string":
        if isinstance(value, str):
            return value.encode("utf-8")
        if isinstance(value, bytes):
            return value
    return json.dumps(value, default=_json_default, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def _json_default(value: Any):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return (value - _EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(value, datetime.date):
        return (value - _EPOCH.date()).days
    if isinstance(value, datetime.time):
        return ((value.hour * 60 + value.minute) * 60 + value.second) * 1000 + value.microsecond // 1000
    if isinstance(value, datetime.timedelta):
        return value // datetime.timedelta(milliseconds=1)
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError("%s values cannot be written as JSON" % type(value).__name__)
