"""Which Azure store the keys name, what they refuse, and that no secret is ever shown."""

import base64
import pickle
import re

import pytest

from common.configdef import Password
from common.errors import ConfigError
from sinks import find_sink
from sinks.files.config import FilesSinkConfig
from sinks.files.formats import JsonLinesFormat, ParquetFormat, make_format
from sinks.files.storage import AzureBlobStorage, storage_for
from sinks.files.storage.azure import DEFAULT_BLOCK_SIZE, STORAGE_CLASS
from tests.sinks.files.test_storage import values

KEY = base64.b64encode(b"k" * 64).decode()
SAS = "sv=2024-11-04&ss=b&srt=co&sp=rwdlac&se=2030-01-01T00:00:00Z&sig=c2VjcmV0LXNpZ25hdHVyZQ%3D%3D"
ACCOUNT_KEYS = {"azblob.account.name": "acct", "azblob.account.key": KEY}
CONNECTION = ("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=%s;EndpointSuffix=core.windows.net"
              % KEY)
AZURITE = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;"
           "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;" % KEY)


def store_for(**keys):
    made = storage_for(values(**keys))
    assert isinstance(made, AzureBlobStorage)
    return made


def azure_values(**keys):
    """Parsed as connector.class=io.confluent.connect.azure.blob.AzureBlobStorageSinkConnector parses them."""
    raw = {"format.class": "io.confluent.connect.azure.blob.format.json.JsonFormat", "flush.size": "10",
           **keys}
    return find_sink("io.confluent.connect.azure.blob.AzureBlobStorageSinkConnector").config_def.parse(raw)


def test_confluents_keys_name_the_container_of_the_account():
    store = store_for(**ACCOUNT_KEYS, **{"azblob.container.name": "archive",
                                        "storage.class": STORAGE_CLASS})

    assert (store.container, store.prefix, store.account) == ("archive", "", "acct")
    assert store.endpoint == "https://acct.blob.core.windows.net"
    assert store.path("topics", "t", "partition=0", "t+0+0000000000.json") == \
        "az://archive/topics/t/partition=0/t+0+0000000000.json"
    assert isinstance(store.account_key, Password)
    assert (store.block_size, store.retry_type, store.retries) == (DEFAULT_BLOCK_SIZE, "EXPONENTIAL", 3)


def test_the_azure_connector_class_writes_to_its_default_container():
    values = azure_values(**ACCOUNT_KEYS)
    store = storage_for(values)

    assert values["storage.class"] == STORAGE_CLASS
    assert (store.container, store.url) == ("default", "az://default")


def test_the_azure_connector_class_and_its_short_name_are_one_sink_apart_from_files():
    azure = find_sink("io.confluent.connect.azure.blob.AzureBlobStorageSinkConnector")

    assert find_sink("azblob") is azure and find_sink("files") is not azure
    assert find_sink("files").config_def["storage.class"].default is None


def test_an_az_url_names_container_and_prefix():
    store = store_for(**ACCOUNT_KEYS, **{"store.url": "az://archive/kafka/raw/"})

    assert (store.container, store.prefix) == ("archive", "kafka/raw")
    assert store.path("topics") == "az://archive/kafka/raw/topics"


@pytest.mark.parametrize("scheme", ["abfs", "abfss"])
def test_an_abfs_url_names_account_container_and_cloud(scheme):
    url = "%s://archive@acct.dfs.core.chinacloudapi.cn/raw" % scheme
    store = store_for(**{"store.url": url, "azblob.account.key": KEY})

    assert (store.container, store.prefix, store.account) == ("archive", "raw", "acct")
    assert store.endpoint == "https://acct.blob.core.chinacloudapi.cn"
    assert store.path("topics", "t") == "%s/topics/t" % url
    assert store.key(store.path("topics", "t")) == "raw/topics/t"


def test_store_url_is_the_endpoint_with_the_container_key():
    store = store_for(**ACCOUNT_KEYS, **{"azblob.container.name": "archive",
                                        "store.url": "https://acct.blob.core.usgovcloudapi.net/"})

    assert store.endpoint == "https://acct.blob.core.usgovcloudapi.net"


