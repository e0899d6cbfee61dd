"""The Elasticsearch / OpenSearch sink: Confluent's keys, idempotent bulk indexing (see
:mod:`sinks.search.elasticsearch.sink`)."""

from sinks.search.elasticsearch.sink import ElasticsearchSink

__all__ = ["ElasticsearchSink"]
