"""How the CLI logs: the level (``-v``/``-q``), the format (text or JSON lines), secrets hidden.

``--log-format text`` (the default) writes ``time LEVEL logger: message`` lines. ``--log-format json``
writes one JSON object per line for log shippers, with the fields ``time`` (ISO 8601, UTC),
``level``, ``logger``, ``message``, ``connector`` (the connector's ``name`` once its config is parsed),
and, when the line is about a partition, ``topic``, ``partition`` and ``offset`` (or ``offsets``, a
``[first, last]`` pair); a traceback (with ``-v``) is the ``traceback`` field. Steps that log about a
partition pass those fields with :func:`partition_fields`.

Whatever the format, every line goes through :class:`common.secrets.RedactingFormatter`.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Optional

from common.errors import BeamConnectError
from common import worker_logs
from common.secrets import RedactingFormatter

LEVELS = {"verbose": logging.DEBUG, "normal": logging.INFO, "quiet": logging.WARNING}
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: Loggers of libraries that are chatty below WARNING (at DEBUG, very); they log from WARNING up.
NOISY = ("apache_beam", "urllib3", "google", "distributed", "tornado", "asyncio")

_FIELDS = ("topic", "partition", "offset", "offsets", "problems")
_connector: Optional[str] = None
_format = "text"


def json_lines() -> bool:
    """Whether ``--log-format json`` is on: then the CLI's error paragraph is a JSON line too."""
    return _format == "json"


def set_connector(name: Optional[str]) -> None:
    """Names the connector in every JSON log line from now on."""
    global _connector
    _connector = name


def partition_fields(topic: str, partition: int, offset: Optional[int] = None,
                     last: Optional[int] = None) -> dict:
    """``extra=`` fields of a log line about one partition (an offset, or a range to ``last``)."""
    fields = {"topic": topic, "partition": partition}
    if offset is not None:
        fields.update({"offsets": [offset, last]} if last is not None else {"offset": offset})
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the connector and partition fields when known."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc)
                 .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if _connector is not None:
            entry["connector"] = _connector
        for field in _FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str = "normal", log_format: str = "text") -> None:
    """Sets the root logger's level and the format of its handlers (made on stderr if none).

    Args:
      level: ``verbose`` (DEBUG), ``normal`` (INFO) or ``quiet`` (WARNING).
      log_format: ``text`` or ``json``.
    """
    global _format
    _format = log_format
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    root.setLevel(LEVELS[level])
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    worker_logs.install(LEVELS[level])
    inner = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    for handler in root.handlers:
        for drop in (_drop_beam_import_notice, _drop_beam_report_of_ours):
            if drop not in handler.filters:
                handler.addFilter(drop)
        if type(handler) is logging.StreamHandler:  # ours, not a test framework's capture
            handler.setFormatter(RedactingFormatter(inner))
        elif not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(handler.formatter))


def _drop_beam_import_notice(record: logging.LogRecord) -> bool:
    """Beam warns on import that optional BigQuery clients are missing; no connector here uses them."""
    return not str(record.msg).startswith("apitools not found")


def _drop_beam_report_of_ours(record: logging.LogRecord) -> bool:
    """A runner logs an error raised in a step (with its traceback) before re-raising it; when the
    error is one of ours the CLI reports it itself, once (with the traceback under ``-v``)."""
    if not record.name.startswith("apache_beam") or not record.exc_info:
        return True
    return find_ours(record.exc_info[1]) is None


def find_ours(exc: Optional[BaseException]) -> Optional[BeamConnectError]:
    """The :class:`BeamConnectError` that ``exc`` is or wraps (runners wrap errors raised in steps)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, BeamConnectError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None
