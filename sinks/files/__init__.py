"""The file sink: Kafka records as rolling Parquet or JSON files (Confluent S3/GCS sink layout)."""

from sinks.files.sink import FilesSink, FileWritten, WriteToFiles

__all__ = ["FilesSink", "FileWritten", "WriteToFiles"]
