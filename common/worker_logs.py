"""Log lines of Beam SDK workers in other processes, told as if this process had logged them.

With several worker processes (``tasks.max > 1`` on the DirectRunner) the steps run in SDK workers
that send their log entries to the launching process, where Beam logs each as one line of
``Worker: <the entry as protobuf text>`` under its job service's logger. :class:`WorkerLogRelay`
turns an entry of this project's code back into a plain record of the module that logged it (so
levels, ``-v`` and ``--log-format json`` treat it as any other line) and drops the workers' own
start-up chatter below ERROR (which options they ignored, a missing cache directory).
"""

from __future__ import annotations

import codecs
import logging
import os
import re

#: The logger Beam's local job service logs worker entries with.
RELAY_LOGGER = "apache_beam.runners.portability.local_job_service"
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_MESSAGE = re.compile(r'message: "((?:[^"\\]|\\.)*)"')
_LOCATION = re.compile(r'log_location: "((?:[^"\\]|\\.)*)"')


def _unescape(text: str) -> str:
    """Protobuf text escapes (``\\"``, ``\\n``, octal UTF-8 bytes) back to the string."""
    return codecs.escape_decode(text.encode("utf-8"))[0].decode("utf-8", "replace")


def _module_of(location: str) -> str:
    """``/root/of/project/transforms/kafka/read.py:123`` -> ``transforms.kafka.read``; '' if the file
    is not this project's."""
    path = location.rsplit(":", 1)[0]
    if "site-packages" in path or not path.startswith(_ROOT + os.sep):
        return ""
    return os.path.relpath(path, _ROOT)[:-len(".py")].replace(os.sep, ".")


class WorkerLogRelay(logging.Filter):
    """A filter for :data:`RELAY_LOGGER` (see the module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != "Worker: %s" or not record.args:
            return True
        entry = str(record.args[0])
        message, location = _MESSAGE.search(entry), _LOCATION.search(entry)
        if message is None:
            return True
        module = _module_of(_unescape(location.group(1))) if location else ""
        if not module:
            return record.levelno >= logging.ERROR
        if not logging.getLogger(module).isEnabledFor(record.levelno):
            return False
        record.name, record.msg, record.args = module, _unescape(message.group(1)), ()
        return True


def install(level: int) -> None:
    """Relays worker entries of ``level`` and up (and of this project's code only, below ERROR)."""
    relay = logging.getLogger(RELAY_LOGGER)
    relay.setLevel(level)
    if not any(isinstance(f, WorkerLogRelay) for f in relay.filters):
        relay.addFilter(WorkerLogRelay())
