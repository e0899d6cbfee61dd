"""Throughput of ``beamconnect run`` into Kafka and the message queues against a bare client.

Produces N (default 1,000,000) ~200-byte JSON records into a 4-partition topic, then, in the same run,
times as whole processes, for each target:
  (a) a bare client publishing the same N payloads (each with its key and an id), generated in that
      process, with the guarantee the sink gives: nothing counts as sent before the broker confirmed it:
      - kafka: one confluent-kafka transactional producer, one transaction per ``flush.size`` records;
      - kafka-avro: the same, each value serialized by confluent-kafka's AvroSerializer against a
        Schema Registry (SCHEMA_REGISTRY_URL, else the tests' local Apicurio, started here);
      - rabbitmq: pika's SelectConnection on a channel in confirm mode, persistent messages with a
        message id, each batch of ``rabbitmq.publish.max.batch.size`` messages published and then
        every confirm awaited, into a durable queue;
      - mqtt: paho-mqtt 2, MQTT 5, QoS 1, the key and coordinates as user properties, at most the
        broker's Receive Maximum in flight (mosquitto's default: 20, the sink's window too), every
        PUBACK of a batch of 500 awaited before the next;
      - nats: nats-py's JetStream ``publish`` (one request and its ack each) with ``Nats-Msg-Id``, the
        key and coordinates as headers, batches of ``nats.publish.max.batch.size`` awaited together;
      - redis: redis-py, batches of 500 ``XADD`` of the sink's entry fields in one pipeline (no
        transaction; the sink adds a Lua script per batch that skips what is written already and
        stores the partition's offset with the entries);
      - activemq: Artemis over AMQP 1.0 with python-qpid-proton, durable bytes messages with a
        message id, ``_AMQ_DUPL_ID`` and the key as correlation id, batches of
        ``activemq.publish.batch.size`` sent unsettled, then every outcome awaited;
      - activemq-stomp: Artemis over STOMP with stomp.py, persistent bytes messages, a receipt
        asked for each ``SEND``, batches of ``activemq.publish.batch.size`` awaited together;
  (b) ``python -m pipelines run`` reading the topic and writing every record with the same batches,
      checked to have written N records (the target's count where it keeps one, and the offsets the
      connector committed):
      - kafka: ``connector.class=kafka``, a RegexRouter to a new topic of the same cluster, one
        transaction per bundle holding its records and offsets;
      - kafka-avro: the same reading the records as Avro (a topic of them written beforehand with
        AvroSerializer, read with AvroConverter) and writing them with ``kafka.value.format=avro``;
      - the others: the sink of that name, ``flush.size`` offsets per bundle.
Prints both rates in records/s, each process's peak memory (its maximum resident set, measured by a small
parent of its own) and the ratio b/a (the project's target: 0.5).

    .venv/bin/python benchmarks/kafka_to_queues.py [--records N] [--only TARGET[,TARGET...]]

A local Kafka broker and a throwaway server per target (the suite's own launchers: RabbitMQ, mosquitto,
nats-server, redis-server, Artemis) are started and stopped; ``./dev test`` installs the Debian ones
where they are missing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid

import harness

ROOT = harness.ROOT
sys.path.insert(0, ROOT)

PARTITIONS = 4
FLUSH_SIZE = 10_000
RABBIT_BATCH = 1_000
#: The sinks' default batch sizes (MQTT and Redis have no key for it), which the bare clients use too.
BATCH = 500
TARGETS = ("kafka", "kafka-avro", "rabbitmq", "mqtt", "nats", "redis", "activemq", "activemq-stomp")
BYTES = "org.apache.kafka.connect.converters.ByteArrayConverter"

# The payloads both sides write: record i's key and JSON value (~200 bytes), the same in every process.
PAYLOADS = r"""
def payloads(count):
    for i in range(count):
        key = b"user-%07d" % i
        value = (b'{"id":%d,"user":"user-%07d","event":"%s","amount":%d.%02d,"ts":%d,'
                 b'"country":"%s","agent":"Mozilla/5.0 (X11; Linux x86_64)","path":"/shop/item/%d"}'
                 % (i, i, (b"view", b"click", b"purchase", b"signup")[i % 4], i % 1000, i % 100,
                    1767225600000 + i, (b"DE", b"FR", b"US", b"JP", b"BR")[i % 5], i % 5000))
        yield key, value
