"""Partitioners: which directory each record of a window goes to (Confluent's layouts)."""

import re

import pyarrow as pa
import pytest

from common.errors import ConfigError
from sinks.files.config import CONFIG_DEF
from sinks.files.partitioners import (DefaultPartitioner, FieldPartitioner, TimeBasedPartitioner,
                                      make_partitioner)
from sinks.files.partitioners.time_based import joda_to_strftime
from common.errors import RejectedRecord
from transforms.records import ConvertedBundle

HOUR = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def bundle(values, timestamps=None, first=100, topic="clicks", partition=2):
    values = pa.array(values)
    offsets = list(range(first, first + len(values)))
    timestamps = timestamps or [T0] * len(values)
    return ConvertedBundle(topic, partition, first, offsets, timestamps, pa.array([None] * len(values)),
                           values, [None] * len(values))


def split(partitioner, b):
    """{directory: offsets} of a bundle."""
    out = {}
    for directory, positions in partitioner.split(b, b.offsets, b.values):
        out[directory] = (b.offsets if positions is None
                          else [b.offsets[i] for i in positions.to_pylist()])
    return out


def partitioner(name, **keys):
    raw = {"store.url": "/tmp/x", "format.class": "json", "flush.size": "10", "partitioner.class": name}
    raw.update({k.replace("_", "."): v for k, v in keys.items()})
    return make_partitioner(name, CONFIG_DEF.parse(raw))


# path.format

@pytest.mark.parametrize("pattern, expected", [
    ("'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH", "year=%Y/month=%m/day=%d/hour=%H"),
    ("yyyy-MM-dd/HH'h'mm", "%Y-%m-%d/%Hh%M"),
    ("'it''s'/YYYY", "it's/%Y"),
    ("'100%'/dd", "100%%/%d"),
])
def test_joda_patterns_become_strftime(pattern, expected):
    assert joda_to_strftime(pattern) == expected


def test_text_fields_of_joda_patterns_are_refused():
    with pytest.raises(ConfigError, match=re.escape("path.format=\"'m'=MMM\": 'MMM' is not supported")):
        joda_to_strftime("'m'=MMM")


# DefaultPartitioner

def test_default_partitioner_puts_a_window_in_one_directory():
    b = bundle([{"a": 1}, {"a": 2}])

    assert split(DefaultPartitioner(), b) == {"partition=2": [100, 101]}
    assert DefaultPartitioner().partition_directory("clicks", 2) == "partition=2"


# Time-based

def test_hourly_partitioner_files_records_by_record_time_in_utc():
    b = bundle([{"n": i} for i in range(5)],
               timestamps=[T0, T0 + HOUR + 5, T0 + 10, T0 + 2 * HOUR, T0 + HOUR - 1])

    assert split(partitioner("hourly", timezone="UTC"), b) == {
        "year=2026/month=01/day=01/hour=00": [100, 102, 104],
        "year=2026/month=01/day=01/hour=01": [101],
        "year=2026/month=01/day=01/hour=02": [103],
    }
    assert partitioner("hourly", timezone="UTC").partition_directory("clicks", 2) is None


def test_time_zone_and_duration_floor_the_local_time():
    b = bundle([{"n": 1}, {"n": 2}, {"n": 3}], timestamps=[T0 - 1, T0 + 14 * 60_000, T0 + 16 * 60_000])
    quarter = partitioner("io.confluent.connect.storage.partitioner.TimeBasedPartitioner",
                          path_format="YYYY-MM-dd/HH-mm", partition_duration_ms="900000",
                          timezone="Europe/Berlin")

    assert split(quarter, b) == {"2026-01-01/00-45": [100], "2026-01-01/01-00": [101],
                                 "2026-01-01/01-15": [102]}


def test_daily_partitioner_in_a_time_zone_west_of_utc():
    b = bundle([{"n": 1}, {"n": 2}], timestamps=[T0 + 4 * HOUR, T0 + 6 * HOUR])

    assert split(partitioner("daily", timezone="America/New_York"), b) == {
        "year=2025/month=12/day=31": [100], "year=2026/month=01/day=01": [101]}


def test_record_field_timestamps_in_ms_iso_strings_and_nested_fields():
    values = [{"meta": {"at": T0}, "s": "2026-01-01T03:00:00Z"},
              {"meta": {"at": T0 + HOUR}, "s": "2026-01-01T05:30:00+02:00"}]
    by_ms = partitioner("hourly", timezone="UTC", timestamp_extractor="RecordField",
                        timestamp_field="meta.at")
    by_text = partitioner("hourly", timezone="UTC", timestamp_extractor="RecordField",
                          timestamp_field="s")

    assert list(split(by_ms, bundle(values))) == ["year=2026/month=01/day=01/hour=00",
                                                  "year=2026/month=01/day=01/hour=01"]
    assert list(split(by_text, bundle(values))) == ["year=2026/month=01/day=01/hour=03"]


