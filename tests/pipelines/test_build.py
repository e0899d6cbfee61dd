"""Pipeline assembly: the steps a connector gets, and who commits."""

import dataclasses

import apache_beam as beam

from pipelines.build import build_pipeline, build_streaming_pipeline
from pipelines.config.connector import parse_connector_config
from sinks.files import FilesSink
from transforms.kafka.planning import PartitionPlan

PLANS = [PartitionPlan("orders", 0, 0, 10)]


def _config(tmp_path, **extra):
    return parse_connector_config({
        "name": "b", "connector.class": "files", "topics": "orders", "store.url": str(tmp_path),
        "format.class": "json", "flush.size": "5", "bootstrap.servers": "127.0.0.1:9", **extra})


def _labels(pipeline):
    labels = []

    class Visitor(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node):
            labels.append(node.full_label)

        def visit_transform(self, node):
            labels.append(node.full_label)

    pipeline.visit(Visitor())
    return labels


class _SelfCommitting(FilesSink):
    commits_offsets = True


def test_steps_of_a_bounded_run(tmp_path):
    pipeline = beam.Pipeline()
    build_pipeline(pipeline, _config(tmp_path), PLANS)

    top = [label for label in _labels(pipeline) if label and "/" not in label]
    assert top == ["ReadFromKafka", "ConvertRecords", "MarkWrites", "Write", "SettleWrites", "CommitOffsets"]


def test_transforms_get_their_own_step(tmp_path):
    pipeline = beam.Pipeline()
    build_pipeline(pipeline, _config(tmp_path, **{
        "transforms": "drop", "transforms.drop.type": "ReplaceField$Value",
        "transforms.drop.exclude": "x"}), PLANS)

    assert "ApplyTransforms" in _labels(pipeline)


def test_a_sink_that_commits_its_own_offsets_still_updates_the_group_for_lag_tools(tmp_path):
    config = dataclasses.replace(_config(tmp_path), sink=_SelfCommitting())
    for build in (build_pipeline, build_streaming_pipeline):
        pipeline = beam.Pipeline()
        built = build(pipeline, config, PLANS)
        assert built.committed is not None
        assert "CommitOffsets" in _labels(pipeline)
