"""The partitioner ABC: which directory below ``<topics.dir>/<topic>/`` each record of a window goes to.

A window's records are split into one file per directory, named by the first offset it holds, so the
split must depend only on the records and the config (never on the clock) for a replayed window to
write the same names.
"""

from __future__ import annotations

import abc
from typing import List, Optional, Sequence, Tuple

import pyarrow as pa

from transforms.records import ConvertedBundle

#: (directory, positions of the window's records in it); positions None means all of them.
Split = List[Tuple[str, Optional[pa.Array]]]


class Partitioner(abc.ABC):
    @abc.abstractmethod
    def split(self, bundle: ConvertedBundle, offsets: Sequence[int], values: pa.Array) -> Split:
        """The directories of the window's records (``offsets`` and ``values`` after null handling).

        Raises:
          RejectedRecord: Records have no value to partition by (with their offsets).
        """

    def partition_directory(self, topic: str, partition: int) -> Optional[str]:
        """The single directory every file of a Kafka partition goes to, if there is one.

        With one, the end-of-run cleanup lists only it, from the run's first file name on; without
        one it lists the topic's whole directory.
        """
        return None


class DefaultPartitioner(Partitioner):
    """``partition=<kafka partition>``, as Confluent's DefaultPartitioner."""

    def split(self, bundle: ConvertedBundle, offsets: Sequence[int], values: pa.Array) -> Split:
        return [(self.partition_directory(bundle.topic, bundle.partition), None)]

    def partition_directory(self, topic: str, partition: int) -> Optional[str]:
        return "partition=%d" % partition


def group_by(directories: pa.Array) -> Split:
    """Positions per distinct directory, directories in the order they first appear, positions in
    record order; one stable sort, however many directories there are."""
    import numpy as np
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(directories)
    if len(encoded.dictionary) == 1:
        return [(encoded.dictionary[0].as_py(), None)]
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    order = np.argsort(codes, kind="stable")
    ends = np.cumsum(np.bincount(codes, minlength=len(encoded.dictionary)))
    starts = ends - np.bincount(codes, minlength=len(encoded.dictionary))
    return [(name, pa.array(order[start:end])) for name, start, end in
            zip(encoded.dictionary.to_pylist(), starts, ends)]
