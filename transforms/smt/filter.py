"""Kafka Connect's ``Filter``: drops records, meant to run under a predicate.

The chain (:mod:`transforms.smt.chain`) hands a guarded transform only the records its predicate
selects, so ``Filter`` drops every record it is given; with
``transforms.drop.predicate=isTombstone`` that is every tombstone, and with ``negate=true`` every
record that is not one. Without a predicate it drops everything, as in Connect.
"""

from __future__ import annotations

from transforms.records import ConvertedBundle
from transforms.smt.base import Transformation, Transformed, names


class Filter(Transformation):
    """Drops every record it applies to; it has no keys.

    Dropped records are not failures: they are counted in :attr:`Transformed.dropped` and go
    nowhere, neither to the sink nor to the error path.
    """

    def apply(self, bundle: ConvertedBundle) -> Transformed:
        return Transformed(None, (), len(bundle))


TRANSFORMATIONS = names("Filter", Filter, sides=False)
