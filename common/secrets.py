"""Secrets a process knows, and a way to keep them out of everything it prints.

Values of ``password`` keys and every value a config provider resolved (``${file:...}``,
``${env:...}``, ``${dir:...}``) are registered here when a connector config is parsed. :func:`redact`
replaces each registered secret in a text with ``[hidden]``; :class:`RedactingFormatter` does that
to the text of every log record a handler writes (message, arguments and traceback), and the CLI
passes its error and summary text through :func:`redact` before printing. Only secrets of 4
characters or more are registered: a shorter one would hide ordinary words and numbers while
protecting little.

The registry is per process. Beam's local runners run the pipeline in this process (or in workers
that log through it); on a remote runner the workers' own logging does not pass through here, which
is why errors everywhere name keys, never values of password keys.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from typing import Iterable

HIDDEN = "[hidden]"
_MIN_LENGTH = 4

_lock = threading.Lock()
_secrets: tuple = ()


def register(values: Iterable[str]) -> None:
    """Adds secret values (longest first, so that a secret holding another is hidden whole)."""
    global _secrets
    fresh = {str(v) for v in values if v is not None and len(str(v)) >= _MIN_LENGTH}
    if not fresh:
        return
    with _lock:
        _secrets = tuple(sorted(set(_secrets) | fresh, key=len, reverse=True))


def clear() -> None:
    """Forgets every registered secret (a new connector config in the same process, tests)."""
    global _secrets
    with _lock:
        _secrets = ()


def known() -> tuple:
    """The registered secrets (for tests that check every output is free of them)."""
    return _secrets


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``[hidden]``."""
    secrets = _secrets
    if not secrets or not text:
        return text
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, HIDDEN)
    return text


class RedactingFormatter(logging.Formatter):
    """Formats through another formatter, then hides the secrets in the text it made.

    Redacting the text a handler writes, rather than rewriting the log record, leaves the record as
    it was for every other handler of the process.
    """

    def __init__(self, inner: logging.Formatter | None = None):
        super().__init__()
        self._inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact(self._inner.format(record))


class _RedactingStream:
    """A text stream that writes through :func:`redact` (line-buffered, so that a secret split
    across two ``write`` calls is still found)."""

    def __init__(self, stream):
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        if not _secrets:
            if self._pending:
                self._stream.write(self._pending)
                self._pending = ""
            return self._stream.write(text)
        self._pending += text
        cut = max(self._pending.rfind("\n"), self._pending.rfind("\r"))  # progress redraws end in \r
        head, newline, tail = self._pending[:cut], self._pending[cut:cut + 1], self._pending[cut + 1:]
        if cut >= 0:
            self._stream.write(redact(head + newline))
            self._pending = tail
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._stream.write(redact(self._pending))
            self._pending = ""
        self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def redacting_streams():
    """Within the block, everything written to ``sys.stdout`` and ``sys.stderr`` (prints, log
    handlers made inside it, tracebacks) goes through :func:`redact`."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _RedactingStream(out), _RedactingStream(err)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, _RedactingStream):
                stream.flush()
        sys.stdout, sys.stderr = out, err
