"""``ConvertRecords``: runs the key and value converters over each raw bundle.

Records that convert leave as a :class:`~transforms.records.ConvertedBundle` carrying their Connect
schemas and their raw bundle; a record that fails either converter becomes a
:class:`~transforms.records.FailedRecord` (stage ``KEY_CONVERTER`` or ``VALUE_CONVERTER``) and is handed
to the error path before the bundle goes on, so its dead letter is durable before any offset of the
bundle can be committed. A bundle whose every record failed still goes on, empty, so that its offsets
are settled in order with the others.
"""

from __future__ import annotations

from typing import Optional

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc

from transforms.converters import Converter
from transforms.errors import FailureRouter, retrying
from transforms.records import ConvertedBundle, FailedRecord, KafkaBundle, RecordSchemas, Stage


class _ConvertFn(beam.DoFn):
    def __init__(self, key_converter: Converter, value_converter: Converter, key_class: str,
                 value_class: str, router: FailureRouter):
        self._key_converter = key_converter
        self._value_converter = value_converter
        self._classes = {Stage.KEY_CONVERTER: key_class, Stage.VALUE_CONVERTER: value_class}
        self._router = router

    def setup(self):
        self._router.setup()

    def teardown(self):
        self._router.teardown()

    def _convert(self, converter: Converter, data: list, bundle: KafkaBundle, what: str):
        """A converter that needs a service (a schema registry) raises RetriableError while it is
        away: retried for ``errors.retry.timeout``, as Connect retries a converter's
        RetriableException."""
        if self._router is None:
            return converter.convert(data)
        return retrying(lambda: converter.convert(data), self._router.policy,
                        "converting the %s of topic=%s partition=%d offsets %d..%d"
                        % (what, bundle.topic, bundle.partition, bundle.offsets[0], bundle.offsets[-1]),
                        topic=bundle.topic, partition=bundle.partition)

    def process(self, bundle: KafkaBundle):
        keys = self._convert(self._key_converter, bundle.keys, bundle, "keys")
        values = self._convert(self._value_converter, bundle.values, bundle, "values")
        key_schema = keys.schema if keys.schema is not None else self._key_converter.schema
        value_schema = values.schema if values.schema is not None else self._value_converter.schema
        last = bundle.offsets[-1] if bundle.offsets else None
        if not keys.failures and not values.failures:
            yield ConvertedBundle(bundle.topic, bundle.partition, bundle.window_start, bundle.offsets,
                                  bundle.timestamps, keys.values, values.values, bundle.headers,
                                  key_schema=key_schema, value_schema=value_schema, raw=bundle,
                                  rows=list(range(len(bundle))), last_offset=last,
                                  record_schemas=_record_schemas(values, value_schema, {}, len(bundle)))
            return
        failed = {}
        for stage, conversion in ((Stage.KEY_CONVERTER, keys), (Stage.VALUE_CONVERTER, values)):
            for index, reason in conversion.failures:
                failed.setdefault(index, (stage, reason))
        self._router.route([FailedRecord.of(bundle, index, stage, self._classes[stage], reason)
                            for index, (stage, reason) in sorted(failed.items())])
        keep = [i for i in range(len(bundle)) if i not in failed]
        yield ConvertedBundle(
            bundle.topic, bundle.partition, bundle.window_start,
            [bundle.offsets[i] for i in keep], [bundle.timestamps[i] for i in keep],
            _take(keys, failed, len(bundle)), _take(values, failed, len(bundle)),
            [bundle.headers[i] for i in keep], key_schema=key_schema, value_schema=value_schema,
            raw=bundle, rows=keep, last_offset=last,
            record_schemas=_record_schemas(values, value_schema, failed, len(bundle)))


def _record_schemas(conversion, value_schema, failed: dict, total: int) -> Optional[RecordSchemas]:
    """The records' own value schemas (for records no stage failed), when the converter gave them."""
    if conversion.record_schemas is None or value_schema is None:
        return None
    own = {i for i, _ in conversion.failures}
    converted_rows = [i for i in range(total) if i not in own]
    return RecordSchemas(value_schema, tuple(
        s for i, s in zip(converted_rows, conversion.record_schemas) if i not in failed))


def _take(conversion, failed: dict, total: int) -> pa.Array:
    """Rows of a conversion (which already lacks its own failures) for records no stage failed."""
    own = {i for i, _ in conversion.failures}
    converted_rows = [i for i in range(total) if i not in own]
    mask = pa.array([i not in failed for i in converted_rows], pa.bool_())
    return pc.filter(conversion.values, mask)


class ConvertRecords(beam.PTransform):
    """Converts raw bundles with Kafka Connect converters.

    Args:
      key_converter: The configured ``key.converter``.
      value_converter: The configured ``value.converter``.
      router: The error path failed records go to.
      key_class: ``key.converter`` as configured, named in dead letters.
      value_class: ``value.converter`` as configured.

    Returns a PCollection of :class:`ConvertedBundle`, one per raw bundle.
    """

    def __init__(self, key_converter: Converter, value_converter: Converter, router: FailureRouter,
                 key_class: Optional[str] = None, value_class: Optional[str] = None):
        super().__init__()
        self._fn = _ConvertFn(key_converter, value_converter,
                              key_class or type(key_converter).__name__,
                              value_class or type(value_converter).__name__, router)

    def expand(self, bundles):
        return bundles | "Convert" >> beam.ParDo(self._fn).with_output_types(ConvertedBundle)
