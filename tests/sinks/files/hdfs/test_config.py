"""The HDFS connector's keys: which store and names they give, what is refused, and what is never
shown. No server needed."""

import re
import sys
import types

import pytest

from common.errors import ConfigError
from pipelines.config.connector import parse_connector_config
from sinks import find_sink
from sinks.files.formats import AvroFormat, ByteArrayFormat, ParquetFormat
from sinks.files.hdfs import HdfsSink, HdfsSinkConfig
from sinks.files.naming import RangeNaming, StartOffsetNaming, make_naming, temp_name
from sinks.files.storage import HdfsStorage, storage_for
from sinks.files.storage.hadoop import read_conf_dir, webhdfs_addresses
from sinks.files.storage.hdfs import KerberosLogin
from tests.sinks.files.test_storage import values

HDFS3 = "io.confluent.connect.hdfs3.Hdfs3SinkConnector"
HDFS2 = "io.confluent.connect.hdfs.HdfsSinkConnector"


def connector(**keys):
    raw = {"name": "archive", "connector.class": HDFS3, "topics": "orders", "flush.size": "100",
           "hdfs.url": "hdfs://namenode:8020", "bootstrap.servers": "127.0.0.1:9092"}
    raw.update(keys)
    return parse_connector_config({k: v for k, v in raw.items() if v is not None})


def site(directory, name, properties):
    body = "".join("<property><name>%s</name><value>%s</value></property>" % p for p in properties.items())
    (directory / name).write_text("<?xml version='1.0'?><configuration>%s</configuration>" % body)
    return str(directory)


# Names.

def test_the_hdfs_connectors_names_hold_first_and_last_offset():
    naming = RangeNaming()

    assert naming.name("orders", 3, 40, 49, ".avro") == "orders+3+0000000040+0000000049.avro"
    assert naming.name("orders", 3, 40, 49, ".snappy.parquet") == "orders+3+0000000040+0000000049.parquet"
    assert naming.name("a.b-c", 0, 7, 8, ".txt") == "a.b-c+0+0000000007+0000000008.txt"
    assert RangeNaming(pad=3).name("t", 1, 5, 12345, ".json") == "t+1+005+12345.json"
    assert naming.parse("orders+3+0000000040+0000000049.parquet") == ("orders", 3, 40, 49, ".parquet")
    assert naming.parse("orders+3+0000000040+0000000049.parquet").end_offset == 49
    assert naming.parse("orders+3+0000000040.parquet") is None  # the S3 sink's name
    assert naming.parse("orders+3+0000000049+0000000040.avro") is None
    assert naming.parse_temp(temp_name("t+0+0000000000+0000000009.avro", "abc")) == ("t", 0, 0, 9, ".avro")
    assert naming.prefix("t", 0, 20) == "t+0+0000000020"


def test_the_s3_sinks_names_are_the_default():
    naming = make_naming("start", pad=4, delim="_")

    assert naming.name("t", 2, 5, 9, ".json") == "t_2_0005.json"
    assert naming.parse("t_2_0005.json") == ("t", 2, 5, ".json")
    assert type(connector(**{"connector.class": "files", "hdfs.url": None,
                             "store.url": "/tmp/x", "format.class": "json"}).sink_config.naming) \
        is StartOffsetNaming


# The connector classes.

@pytest.mark.parametrize("name", [HDFS3, HDFS2, "hdfs"])
def test_the_hdfs_connector_classes_are_one_sink(name):
    sink = find_sink(name)

    assert isinstance(sink, HdfsSink) and sink is find_sink(HDFS3)
    assert sink.commits_offsets
    assert not find_sink("files").commits_offsets


def test_a_confluent_hdfs3_config_runs_as_written():
    config = connector(**{"logs.dir": "/logs", "hadoop.home": "/opt/hadoop", "hive.integration": "false",
                          "partitioner.class": "io.confluent.connect.storage.partitioner.DefaultPartitioner",
                          "storage.class": "io.confluent.connect.hdfs3.storage.HdfsStorage",
                          "filename.offset.zero.pad.width": "12", "rotate.interval.ms": "60000",
                          "kerberos.ticket.renew.period.ms": "3600000", "shutdown.timeout.ms": "3000"})
    sink = config.sink_config

    assert isinstance(sink, HdfsSinkConfig) and sink.recovers
    assert isinstance(sink.format, AvroFormat)  # the HDFS connector's default format
    assert sink.naming == RangeNaming(pad=12)
    assert isinstance(sink.storage, HdfsStorage) and sink.storage.url == "hdfs://namenode:8020"
    assert any(w.startswith("logs.dir is accepted but has no effect here: no write-ahead log is kept")
               for w in config.warnings)


@pytest.mark.parametrize("name, kind, extension", [
    ("io.confluent.connect.hdfs3.avro.AvroFormat", AvroFormat, ".avro"),
    ("io.confluent.connect.hdfs3.parquet.ParquetFormat", ParquetFormat, ".parquet"),
    ("io.confluent.connect.hdfs.parquet.ParquetFormat", ParquetFormat, ".parquet"),
    ("io.confluent.connect.hdfs3.string.StringFormat", ByteArrayFormat, ".txt"),
    ("io.confluent.connect.hdfs.json.JsonFormat", type(None), ".json"),
])
def test_the_hdfs_connectors_format_classes(name, kind, extension):
    sink = connector(**{"format.class": name}).sink_config

    assert kind is type(None) or isinstance(sink.format, kind)
    assert sink.naming.extension(sink.format.extension) == extension


