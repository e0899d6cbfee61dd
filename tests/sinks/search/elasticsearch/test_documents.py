"""Document ids and JSON documents of records (sinks.search.documents), and index mappings of
Connect schemas (sinks.search.elasticsearch.mapping): pure functions."""

import re

import orjson
import pyarrow as pa
import pytest

from common.errors import BeamConnectError
from sinks.search.documents import Invalid, coordinates_id, documents, json_documents, key_ids
from sinks.search.elasticsearch.mapping import build_mapping
from tests.sinks.search.elasticsearch.conftest import bundle
from transforms.records import ConvertedBundle

SCHEMA = {"type": "struct", "fields": [
    {"field": "id", "type": "int64"},
    {"field": "price", "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal",
     "parameters": {"scale": "2"}, "optional": True},
    {"field": "day", "type": "int32", "name": "org.apache.kafka.connect.data.Date", "optional": True},
    {"field": "at", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp",
     "optional": True},
    {"field": "time", "type": "int32", "name": "org.apache.kafka.connect.data.Time", "optional": True},
    {"field": "blob", "type": "bytes", "optional": True},
    {"field": "labels", "type": "map", "keys": {"type": "string"}, "values": {"type": "int32"},
     "optional": True},
    {"field": "items", "type": "array", "optional": True, "items": {
        "type": "struct", "optional": True, "fields": [
            {"field": "at", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp",
             "optional": True}]}},
    {"field": "n", "type": "int32", "optional": True, "default": 7}]}
VALUE = {"id": 1, "price": "AZA=", "day": 19723, "at": 1_700_000_000_000, "time": 3_600_000,
         "blob": "AQI=", "labels": {"a": 1}, "items": [{"at": 5}, None], "n": None}


def test_ids_are_string_and_integer_keys_or_coordinates():
    assert coordinates_id("orders", 3, 42) == "orders+3+42"
    made = bundle("t", [("a", {"v": 1}), (None, {"v": 2}), ("", {"v": 3})])
    assert key_ids(made) == ["a", Invalid("the record key is null, so it cannot be the document id"),
                             Invalid("the record key is empty, so it cannot be the document id")]
    numbers = ConvertedBundle("t", 0, 0, [0, 1], [0, 0], pa.array([7, None]), pa.array([None, None]),
                              [None, None])
    assert key_ids(numbers)[0] == "7"
    floats = ConvertedBundle("t", 0, 0, [0], [0], pa.array([1.5]), pa.array([None]), [None])
    assert key_ids(floats) == [Invalid("a number key cannot be a document id (only string and "
                                       "integer keys can)")]


def test_connect_types_are_written_as_json_numbers_and_text():
    [doc] = json_documents(bundle("t", [("a", VALUE)], schema=SCHEMA))
    assert orjson.loads(doc) == {
        "id": 1, "price": 4.0, "day": 1_704_067_200_000, "at": 1_700_000_000_000,
        "time": 3_600_000, "blob": "AQI=", "labels": {"a": 1}, "items": [{"at": 5}, None], "n": 7}
    [loose] = json_documents(bundle("t", [("a", VALUE)], schema=SCHEMA), compact_map_entries=False)
    assert orjson.loads(loose)["labels"] == [{"key": "a", "value": 1}]
    [as_dict] = documents(bundle("t", [("a", VALUE)], schema=SCHEMA))
    assert as_dict["blob"] == "AQI=" and as_dict["day"] == 1_704_067_200_000


def test_schemaless_values_are_sent_as_read_when_allowed():
    made = bundle("t", [("a", b'{"b": 1,\n "c": null}'), ("b", b'{"b":2}'), ("c", None)])
    assert json_documents(made, raw=True) == [b'{"b":1,"c":null}', b'{"b":2}', None]
    assert json_documents(made) == [b'{"b":1,"c":null}', b'{"b":2,"c":null}', None]


def test_values_that_are_not_objects_are_no_documents():
    strings = bundle("t", [("a", b'"text"')])
    assert json_documents(strings, raw=True) == [
        Invalid("the value is not a JSON object, and a document must be one")]
    assert json_documents(strings) == [Invalid(
        "the value is a string, not a struct or a map with string keys, and a document must be a "
        "JSON object")]


def test_the_mapping_of_a_connect_schema():
    made = bundle("t", [("a", VALUE)], schema=SCHEMA)
    assert build_mapping(made.value_schema, "v") == {"properties": {
        "id": {"type": "long"}, "price": {"type": "double"}, "day": {"type": "date"},
        "at": {"type": "date"}, "time": {"type": "date"}, "blob": {"type": "binary"},
        "labels": {"properties": {"key": {"type": "text", "fields": {
            "keyword": {"type": "keyword", "ignore_above": 256}}}, "value": {"type": "integer"}}},
        "items": {"properties": {"at": {"type": "date"}}},
        "n": {"type": "integer", "null_value": 7}}}


def test_a_schema_that_is_not_a_struct_has_no_mapping():
    strings = bundle("t", [("a", "x")], schema={"type": "string"})
    with pytest.raises(BeamConnectError, match=re.escape("the value schema is string, not a struct")):
        build_mapping(strings.value_schema, "the value schema")
