"""``transforms=...`` and ``predicates=...``: the connector config's transform chain, checked up front."""

from __future__ import annotations

from typing import Mapping

from common.configdef import ConfigKey
from common.errors import ConfigError
from transforms.smt.chain import Step, TransformChain

_LIST = ConfigKey("transforms", "list", ())
_NEGATE = ConfigKey("negate", "boolean", False)
_RESERVED = ("type", "predicate", "negate")


def _aliases(raw: Mapping[str, str], key: str) -> tuple:
    aliases = ConfigKey(key, "list", ()).convert(raw.get(key, ""), name=key)
    seen = set()
    for alias in aliases:
        if alias in seen:
            raise ConfigError("%s must not list %r twice, got %r" % (key, alias, raw[key]))
        seen.add(alias)
    for name in raw:
        if name.startswith(key + "."):
            alias = _alias_of(name[len(key) + 1:], aliases)
            if alias is None:
                raise ConfigError("%s is set but its alias is not listed in %s=%r"
                                  % (name, key, raw.get(key, "")))
    return aliases


def _alias_of(rest: str, aliases) -> str | None:
    """The listed alias a key ``<alias>.<sub-key>`` belongs to (aliases may contain dots)."""
    for alias in sorted(aliases, key=len, reverse=True):
        if rest.startswith(alias + "."):
            return alias
    return None


def _sub_keys(raw: Mapping[str, str], key: str, aliases, alias: str) -> dict:
    """The keys ``<key>.<alias>.*`` of one alias, without that prefix."""
    prefix, props = "%s.%s." % (key, alias), {}
    for name, value in raw.items():
        if name.startswith(prefix) and _alias_of(name[len(key) + 1:], aliases) == alias:
            props[name[len(prefix):]] = value
    return props


def _type(raw: Mapping[str, str], key: str, registry: Mapping, what: str):
    if key not in raw or not raw[key].strip():
        raise ConfigError("%s is required" % key)
    name = raw[key].strip()
    if name not in registry:
        short = sorted(n for n in registry if "." not in n)
        raise ConfigError("%s must be one of the %s %s (or their class names), got %r"
                          % (key, what, ", ".join(short), name))
    return name, registry[name]


def _class_name(name: str, registry: Mapping) -> str:
    """Kafka's full class name for a type written short (``Cast$Value``), as dead letters name it."""
    if "." in name:
        return name
    return next((n for n, entry in registry.items() if "." in n and entry == registry[name]), name)


def parse_chain(raw: Mapping[str, str]) -> TransformChain:
    """The transform chain of a raw connector config; empty without ``transforms``.

    Raises:
      ConfigError: an alias without a type, an unknown type or sub-key, a predicate that
        ``predicates=`` does not define, keys of an alias that is not listed.
    """
    predicate_names = _aliases(raw, "predicates")
    listed = bool(predicate_names or raw.get("transforms", "").strip())
    PREDICATES, TRANSFORMATIONS = {}, {}
    if listed:  # the registry imports every transform module, which a chain-less config never needs
        from transforms.smt import registry

        PREDICATES, TRANSFORMATIONS = registry.PREDICATES, registry.TRANSFORMATIONS
    predicates = {}
    for name in predicate_names:
        prefix = "predicates.%s." % name
        _, cls = _type(raw, prefix + "type", PREDICATES, "predicates")
        props = {k: v for k, v in _sub_keys(raw, "predicates", predicate_names, name).items()
                 if k != "type"}
        predicates[name] = cls(name, props)
    steps = []
    aliases = _aliases(raw, "transforms")
    for alias in aliases:
        prefix = "transforms.%s." % alias
        type_name, (cls, side) = _type(raw, prefix + "type", TRANSFORMATIONS, "transforms")
        props = _sub_keys(raw, "transforms", aliases, alias)
        predicate = None
        if "predicate" in props and props["predicate"].strip():
            name = props["predicate"].strip()
            if name not in predicates:
                raise ConfigError("%spredicate=%r names no predicate; predicates=%r defines %s"
                                  % (prefix, name, raw.get("predicates", ""),
                                     ", ".join(map(repr, predicate_names)) or "none"))
            predicate = predicates[name]
        negate = _NEGATE.convert(props.get("negate", "false"), name=prefix + "negate")
        if negate and predicate is None:
            raise ConfigError("%snegate=true needs %spredicate" % (prefix, prefix))
        transformation = cls(alias, {k: v for k, v in props.items() if k not in _RESERVED}, side)
        transformation.type_name = _class_name(type_name, TRANSFORMATIONS)
        steps.append(Step(transformation, predicate, negate))
    return TransformChain(steps)