def test_record_field_problems_name_the_record():
    by_field = partitioner("hourly", timezone="UTC", timestamp_extractor="RecordField",
                           timestamp_field="at")

    with pytest.raises(RejectedRecord, match=re.escape(
            "timestamp.field=at: the record has no value in field 'at'")) as rejected:
        split(by_field, bundle([{"at": "2026-01-01T00:00:00Z"}, {"at": None}]))
    assert rejected.value.offsets == (101,)
    with pytest.raises(RejectedRecord, match=re.escape(
            "timestamp.field=at: the field's value is not an ISO 8601 timestamp")) as rejected:
        split(by_field, bundle([{"at": "2026-01-01T00:00:00Z"}, {"at": "yesterday"}, {"at": "?"}]))
    assert rejected.value.offsets == (101, 102)
    with pytest.raises(RejectedRecord, match=re.escape(
            "timestamp.field=at: the record has no field 'at'")) as rejected:
        split(by_field, bundle([{"other": 1}, {"other": 2}]))
    assert rejected.value.offsets == (100, 101)


def test_a_record_without_a_timestamp_is_named():
    with pytest.raises(RejectedRecord, match=re.escape(
            "the record has no timestamp, and timestamp.extractor=Record files records by it")) as e:
        split(partitioner("hourly", timezone="UTC"), bundle([{"n": 1}, {"n": 2}], timestamps=[T0, -1]))
    assert e.value.offsets == (101,)


@pytest.mark.parametrize("name, keys, message", [
    ("hourly", {"timezone": "UTC", "timestamp.extractor": "Wallclock"},
     "timestamp.extractor=Wallclock is not replay-safe"),
    ("hourly", {}, "timezone is required with time-based partitioners"),
    ("daily", {"timezone": "Mars/Olympus"}, "timezone must be an IANA time zone name"),
    ("time", {"timezone": "UTC", "partition.duration.ms": "60000"},
     "path.format is required with the TimeBasedPartitioner"),
    ("time", {"timezone": "UTC", "path.format": "YYYY"}, "partition.duration.ms must be a positive"),
    ("hourly", {"timezone": "UTC", "path.format": "YYYY/MM"},
     "path.format is \"'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH\" with the HourlyPartitioner"),
    ("hourly", {"timezone": "UTC", "timestamp.extractor": "RecordField"},
     "timestamp.extractor=RecordField needs timestamp.field"),
    ("hourly", {"timezone": "UTC", "timestamp.field": "at"},
     "timestamp.field applies to timestamp.extractor=RecordField"),
    ("default", {"path.format": "YYYY"}, "path.format does not apply to the DefaultPartitioner"),
    ("default", {"timezone": "UTC"}, "timezone does not apply to the DefaultPartitioner"),
    ("field", {}, "partition.field.name is required with the FieldPartitioner"),
    ("field", {"partition.field.name": "a", "timezone": "UTC"},
     "timezone does not apply to the FieldPartitioner"),
    ("time", {"partition.field.name": "a"}, "partition.field.name does not apply to the TimeBasedPartitioner"),
])
def test_partitioner_key_errors(name, keys, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        partitioner(name, **keys)


def test_hourly_accepts_its_own_path_format_and_duration():
    made = partitioner("io.confluent.connect.storage.partitioner.HourlyPartitioner", timezone="UTC",
                       path_format="'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH",
                       partition_duration_ms="3600000")
    assert isinstance(made, TimeBasedPartitioner) and made.duration_ms == HOUR


# FieldPartitioner

def test_field_partitioner_names_directories_by_field_values():
    b = bundle([{"region": "eu", "tier": 1, "vip": True}, {"region": "us", "tier": 1, "vip": False},
                {"region": "eu", "tier": 2, "vip": True}, {"region": "eu", "tier": 1, "vip": False}])

    assert split(partitioner("field", partition_field_name="region"), b) == {
        "region=eu": [100, 102, 103], "region=us": [101]}
    assert split(partitioner("field", partition_field_name="region,tier"), b) == {
        "region=eu/tier=1": [100, 103], "region=us/tier=1": [101], "region=eu/tier=2": [102]}
    assert list(split(FieldPartitioner(["vip"]), b)) == ["vip=true", "vip=false"]


def test_field_partitioner_refuses_other_types_and_missing_values():
    with pytest.raises(RejectedRecord, match=re.escape(
            "partition.field.name=score: field 'score' of the record is of type double")) as e:
        split(FieldPartitioner(["score"]), bundle([{"score": 1.5}]))
    assert e.value.offsets == (100,)
    with pytest.raises(RejectedRecord, match=re.escape(
            "partition.field.name=region: the record has no value in field 'region'")) as e:
        split(FieldPartitioner(["region"]), bundle([{"region": "eu"}, {"region": None}]))
    assert e.value.offsets == (101,)