"""

BARE_KAFKA = PAYLOADS + r"""
import sys
from confluent_kafka import Producer
servers, topic, count, flush = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
producer = Producer({"bootstrap.servers": servers, "transactional.id": "bare-" + topic,
                     "linger.ms": 5, "queue.buffering.max.messages": 1000000})
producer.init_transactions(60)
producer.begin_transaction()
for i, (key, value) in enumerate(payloads(count), 1):
    while True:
        try:
            producer.produce(topic, value, key, partition=i % 4)
            break
        except BufferError:
            producer.poll(0.01)
    if i % flush == 0:
        producer.commit_transaction(60)
        producer.begin_transaction()
producer.commit_transaction(60)
print(count)
"""

AVRO_SCHEMA = (
    '{"type":"record","name":"Event","namespace":"bench","fields":[{"name":"id","type":"long"},'
    '{"name":"user","type":"string"},{"name":"event","type":"string"},{"name":"amount","type":"double"},'
    '{"name":"ts","type":"long"},{"name":"country","type":"string"},{"name":"agent","type":"string"},'
    '{"name":"path","type":"string"}]}')

# The bare Avro client: the JSON payloads parsed and serialized by AvroSerializer, then as BARE_KAFKA.
BARE_KAFKA_AVRO = BARE_KAFKA.replace(
    "servers, topic, count, flush = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])",
    "servers, topic, count, flush = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])\n"
    "import json\nfrom confluent_kafka.schema_registry import SchemaRegistryClient\n"
    "from confluent_kafka.schema_registry.avro import AvroSerializer\n"
    "from confluent_kafka.serialization import MessageField, SerializationContext\n"
    "serialize = AvroSerializer(SchemaRegistryClient({'url': sys.argv[5]}), sys.argv[6])\n"
    "context = SerializationContext(topic, MessageField.VALUE)").replace(
    "producer.produce(topic, value, key, partition=i % 4)",
    "producer.produce(topic, serialize(json.loads(value), context), key, partition=i % 4)")

BARE_RABBITMQ = PAYLOADS + r"""
import sys, pika
url, queue, count, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
records = payloads(count)
state = {"sent": 0, "outstanding": set(), "done": False}

def send_batch():
    channel = state["channel"]
    for key, value in records:
        state["sent"] += 1
        channel.basic_publish("", queue, value, pika.BasicProperties(
            delivery_mode=2, message_id=key.decode(), correlation_id=key.decode()))
        state["outstanding"].add(state["sent"])
        if len(state["outstanding"]) == batch:
            return
    if not state["outstanding"]:
        state["done"] = True
        connection.close()

def on_confirm(frame):
    method = frame.method
    if isinstance(method, pika.spec.Basic.Nack):
        raise SystemExit("the broker nacked message %d" % method.delivery_tag)
    outstanding = state["outstanding"]
    if method.multiple:
        outstanding.difference_update([t for t in outstanding if t <= method.delivery_tag])
    else:
        outstanding.discard(method.delivery_tag)
    if not outstanding:
        send_batch()

def on_channel(channel):
    state["channel"] = channel
    channel.confirm_delivery(on_confirm)
    send_batch()

connection = pika.SelectConnection(
    pika.URLParameters(url), on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
    on_close_callback=lambda c, reason: c.ioloop.stop())
connection.ioloop.start()
if not state["done"]:
    raise SystemExit("the connection closed early")
