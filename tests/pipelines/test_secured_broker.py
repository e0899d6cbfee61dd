"""Connectors against a secured broker: SASL_SSL (SCRAM-SHA-512, PLAIN), mTLS and ACLs.

Every test is a real ``python -m pipelines run`` with the Java client keys users write
(``consumer.override.security.protocol``, ``sasl.jaas.config``...) against the ``secured_kafka``
broker (tests/pipelines/conftest.py), whose authorizer allows nothing an ACL does not.
"""

import glob
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

import pyarrow.parquet as pq
import pytest
from confluent_kafka import Consumer, TopicPartition

from common.errors import ConfigError
from pipelines.config.consumer import translate
from pipelines.processes import free_ports
from tests.helpers import ROOT, cli_env, json_files_config, run_cli, start_cli, write_config

COUNT = 25


# Java's PEM stores as librdkafka settings (pure translation; the runs below use them on a broker).

def test_java_pem_stores_become_librdkafka_pem_settings():
    settings, warnings = translate({
        "ssl.truststore.type": "PEM", "ssl.truststore.location": "/creds/ca.pem",
        "ssl.keystore.type": "pem", "ssl.keystore.location": "/creds/client.pem",
        "ssl.key.password": "k"})

    assert settings == {"ssl.ca.location": "/creds/ca.pem", "ssl.certificate.location": "/creds/client.pem",
                        "ssl.key.location": "/creds/client.pem", "ssl.key.password": "k"}
    assert warnings == []


def test_java_inline_pem_keys_become_librdkafka_pem_strings():
    settings, _ = translate({"ssl.keystore.type": "PEM", "ssl.truststore.certificates": "CA",
                             "ssl.keystore.certificate.chain": "CHAIN", "ssl.keystore.key": "KEY"},
                            prefix="producer.override.")

    assert settings == {"ssl.ca.pem": "CA", "ssl.certificate.pem": "CHAIN", "ssl.key.pem": "KEY"}


@pytest.mark.parametrize("overrides, message", [
    ({"ssl.truststore.type": "JKS", "ssl.truststore.location": "/creds/truststore.jks"},
     "consumer.override.ssl.truststore.type is a Java key store setting; librdkafka reads PEM files: "
     "use consumer.override.ssl.ca.location (a PEM file) instead, or "
     "consumer.override.ssl.truststore.type=PEM with a PEM truststore"),
    ({"ssl.keystore.type": "PEM", "ssl.keystore.location": "/k.pem", "ssl.keystore.password": "s3cret"},
     "consumer.override.ssl.keystore.password cannot be set with consumer.override.ssl.keystore.type=PEM "
     "(a PEM store has no password; an encrypted key's is consumer.override.ssl.key.password)"),
    ({"ssl.truststore.type": "PEM", "ssl.truststore.location": "/a.pem", "ssl.ca.location": "/b.pem"},
     "set one of consumer.override.ssl.truststore.location and consumer.override.ssl.ca.location, "
     "they name the same PEM"),
])
def test_other_key_stores_and_conflicting_pem_settings_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        translate(overrides)
    assert "s3cret" not in str(info.value)


def _records(count=COUNT):
    return [(b"k%d" % i, json.dumps({"id": i, "name": "n%d" % i}).encode()) for i in range(count)]


def _rows(store, topic):
    rows = []
    for path in sorted(glob.glob(os.path.join(str(store), "topics", topic, "partition=*", "*.parquet"))):
        rows.extend(pq.read_table(path).to_pylist())
    return rows


def _written(store):
    return [p for p in glob.glob(os.path.join(str(store), "**", "*"), recursive=True) if os.path.isfile(p)]


def _setup(secured_kafka, tmp_path, servers, overrides, principal=None, acls=True):
    """A topic with COUNT records and a connector config reading it through ``servers``."""
    name = "sec-%s" % uuid.uuid4().hex[:8]
    topic = secured_kafka.admin.topic(prefix="sec")
    secured_kafka.admin.produce(topic, _records())
    if acls:
        secured_kafka.allow_connector(principal, name, topic)
    store = tmp_path / "store"
    config = json_files_config(name, topic, store, **{"bootstrap.servers": servers}, **overrides)
    return name, topic, store, write_config(tmp_path / "connector.json", config)


def _assert_all_written_and_committed(secured_kafka, result, name, topic, store):
    assert result.returncode == 0, result.stderr[-3000:]
    rows = _rows(store, topic)
    assert [r["id"] for r in rows] == list(range(COUNT))
    assert [r["name"] for r in rows] == ["n%d" % i for i in range(COUNT)]
    assert secured_kafka.admin.committed("connect-%s" % name, topic, 1) == {0: COUNT}


