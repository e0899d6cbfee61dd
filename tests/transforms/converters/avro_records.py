"""An Avro schema with every type the AvroConverter maps, records of it, and what they decode to."""

import datetime
import decimal
import json
import uuid

UTC = datetime.timezone.utc

SUB = {"type": "record", "name": "Sub", "fields": [{"name": "x", "type": "int"}]}

ALL_TYPES = {
    "type": "record", "name": "Order", "namespace": "shop", "doc": "an order",
    "connect.version": 3, "connect.parameters": {"origin": "test"},
    "fields": [
        {"name": "id", "type": "long", "doc": "the key"},
        {"name": "flag", "type": "boolean"},
        {"name": "small", "type": {"type": "int", "connect.type": "int16"}},
        {"name": "tiny", "type": {"type": "int", "connect.type": "int8"}},
        {"name": "count", "type": "int", "default": 7},
        {"name": "ratio", "type": "float"},
        {"name": "score", "type": "double"},
        {"name": "blob", "type": "bytes"},
        {"name": "name", "type": "string"},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
        {"name": "fixed_price", "type": {"type": "fixed", "name": "Money", "size": 8,
                                         "logicalType": "decimal", "precision": 12, "scale": 3}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "time_ms", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "time_us", "type": {"type": "long", "logicalType": "time-micros"}},
        {"name": "ts_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "ts_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "uid", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "choice", "type": ["null", "int", "string", SUB]},
        {"name": "color", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN"]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": "double"}},
        {"name": "sub", "type": ["null", "Sub"]},
        {"name": "subs", "type": {"type": "array", "items": "Sub"}},
        {"name": "fx", "type": {"type": "fixed", "name": "F4", "size": 4}},
        {"name": "by_id", "type": {"type": "array", "items": {
            "type": "record", "name": "MapEntry", "namespace": "io.confluent.connect.avro",
            "fields": [{"name": "key", "type": "int"}, {"name": "value", "type": "string"}]}}},
    ],
}
ALL_TYPES_TEXT = json.dumps(ALL_TYPES)


def record(i: int) -> dict:
    """A record of ``ALL_TYPES`` as the serializer takes it; every third has the optional parts null."""
    full = i % 3 != 2
    return {
        "id": i, "flag": i % 2 == 0, "small": -300 - i, "tiny": i % 100, "count": i * 10,
        "ratio": 0.5 + i, "score": 1e10 + i, "blob": bytes([i % 256, 0, 255]), "name": "n%d" % i,
        "price": decimal.Decimal("%d.%02d" % (i, i % 100)),
        "fixed_price": decimal.Decimal("-%d.125" % i),
        "day": datetime.date(2024, 1, 1) + datetime.timedelta(days=i),
        "time_ms": datetime.time(1, 2, 3, 4000), "time_us": datetime.time(1, 2, 3, 5 + i),
        "ts_ms": datetime.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC),
        "ts_us": datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        "uid": str(uuid.UUID(int=i)),
        "note": "note %d" % i if full else None,
        "choice": [("shop.Sub", {"x": i}), i, "s%d" % i][i % 3] if full else None,
        "color": "GREEN" if i % 2 else "RED",
        "tags": ["a", "b%d" % i], "attrs": {"k": 1.5 * i},
        "sub": {"x": -i} if full else None, "subs": [{"x": 1}, {"x": i}],
        "fx": b"ab%02d" % (i % 100), "by_id": [{"key": i, "value": "v%d" % i}],
    }


def expected(i: int) -> dict:
    """What the converter makes of ``record(i)``, as ``pa.Array.to_pylist`` shows it."""
    source = record(i)
    out = dict(source)
    out["time_us"] = 3723000000 + 5 + i
    out["ts_us"] = int(datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC).timestamp()) * 1_000_000 + 123456
    choice = source["choice"]
    branches = {"int": None, "string": None, "Sub": None}
    if isinstance(choice, tuple):
        branches["Sub"] = choice[1]
    elif isinstance(choice, int):
        branches["int"] = choice
    elif isinstance(choice, str):
        branches["string"] = choice
    out["choice"] = branches if choice is not None else None
    out["attrs"] = list(source["attrs"].items())
    out["by_id"] = [(i, "v%d" % i)]
    return out
