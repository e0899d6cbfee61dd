"""File names of the file sink, as Confluent's storage connectors write them.

``<topic>+<partition>+<zero-padded first offset>.<extension>``; the offset is the first record's offset,
so a rerun over the same offsets writes the same name.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Optional

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
