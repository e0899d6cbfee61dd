"""Kafka Connect converters, found by the ``key.converter`` / ``value.converter`` names users write.

Kafka's class names are accepted, as are their short names (case-sensitive, as in Connect) and the
lowercase forms ``bytearray``, ``string`` and ``json``.

The converters that talk to a Schema Registry (Avro, JSON Schema, Protobuf) are imported only when a
config names one (:data:`CONVERTERS` holds their module names until then): they are optional
families with their own libraries, loaded lazily on purpose, not to dodge an import cycle.
"""

from __future__ import annotations

from common.errors import ConfigError
from common.lazy import LazyMapping, load
from transforms.converters.base import Conversion, Converter
from transforms.converters.bytearray import ByteArrayConverter
from transforms.converters.json import JsonConverter, arrow_field, arrow_type
from transforms.converters.string import StringConverter

_AVRO = "transforms.converters.avro.AvroConverter"
_JSON_SCHEMA = "transforms.converters.json_schema.JsonSchemaConverter"
_PROTOBUF = "transforms.converters.protobuf.ProtobufConverter"

_SHORT_NAMES = {
    "ByteArrayConverter": ByteArrayConverter,
    "StringConverter": StringConverter,
    "JsonConverter": JsonConverter,
    "AvroConverter": _AVRO,
    "JsonSchemaConverter": _JSON_SCHEMA,
    "ProtobufConverter": _PROTOBUF,
}


#: Name -> converter class; a class given as ``"module.Class"`` is imported on first look-up.
CONVERTERS = LazyMapping({
    "org.apache.kafka.connect.converters.ByteArrayConverter": ByteArrayConverter,
    "org.apache.kafka.connect.storage.StringConverter": StringConverter,
    "org.apache.kafka.connect.json.JsonConverter": JsonConverter,
    **_SHORT_NAMES,
    "bytearray": ByteArrayConverter,
    "string": StringConverter,
    "json": JsonConverter,
    "io.confluent.connect.avro.AvroConverter": _AVRO,
    "io.confluent.connect.json.JsonSchemaConverter": _JSON_SCHEMA,
    "io.confluent.connect.protobuf.ProtobufConverter": _PROTOBUF,
}, lambda cls: load(cls) if isinstance(cls, str) else cls)


def make_converter(config_key: str, class_name: str, props: Mapping[str, str]) -> Converter:
    """Builds and configures a converter.

    Args:
      config_key: ``"key.converter"`` or ``"value.converter"``.
      class_name: The value of that key, e.g. ``org.apache.kafka.connect.json.JsonConverter``.
      props: The converter's sub-keys with the ``config_key.`` prefix stripped.

    Raises:
      ConfigError: The class name is unknown, or a sub-key is unknown or has a bad value.
    """
    try:
        converter_class = CONVERTERS[class_name]
    except KeyError:
        raise ConfigError("%s must be one of %s, got %r"
                          % (config_key, ", ".join(repr(n) for n in _SHORT_NAMES), class_name)) from None
    return converter_class(props, config_key=config_key)


__all__ = ["CONVERTERS", "ByteArrayConverter", "Conversion", "Converter", "JsonConverter",
           "StringConverter", "arrow_field", "arrow_type", "make_converter"]
