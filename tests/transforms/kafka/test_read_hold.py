"""ReadFromKafka holding partial windows, against the real broker."""

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline
from apache_beam.testing.util import assert_that, equal_to
from confluent_kafka import Producer

from transforms.kafka.planning import PartitionPlan
from transforms.kafka.read import HoldPartial, ReadFromKafka
from transforms.kafka.rotation import Schedule

BASE = 1_767_225_600_000


def _windows(bundles, label):
    return bundles | label >> beam.Map(lambda b: (b.partition, b.window_start, tuple(b.offsets)))


def _produce(kafka, topic, partition, stamps):
    producer = Producer({"bootstrap.servers": kafka.servers})
    for i, ts in enumerate(stamps):
        producer.produce(topic, b"v%d" % i, partition=partition, timestamp=ts)
    producer.flush(30)


def test_a_partial_last_window_is_held_and_reported_where_it_starts(kafka):
    topic = kafka.topic(partitions=3)
    _produce(kafka, topic, 0, [BASE] * 23)
    _produce(kafka, topic, 1, [BASE] * 20)
    _produce(kafka, topic, 2, [BASE] * 4)
    plans = [PartitionPlan(topic, 0, 3, 20), PartitionPlan(topic, 1, 0, 20),
             PartitionPlan(topic, 2, 0, 4)]

    with BeamPipeline() as p:
        read = p | ReadFromKafka(plans, {"bootstrap.servers": kafka.servers, "group.id": "g"}, 10,
                                 hold=HoldPartial())
        assert_that(_windows(read["bundles"], "W"), equal_to([
            (0, 3, tuple(range(3, 13))), (1, 0, tuple(range(10))), (1, 10, tuple(range(10, 20)))]),
            label="complete windows")
        # partition 1 ends on a window edge: nothing held
        assert_that(read["held"], equal_to([(topic, 0, 13), (topic, 2, 0)]), label="held")


def test_record_time_cuts_windows_and_a_due_schedule_releases_the_tail(kafka):
    topic = kafka.topic(partitions=1)
    _produce(kafka, topic, 0, [BASE + 1000 * i for i in range(11)])
    plans = [PartitionPlan(topic, 0, 0, 11)]
    config = {"bootstrap.servers": kafka.servers, "group.id": "g"}

    with BeamPipeline() as p:
        held = p | "Held" >> ReadFromKafka(plans, config, 100, hold=HoldPartial(3500))
        assert_that(_windows(held["bundles"], "W1"), equal_to([
            (0, 0, (0, 1, 2, 3)), (0, 4, (4, 5, 6, 7))]), label="cut by record time")
        assert_that(held["held"], equal_to([(topic, 0, 8)]), label="held at the last cut")
        # the tail's first record (2026-01-01) is long past a point of the hourly grid: due
        due = p | "Due" >> ReadFromKafka(plans, config, 100,
                                         hold=HoldPartial(3500, Schedule(3_600_000, "UTC")))
        assert_that(_windows(due["bundles"], "W2"), equal_to([
            (0, 0, (0, 1, 2, 3)), (0, 4, (4, 5, 6, 7)), (0, 8, (8, 9, 10))]), label="due tail")
        assert_that(due["held"], equal_to([]), label="nothing held")
