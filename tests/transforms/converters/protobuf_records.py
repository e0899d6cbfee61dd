"""A Protobuf schema with every type the ProtobufConverter maps, message classes of it, records, and what
they decode to.

The message classes are compiled from the ``.proto`` text by grpcio-tools' protoc (a test dependency)
into a descriptor pool of their own, which confluent-kafka's ProtobufSerializer takes like generated
code.
"""

import datetime
import decimal
import os
import subprocess
import sys
import tempfile

from confluent_kafka.schema_registry.confluent.type.decimal_utils import to_proto_decimal
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

UTC = datetime.timezone.utc

ORDER_PROTO = """\
syntax = "proto3";
package shop;

import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
import "google/type/date.proto";
import "google/type/timeofday.proto";
import "confluent/meta.proto";
import "confluent/type/decimal.proto";

message Order {
  int64 id = 1;
  bool flag = 2;
  int32 count = 3;
  sint32 s32 = 4;
  sfixed32 sf32 = 5;
  uint32 u32 = 6;
  fixed32 f32 = 7;
  sint64 s64 = 8;
  sfixed64 sf64 = 9;
  uint64 u64 = 10;
  fixed64 f64 = 11;
  float ratio = 12;
  double score = 13;
  string name = 14;
  bytes blob = 15;
  Color color = 16;
  repeated string tags = 17;
  map<string, double> attrs = 18;
  Sub sub = 19;
  repeated Sub subs = 20;
  oneof choice {
    int32 choice_int = 21;
    string choice_str = 22;
    Sub choice_sub = 23;
  }
  google.protobuf.Timestamp ts = 24;
  google.type.Date day = 25;
  google.type.TimeOfDay tod = 26;
  confluent.type.Decimal price = 27 [(confluent.field_meta) = {
    params: [{key: "precision", value: "10"}, {key: "scale", value: "2"}]}];
  google.protobuf.StringValue note = 28;
  google.protobuf.Int64Value maybe = 29;
  optional string nick = 30;
  map<int32, Sub> by_id = 31;
  int32 small = 32 [(confluent.field_meta) = {params: [{key: "connect.type", value: "int16"}]}];

  message Sub {
    int32 x = 1;
  }
  enum Color {
    RED = 0;
    GREEN = 1;
  }
}

message Other {
  string other = 1;
}
"""