def test_sasl_ssl_with_scram_sha_512_writes_every_record_and_commits(secured_kafka, tmp_path):
    name, topic, store, path = _setup(secured_kafka, tmp_path, secured_kafka.listeners.scram_servers,
                                      secured_kafka.scram_overrides("alice"), "User:alice")

    result = run_cli("run", path)

    _assert_all_written_and_committed(secured_kafka, result, name, topic, store)


def test_sasl_ssl_with_plain_and_a_java_pem_trust_store_writes_every_record_and_commits(
        secured_kafka, tmp_path):
    overrides = secured_kafka.plain_overrides("bob")
    del overrides["consumer.override.ssl.ca.location"]
    overrides.update({"consumer.override.ssl.truststore.type": "PEM",
                      "consumer.override.ssl.truststore.location": secured_kafka.listeners.ca_location})
    name, topic, store, path = _setup(secured_kafka, tmp_path, secured_kafka.listeners.plain_servers,
                                      overrides, "User:bob")

    result = run_cli("run", path)

    _assert_all_written_and_committed(secured_kafka, result, name, topic, store)


def test_mtls_with_a_client_certificate_writes_every_record_and_commits(secured_kafka, tmp_path):
    name, topic, store, path = _setup(secured_kafka, tmp_path, secured_kafka.listeners.ssl_servers,
                                      secured_kafka.certificate_overrides("carol"), "User:carol")

    result = run_cli("run", path)

    _assert_all_written_and_committed(secured_kafka, result, name, topic, store)


def test_mtls_with_java_pem_key_and_trust_stores_writes_every_record_and_commits(
        secured_kafka, tmp_path):
    """The Java keys of a PEM key store (one file: private key, then certificate) and trust store."""
    certificate, key = secured_kafka.listeners.certificates["carol"]
    keystore = tmp_path / "carol-keystore.pem"
    keystore.write_bytes(open(key, "rb").read() + open(certificate, "rb").read())
    overrides = {"consumer.override.security.protocol": "SSL",
                 "consumer.override.ssl.truststore.type": "PEM",
                 "consumer.override.ssl.truststore.location": secured_kafka.listeners.ca_location,
                 "consumer.override.ssl.keystore.type": "PEM",
                 "consumer.override.ssl.keystore.location": str(keystore)}
    name, topic, store, path = _setup(secured_kafka, tmp_path, secured_kafka.listeners.ssl_servers,
                                      overrides, "User:carol")

    result = run_cli("run", path)

    _assert_all_written_and_committed(secured_kafka, result, name, topic, store)


def test_without_a_client_certificate_the_ssl_listener_refuses_the_run(secured_kafka, tmp_path):
    """Client certificates are required on the SSL listener: without one the run cannot connect."""
    overrides = secured_kafka.certificate_overrides("carol")
    del overrides["consumer.override.ssl.certificate.location"]
    del overrides["consumer.override.ssl.key.location"]
    name, topic, store, path = _setup(secured_kafka, tmp_path, secured_kafka.listeners.ssl_servers,
                                      overrides, "User:carol")

    result = run_cli("run", path)

    assert result.returncode == 1
    assert "could not reach Kafka at bootstrap.servers=%s" % secured_kafka.listeners.ssl_servers in (
        " ".join(result.stderr.split()))
    assert _written(store) == []


# A principal that may not do what a connector needs: exit 1, the ACL named, nothing written or
# committed. dave is a SCRAM user with only the ACLs each test gives.

def _run_denied(secured_kafka, tmp_path, acls, extra=None, records=None):
    name = "den-%s" % uuid.uuid4().hex[:8]
    topic = secured_kafka.admin.topic(prefix="den")
    secured_kafka.admin.produce(topic, records or _records())
    group = "connect-%s" % name
    for resource_type, resource, *operations in acls:
        secured_kafka.allow("User:dave", resource_type, resource.format(topic=topic, group=group),
                            *operations)
    store = tmp_path / "store"
    config = json_files_config(name, topic, store, **{
        "bootstrap.servers": secured_kafka.listeners.scram_servers},
        **secured_kafka.scram_overrides("dave"), **(extra or {}))
    result = run_cli("run", write_config(tmp_path / "connector.json", config))
    assert result.returncode == 1, result.stderr[-3000:]
    assert _written(store) == []
    assert secured_kafka.admin.committed(group, topic, 1) == {0: -1001}
    return topic, group, " ".join(result.stderr.split())  # the CLI wraps long error lines


