"""The converter ABC: how the raw key or value bytes of a batch of records become one Arrow array."""

from __future__ import annotations

import abc
import dataclasses
from typing import Mapping, Optional, Sequence

import pyarrow as pa

from common.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Conversion:
    """What a converter made of one batch.

    Attributes:
      values: One entry per record that converted, in input order; records that failed are left out.
        A null input (Kafka null, a tombstone) is a null entry, never a failure.
      failures: ``(index, reason)`` for each record that did not convert, ``index`` into the input list,
        in increasing index order.
    """

    values: pa.Array
    failures: tuple[tuple[int, str], ...] = ()


class Converter(abc.ABC):
    """A Kafka Connect converter: configured once, then :meth:`convert` is called per batch.

    Converters are held by Beam DoFns, so they are picklable: their state is their configuration plus
    caches that only make conversion faster.

    Subclasses list the sub-keys they accept in ``SUB_KEYS`` and read them with the ``_bool``, ``_int``
    and ``_choice`` helpers, which raise :class:`ConfigError` naming the full key.

    Args:
      props: The converter's sub-keys with the prefix stripped, e.g. ``{"schemas.enable": "false"}``.
      config_key: ``"key.converter"`` or ``"value.converter"``, used in error messages.

    Raises:
      ConfigError: A sub-key is unknown or has a bad value.
    """

    #: Sub-keys (without the ``key.converter.`` / ``value.converter.`` prefix) this converter accepts.
    SUB_KEYS: tuple[str, ...] = ()

    def __init__(self, props: Mapping[str, str], *, config_key: str):
        self._config_key = config_key
        for key in props:
            if key not in self.SUB_KEYS:
                if self.SUB_KEYS:
                    allowed = "allowed sub-keys are " + ", ".join(repr(k) for k in self.SUB_KEYS)
                else:
                    allowed = "it takes no sub-keys"
                raise ConfigError("%s.%s is not a setting of %s; %s"
                                  % (config_key, key, type(self).__name__, allowed))

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

    def _raw(self, props: Mapping[str, str], key: str) -> Optional[str]:
        value = props.get(key)
        return None if value is None else str(value).strip()

    def _bool(self, props: Mapping[str, str], key: str, default: bool) -> bool:
        """A boolean sub-key, ``true`` or ``false`` in any case, as Connect's ConfigDef reads them."""
        raw = self._raw(props, key)
        if raw is None:
            return default
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise ConfigError("%s.%s must be true or false, got %r" % (self._config_key, key, props[key]))

    def _int(self, props: Mapping[str, str], key: str, default: int, minimum: int = 0) -> int:
        """An integer sub-key of at least ``minimum``."""
        raw = self._raw(props, key)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise ConfigError("%s.%s must be an integer of at least %d, got %r"
                              % (self._config_key, key, minimum, props[key]))
        return value

    def _choice(self, props: Mapping[str, str], key: str, default: str, allowed: Sequence[str]) -> str:
        """One of ``allowed`` (upper case), matched case-insensitively as Connect does."""
        raw = self._raw(props, key)
        if raw is None:
            return default
        if raw.upper() in allowed:
            return raw.upper()
        raise ConfigError("%s.%s must be one of %s, got %r"
                          % (self._config_key, key, ", ".join(allowed), props[key]))
