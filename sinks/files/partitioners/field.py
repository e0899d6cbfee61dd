"""Confluent's FieldPartitioner: ``<field>=<value>[/<field>=<value>...]`` from fields of the value."""

from __future__ import annotations

from typing import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from common.errors import ConfigError
from sinks.files.partitioners.base import Partitioner, Split, group_by
from transforms.errors import RecordError
from transforms.records import ConvertedBundle, record_ref


def field_column(bundle: ConvertedBundle, offsets: Sequence[int], values: pa.Array, path: str,
                 key: str) -> pa.Array:
    """The (possibly nested, dotted) field ``path`` of struct values; a missing field names a record."""
    column = values
    for part in path.split("."):
        if not pa.types.is_struct(column.type) or column.type.get_field_index(part) < 0:
            raise RecordError("%s=%s: record %s has no field %r. The run stopped and committed no "
                              "offsets." % (key, path, record_ref(bundle.topic, bundle.partition,
                                                                  offsets[0]), path))
        column = pc.struct_field(column, part)
    nulls = column.null_count
    if nulls:
        first = pc.index(pc.is_null(column), True).as_py()
        raise RecordError("%s=%s: record %s has no value in field %r. The run stopped and committed no "
                          "offsets." % (key, path, record_ref(bundle.topic, bundle.partition,
                                                              offsets[first]), path))
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
                raise RecordError("partition.field.name=%s: field %r of record %s is of type %s; "
                                  "partitions can be made from string, integer and boolean fields. The "
                                  "run stopped and committed no offsets."
                                  % (name, name, record_ref(bundle.topic, bundle.partition, offsets[0]),
                                     column.type))
            text = pc.cast(column, pa.string())
            if pa.types.is_boolean(column.type):
                text = pc.utf8_lower(text)
            parts.append(pc.binary_join_element_wise("%s=" % name, text, ""))
        directories = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "/")
        return group_by(directories)