def test_a_connection_string_names_account_and_endpoint():
    azurite = store_for(**{"store.url": "az://archive", "azblob.connection.string": AZURITE})
    public = store_for(**{"azblob.container.name": "archive", "azblob.connection.string": CONNECTION})

    assert azurite.account == "devstoreaccount1"
    assert azurite.endpoint == "http://127.0.0.1:10000/devstoreaccount1"
    assert (public.account, public.endpoint) == ("acct", "https://acct.blob.core.windows.net")


def test_a_sas_token_needs_no_account_key():
    store = store_for(**{"azblob.account.name": "acct", "azblob.sas.token": "?" + SAS,
                         "azblob.container.name": "archive"})

    assert store.sas_token == SAS and store.account_key is None


def test_retry_block_timeout_and_proxy_keys():
    store = store_for(**ACCOUNT_KEYS, **{
        "azblob.container.name": "archive", "azblob.block.size": "5242880", "azblob.retry.type": "fixed",
        "azblob.retry.retries": "5", "azblob.retry.backoff.ms": "100", "azblob.retry.max.backoff.ms": "1000",
        "azblob.connection.timeout.ms": "2000", "azblob.proxy.url": "http://proxy:3128",
        "azblob.proxy.user": "me", "azblob.proxy.password": "p@ss"})

    assert (store.block_size, store.retry_type, store.retries) == (5242880, "FIXED", 5)
    assert (store.backoff_ms, store.max_backoff_ms, store.timeout_ms) == (100, 1000, 2000)
    assert store.proxy == "http://me:p%40ss@proxy:3128"
    client = store.client
    assert client._config.max_block_size == client._config.max_single_put_size == 5242880
    policy = client._config.retry_policy
    assert [policy.get_backoff_time({"count": n}) for n in (1, 2, 3)] == [0.1, 0.1, 0.1]


def test_exponential_backoff_doubles_up_to_the_maximum():
    store = store_for(**ACCOUNT_KEYS, **{"azblob.container.name": "archive",
                                        "azblob.retry.backoff.ms": "4000",
                                        "azblob.retry.max.backoff.ms": "10000"})

    policy = store.client._config.retry_policy
    assert [policy.get_backoff_time({"count": n}) for n in (1, 2, 3)] == [4.0, 8.0, 10.0]
    assert policy.total_retries == 3


@pytest.mark.parametrize("name", ["io.confluent.connect.azure.blob.format.avro.AvroFormat",
                                  "io.confluent.connect.azure.blob.format.bytearray.ByteArrayFormat",
                                  "io.confluent.connect.azure.blob.format.json.JsonFormat",
                                  "io.confluent.connect.azure.blob.format.parquet.ParquetFormat"])
def test_the_azure_sinks_format_classes(name):
    config = FilesSinkConfig.from_values(azure_values(**ACCOUNT_KEYS, **{"format.class": name}))

    assert type(config.format).__name__ == name.rsplit(".", 1)[1].replace("Json", "JsonLines")


def test_az_compression_type_gzips_json_files():
    fmt = make_format("io.confluent.connect.azure.blob.format.json.JsonFormat",
                      azure_values(**ACCOUNT_KEYS, **{"az.compression.type": "gzip"}))

    assert isinstance(fmt, JsonLinesFormat) and fmt.extension == ".json.gz"


