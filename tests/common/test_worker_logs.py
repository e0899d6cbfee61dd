"""Worker log entries relayed by Beam's job service become lines of the module that logged them."""

import logging
import os

from apache_beam.portability.api import beam_fn_api_pb2

from common import worker_logs


def _relayed(caplog, severity, message, location):
    entry = beam_fn_api_pb2.LogEntry(severity=severity, message=message, log_location=location)
    relay = logging.getLogger(worker_logs.RELAY_LOGGER)
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        worker_logs.install(logging.DEBUG)
        level = {beam_fn_api_pb2.LogEntry.Severity.DEBUG: logging.DEBUG,
                 beam_fn_api_pb2.LogEntry.Severity.WARN: logging.WARNING,
                 beam_fn_api_pb2.LogEntry.Severity.ERROR: logging.ERROR}[severity]
        relay.log(level, "Worker: %s", str(entry).replace("\n", " "))
    return [(r.name, r.levelno, r.getMessage()) for r in caplog.records]


def test_our_modules_lines_come_back_as_theirs_and_beams_chatter_is_dropped(caplog):
    ours = os.path.join(worker_logs._ROOT, "transforms", "kafka", "read.py") + ":120"
    sev = beam_fn_api_pb2.LogEntry.Severity

    assert _relayed(caplog, sev.DEBUG, 'reading "work" item été\nnext', ours) == [
        ("transforms.kafka.read", logging.DEBUG, 'reading "work" item été\nnext')]
    beam = "/x/site-packages/apache_beam/runners/worker/sdk_worker_main.py:421"
    assert _relayed(caplog, sev.WARN, "Discarding unparseable args: ['--a']", beam) == []
    assert _relayed(caplog, sev.ERROR, "worker failed", beam)[0][1] == logging.ERROR
