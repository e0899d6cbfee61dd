"""``schema.compatibility``: where a change of value schema closes a file, and how records are projected.

As Confluent's storage connectors define it (``StorageSchemaCompatibility``), record by record within
one file's directory, from the file's first record, whose schema is the file's:

- ``NONE``: any other schema closes the file; the record starts the next one.
- ``BACKWARD`` and ``FULL``: a schema of a higher version closes the file; a record of a lower or equal
  version is projected to the file's schema (fields it lacks take their default, or null where
  optional; fields the file's schema lacks are dropped; numbers widen).
- ``FORWARD``: a lower version closes the file; records of higher versions are projected.
- All but ``NONE`` need each value schema's version; a record without one is refused, as Confluent's
  sink fails on it.

A window's records (one converted bundle) are split into consecutive runs of one file schema, each its
own file named by its first offset, so a replay of the window writes the same names. The file's
schema starts afresh at each window's first record, as Confluent's does after a restart.
"""

from __future__ import annotations

from typing import Optional, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from transforms.schema import schema_info

COMPATIBILITIES = ("NONE", "BACKWARD", "FORWARD", "FULL")

# Connect's numeric promotions, narrowest first: a value may be projected to a wider type only.
_WIDENING = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.float32(), pa.float64()]


class ProjectionError(Exception):
    """A record's schema cannot be projected to its file's schema; ``positions`` name the records."""

    def __init__(self, reason: str, positions: Sequence[int] = ()):
        super().__init__(reason)
        self.positions = list(positions)


def _same(a: pa.Field, b: pa.Field) -> bool:
    return a is b or a.equals(b, check_metadata=True)


def _changes(schema: pa.Field, current: pa.Field, compatibility: str) -> bool:
    if compatibility == "NONE":
        return not _same(schema, current)
    here, file_version = schema_info(schema).version, schema_info(current).version
    if compatibility == "FORWARD":
        return here < file_version
    return here > file_version


def check_versions(schemas: Sequence[Optional[pa.Field]], compatibility: str) -> None:
    """Raises ProjectionError naming the records whose schema has no version, where versions count."""
    if compatibility == "NONE":
        return
    missing = [i for i, s in enumerate(schemas) if s is not None and schema_info(s).version is None]
    if missing:
        raise ProjectionError(
            "schema.compatibility=%s compares value schema versions, but the record's value schema has "
            "none (set \"version\" in the schema, or use schema.compatibility=NONE)" % compatibility,
            missing)


def schema_runs(schemas: Sequence[pa.Field], compatibility: str) -> list:
    """``(begin, end, file schema)`` of each run of consecutive records that share a file."""
    check_versions(schemas, compatibility)
    runs, begin, current = [], 0, schemas[0]
    for k in range(1, len(schemas)):
        if _changes(schemas[k], current, compatibility):
            runs.append((begin, k, current))
            begin, current = k, schemas[k]
    runs.append((begin, len(schemas), current))
    return runs


def project(values: pa.Array, sources: Sequence[pa.Field], target: pa.Field) -> pa.Array:
    """The records ``values`` (of the bundle's unified type), each of schema ``sources[i]``, as values
    of the file's schema ``target``.

    Raises:
      ProjectionError: naming the records of a schema that cannot be projected.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    groups: dict = {}
    for i, source in enumerate(sources):
        groups.setdefault(id(source), (source, []))[1].append(i)
    if len(groups) == 1 and _same(sources[0], target) and values.type == target.type:
        return values
    parts, order = [], []
    for source, indices in groups.values():
        part = values.take(pa.array(indices, pa.int64()))
        try:
            parts.append(_project(part, source, target, [], None))
        except ProjectionError as error:
            raise ProjectionError(
                "schema.compatibility: the record's value schema%s cannot be projected to the file's "
                "schema%s: %s" % (_version(source), _version(target), error), indices) from None
        order.extend(indices)
    joined = pa.concat_arrays(parts)
    inverse = [0] * len(order)
    for position, index in enumerate(order):
        inverse[index] = position
    return joined.take(pa.array(inverse, pa.int64()))


def _version(field: pa.Field) -> str:
    version = schema_info(field).version
    return "" if version is None else " (version %d)" % version


def _where(path: list) -> str:
    return "field %r" % ".".join(path) if path else "the value"


def _project(array: pa.Array, source: pa.Field, target: pa.Field, path: list,
             live: Optional[pa.Array]) -> pa.Array:
    """``array`` (unified type) of records of ``source`` as ``target``; ``live`` marks the records
    whose enclosing structs are not null (None: all)."""
    s, t = source.type, target.type
    name_here, name_file = schema_info(source).name, schema_info(target).name
    if name_here != name_file and name_here is not None and name_file is not None:
        raise ProjectionError("%s is named %s here but %s in the file" % (_where(path), name_here,
                                                                          name_file))
    if pa.types.is_struct(t):
        if not pa.types.is_struct(s):
            raise ProjectionError("%s is a struct in the file but %s here" % (_where(path), s))
        here_live = array.is_valid() if live is None else pc.and_(live, array.is_valid())
        children = []
        for i in range(t.num_fields):
            field = t.field(i)
            if s.get_field_index(field.name) >= 0:
                children.append(_project(array.field(field.name), s.field(field.name), field,
                                         path + [field.name], here_live))
            else:
                children.append(_missing(field, len(array), path + [field.name]))
        mask = array.is_null() if array.null_count else None
        result = pa.StructArray.from_arrays(children, fields=list(t), mask=mask)
    else:
        if not _promotes(s, t):
            raise ProjectionError("%s is %s here, which does not project to %s" % (_where(path), s, t))
        result = array if array.type == t else array.cast(t)
    return _fill_required(result, target, path, live)


def _promotes(here: pa.DataType, there: pa.DataType) -> bool:
    if here == there:
        return True
    if here in _WIDENING and there in _WIDENING:
        return _WIDENING.index(here) <= _WIDENING.index(there)
    return False


def _missing(field: pa.Field, length: int, path: list) -> pa.Array:
    """A field the record's schema lacks: its default, else null where optional."""
    info = schema_info(field)
    if info.has_default:
        return pa.array([info.default] * length, field.type)
    if field.nullable:
        return pa.nulls(length, field.type)
    raise ProjectionError("required %s is missing from the record's schema and has no default"
                          % _where(path))


def _fill_required(result: pa.Array, target: pa.Field, path: list,
                   live: Optional[pa.Array]) -> pa.Array:
    """Nulls where the file's schema is required: its default, or an error."""
    if target.nullable or not result.null_count:
        return result
    nulls = result.is_null() if live is None else pc.and_(live, result.is_null())
    if not pc.any(nulls).as_py():
        return result
    info = schema_info(target)
    if not info.has_default:
        raise ProjectionError("%s is optional here but required in the file, which has no default"
                              % _where(path))
    filled = [info.default if v is None else v for v in result.to_pylist()]
    return pa.array(filled, target.type)
