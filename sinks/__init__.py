"""Sink families, found by the ``connector.class`` names users write."""

from __future__ import annotations

from common.errors import ConfigError
from sinks.base import Sink
from sinks.cassandra import CassandraSink
from sinks.files import FilesSink
from sinks.files.hdfs import HdfsSink
from sinks.jdbc import JdbcSink
from sinks.kafka import KafkaSink
from sinks.mongodb import MongoSink
from sinks.queues.activemq import ActiveMQSink
from sinks.queues.mqtt import MqttSink
from sinks.queues.redis import RedisSink
from sinks.queues.nats import NatsSink
from sinks.queues.rabbitmq import RabbitMQSink
from sinks.search.elasticsearch import ElasticsearchSink
from sinks.search.solr import CloudSolrSink, SolrSink

_FILES = FilesSink()
_HDFS = HdfsSink()  # the HDFS connector's names, resuming from them
_AZURE_BLOB = FilesSink(storage_class="io.confluent.connect.azure.blob.storage.AzureBlobStorage")
_CASSANDRA = CassandraSink()
_JDBC = JdbcSink()
_KAFKA = KafkaSink()
_MONGODB = MongoSink()
_ACTIVEMQ = ActiveMQSink()
_MQTT = MqttSink()
_REDIS = RedisSink()
_REDIS_KAFKA_CONNECT = RedisSink(body="value")  # redis-kafka-connect writes the value's fields
_NATS = NatsSink()
_RABBITMQ = RabbitMQSink()
_ELASTICSEARCH = ElasticsearchSink()
_SOLR = SolrSink()
_SOLR_CLOUD = CloudSolrSink()  # refused: SolrCloud through ZooKeeper
SINKS = {
    "files": _FILES,
    "io.confluent.connect.s3.S3SinkConnector": _FILES,
    "io.confluent.connect.gcs.GcsSinkConnector": _FILES,
    "hdfs": _HDFS,
    "io.confluent.connect.hdfs3.Hdfs3SinkConnector": _HDFS,
    "io.confluent.connect.hdfs.HdfsSinkConnector": _HDFS,
    "azblob": _AZURE_BLOB,
    "io.confluent.connect.azure.blob.AzureBlobStorageSinkConnector": _AZURE_BLOB,
    "jdbc": _JDBC,
    "io.confluent.connect.jdbc.JdbcSinkConnector": _JDBC,
    "io.debezium.connector.jdbc.JdbcSinkConnector": _JDBC,
    "kafka": _KAFKA,
    "mongodb": _MONGODB,
    "com.mongodb.kafka.connect.MongoSinkConnector": _MONGODB,
    "cassandra": _CASSANDRA,
    "com.datastax.oss.kafka.sink.CassandraSinkConnector": _CASSANDRA,
    "com.datastax.kafkaconnector.DseSinkConnector": _CASSANDRA,
    "activemq": _ACTIVEMQ,
    "io.confluent.connect.jms.ActiveMqSinkConnector": _ACTIVEMQ,
    "mqtt": _MQTT,
    "io.confluent.connect.mqtt.MqttSinkConnector": _MQTT,
    "redis": _REDIS,
    "com.redis.kafka.connect.RedisSinkConnector": _REDIS_KAFKA_CONNECT,
    "nats": _NATS,
    "rabbitmq": _RABBITMQ,
    "io.confluent.connect.rabbitmq.sink.RabbitMQSinkConnector": _RABBITMQ,
    "elasticsearch": _ELASTICSEARCH,
    "opensearch": _ELASTICSEARCH,
    "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector": _ELASTICSEARCH,
    "solr": _SOLR,
    "com.github.jcustenborder.kafka.connect.solr.HttpSolrSinkConnector": _SOLR,
    "com.github.jcustenborder.kafka.connect.solr.CloudSolrSinkConnector": _SOLR_CLOUD,
}


def find_sink(name: str) -> Sink:
    """The sink family for ``connector.class`` ``name``; an unknown name lists the allowed ones."""
    try:
        return SINKS[name]
    except KeyError:
        raise ConfigError("connector.class must be one of %s, got %r"
                          % (", ".join(repr(n) for n in SINKS), name)) from None
