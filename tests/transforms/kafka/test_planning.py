from transforms.kafka.planning import PartitionPlan, cap_records


def _plans(*sizes):
    return [PartitionPlan("t", i, 100, 100 + s) for i, s in enumerate(sizes)]


def test_no_cap_keeps_plans():
    plans = _plans(10, 20)
    assert cap_records(plans, None) == plans
    assert cap_records(plans, 30) == plans


def test_cap_is_shared_fairly_and_exactly():
    capped = cap_records(_plans(100, 3, 100, 0), 50)
    sizes = [p.size for p in capped]
    assert sum(sizes) == 50
    assert sizes[1] == 3 and sizes[3] == 0
    assert abs(sizes[0] - sizes[2]) <= 1


def test_cap_smaller_than_partition_count():
    capped = cap_records(_plans(5, 5, 5), 2)
    assert sum(p.size for p in capped) == 2
    assert all(p.start == 100 for p in capped)


def test_a_sinks_stored_offsets_win_over_the_groups(kafka):
    from confluent_kafka import Consumer, TopicPartition

    from transforms.kafka.planning import Planner

    topic = kafka.topic(partitions=2)
    kafka.produce(topic, [(None, b"x")] * 10, partition=0)
    kafka.produce(topic, [(None, b"x")] * 10, partition=1)
    group = "g-" + topic
    consumer = Consumer({"bootstrap.servers": kafka.servers, "group.id": group})
    consumer.commit(offsets=[TopicPartition(topic, 0, 2), TopicPartition(topic, 1, 3)],
                    asynchronous=False)
    consumer.close()
    asked = []

    def stored(tps):
        asked.extend(tps)
        return {(topic, 0): 7}

    planner = Planner({"bootstrap.servers": kafka.servers, "group.id": group})
    plans = planner.plan({topic: 2}, stored=stored)

    assert asked == [(topic, 0), (topic, 1)]
    assert [(p.partition, p.start, p.end) for p in plans] == [(0, 7, 10), (1, 3, 10)]
