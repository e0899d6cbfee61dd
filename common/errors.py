"""Errors a user sees: each names the key, value or record at fault."""


class BeamConnectError(Exception):
    """Base of every error that is reported to the user as a one-paragraph reason."""


class ConfigError(BeamConnectError, ValueError):
    """A connector config or command-line value is missing, unknown or invalid."""


class ConfigErrors(ConfigError):
    """Every problem found in one config, so that fixing it takes one run, not one per mistake.

    Attributes:
      problems: Each problem's one-line reason, in the order they were found.
    """

    def __init__(self, problems):
        self.problems = tuple(problems)
        super().__init__("the config has %d problems:\n%s"
                         % (len(self.problems), "\n".join("- " + p for p in self.problems)))


class Problems:
    """Collects the :class:`ConfigError` reasons of independent checks, then raises them together.

    Usage::

        problems = Problems()
        with problems.check():
            value = parse_one_thing(raw)     # a ConfigError is recorded, not raised
        problems.raise_if_any()              # one ConfigError, or ConfigErrors for several
    """

    def __init__(self):
        self.messages: list = []

    def add(self, error: ConfigError) -> None:
        self.messages.extend(error.problems if isinstance(error, ConfigErrors) else [str(error)])

    def check(self):
        return _Check(self)

    def raise_if_any(self) -> None:
        if len(self.messages) == 1:
            raise ConfigError(self.messages[0])
        if self.messages:
            raise ConfigErrors(self.messages)


class _Check:
    def __init__(self, problems: Problems):
        self._problems = problems
        self.failed = False

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, ConfigError):
            self._problems.add(exc)
            self.failed = True
            return True
        return False


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
