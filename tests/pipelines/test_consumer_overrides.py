import re

import pytest

from pipelines.config.connector import parse_connector_config
from pipelines.config.consumer import translate
from common.errors import ConfigError

JAAS_PLAIN = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="connect" password="s3cr\\"et";')


def test_same_names_pass_through_and_java_names_are_renamed():
    settings, warnings = translate({"security.protocol": "SASL_SSL", "fetch.max.wait.ms": "200",
                                    "receive.buffer.bytes": "65536"})
    assert settings == {"security.protocol": "SASL_SSL", "fetch.wait.max.ms": "200",
                        "socket.receive.buffer.bytes": "65536"}
    assert warnings == []


def test_plain_and_scram_jaas_become_username_and_password():
    assert translate({"sasl.jaas.config": JAAS_PLAIN})[0] == {"sasl.username": "connect",
                                                              "sasl.password": 's3cr"et'}
    scram = ('org.apache.kafka.common.security.scram.ScramLoginModule required username="u" '
             'password="p"')
    assert translate({"sasl.jaas.config": scram})[0] == {"sasl.username": "u", "sasl.password": "p"}


def test_other_jaas_modules_and_missing_password_are_refused_without_showing_secrets():
    with pytest.raises(ConfigError, match=re.escape(
            "consumer.override.sasl.jaas.config must use the PlainLoginModule or the ScramLoginModule")):
        translate({"sasl.jaas.config": "org.apache.kafka.common.security.oauthbearer."
                                       "OAuthBearerLoginModule required;"})
    with pytest.raises(ConfigError, match=re.escape("needs password")) as info:
        translate({"sasl.jaas.config": 'org.apache.kafka.common.security.plain.PlainLoginModule '
                                       'required username="u";'})
    assert "[hidden]" not in str(info.value) and "u" in str(info.value)


def test_java_key_stores_name_the_pem_setting_to_use():
    with pytest.raises(ConfigError, match=re.escape(
            "consumer.override.ssl.truststore.location is a Java key store setting; librdkafka reads "
            "PEM files: use consumer.override.ssl.ca.location (a PEM file) instead")):
        translate({"ssl.truststore.location": "/etc/kafka/truststore.jks"})


def test_java_only_keys_are_accepted_with_a_warning():
    config = parse_connector_config({
        "name": "c", "connector.class": "files", "topics": "a", "store.url": "/tmp/x",
        "format.class": "parquet", "flush.size": "10",
        "consumer.override.max.poll.interval.ms": "300000",
        "consumer.override.key.deserializer": "org.apache.kafka.common.serialization.ByteArrayDeserializer",
        "consumer.override.sasl.mechanism": "PLAIN",
        "consumer.override.security.protocol": "SASL_PLAINTEXT",
        "consumer.override.sasl.jaas.config": JAAS_PLAIN,
        "consumer.override.ssl.endpoint.identification.algorithm": "",
    }, bootstrap_servers="127.0.0.1:9092")
    assert config.consumer_config["sasl.username"] == "connect"
    assert config.consumer_config["ssl.endpoint.identification.algorithm"] == "none"
    assert "max.poll.interval.ms" not in config.consumer_config
    assert [w.split(" is accepted")[0] for w in config.warnings] == [
        "consumer.override.max.poll.interval.ms", "consumer.override.key.deserializer"]


def test_auto_commit_cannot_be_turned_on():
    with pytest.raises(ConfigError, match=re.escape(
            "consumer.override.enable.auto.commit must be false: offsets are committed only after the "
            "sink has written, got 'true'")):
        parse_connector_config({
            "name": "c", "connector.class": "files", "topics": "a", "store.url": "/tmp/x",
            "format.class": "parquet", "flush.size": "10",
            "consumer.override.enable.auto.commit": "true"}, bootstrap_servers="127.0.0.1:9092")


def test_java_producer_keys_with_other_names_are_renamed():
    settings, warnings = translate({"max.request.size": "2097152", "buffer.memory": "33554432",
                                    "max.block.ms": "60000", "linger.ms": "5"},
                                   prefix="producer.override.")

    assert settings == {"message.max.bytes": "2097152", "queue.buffering.max.kbytes": "32768",
                        "linger.ms": "5"}
    assert warnings == ["producer.override.max.block.ms is accepted but has no effect here: "
                        "librdkafka's produce() never blocks for metadata; message.timeout.ms "
                        "bounds delivery"]


def test_a_consumer_key_of_the_same_name_is_not_renamed():
    assert translate({"max.request.size": "100"})[0] == {"max.request.size": "100"}
