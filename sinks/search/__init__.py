"""Search-engine sinks: records indexed as documents in Elasticsearch or OpenSearch
(:mod:`sinks.search.elasticsearch`) and Solr, one document per id. What they share, the id of a
record's document and its value as a JSON document, is :mod:`sinks.search.documents`."""