def test_no_acl_on_the_topic_names_the_topic_acl(secured_kafka, tmp_path):
    topic, _, err = _run_denied(secured_kafka, tmp_path, [
        ("GROUP", "{group}", "READ"), ("GROUP", "{group}.running", "READ")])

    assert ("error: topic %r on bootstrap.servers=%s is not authorized (TOPIC_AUTHORIZATION_FAILED); "
            "User:dave needs an ALLOW ACL for READ and DESCRIBE on TOPIC %s"
            % (topic, secured_kafka.listeners.scram_servers, topic)) in err


def test_describe_without_read_on_the_topic_names_the_read_acl(secured_kafka, tmp_path):
    topic, _, err = _run_denied(secured_kafka, tmp_path, [
        ("TOPIC", "{topic}", "DESCRIBE"), ("GROUP", "{group}", "READ"),
        ("GROUP", "{group}.running", "READ")])

    assert "error: reading topic=%s partition=0 failed:" % topic in err
    assert "code=TOPIC_AUTHORIZATION_FAILED" in err
    assert "User:dave needs an ALLOW ACL for READ on TOPIC %s" % topic in err


def test_no_read_on_the_group_names_the_group_acl(secured_kafka, tmp_path):
    _, group, err = _run_denied(secured_kafka, tmp_path, [
        ("TOPIC", "{topic}", "READ", "DESCRIBE"), ("GROUP", "{group}.running", "READ")])

    assert "error: could not read committed offsets of group.id=%s:" % group in err
    assert ("(GROUP_AUTHORIZATION_FAILED); User:dave needs an ALLOW ACL for READ on GROUP %s" % group
            in err)


def test_no_read_on_the_run_lease_group_is_a_warning_naming_it(secured_kafka, tmp_path):
    """The lease only guards against a second run at once: the run goes on, and says so."""
    name, topic, store, path = _setup(secured_kafka, tmp_path, secured_kafka.listeners.scram_servers,
                                      secured_kafka.scram_overrides("dave"), acls=False)
    secured_kafka.allow("User:dave", "TOPIC", topic, "READ", "DESCRIBE")
    secured_kafka.allow("User:dave", "GROUP", "connect-%s" % name, "READ")

    result = run_cli("run", path)

    _assert_all_written_and_committed(secured_kafka, result, name, topic, store)
    assert ("WARNING pipelines.offsets: the run lease cannot join group.id=connect-%s.running "
            "(GROUP_AUTHORIZATION_FAILED); User:dave needs an ALLOW ACL for READ on GROUP "
            "connect-%s.running" % (name, name)) in result.stderr


