"""``ByteArrayConverter``: the raw bytes, untouched, as Connect's ByteArrayConverter passes them."""

from __future__ import annotations

from typing import Optional, Sequence

import pyarrow as pa

from transforms.converters.base import Conversion, Converter
from transforms.schema import connect_field


class ByteArrayConverter(Converter):
    """Keeps each key or value as ``binary``; it never fails and takes no sub-keys."""

    java_class = "org.apache.kafka.connect.converters.ByteArrayConverter"

    schema = connect_field("value", pa.binary(), True)

    def convert(self, data: Sequence[Optional[bytes]]) -> Conversion:
        return Conversion(pa.array(data, type=pa.binary()))
