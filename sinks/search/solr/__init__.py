"""The Solr sink: records as Solr documents, conditionally written (see :mod:`sinks.search.solr.sink`)."""

from sinks.search.solr.sink import CloudSolrSink, SolrSink

__all__ = ["CloudSolrSink", "SolrSink"]
