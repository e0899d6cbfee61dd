"""ReadFromKafka and the planner against the real broker."""

import datetime

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline
from apache_beam.testing.util import assert_that, equal_to
from confluent_kafka import Producer

from transforms.kafka.planning import PartitionPlan, Planner
from transforms.kafka.read import ReadFromKafka


def _windows(bundles):
    return bundles | beam.Map(lambda b: (b.topic, b.partition, b.window_start, tuple(b.offsets),
                                         tuple(b.values)))


def test_bundles_follow_offset_windows_aligned_to_the_plan_start(kafka):
    topic = kafka.topic(partitions=2)
    kafka.produce(topic, [(None, b"v%d" % i) for i in range(23)], partition=0)
    kafka.produce(topic, [(b"k", b"w%d" % i) for i in range(4)], partition=1)
    plans = [PartitionPlan(topic, 0, 3, 23), PartitionPlan(topic, 1, 0, 4)]

    with BeamPipeline() as p:
        bundles = p | ReadFromKafka(plans, {"bootstrap.servers": kafka.servers, "group.id": "g"}, 10)
        assert_that(_windows(bundles), equal_to([
            (topic, 0, 3, tuple(range(3, 13)), tuple(b"v%d" % i for i in range(3, 13))),
            (topic, 0, 13, tuple(range(13, 23)), tuple(b"v%d" % i for i in range(13, 23))),
            (topic, 1, 0, (0, 1, 2, 3), (b"w0", b"w1", b"w2", b"w3")),
        ]), label="windows")


def test_read_committed_skips_aborted_records_and_ends_on_a_marker(kafka):
    topic = kafka.topic(partitions=1)
    producer = Producer({"bootstrap.servers": kafka.servers, "transactional.id": "tx-" + topic})
    producer.init_transactions(30)
    for values, commit in (([b"a0", b"a1", b"a2", b"a3", b"a4"], True),  # offsets 0-4, marker 5
                           ([b"x6", b"x7", b"x8"], False),               # 6-8 aborted, marker 9
                           ([b"b10", b"b11"], True)):                    # 10-11, marker 12
        producer.begin_transaction()
        for v in values:
            producer.produce(topic, v, partition=0)
        producer.flush(30)
        (producer.commit_transaction if commit else producer.abort_transaction)(30)
    config = {"bootstrap.servers": kafka.servers, "group.id": "g-" + topic,
              "isolation.level": "read_committed"}
    plans = Planner(config).plan({topic: 1}, start="earliest")
    assert plans == [PartitionPlan(topic, 0, 0, 13)]

    with BeamPipeline() as p:
        bundles = p | ReadFromKafka(plans, config, 5)
        assert_that(_windows(bundles), equal_to([
            (topic, 0, 0, (0, 1, 2, 3, 4), (b"a0", b"a1", b"a2", b"a3", b"a4")),
            (topic, 0, 10, (10, 11), (b"b10", b"b11")),
        ]), label="committed records only")


def test_planner_start_and_until_by_timestamp(kafka):
    topic = kafka.topic(partitions=1)
    producer = Producer({"bootstrap.servers": kafka.servers})
    base = datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)
    for i in range(10):
        producer.produce(topic, b"%d" % i, partition=0,
                         timestamp=int((base + datetime.timedelta(minutes=i)).timestamp() * 1000))
    producer.flush(30)
    planner = Planner({"bootstrap.servers": kafka.servers, "group.id": "g-" + topic})

    plan, = planner.plan({topic: 1}, start=base + datetime.timedelta(minutes=2, seconds=30),
                         until=base + datetime.timedelta(minutes=7))
    assert (plan.start, plan.end) == (3, 7)
    plan, = planner.plan({topic: 1}, start="latest")
    assert (plan.start, plan.end) == (10, 10)
    plan, = planner.plan({topic: 1}, reset="latest")
    assert (plan.start, plan.end, plan.committed) == (10, 10, None)
    plan, = planner.plan({topic: 1}, max_records=4)
    assert (plan.start, plan.end) == (0, 4)


def test_topics_regex_selects_whole_names(kafka):
    prefix = kafka.topic(partitions=1, prefix="rx")
    planner = Planner({"bootstrap.servers": kafka.servers, "group.id": "g"})
    assert planner.topics(regex=prefix[:-3] + "...") == {prefix: 1}
    assert planner.topics(regex=prefix[:-3]) == {}


def test_a_committed_offset_past_the_end_resets_as_kafka_does(kafka):
    from confluent_kafka import Consumer, TopicPartition

    topic = kafka.topic(partitions=1)
    kafka.produce(topic, [(None, b"x")] * 10, partition=0)
    group = "g-" + topic
    consumer = Consumer({"bootstrap.servers": kafka.servers, "group.id": group})
    consumer.commit(offsets=[TopicPartition(topic, 0, 500)], asynchronous=False)
    consumer.close()
    planner = Planner({"bootstrap.servers": kafka.servers, "group.id": group})

    plan, = planner.plan({topic: 1})
    assert (plan.start, plan.end, plan.committed) == (0, 10, 500)
    plan, = planner.plan({topic: 1}, reset="latest")
    assert (plan.start, plan.end) == (10, 10)


def test_read_ahead_reads_every_partition_in_turn(kafka):
    topic = kafka.topic(partitions=3)
    for p in range(3):
        kafka.produce(topic, [(None, b"%d-%d" % (p, i)) for i in range(12)], partition=p)
    plans = [PartitionPlan(topic, p, 2, 12) for p in range(3)]

    with BeamPipeline() as p:
        bundles = p | ReadFromKafka(plans, {"bootstrap.servers": kafka.servers, "group.id": "g"}, 5,
                                    read_ahead=True)
        assert_that(_windows(bundles), equal_to([
            (topic, q, w, tuple(range(w, w + 5)), tuple(b"%d-%d" % (q, i) for i in range(w, w + 5)))
            for q in range(3) for w in (2, 7)]), label="windows")


def test_read_ahead_hands_the_prefetched_partition_over_or_reassigns_when_it_starts_elsewhere(kafka):
    from transforms.kafka.read import READER_DEFAULTS, READER_FIXED, ReadTask, _ReadPartitionFn
    from transforms.kafka.restriction import PartitionRange, PartitionRangeTracker

    topic = kafka.topic(partitions=3)
    for p in range(3):
        kafka.produce(topic, [(None, b"%d-%d" % (p, i)) for i in range(10)], partition=p)
    plans = [PartitionPlan(topic, p, 0, 10) for p in range(3)]
    fn = _ReadPartitionFn({**READER_DEFAULTS, "bootstrap.servers": kafka.servers, "group.id": "g",
                           **READER_FIXED}, 30.0)
    fn.setup()

    def read(plan, start, next_plan):
        tracker = PartitionRangeTracker(PartitionRange(start, plan.end, plan.start, 5))
        return [o for b in fn.process(ReadTask(plan, 5, next_plan), tracker=tracker) for o in b.offsets]

    try:
        assert read(plans[0], 0, plans[1]) == list(range(10))
        assert fn._warm == (topic, 1, 0)
        prefetching = fn._spare
        assert read(plans[1], 0, plans[2]) == list(range(10))  # takes the prefetching consumer over
        assert fn._consumer is prefetching and fn._warm == (topic, 2, 0)
        assert read(plans[2], 5, None) == list(range(5, 10))  # a split range: assigned afresh
        assert fn._warm is None
        assert fn._spare.assignment() == []  # and the unused read-ahead stopped fetching
    finally:
        fn.teardown()
