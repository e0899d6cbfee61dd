"""The monitoring port: Prometheus metrics with Kafka Connect's names, and the status page's data."""

import json
import os
import signal
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from common import metrics
from pipelines.monitoring.prometheus import NAMES
from pipelines.monitoring.server import MonitoringServer
from pipelines.processes import free_ports
from tests.helpers import ROOT, json_files_config, start_cli, write_config
from transforms.kafka.planning import PartitionPlan

TASK = "kafka_connect_sink_task_metrics_"
ERRORS = "kafka_connect_task_error_metrics_"


@pytest.fixture
def live():
    metrics.LIVE.reset()
    metrics.LIVE.enabled = True  # as while a server runs; these tests count before starting one
    yield metrics.LIVE
    metrics.LIVE.enabled = False
    metrics.LIVE.reset()


def _get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as response:
        return response.read().decode(), response.headers["Content-Type"]


def _samples(text):
    """{(name, frozenset(labels)): value} of an exposition."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _value(samples, name, **labels):
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert found, (name, labels)
    return sum(found)


def test_metrics_carry_connect_names_and_partition_labels(live):
    live.plan([PartitionPlan("orders", 0, 100, 160), PartitionPlan("orders", 1, 0, 10)])
    metrics.counter(metrics.READ, "orders", 0).inc(50)
    metrics.counter(metrics.WRITTEN, "orders", 0).inc(40)
    metrics.counter(metrics.FAILED, "orders", 0, "VALUE_CONVERTER").inc(2)
    metrics.counter(metrics.SKIPPED, "orders", 0).inc(2)
    metrics.counter(metrics.DEAD_LETTERED, "orders", 0).inc(2)
    metrics.counter(metrics.RETRIES, "orders", 0).inc(3)
    live.read("orders", 0, 150)
    live.write_started("orders", 0, 139)
    live.write_done("orders", 0, 139)
    live.commit("orders", 0, 140)

    with MonitoringServer("shop", 0, "127.0.0.1") as server:
        text, kind = _get(server.port, "/metrics")
        status = json.loads(_get(server.port, "/status.json")[0])
    assert kind.startswith("text/plain")
    samples = _samples(text)
    served = {name for name, _ in samples}
    assert set(NAMES) <= served
    p0 = {"connector": "shop", "task": "0", "topic": "orders", "partition": "0"}
    assert _value(samples, TASK + "sink_record_read_total", **p0) == 50
    assert _value(samples, TASK + "sink_record_send_total", **p0) == 40
    assert _value(samples, TASK + "sink_record_active_count", **p0) == 8  # 50 - 40 - 2 skipped
    assert _value(samples, TASK + "offset_commit_completion_total", **p0) == 1
    assert _value(samples, TASK + "partition_count", connector="shop") == 2
    assert _value(samples, ERRORS + "total_record_errors", **p0) == 2
    assert _value(samples, ERRORS + "total_record_failures", **p0) == 5
    assert _value(samples, ERRORS + "total_records_skipped", **p0) == 2
    assert _value(samples, ERRORS + "total_retries", **p0) == 3
    assert _value(samples, ERRORS + "deadletterqueue_produce_requests", **p0) == 2
    assert _value(samples, ERRORS + "last_error_timestamp", connector="shop") > time.time() * 1000 - 60_000
    lag = "kafka_consumer_consumer_fetch_manager_metrics_records_lag"
    assert _value(samples, lag, client_id="connector-consumer-shop-0", topic="orders",
                  partition="0") == 10
    assert _value(samples, lag, topic="orders", partition="1") == 10
    assert _value(samples, "beamconnect_committed_offset", topic="orders", partition="0") == 140

    rows = {(r["topic"], r["partition"]): r for r in status["partitions"]}
    assert status["connector"] == "shop"
    assert rows[("orders", 0)]["lag"] == 10 and rows[("orders", 0)]["read"] == 50
    assert rows[("orders", 0)]["progress"] == pytest.approx(50 / 60)
    assert rows[("orders", 1)]["progress"] == 0.0 and rows[("orders", 1)]["committed"] is None


def test_the_metrics_port_is_refused_clearly_when_taken(tmp_path, capsys):
    import socket

    from pipelines.cli import main

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path / "c.json", json_files_config("m", "t", tmp_path / "out"))
        assert main(["run", str(config), "--bootstrap-servers", "127.0.0.1:9",
                     "--metrics-port", str(port)]) == 2
    assert "cannot serve metrics on 0.0.0.0:%d" % port in capsys.readouterr().err


def test_a_streaming_run_serves_live_metrics_and_its_status(kafka, tmp_path, spawned):
    """Streaming counts a window's records when the window closes (flush.size=4 here)."""
    topic = kafka.topic(partitions=2)
    dead = kafka.topic(prefix="dlq")
    values = [json.dumps({"i": i}).encode() for i in range(12)]
    values[4] = b"{oops"
    kafka.produce(topic, [(None, v) for v in values], partition=0)
    kafka.produce(topic, [(None, v) for v in values[:8]], partition=1)
    port = free_ports(1)[0]
    config = write_config(tmp_path / "c.json", json_files_config(
        "mon-" + topic, topic, tmp_path / "out", **{
            "flush.size": "4", "format.class": "json", "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dead,
            "errors.deadletterqueue.topic.replication.factor": "1", "metrics.port": str(port)}))
    proc = start_cli("run", config, "--bootstrap-servers", kafka.servers, "--mode", "streaming",
                     "--runner", "DirectRunner", start_new_session=True)
    spawned.append(proc)
    labels = {"connector": "mon-" + topic, "topic": topic}
    deadline = time.monotonic() + 180
    samples = {}
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            samples = _samples(_get(port, "/metrics")[0])
            if (_value(samples, TASK + "sink_record_read_total", **labels) == 20
                    and _value(samples, "beamconnect_committed_offset", partition="0", **labels) == 12
                    and _value(samples, "beamconnect_committed_offset", partition="1", **labels) == 8):
                break
        except (OSError, AssertionError):
            pass
        time.sleep(0.5)
    status = json.loads(_get(port, "/status.json")[0])
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)

    assert _value(samples, TASK + "sink_record_read_total", **labels) == 20, err[-3000:]
    assert _value(samples, TASK + "sink_record_read_total", partition="0", **labels) == 12
    assert _value(samples, ERRORS + "total_record_errors", **labels) == 2  # offset 4 of each partition
    assert _value(samples, ERRORS + "deadletterqueue_produce_requests", **labels) == 2
    assert _value(samples, "beamconnect_committed_offset", partition="0", **labels) == 12
    assert _value(samples, TASK + "offset_commit_completion_total", partition="0", **labels) >= 3
    assert _value(samples, "kafka_consumer_consumer_fetch_manager_metrics_records_lag",
                  partition="0", **labels) == 0
    assert _value(samples, TASK + "partition_count", connector="mon-" + topic) == 2
    rows = {r["partition"]: r for r in status["partitions"]}
    assert (rows[0]["position"], rows[0]["log_end"], rows[0]["failed"]) == (12, 12, 1)
    assert (rows[1]["read"], rows[1]["committed"]) == (8, 8)


