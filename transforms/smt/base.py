"""Single-message transforms (SMTs) and predicates: the contract every built-in implements.

Kafka Connect calls a transform once per record; here a transform gets a whole
:class:`~transforms.records.ConvertedBundle` and edits its Arrow columns (a field transform replaces the
key or value array and its schema, a router sets target topics, a filter drops rows). A transform that
is inherently per record may loop over the records, as long as the result is again a bundle.

A record that a transform cannot handle (a missing field that is required, a value that will not cast)
is a failure: the transform leaves it out of its output bundle and reports its index, with the error,
in :attr:`Transformed.failures`; the chain then hands it to the error path as a ``TRANSFORMATION``
failure. Kafka Connect's own message text is kept where Connect raises one.

Schemaful and schemaless records: a bundle's ``key_schema``/``value_schema`` (see
:mod:`transforms.schema`) is a pa.Field for schemaful data and None for schemaless data (Connect's
maps); a transform keeps the output schema in step with the output array, and follows Connect's
schemaless branch when the schema is None.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, ClassVar, Mapping, Optional, Sequence

import pyarrow as pa

from common.configdef import ConfigDef, check_unknown
from common.errors import DataError
from transforms.records import ConvertedBundle

KEY, VALUE = "key", "value"


@dataclasses.dataclass(frozen=True)
class Transformed:
    """The result of one transform on one bundle.

    Attributes:
      bundle: The records kept, transformed; None when none are.
      failures: ``(index, error)`` per record that failed, ``index`` into the *input* bundle, increasing.
      dropped: How many records were dropped on purpose (Filter), not failed.
    """

    bundle: Optional[ConvertedBundle]
    failures: tuple = ()
    dropped: int = 0


class Transformation(abc.ABC):
    """One configured transform (``transforms.<alias>.type=...``).

    Subclasses set ``config_def`` (their keys, without the ``transforms.<alias>.`` prefix) and implement
    :meth:`apply`; ``__init__`` parses and checks the keys, so a bad one fails when the pipeline is
    built. Transforms are pickled into DoFns: keep only configuration and caches as state.

    Args:
      alias: The alias in ``transforms=``.
      props: The alias's keys with the ``transforms.<alias>.`` prefix removed (``type``, ``predicate``
        and ``negate`` already taken out).
      side: ``"key"`` or ``"value"`` for transforms with ``$Key``/``$Value`` variants, else None.

    Raises:
      ConfigError: a key is unknown or invalid, named with its full prefix.
    """

    config_def: ClassVar[ConfigDef] = ConfigDef()

    def __init__(self, alias: str, props: Mapping[str, str], side: Optional[str] = None):
        self.alias = alias
        self.side = side
        #: The ``type`` as configured: the class name in dead-letter headers and errors.
        self.type_name = type(self).__name__
        prefix = self.prefix
        check_unknown([prefix + k for k in props], [prefix + k.name for k in self.config_def],
                      what="transform %r (%s)" % (alias, type(self).__name__))
        self.config = self.config_def.parse({prefix + k: v for k, v in props.items()}, prefix=prefix)
        self.configure(self.config)

    @property
    def prefix(self) -> str:
        return "transforms.%s." % self.alias

    def configure(self, config: Mapping[str, Any]) -> None:
        """Checks and keeps the parsed keys; raise ConfigError (naming ``self.prefix + key``) on
        conflicts."""

    @abc.abstractmethod
    def apply(self, bundle: ConvertedBundle) -> Transformed:
        """Transforms one bundle (never empty)."""


class FieldTransformation(Transformation):
    """A transform of the key or the value alone: implement :meth:`transform` on one column."""

    def apply(self, bundle: ConvertedBundle) -> Transformed:
        keyed = self.side == KEY
        array, schema = (bundle.keys, bundle.key_schema) if keyed else (bundle.values,
                                                                         bundle.value_schema)
        array, schema, failures = self.transform(array, schema, bundle)
        if failures:
            failed = {i for i, _ in failures}
            keep = [i for i in range(len(bundle)) if i not in failed]
            bundle = bundle.take(keep) if keep else None
        if bundle is None:
            return Transformed(None, tuple(failures))
        changes = {"keys": array, "key_schema": schema} if keyed else {"values": array,
                                                                        "value_schema": schema}
        return Transformed(dataclasses.replace(bundle, **changes), tuple(failures))

    @abc.abstractmethod
    def transform(self, array: pa.Array, schema: Optional[pa.Field],
                  bundle: ConvertedBundle) -> tuple[pa.Array, Optional[pa.Field], list]:
        """Returns ``(array, schema, failures)``: the new column (rows of failed records left out),
        its schema (None when schemaless) and ``(index, error)`` of each failed record."""


class Predicate(abc.ABC):
    """One configured predicate (``predicates.<name>.type=...``); keys as for transforms."""

    config_def: ClassVar[ConfigDef] = ConfigDef()

    def __init__(self, name: str, props: Mapping[str, str]):
        self.name = name
        prefix = "predicates.%s." % name
        check_unknown([prefix + k for k in props], [prefix + k.name for k in self.config_def],
                      what="predicate %r (%s)" % (name, type(self).__name__))
        self.config = self.config_def.parse({prefix + k: v for k, v in props.items()}, prefix=prefix)
        self.configure(self.config)

    def configure(self, config: Mapping[str, Any]) -> None:
        """Checks and keeps the parsed keys."""

    @abc.abstractmethod
    def test(self, bundle: ConvertedBundle) -> Sequence[bool]:
        """One boolean per record of the bundle."""


def fail(message: str) -> DataError:
    """The error a transform reports for one record (Connect's DataException)."""
    return DataError(message)


KAFKA_TRANSFORMS = "org.apache.kafka.connect.transforms."


def names(simple: str, cls: type, sides: bool = True, package: str = KAFKA_TRANSFORMS) -> dict:
    """Registry entries for a Kafka Connect transform: ``{name: (cls, side)}`` under its class names
    (``org.apache.kafka.connect.transforms.Cast$Value``) and short names (``Cast$Value``)."""
    if not sides:
        return {package + simple: (cls, None), simple: (cls, None)}
    entries = {}
    for suffix, side in (("$Key", KEY), ("$Value", VALUE)):
        entries[package + simple + suffix] = (cls, side)
        entries[simple + suffix] = (cls, side)
    return entries
