"""``StringConverter``: bytes decoded as text, as Connect's StringConverter reads them."""

from __future__ import annotations

import codecs
from typing import Mapping, Optional, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from common.errors import ConfigError
from common.configdef import ConfigDef, ConfigKey
from transforms.converters.base import Conversion, Converter
from transforms.schema import connect_field


class StringConverter(Converter):
    """Decodes each key or value into a ``string`` array.

    Sub-keys:
      converter.encoding: A character encoding Python knows (``UTF-8`` by default, ``latin-1``,
        ``cp1252``...). A record that does not decode is a failure.

    UTF-8 is decoded and validated by Arrow over the whole batch; only a batch holding a bad record is
    decoded record by record to find it.
    """

    java_class = "org.apache.kafka.connect.storage.StringConverter"

    config_def = ConfigDef([ConfigKey("converter.encoding", "string", "UTF-8")])
    schema = connect_field("value", pa.string(), True)

    def __init__(self, props: Mapping[str, str], *, config_key: str):
        super().__init__(props, config_key=config_key)
        encoding = self.config["converter.encoding"] or "UTF-8"
        try:
            canonical = codecs.lookup(encoding).name
            str(b"a", encoding)  # LookupError for codecs that are not text encodings (zlib, base64)
        except UnicodeDecodeError:
            pass
        except LookupError:
            raise ConfigError("%s.converter.encoding must be a character encoding, got %r"
                              % (config_key, props["converter.encoding"])) from None
        self.encoding = encoding
        self._utf8 = canonical == "utf-8"

    def convert(self, data: Sequence[Optional[bytes]]) -> Conversion:
        if self._utf8:
            return self._convert_utf8(data)
        texts, failures = [], []
        for index, raw in enumerate(data):
            if raw is None:
                texts.append(None)
                continue
            try:
                texts.append(bytes(raw).decode(self.encoding))
            except UnicodeDecodeError as e:
                failures.append((index, "not valid %s: %s" % (self.encoding, e)))
        return Conversion(pa.array(texts, type=pa.string()), tuple(failures))

    def _convert_utf8(self, data: Sequence[Optional[bytes]]) -> Conversion:
        binary = pa.array(data, type=pa.binary())
        try:
            return Conversion(binary.cast(pa.string()))
        except pa.ArrowInvalid:
            pass
        failures, keep = [], []
        for index, raw in enumerate(data):
            if raw is not None:
                try:
                    bytes(raw).decode("utf-8")
                except UnicodeDecodeError as e:
                    failures.append((index, "not valid UTF-8: %s" % e))
                    keep.append(False)
                    continue
            keep.append(True)
        good = pc.filter(binary, pa.array(keep, type=pa.bool_()))
        return Conversion(good.cast(pa.string()), tuple(failures))