@pytest.mark.parametrize("keys, message", [
    ({"az.compression.type": "gzip",
      "format.class": "io.confluent.connect.azure.blob.format.parquet.ParquetFormat"},
     "az.compression.type=gzip applies to JSON and byte-array files; Parquet files are compressed by "
     "parquet.codec"),
    ({"az.compression.type": "gzip", "s3.compression.type": "gzip"},
     "set s3.compression.type or az.compression.type, not both"),
])
def test_compression_keys_are_checked(keys, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        FilesSinkConfig.from_values(azure_values(**ACCOUNT_KEYS, **keys))


@pytest.mark.parametrize("keys, message", [
    ({"store.url": "az://archive"},
     "an Azure Blob store needs exactly one of azblob.account.key (with azblob.account.name), "
     "azblob.sas.token or azblob.connection.string, got none"),
    ({"store.url": "az://archive", "azblob.account.key": KEY, "azblob.sas.token": SAS},
     "needs exactly one of azblob.account.key (with azblob.account.name), azblob.sas.token or "
     "azblob.connection.string, got azblob.account.key and azblob.sas.token"),
    ({"store.url": "az://archive", "azblob.account.key": KEY},
     "azblob.account.key needs azblob.account.name, the storage account's name"),
    ({"store.url": "az://archive", "azblob.account.name": "acct", "azblob.account.key": "not base64!"},
     "azblob.account.key must be the storage account's base64-encoded access key"),
    ({"store.url": "az://archive", "azblob.account.name": "acct",
      "azblob.sas.token": "secret-but-no-signature"},
     "azblob.sas.token must be a shared access signature, the query string sv=...&sig=... (the token's "
     "value is not shown)"),
    ({"store.url": "az://archive", "azblob.connection.string": "AccountKey=secret-but-broken"},
     "azblob.connection.string must be an Azure Storage connection string"),
    ({"store.url": "az://archive", "azblob.account.name": "Not_An_Account", "azblob.account.key": KEY},
     "azblob.account.name must be 3-24 lowercase letters and digits, got 'Not_An_Account'"),
    ({"store.url": "az://Bad_Container", **ACCOUNT_KEYS},
     "the container name must be 3-63 lowercase letters, digits and single hyphens, starting and ending "
     "with a letter or digit, got 'Bad_Container'"),
    ({"store.url": "az:///raw", **ACCOUNT_KEYS}, "store.url must name a container (az://container/prefix), "
                                                 "got 'az:///raw'"),
    ({"store.url": "az://archive@acct/raw", **ACCOUNT_KEYS}, "store.url must be az://container/prefix"),
    ({"store.url": "abfss://acct.dfs.core.windows.net/raw", "azblob.account.key": KEY},
     "store.url must be abfss://container@account.dfs.core.windows.net/prefix, got "
     "'abfss://acct.dfs.core.windows.net/raw'"),
    ({"store.url": "abfss://archive@other.dfs.core.windows.net", **ACCOUNT_KEYS},
     "azblob.account.name=acct, but store.url=abfss://archive@other.dfs.core.windows.net names account "
     "'other'"),
    ({"store.url": "az://archive", "azblob.container.name": "archive", **ACCOUNT_KEYS},
     "with azblob.container.name set, store.url may only be the store's http(s):// blob endpoint, got "
     "'az://archive'; name the container in one place"),
    ({"store.url": "s3://bucket", "azblob.container.name": "archive", **ACCOUNT_KEYS},
     "store.url='s3://bucket' cannot name an Azure Blob store"),
    ({"s3.bucket.name": "bucket", "azblob.container.name": "archive"},
     "set s3.bucket.name or azblob.container.name, not both"),
    ({"store.url": "http://127.0.0.1:10000/acct?sv=1&sig=x", "azblob.container.name": "archive",
      **ACCOUNT_KEYS}, "store.url must be the blob endpoint without a query"),
    ({"store.url": "http://127.0.0.1:10000/x", "azblob.container.name": "archive",
      "azblob.connection.string": AZURITE},
     "azblob.connection.string names the account and its endpoint; store.url may then only be an az:// URL"),
    ({"store.url": "az://archive", "azblob.connection.string": AZURITE, "azblob.account.name": "acct"},
     "azblob.account.name=acct, but azblob.connection.string names account 'devstoreaccount1'"),
    ({"store.url": "s3://bucket", **ACCOUNT_KEYS},
     "azblob.account.name applies only to Azure Blob stores; this connector writes to s3://bucket"),
    ({"store.url": "az://archive", **ACCOUNT_KEYS, "aws.access.key.id": "AK", "aws.secret.access.key": "SK"},
     "aws.access.key.id applies only to S3 stores; this connector writes to az://archive"),
    ({"store.url": "/tmp/x", "storage.class": STORAGE_CLASS},
     "storage.class=%s is a Azure Blob store, but the store's keys name a local store" % STORAGE_CLASS),
    ({"store.url": "az://archive", **ACCOUNT_KEYS, "storage.class": "s3"},
     "storage.class=s3 is a S3 store, but the store's keys name a Azure Blob store"),
    ({"store.url": "az://archive", **ACCOUNT_KEYS, "azblob.proxy.user": "me"},
     "azblob.proxy.user needs azblob.proxy.url"),
    ({"store.url": "az://archive", **ACCOUNT_KEYS, "azblob.proxy.url": "proxy:3128"},
     "azblob.proxy.url must be http(s)://host:port, got 'proxy:3128'"),
])
def test_conflicting_or_incomplete_azure_keys(keys, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        storage_for(values(**keys))


@pytest.mark.parametrize("keys, message", [
    ({"azblob.block.size": "1000"}, "azblob.block.size must be at least 5242880, got '1000'"),
    ({"azblob.block.size": "104857601"}, "azblob.block.size must be at most 104857600, got '104857601'"),
    ({"azblob.retry.type": "LINEAR"},
     "azblob.retry.type must be one of 'EXPONENTIAL', 'FIXED', got 'LINEAR'"),
    ({"azblob.retry.retries": "0"}, "azblob.retry.retries must be at least 1, got '0'"),
])
def test_azure_values_are_checked(keys, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        values(**keys)


SECRETS = {"azblob.account.key": KEY, "azblob.sas.token": SAS, "azblob.connection.string": CONNECTION,
           "azblob.proxy.password": "proxy-secret"}


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_secrets_are_passwords_never_shown(secret):
    keys = {"store.url": "az://archive", "azblob.account.name": "acct", secret: SECRETS[secret]}
    if secret == "azblob.proxy.password":
        keys.update({"azblob.account.key": KEY, "azblob.proxy.url": "http://proxy:3128",
                     "azblob.proxy.user": "me"})
    parsed = values(**keys)
    config = FilesSinkConfig.from_values(parsed)

    assert isinstance(parsed[secret], Password)
    shown = repr(parsed) + repr(config) + repr(config.storage) + str(config.storage.url)
    assert SECRETS[secret] not in shown and "c2VjcmV0" not in shown
    copy = pickle.loads(pickle.dumps(config.storage))
    assert copy.url == config.storage.url and repr(copy) == repr(config.storage)


def test_a_bad_secret_is_refused_without_showing_it():
    with pytest.raises(ConfigError) as raised:
        values(**{"azblob.account.key": 12})  # not even a string
    assert "12" not in str(raised.value)
    for key, bad in (("azblob.sas.token", "sv=1&nosignature-secret"),
                     ("azblob.connection.string", "AccountKey=broken-secret")):
        with pytest.raises(ConfigError) as raised:
            storage_for(values(**{"store.url": "az://archive", "azblob.account.name": "acct", key: bad}))
        assert "secret" not in str(raised.value)


def test_errors_scrub_secrets_and_signatures():
    store = store_for(**{"azblob.account.name": "acct", "azblob.sas.token": SAS,
                         "azblob.container.name": "archive"})

    reason = store._reason(RuntimeError("GET https://acct.blob.core.windows.net/archive?%s failed" % SAS))
    other = store._reason(RuntimeError("GET https://acct.blob.core.windows.net/archive?sv=1&sig=b3RoZXI%3D"))

    assert reason == "RuntimeError: GET https://acct.blob.core.windows.net/archive?[hidden] failed"
    assert other == "RuntimeError: GET https://acct.blob.core.windows.net/archive?sv=1&sig=[hidden]"


def test_parquet_through_the_azure_class_is_the_parquet_format():
    assert isinstance(make_format("io.confluent.connect.azure.blob.format.parquet.ParquetFormat",
                                  azure_values(**ACCOUNT_KEYS)), ParquetFormat)


def test_the_example_connector_config():
    import os

    from pipelines.config import load_config
    from pipelines.config.connector import parse_connector_config

    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "templates", "connectors",
                        "azure-blob-sink.properties")
    config = parse_connector_config(load_config(path), bootstrap_servers="127.0.0.1:9092")

    storage = config.sink_config.storage
    assert config.sink is find_sink("azblob")
    assert (storage.container, storage.account, storage.endpoint) == (
        "kafka-archive", "clicksarchive", "https://clicksarchive.blob.core.windows.net")
    assert storage.path("topics", "clicks") == "az://kafka-archive/topics/clicks"
    assert (storage.retries, config.sink_config.format.extension) == (5, ".json.gz")
    assert "REPLACE" not in repr(config)
