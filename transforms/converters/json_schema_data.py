"""JSON Schemas as Connect schemas, the way Confluent's ``JsonSchemaData`` maps them, in Arrow terms.

:func:`compile_json_schema` turns a writer's JSON Schema (parsed JSON) into a :class:`CompiledJson`:
the Connect schema as an Arrow field (see :mod:`transforms.schema`) and a function checking a parsed
payload against it and returning a value ``pa.array`` takes for that field's type.

Types: ``boolean``; ``integer`` to ``int64`` and ``number`` to ``float64``, or the type their
``connect.type`` names (``int8`` ``int16`` ``int32`` ``int64`` ``float32`` ``float64``, ``bytes`` for a
numeric Decimal); ``string`` (``bytes``, base64, with ``connect.type: bytes``); ``enum`` and ``const``
to a string with parameters ``io.confluent.connect.json.Enum`` and ``...Enum.<symbol>``; ``array`` (a
map when ``connect.type`` is ``map`` and its items are ``{key, value}`` objects); ``object`` to a struct
of its ``properties`` in ``connect.index`` order (else as written), or with ``connect.type: map`` a
map of string keys to its ``additionalProperties``. As in ``JsonSchemaData``, properties not in
``required`` are still required Connect fields unless ``use.optional.for.nonrequired``, undeclared
properties are dropped, and ``additionalProperties`` of a plain object is ignored. A required field
that is null or missing takes its default, else fails the record (``JsonSchemaData`` leaves a missing
one unset in a Struct that Connect would refuse to validate; a failure here names the field).
Integers must be integral JSON numbers in the range of their type (Connect would truncate and wrap).

``oneOf``/``anyOf`` (and a ``type`` list) of null and one schema is that schema, optional; a single
subschema is that subschema (``flatten.singleton.unions``); any other is a struct named
``io.confluent.connect.json.OneOf`` with one optional field per branch, ``io.confluent.connect.json
.OneOf.field.<N>`` (with ``generalized.sum.type.support``: named ``connect_union_<N>``, fields
``connect_union_field_<N>``, parameter ``org.apache.kafka.connect.data.Union``). A value sets the
first branch whose type it has, else the struct branch sharing most property names with it.
``allOf`` of objects merges their properties; of a string or number with a ``const``, ``enum`` or
format, gives that string or number.

Names and versions: ``title`` is the Connect name, which gives Connect's logical types
(``org.apache.kafka.connect.data.Decimal`` on bytes with parameter ``scale``, ``Date`` and ``Time`` on
``int32``, ``Timestamp`` on ``int64``); ``connect.version`` (else the registry's version, at the top),
``description`` as doc, ``connect.parameters``, and ``default`` as the Connect default, which a null or
missing value takes.

``$ref`` resolves JSON pointers in the same document (``#/definitions/...``, ``#/$defs/...``) and, by
reference name, in the schemas the registry's schema references name. Refused (the records of such a
schema fail, with the reason): recursive schemas (Arrow types cannot be), ``{}`` and ``true`` (which
``JsonSchemaData`` reads as Connect's Variant, encoded Parquet's way; no such encoding here), ``false``,
``not``, ``if``/``then``.
"""

from __future__ import annotations

import binascii
import dataclasses
import decimal
import math
from typing import Any, Callable, Dict, List, Optional

import pyarrow as pa

from common.errors import BeamConnectError
from transforms.converters.unify import format_path
from transforms.schema import DATE, DECIMAL, TIME, TIMESTAMP, connect_field

NAMESPACE = "io.confluent.connect.json"
ENUM = NAMESPACE + ".Enum"
ONE_OF = NAMESPACE + ".OneOf"
GENERALIZED_UNION = "org.apache.kafka.connect.data.Union"
GENERALIZED_ENUM = "org.apache.kafka.connect.data.Enum"
VARIANT = "org.apache.kafka.connect.data.Variant"
NULL_MARKER = "<NULL>"
DECIMAL_PRECISION = "connect.decimal.precision"