# templates/monitoring: every query parses as PromQL and names only metrics the exporter serves.
# (promql-parser is the Prometheus parser's grammar, from PyPI; promtool, when PROMTOOL names it, below.)

def _metric_names(expr):
    import promql_parser

    names = set()

    def walk(node):
        if type(node).__name__ == "VectorSelector":
            names.add(node.name)
            return
        for attribute in ("lhs", "rhs", "expr", "args", "vector_selector", "param"):
            child = getattr(node, attribute, None)
            for item in child if isinstance(child, (list, tuple)) else [child]:
                if item is not None and not isinstance(item, (str, int, float)):
                    walk(item)

    walk(promql_parser.parse(expr))
    return names


def test_alert_rules_cover_lag_errors_dead_letters_and_commits_on_served_metrics():
    import yaml

    with open(os.path.join(ROOT, "templates", "monitoring", "alerts.yml")) as f:
        rules = [rule for group in yaml.safe_load(f)["groups"] for rule in group["rules"]]
    assert [r["alert"] for r in rules] == ["ConnectorLagGrowing", "ConnectorRecordErrors",
                                           "ConnectorDeadLetters", "ConnectorNoCommit"]
    used = set()
    for rule in rules:
        names = _metric_names(rule["expr"])
        assert names and names <= set(NAMES), (rule["alert"], names - set(NAMES))
        assert "by (connector)" in rule["expr"] and rule["annotations"]["summary"]
        used |= names
    assert {"kafka_consumer_consumer_fetch_manager_metrics_records_lag",
            ERRORS + "total_record_errors", ERRORS + "deadletterqueue_produce_requests",
            TASK + "offset_commit_completion_total"} <= used


