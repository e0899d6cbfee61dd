"""The MongoDB sink: the official MongoDB Kafka sink connector's keys, pymongo bulk writes."""

from sinks.mongodb.sink import MongoSink

__all__ = ["MongoSink"]