_CONNECT_NUMBERS = {"int8": (pa.int8(), 8), "int16": (pa.int16(), 16), "int32": (pa.int32(), 32),
                    "int64": (pa.int64(), 64), "float32": (pa.float32(), 0), "float64": (pa.float64(), 0)}
_LOGICAL = {DATE: pa.int32(), TIME: pa.int32(), TIMESTAMP: pa.int64()}
_MILLIS_PER_DAY = 86_400_000
_CONTEXT = decimal.Context(prec=100, traps=[decimal.Inexact, decimal.InvalidOperation])


class JsonSchemaError(BeamConnectError, ValueError):
    """A JSON Schema has no Connect equivalent (recursive, ``{}``, an unknown ``$ref``...)."""


class ValueMismatch(Exception):
    """A payload does not match its Connect schema; ``path`` names the field, from the top."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
        self.path: List[str] = []

    def reason(self) -> str:
        where = " at field %r" % format_path(self.path) if self.path else ""
        return "the JSON does not match its Connect schema%s: %s" % (where, self.message)


@dataclasses.dataclass(frozen=True)
class CompiledJson:
    """One writer's JSON Schema, compiled.

    Attributes:
      field: The Connect schema as an Arrow field named ``value``.
      convert: A parsed payload to a value for ``pa.array``; raises :class:`ValueMismatch`.
      vectorisable: Whether ``pa.array(payloads, type)`` alone gives what ``convert`` gives, once the
        nulls of required fields are checked (no bytes, decimals, times, maps, unions or defaults).
    """

    field: pa.Field
    convert: Callable[[Any], Any]
    vectorisable: bool


@dataclasses.dataclass(frozen=True)
class _Node:
    arrow_type: pa.DataType
    optional: bool
    inner: Callable[[Any], Any]  # a non-null value to its Arrow value
    kind: str  # the Connect type, for matching union branches
    vectorisable: bool
    name: Optional[str] = None
    version: Optional[int] = None
    doc: Optional[str] = None
    parameters: Optional[dict] = None
    default: Any = None
    has_default: bool = False

    def field(self, name: str) -> pa.Field:
        return connect_field(name, self.arrow_type, self.optional, schema_name=self.name,
                             version=self.version, doc=self.doc, parameters=self.parameters,
                             default=self.default if self.has_default else None)

    def convert(self, value: Any) -> Any:
        if value is None:
            if self.has_default:
                return self.default
            if self.optional:
                return None
            raise ValueMismatch("null value for required %s" % self.kind)
        return self.inner(value)


def compile_json_schema(schema: Any, documents: Optional[Dict[str, Any]] = None, *,
                        version: Optional[int] = None, optional_for_nonrequired: bool = False,
                        flatten_singleton_unions: bool = True,
                        generalized_sum_types: bool = False) -> CompiledJson:
    """Compiles a writer's JSON Schema.

    Args:
      schema: The schema, parsed JSON.
      documents: The schemas its references name, parsed, by reference name (what ``$ref`` says).
      version: The registry's version of the schema, its Connect version without ``connect.version``.
      optional_for_nonrequired: ``use.optional.for.nonrequired``.
      flatten_singleton_unions: ``flatten.singleton.unions``.
      generalized_sum_types: ``generalized.sum.type.support``.

    Raises:
      JsonSchemaError: The schema has no Connect equivalent.
    """
    compiler = _Compiler(schema, dict(documents or {}), optional_for_nonrequired,
                         flatten_singleton_unions, generalized_sum_types)
    node = compiler.node(schema, schema, (), version)
    return CompiledJson(node.field("value"), node.convert, node.vectorisable and not node.has_default)


class _Compiler:
    def __init__(self, root: Any, documents: Dict[str, Any], optional_for_nonrequired: bool,
                 flatten: bool, generalized: bool):
        self.root = root
        self.documents = documents
        self.optional_for_nonrequired = optional_for_nonrequired
        self.flatten = flatten
        self.generalized = generalized
        self.unions = 0

    def node(self, schema: Any, document: Any, stack: tuple, version: Optional[int] = None,
             force_optional: bool = False) -> _Node:
        if schema is True or schema == {}:
            raise JsonSchemaError("the schema %s (any JSON) is Connect's %s in JsonSchemaData, which "
                                  "is not supported here" % ("true" if schema is True else "{}", VARIANT))
        if not isinstance(schema, dict):
            raise JsonSchemaError("a JSON Schema must be an object or a boolean, got %r" % (schema,))
        if "$ref" in schema:
            target, target_document = self._resolve(schema["$ref"], document)
            key = (id(target_document), schema["$ref"])
            if key in stack:
                raise JsonSchemaError("%r refers to itself; Connect schemas cannot be recursive"
                                      % schema["$ref"])
            return self.node(target, target_document, stack + (key,), version, force_optional)
        for keyword in ("not", "if"):
            if keyword in schema:
                raise JsonSchemaError("%r has no Connect equivalent" % keyword)
        kind = schema.get("type")
        if isinstance(kind, list):
            # As everit loads a type list: one schema per type, each with all the keywords.
            branches = [{**schema, "type": k} for k in kind]
            return self._union(schema, branches, document, stack, version, force_optional)
        for combinator in ("oneOf", "anyOf"):
            if combinator in schema:
                # As JsonSchemaData: keywords beside a oneOf (title, default) do not reach its branches.
                return self._union(schema, schema[combinator], document, stack, version, force_optional)
        if "allOf" in schema:
            return self._all_of(schema, document, stack, version, force_optional)
        if kind is None:
            kind = _implied_type(schema)
        if "const" in schema or "enum" in schema:
            values = [schema["const"]] if "const" in schema else list(schema["enum"])
            node = self._enum(values)
        elif kind == "boolean":
            node = _Node(pa.bool_(), False, _boolean, "boolean", True)
        elif kind in ("integer", "number"):
            node = self._number(schema, kind)
        elif kind == "string":
            if schema.get("connect.type") == "bytes":
                node = _Node(pa.binary(), False, _bytes, "bytes", False)
            else:
                node = _Node(pa.string(), False, _string, "string", True)
        elif kind == "array":
            node = self._array(schema, document, stack)
        elif kind == "object":
            node = self._object(schema, document, stack)
        elif kind == "null":
            raise JsonSchemaError("a null schema outside a oneOf has no Connect type")
        else:
            raise JsonSchemaError("unknown JSON Schema type %r" % (kind,))
        return self._meta(schema, node, version, force_optional)

    def _resolve(self, ref: Any, document: Any):
        if not isinstance(ref, str):
            raise JsonSchemaError("$ref must be a string, got %r" % (ref,))
        base, _, pointer = ref.partition("#")
        if base:
            if base not in self.documents:
                raise JsonSchemaError("$ref %r names no schema reference (references: %s)"
                                      % (ref, ", ".join(repr(n) for n in self.documents) or "none"))
            document = self.documents[base]
        target = document
        for part in pointer.split("/")[1:] if pointer else ():
            part = part.replace("~1", "/").replace("~0", "~")
            try:
                target = target[int(part)] if isinstance(target, list) else target[part]
            except (KeyError, IndexError, ValueError, TypeError):
                raise JsonSchemaError("$ref %r points to nothing" % ref) from None
        return target, document

    def _meta(self, schema: dict, node: _Node, version: Optional[int], force_optional: bool) -> _Node:
        name = node.name
        if name is None and isinstance(schema.get("title"), str):
            name = schema["title"]
        if isinstance(schema.get("connect.version"), int):
            version = schema["connect.version"]
        doc = schema.get("description") if isinstance(schema.get("description"), str) else None
        parameters = dict(node.parameters or {})
        if isinstance(schema.get("connect.parameters"), dict):
            parameters.update({str(k): str(v) for k, v in schema["connect.parameters"].items()})
        node = dataclasses.replace(node, name=name, version=version, doc=doc,
                                   parameters=parameters or None,
                                   optional=node.optional or force_optional)
        node = self._logical(node)
        if "default" in schema and schema["default"] is not None:
            try:
                default = node.inner(schema["default"])
            except ValueMismatch as e:
                raise JsonSchemaError("invalid default %r: %s" % (schema["default"], e.message)) from None
            node = dataclasses.replace(node, default=default, has_default=True, vectorisable=False)
        return node

    def _logical(self, node: _Node) -> _Node:
        name = node.name
        if name == DECIMAL:
            if node.kind != "bytes":
                raise JsonSchemaError("%s must have connect.type bytes, got %s" % (DECIMAL, node.kind))
            return _decimal(node)
        if name in _LOGICAL:
            if node.arrow_type != _LOGICAL[name]:
                raise JsonSchemaError("%s must have connect.type %s, got %s"
                                      % (name, "int32" if name != TIMESTAMP else "int64", node.arrow_type))
            if name == DATE:
                return dataclasses.replace(node, arrow_type=pa.date32())
            if name == TIMESTAMP:
                return dataclasses.replace(node, arrow_type=pa.timestamp("ms", tz="UTC"))
            return dataclasses.replace(node, arrow_type=pa.time32("ms"), inner=_time(node.inner),
                                       vectorisable=False)
        return node

    def _number(self, schema: dict, kind: str) -> _Node:
        connect_type = schema.get("connect.type")
        if connect_type is None:
            connect_type = "int64" if kind == "integer" else "float64"
        if connect_type == "bytes":  # a Decimal written as a number
            return _Node(pa.binary(), False, _bytes, "bytes", False)
        if connect_type not in _CONNECT_NUMBERS:
            raise JsonSchemaError("unsupported connect.type %r on a number" % (connect_type,))
        arrow, bits = _CONNECT_NUMBERS[connect_type]
        if bits:
            return _Node(arrow, False, _integer(bits, connect_type), connect_type, True)
        return _Node(arrow, False, _float(connect_type), connect_type, True)

    def _enum(self, values: list) -> _Node:
        prefix = GENERALIZED_ENUM if self.generalized else ENUM
        parameters = {prefix: ""}
        for index, value in enumerate(values):
            symbol = NULL_MARKER if value is None else _java_string(value)
            parameters["%s.%s" % (prefix, symbol)] = str(index) if self.generalized else symbol
        return _Node(pa.string(), False, _string, "string", True, parameters=parameters)

    def _array(self, schema: dict, document: Any, stack: tuple) -> _Node:
        items = schema.get("items")
        if items is None or isinstance(items, list):
            raise JsonSchemaError("array schema did not specify one items type")
        if schema.get("connect.type") == "map":
            entry = items
            if isinstance(entry, dict) and "$ref" in entry:
                entry, document = self._resolve(entry["$ref"], document)
            properties = entry.get("properties", {}) if isinstance(entry, dict) else {}
            if "key" in properties and "value" in properties:
                key = self.node(properties["key"], document, stack)
                value = self.node(properties["value"], document, stack)
                return _Node(pa.map_(key.field("key").with_nullable(False), value.field("value")),
                             False, _entries(key.convert, value.convert), "map", False)
        element = self.node(items, document, stack)
        convert = element.convert

        def inner(value):
            if type(value) is not list:
                raise ValueMismatch("expected an array, got %s" % _describe(value))
            out = []
            for index, item in enumerate(value):
                try:
                    out.append(convert(item))
                except ValueMismatch as e:
                    e.path.insert(0, "[%d]" % index)
                    raise
            return out
        vectorisable = element.vectorisable and not (
            pa.types.is_string(element.arrow_type) or pa.types.is_list(element.arrow_type))
        return _Node(pa.list_(element.field("item")), False, inner, "array", vectorisable)

    def _object(self, schema: dict, document: Any, stack: tuple) -> _Node:
        if schema.get("connect.type") == "map":
            values = schema.get("additionalProperties")
            if not isinstance(values, dict):
                raise JsonSchemaError("a connect.type map object needs additionalProperties as a schema")
            value = self.node(values, document, stack)
            return _Node(pa.map_(pa.field("key", pa.string(), nullable=False), value.field("value")),
                         False, _string_map(value.convert), "map", False)
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or ())
        ordered = sorted(enumerate(properties.items()),
                         key=lambda e: (e[1][1].get("connect.index", e[0])
                                        if isinstance(e[1][1], dict) else e[0], e[0]))
        return self._struct([(name, sub, name in required) for _, (name, sub) in ordered], document,
                            stack)

    def _struct(self, properties: list, document: Any, stack: tuple) -> _Node:
        fields, converters, vectorisable = [], [], True
        for name, sub, is_required in properties:
            optional = self.optional_for_nonrequired and not is_required
            try:
                child = self.node(sub, document, stack, force_optional=optional)
            except JsonSchemaError as e:
                raise JsonSchemaError("property %r: %s" % (name, e)) from None
            fields.append(child.field(name))
            converters.append((name, child.convert))
            vectorisable = vectorisable and child.vectorisable
        converters = tuple(converters)

        def inner(value):
            if type(value) is not dict:
                raise ValueMismatch("expected an object, got %s" % _describe(value))
            get = value.get
            out = {}
            for name, convert in converters:
                try:
                    out[name] = convert(get(name))
                except ValueMismatch as e:
                    e.path.insert(0, name)
                    raise
            return out
        return _Node(pa.struct(fields), False, inner, "struct", vectorisable)

    def _all_of(self, schema: dict, document: Any, stack: tuple, version, force_optional) -> _Node:
        subs = []
        for sub in schema["allOf"]:
            if isinstance(sub, dict) and "$ref" in sub:
                sub, sub_document = self._resolve(sub["$ref"], document)
            else:
                sub_document = document
            subs.append((sub, sub_document))
        properties, required = {}, set()
        for sub, sub_document in subs:
            if isinstance(sub, dict) and isinstance(sub.get("properties"), dict):
                for name, prop in sub["properties"].items():
                    properties[name] = (prop, sub_document)
                required.update(sub.get("required") or ())
        if properties:
            fields = [(name, prop, name in required) for name, (prop, _) in properties.items()]
            # Each property compiles in the document it was written in.
            node = self._struct_in([(n, p, r, properties[n][1]) for n, p, r in fields], stack)
            return dataclasses.replace(node, optional=force_optional)
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        for sub, sub_document in subs:
            if isinstance(sub, dict) and (sub.get("type") in ("string", "number", "integer")
                                          or "enum" in sub):
                merged = {**rest, **{k: v for s, _ in subs if isinstance(s, dict) for k, v in s.items()
                                     if k in ("type", "enum", "connect.type", "title")}}
                if any(s.get("type") in ("number", "integer") for s, _ in subs if isinstance(s, dict)):
                    merged.pop("enum", None)
                return self.node(merged, sub_document, stack, version, force_optional)
        if len(subs) == 1:
            return self.node(subs[0][0], subs[0][1], stack, version, force_optional)
        raise JsonSchemaError("this allOf has no Connect equivalent")

    def _struct_in(self, fields: list, stack: tuple) -> _Node:
        nodes = [self._struct([(name, prop, is_required)], document, stack)
                 for name, prop, is_required, document in fields]
        merged = [f for node in nodes for f in node.arrow_type]
        converters = [node.inner for node in nodes]

        def inner(value):
            out = {}
            for convert in converters:
                out.update(convert(value))
            return out
        return _Node(pa.struct(merged), False, inner, "struct", all(n.vectorisable for n in nodes))

    def _union(self, schema: dict, branches: list, document: Any, stack: tuple, version,
               force_optional) -> _Node:
        if len(branches) == 1 and self.flatten:
            return self.node(branches[0], document, stack, version, force_optional)
        nulls = [b for b in branches if isinstance(b, dict) and b.get("type") == "null"]
        others = [b for b in branches if b not in nulls]
        if len(branches) == 2 and nulls:
            return self.node(others[0], document, stack, version, True)
        if self.generalized:
            name = "connect_union_%d" % self.unions
            self.unions += 1
            field_name, parameters = "connect_union_field_%d", {GENERALIZED_UNION: name}
        else:
            name, field_name, parameters = ONE_OF, ONE_OF + ".field.%d", None
        nodes = [self.node(b, document, stack, force_optional=True) for b in others]
        names = [field_name % i for i in range(len(nodes))]
        arrow = pa.struct([n.field(f) for n, f in zip(nodes, names)])
        empty = dict.fromkeys(names)
        table = list(zip(names, nodes))

        def inner(value):
            for field, node in table:
                if _is_instance(node, value):
                    out = empty.copy()
                    out[field] = node.convert(value)
                    return out
            best, most = None, 0
            for field, node in table:
                matching = _matching(node.arrow_type, value)
                if matching > most:
                    best, most = (field, node), matching
            if best is None:
                raise ValueMismatch("Did not find matching oneof field for data (%s)" % _describe(value))
            out = empty.copy()
            out[best[0]] = best[1].convert(value)
            return out
        if isinstance(schema.get("connect.parameters"), dict):
            parameters = {**(parameters or {}),
                          **{str(k): str(v) for k, v in schema["connect.parameters"].items()}}
        if isinstance(schema.get("connect.version"), int):
            version = schema["connect.version"]
        doc = schema.get("description") if isinstance(schema.get("description"), str) else None
        return _Node(arrow, bool(nulls) or force_optional, inner, "struct", False, name, version, doc,
                     parameters)


def _implied_type(schema: dict) -> Optional[str]:
    """The type a schema without ``type`` has by its keywords, as everit's loader decides it."""
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    if "const" in schema or "enum" in schema:
        return "string"
    if any(k in schema for k in ("minLength", "maxLength", "pattern", "format")):
        return "string"
    if any(k in schema for k in ("minimum", "maximum", "multipleOf", "exclusiveMinimum")):
        return "number"
    raise JsonSchemaError("the schema %s (any JSON) is Connect's %s in JsonSchemaData, which is not "
                          "supported here" % (_abbreviate(schema), VARIANT))


