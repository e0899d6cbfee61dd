"""``ByteArrayConverter``: the raw bytes, untouched, as Connect's ByteArrayConverter passes them."""

from __future__ import annotations

from typing import Optional, Sequence

import pyarrow as pa

from transforms.converters.base import Conversion, Converter


class ByteArrayConverter(Converter):
    """Keeps each key or value as ``binary``; it never fails and takes no sub-keys."""

    def convert(self, data: Sequence[Optional[bytes]]) -> Conversion:
        return Conversion(pa.array(data, type=pa.binary()))
