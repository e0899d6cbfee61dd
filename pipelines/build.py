"""Assembling a connector pipeline: read, convert, write, commit, as named Beam steps."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import apache_beam as beam

from pipelines.config.connector import ConnectorConfig
from transforms.convert import ConvertRecords
from transforms.errors import CountFailures, StopOnFailure
from transforms.kafka.commit import CommitEachWrite, CommitOffsets
from transforms.kafka.planning import PartitionPlan
from transforms.kafka.read import ReadFromKafka
from transforms.kafka.unbounded import ReadFromKafkaUnbounded


@dataclasses.dataclass
class Built:
    """The PCollections a caller may wait on or inspect."""

    written: beam.PCollection
    failed: beam.PCollection
    committed: beam.PCollection


#: Runners that read every partition in turn in this one process, where reading ahead pays.
LOCAL_RUNNERS = ("DirectRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner", "PrismRunner")


def reads_in_one_process(pipeline: beam.Pipeline) -> bool:
    runner = pipeline.options.get_all_options().get("runner") or "DirectRunner"
    return runner.split(".")[-1] in LOCAL_RUNNERS


def build_pipeline(pipeline: beam.Pipeline, config: ConnectorConfig,
                   plans: Sequence[PartitionPlan]) -> Built:
    """Adds the connector's steps to ``pipeline`` for the planned partitions."""
    sink, sink_config, consumer_config = config.sink, config.sink_config, config.consumer_config
    converted = (
        pipeline
        | "ReadFromKafka" >> ReadFromKafka(plans, consumer_config, sink.windows(sink_config).size,
                                           read_ahead=reads_in_one_process(pipeline))
        | "ConvertRecords" >> ConvertRecords(config.key_converter, config.value_converter))
    failed = converted.failed
    _ = failed | "StopOnFailure" >> StopOnFailure()
    failures = failed | "CountFailures" >> CountFailures()
    written = converted.converted | "Write" >> sink.write(sink_config, plans)
    committed = written | "CommitOffsets" >> CommitOffsets(consumer_config, plans, failures)
    return Built(written=written, failed=failed, committed=committed)


def build_streaming_pipeline(pipeline: beam.Pipeline, config: ConnectorConfig,
                             plans: Sequence[PartitionPlan]) -> Built:
    """Streaming: an unbounded read from each plan's start; each file is committed once written.

    A record that fails a stage stops the pipeline inside the convert step, before anything of its
    bundle is written or committed.
    """
    sink, sink_config, consumer_config = config.sink, config.sink_config, config.consumer_config
    windows = sink.windows(sink_config)
    converted = (
        pipeline
        | "ReadFromKafka" >> ReadFromKafkaUnbounded(plans, consumer_config, windows.size,
                                                      windows.rotate_ms)
        | "ConvertRecords" >> ConvertRecords(config.key_converter, config.value_converter,
                                             stop_on_failure=True))
    written = converted.converted | "Write" >> sink.write(sink_config, None)
    committed = written | "CommitOffsets" >> CommitEachWrite(consumer_config)
    return Built(written=written, failed=converted.failed, committed=committed)