def compile_proto(files: dict, main: str) -> descriptor_pb2.FileDescriptorSet:
    """The FileDescriptorSet protoc makes of ``main`` among ``files`` (name to .proto text), imports
    included."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files.items():
            path = os.path.join(tmp, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as out:
                out.write(text)
        import grpc_tools

        includes = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
        out = os.path.join(tmp, "out.pb")
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", tmp, "-I", includes,
                        "-I", _google_type_root(), "-I", _confluent_root(), "--include_imports",
                        "--descriptor_set_out=" + out, main], check=True, capture_output=True)
        with open(out, "rb") as result:
            return descriptor_pb2.FileDescriptorSet.FromString(result.read())


def _google_type_root():
    import google.type

    return os.path.dirname(os.path.dirname(list(google.type.__path__)[0]))


def _confluent_root():
    """A folder holding confluent/meta.proto and confluent/type/decimal.proto, written from the
    descriptors confluent-kafka ships (protoc needs them as files)."""
    folder = os.path.join(tempfile.gettempdir(), "beamconnect-test-confluent-protos")
    meta = os.path.join(folder, "confluent", "meta.proto")
    if not os.path.exists(meta):
        os.makedirs(os.path.join(folder, "confluent", "type"), exist_ok=True)
        with open(meta, "w") as out:
            out.write(_META)
        with open(os.path.join(folder, "confluent", "type", "decimal.proto"), "w") as out:
            out.write(_DECIMAL)
    return folder


_META = """\
syntax = "proto3";
package confluent;
import "google/protobuf/descriptor.proto";
message Meta {
  string doc = 1;
  map<string, string> params = 2;
  repeated string tags = 3;
}
extend google.protobuf.FieldOptions { Meta field_meta = 1088; }
"""
_DECIMAL = """\
syntax = "proto3";
package confluent.type;
message Decimal {
  bytes value = 1;
  uint32 precision = 2;
  int32 scale = 3;
}
"""


def message_classes(files: dict, main: str) -> dict:
    """Message classes by full name, in a pool of their own holding ``main`` and its imports."""
    pool = descriptor_pool.DescriptorPool()
    found = {}
    for proto in compile_proto(files, main).file:
        if proto.name == "confluent/meta.proto":
            from confluent_kafka.schema_registry.confluent import meta_pb2

            proto = descriptor_pb2.FileDescriptorProto.FromString(meta_pb2.DESCRIPTOR.serialized_pb)
        elif proto.name == "confluent/type/decimal.proto":
            from confluent_kafka.schema_registry.confluent.type import decimal_pb2

            proto = descriptor_pb2.FileDescriptorProto.FromString(decimal_pb2.DESCRIPTOR.serialized_pb)
        pool.Add(proto)
        for message in proto.message_type:
            full = "%s.%s" % (proto.package, message.name) if proto.package else message.name
            found[full] = message_factory.GetMessageClass(pool.FindMessageTypeByName(full))
    return found


def order_class():
    """The class of ``shop.Order``."""
    return message_classes({"shop/order.proto": ORDER_PROTO}, "shop/order.proto")["shop.Order"]


def record(order_class, i: int):
    """An ``Order``; every third has its optional parts unset."""
    full = i % 3 != 2
    order = order_class(
        id=i, flag=i % 2 == 0, count=i * 10, s32=-5 - i, sf32=-70000 - i, u32=4_000_000_000 + i,
        f32=3_000_000_000 + i, s64=-(1 << 40) - i, sf64=-(1 << 50), u64=(1 << 64) - 1 - i,
        f64=(1 << 63) + i, ratio=0.5 + i, score=1e10 + i, name="n%d" % i, blob=bytes([i, 0, 255]),
        color=i % 2, tags=["a", "b%d" % i], attrs={"k": 1.5 * i}, subs=[{"x": 1}, {"x": i}],
        small=-300 - i)
    order.by_id[i].x = -i
    if full:
        order.sub.x = -i
        order.ts.seconds, order.ts.nanos = 1714979289 + i, 123_456_789
        order.day.year, order.day.month, order.day.day = 2024, 1, 1 + i
        order.tod.hours, order.tod.minutes, order.tod.seconds, order.tod.nanos = 1, 2, 3, 4_000_000
        order.price.MergeFromString(to_proto_decimal(decimal.Decimal("%d.%02d" % (i, i % 100))).SerializeToString())
        order.note.value = "note %d" % i
        order.maybe.value = -i
        order.nick = "nick%d" % i
        [lambda: setattr(order, "choice_int", i), lambda: setattr(order, "choice_str", "s%d" % i),
         lambda: order.choice_sub.CopyFrom(order_class.Sub(x=i))][i % 3]()
    return order


def expected(i: int) -> dict:
    """What the converter makes of ``record(i)`` with the default settings, as ``to_pylist`` shows."""
    full = i % 3 != 2
    choice = None
    if full:
        choice = {"choice_int": None, "choice_str": None, "choice_sub": None}
        choice[["choice_int", "choice_str", "choice_sub"][i % 3]] = [i, "s%d" % i, {"x": i}][i % 3]
    return {
        "choice_0": choice,
        "id": i, "flag": i % 2 == 0, "count": i * 10, "s32": -5 - i, "sf32": -70000 - i,
        "u32": 4_000_000_000 + i, "f32": 3_000_000_000 + i, "s64": -(1 << 40) - i, "sf64": -(1 << 50),
        "u64": -1 - i, "f64": -(1 << 63) + i, "ratio": 0.5 + i, "score": 1e10 + i, "name": "n%d" % i,
        "blob": bytes([i, 0, 255]), "color": "GREEN" if i % 2 else "RED", "tags": ["a", "b%d" % i],
        "attrs": [("k", 1.5 * i)], "sub": {"x": -i} if full else None, "subs": [{"x": 1}, {"x": i}],
        "ts": datetime.datetime(2024, 5, 6, 7, 8, 9 + i, 123000, tzinfo=UTC) if full else None,
        "day": datetime.date(2024, 1, 1 + i) if full else None,
        "tod": datetime.time(1, 2, 3, 4000) if full else None,
        "price": decimal.Decimal("%d.%02d" % (i, i % 100)) if full else None,
        "note": {"value": "note %d" % i} if full else None,
        "maybe": {"value": -i} if full else None,
        "nick": "nick%d" % i if full else None,
        "by_id": [(i, {"x": -i})], "small": -300 - i,
    }
