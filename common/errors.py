"""Errors a user sees: each names the key, value or record at fault."""


class BeamConnectError(Exception):
    """Base of every error that is reported to the user as a one-paragraph reason."""


class ConfigError(BeamConnectError, ValueError):
    """A connector config or command-line value is missing, unknown or invalid."""


class DataError(BeamConnectError):
    """One record's data cannot be handled by a stage (a converter, a transform, the sink).

    It is a per-record failure: the error path skips or dead-letters the record, or stops the run,
    as ``errors.tolerance`` says. ``java_class`` is the Kafka Connect exception a Java worker would
    report for it, written to the dead-letter context headers.
    """

    java_class = "org.apache.kafka.connect.errors.DataException"


class RetriableError(BeamConnectError):
    """A failure that may pass if tried again (a server away, a timeout): retried for up to
    ``errors.retry.timeout`` with backoff before it counts as a failure."""

    java_class = "org.apache.kafka.connect.errors.RetriableException"


class RejectedRecord(DataError):
    """A sink (or a part of one: a format, a partitioner) cannot write some records of a bundle.

    Args:
      message: What is wrong with each of them; the error path names each record by its coordinates.
      offsets: The records' source offsets (one, or several), so the sink's write can leave them out
        and go on with the rest.
    """

    def __init__(self, message: str, offsets):
        super().__init__(message)
        self.offsets = (offsets,) if isinstance(offsets, int) else tuple(offsets)
