"""Avro schemas as Connect schemas, the way Confluent's ``AvroData`` maps them, in Arrow terms.

:func:`compile_avro` turns a writer's schema into a :class:`CompiledAvro`: the schema fastavro decodes
with, the Connect schema as an Arrow field (see :mod:`transforms.schema`), and a function turning what
fastavro decoded into a value ``pa.array`` takes for that field's type.

Types: ``boolean``, ``int`` (``int8``/``int16`` when its ``connect.type`` says so), ``long``, ``float``,
``double``, ``bytes`` and ``fixed`` (parameter ``connect.fixed.size``) to binary, ``string``, ``enum``
to a string with Confluent's ``io.confluent.connect.avro.Enum`` parameters, ``array``, ``map`` (and an
array of ``io.confluent.connect.avro.MapEntry`` records: a map with non-string keys), ``record`` to a
struct named by its full name. A union of ``null`` and one type is that type, optional; any other union
is a struct named ``io.confluent.connect.avro.Union`` with one optional field per branch, named by the
branch's type (``int``, ``string``, ``array``...) or, for a record, enum or fixed, by its name (its full
name with ``enhanced.avro.schema.support``); a decoded value sets the field of its branch.

Logical types: ``decimal`` (bytes or fixed) to Decimal (``decimal128``, ``decimal256`` beyond 38
digits; parameters ``scale`` and ``connect.decimal.precision``), ``date`` to Date, ``time-millis`` to
Time, ``timestamp-millis`` to Timestamp. As in ``AvroData``, ``time-micros``, ``timestamp-micros`` and
the ``local-timestamp-*`` types have no Connect type: they stay ``int64`` (their microseconds), and
``uuid`` stays a string.

Names and versions: ``connect.name`` over the Avro full name (of a record, enum or fixed),
``connect.version``. With ``connect.meta.data`` (the default) also ``connect.doc`` as the Connect doc,
``connect.parameters``, and Avro docs as ``AvroData`` keeps them, in parameters: the record's
``io.confluent.connect.avro.record.doc``, each field's ``io.confluent.connect.avro.field.doc.<name>``,
an enum's ``io.confluent.connect.avro.enum.doc.<name>``, and ``io.confluent.connect.avro.field.default``
on a field that has a default (not a union); without it only the parameters logical types, enums and
fixed need. A field's default (of a primitive or enum type) is its Connect default.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List, Optional

import pyarrow as pa

from common.errors import BeamConnectError
from transforms.schema import DATE, DECIMAL, TIME, TIMESTAMP, connect_field

ENUM = "io.confluent.connect.avro.Enum"
UNION = "io.confluent.connect.avro.Union"
MAP_ENTRY = "io.confluent.connect.avro.MapEntry"
CONNECT_DEFAULT = "io.confluent.connect.avro.ConnectDefault"
FIXED_SIZE = "connect.fixed.size"
DECIMAL_PRECISION = "connect.decimal.precision"
DECIMAL_PRECISION_DEFAULT = 64
RECORD_DOC = "io.confluent.connect.avro.record.doc"
FIELD_DOC_PREFIX = "io.confluent.connect.avro.field.doc."
ENUM_DOC_PREFIX = "io.confluent.connect.avro.enum.doc."
FIELD_DEFAULT_FLAG = "io.confluent.connect.avro.field.default"

_PRIMITIVES = {"boolean": pa.bool_(), "int": pa.int32(), "long": pa.int64(), "float": pa.float32(),
               "double": pa.float64(), "bytes": pa.binary(), "string": pa.string()}
_CONNECT_INTS = {"int8": pa.int8(), "int16": pa.int16()}
_NAMED = ("record", "enum", "fixed")
# fastavro decodes these itself; other logical types are read as their underlying numbers or strings.
_DECODED_LOGICAL = ("decimal",)


class AvroSchemaError(BeamConnectError, ValueError):
    """A writer's schema has no Connect equivalent (a recursive record, an unknown named type)."""


@dataclasses.dataclass(frozen=True)
class CompiledAvro:
    """One writer's schema, compiled.

    Attributes:
      reader_schema: The schema for fastavro, logical types other than decimal removed.
      field: The Connect schema as an Arrow field named ``value``.
      convert: What fastavro decoded (with ``return_named_type``) to a value for ``pa.array``; None
        when it is that value already.
      block_schema: The writer's schema as text when a batch of its records may be decoded as one
        block (see :mod:`transforms.converters.avro_blocks`); None otherwise.
    """

    reader_schema: Any
    field: pa.Field
    convert: Optional[Callable[[Any], Any]]
    block_schema: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class _Node:
    arrow_type: pa.DataType
    optional: bool
    convert: Optional[Callable[[Any], Any]]
    name: Optional[str] = None
    version: Optional[int] = None
    doc: Optional[str] = None
    parameters: Optional[dict] = None
    union_branch: str = ""

    def field(self, name: str, default: Any = None) -> pa.Field:
        return connect_field(name, self.arrow_type, self.optional, schema_name=self.name,
                             version=self.version, doc=self.doc, parameters=self.parameters,
                             default=default)


