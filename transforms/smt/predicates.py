"""Kafka Connect's predicates: TopicNameMatches, HasHeaderKey and RecordIsTombstone.

A predicate (``predicates.<name>.type=...``) answers one question per record; a transform with
``transforms.<alias>.predicate=<name>`` applies only to the records for which it holds (or, with
``negate=true``, does not), see :mod:`transforms.smt.chain`. Each answers a whole bundle at once.

``PREDICATES`` maps every accepted ``type`` to its class: Kafka's class names
(``org.apache.kafka.connect.transforms.predicates.TopicNameMatches``) and the same without the
package.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from common.configdef import ConfigDef, ConfigKey
from common.errors import ConfigError
from transforms.records import ConvertedBundle
from transforms.smt.base import Predicate
from transforms.smt.javaregex import compile_pattern

KAFKA_PREDICATES = "org.apache.kafka.connect.transforms.predicates."


def _non_empty(config: Mapping[str, Any], key: str, prefix: str) -> str:
    if not config[key]:
        raise ConfigError("%s%s must be a non-empty string, got %r" % (prefix, key, config[key]))
    return config[key]


class TopicNameMatches(Predicate):
    """True for records whose topic matches a Java regular expression as a whole.

    Keys:
      pattern: A Java regular expression (see :mod:`transforms.smt.javaregex`), matched against the
        whole topic name (``Matcher.matches``); required, non-empty.

    The topic is the record's current target topic: the one it was read from, or the one a router
    earlier in the chain gave it, as Connect tests ``record.topic()`` of the record at that point.
    """

    config_def = ConfigDef([
        ConfigKey("pattern", "string",
                  doc="A Java regular expression for matching against the name of a record's topic."),
    ])

    def configure(self, config: Mapping[str, Any]) -> None:
        prefix = "predicates.%s." % self.name
        self.pattern = compile_pattern(_non_empty(config, "pattern", prefix), prefix + "pattern")

    def test(self, bundle: ConvertedBundle) -> Sequence[bool]:
        if bundle.topics is None:
            return [self.pattern.fullmatch(bundle.topic) is not None] * len(bundle)
        answers = {topic: self.pattern.fullmatch(topic) is not None for topic in set(bundle.topics)}
        return [answers[topic] for topic in bundle.topics]


class HasHeaderKey(Predicate):
    """True for records with at least one header of a given name.

    Keys:
      name: The header name, matched exactly (case-sensitive); required, non-empty.
    """

    config_def = ConfigDef([ConfigKey("name", "string", doc="The header name.")])

    def configure(self, config: Mapping[str, Any]) -> None:
        self.header = _non_empty(config, "name", "predicates.%s." % self.name)

    def test(self, bundle: ConvertedBundle) -> Sequence[bool]:
        name = self.header
        return [headers is not None and any(key == name for key, _ in headers)
                for headers in bundle.headers]


class RecordIsTombstone(Predicate):
    """True for tombstones: records whose value is null. It has no keys."""

    def test(self, bundle: ConvertedBundle) -> Sequence[bool]:
        return bundle.values.is_null().to_pylist()


PREDICATES = {name: cls for cls in (TopicNameMatches, HasHeaderKey, RecordIsTombstone)
              for name in (KAFKA_PREDICATES + cls.__name__, cls.__name__)}
