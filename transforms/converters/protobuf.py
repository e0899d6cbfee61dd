"""``ProtobufConverter``: Protobuf keys or values in Confluent's wire format, their schemas from a Schema
Registry.

A record is a magic byte 0, the 4-byte schema id, the message indexes (a zigzag varint count, then
that many zigzag varints: the path of the message among the file's top-level and nested messages; a
single 0 byte is the shorthand for ``[0]``, the first message) and the Protobuf payload.

The registry serves a schema either as ``.proto`` text (Confluent's registry by default, and what Java
serializers register) or as a base64 ``FileDescriptorProto`` (what confluent-kafka's Python serializer
registers, and what Apicurio then serves back). Both are read: base64 is parsed by the protobuf
runtime; text is compiled by ``protoc`` (grpcio-tools' bundled compiler, run once per schema id),
because turning ``.proto`` text into descriptors needs protoc's full name resolution, map entries,
proto3 ``optional`` and custom options, which a parser's syntax tree alone leaves to us. Imports are
the schema's references, fetched from the registry; ``google/protobuf/*``, ``google/type/*`` and
``confluent/*`` files that are not references (serializers skip registering well-known types) come
from the protobuf runtime, googleapis-common-protos and confluent-kafka.

Each id gets its own descriptor pool and message classes (``message_factory.GetMessageClass``);
decoding is the runtime's ``FromString``, and messages become Python values by reading their
attributes (see :mod:`transforms.converters.protobuf_data`), without a detour through JSON.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import pkgutil
import logging
import os
import subprocess
import sys
import tempfile
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from common.configdef import ConfigDef, ConfigKey
from common.errors import ConfigError
from transforms.converters.base import Conversion, Converter
from transforms.converters.protobuf_data import (
    CompiledProtobuf, ProtobufOptions, ProtobufSchemaError, compile_message)
from transforms.converters.registry import (
    HEADER_SIZE, REGISTRY_KEYS, BatchSchemas, RegistrySchemas, assemble, registry_client_config)

_LOGGER = logging.getLogger(__name__)
_EXTRA_HINT = "pip install 'beamconnect[schema-registry]'"
_MAIN_FILE = "default.proto"
_PROTOC_TIMEOUT_S = 60

_OPTION_KEYS = {
    "enhanced.protobuf.schema.support": ("enhanced", False),
    "int.for.enums": ("int_for_enums", False),
    "optional.for.nullables": ("optional_for_nullables", False),
    "optional.for.proto2": ("optional_for_proto2", True),
    "wrapper.for.nullables": ("wrapper_for_nullables", False),
    "wrapper.for.raw.primitives": ("wrapper_for_raw_primitives", True),
    "generate.index.for.unions": ("generate_index_for_unions", True),
    "flatten.unions": ("flatten_unions", False),
    "generate.struct.for.nulls": ("generate_struct_for_nulls", False),
}


class ProtobufConverter(Converter):
    """Reads Protobuf keys or values written by Confluent's Protobuf serializer (or Kafka Connect's
    ProtobufConverter).

    The schema of each id is fetched once per worker and compiled; records of one batch written with
    different schemas (or different messages of one schema) are unified into one Arrow type, fields
    only some have becoming nullable, and each keeps its own schema (:attr:`Conversion.record_schemas`).

    Failures: a record not in the wire format ("Unknown magic byte!"), whose schema id the registry
    does not know, whose message indexes name no message of the schema, or whose payload does not
    decode is a per-record failure, routed by ``errors.tolerance``. A registry that cannot be reached
    raises :class:`~transforms.converters.registry.RegistryUnavailable` (retriable).

    Sub-keys: the registry keys of :data:`~transforms.converters.registry.REGISTRY_KEYS`, and
    Confluent's ``ProtobufData`` keys (see :mod:`transforms.converters.protobuf_data`):
    ``enhanced.protobuf.schema.support``, ``int.for.enums``, ``optional.for.nullables``,
    ``optional.for.proto2``, ``wrapper.for.nullables``, ``wrapper.for.raw.primitives``,
    ``generate.index.for.unions``, ``flatten.unions``, ``generate.struct.for.nulls``;
    ``scrub.invalid.names`` is accepted with no effect (it renames only what Connect writes);
    ``generalized.sum.type.support=true`` is refused.
    """

    java_class = "io.confluent.connect.protobuf.ProtobufConverter"

    config_def = REGISTRY_KEYS + ConfigDef(
        [ConfigKey(key, "boolean", default, group="Protobuf")
         for key, (_, default) in _OPTION_KEYS.items()]
        + [ConfigKey("scrub.invalid.names", "boolean", False, group="Protobuf"),
           ConfigKey("generalized.sum.type.support", "boolean", False, group="Protobuf")])

    def __init__(self, props: Mapping[str, str], *, config_key: str):
        super().__init__(props, config_key=config_key)
        try:
            importlib.import_module("google.protobuf")
            importlib.import_module("google.type.date_pb2")  # googleapis-common-protos
        except ImportError:
            raise ConfigError("%s=io.confluent.connect.protobuf.ProtobufConverter needs protobuf and "
                              "googleapis-common-protos (%s)" % (config_key, _EXTRA_HINT)) from None
        if self.config["generalized.sum.type.support"]:
            raise ConfigError("%s.generalized.sum.type.support must be false: oneofs are read as "
                              "Confluent's io.confluent.connect.protobuf.Union structs, got 'true'"
                              % config_key)
        self.options = ProtobufOptions(**{attr: self.config[key]
                                          for key, (attr, _) in _OPTION_KEYS.items()})
        self.registry = RegistrySchemas(registry_client_config(self.config, config_key), self._compile,
                                        self.config["schemas.cache.config"], config_key)

    def _compile(self, schema, reference: Callable, versions: Callable) -> Any:
        """What is kept per schema id: a :class:`_CompiledSchema`, or the reason its records fail."""
        from google.protobuf import descriptor_pool

        try:
            pool = descriptor_pool.DescriptorPool()
            added: set = set()
            main = file_descriptor(schema, reference, pool, added)
        except (ProtobufSchemaError, TypeError, KeyError, ValueError) as e:
            return "the writer's schema cannot be read as a Protobuf schema: %s" % e
        registrations = versions()
        version = registrations[0][1] if len(registrations) == 1 else None
        return _CompiledSchema(pool, main, self.options, version)

    def convert(self, data: Sequence[Optional[bytes]]) -> Conversion:
        from google.protobuf.message import DecodeError

        failures: list = []
        entries: list = []
        kinds: Dict[tuple, CompiledProtobuf] = {}
        own: Dict[int, tuple] = {}
        schemas = BatchSchemas(self.registry, "Protobuf")
        for index, raw in enumerate(data):
            if raw is None:
                entries.append((index, None))
                continue
            schema_id, compiled, reason = schemas.resolve(raw)
            if compiled is None:
                failures.append((index, reason))
                continue
            indexes, start, reason = read_message_indexes(raw, HEADER_SIZE)
            if indexes is None:
                failures.append((index, "schema id %d: %s" % (schema_id, reason)))
                continue
            message = compiled.message(indexes)
            if isinstance(message, str):
                failures.append((index, "schema id %d: %s" % (schema_id, message)))
                continue
            try:
                value = message.convert(message.message_class.FromString(raw[start:]))
            except (DecodeError, ValueError, OverflowError) as e:
                failures.append((index, "the Protobuf data does not decode with schema id %d (message %s): "
                                 "%s: %s" % (schema_id, message.field.metadata.get(b"connect.name", b"?")
                                             .decode(), type(e).__name__, e)))
                continue
            key = (schema_id, indexes)
            kinds[key] = message
            own[index] = key
            entries.append((index, value))
        return assemble(entries, failures, kinds, own, len(data), lambda key: (
            "schema id %d (message indexes %s)" % (key[0], list(key[1]))))


class _CompiledSchema:
    """One schema id: its descriptor pool and, per message indexes, the compiled message."""

    def __init__(self, pool, main, options: ProtobufOptions, version: Optional[int]):
        self.pool = pool
        self.main = main
        self.options = options
        self.version = version
        self._messages: Dict[tuple, Any] = {}

    def message(self, indexes: tuple) -> Any:
        """The :class:`CompiledProtobuf` the indexes name, or why there is none."""
        found = self._messages.get(indexes)
        if found is None:
            found = self._compile(indexes)
            self._messages[indexes] = found
        return found

    def _compile(self, indexes: tuple) -> Any:
        from google.protobuf import message_factory

        types = self.main.message_types_by_name
        messages = list(types.values())
        descriptor = None
        for depth, position in enumerate(indexes):
            if not 0 <= position < len(messages):
                return ("message indexes %s name no message: %s has %d message(s) at depth %d"
                        % (list(indexes), "the file" if depth == 0 else descriptor.full_name,
                           len(messages), depth))
            descriptor = messages[position]
            messages = list(descriptor.nested_types)
        try:
            return compile_message(descriptor, message_factory.GetMessageClass(descriptor), self.options,
                                   self.version)
        except ProtobufSchemaError as e:
            return "message %s cannot be a Connect schema: %s" % (descriptor.full_name, e)


def read_message_indexes(raw: bytes, start: int) -> Tuple[Optional[tuple], int, str]:
    """``(indexes, payload start, "")`` of the message indexes at ``raw[start:]``, or ``(None, 0,
    reason)``; a count of 0 is the shorthand for ``(0,)``."""
    values = []
    position = start
    count = None
    while count is None or len(values) < count:
        shift, result = 0, 0
        while True:
            if position >= len(raw):
                return None, 0, "the record ends inside its message indexes"
            byte = raw[position]
            position += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift > 63:
                return None, 0, "the message indexes hold a varint longer than 10 bytes"
        value = (result >> 1) ^ -(result & 1)
        if count is None:
            if value < 0 or value > 100:
                return None, 0, "the message indexes have a count of %d" % value
            count = value
            if count == 0:
                return (0,), position, ""
        else:
            values.append(value)
    return tuple(values), position, ""


def file_descriptor(schema, reference: Callable, pool, added: set, name: str = _MAIN_FILE):
    """Adds a registry ``Schema`` (and, first, what it imports) to ``pool``; returns its file.

    Args:
      schema: The registry's ``Schema`` (``schema_str``, ``references``).
      reference: ``(subject, version)`` to the referenced ``Schema``.
      pool: The id's ``DescriptorPool``.
      added: Names of the files added to the pool so far.
      name: The file name its importers use (the reference's name).

    Raises:
      ProtobufSchemaError: The schema is neither a base64 FileDescriptorProto nor .proto text protoc
        compiles, or an import is neither a reference nor a known file.
    """
    references = {}
    for ref in schema.references or ():
        target = reference(ref.subject, ref.version)
        references[ref.name] = target
    for ref_name, target in references.items():
        if ref_name not in added:
            file_descriptor(target, reference, pool, added, ref_name)
    proto = _parse(schema.schema_str, name, pool, added)
    for dependency in proto.dependency:
        if dependency not in added:
            _add_builtin(dependency, pool, added)
    proto.name = name
    pool.Add(proto)
    added.add(name)
    return pool.FindFileByName(name)


def _parse(schema_str: str, name: str, pool, added: set):
    """A FileDescriptorProto from base64 or .proto text."""
    from google.protobuf import descriptor_pb2
    from google.protobuf.message import DecodeError

    text = (schema_str or "").strip()
    try:
        serialized = base64.b64decode(text, validate=True)
        proto = descriptor_pb2.FileDescriptorProto.FromString(serialized)
        if proto.message_type or proto.enum_type or proto.syntax or proto.dependency:
            return proto
    except (binascii.Error, ValueError, DecodeError):
        pass
    return _protoc(text, name, pool, added)


def _protoc(text: str, name: str, pool, added: set):
    """Compiles .proto text with grpcio-tools' protoc; its imports from the pool (what is added so far)
    and the known files."""
    from google.protobuf import descriptor_pb2

    try:
        importlib.import_module("grpc_tools.protoc")
    except ImportError:
        raise ProtobufSchemaError("the registry serves this schema as .proto text, which needs "
                                  "grpcio-tools' protoc (%s)" % _EXTRA_HINT) from None
    imports = descriptor_pb2.FileDescriptorSet()
    for known in sorted(added):
        pool.FindFileByName(known).CopyToProto(imports.file.add())
    for builtin, serialized in sorted(_builtins().items()):
        if builtin not in added:
            imports.file.add().ParseFromString(serialized)
    with tempfile.TemporaryDirectory(prefix="beamconnect-proto-") as tmp:
        source = os.path.join(tmp, "src")
        path = os.path.join(source, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
        with open(os.path.join(tmp, "imports.pb"), "wb") as out:
            out.write(imports.SerializeToString())
        result_path = os.path.join(tmp, "out.pb")
        run = subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", "--proto_path=" + source,
             "--descriptor_set_in=" + os.path.join(tmp, "imports.pb"),
             "--descriptor_set_out=" + result_path, name],
            capture_output=True, text=True, timeout=_PROTOC_TIMEOUT_S, check=False)
        if run.returncode != 0:
            message = " ".join(run.stderr.replace(source + os.sep, "").split())
            raise ProtobufSchemaError("protoc does not compile the .proto text: %s" % (message[:2000]
                                                                                      or run.returncode))
        with open(result_path, "rb") as result:
            compiled = descriptor_pb2.FileDescriptorSet.FromString(result.read())
    return compiled.file[-1]


def _add_builtin(name: str, pool, added: set) -> None:
    from google.protobuf import descriptor_pb2

    serialized = _builtins().get(name)
    if serialized is None:
        raise ProtobufSchemaError("the schema imports %r, which is neither one of its references nor a "
                                  "well-known file" % name)
    proto = descriptor_pb2.FileDescriptorProto.FromString(serialized)
    for dependency in proto.dependency:
        if dependency not in added:
            _add_builtin(dependency, pool, added)
    pool.Add(proto)
    added.add(name)


_BUILTINS: Dict[str, bytes] = {}


def _builtins() -> Dict[str, bytes]:
    """Serialized FileDescriptorProtos of the well-known files, by name."""
    if not _BUILTINS:
        import google.protobuf
        import google.type
        from confluent_kafka.schema_registry import confluent

        files: Dict[str, bytes] = {}
        packages = [(google.protobuf, "google.protobuf."), (google.type, "google.type."),
                    (confluent, confluent.__name__ + ".")]
        extra = [confluent.__name__ + ".type", confluent.__name__ + ".types"]
        for package, prefix in packages:
            for info in pkgutil.iter_modules(package.__path__, prefix):
                if info.name.endswith("_pb2"):
                    _add_module(importlib.import_module(info.name), files)
        for name in extra:
            package = importlib.import_module(name)
            for info in pkgutil.iter_modules(package.__path__, name + "."):
                if info.name.endswith("_pb2"):
                    _add_module(importlib.import_module(info.name), files)
        _BUILTINS.update(files)
    return _BUILTINS


def _add_module(module, files: Dict[str, bytes]) -> None:
    descriptor = getattr(module, "DESCRIPTOR", None)
    if descriptor is not None and hasattr(descriptor, "serialized_pb"):
        files.setdefault(descriptor.name, descriptor.serialized_pb)
