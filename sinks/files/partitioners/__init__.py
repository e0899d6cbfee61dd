"""Partitioners: the directory below ``<topics.dir>/<topic>/`` each record's file goes to.

Found by ``partitioner.class``; Confluent's class names are accepted:

==================================  =============================================================
``default`` / DefaultPartitioner    ``partition=<kafka partition>``
``field`` / FieldPartitioner        ``<field>=<value>`` for each of ``partition.field.name``
``time`` / TimeBasedPartitioner     ``path.format`` of the timestamp floored to ``partition.duration.ms``
``hourly`` / HourlyPartitioner      ``'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH``, one hour
``daily`` / DailyPartitioner        ``'year'=YYYY/'month'=MM/'day'=dd``, one day
==================================  =============================================================
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from common.errors import ConfigError
from sinks.files.partitioners.base import DefaultPartitioner, Partitioner
from sinks.files.partitioners.field import FieldPartitioner
from sinks.files.partitioners.time_based import (DAILY_FORMAT, EXTRACTORS, HOURLY_FORMAT,
                                                 TimeBasedPartitioner)

_PREFIX = "io.confluent.connect.storage.partitioner."
#: Keys of the field and time-based partitioners (all default to None): set with another one, they
#: would have no effect, which is an error.
FIELD_KEYS = ("partition.field.name",)
TIME_KEYS = ("path.format", "partition.duration.ms", "timezone", "timestamp.field")


def _default(values: Mapping[str, Any]) -> Partitioner:
    _refuse(values, FIELD_KEYS + TIME_KEYS, "DefaultPartitioner")
    return DefaultPartitioner()


def _field(values: Mapping[str, Any]) -> Partitioner:
    _refuse(values, TIME_KEYS, "FieldPartitioner")
    return FieldPartitioner(values.get("partition.field.name") or ())


def _time(values: Mapping[str, Any]) -> Partitioner:
    _refuse(values, FIELD_KEYS, "TimeBasedPartitioner")
    return TimeBasedPartitioner(values.get("path.format"), values.get("partition.duration.ms"),
                                values.get("timezone"), values.get("timestamp.extractor", "Record"),
                                values.get("timestamp.field"))


def _preset(name: str, path_format: str, duration_ms: int) -> Callable[[Mapping[str, Any]], Partitioner]:
    def make(values: Mapping[str, Any]) -> Partitioner:
        _refuse(values, FIELD_KEYS, name)
        for key, fixed in (("path.format", path_format), ("partition.duration.ms", duration_ms)):
            if values.get(key) not in (None, fixed):
                raise ConfigError("%s is %r with the %s; got %r (use the TimeBasedPartitioner for "
                                  "another layout)" % (key, fixed, name, values[key]))
        return TimeBasedPartitioner(path_format, duration_ms, values.get("timezone"),
                                    values.get("timestamp.extractor", "Record"),
                                    values.get("timestamp.field"))
    return make


def _refuse(values: Mapping[str, Any], keys, name: str) -> None:
    for key in keys:
        if values.get(key) is not None:
            raise ConfigError("%s does not apply to the %s; remove it or choose a partitioner.class "
                              "that uses it" % (key, name))


PARTITIONERS = {
    "default": _default,
    "field": _field,
    "time": _time,
    "hourly": _preset("HourlyPartitioner", HOURLY_FORMAT, 3_600_000),
    "daily": _preset("DailyPartitioner", DAILY_FORMAT, 86_400_000),
}
PARTITIONERS.update({_PREFIX + cls: PARTITIONERS[short] for short, cls in (
    ("default", "DefaultPartitioner"), ("field", "FieldPartitioner"), ("time", "TimeBasedPartitioner"),
    ("hourly", "HourlyPartitioner"), ("daily", "DailyPartitioner"))})


def make_partitioner(name: str, values: Optional[Mapping[str, Any]] = None) -> Partitioner:
    """The partitioner ``partitioner.class`` names, built from the sink's parsed keys."""
    try:
        factory = PARTITIONERS[name]
    except KeyError:
        raise ConfigError("partitioner.class must be one of %s, got %r"
                          % (", ".join(repr(n) for n in PARTITIONERS), name)) from None
    return factory(values or {})


__all__ = ["DefaultPartitioner", "EXTRACTORS", "FieldPartitioner", "PARTITIONERS", "Partitioner",
           "TimeBasedPartitioner", "make_partitioner"]
