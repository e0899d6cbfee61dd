"""``beamconnect replay-dlq``: runs a connector over its dead letters' original records.

Once the cause of the failures is fixed (a transform, a schema, the sink), the records can be written
where they would have gone:

- ``--from-topic DLQ``: the dead-letter topic is read like any topic, as the group
  ``connect-<name>-dlq-replay`` (from its committed offsets, else the earliest), each dead letter is
  turned back into its original record by the ``__connect.errors.*`` context headers (so the
  connector must have written them with ``errors.deadletterqueue.context.headers.enable=true``), and
  the records go through the connector's converters, transforms and sink. The replay group's offsets
  of the dead-letter topic are committed once everything is written, so a second replay goes on from
  there.
- ``--from-store URL``: the JSON lines files ``errors.deadletterqueue.store.url`` wrote are read in the
  launching process (dead letters are few) and written the same way; nothing is committed.

Records keep their original topic, partition, offset and timestamp, so the sink names what it writes
as it would have in the first run (the file sink: ``<topic>+<partition>+<first offset>``; a replay of
the same dead letters rewrites the same names). Records that fail again go to the connector's error
path as configured (its dead-letter topic or store, again).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Optional, TextIO

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from common.errors import BeamConnectError
from pipelines import runners
from pipelines.build import process_bundles
from pipelines.config.connector import ConnectorConfig
from pipelines.run import RunOptions, RunResult, counters_of, check_runner, committed_offsets
from sinks.base import Mode
from sinks.files.deadletter import read_store_dead_letters
from transforms.kafka.commit import CommitOffsets
from transforms.kafka.deadletter import restore
from transforms.kafka.planning import Planner
from transforms.kafka.read import ReadFromKafka
from transforms.records import KafkaBundle

_LOGGER = logging.getLogger(__name__)


def replay_group(config: ConnectorConfig) -> str:
    return "%s-dlq-replay" % config.group_id


class _RestoreFn(beam.DoFn):
    def process(self, bundle: KafkaBundle):
        yield from restore(bundle)


def replay_from_topic(config: ConnectorConfig, topic: str, options: RunOptions,
                      stream: Optional[TextIO] = None) -> RunResult:
    """Replays the dead letters of ``topic`` that the replay group has not committed yet."""
    started = time.monotonic()
    check_runner(options.beam_args)
    config.sink.check(config.sink_config)
    consumer = {**config.consumer_config, "group.id": replay_group(config)}
    planner = Planner(consumer)
    topics = planner.topics([topic])
    plans = planner.plan(topics, start=options.start, until=options.until, reset="earliest",
                         max_records=options.max_records)
    replay = _with_group(config, consumer)
    if sum(p.size for p in plans) == 0:
        return RunResult(tuple(plans), {}, committed_offsets(replay, plans),
                         time.monotonic() - started, config.sink.target_noun)
    bundling = config.sink.bundling(config.sink_config)
    with runners.execution(options.beam_args, config.tasks_max) as execution:
        pipeline_options = PipelineOptions(list(execution.args))
        pipeline = beam.Pipeline(runner=runners.batch_runner(pipeline_options),
                                 options=pipeline_options)
        letters = pipeline | "ReadDeadLetters" >> ReadFromKafka(
            plans, consumer, bundling.flush_size, read_ahead=execution.read_ahead,
            tasks=execution.tasks)
        originals = letters | "RestoreOriginals" >> beam.ParDo(_RestoreFn()).with_output_types(
            KafkaBundle)
        written = process_bundles(config, originals, Mode.REPLAY, plans)
        _ = written | "CommitOffsets" >> CommitOffsets(consumer, plans)
        result = pipeline.run()
        try:
            result.wait_until_finish()
        finally:
            runners.finish(result)
    return RunResult(tuple(plans), counters_of(result), committed_offsets(replay, plans),
                     time.monotonic() - started, config.sink.target_noun)


def replay_from_store(config: ConnectorConfig, url: str, options: RunOptions) -> RunResult:
    """Replays every dead letter in the JSON lines files below ``url``."""
    started = time.monotonic()
    check_runner(options.beam_args)
    config.sink.check(config.sink_config)
    bundles = list(read_store_dead_letters(url))
    if not bundles:
        raise BeamConnectError("no dead letters found below %s" % url)
    pipeline = beam.Pipeline(options=PipelineOptions(list(options.beam_args)
                                                     or ["--runner", "DirectRunner"]))
    originals = pipeline | "ReadDeadLetters" >> beam.Create(bundles).with_output_types(KafkaBundle)
    process_bundles(config, originals, Mode.REPLAY, ())
    result = pipeline.run()
    result.wait_until_finish()
    return RunResult((), counters_of(result), {}, time.monotonic() - started, config.sink.target_noun)


def _with_group(config: ConnectorConfig, consumer) -> ConnectorConfig:
    return dataclasses.replace(config, consumer_config=consumer)
