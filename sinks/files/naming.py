"""File names of the file sink, as Confluent's storage connectors write them.

The S3/GCS sinks' ``<topic>+<partition>+<zero-padded first offset>.<extension>``
(:class:`StartOffsetNaming`), or the HDFS connector's
``<topic>+<partition>+<first offset>+<last offset>.<extension>`` (:class:`RangeNaming`). The offsets
are the records' own, so a rerun over the same offsets writes the same names. The sink config holds one
naming object, which makes and parses the names; the writer does not care which.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Optional

from sinks.files.formats.parquet import CODECS as PARQUET_CODECS

TMP_SUFFIX = ".tmp"


class FileName(NamedTuple):
    topic: str
    partition: int
    offset: int
    extension: str


def file_name(topic: str, partition: int, offset: int, extension: str, *, pad: int = 10,
              delim: str = "+") -> str:
    """``file_name('orders', 3, 42, '.snappy.parquet')`` -> ``'orders+3+0000000042.snappy.parquet'``."""
    return "%s%s%d%s%s%s" % (topic, delim, partition, delim, str(offset).zfill(pad), extension)


def parse_file_name(name: str, *, delim: str = "+") -> Optional[FileName]:
    """The parts of a name :func:`file_name` made, or None for any other name."""
    d = re.escape(delim)
    match = re.fullmatch(r"(?P<topic>.+)%s(?P<p>\d+)%s(?P<o>\d+)(?P<ext>(\.[A-Za-z0-9]+)+)" % (d, d),
                         name)
    if match is None:
        return None
    return FileName(match["topic"], int(match["p"]), int(match["o"]), match["ext"])


def temp_name(name: str, token: str) -> str:
    """A hidden name in the same directory, so the final rename is atomic."""
    return ".%s.%s%s" % (name, token, TMP_SUFFIX)


def parse_temp_name(name: str, *, delim: str = "+") -> Optional[FileName]:
    """The final name's parts of a temporary file, or None."""
    if not (name.startswith(".") and name.endswith(TMP_SUFFIX)):
        return None
    inner = name[1:-len(TMP_SUFFIX)].rsplit(".", 1)[0]
    return parse_file_name(inner, delim=delim)


class RangeFileName(NamedTuple):
    """The parts of an HDFS connector name: first and last offset of the records it holds."""

    topic: str
    partition: int
    offset: int
    end_offset: int
    extension: str


class StartOffsetNaming:
    """Confluent's S3/GCS sinks' names: ``<topic>+<partition>+<first offset>.<ext>``.

    Args:
      pad: ``filename.offset.zero.pad.width``.
      delim: ``file.delim``.
    """

    kind = "start"
    sorted_by_start = True

    def __init__(self, pad: int = 10, delim: str = "+"):
        self.pad = pad
        self.delim = delim

    def __repr__(self) -> str:
        return "%s(pad=%d, delim=%r)" % (type(self).__name__, self.pad, self.delim)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.pad, self.delim))

    def extension(self, extension: str) -> str:
        """The name ending written for a format's ``extension``."""
        return extension

    def name(self, topic: str, partition: int, first: int, last: int, extension: str) -> str:
        """The name of a file holding the offsets ``first..last`` (inclusive) of one partition."""
        return file_name(topic, partition, first, self.extension(extension), pad=self.pad,
                         delim=self.delim)

    def parse(self, name: str) -> Optional[FileName]:
        """The parts of a name :meth:`name` made, or None for any other name."""
        return parse_file_name(name, delim=self.delim)

    def parse_temp(self, name: str) -> Optional[FileName]:
        """The final name's parts of a temporary file, or None."""
        return parse_temp_name(name, delim=self.delim)

    def prefix(self, topic: str, partition: int, first: int) -> str:
        """A name that sorts before every name of the partition's files from offset ``first`` on
        (while the offsets fit the padding)."""
        return file_name(topic, partition, first, "", pad=self.pad, delim=self.delim)


class RangeNaming(StartOffsetNaming):
    """The HDFS connector's names: ``<topic>+<partition>+<first offset>+<last offset>.<ext>``.

    Both offsets are zero-padded to ``filename.offset.zero.pad.width`` and the delimiter is always
    ``+`` (the HDFS connector has no ``file.delim``). Parquet files end in ``.parquet`` whatever their
    codec, as the HDFS connector names them. A restart reads the committed offset of a partition
    from these names: the largest last offset, plus one.
    """

    kind = "hdfs"

    def __init__(self, pad: int = 10):
        super().__init__(pad, "+")

    def __repr__(self) -> str:
        return "%s(pad=%d)" % (type(self).__name__, self.pad)

    def extension(self, extension: str) -> str:
        for infix in _PARQUET_CODEC_INFIXES:
            if extension.endswith(infix + ".parquet"):
                return extension[:-len(infix + ".parquet")] + ".parquet"
        return extension

    def name(self, topic: str, partition: int, first: int, last: int, extension: str) -> str:
        """``name('orders', 3, 40, 49, '.avro')`` -> ``'orders+3+0000000040+0000000049.avro'``."""
        return "%s+%d+%s+%s%s" % (topic, partition, str(first).zfill(self.pad), str(last).zfill(self.pad),
                                  self.extension(extension))

    def parse(self, name: str) -> Optional[RangeFileName]:
        match = _RANGE_NAME.fullmatch(name)
        if match is None or int(match["s"]) > int(match["e"]):
            return None
        return RangeFileName(match["topic"], int(match["p"]), int(match["s"]), int(match["e"]),
                             match["ext"])

    def parse_temp(self, name: str) -> Optional[RangeFileName]:
        if not (name.startswith(".") and name.endswith(TMP_SUFFIX)):
            return None
        return self.parse(name[1:-len(TMP_SUFFIX)].rsplit(".", 1)[0])


_PARQUET_CODEC_INFIXES = tuple(infix for _, infix in PARQUET_CODECS.values() if infix)
_RANGE_NAME = re.compile(r"(?P<topic>.+)\+(?P<p>\d+)\+(?P<s>\d+)\+(?P<e>\d+)(?P<ext>(\.[A-Za-z0-9]+)+)")

#: ``naming`` values of the file sink: which connector's names it writes.
NAMINGS = {"start": StartOffsetNaming, "hdfs": RangeNaming}


def make_naming(kind: str, pad: int = 10, delim: str = "+") -> StartOffsetNaming:
    """The naming ``kind`` (``start``: the S3/GCS sinks'; ``hdfs``: the HDFS connector's)."""
    if kind == "hdfs":
        return RangeNaming(pad)
    if kind == "start":
        return StartOffsetNaming(pad, delim)
    raise ValueError("naming must be one of %s, got %r" % (", ".join(map(repr, NAMINGS)), kind))
