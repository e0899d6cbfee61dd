"""One Arrow type for records of a batch whose types differ (varying JSON fields, evolving schemas)."""

from __future__ import annotations

import pyarrow as pa


class TypeConflict(Exception):
    """Two types that no Arrow promotion reconciles.

    Attributes:
      path: Field names from the top (``[]`` marks list items, ``{}`` map values).
      here: The type of the record being added.
      earlier: The type unified from the records before it.
      context: What ``earlier`` was unified from, ``earlier records`` unless set.
    """

    def __init__(self, here: pa.DataType, earlier: pa.DataType):
        super().__init__()
        self.path: list[str] = []
        self.here = here
        self.earlier = earlier
        self.context: str = ""

    def reason(self) -> str:
        """E.g. ``field 'x' is string here but int64 in earlier records``."""
        where = "field %r" % format_path(self.path) if self.path else "the value"
        return "%s is %s here but %s in %s" % (where, kind(self.here), kind(self.earlier),
                                              self.context or "earlier records")


def format_path(path: list[str]) -> str:
    """``['a', 'b', '[]']`` as ``a.b[]``."""
    text = ""
    for part in path:
        if text and not part.startswith(("[", "{")):
            text += "."
        text += part
    return text


def kind(arrow_type: pa.DataType) -> str:
    """A short name: the Arrow name of a primitive type, ``struct``, ``list`` or ``map`` otherwise."""
    if pa.types.is_struct(arrow_type):
        return "struct"
    if pa.types.is_map(arrow_type):
        return "map"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return "list"
    return str(arrow_type)


def unify_types(earlier: pa.DataType, here: pa.DataType) -> pa.DataType:
    """The narrowest type holding values of both types.

    Structs merge by field name (fields missing on one side become nullable), lists and maps merge
    their items, a null type gives way to any other, and other types follow Arrow's permissive
    promotions (``int32`` to ``int64``, ``int64`` to ``double``, wider decimals).

    Raises:
      TypeConflict: The types cannot be reconciled; its path names the field.
    """
    if earlier == here or pa.types.is_null(here):
        return earlier
    if pa.types.is_null(earlier):
        return here
    if pa.types.is_struct(earlier) and pa.types.is_struct(here):
        return _unify_structs(earlier, here)
    if pa.types.is_map(earlier) and pa.types.is_map(here):
        if earlier.key_type != here.key_type:
            raise TypeConflict(here, earlier)
        item = _unify_field(earlier.item_field, here.item_field, "{}")
        return pa.map_(earlier.key_field, item)
    if pa.types.is_list(earlier) and pa.types.is_list(here):
        return pa.list_(_unify_field(earlier.value_field, here.value_field, "[]"))
    return _promote(earlier, here)


def _unify_structs(earlier: pa.StructType, here: pa.StructType) -> pa.StructType:
    here_fields = {f.name: f for f in here}
    fields = []
    for field in earlier:
        other = here_fields.pop(field.name, None)
        if other is None:
            fields.append(field.with_nullable(True))
        else:
            fields.append(_unify_field(field, other, field.name))
    fields.extend(f.with_nullable(True) for f in here_fields.values())  # metadata (defaults) kept
    return pa.struct(fields)


def _unify_field(earlier: pa.Field, here: pa.Field, part: str) -> pa.Field:
    try:
        arrow_type = unify_types(earlier.type, here.type)
    except TypeConflict as conflict:
        conflict.path.insert(0, part)
        raise
    # the Connect schema of the field (logical name, parameters, default) is kept: of the later one
    # where both say something (its default applies to records that lack the field)
    metadata = {**(earlier.metadata or {}), **(here.metadata or {})} or None
    return pa.field(earlier.name, arrow_type, nullable=earlier.nullable or here.nullable,
                    metadata=metadata)


def _promote(earlier: pa.DataType, here: pa.DataType) -> pa.DataType:
    try:
        merged = pa.unify_schemas([pa.schema([("v", earlier)]), pa.schema([("v", here)])],
                                  promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise TypeConflict(here, earlier) from None
    return merged.field("v").type
