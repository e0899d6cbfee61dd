"""The error path: what happens to a record that a stage could not handle.

With ``errors.tolerance=none`` (Kafka Connect's default) the first failed record stops the run: the step
raises :class:`RecordError` naming the record, and the offset commit, which waits on the count of failed
records, commits nothing.
"""

from __future__ import annotations

import apache_beam as beam

from common.errors import BeamConnectError
from transforms.records import FailedRecord


class RecordError(BeamConnectError):
    """A record failed a stage and ``errors.tolerance`` does not allow skipping it."""


class _StopFn(beam.DoFn):
    def process(self, failed: FailedRecord):
        raise RecordError("%s. The run stopped and committed no offsets (errors.tolerance=none)."
                          % failed.describe())


class StopOnFailure(beam.PTransform):
    """Fails the pipeline on the first failed record (``errors.tolerance=none``)."""

    def expand(self, failed):
        return failed | "RaiseFirstFailure" >> beam.ParDo(_StopFn())


class CountFailures(beam.PTransform):
    """One element: how many records failed; the commit step reads it as a side input."""

    def expand(self, failed):
        return failed | "Count" >> beam.combiners.Count.Globally()
