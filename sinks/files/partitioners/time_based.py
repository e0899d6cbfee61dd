"""Confluent's TimeBasedPartitioner and its Hourly and Daily presets.

A record's directory is its timestamp, floored to ``partition.duration.ms`` in ``timezone``, formatted
with ``path.format`` (a Joda-Time pattern, as Confluent's: ``'year'=YYYY/'month'=MM/'day'=dd``).

The timestamp comes from the record (``timestamp.extractor=Record``, the default here) or from a field
of its value (``RecordField`` with ``timestamp.field``: epoch milliseconds, a Connect Timestamp or an
ISO 8601 string). Confluent's ``Wallclock`` extractor is refused: it files a replayed record by the time
of the replay, so a rerun could write it twice, under two directories.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Optional, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from common.errors import ConfigError, RejectedRecord
from sinks.files.partitioners.base import Partitioner, Split, group_by
from sinks.files.partitioners.field import field_column
from transforms.records import ConvertedBundle

HOURLY_FORMAT = "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH"
DAILY_FORMAT = "'year'=YYYY/'month'=MM/'day'=dd"
EXTRACTORS = ("Record", "RecordField", "Wallclock")

# Joda-Time pattern letters (as counts) and the strftime directive each is written with.
_JODA = {"YYYY": "%Y", "yyyy": "%Y", "xxxx": "%G", "YY": "%y", "yy": "%y", "MM": "%m", "dd": "%d",
         "DDD": "%j", "HH": "%H", "mm": "%M", "ss": "%S", "ww": "%V"}
_TOKEN = re.compile(r"'(?:[^']|'')*'|([A-Za-z])\1*|.", re.S)


def joda_to_strftime(pattern: str) -> str:
    """``'year'=YYYY/'month'=MM`` -> ``year=%Y/month=%m``; numeric fields only.

    Raises:
      ConfigError: A letter run this translation does not support (text fields such as ``MMM``).
    """
    out = []
    for match in _TOKEN.finditer(pattern):
        token = match.group(0)
        if token.startswith("'"):
            literal = "'" if token == "''" else token[1:-1].replace("''", "'")
            out.append(literal.replace("%", "%%"))
        elif match.group(1):
            if token not in _JODA:
                raise ConfigError("path.format=%r: %r is not supported; use the numeric fields %s, and "
                                  "quote literal text ('year'=YYYY)"
                                  % (pattern, token, ", ".join(sorted(_JODA))))
            out.append(_JODA[token])
        else:
            out.append(token.replace("%", "%%"))
    return "".join(out)


class TimeBasedPartitioner(Partitioner):
    """Args:
      path_format: ``path.format`` (Joda-Time pattern).
      duration_ms: ``partition.duration.ms``.
      timezone: ``timezone`` (an IANA name such as ``UTC`` or ``Europe/Berlin``).
      extractor: ``timestamp.extractor``: ``Record`` or ``RecordField``.
      field: ``timestamp.field`` for ``RecordField``.
    """

    def __init__(self, path_format: str, duration_ms: int, timezone: str, extractor: str = "Record",
                 field: Optional[str] = None):
        if not path_format:
            raise ConfigError("path.format is required with the TimeBasedPartitioner "
                              "(for example 'year'=YYYY/'month'=MM/'day'=dd)")
        if duration_ms is None or duration_ms <= 0:
            raise ConfigError("partition.duration.ms must be a positive number of milliseconds with the "
                              "TimeBasedPartitioner, got %r" % duration_ms)
        if not timezone:
            raise ConfigError("timezone is required with time-based partitioners (for example UTC)")
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError("timezone must be an IANA time zone name such as UTC or Europe/Berlin, "
                              "got %r" % timezone) from None
        if extractor == "Wallclock":
            raise ConfigError("timestamp.extractor=Wallclock is not replay-safe: a rerun would file "
                              "records by the time of the rerun, under other directories, so a record "
                              "could be written twice. Use Record (the record's timestamp) or "
                              "RecordField with timestamp.field")
        if extractor == "RecordField" and not field:
            raise ConfigError("timestamp.extractor=RecordField needs timestamp.field")
        if extractor != "RecordField" and field:
            raise ConfigError("timestamp.field applies to timestamp.extractor=RecordField, got "
                              "timestamp.extractor=%s" % extractor)
        self.strftime = joda_to_strftime(path_format)
        self.duration_ms = duration_ms
        self.timezone = timezone
        self.extractor = extractor
        self.field = field

    def split(self, bundle: ConvertedBundle, offsets: Sequence[int], values: pa.Array) -> Split:
        millis = self._millis(bundle, offsets, values)
        local = pc.local_timestamp(millis.cast(pa.timestamp("ms", tz="UTC"))
                                   .cast(pa.timestamp("ms", tz=self.timezone)))
        ms = local.cast(pa.int64()).to_numpy(zero_copy_only=False)
        floored = pa.array(ms - np.mod(ms, self.duration_ms)).cast(pa.timestamp("ms"))
        return group_by(pc.strftime(floored, format=self.strftime))

    def _millis(self, bundle: ConvertedBundle, offsets: Sequence[int], values: pa.Array) -> pa.Array:
        if self.extractor == "Record":
            if len(offsets) == len(bundle.offsets):
                stamps = bundle.timestamps
            else:  # tombstones were dropped: the timestamps of the records kept
                at = dict(zip(bundle.offsets, bundle.timestamps))
                stamps = [at[o] for o in offsets]
            millis = pa.array(stamps, pa.int64())
            bad = pc.less(millis, 0)
            if pc.any(bad).as_py():
                raise RejectedRecord("the record has no timestamp, and timestamp.extractor=Record "
                                     "files records by it",
                                     [o for o, b in zip(offsets, bad.to_pylist()) if b])
            return millis
        column = field_column(bundle, offsets, values, self.field, "timestamp.field")
        if pa.types.is_integer(column.type):
            return column.cast(pa.int64())
        if pa.types.is_timestamp(column.type):
            return column.cast(pa.timestamp("ms", tz=column.type.tz)).cast(pa.int64())
        if pa.types.is_date(column.type):
            return column.cast(pa.timestamp("ms")).cast(pa.int64())
        if pa.types.is_string(column.type):
            return self._parse(bundle, offsets, column)
        raise RejectedRecord("timestamp.field=%s: the field is of type %s; it must hold epoch "
                             "milliseconds, a timestamp or an ISO 8601 string"
                             % (self.field, column.type), offsets)

    def _parse(self, bundle: ConvertedBundle, offsets: Sequence[int], column: pa.Array) -> pa.Array:
        """ISO 8601 strings to epoch ms; those without a zone offset are taken as UTC."""
        for target in (pa.timestamp("ms", tz="UTC"), pa.timestamp("ms")):
            try:
                return column.cast(target).cast(pa.int64())
            except pa.ArrowInvalid:
                continue
        bad, zoned = [], []
        for i, text in enumerate(column.to_pylist()):  # find the values that do not parse
            for target in (pa.timestamp("ms", tz="UTC"), pa.timestamp("ms")):
                try:
                    pa.array([text]).cast(target)
                    zoned.append(target.tz is not None)
                    break
                except pa.ArrowInvalid:
                    continue
            else:
                bad.append(offsets[i])
        if bad:
            raise RejectedRecord("timestamp.field=%s: the field's value is not an ISO 8601 timestamp"
                                 % self.field, bad)
        raise RejectedRecord("timestamp.field=%s: records %d..%d mix timestamps with and without a "
                             "zone offset" % (self.field, offsets[0], offsets[-1]),
                             [o for o, z in zip(offsets, zoned) if not z])
