"""What the Kafka sink produces of a bundle: each kept record's target topic, key, value, timestamp
and headers, the key and value written as ``kafka.key.format``/``kafka.value.format`` say.

``raw`` writes the bytes as read (the config refuses transforms that edit what it writes);
``string`` writes a string as UTF-8, bytes as they are and anything else as JSON text; ``json``
writes schemaless JSON as Kafka's ``JsonConverter`` with ``schemas.enable=false`` does: bytes as
base64, timestamps as epoch milliseconds, dates as days since the epoch, times as milliseconds of
the day, decimals as numbers. A null stays null (a tombstone stays a tombstone).
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
from typing import Any, List, Optional, Tuple

from common.errors import BeamConnectError
from transforms.kafka.producer import ProducerRecord
from transforms.records import ConvertedBundle

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def producer_records(bundle: ConvertedBundle, key_format: str,
                     value_format: str) -> List[Tuple[str, ProducerRecord]]:
    """``(target topic, record)`` of every kept record of ``bundle``, in order.

    Raises:
      BeamConnectError: ``raw`` is asked for but the bundle carries no raw records.
    """
    keys = _column(bundle, "keys", key_format)
    values = _column(bundle, "values", value_format)
    return [(bundle.topic_of(i), ProducerRecord(keys[i], values[i], bundle.timestamps[i],
                                                list(bundle.headers[i]) if bundle.headers[i] else None))
            for i in range(len(bundle))]


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


def _column(bundle: ConvertedBundle, name: str, fmt: str) -> list:
    if fmt == "raw":
        if bundle.raw is None or bundle.rows is None:
            raise BeamConnectError("kafka.%s.format=raw needs the records as read, which bundle of "
                                   "topic=%s partition=%d does not carry"
                                   % (name[:-1], bundle.topic, bundle.partition))
        raw = getattr(bundle.raw, name)
        return [raw[row] for row in bundle.rows]
    return [encode(v, fmt) for v in getattr(bundle, name).to_pylist()]


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
