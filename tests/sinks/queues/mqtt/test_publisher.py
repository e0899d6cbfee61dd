"""The MQTT publisher on its own against real mosquitto brokers: confirms, refusals, MQTT 3.1.1."""

import re
import uuid

import pytest

from common.errors import BeamConnectError, RejectedRecord
from sinks.queues.messages import Message
from sinks.queues.mqtt.config import MqttSinkConfig, Server
from sinks.queues.mqtt.publisher import MqttPublisher
from sinks.queues.publish import ConnectionLost, check_publisher
from tests.servers.mosquitto import LocalMosquitto


def _config(broker, **overrides):
    return MqttSinkConfig(name="pub", servers=(Server(broker.url, broker.host, broker.port, False),),
                          **overrides)


def _messages(topic, count, size=10, target=None):
    return [Message(topic, 0, i, 1_700_000_000_000 + i, target or topic, b"k%d" % i, b"x" * size)
            for i in range(count)]


def test_a_batch_is_confirmed_and_a_refused_message_named_by_its_offset(mosquitto, subscribe):
    if mosquitto.refused_prefix is None:
        pytest.skip("needs the suite's own broker, whose ACL refuses a topic")
    topic = "pub-" + uuid.uuid4().hex[:8]
    subscriber = subscribe(topic)
    batch = _messages(topic, 50)
    batch[7] = Message(topic, 0, 7, None, mosquitto.refused_prefix + "/x", None, b"no")
    publisher = MqttPublisher(_config(mosquitto))
    publisher.connect()
    try:
        with pytest.raises(RejectedRecord, match=re.escape(
                "the MQTT message of topic=%s partition=0 offset=7 was refused: the broker refused its "
                "publish to MQTT topic 'refused/x': Not authorized (PUBACK 0x87)" % topic)) as refused:
            publisher.publish(batch)
        assert refused.value.offsets == (7,)
        publisher.publish(_messages(topic, 3))  # the connection is still good
    finally:
        publisher.close()
    got = subscriber.wait_for(lambda m: len(m) >= 52)
    assert sorted(m.coordinates[2] for m in got) == sorted([o for o in range(50) if o != 7] + [0, 1, 2])


def test_a_message_larger_than_the_brokers_maximum_packet_size_is_refused_unsent(subscribe):
    topic = "pub-" + uuid.uuid4().hex[:8]
    with LocalMosquitto(options=["max_packet_size 2000"]) as broker:
        subscriber = subscribe(topic, broker=_Broker(broker))
        batch = _messages(topic, 5)
        batch[2] = _messages(topic, 3, size=5000)[2]
        publisher = MqttPublisher(_config(broker))
        publisher.connect()
        try:
            with pytest.raises(RejectedRecord, match="offset=2 was refused: its PUBLISH of 5[0-9]{3} "
                                                     "bytes to MQTT topic '%s' is larger than the "
                                                     "broker's Maximum Packet Size of 2000 bytes" % topic):
                publisher.publish(batch)
        finally:
            publisher.close()
        got = subscriber.wait_for(lambda m: len(m) >= 4)
    assert sorted(m.coordinates[2] for m in got) == [0, 1, 3, 4]


def test_mqtt_3_publishes_the_value_only(subscribe):
    topic = "pub-" + uuid.uuid4().hex[:8]
    with LocalMosquitto() as broker:
        subscriber = subscribe(topic, broker=_Broker(broker))
        publisher = MqttPublisher(_config(broker, protocol="3.1.1"))
        publisher.connect()
        try:
            publisher.publish(_messages(topic, 20))
        finally:
            publisher.close()
        got = subscriber.wait_for(lambda m: len(m) >= 20)
    assert {(m.payload, m.properties) for m in got} == {(b"x" * 10, ())}


def test_unreachable_brokers_are_tried_in_turn_and_named():
    from pipelines.processes import free_ports

    first, second = free_ports(2)
    config = MqttSinkConfig(name="pub", servers=(
        Server("tcp://127.0.0.1:%d" % first, "127.0.0.1", first, False),
        Server("tcp://127.0.0.1:%d" % second, "127.0.0.1", second, False)), connect_timeout=2)
    with pytest.raises(ConnectionLost, match=re.escape(
            "could not reach the MQTT broker at tcp://127.0.0.1:%d within 2s" % first) + ".*" +
            re.escape("tcp://127.0.0.1:%d" % second)):
        MqttPublisher(config).connect()
    with pytest.raises(BeamConnectError, match="could not reach the MQTT broker"):
        check_publisher(MqttPublisher(config))


class _Broker:
    """A local broker as the ``subscribe`` fixture takes it."""

    def __init__(self, server):
        self.url, self.host, self.port = server.url, server.host, server.port
