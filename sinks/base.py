"""What every sink family provides: its config keys and a write transform.

A sink family (files, JDBC, Elasticsearch...) is one module or package exposing a :class:`Sink`. The
connector config names it with ``connector.class``; :data:`sinks.SINKS` maps every accepted name to it.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Mapping, Sequence

import apache_beam as beam

from pipelines.config.definitions import ConfigDef


class Sink(abc.ABC):
    """A sink family.

    Attributes:
      config_def: The sink's own keys (validated with the connector's common keys).
      ignored_keys: Kafka Connect keys of this sink that are accepted but have no effect here, each with
        the reason printed in the warning.
    """

    config_def: ClassVar[ConfigDef]
    ignored_keys: ClassVar[Mapping[str, str]] = {}

    @abc.abstractmethod
    def parse(self, values: Mapping[str, Any]) -> Any:
        """Builds the sink's frozen config from parsed values; raises ConfigError on conflicts."""

    @abc.abstractmethod
    def bundle_offsets(self, config: Any) -> int:
        """Width, in offsets, of the windows the source should emit (``flush.size`` for files)."""

    @abc.abstractmethod
    def write(self, config: Any, plans: Sequence) -> beam.PTransform:
        """The transform from converted bundles to write results; safe to replay."""

    @abc.abstractmethod
    def stream_windows(self, config: Any) -> tuple:
        """``(records per window, rotate ms or -1)`` for the unbounded read."""

    @abc.abstractmethod
    def write_each(self, config: Any) -> beam.PTransform:
        """Streaming: writes each converted bundle as it comes, one write result each."""