def compile_avro(schema: Any, named: Optional[Dict[str, dict]] = None, *, connect_meta_data: bool = True,
                 enhanced: bool = False) -> CompiledAvro:
    """Compiles a writer's schema (parsed JSON).

    Args:
      schema: The Avro schema.
      named: Named types defined elsewhere (by schema references), by full name.
      connect_meta_data: ``connect.meta.data``.
      enhanced: ``enhanced.avro.schema.support``.

    Raises:
      AvroSchemaError: The schema cannot be a Connect schema.
    """
    compiler = _Compiler(dict(named or {}), connect_meta_data, enhanced)
    node = compiler.node(schema, "", ())
    return CompiledAvro(_strip_logical(schema), node.field("value"), node.convert)


def named_types(schema: Any, namespace: str = "", found: Optional[Dict[str, dict]] = None) -> Dict[str, dict]:
    """The named types a schema defines, by full name (for schemas that reference them)."""
    found = {} if found is None else found
    if isinstance(schema, list):
        for branch in schema:
            named_types(branch, namespace, found)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in _NAMED:
            full = _full_name(schema, namespace)
            found[full] = {**schema, "name": full}
            namespace = full.rpartition(".")[0]
        for field in schema.get("fields", ()) if kind == "record" else ():
            named_types(field.get("type"), namespace, found)
        if kind == "array":
            named_types(schema.get("items"), namespace, found)
        elif kind == "map":
            named_types(schema.get("values"), namespace, found)
        elif isinstance(kind, (dict, list)):
            named_types(kind, namespace, found)
    return found


def _full_name(schema: dict, namespace: str) -> str:
    name = schema.get("name", "")
    if "." in name:
        return name
    space = schema.get("namespace", namespace)
    return "%s.%s" % (space, name) if space else name


