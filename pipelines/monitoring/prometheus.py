"""Prometheus metrics named as the Prometheus JMX exporter names a Kafka Connect sink task's metrics.

Kafka Connect publishes its task metrics as JMX MBeans (``kafka.connect:type=sink-task-metrics,
connector=C,task=T`` with attributes such as ``sink-record-read-total``); the JMX exporter, without
rules, turns them into ``kafka_connect_sink_task_metrics_sink_record_read_total{connector="C",task="T"}``.
Dashboards and alerts written for a Connect cluster therefore work here unchanged: the same names, with
``connector`` and ``task`` labels (``task="0"``: a run is one task, however many Beam workers it uses),
plus ``topic`` and ``partition`` labels, since a run knows its numbers per source partition. Summing
over ``topic`` and ``partition`` gives the task's value.

Served (every one per connector, topic and partition):

- ``kafka_connect_sink_task_metrics_``: ``sink_record_read_total``, ``sink_record_send_total``,
  ``sink_record_active_count`` (read but not yet written, skipped or filtered),
  ``offset_commit_completion_total``, ``put_batch_avg_time_ms`` and ``put_batch_max_time_ms`` (from a
  bundle reaching the sink to its write being durable), ``partition_count`` (per connector);
- ``kafka_connect_task_error_metrics_``: ``total_record_errors`` (records that failed a stage),
  ``total_record_failures`` (failed attempts: those records and every retried failure),
  ``total_records_skipped``, ``total_retries``, ``deadletterqueue_produce_requests``,
  ``last_error_timestamp`` (ms since the epoch, 0 if none);
- ``kafka_consumer_consumer_fetch_manager_metrics_records_lag`` (the Java consumer's per-partition
  lag, with its ``client_id`` label, ``connector-consumer-<name>-0`` as Connect names it) and
  ``beamconnect_committed_offset``.

Metrics whose Connect names end in ``-total`` are Prometheus counters; the task-error counters, whose
names start with ``total-``, are served untyped (as the JMX exporter serves every attribute), since a
Prometheus counter's name must end in ``_total``. ``rate()`` and ``increase()`` work on both.

The numbers come from :data:`common.metrics.LIVE`, this process's totals: live on the local runners.
"""

from __future__ import annotations

from typing import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, UnknownMetricFamily
from prometheus_client.registry import Collector

from common import metrics

TASK = "kafka_connect_sink_task_metrics_"
ERRORS = "kafka_connect_task_error_metrics_"
LAG = "kafka_consumer_consumer_fetch_manager_metrics_records_lag"
COMMITTED = "beamconnect_committed_offset"
_LABELS = ["connector", "task", "topic", "partition"]

#: Every metric name the exporter serves, as it appears in the exposition (counters with ``_total``).
NAMES = (
    TASK + "sink_record_read_total", TASK + "sink_record_send_total",
    TASK + "sink_record_active_count", TASK + "offset_commit_completion_total",
    TASK + "put_batch_avg_time_ms", TASK + "put_batch_max_time_ms", TASK + "partition_count",
    ERRORS + "total_record_errors", ERRORS + "total_record_failures",
    ERRORS + "total_records_skipped", ERRORS + "total_retries",
    ERRORS + "deadletterqueue_produce_requests", ERRORS + "last_error_timestamp", LAG, COMMITTED,
)


class ConnectorCollector(Collector):
    """Collects :data:`common.metrics.LIVE` for one connector at each scrape.

    Args:
      connector: The connector's ``name``.
    """

    def __init__(self, connector: str):
        self._connector = connector

    def collect(self) -> Iterator:
        snap = metrics.LIVE.snapshot()
        per_partition: dict = {}
        for name, value in snap["counts"].items():
            cell = per_partition.setdefault((name.topic, name.partition), {})
            cell[name.metric] = cell.get(name.metric, 0) + value
        keys = sorted(set(per_partition) | set(snap["positions"]) | set(snap["commits"]))

        def labels(key):
            return [self._connector, "0", key[0], str(key[1])]

        def family(kind, name, doc, value_of):
            made = kind(name, doc, labels=_LABELS)
            for key in keys:
                made.add_metric(labels(key), value_of(key, per_partition.get(key, {})))
            return made

        def count(metric):
            return lambda key, cell: cell.get(metric, 0)

        yield family(CounterMetricFamily, TASK + "sink_record_read", "Records read from Kafka",
                     count(metrics.READ))
        yield family(CounterMetricFamily, TASK + "sink_record_send", "Records the sink wrote",
                     count(metrics.WRITTEN))
        yield family(GaugeMetricFamily, TASK + "sink_record_active_count",
                     "Records read and not yet written, skipped or filtered",
                     lambda key, cell: max(0, cell.get(metrics.READ, 0) - cell.get(metrics.WRITTEN, 0)
                                           - cell.get(metrics.SKIPPED, 0)
                                           - cell.get(metrics.FILTERED, 0)))
        yield family(CounterMetricFamily, TASK + "offset_commit_completion",
                     "Offset commits that completed", lambda key, cell: snap["commits"].get(key, 0))
        times = snap["put_times_ms"]
        yield family(GaugeMetricFamily, TASK + "put_batch_avg_time_ms",
                     "Average time from a bundle reaching the sink to its write being durable",
                     lambda key, cell: times[key][1] / times[key][0] if key in times else 0.0)
        yield family(GaugeMetricFamily, TASK + "put_batch_max_time_ms",
                     "Longest time from a bundle reaching the sink to its write being durable",
                     lambda key, cell: times[key][2] if key in times else 0.0)
        partitions = GaugeMetricFamily(TASK + "partition_count", "Topic-partitions of the run",
                                       labels=["connector", "task"])
        partitions.add_metric([self._connector, "0"], len(snap["starts"]))
        yield partitions

        yield family(UnknownMetricFamily, ERRORS + "total_record_errors",
                     "Records that failed a stage", count(metrics.FAILED))
        yield family(UnknownMetricFamily, ERRORS + "total_record_failures",
                     "Failed attempts: failed records and retried failures",
                     lambda key, cell: cell.get(metrics.FAILED, 0) + cell.get(metrics.RETRIES, 0))
        yield family(UnknownMetricFamily, ERRORS + "total_records_skipped",
                     "Failed records skipped (errors.tolerance=all)", count(metrics.SKIPPED))
        yield family(UnknownMetricFamily, ERRORS + "total_retries",
                     "Retries of retriable failures", count(metrics.RETRIES))
        yield family(UnknownMetricFamily, ERRORS + "deadletterqueue_produce_requests",
                     "Records written to the dead-letter topic or store",
                     count(metrics.DEAD_LETTERED))
        last_error = GaugeMetricFamily(ERRORS + "last_error_timestamp",
                                       "Time of the last failed record (ms since the epoch)",
                                       labels=["connector", "task"])
        last_error.add_metric([self._connector, "0"], snap["last_error_ms"])
        yield last_error

        lag = GaugeMetricFamily(LAG, "Offsets between the read position and the log end",
                                labels=["client_id", "connector", "topic", "partition"])
        committed = GaugeMetricFamily(COMMITTED, "The last committed offset",
                                      labels=["connector", "topic", "partition"])
        client = "connector-consumer-%s-0" % self._connector
        for key in keys:
            position = snap["positions"].get(key)
            if position is not None:
                lag.add_metric([client, self._connector, key[0], str(key[1])],
                               max(0, snap["log_ends"].get(key, position) - position))
            if key in snap["committed"]:
                committed.add_metric([self._connector, key[0], str(key[1])], snap["committed"][key])
        yield lag
        yield committed
