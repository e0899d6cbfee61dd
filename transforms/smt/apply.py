"""``ApplyTransforms``: the configured transform chain over each converted bundle.

Records a transform fails leave as ``TRANSFORMATION`` failures through the error path before the
bundle goes on; records a filter drops are counted. The bundle goes on even when empty, so that its
offsets are settled in order.
"""

from __future__ import annotations

import apache_beam as beam

from common import metrics
from transforms.errors import FailureRouter
from transforms.records import ConvertedBundle, Stage
from transforms.smt.chain import TransformChain


class _TransformFn(beam.DoFn):
    def __init__(self, chain: TransformChain, router: FailureRouter):
        self._chain = chain
        self._router = router

    def setup(self):
        self._router.setup()

    def teardown(self):
        self._router.teardown()

    def process(self, bundle: ConvertedBundle):
        if not len(bundle):
            yield bundle
            return
        result = self._chain.apply(bundle)
        if result.failures:
            self._router.route([bundle.fail(index, Stage.TRANSFORMATION, transformation.type_name,
                                            error) for index, transformation, error in result.failures])
        if result.dropped:
            metrics.counter(metrics.FILTERED, bundle.topic, bundle.partition).inc(result.dropped)
        yield result.bundle if result.bundle is not None else bundle.take([])


class ApplyTransforms(beam.PTransform):
    """Runs a :class:`TransformChain` over converted bundles, one bundle out per bundle in."""

    def __init__(self, chain: TransformChain, router: FailureRouter):
        super().__init__()
        self._fn = _TransformFn(chain, router)

    def expand(self, bundles):
        return bundles | "Transform" >> beam.ParDo(self._fn).with_output_types(ConvertedBundle)
