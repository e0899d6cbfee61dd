"""The converter ABC: how the raw key or value bytes of a batch of records become one Arrow array."""

from __future__ import annotations

import abc
import dataclasses
from typing import ClassVar, Mapping, Optional, Sequence

import pyarrow as pa

from common.configdef import ConfigDef
from common.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Conversion:
    """What a converter made of one batch.

    Attributes:
      values: One entry per record that converted, in input order; records that failed are left out.
        A null input (Kafka null, a tombstone) is a null entry, never a failure.
      failures: ``(index, reason)`` for each record that did not convert, ``index`` into the input list,
        in increasing index order.
      schema: The Connect schema of ``values`` as an Arrow field (see :mod:`transforms.schema`); None
        for schemaless data.
      record_schemas: When the batch's records carry different schemas (unified into ``schema``):
        each value's own schema as an Arrow field, None for a null value; else None.
    """

    values: pa.Array
    failures: tuple[tuple[int, str], ...] = ()
    schema: Optional[pa.Field] = None
    record_schemas: Optional[tuple] = None


class Converter(abc.ABC):
    """A Kafka Connect converter: configured once, then :meth:`convert` is called per batch.

    Converters are held by Beam DoFns, so they are picklable: their state is their configuration plus
    caches that only make conversion faster.

    Subclasses declare their sub-keys in ``config_def`` (names without the ``key.converter.`` /
    ``value.converter.`` prefix); they are parsed into ``self.config`` by the project's one key parser,
    so errors name the full key.

    Args:
      props: The converter's sub-keys with the prefix stripped, e.g. ``{"schemas.enable": "false"}``.
      config_key: ``"key.converter"`` or ``"value.converter"``, used in error messages.

    Raises:
      ConfigError: A sub-key is unknown or has a bad value.
    """

    #: Kafka's class name of this converter, as dead letters name the class that failed a record.
    java_class: ClassVar[str] = ""

    #: The sub-keys (without the ``key.converter.`` / ``value.converter.`` prefix) this converter takes.
    config_def: ClassVar[ConfigDef] = ConfigDef()

    def __init__(self, props: Mapping[str, str], *, config_key: str):
        self._config_key = config_key
        names = self.config_def.names()
        for key in props:
            if key not in names:
                if names:
                    allowed = "allowed sub-keys are " + ", ".join(repr(k) for k in names)
                else:
                    allowed = "it takes no sub-keys"
                raise ConfigError("%s.%s is not a setting of %s; %s"
                                  % (config_key, key, type(self).__name__, allowed))
        prefix = config_key + "."
        self.config = self.config_def.parse({prefix + k: v for k, v in props.items()}, prefix=prefix)

    #: The Connect schema of what :meth:`convert` returns, as an Arrow field (see
    #: :mod:`transforms.schema`); None for schemaless data. Converters whose schema depends on the
    #: data return it with each :class:`Conversion` instead.
    schema: Optional[pa.Field] = None

    @abc.abstractmethod
    def convert(self, data: Sequence[Optional[bytes]]) -> Conversion:
        """Converts one batch of raw keys or values.

        Args:
          data: Raw bytes per record, None for a Kafka null.

        Returns:
          The converted values and the records that failed, with reasons.
        """

    def __repr__(self) -> str:
        return "%s(config_key=%r)" % (type(self).__name__, self._config_key)
