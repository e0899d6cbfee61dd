"""What every sink family provides: its config keys and a write transform.

A sink family (files, JDBC, Elasticsearch...) is one module or package exposing a :class:`Sink`. The
connector config names it with ``connector.class``; :data:`sinks.SINKS` maps every accepted name to it.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, ClassVar, Mapping, Optional, Sequence

import apache_beam as beam

from common.configdef import ConfigDef


@dataclasses.dataclass(frozen=True)
class Windows:
    """How the Kafka read cuts a partition into the bundles a sink writes as one unit.

    Attributes:
      size: Bounded runs: offsets per window (aligned to the run's start). Streaming: records per
        window at most.
      rotate_ms: Streaming: a window also ends before the first record this many ms (record time)
        past its first record; -1 for never.
    """

    size: int
    rotate_ms: int = -1


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

    def check(self, config: Any) -> None:
        """Fails with a BeamConnectError when the external system cannot be used (a missing bucket or
        database, refused credentials); run before any record is read."""

    @abc.abstractmethod
    def windows(self, config: Any) -> Windows:
        """How the source should cut partitions into bundles for this sink."""

    @abc.abstractmethod
    def write(self, config: Any, plans: Optional[Sequence]) -> beam.PTransform:
        """The transform from converted bundles to write results, one per bundle; safe to replay.

        ``plans`` are a bounded run's partition plans (for end-of-run work such as removing what a
        killed run left); None in streaming, where each bundle is written and committed on its own.
        """
