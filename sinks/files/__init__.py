"""The file sink: Kafka records as rolling Parquet or JSON files (Confluent S3/GCS sink layout)."""

from sinks.files.sink import FilesSink, WriteToFiles

__all__ = ["FilesSink", "WriteToFiles"]
