"""The configured chain of transforms, each guarded by an optional predicate, run over a bundle.

As in Kafka Connect, transforms run in the order ``transforms=`` lists them; a transform with
``predicate=p`` applies only to records for which ``p`` holds (or does not, with ``negate=true``), and
the others pass through it unchanged. Failures are reported with indices into the bundle the chain was
given, whatever the transforms dropped before them.

Records that a predicate kept out of a transform keep their old shape; where the transform changed the
shape of the others (InsertField added a field), the two are unified into one Arrow type as the
converters unify records of a batch (a field only some records have is null in the others); records
whose shapes cannot be unified fail with ``TRANSFORMATION``, naming both shapes.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import pyarrow as pa

from common.errors import DataError
from transforms.converters.unify import TypeConflict, unify_types
from transforms.records import ConvertedBundle
from transforms.smt.base import Predicate, Transformation, Transformed


@dataclasses.dataclass(frozen=True)
class Step:
    """One transform of the chain and the predicate that guards it."""

    transformation: Transformation
    predicate: Optional[Predicate] = None
    negate: bool = False

    def selects(self, bundle: ConvertedBundle) -> Optional[list]:
        """Indices of the records the transform applies to; None for all of them."""
        if self.predicate is None:
            return None
        outcome = self.predicate.test(bundle)
        selected = [i for i, holds in enumerate(outcome) if bool(holds) != self.negate]
        return None if len(selected) == len(bundle) else selected


@dataclasses.dataclass(frozen=True)
class ChainResult:
    """What the chain made of one bundle: the records kept, the failures (index into the input,
    the alias and class of the transform, the error) and how many records were filtered out."""

    bundle: Optional[ConvertedBundle]
    failures: tuple = ()
    dropped: int = 0


class TransformChain:
    """Runs its steps in order over bundles."""

    def __init__(self, steps: Sequence[Step] = ()):
        self.steps = tuple(steps)

    def __bool__(self) -> bool:
        return bool(self.steps)

    def apply(self, bundle: ConvertedBundle) -> ChainResult:
        # The index in the input of each record still in ``bundle``; None while that is every record
        # in order (the common case: no index lists are built while nothing fails or is dropped).
        origin = None
        failures, dropped = [], 0
        for step in self.steps:
            if bundle is None or not len(bundle):
                break
            result = _apply_step(step, bundle)
            failures.extend((i if origin is None else origin[i], step.transformation, error)
                            for i, error in result.failures)
            dropped += result.dropped
            if result.kept is not None:
                origin = result.kept if origin is None else [origin[i] for i in result.kept]
            bundle = result.bundle
        failures.sort(key=lambda f: f[0])
        if bundle is not None and not len(bundle):
            bundle = None
        return ChainResult(bundle, tuple(failures), dropped)


@dataclasses.dataclass(frozen=True)
class _StepResult:
    bundle: Optional[ConvertedBundle]
    kept: Optional[list]  # for each output record, its index in the step's input; None: all, in order
    failures: tuple
    dropped: int


def _apply_step(step: Step, bundle: ConvertedBundle) -> _StepResult:
    selected = step.selects(bundle)
    if selected is not None and not selected:
        return _StepResult(bundle, None, (), 0)
    subset = bundle if selected is None else bundle.take(selected)
    result: Transformed = step.transformation.apply(subset)
    if selected is None and not result.failures and (result.bundle is not None
                                                     and len(result.bundle) == len(bundle)):
        return _StepResult(result.bundle, None, (), result.dropped)
    failed = {i for i, _ in result.failures}
    positions = list(range(len(subset))) if selected is None else selected
    failures = tuple((positions[i], e) for i, e in result.failures)
    survivors = [p for i, p in enumerate(positions) if i not in failed]
    # ``result.bundle`` holds the survivors that were not dropped; which ones were dropped is told by
    # the transform through ``rows``-like bookkeeping: filters keep order, so match by offset.
    out = result.bundle
    if out is not None and len(out) != len(survivors):
        by_offset = {bundle.offsets[p]: p for p in survivors}
        survivors = [by_offset[o] for o in out.offsets]
    if selected is None:
        return _StepResult(out, survivors if out is not None else [], failures, result.dropped)
    chosen = set(selected)
    untouched = [i for i in range(len(bundle)) if i not in chosen]
    parts = [(bundle.take(untouched), untouched)] if untouched else []
    if out is not None:
        parts.append((out, survivors))
    merged, kept, conflicts = _merge(parts)
    return _StepResult(merged, kept, failures + conflicts, result.dropped)


def _merge(parts: list) -> tuple:
    """Interleaves bundles of one window back into offset order, unifying their key and value types."""
    if not parts:
        return None, [], ()
    if len(parts) == 1:
        return parts[0][0], parts[0][1], ()
    (a, a_rows), (b, b_rows) = parts
    conflicts = []
    columns = {}
    for column, schema in (("keys", "key_schema"), ("values", "value_schema")):
        left, right = getattr(a, column), getattr(b, column)
        try:
            unified = left.type if left.type == right.type else unify_types(left.type, right.type)
        except TypeConflict as conflict:
            error = DataError("after the transform the record's %s has type %s, which cannot share a "
                              "bundle with the records the predicate left out (type %s): %s"
                              % (column[:-1], right.type, left.type, conflict.reason()))
            conflicts.extend((p, error) for p in b_rows)
            return a, a_rows, tuple(conflicts)
        columns[column] = (_cast(left, unified), _cast(right, unified))
        columns[schema] = _merged_schema(getattr(a, schema), getattr(b, schema), unified)
    rows = a_rows + b_rows
    order = sorted(range(len(rows)), key=rows.__getitem__)
    positions = pa.array(order, pa.int64())
    kept = [rows[i] for i in order]

    def interleave(x, y):
        joined = x + y
        return [joined[i] for i in order]

    merged = dataclasses.replace(
        a,
        offsets=interleave(a.offsets, b.offsets),
        timestamps=interleave(a.timestamps, b.timestamps),
        keys=pa.concat_arrays(list(columns["keys"])).take(positions),
        values=pa.concat_arrays(list(columns["values"])).take(positions),
        headers=interleave(a.headers, b.headers),
        topics=None if a.topics is None and b.topics is None else interleave(
            a.topics or [a.topic] * len(a), b.topics or [b.topic] * len(b)),
        rows=None if a.rows is None or b.rows is None else interleave(a.rows, b.rows),
        key_schema=columns["key_schema"], value_schema=columns["value_schema"])
    return merged, kept, tuple(conflicts)


def _cast(array: pa.Array, arrow_type: pa.DataType) -> pa.Array:
    if array.type == arrow_type:
        return array
    try:
        return array.cast(arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return pa.array(array.to_pylist(), type=arrow_type)


def _merged_schema(left: Optional[pa.Field], right: Optional[pa.Field],
                   arrow_type: pa.DataType) -> Optional[pa.Field]:
    if left is None and right is None:
        return None
    base = right if right is not None else left
    nullable = (left is None or left.nullable) or (right is None or right.nullable)
    if base.type == arrow_type and base.nullable == nullable:
        return base
    sources = [f.type for f in (right, left) if f is not None]
    return pa.field(base.name, _annotated(arrow_type, sources), nullable, metadata=base.metadata)


def _annotated(arrow_type: pa.DataType, sources: list) -> pa.DataType:
    """``arrow_type`` with each struct field's Connect metadata from the first source having it."""
    if not pa.types.is_struct(arrow_type):
        return arrow_type
    fields = []
    for field in arrow_type:
        same = [s.field(field.name) for s in sources
                if pa.types.is_struct(s) and s.get_field_index(field.name) >= 0]
        metadata = next((f.metadata for f in same if f.metadata), None)
        fields.append(pa.field(field.name, _annotated(field.type, [f.type for f in same]),
                               field.nullable, metadata=metadata))
    return pa.struct(fields)
