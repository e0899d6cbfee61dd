"""Kafka Connect's single-message transforms and predicates, on Arrow bundles.

``TRANSFORMATIONS`` maps every accepted ``transforms.<alias>.type`` (Kafka's class names, with their
``$Key``/``$Value`` variants, and the same names without the package) to ``(class, side)``;
``PREDICATES`` maps ``predicates.<name>.type`` names to classes. :func:`parse_chain` builds the chain a
connector config describes. The two registries import every transform module, so they are loaded
on first use: a connector without transforms does not import them.
"""

from __future__ import annotations

from transforms.smt.base import Predicate, Transformation, Transformed
from transforms.smt.chain import ChainResult, Step, TransformChain
from transforms.smt.config import parse_chain


def __getattr__(name: str):
    if name in ("PREDICATES", "TRANSFORMATIONS"):
        from transforms.smt import registry

        return getattr(registry, name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


__all__ = ["ChainResult", "PREDICATES", "Predicate", "Step", "TRANSFORMATIONS", "TransformChain",
           "Transformation", "Transformed", "parse_chain"]
