"""Sink families, found by the ``connector.class`` names users write.

:data:`SINKS` is read like a dict of name -> sink, but imports a family's package only when a name of
it is looked up: a run loads the one sink it writes to, not every client library of the others
(optional families are loaded lazily on purpose; nothing here avoids an import cycle).
"""

from __future__ import annotations

from common.errors import ConfigError
from common.lazy import LazyMapping, load
from sinks.base import Sink

_AZURE_BLOB_STORAGE = "io.confluent.connect.azure.blob.storage.AzureBlobStorage"

#: Each family: the module and class of its sink, and the keyword arguments it is built with.
_FAMILIES = {
    "files": ("sinks.files", "FilesSink", {}),
    "hdfs": ("sinks.files.hdfs", "HdfsSink", {}),  # the HDFS connector's names, resuming from them
    "azblob": ("sinks.files", "FilesSink", {"storage_class": _AZURE_BLOB_STORAGE}),
    "jdbc": ("sinks.jdbc", "JdbcSink", {}),
    "kafka": ("sinks.kafka", "KafkaSink", {}),
    "mongodb": ("sinks.mongodb", "MongoSink", {}),
    "cassandra": ("sinks.cassandra", "CassandraSink", {}),
    "activemq": ("sinks.queues.activemq", "ActiveMQSink", {}),
    "mqtt": ("sinks.queues.mqtt", "MqttSink", {}),
    "redis": ("sinks.queues.redis", "RedisSink", {}),
    # redis-kafka-connect writes the value's fields
    "redis-kafka-connect": ("sinks.queues.redis", "RedisSink", {"body": "value"}),
    "nats": ("sinks.queues.nats", "NatsSink", {}),
    "rabbitmq": ("sinks.queues.rabbitmq", "RabbitMQSink", {}),
    "elasticsearch": ("sinks.search.elasticsearch", "ElasticsearchSink", {}),
    "solr": ("sinks.search.solr", "SolrSink", {}),
    "solr-cloud": ("sinks.search.solr", "CloudSolrSink", {}),  # refused: SolrCloud through ZooKeeper
}

#: Every accepted ``connector.class`` and the family it names.
_NAMES = {
    "files": "files",
    "io.confluent.connect.s3.S3SinkConnector": "files",
    "io.confluent.connect.gcs.GcsSinkConnector": "files",
    "hdfs": "hdfs",
    "io.confluent.connect.hdfs3.Hdfs3SinkConnector": "hdfs",
    "io.confluent.connect.hdfs.HdfsSinkConnector": "hdfs",
    "azblob": "azblob",
    "io.confluent.connect.azure.blob.AzureBlobStorageSinkConnector": "azblob",
    "jdbc": "jdbc",
    "io.confluent.connect.jdbc.JdbcSinkConnector": "jdbc",
    "io.debezium.connector.jdbc.JdbcSinkConnector": "jdbc",
    "kafka": "kafka",
    "mongodb": "mongodb",
    "com.mongodb.kafka.connect.MongoSinkConnector": "mongodb",
    "cassandra": "cassandra",
    "com.datastax.oss.kafka.sink.CassandraSinkConnector": "cassandra",
    "com.datastax.kafkaconnector.DseSinkConnector": "cassandra",
    "activemq": "activemq",
    "io.confluent.connect.jms.ActiveMqSinkConnector": "activemq",
    "mqtt": "mqtt",
    "io.confluent.connect.mqtt.MqttSinkConnector": "mqtt",
    "redis": "redis",
    "com.redis.kafka.connect.RedisSinkConnector": "redis-kafka-connect",
    "nats": "nats",
    "rabbitmq": "rabbitmq",
    "io.confluent.connect.rabbitmq.sink.RabbitMQSinkConnector": "rabbitmq",
    "elasticsearch": "elasticsearch",
    "opensearch": "elasticsearch",
    "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector": "elasticsearch",
    "solr": "solr",
    "com.github.jcustenborder.kafka.connect.solr.HttpSolrSinkConnector": "solr",
    "com.github.jcustenborder.kafka.connect.solr.CloudSolrSinkConnector": "solr-cloud",
}


def _build(family: str) -> Sink:
    module, attribute, kwargs = _FAMILIES[family]
    return load(module + "." + attribute)(**kwargs)


#: ``connector.class`` name -> :class:`~sinks.base.Sink`, one instance per family (aliases share it),
#: built on first look-up. Iterating lists the names without importing any family.
SINKS = LazyMapping(_NAMES, _build)


def find_sink(name: str) -> Sink:
    """The sink family for ``connector.class`` ``name``; an unknown name lists the allowed ones."""
    try:
        return SINKS[name]
    except KeyError:
        raise ConfigError("connector.class must be one of %s, got %r"
                          % (", ".join(repr(n) for n in SINKS), name)) from None
