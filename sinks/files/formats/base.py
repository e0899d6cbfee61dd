"""The format ABC: how a window's converted values become one file's bytes."""

from __future__ import annotations

import abc
from typing import Optional

import pyarrow as pa


class Format(abc.ABC):
    """A file format of the file sink.

    Implementations are small and stateless; they are built once per pipeline from the sink config and
    pickled into the writer.
    """

    @property
    @abc.abstractmethod
    def extension(self) -> str:
        """File name ending, with its leading dot (``.snappy.parquet``)."""

    @abc.abstractmethod
    def serialize(self, values: pa.Array) -> bytes:
        """One whole file holding ``values`` (non-null, in record order)."""

    def serialize_with_schema(self, values: pa.Array, schema: Optional[pa.Field]) -> bytes:
        """One whole file holding ``values``, whose Connect schema is ``schema`` (None: schemaless).

        Formats that write a schema into the file (Avro) make it from ``schema``; the others write
        :meth:`serialize` of the values.
        """
        return self.serialize(values)


def as_table(values: pa.Array) -> pa.Table:
    """A struct array's fields as columns; any other array as a single column named ``value``."""
    if pa.types.is_struct(values.type):
        if values.type.num_fields == 0:
            return pa.table({"value": pa.array([None] * len(values), pa.null())})
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        return pa.Table.from_batches([pa.RecordBatch.from_struct_array(values)])
    return pa.table({"value": values})


def rows(values: pa.Array) -> list:
    """``values.to_pylist()``, built column by column for structs (about twice as fast)."""
    if not pa.types.is_struct(values.type) or values.type.num_fields == 0:
        return values.to_pylist()
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    names = [values.type.field(i).name for i in range(values.type.num_fields)]
    columns = [column.to_pylist() for column in values.flatten()]  # honours offset and validity
    return [dict(zip(names, row)) for row in zip(*columns)]