def test_dashboard_queries_name_only_served_metrics():
    with open(os.path.join(ROOT, "templates", "monitoring", "dashboard.json")) as f:
        dashboard = json.load(f)
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(exprs) >= 10
    shown = set()
    for expr in exprs:
        names = _metric_names(expr.replace("$__rate_interval", "5m"))
        assert names and names <= set(NAMES), (expr, names - set(NAMES))
        shown |= names
    assert shown == set(NAMES)  # every served metric is on the dashboard
    variable = [v for v in dashboard["templating"]["list"] if v["name"] == "connector"][0]
    assert variable["definition"] == "label_values(%spartition_count, connector)" % TASK


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_the_status_page_refreshes_live_in_chromium(live, tmp_path):
    """Debian's chromium, driven by Playwright; the screenshot is read back with tesseract."""
    import shutil
    import subprocess

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or os.environ.get("CHROMIUM")
    if chromium is None or shutil.which("tesseract") is None:
        pytest.fail("chromium and tesseract-ocr are needed (./dev test installs them)")
    live.plan([PartitionPlan("orders", 0, 0, 200), PartitionPlan("orders", 1, 0, 100)])
    metrics.counter(metrics.READ, "orders", 0).inc(50)
    live.read("orders", 0, 50)
    with MonitoringServer("shop", 0, "127.0.0.1") as server, sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS[1:])
        page = browser.new_page(viewport={"width": 1300, "height": 500})
        page.goto("http://127.0.0.1:%d/" % server.port)
        page.wait_for_function("document.getElementById('summary').textContent.includes('50 read')")
        cells = "[...document.querySelectorAll('#rows tr')].map(r => [...r.cells].map(c => c.innerText.trim()))"
        first = page.evaluate(cells)
        # the run goes on: the page shows it without a reload
        metrics.counter(metrics.READ, "orders", 0).inc(150)
        metrics.counter(metrics.FAILED, "orders", 1, "VALUE_CONVERTER").inc(3)
        live.read("orders", 0, 200)
        page.wait_for_function("document.getElementById('summary').textContent.includes('200 read')")
        second = page.evaluate(cells)
        shot = tmp_path / "status.png"
        page.screenshot(path=str(shot))
        browser.close()

    # topic-partition, progress, position, log end, lag, read, written, errors, dead letters, committed
    assert first == [["orders-0", "25%", "50", "200", "150", "50", "0", "0", "0", "-"],
                     ["orders-1", "0%", "0", "100", "100", "0", "0", "0", "0", "-"]]
    assert second == [["orders-0", "100%", "200", "200", "0", "200", "0", "0", "0", "-"],
                      ["orders-1", "0%", "0", "100", "100", "0", "0", "3", "0", "-"]]
    text = subprocess.run(["tesseract", str(shot), "-", "--psm", "6"], capture_output=True,
                          text=True, check=True).stdout
    assert "Connector shop" in text
    assert "2 partitions, 200 read, 0 written, 3 errors, lag 100" in " ".join(text.split())


def test_nothing_is_kept_while_no_server_serves():
    metrics.LIVE.reset()
    assert metrics.LIVE.enabled is False
    metrics.counter(metrics.READ, "orders", 0).inc(5)
    metrics.LIVE.read("orders", 0, 5)
    metrics.LIVE.commit("orders", 0, 5)
    snap = metrics.LIVE.snapshot()
    assert (snap["counts"], snap["positions"], snap["commits"]) == ({}, {}, {})


@pytest.mark.skipif(not os.environ.get("PROMTOOL"), reason="PROMTOOL names no promtool binary")
def test_alert_rules_pass_promtool():
    """Prometheus's own checker, when ``PROMTOOL`` names it (``go install
    github.com/prometheus/prometheus/cmd/promtool@v0.316.0`` builds it from the Go module proxy in about
    5 minutes here, too long for the suite's set-up; the parsing test above runs everywhere)."""
    import subprocess

    checked = subprocess.run([os.environ["PROMTOOL"], "check", "rules",
                              os.path.join(ROOT, "templates", "monitoring", "alerts.yml")],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 4 rules found" in checked.stdout
