"""Confluent's FieldPartitioner: ``<field>=<value>[/<field>=<value>...]`` from fields of the value."""

from __future__ import annotations

from typing import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from common.errors import ConfigError, RejectedRecord
from sinks.files.partitioners.base import Partitioner, Split, group_by
from transforms.records import ConvertedBundle


def field_column(bundle: ConvertedBundle, offsets: Sequence[int], values: pa.Array, path: str,
                 key: str) -> pa.Array:
    """The (possibly nested, dotted) field ``path`` of struct values; a missing field names a record."""
    column = values
    for part in path.split("."):
        if not pa.types.is_struct(column.type) or column.type.get_field_index(part) < 0:
            raise RejectedRecord("%s=%s: the record has no field %r" % (key, path, path), offsets)
        column = pc.struct_field(column, part)
    if column.null_count:
        nulls = pc.is_null(column).to_pylist()
        raise RejectedRecord("%s=%s: the record has no value in field %r" % (key, path, path),
                             [o for o, null in zip(offsets, nulls) if null])
    return column


class FieldPartitioner(Partitioner):
    """Args:
      fields: ``partition.field.name``: one or more fields (dotted for nested ones) of string, integer
        or boolean type.
    """

    def __init__(self, fields: Sequence[str]):
        if not fields:
            raise ConfigError("partition.field.name is required with the FieldPartitioner")
        self.fields = tuple(fields)

    def split(self, bundle: ConvertedBundle, offsets: Sequence[int], values: pa.Array) -> Split:
        parts = []
        for name in self.fields:
            column = field_column(bundle, offsets, values, name, "partition.field.name")
            if not (pa.types.is_string(column.type) or pa.types.is_integer(column.type)
                    or pa.types.is_boolean(column.type)):
                raise RejectedRecord("partition.field.name=%s: field %r of the record is of type %s; "
                                     "partitions can be made from string, integer and boolean fields"
                                     % (name, name, column.type), offsets)
            text = pc.cast(column, pa.string())
            if pa.types.is_boolean(column.type):
                text = pc.utf8_lower(text)
            parts.append(pc.binary_join_element_wise("%s=" % name, text, ""))
        directories = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "/")
        return group_by(directories)
