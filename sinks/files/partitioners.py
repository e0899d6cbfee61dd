"""Partitioners: the directory a record's file goes to below ``<topics.dir>/<topic>/``.

Found by ``partitioner.class``; Confluent's class names are accepted.
"""

from __future__ import annotations

import abc

from pipelines.config.errors import ConfigError


class Partitioner(abc.ABC):
    @abc.abstractmethod
    def directory(self, topic: str, partition: int) -> str:
        """The encoded partition directory of a window's file, relative to the topic's directory."""


class DefaultPartitioner(Partitioner):
    """``partition=<kafka partition>``, as Confluent's DefaultPartitioner."""

    def directory(self, topic: str, partition: int) -> str:
        return "partition=%d" % partition


PARTITIONERS = {
    "default": DefaultPartitioner,
    "io.confluent.connect.storage.partitioner.DefaultPartitioner": DefaultPartitioner,
}


def make_partitioner(name: str) -> Partitioner:
    try:
        return PARTITIONERS[name]()
    except KeyError:
        raise ConfigError("partitioner.class must be one of %s, got %r"
                          % (", ".join(repr(n) for n in PARTITIONERS), name)) from None