def test_the_hdfs2_partitioner_class_names_are_accepted():
    sink = connector(**{"connector.class": HDFS2,
                        "partitioner.class": "io.confluent.connect.hdfs.partitioner.FieldPartitioner",
                        "partition.field.name": "country"}).sink_config

    assert sink.partitioner.partition_directory("orders", 0) is None
    assert not sink.recovers  # a window's records go to several files: the group's offsets decide


def test_names_do_not_decide_with_a_topic_router():
    sink = connector(**{"transforms": "route",
                        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
                        "transforms.route.regex": "(.*)", "transforms.route.replacement": "$1-copy"}
                     ).sink_config

    assert not sink.recovers
    assert HdfsSink().stored_offsets(sink, [("orders", 0)]) == {}


@pytest.mark.parametrize("keys, message", [
    ({"hive.integration": "true"}, "hive.integration=true: Hive tables are not created or updated here; "
                                   "set it to false"),
    ({"topic.capture.groups.regex": "(.*)_(.*)"}, "topic.capture.groups.regex='(.*)_(.*)': topics.dir "
                                                  "takes no ${n} substitutions here"),
    ({"topics.dir": "data/${topic}"}, "topics.dir='data/${topic}': ${topic} and ${n} substitutions are "
                                      "not supported"),
    ({"file.delim": "_"}, "file.delim='_': the HDFS connector's names always use '+'"),
    ({"format.class": "io.confluent.connect.hdfs3.orc.OrcFormat"},
     "format.class=io.confluent.connect.hdfs3.orc.OrcFormat: ORC files are not written here"),
    ({"store.url": "hdfs://other:8020"},
     "set hdfs.url or store.url, not both (hdfs.url='hdfs://namenode:8020', store.url='hdfs://other:8020'); "
     "store.url is the newer name"),
    ({"hdfs.url": "s3://bucket"},
     "hdfs.url must be an hdfs://, webhdfs:// or swebhdfs:// URL, got 's3://bucket'"),
    ({"hdfs.url": "hdfs:///data"}, "hdfs.url='hdfs:///data' names no namenode: write hdfs://namenode:8020, "
                                   "or set hadoop.conf.dir"),
    ({"s3.bucket.name": "b"}, "set hdfs.url (or an hdfs:// store.url) or s3.bucket.name, not both"),
    ({"storage.class": "io.confluent.connect.s3.storage.S3Storage"},
     "storage.class=io.confluent.connect.s3.storage.S3Storage is a S3 store, but the store's keys name a "
     "HDFS store"),
    ({"hdfs.url": None, "store.url": "/tmp/out", "hadoop.conf.dir": "/etc/hadoop"},
     "hadoop.conf.dir applies only to HDFS stores; this connector writes to /tmp/out"),
    ({"hdfs.url": None, "store.url": "/tmp/out", "hdfs.authentication.kerberos": "true"},
     "hdfs.authentication.kerberos applies only to HDFS stores; this connector writes to /tmp/out"),
    ({"hdfs.authentication.kerberos": "true", "connect.hdfs.principal": "connect@LAKE"},
     "hdfs.authentication.kerberos=true needs both connect.hdfs.principal and connect.hdfs.keytab"),
    ({"connect.hdfs.keytab": "/k"}, "connect.hdfs.keytab applies with hdfs.authentication.kerberos=true, "
                                    "which is not set"),
])
def test_refused_keys_and_combinations(keys, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        connector(**keys)


# Store URLs and the Hadoop configuration directory.

def test_url_forms():
    assert storage_for(values(hdfs_url="hdfs://nn:8020/base/")).namenodes == ("http://nn:9870",)
    hdfs = storage_for(values(store_url="hdfs://nn/base"))
    assert (hdfs.url, hdfs.root, hdfs.path("topics")) == ("hdfs://nn/base", "/base", "hdfs://nn/base/topics")
    web = storage_for(values(hdfs_url="webhdfs://gateway:14000"))
    assert (web.namenodes, web.root, web.path("t")) == (("http://gateway:14000",), "/",
                                                         "webhdfs://gateway:14000/t")
    assert storage_for(values(hdfs_url="swebhdfs://gateway")).namenodes == ("https://gateway:9871",)


def test_the_conf_dir_gives_the_namenode_and_its_webhdfs_address(tmp_path):
    site(tmp_path, "core-site.xml", {"fs.defaultFS": "hdfs://nn.lake:8020"})
    site(tmp_path, "hdfs-site.xml", {"dfs.namenode.http-address": "0.0.0.0:50070"})

    store = storage_for(values(hdfs_url="hdfs:///kafka", hadoop_conf_dir=str(tmp_path)))

    assert (store.url, store.root, store.namenodes) == ("hdfs://nn.lake:8020/kafka", "/kafka",
                                                        ("http://nn.lake:50070",))


def test_https_only_and_ha_nameservices(tmp_path):
    conf = {"dfs.http.policy": "HTTPS_ONLY", "dfs.nameservices": "lake,other",
            "dfs.ha.namenodes.lake": "nn1, nn2", "dfs.namenode.https-address.lake.nn1": "a:9871",
            "dfs.namenode.https-address.lake.nn2": "b:9871"}

    assert webhdfs_addresses("lake", conf) == ["https://a:9871", "https://b:9871"]
    assert webhdfs_addresses("single", conf) == ["https://single:9871"]
    with pytest.raises(ConfigError, match=re.escape(
            "hadoop.conf.dir: nameservice other has no dfs.namenode.https-address.other")):
        webhdfs_addresses("other", conf)
    with pytest.raises(ConfigError, match=re.escape(
            "hadoop.conf.dir: dfs.namenode.http-address must be HOST:PORT, got 'nn'")):
        webhdfs_addresses("nn", {"dfs.namenode.http-address": "nn"})


def test_hdfs_site_wins_over_core_site_and_bad_files_are_named(tmp_path):
    site(tmp_path, "core-site.xml", {"a": "core", "b": "core"})
    site(tmp_path, "hdfs-site.xml", {"b": "hdfs"})
    assert read_conf_dir(str(tmp_path)) == {"a": "core", "b": "hdfs"}

    with pytest.raises(ConfigError, match=re.escape(
            "hadoop.conf.dir=%r holds neither core-site.xml nor hdfs-site.xml" % str(tmp_path / "none"))):
        read_conf_dir(str(tmp_path / "none"))
    (tmp_path / "hdfs-site.xml").write_text("<configuration><property>")
    with pytest.raises(ConfigError, match=re.escape(
            "hadoop.conf.dir: %s is not a Hadoop configuration file" % (tmp_path / "hdfs-site.xml"))):
        read_conf_dir(str(tmp_path))


def test_libhdfs_is_used_for_hdfs_urls_when_it_is_found(tmp_path, monkeypatch):
    monkeypatch.delenv("ARROW_LIBHDFS_DIR", raising=False)
    monkeypatch.delenv("HADOOP_HOME", raising=False)
    assert storage_for(values(hdfs_url="hdfs://nn:8020", hadoop_home=str(tmp_path))).native is None

    (tmp_path / "lib" / "native").mkdir(parents=True)
    (tmp_path / "lib" / "native" / "libhdfs.so").write_bytes(b"")
    site(tmp_path, "hdfs-site.xml", {"dfs.replication": "2"})
    native = storage_for(values(hdfs_url="hdfs://nn:8020", hadoop_home=str(tmp_path),
                                hadoop_conf_dir=str(tmp_path))).native

    assert (native.host, native.port, native.libhdfs_dir) == ("nn", 8020, str(tmp_path / "lib" / "native"))
    assert dict(native.conf) == {"dfs.replication": "2"}
    assert storage_for(values(hdfs_url="webhdfs://nn:9870", hadoop_home=str(tmp_path))).native is None


# Kerberos and what is never shown.

def test_kerberos_logs_in_from_the_keytab_through_an_installed_client(monkeypatch):
    for name in ("gssapi", "requests_gssapi"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    store = storage_for(values(hdfs_url="hdfs://nn:8020", hdfs_authentication_kerberos="true",
                               connect_hdfs_principal="connect/host@LAKE",
                               connect_hdfs_keytab="/etc/k.keytab",
                               hdfs_namenode_principal="nn/_HOST@LAKE"))

    assert store.kerberos == KerberosLogin("connect/host@LAKE", "/etc/k.keytab", "nn/_HOST@LAKE")
    assert store.user is None  # SPNEGO says who the client is, not user.name


def test_kerberos_without_a_client_library_names_what_to_install(monkeypatch):
    for name in ("gssapi", "requests_gssapi", "requests_kerberos"):
        monkeypatch.setitem(sys.modules, name, None)  # an import of it fails

    with pytest.raises(ConfigError, match=re.escape(
            "hdfs.authentication.kerberos=true needs a Kerberos client for WebHDFS: install it with pip "
            "install 'beamconnect[hdfs-kerberos]' (requests-gssapi), or requests-kerberos")):
        connector(**{"hdfs.authentication.kerberos": "true", "connect.hdfs.principal": "p@LAKE",
                     "connect.hdfs.keytab": "/k"})


def test_the_user_is_hadoop_user_name(monkeypatch):
    monkeypatch.setenv("HADOOP_USER_NAME", "etl")
    assert storage_for(values(hdfs_url="hdfs://nn:8020")).user == "etl"


def test_the_consumers_secrets_are_never_shown():
    config = connector(**{"consumer.override.sasl.password": "s3cr3t-pw",
                          "consumer.override.security.protocol": "SASL_SSL",
                          "consumer.override.sasl.mechanism": "PLAIN",
                          "consumer.override.sasl.username": "u"})

    assert config.sink_config.group_settings["sasl.password"] == "s3cr3t-pw"
    assert "s3cr3t-pw" not in repr(config.sink_config)
