"""``ConvertRecords``: runs the key and value converters over each raw bundle.

Records that convert leave on the main output as a :class:`~transforms.records.ConvertedBundle`; a record
that fails either converter leaves on the ``failed`` output as a :class:`~transforms.records.FailedRecord`
with its coordinates and raw bytes, so the error path decides what happens to it.
"""

from __future__ import annotations

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc

from transforms.converters import Converter
from transforms.errors import RecordError
from transforms.records import ConvertedBundle, FailedRecord, KafkaBundle

FAILED = "failed"


class _ConvertFn(beam.DoFn):
    def __init__(self, key_converter: Converter, value_converter: Converter, stop_on_failure: bool):
        self._key_converter = key_converter
        self._value_converter = value_converter
        self._stop_on_failure = stop_on_failure

    def process(self, bundle: KafkaBundle):
        keys = self._key_converter.convert(bundle.keys)
        values = self._value_converter.convert(bundle.values)
        if not keys.failures and not values.failures:
            yield ConvertedBundle(bundle.topic, bundle.partition, bundle.window_start, bundle.offsets,
                                  bundle.timestamps, keys.values, values.values, bundle.headers)
            return
        failed = {}
        for stage, conversion in (("key.converter", keys), ("value.converter", values)):
            for index, reason in conversion.failures:
                failed.setdefault(index, (stage, reason))
        for index in sorted(failed):
            stage, reason = failed[index]
            if self._stop_on_failure:
                raise RecordError("%s failed on record %s: %s. The run stopped; the record's offset "
                                  "is not committed (errors.tolerance=none)." % (
                                      stage, bundle.record_ref(index), reason))
            yield beam.pvalue.TaggedOutput(FAILED, FailedRecord(
                bundle.topic, bundle.partition, bundle.offsets[index], stage, reason,
                bundle.keys[index], bundle.values[index], bundle.headers[index]))
        keep = [i for i in range(len(bundle)) if i not in failed]
        if not keep:
            return
        yield ConvertedBundle(
            bundle.topic, bundle.partition, bundle.window_start,
            [bundle.offsets[i] for i in keep], [bundle.timestamps[i] for i in keep],
            _take(keys, failed, len(bundle)), _take(values, failed, len(bundle)),
            [bundle.headers[i] for i in keep])


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
      stop_on_failure: Raise on the first failed record instead of emitting it, so nothing of its
        bundle is written (streaming, where each write is committed at once).

    Returns a tagged result: ``converted`` (bundles) and ``failed`` (records).
    """

    def __init__(self, key_converter: Converter, value_converter: Converter,
                 stop_on_failure: bool = False):
        super().__init__()
        self._key_converter = key_converter
        self._value_converter = value_converter
        self._stop_on_failure = stop_on_failure

    def expand(self, bundles):
        return bundles | "Convert" >> beam.ParDo(
            _ConvertFn(self._key_converter, self._value_converter,
                       self._stop_on_failure)).with_output_types(
                ConvertedBundle).with_outputs(FAILED, main="converted")
