"""Kafka Connect's single-message transforms and predicates, on Arrow bundles.

``TRANSFORMATIONS`` maps every accepted ``transforms.<alias>.type`` (Kafka's class names, with their
``$Key``/``$Value`` variants, and the same names without the package) to ``(class, side)``;
``PREDICATES`` maps ``predicates.<name>.type`` names to classes. :func:`parse_chain` builds the chain a
connector config describes.
"""

from __future__ import annotations

from transforms.smt.base import Predicate, Transformation, Transformed
from transforms.smt.chain import ChainResult, Step, TransformChain
from transforms.smt.config import parse_chain
from transforms.smt.registry import PREDICATES, TRANSFORMATIONS

__all__ = ["ChainResult", "PREDICATES", "Predicate", "Step", "TRANSFORMATIONS", "TransformChain",
           "Transformation", "Transformed", "parse_chain"]