def test_no_write_on_the_dead_letter_topic_names_the_write_acl(secured_kafka, tmp_path):
    dlq = "den-dlq-%s" % uuid.uuid4().hex[:8]
    from confluent_kafka.admin import NewTopic

    for future in secured_kafka.admin.admin.create_topics([NewTopic(dlq, 1, 1)]).values():
        future.result()
    records = _records(5) + [(b"bad", b"{not json")]
    _, _, err = _run_denied(secured_kafka, tmp_path, [
        ("TOPIC", "{topic}", "READ", "DESCRIBE"), ("GROUP", "{group}", "READ"),
        ("GROUP", "{group}.running", "READ"), ("TOPIC", dlq, "DESCRIBE")],
        extra={"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq}, records=records)

    assert "error: producing 1 records to topic %s failed:" % dlq in err
    assert ("(CLUSTER_AUTHORIZATION_FAILED); User:dave needs an ALLOW ACL for WRITE on TOPIC %s" % dlq
            in err)


def test_no_create_for_a_missing_dead_letter_topic_names_the_create_acl(secured_kafka, tmp_path):
    dlq = "den-dlq-%s" % uuid.uuid4().hex[:8]
    records = _records(5) + [(b"bad", b"{not json")]
    _, _, err = _run_denied(secured_kafka, tmp_path, [
        ("TOPIC", "{topic}", "READ", "DESCRIBE"), ("GROUP", "{group}", "READ"),
        ("GROUP", "{group}.running", "READ"), ("TOPIC", dlq, "WRITE", "DESCRIBE")],
        extra={"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
               "errors.deadletterqueue.topic.replication.factor": "1"}, records=records)

    assert "error: could not create topic %s (partitions=1, replication.factor=1)" % dlq in err
    assert ("User:dave needs an ALLOW ACL for DESCRIBE (and CREATE, to create it) on TOPIC %s" % dlq
            in err)


# The secret never appears: not in output, files, dead letters, metrics, validate or the Flex launcher.

def _get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as response:
        return response.read().decode()


def _dead_letters(servers, topic, count):
    consumer = Consumer({"bootstrap.servers": servers, "group.id": "read-" + topic,
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    found, deadline = [], time.monotonic() + 60
    try:
        while len(found) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                found.append(message)
    finally:
        consumer.close()
    return found


def test_the_password_never_appears_in_output_files_dead_letters_metrics_validate_or_flex(
        secured_kafka, tmp_path, spawned):
    password = secured_kafka.passwords["alice"]
    name, topic, store, _ = _setup(secured_kafka, tmp_path, secured_kafka.listeners.scram_servers,
                                   {}, "User:alice")
    secured_kafka.admin.produce(topic, [(b"bad", b"{not json")])
    dlq = topic + "-dlq"
    secured_kafka.allow("User:alice", "TOPIC", dlq, "WRITE", "DESCRIBE", "CREATE")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "kafka.properties").write_text("password=%s\n" % password)
    overrides = {
        **secured_kafka.scram_overrides("alice"),  # the password written in sasl.jaas.config
        **secured_kafka.scram_overrides("alice", prefix="producer.override."),
        "producer.override.sasl.jaas.config":  # ... and the dead-letter producer's from a file
            'org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" '
            'password="${file:%s:password}";' % (creds / "kafka.properties"),
        "config.providers": "file", "config.providers.file.param.allowed.paths": str(creds),
        "errors.tolerance": "all", "errors.log.enable": "true",
        "errors.deadletterqueue.topic.name": dlq, "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true"}
    config = json_files_config(name, topic, store, **{
        "bootstrap.servers": secured_kafka.listeners.scram_servers}, **overrides)
    path = write_config(tmp_path / "connector.json", config)
    assert password not in json.dumps(config["producer.override.sasl.jaas.config"])
    port = free_ports(1)[0]

    proc = start_cli("run", path, "-v", "--log-format", "json", "--metrics-port", port,
                     "--mode", "micro-batch", "--interval", "1s", "--no-hold-partial",
                     start_new_session=True)
    spawned.append(proc)
    secured_kafka.admin.wait_committed("connect-%s" % name, topic, {0: COUNT + 1}, proc)
    served = [_get(port, page) for page in ("/metrics", "/status.json", "/")]
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    validated = run_cli("validate", path, "-v", "--check")
    flex_name = name + "-flex"
    secured_kafka.allow_connector("User:alice", flex_name, topic)
    flex = subprocess.run(
        [sys.executable, os.path.join(ROOT, "pipelines", "flex.py"), "--name=" + flex_name,
         "--topics=" + topic, "--key_converter=StringConverter", "--value_converter=JsonConverter",
         "--store_url=%s" % (tmp_path / "flex"), "--format_class=parquet", "--flush_size=10",
         "--bootstrap_servers=" + secured_kafka.listeners.scram_servers, "--max_records=%d" % COUNT,
         "--runner=DirectRunner",
         "--extra_config=" + json.dumps({"value.converter.schemas.enable": "false", **{
             k: v for k, v in overrides.items() if not k.startswith("errors.")}})],
        cwd=ROOT, env={**cli_env(), "BEAMCONNECT_TEMPLATE": os.path.join(ROOT, "templates", "flex",
                                                                          "files")},
        capture_output=True, text=True, timeout=300)

    assert [r["id"] for r in _rows(store, topic)] == list(range(COUNT)), err[-3000:]
    assert len(json.loads(served[1])["partitions"]) == 1
    assert 'connector="%s"' % name in served[0]
    assert validated.returncode == 0, validated.stderr[-3000:]
    assert flex.returncode == 0, flex.stderr[-3000:]
    assert [r["id"] for r in _rows(tmp_path / "flex", topic)] == list(range(COUNT))
    letters = _dead_letters(secured_kafka.admin.servers, dlq, 1)
    assert [m.key() for m in letters] == [b"bad"]
    headers = dict(letters[0].headers())
    assert headers["__connect.errors.offset"] == str(COUNT).encode()
    texts = {"run stdout": out, "run stderr": err, "validate stdout": validated.stdout,
             "validate stderr": validated.stderr, "flex stdout": flex.stdout, "flex stderr": flex.stderr,
             **{"served " + page: body for page, body in zip(("/metrics", "/status.json", "/"), served)}}
    for label, text in texts.items():
        assert password not in text, label
    assert "[hidden]" in err  # -v logs the dead-letter producer's settings, the password hidden
    inputs = {str(path), str(creds / "kafka.properties")}
    for written in _written(tmp_path):
        if written not in inputs:
            with open(written, "rb") as f:
                assert password.encode() not in f.read(), written
    assert letters[0].value() == b"{not json"
    for key, value in letters[0].headers():
        assert password.encode() not in (value or b""), key