print(state["sent"] - 1)
"""


BARE_MQTT = PAYLOADS + r"""
import sys, threading
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
host, topic = sys.argv[1], sys.argv[3]
port, count, batch = int(sys.argv[2]), int(sys.argv[4]), int(sys.argv[5])
condition = threading.Condition()
state = {"acked": 0, "window": None, "failed": None}

def on_connect(client, userdata, flags, reason_code, properties):
    with condition:
        state["window"] = min(getattr(properties, "ReceiveMaximum", 65535), 1000)
        condition.notify_all()

def on_publish(client, userdata, mid, reason_code, properties):
    with condition:
        state["acked"] += 1
        if reason_code.is_failure:
            state["failed"] = reason_code
        condition.notify_all()

def connected(window):
    made = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bare-" + topic, protocol=mqtt.MQTTv5)
    made.on_connect, made.on_publish = on_connect, on_publish
    made.max_inflight_messages_set(window)  # paho's limit, which it takes only before connecting
    made.connect(host, port, 60, clean_start=True)
    made.loop_start()
    with condition:
        condition.wait_for(lambda: state["window"] is not None, 30)
    return made

probe = connected(20)  # paho ignores the broker's Receive Maximum: read it, then connect with it
probe.disconnect()
probe.loop_stop()
client = connected(state["window"])
sent = 0
for i, (key, value) in enumerate(payloads(count)):
    properties = Properties(PacketTypes.PUBLISH)
    properties.UserProperty = [("kafka.topic", topic), ("kafka.partition", str(i % 4)),
                               ("kafka.offset", str(i // 4)), ("kafka.key", key.decode())]
    client.publish(topic, value, qos=1, properties=properties)
    sent += 1
    if sent % batch == 0 or sent == count:
        with condition:
            if not condition.wait_for(lambda: state["acked"] >= sent, 120) or state["failed"]:
                raise SystemExit("PUBACKs missing or failed: %r" % (state,))
client.disconnect()
client.loop_stop()
print(sent)
"""

BARE_NATS = PAYLOADS + r"""
import asyncio, sys
import nats
url, stream, subject = sys.argv[1:4]
count, batch = int(sys.argv[4]), int(sys.argv[5])

async def main():
    nc = await nats.connect(url)
    js = nc.jetstream()
    pending, acked = [], 0
    for i, (key, value) in enumerate(payloads(count)):
        partition, offset = i % 4, i // 4
        headers = {"Nats-Msg-Id": "%s-%d-%d" % (subject, partition, offset), "Kafka-Topic": subject,
                   "Kafka-Partition": str(partition), "Kafka-Offset": str(offset),
                   "Kafka-Key": key.decode()}
        pending.append(js.publish(subject, value, stream=stream, headers=headers))
        if len(pending) == batch or i == count - 1:
            acked += len(await asyncio.gather(*pending))
            pending = []
    await nc.close()
    return acked

print(asyncio.run(main()))
"""

BARE_REDIS = PAYLOADS + r"""
import sys
import redis
url, stream, count, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
client = redis.Redis.from_url(url)
pipe = client.pipeline(transaction=False)
written = 0
for i, (key, value) in enumerate(payloads(count)):
    pipe.xadd(stream, {"key": key, "value": value, "topic": stream, "partition": i % 4,
                       "offset": i // 4, "timestamp": 1767225600000 + i, "headers": "[]"})
    if (i + 1) % batch == 0 or i == count - 1:
        written += len(pipe.execute())
print(written)
"""

BARE_AMQP = PAYLOADS + r"""
import sys
import proton, proton.utils
url, user, password, queue, count, batch = sys.argv[1:5] + [int(sys.argv[5]), int(sys.argv[6])]

class Queue:
    def apply(self, sender):
        capabilities = sender.target.capabilities
        capabilities.put_array(False, proton.Data.SYMBOL)
        capabilities.enter()
        capabilities.put_symbol(proton.symbol("queue"))
        capabilities.exit()

    def test(self, link):
        return True

connection = proton.utils.BlockingConnection(url, user=user, password=password,
                                             allow_insecure_mechs=True, timeout=60)
link = connection.create_sender(queue, options=Queue()).link
deliveries, accepted = [], 0
for i, (key, value) in enumerate(payloads(count)):
    mid = "%s-%d-%d" % (queue, i % 4, i // 4)
    message = proton.Message(id=mid, durable=True, body=value, correlation_id=key.decode(),
                             properties={"KAFKA_MESSAGE_ID": mid, "_AMQ_DUPL_ID": mid})
    message.inferred = True
    deliveries.append(link.send(message))
    if len(deliveries) == batch or i == count - 1:
        connection.wait(lambda: all(d.remote_state for d in deliveries), timeout=60)
        for delivery in deliveries:
            if delivery.remote_state != proton.Delivery.ACCEPTED:
                raise SystemExit("message not accepted: %r" % delivery.remote_state)
            delivery.settle()
        accepted += len(deliveries)
        deliveries = []
connection.close()
print(accepted)
"""

BARE_STOMP = PAYLOADS + r"""
import sys, threading
import stomp
host, port, user, password, queue = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
count, batch = int(sys.argv[6]), int(sys.argv[7])
condition, receipts, errors = threading.Condition(), set(), []

class Listener(stomp.ConnectionListener):
    def on_receipt(self, frame):
        with condition:
            receipts.add(frame.headers["receipt-id"])
            condition.notify_all()

    def on_error(self, frame):
        with condition:
            errors.append(frame.headers.get("message"))
            condition.notify_all()

connection = stomp.Connection12([(host, port)], auto_content_length=False, auto_decode=False)
connection.set_listener("bare", Listener())
connection.connect(user, password, wait=True)
waiting, confirmed = set(), 0
for i, (key, value) in enumerate(payloads(count)):
    mid = "%s-%d-%d" % (queue, i % 4, i // 4)
    connection.send_frame("SEND", {"destination": "/queue/" + queue, "receipt": mid,
                                   "persistent": "true", "priority": "4", "KAFKA_MESSAGE_ID": mid,
                                   "correlation-id": key.decode(),
                                   "content-length": str(len(value))}, value)
    waiting.add(mid)
    if len(waiting) == batch or i == count - 1:
        with condition:
            if not condition.wait_for(lambda: waiting <= receipts or errors, 60) or errors:
                raise SystemExit("receipts missing: %r" % errors)
            receipts.clear()
        confirmed += len(waiting)
        waiting = set()
connection.disconnect()
print(confirmed)
"""


def _sink(store: str, servers: str, env: dict, name: str, topic: str, keys: dict) -> tuple:
    """Times ``beamconnect run`` of a connector reading ``topic`` as bytes with ``keys``."""
    config = harness.write_properties(store, name, "".join("%s=%s\n" % item for item in {
        "name": name, "topics": topic, "key.converter": BYTES, "value.converter": BYTES,
        "flush.size": FLUSH_SIZE, **keys}.items()))
    return harness.timed_alone([sys.executable, "-m", "pipelines", "run", config,
                                "--bootstrap-servers", servers], env)


def _check(what: str, records: int, **counts: int) -> None:
    if set(counts.values()) != {records}:
        raise SystemExit("%s: %r, expected %d each" % (what, counts, records))


def _committed(servers: str, name: str, topic: str) -> int:
    """The offsets connector ``name`` committed for ``topic``, summed over its partitions."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": servers, "group.id": "connect-" + name})
    try:
        partitions = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], 30)
    finally:
        consumer.close()
    return sum(max(p.offset, 0) for p in partitions)


def bench_kafka(servers: str, topic: str, records: int, store: str, env: dict) -> tuple:
    from confluent_kafka.admin import AdminClient, NewTopic

    bare_topic, sink_topic = topic + "-bare", topic + "-copy"
    admin = AdminClient({"bootstrap.servers": servers})
    for future in admin.create_topics([NewTopic(t, PARTITIONS, 1)
                                       for t in (bare_topic, sink_topic)]).values():
        future.result()
    bare = harness.timed_alone([sys.executable, "-c", BARE_KAFKA, servers, bare_topic,
                                str(records), str(FLUSH_SIZE)], env)
    run = _sink(store, servers, env, "bench-kafka-" + topic, topic, {
        "connector.class": "kafka", "transforms": "route",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": "(.*)", "transforms.route.replacement": "$1-copy"})
    written = _topic_size(servers, sink_topic)
    if written != records:
        raise SystemExit("the Kafka sink wrote %d records, expected %d" % (written, records))
    return bare, run


def bench_kafka_avro(servers: str, topic: str, records: int, store: str, env: dict) -> tuple:
    import json

    from confluent_kafka.admin import AdminClient, NewTopic
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    source, bare_topic, sink_topic = topic + "-avro", topic + "-avro-bare", topic + "-avro-copy"
    admin = AdminClient({"bootstrap.servers": servers})
    for future in admin.create_topics([NewTopic(t, PARTITIONS, 1)  # harness.produce makes source
                                       for t in (bare_topic, sink_topic)]).values():
        future.result()
    with harness.Registry() as registry:
        serialize = AvroSerializer(SchemaRegistryClient({"url": registry.url}), AVRO_SCHEMA)
        context = SerializationContext(source, MessageField.VALUE)
        namespace: dict = {}
        exec(PAYLOADS, namespace)
        harness.produce(servers, source, PARTITIONS, (
            (serialize(json.loads(value), context), i % PARTITIONS)
            for i, (_, value) in enumerate(namespace["payloads"](records))))
        bare = harness.timed_alone([sys.executable, "-c", BARE_KAFKA_AVRO, servers, bare_topic,
                                    str(records), str(FLUSH_SIZE), registry.url, AVRO_SCHEMA], env)
        run = _sink(store, servers, env, "bench-kafka-avro-" + topic, source, {
            "connector.class": "kafka", "transforms": "route",
            "value.converter": "io.confluent.connect.avro.AvroConverter",
            "value.converter.schema.registry.url": registry.url,
            "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
            "transforms.route.regex": "(.*)", "transforms.route.replacement": "$1-copy",
            "kafka.value.format": "avro", "kafka.value.format.schema.registry.url": registry.url})
    written = _topic_size(servers, sink_topic)
    if written != records:
        raise SystemExit("the Kafka sink wrote %d Avro records, expected %d" % (written, records))
    return bare, run


def bench_rabbitmq(servers: str, topic: str, records: int, store: str, env: dict) -> tuple:
    import pika

    from tests.servers.rabbitmq import RabbitMQServer

    with RabbitMQServer() as server:
        broker = server.broker
        connection = pika.BlockingConnection(pika.URLParameters(broker.url))
        for queue in ("bare", "sink"):
            connection.channel().queue_declare(queue, durable=True)
        connection.close()
        bare = harness.timed_alone([sys.executable, "-c", BARE_RABBITMQ, broker.url, "bare",
                                    str(records), str(RABBIT_BATCH)], env)
        run = _sink(store, servers, env, "bench-rabbitmq-" + topic, topic, {
            "connector.class": "io.confluent.connect.rabbitmq.sink.RabbitMQSinkConnector",
            "rabbitmq.host": broker.host, "rabbitmq.port": broker.port,
            "rabbitmq.username": broker.user, "rabbitmq.password": broker.password,
            "rabbitmq.virtual.host": broker.vhost, "rabbitmq.exchange": "",
            "rabbitmq.routing.key": "sink", "rabbitmq.delivery.mode": "PERSISTENT",
            "rabbitmq.forward.kafka.key": "true", "rabbitmq.publish.max.batch.size": RABBIT_BATCH})
        connection = pika.BlockingConnection(pika.URLParameters(broker.url))  # idle ones time out
        channel = connection.channel()
        counts = {q: channel.queue_declare(q, durable=True, passive=True).method.message_count
                  for q in ("bare", "sink")}
        connection.close()
    if counts != {"bare": records, "sink": records}:
        raise SystemExit("the queues hold %r messages, expected %d each" % (counts, records))
    return bare, run


def bench_mqtt(servers: str, topic: str, records: int, store: str, env: dict) -> tuple:
    from tests.servers.mosquitto import LocalMosquitto

    with LocalMosquitto() as server:
        bare = harness.timed_alone([sys.executable, "-c", BARE_MQTT, server.host, str(server.port),
                                    "bare-" + topic, str(records), str(BATCH)], env)
        name = "bench-mqtt-" + topic
        run = _sink(store, servers, env, name, topic, {
            "connector.class": "io.confluent.connect.mqtt.MqttSinkConnector",
            "mqtt.server.uri": server.url})
    _check("PUBACKed records", records, bare=int(bare[2]), sink=_committed(servers, name, topic))
    return bare, run


def bench_nats(servers: str, topic: str, records: int, store: str, env: dict) -> tuple:
    import asyncio

    import nats

    from tests.servers.nats import LocalNats

    async def streams(url: str, add: bool) -> dict:
        nc = await nats.connect(url)
        try:
            js, counts = nc.jetstream(), {}
            for stream in ("BARE", "SINK"):
                if add:
                    await js.add_stream(name=stream, subjects=["%s.%s" % (stream.lower(), topic)])
                counts[stream] = (await js.stream_info(stream)).state.messages
            return counts
        finally:
            await nc.close()

    with LocalNats() as server:
        asyncio.run(streams(server.url, True))
        bare = harness.timed_alone([sys.executable, "-c", BARE_NATS, server.url, "BARE",
                                    "bare." + topic, str(records), str(BATCH)], env)
        name = "bench-nats-" + topic
        run = _sink(store, servers, env, name, topic, {
            "connector.class": "nats", "nats.servers": server.url,
            "nats.subject": "sink." + topic, "nats.stream": "SINK",
            "nats.publish.max.batch.size": BATCH})
        counts = asyncio.run(streams(server.url, False))
    _check("stream messages and committed offsets", records, bare=counts["BARE"],
           sink=counts["SINK"], committed=_committed(servers, name, topic))
    return bare, run


def bench_redis(servers: str, topic: str, records: int, store: str, env: dict) -> tuple:
    import redis

    from tests.servers.redis import LocalRedis

    with LocalRedis() as server:
        bare = harness.timed_alone([sys.executable, "-c", BARE_REDIS, server.url, "bare",
                                    str(records), str(BATCH)], env)
        name = "bench-redis-" + topic
        run = _sink(store, servers, env, name, topic, {
            "connector.class": "redis", "redis.uri": server.url})
        client = redis.Redis.from_url(server.url)
        counts = {"bare": client.xlen("bare"), "sink": client.xlen(topic)}
    _check("stream entries and committed offsets", records,
           committed=_committed(servers, name, topic), **counts)
    return bare, run


def bench_activemq(servers: str, topic: str, records: int, store: str, env: dict,
                   protocol: str = "amqp") -> tuple:
    """(a) and (b) each into a new Artemis: one holding (a)'s messages would page (b)'s sooner."""
    from tests.servers.activemq import ArtemisServer

    # Artemis pages an address's messages to disk past global-max-size (half its heap by default);
    # on its test heap of 512 MiB, 200,000 queued AMQP messages ran it out of memory first.
    options = ["--global-max-size", "64M"]
    with ArtemisServer(options) as server:
        broker = server.broker
        if protocol == "amqp":
            bare_cmd = [BARE_AMQP, broker.url("amqp"), broker.user, broker.password, "bare"]
        else:
            bare_cmd = [BARE_STOMP, broker.host, str(broker.stomp_port), broker.user,
                        broker.password, "bare"]
        bare = harness.timed_alone([sys.executable, "-c", *bare_cmd, str(records), str(BATCH)], env)
    name = "bench-activemq-%s-%s" % (protocol, topic)
    with ArtemisServer(options) as server:
        broker = server.broker
        run = _sink(store, servers, env, name, topic, {
            "connector.class": "io.confluent.connect.jms.ActiveMqSinkConnector",
            "activemq.url": broker.url(protocol), "activemq.username": broker.user,
            "activemq.password": broker.password, "jms.destination.name": "sink",
            "jms.message.format": "bytes", "jms.forward.kafka.key": "true",
            "activemq.publish.batch.size": BATCH})
    _check("confirmed records", records, bare=int(bare[2]), sink=_committed(servers, name, topic))
    return bare, run


def _topic_size(servers: str, topic: str) -> int:
    """Records of ``topic`` a read_committed reader sees (end offsets minus transaction markers)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": servers, "group.id": "bench-count",
                         "isolation.level": "read_committed", "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    seen, done = 0, set()
    deadline = time.monotonic() + 300
    try:
        while len(done) < PARTITIONS and time.monotonic() < deadline:
            for message in consumer.consume(10_000, 1.0):
                if message.error() is None:
                    seen += 1
                elif message.error().code() == message.error()._PARTITION_EOF:
                    done.add(message.partition())
    finally:
        consumer.close()
    return seen


def report(kind: str, what: str, records: int, bare: tuple, run: tuple) -> None:
    (bare_wall, bare_mem, _), (run_wall, run_mem, _) = bare, run
    bare_rate, run_rate = records / bare_wall, records / run_wall
    print("%s (a) bare %s: %10.0f records/s  (%.2fs, peak %.0f MiB)"
          % (kind, what, bare_rate, bare_wall, bare_mem))
    print("%s (b) beamconnect: %10.0f records/s  (%.2fs, peak %.0f MiB)"
          % (kind, run_rate, run_wall, run_mem))
    print("%s ratio b/a: %.2f" % (kind, run_rate / bare_rate), flush=True)


#: target: (the bare client in the report, how to benchmark it).
BENCHES = {
    "kafka": ("transactional producer", bench_kafka),
    "kafka-avro": ("transactional producer with AvroSerializer", bench_kafka_avro),
    "rabbitmq": ("pika publisher with confirms", bench_rabbitmq),
    "mqtt": ("paho QoS 1 publisher", bench_mqtt),
    "nats": ("nats-py JetStream publisher", bench_nats),
    "redis": ("redis-py pipelined XADD", bench_redis),
    "activemq": ("proton AMQP sender to Artemis", bench_activemq),
    "activemq-stomp": ("stomp.py with receipts to Artemis",
                       lambda *args: bench_activemq(*args, protocol="stomp")),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--only", type=lambda text: text.split(","), default=list(TARGETS),
                        help="targets, comma-separated: %s" % ",".join(TARGETS))
    args = parser.parse_args()
    unknown = sorted(set(args.only) - set(TARGETS))
    if unknown:
        parser.error("unknown targets %s; the targets are %s" % (",".join(unknown), ",".join(TARGETS)))

    from pipelines.dev_kafka import LocalKafka

    broker = LocalKafka().start()
    try:
        servers = broker.bootstrap_servers
        topic = "bench-%s" % uuid.uuid4().hex[:8]
        t0 = time.perf_counter()
        harness.produce_payloads(servers, topic, PARTITIONS, PAYLOADS, args.records)
        print("produced %d records to %s in %.1fs" % (args.records, topic, time.perf_counter() - t0),
              flush=True)
        env = {**os.environ, "PYTHONPATH": ROOT, "NO_GCE_CHECK": "true"}
        with tempfile.TemporaryDirectory() as store:
            for kind in TARGETS:
                if kind in args.only:
                    what, bench = BENCHES[kind]
                    bare, run = bench(servers, topic, args.records, store, env)
                    report(kind, what, args.records, bare, run)
    finally:
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
