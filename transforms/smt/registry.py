"""Every built-in transform and predicate, by the names users write in ``type=``."""

from __future__ import annotations

from transforms.smt import cast, fields, filter, flatten, headers, predicates, routing, timestamps

TRANSFORMATIONS = {**fields.TRANSFORMATIONS, **flatten.TRANSFORMATIONS, **cast.TRANSFORMATIONS,
                   **timestamps.TRANSFORMATIONS, **routing.TRANSFORMATIONS, **headers.TRANSFORMATIONS,
                   **filter.TRANSFORMATIONS}
PREDICATES = dict(predicates.PREDICATES)
