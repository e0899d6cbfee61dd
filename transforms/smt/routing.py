"""Transforms that change where records go: RegexRouter.

A router sets each record's *target* topic (the bundle's ``topics``), which sinks name what they
write after; the source topic, partition and offsets stay as read, for the offset commit.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from common.configdef import ConfigDef, ConfigKey
from transforms.records import ConvertedBundle
from transforms.smt.base import Transformation, Transformed, names
from transforms.smt.javaregex import Replacement, compile_pattern


class RegexRouter(Transformation):
    """Kafka Connect's ``RegexRouter``: renames topics with a Java regex and replacement.

    Keys:
      regex: A Java regular expression (see :mod:`transforms.smt.javaregex`); required.
      replacement: A Java replacement string (``$1``, ``${name}``, ``\\$`` for a dollar); required,
        may be empty.

    Behaviour, as in Connect: a record whose current target topic (the topic it was read from, or
    the one an earlier router gave it) matches ``regex`` as a whole (``Matcher.matches``) is routed
    to ``Matcher.replaceFirst(replacement)``; that replaces the *first* match found from the
    start, which for a pattern like ``a|ab`` on ``ab`` is ``a``, not the whole name. Other records
    keep their topic. Keys, values and headers are untouched.

    Unlike Connect, a replacement naming a group the regex does not have is a ConfigError when the
    pipeline is built, not a failure of the first record that matches.
    """

    config_def = ConfigDef([
        ConfigKey("regex", "string", doc="Regular expression to use for matching."),
        ConfigKey("replacement", "string", doc="Replacement string."),
    ])

    def configure(self, config: Mapping[str, Any]) -> None:
        self.regex = compile_pattern(config["regex"], self.prefix + "regex")
        self.replacement = Replacement(config["replacement"], self.regex, self.prefix + "replacement")

    def route(self, topic: str) -> str:
        """The target topic of a record now bound for ``topic``."""
        if self.regex.fullmatch(topic) is None:
            return topic
        return self.replacement.expand(self.regex, topic)

    def apply(self, bundle: ConvertedBundle) -> Transformed:
        current = bundle.topics if bundle.topics is not None else [bundle.topic] * len(bundle)
        routes = {topic: self.route(topic) for topic in set(current)}
        if all(source == target for source, target in routes.items()):
            return Transformed(bundle)
        return Transformed(dataclasses.replace(bundle, topics=[routes[t] for t in current]))


TRANSFORMATIONS = names("RegexRouter", RegexRouter, sides=False)
