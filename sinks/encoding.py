"""Keys and values as bytes, for the sinks that write messages (Kafka, queues): ``string`` or ``json``.

``string`` writes a string as UTF-8, bytes as they are and anything else as JSON text; ``json`` writes
schemaless JSON as Kafka's ``JsonConverter`` with ``schemas.enable=false`` does: bytes as base64,
timestamps as epoch milliseconds, dates as days since the epoch, times as milliseconds of the day,
decimals as numbers. A null stays null.

Also here: the check every such sink makes that a transform editing keys or values does not meet a
format that writes them as read (:func:`check_raw_edits`).
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
from typing import Any, Mapping, Optional, Tuple

from common.errors import ConfigError

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


def edited_part(transform_type: str) -> Optional[str]:
    """``key`` or ``value``: what a transform of this (full class) name edits; None for neither."""
    if transform_type.endswith("$Value"):
        return "value"
    if transform_type.endswith("$Key") or transform_type.rsplit(".", 1)[-1] == "ValueToKey":
        return "key"
    return None


def check_raw_edits(transforms, formats: Mapping[str, Tuple[str, str]], raw: str = "raw") -> None:
    """Refuses a transform that edits keys or values which the ``raw`` format writes as read.

    Args:
      transforms: ``(alias, type)`` of each configured transform.
      formats: ``{"key": (config key, format), "value": (config key, format)}``; a part left out is
        not written as read.
      raw: The name of the as-read format (``bytes`` for some connectors).

    Raises:
      ConfigError: naming the transform and the format key to change.
    """
    for alias, kind in transforms:
        part = edited_part(kind)
        if part in formats and formats[part][1] == raw:
            key = formats[part][0]
            raise ConfigError("transforms.%s.type=%r edits the record %ss, which %s=%s writes as "
                              "read: set %s to string or json" % (alias, kind, part, key, raw, key))
