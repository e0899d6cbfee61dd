"""A JSON Schema with every type the JsonSchemaConverter maps, records of it, and what they convert to."""

import base64
import datetime
import decimal
import json

UTC = datetime.timezone.utc
DECIMAL = "org.apache.kafka.connect.data.Decimal"

ALL_TYPES = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "shop.Order", "description": "an order", "connect.version": 3,
    "connect.parameters": {"origin": "test"},
    "type": "object",
    "properties": {
        "id": {"type": "integer", "connect.index": 0},
        "flag": {"type": "boolean", "connect.index": 1},
        "tiny": {"type": "integer", "connect.type": "int8"},
        "small": {"type": "integer", "connect.type": "int16"},
        "medium": {"type": "integer", "connect.type": "int32"},
        "ratio": {"type": "number", "connect.type": "float32"},
        "score": {"type": "number"},
        "blob": {"type": "string", "connect.type": "bytes"},
        "name": {"type": "string", "description": "the name"},
        "price": {"type": "number", "title": DECIMAL, "connect.type": "bytes",
                  "connect.parameters": {"scale": "2", "connect.decimal.precision": "10"}},
        "price_b64": {"type": "string", "title": DECIMAL, "connect.type": "bytes",
                      "connect.parameters": {"scale": "3"}},
        "day": {"type": "integer", "title": "org.apache.kafka.connect.data.Date", "connect.type": "int32"},
        "time_ms": {"type": "integer", "title": "org.apache.kafka.connect.data.Time",
                    "connect.type": "int32"},
        "ts_ms": {"type": "integer", "title": "org.apache.kafka.connect.data.Timestamp",
                  "connect.type": "int64"},
        "note": {"oneOf": [{"type": "null"}, {"type": "string"}]},
        "nick": {"type": ["string", "null"]},
        "choice": {"oneOf": [{"type": "integer"}, {"type": "string"}, {"$ref": "#/definitions/Sub"}]},
        "color": {"type": "string", "enum": ["RED", "GREEN"]},
        "kind": {"const": "order"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "attrs": {"type": "object", "connect.type": "map", "additionalProperties": {"type": "number"}},
        "by_id": {"type": "array", "connect.type": "map", "items": {
            "type": "object", "properties": {"key": {"type": "integer", "connect.type": "int32"},
                                             "value": {"type": "string"}}}},
        "sub": {"oneOf": [{"type": "null"}, {"$ref": "#/definitions/Sub"}]},
        "subs": {"type": "array", "items": {"$ref": "#/$defs/Sub2"}},
        "count": {"type": "integer", "connect.type": "int32", "default": 7},
    },
    "required": ["id", "flag", "tiny", "small", "medium", "ratio", "score", "blob", "name", "price",
                 "price_b64", "day", "time_ms", "ts_ms", "choice", "color", "kind", "tags", "attrs",
                 "by_id", "subs"],
    "definitions": {"Sub": {"type": "object", "title": "shop.Sub", "properties": {"x": {"type": "integer"}},
                            "required": ["x"], "additionalProperties": False}},
    "$defs": {"Sub2": {"type": "object", "properties": {"y": {"type": "string"}}, "required": ["y"]}},
}
ALL_TYPES_TEXT = json.dumps(ALL_TYPES)


def _unscaled_b64(number: decimal.Decimal, scale: int) -> str:
    unscaled = int(number.scaleb(scale))
    return base64.b64encode(unscaled.to_bytes((unscaled.bit_length() + 8) // 8, "big", signed=True)).decode()


def record(i: int) -> dict:
    """A record of ``ALL_TYPES`` as the serializer takes it; every third has the optional parts null."""
    full = i % 3 != 2
    value = {
        "id": i, "flag": i % 2 == 0, "tiny": i % 100 - 50, "small": -300 - i, "medium": 70000 + i,
        "ratio": 0.5 + i, "score": 1e10 + i, "blob": base64.b64encode(bytes([i % 256, 0, 255])).decode(),
        "name": "n%d" % i, "price": i + 0.25,
        "price_b64": _unscaled_b64(decimal.Decimal("-%d.125" % i), 3),
        "day": 19723 + i, "time_ms": 3723004, "ts_ms": 1714979289123 + i,
        "note": "note %d" % i if full else None,
        "choice": [{"x": i}, i, "s%d" % i][i % 3],
        "color": "GREEN" if i % 2 else "RED", "kind": "order",
        "tags": ["a", "b%d" % i], "attrs": {"k": 1.5 * i},
        "by_id": [{"key": i, "value": "v%d" % i}],
        "sub": {"x": -i} if full else None, "subs": [{"y": "1"}, {"y": str(i)}],
    }
    if full:
        value["nick"] = "nick%d" % i
        value["count"] = i * 10
    else:
        value["nick"] = None  # and count missing: its default
    return value


def expected(i: int) -> dict:
    """What the converter makes of ``record(i)``, as ``pa.Array.to_pylist`` shows it."""
    source = record(i)
    out = dict(source)
    out["blob"] = bytes([i % 256, 0, 255])
    out["price"] = decimal.Decimal("%d.25" % i)
    out["price_b64"] = decimal.Decimal("-%d.125" % i)
    out["day"] = datetime.date(2024, 1, 1) + datetime.timedelta(days=i)
    out["time_ms"] = datetime.time(1, 2, 3, 4000)
    out["ts_ms"] = datetime.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC) + datetime.timedelta(
        milliseconds=i)
    branches = ["io.confluent.connect.json.OneOf.field.%d" % n for n in range(3)]
    out["choice"] = dict.fromkeys(branches)
    out["choice"][branches[(i % 3 + 2) % 3]] = source["choice"]
    out["attrs"] = list(source["attrs"].items())
    out["by_id"] = [(i, "v%d" % i)]
    out["count"] = source.get("count", 7)
    return out
