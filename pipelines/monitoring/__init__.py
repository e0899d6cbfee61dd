"""Watching a connector while it works: Prometheus metrics with Kafka Connect's names, a status page."""