def _strip_logical(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_strip_logical(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "logicalType" and value not in _DECODED_LOGICAL:
            continue
        if key in ("type", "items", "values"):
            value = _strip_logical(value)
        elif key == "fields" and isinstance(value, list):
            value = [{**f, "type": _strip_logical(f.get("type"))} for f in value]
        out[key] = value
    return out


class _Compiler:
    def __init__(self, named: Dict[str, dict], meta: bool, enhanced: bool):
        self.named = named
        self.meta = meta
        self.enhanced = enhanced

    def node(self, schema: Any, namespace: str, stack: tuple) -> _Node:
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return _Node(_PRIMITIVES[schema], False, None, union_branch=schema)
            if schema == "null":
                raise AvroSchemaError("a null schema outside a union has no Connect type")
            full = schema if "." in schema or schema in self.named else (
                "%s.%s" % (namespace, schema) if namespace else schema)
            definition = self.named.get(full) or self.named.get(schema)
            if definition is None:
                raise AvroSchemaError("unknown named type %r" % schema)
            return self.node(definition, namespace, stack)
        if isinstance(schema, list):
            return self._union(schema, namespace, stack)
        if not isinstance(schema, dict):
            raise AvroSchemaError("an Avro schema must be a name, an object or a union, got %r" % (schema,))
        kind = schema.get("type")
        if isinstance(kind, (dict, list)):
            return self.node(kind, namespace, stack)
        logical = schema.get("logicalType")
        if kind in _NAMED:
            full = _full_name(schema, namespace)
            self.named.setdefault(full, {**schema, "name": full})
            if full in stack:
                raise AvroSchemaError("record %r refers to itself; Connect schemas cannot be recursive"
                                      % full)
            stack = stack + (full,)
            namespace = full.rpartition(".")[0]
        if logical == "decimal" and kind in ("bytes", "fixed"):
            return self._decimal(schema)
        if kind == "int" and logical == "date":
            return _Node(pa.date32(), False, None, DATE, 1, union_branch="int")
        if kind == "int" and logical == "time-millis":
            return _Node(pa.time32("ms"), False, None, TIME, 1, union_branch="int")
        if kind == "long" and logical == "timestamp-millis":
            return _Node(pa.timestamp("ms", tz="UTC"), False, None, TIMESTAMP, 1, union_branch="long")
        if kind in _PRIMITIVES:
            arrow = _PRIMITIVES[kind]
            if kind == "int" and schema.get("connect.type") in _CONNECT_INTS:
                arrow = _CONNECT_INTS[schema["connect.type"]]
            return self._meta(schema, _Node(arrow, False, None, union_branch=kind))
        if kind == "enum":
            full = _full_name(schema, namespace)
            parameters = {}
            if self.meta and schema.get("doc") is not None:
                parameters[ENUM_DOC_PREFIX + full.rpartition(".")[2]] = schema["doc"]
            parameters[ENUM] = full
            parameters.update(("%s.%s" % (ENUM, s), s) for s in schema.get("symbols", ()))
            return self._meta(schema, _Node(pa.string(), False, None, full, parameters=parameters,
                                            union_branch=self._branch_name(full)))
        if kind == "fixed":
            full = _full_name(schema, namespace)
            return self._meta(schema, _Node(pa.binary(), False, None, full,
                                            parameters={FIXED_SIZE: str(schema.get("size"))},
                                            union_branch=self._branch_name(full)))
        if kind == "array":
            return self._array(schema, namespace, stack)
        if kind == "map":
            values = self.node(schema.get("values"), namespace, stack)
            arrow = pa.map_(pa.field("key", pa.string(), nullable=False), values.field("value"))
            convert = values.convert
            mapper = None if convert is None else (
                lambda value: [(k, convert(v)) for k, v in value.items()])
            return self._meta(schema, _Node(arrow, False, mapper, union_branch="map"))
        if kind == "record":
            return self._record(schema, namespace, stack)
        raise AvroSchemaError("unknown Avro type %r" % (kind,))

    def _branch_name(self, full: str) -> str:
        return full if self.enhanced else full.rpartition(".")[2]

    def _meta(self, schema: dict, node: _Node) -> _Node:
        """``node`` with the Connect name, version, doc and parameters the Avro schema carries."""
        name, version, doc, parameters = node.name, node.version, node.doc, dict(node.parameters or {})
        if "connect.name" in schema:
            name = schema["connect.name"]
        if name is not None and name.startswith(CONNECT_DEFAULT):
            name = None
        if isinstance(schema.get("connect.version"), int):
            version = schema["connect.version"]
        if self.meta:
            doc = schema.get("connect.doc")
            if isinstance(schema.get("connect.parameters"), dict):
                parameters.update({k: str(v) for k, v in schema["connect.parameters"].items()})
        return dataclasses.replace(node, name=name, version=version, doc=doc,
                                   parameters=parameters or None)

    def _decimal(self, schema: dict) -> _Node:
        scale = int(schema.get("scale", 0))
        precision = int(schema.get("precision", 38))
        if not 1 <= precision <= 76:
            raise AvroSchemaError("decimal precision must be from 1 to 76, got %d" % precision)
        arrow = pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
        parameters = {"scale": str(scale)}
        if "precision" in schema and precision != DECIMAL_PRECISION_DEFAULT:
            parameters[DECIMAL_PRECISION] = str(precision)
        if schema.get("type") == "fixed":
            parameters[FIXED_SIZE] = str(schema.get("size"))
        return _Node(arrow, False, None, DECIMAL, 1, parameters=parameters,
                     union_branch=schema.get("type", "bytes") if schema.get("type") != "fixed"
                     else self._branch_name(schema.get("name", "fixed")))

    def _array(self, schema: dict, namespace: str, stack: tuple) -> _Node:
        items = schema.get("items")
        item_def = self.named.get(items, items) if isinstance(items, str) else items
        if (isinstance(item_def, dict) and item_def.get("type") == "record"
                and item_def.get("connect.name", _full_name(item_def, namespace)) == MAP_ENTRY):
            entry = self.node(items, namespace, stack)
            key_field, value_field = entry.arrow_type.field("key"), entry.arrow_type.field("value")
            arrow = pa.map_(key_field.with_nullable(False), value_field)
            inner = entry.convert
            if inner is None:
                convert = lambda value: [(e["key"], e["value"]) for e in value]  # noqa: E731
            else:
                convert = lambda value: [(c["key"], c["value"]) for c in map(inner, value)]  # noqa: E731
            return self._meta(schema, _Node(arrow, False, convert, union_branch="array"))
        element = self.node(items, namespace, stack)
        arrow = pa.list_(element.field("item"))
        inner = element.convert
        convert = None if inner is None else (lambda value: [inner(v) for v in value])
        return self._meta(schema, _Node(arrow, False, convert, union_branch="array"))

    def _record(self, schema: dict, namespace: str, stack: tuple) -> _Node:
        full = _full_name(schema, namespace)
        fields: List[pa.Field] = []
        converters = []
        parameters = {}
        if self.meta and schema.get("doc") is not None:
            parameters[RECORD_DOC] = schema["doc"]
        for field in schema.get("fields", ()):
            child = self.node(field.get("type"), namespace, stack)
            if self.meta and field.get("doc") is not None:
                parameters[FIELD_DOC_PREFIX + field["name"]] = field["doc"]
            default = field.get("default")
            if ("default" in field and self.meta and not isinstance(field.get("type"), list)
                    and "connect.default" not in field):
                child = dataclasses.replace(child, parameters={**(child.parameters or {}),
                                                               FIELD_DEFAULT_FLAG: "true"})
            if not _is_plain(child.arrow_type) or isinstance(default, (dict, list)):
                default = None
            fields.append(child.field(field["name"], default))
            if child.convert is not None:
                converters.append((field["name"], child.convert))
        convert = None
        if converters:
            converters = tuple(converters)

            def convert(value):
                value = dict(value)
                for name, convert_field in converters:
                    value[name] = convert_field(value[name])
                return value
        return self._meta(schema, _Node(pa.struct(fields), False, convert, full,
                                        parameters=parameters or None,
                                        union_branch=self._branch_name(full)))

    def _union(self, branches: list, namespace: str, stack: tuple) -> _Node:
        has_null = "null" in branches or {"type": "null"} in branches
        others = [b for b in branches if b != "null" and b != {"type": "null"}]
        if not others:
            raise AvroSchemaError("a union of null alone has no Connect type")
        nodes = [self.node(b, namespace, stack) for b in others]
        if len(nodes) == 1:
            node = nodes[0]
            inner = node.convert
            named = _is_named(others[0], self.named)
            if named and inner is None:
                convert = lambda value: None if value is None else value[1]  # noqa: E731
            elif named:
                convert = lambda value: None if value is None else inner(value[1])  # noqa: E731
            elif inner is not None and has_null:
                convert = lambda value: None if value is None else inner(value)  # noqa: E731
            else:
                convert = inner
            return dataclasses.replace(node, optional=has_null or node.optional, convert=convert)
        names = [n.union_branch for n in nodes]
        if len(set(names)) != len(names):
            raise AvroSchemaError("union branches %s have the same Connect field names" % names)
        arrow = pa.struct([n.field(name).with_nullable(True) for n, name in zip(nodes, names)])
        by_python = _by_python_type(others, nodes, names, self.named, namespace)
        empty = dict.fromkeys(names)

        def convert(value):
            if value is None:
                return None
            if type(value) is tuple:  # a record, enum or fixed: (full name, value)
                full, value = value
                branch, inner = by_python[full]
            else:
                branch, inner = by_python[_python_kind(value)]
            out = empty.copy()
            out[branch] = value if inner is None else inner(value)
            return out
        return _Node(arrow, has_null, convert, UNION, union_branch="union")


def _is_named(schema: Any, named: Dict[str, dict]) -> bool:
    """Whether a union branch is a record, enum or fixed (fastavro tags those with their name)."""
    if isinstance(schema, str):
        return schema not in _PRIMITIVES
    if isinstance(schema, dict):
        kind = schema.get("type")
        return kind in _NAMED or (isinstance(kind, str) and kind not in _PRIMITIVES
                                  and kind not in ("array", "map"))
    return False


def _by_python_type(branches: list, nodes: list, names: list, named: Dict[str, dict],
                    namespace: str) -> dict:
    """What decides the branch of a decoded value: the full name of a named type (fastavro tags those
    values with it), else its Python type."""
    table: dict = {}
    for branch, node, name in zip(branches, nodes, names):
        entry = (name, node.convert)
        if _is_named(branch, named):
            if isinstance(branch, dict) and isinstance(branch.get("type"), str) and \
                    branch["type"] not in _NAMED:
                branch = branch["type"]
            if isinstance(branch, str):
                full = branch if "." in branch or not namespace else "%s.%s" % (namespace, branch)
                full = full if full in named else branch
            else:
                full = _full_name(branch, namespace)
            table[full] = entry
            continue
        kind = branch if isinstance(branch, str) else branch.get("type")
        python = {"boolean": bool, "int": int, "long": int, "float": float, "double": float,
                  "bytes": bytes, "string": str, "array": list, "map": dict}.get(kind)
        if kind == "bytes" and isinstance(branch, dict) and branch.get("logicalType") == "decimal":
            python = "decimal"
        table.setdefault(python, entry)
    return table


def _python_kind(value: Any):
    kind = type(value)
    if kind.__name__ == "Decimal":
        return "decimal"
    return kind


def _is_plain(arrow_type: pa.DataType) -> bool:
    return (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)
            or pa.types.is_boolean(arrow_type) or pa.types.is_string(arrow_type))
