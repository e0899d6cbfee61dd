"""The monitoring port: Prometheus metrics at ``/metrics``, a live status page at ``/``.

``beamconnect run|replay-dlq ... --metrics-port P`` (or the connector key ``metrics.port``) serves, while
the command works (across every run of ``--mode micro-batch``, and for the whole of ``--mode streaming``):

- ``/metrics``: the exposition of :mod:`pipelines.monitoring.prometheus`;
- ``/status.json``: per topic-partition start, read position, log end, lag, records read, written,
  failed, skipped and dead-lettered, committed offset and its time;
- ``/``: a page that shows ``/status.json`` as a table and refreshes it every second.

Everything served goes through :func:`common.secrets.redact`. The server binds ``metrics.address``
(default ``0.0.0.0``, so that a Prometheus elsewhere can scrape it); port 0 takes a free port, logged.
"""

from __future__ import annotations

import http.server
import json
import logging
import threading
import time
from typing import Optional

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from common import metrics, secrets
from pipelines.monitoring.prometheus import ConnectorCollector

_LOGGER = logging.getLogger(__name__)


def status(connector: str) -> dict:
    """What the status page shows: the connector's partitions from :data:`common.metrics.LIVE`."""
    snap = metrics.LIVE.snapshot()
    cells: dict = {}
    for name, value in snap["counts"].items():
        cell = cells.setdefault((name.topic, name.partition), {})
        cell[name.metric] = cell.get(name.metric, 0) + value
    rows = []
    for key in sorted(set(cells) | set(snap["positions"])):
        cell = cells.get(key, {})
        position = snap["positions"].get(key)
        end = snap["log_ends"].get(key, position)
        start = snap["starts"].get(key, position)
        rows.append({
            "topic": key[0], "partition": key[1], "start": start, "position": position,
            "log_end": end, "lag": None if position is None else max(0, end - position),
            "progress": (1.0 if end == start else (position - start) / (end - start))
            if None not in (position, start, end) and end >= start else None,
            "read": cell.get(metrics.READ, 0), "written": cell.get(metrics.WRITTEN, 0),
            "failed": cell.get(metrics.FAILED, 0), "skipped": cell.get(metrics.SKIPPED, 0),
            "dead_lettered": cell.get(metrics.DEAD_LETTERED, 0),
            "committed": snap["committed"].get(key),
            "committed_at_ms": snap["last_commit_ms"].get(key)})
    return {"connector": connector, "time_ms": int(time.time() * 1000),
            "last_error_ms": snap["last_error_ms"] or None, "partitions": rows}


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>beamconnect: %(connector)s</title>
<style>
body { font: 14px sans-serif; margin: 2em; }
table { border-collapse: collapse; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ccc; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.bar { background: #ddd; width: 120px; height: 10px; display: inline-block; }
.bar span { background: #2a7; height: 10px; display: block; }
.errors { color: #b00; font-weight: bold; }
</style></head>
<body>
<h1>Connector %(connector)s</h1>
<p id="summary">loading...</p>
<table><thead><tr><th>topic-partition</th><th>progress</th><th>position</th><th>log end</th>
<th>lag</th><th>read</th><th>written</th><th>errors</th><th>dead letters</th><th>committed</th></tr>
</thead><tbody id="rows"></tbody></table>
<script>
function text(value) { return value === null || value === undefined ? "-" : String(value); }
async function refresh() {
  try {
    const status = await (await fetch("status.json", {cache: "no-store"})).json();
    let read = 0, written = 0, errors = 0, lag = 0;
    const rows = status.partitions.map(p => {
      read += p.read; written += p.written; errors += p.failed; lag += p.lag || 0;
      const percent = p.progress === null ? 0 : Math.round(100 * p.progress);
      const cells = [p.topic + "-" + p.partition,
        '<span class="bar"><span style="width:' + percent + '%%"></span></span> ' + percent + "%%",
        text(p.position), text(p.log_end), text(p.lag), p.read, p.written,
        '<span class="' + (p.failed ? "errors" : "") + '">' + p.failed + "</span>",
        p.dead_lettered, text(p.committed)];
      return "<tr>" + cells.map(c => "<td>" + c + "</td>").join("") + "</tr>";
    });
    document.getElementById("rows").innerHTML = rows.join("");
    document.getElementById("summary").textContent = status.partitions.length + " partitions, " +
      read + " read, " + written + " written, " + errors + " errors, lag " + lag +
      " (updated " + new Date(status.time_ms).toISOString() + ")";
  } catch (e) {
    document.getElementById("summary").textContent = "not reachable: " + e;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body></html>
"""


class MonitoringServer:
    """Serves the monitoring port in a daemon thread; a context manager.

    Args:
      connector: The connector's ``name`` (label and page title).
      port: The port; 0 takes a free one (see :attr:`port`).
      address: The address to bind.
    """

    def __init__(self, connector: str, port: int, address: str = "0.0.0.0"):
        self.connector = connector
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ConnectorCollector(connector))
        page = (PAGE % {"connector": connector}).encode()
        name = connector

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?")[0]
                if path == "/metrics":
                    body, kind = generate_latest(registry), CONTENT_TYPE_LATEST
                elif path == "/status.json":
                    body, kind = json.dumps(status(name)).encode(), "application/json"
                elif path in ("/", "/index.html"):
                    body, kind = page, "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                body = secrets.redact(body.decode()).encode()
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):  # scrapes are not news
                _LOGGER.debug("%s " + format, self.address_string(), *args)

        self._server = http.server.ThreadingHTTPServer((address, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> "MonitoringServer":
        metrics.LIVE.enabled = True
        # a short poll interval: shutdown() waits for the serving loop to look (0.5 s by default)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="monitoring", daemon=True)
        self._thread.start()
        _LOGGER.info("serving metrics on http://%s:%d/metrics and a status page on port %d",
                     self._server.server_address[0], self.port, self.port)
        return self

    def __exit__(self, *exc) -> None:
        metrics.LIVE.enabled = False
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