def _abbreviate(schema: dict) -> str:
    text = repr(schema)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_instance(node: _Node, value: Any) -> bool:
    """Whether ``value`` has the JSON type of a simple (non-struct) Connect type, as JsonSchemaData
    picks a oneOf branch."""
    kind, value_type = node.kind, type(value)
    if kind in ("int8", "int16", "int32", "int64"):
        return value_type is int
    if kind in ("float32", "float64"):
        return value_type is int or value_type is float
    if kind == "boolean":
        return value_type is bool
    if kind == "string":
        return value_type is str
    if kind == "bytes":
        return value_type is str or value_type is float or value_type is int
    if kind == "array":
        return value_type is list
    if kind == "map":
        return value_type is dict or value_type is list
    return False


def _matching(arrow_type: pa.DataType, value: Any) -> int:
    """How many property names (nested ones too) a struct type shares with an object."""
    if not pa.types.is_struct(arrow_type) or type(value) is not dict:
        return 0
    shared = [f for f in arrow_type if f.name in value]
    return len(shared) + sum(_matching(f.type, value[f.name]) for f in shared)


def _java_string(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def _integer(bits: int, type_name: str):
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1

    def inner(value):
        kind = type(value)
        if kind is int and low <= value <= high:
            return value
        if kind is float and math.isfinite(value) and value == int(value) and low <= value <= high:
            return int(value)
        raise ValueMismatch("expected %s, got %s" % (type_name, _describe(value)))
    return inner


def _float(type_name: str):
    def inner(value):
        kind = type(value)
        if kind is float or kind is int:
            return value
        raise ValueMismatch("expected %s, got %s" % (type_name, _describe(value)))
    return inner


def _boolean(value):
    if value is True or value is False:
        return value
    raise ValueMismatch("expected boolean, got %s" % _describe(value))


def _string(value):
    if type(value) is str:
        return value
    raise ValueMismatch("expected string, got %s" % _describe(value))


def _bytes(value):
    if type(value) is not str:
        raise ValueMismatch("expected bytes as a base64 string, got %s" % _describe(value))
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except binascii.Error as e:
        raise ValueMismatch("invalid base64: %s" % e) from None


def _time(integer):
    def inner(value):
        millis = integer(value)
        if not 0 <= millis < _MILLIS_PER_DAY:
            raise ValueMismatch("Time must be milliseconds since midnight, from 0 to %d, got %d"
                                % (_MILLIS_PER_DAY - 1, millis))
        return millis
    return inner


def _decimal(node: _Node) -> _Node:
    parameters = node.parameters or {}
    try:
        scale = int(parameters["scale"])
    except KeyError:
        raise JsonSchemaError("invalid Decimal schema: scale parameter not found") from None
    except ValueError:
        raise JsonSchemaError("invalid Decimal scale %r" % parameters["scale"]) from None
    try:
        precision = int(parameters.get(DECIMAL_PRECISION, "38"))
    except ValueError:
        precision = 0
    if not 1 <= precision <= 76:
        raise JsonSchemaError("invalid Decimal %s %r, must be from 1 to 76"
                              % (DECIMAL_PRECISION, parameters.get(DECIMAL_PRECISION)))
    arrow = pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    quantum, limit = decimal.Decimal(1).scaleb(-scale), 10 ** precision

    def inner(value):
        kind = type(value)
        if kind is str:
            unscaled = int.from_bytes(_bytes(value), "big", signed=True)
            number = decimal.Decimal(unscaled).scaleb(-scale, _CONTEXT)
        elif kind is int or kind is decimal.Decimal:
            number = decimal.Decimal(value)
        elif kind is float:
            number = decimal.Decimal(repr(value))  # the number as written (parsed as a double)
        else:
            raise ValueMismatch("expected a Decimal as base64 bytes or a number, got %s" % _describe(value))
        try:
            number = number.quantize(quantum, context=_CONTEXT)
        except (decimal.Inexact, decimal.InvalidOperation):
            raise ValueMismatch("Decimal %s has more than %d decimal places" % (number, scale)) from None
        if abs(int(number.scaleb(scale, _CONTEXT))) >= limit:
            raise ValueMismatch("Decimal %s has more than %d digits" % (number, precision))
        return number
    return dataclasses.replace(node, arrow_type=arrow, inner=inner, kind="bytes", vectorisable=False)


def _string_map(convert_value):
    def inner(value):
        if type(value) is not dict:
            raise ValueMismatch("Maps with string fields should be encoded as JSON objects, but found %s"
                                % _describe(value))
        out = []
        for key, item in value.items():
            try:
                out.append((key, convert_value(item)))
            except ValueMismatch as e:
                e.path.insert(0, "[%r]" % key)
                raise
        return out
    return inner


def _entries(convert_key, convert_value):
    def inner(value):
        if type(value) is not list:
            raise ValueMismatch("Maps with non-string fields should be encoded as JSON array of objects, "
                                "but found %s" % _describe(value))
        out = []
        for index, entry in enumerate(value):
            if type(entry) is not dict or len(entry) != 2:
                raise ValueMismatch("a map entry must be a {key, value} object, got %s" % _describe(entry))
            try:
                key = convert_key(entry.get("key"))
                if key is None:
                    raise ValueMismatch("a map key may not be null")
                out.append((key, convert_value(entry.get("value"))))
            except ValueMismatch as e:
                e.path.insert(0, "[%d]" % index)
                raise
        return out
    return inner


def _describe(value) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "boolean"
    if isinstance(value, (int, float, decimal.Decimal)):
        return "number %s" % value
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
