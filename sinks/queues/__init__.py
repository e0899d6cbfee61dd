"""Sinks that publish to message brokers (RabbitMQ, ActiveMQ, MQTT, NATS JetStream, Redis Streams).

They share :mod:`sinks.queues.messages` (a record as a message with a stable id) and
:mod:`sinks.queues.publish` (confirmed batches, reconnects, resends); each broker is a subpackage.
Kafka, which can write exactly once with transactions, is :mod:`sinks.kafka`.
"""
