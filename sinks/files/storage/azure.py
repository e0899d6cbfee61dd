"""Azure Blob Storage, through ``azure-storage-blob`` (``az://container/prefix``, ``abfss://`` URLs, or
Confluent's ``azblob.*`` keys).

Needs the ``[azure]`` extra. Where the files go:

=============================================================  =============================================
``store.url=az://container/prefix``                            the account is ``azblob.account.name`` (or
                                                               the connection string's)
``store.url=abfss://container@account.dfs.core.windows.net/p`` an ADLS Gen2 (or plain) account, written
                                                               through its blob endpoint
                                                               (``account.blob.core.windows.net``; a
                                                               sovereign cloud's suffix is kept)
``azblob.container.name=container``                            Confluent's keys: the account's container,
                                                               files below ``topics.dir``
``azblob.container.name`` and ``store.url=http(s)://host/...`` the same, at that blob endpoint (Azurite's
                                                               ``http://127.0.0.1:10000/devstoreaccount1``,
                                                               a private endpoint, a sovereign cloud)
=============================================================  =============================================

With ``storage.class=io.confluent.connect.azure.blob.storage.AzureBlobStorage`` (the default of
``connector.class=io.confluent.connect.azure.blob.AzureBlobStorageSinkConnector``) and no container
named, the container is ``default``, as in Confluent's sink.

Credentials: exactly one of ``azblob.account.key`` (with ``azblob.account.name``), ``azblob.sas.token``
(its permissions must include read, write, delete and list) or ``azblob.connection.string`` (ours: an
Azure Storage connection string, with ``AccountKey`` or ``SharedAccessSignature``, and ``BlobEndpoint``
or ``EndpointSuffix`` where the endpoint is not Azure's public cloud). All three are passwords: they are
hidden in ``repr``, and no error or log line of this module shows them (the SDK's request log redacts
signatures, and is quieted to warnings unless configured).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib.util
import logging
import re
import urllib.parse
from typing import Any, Iterator, Mapping, Optional

from common.errors import ConfigError
from sinks.files.storage.base import StorageError
from sinks.files.storage.objects import ObjectStorage

_LOGGER = logging.getLogger(__name__)

STORAGE_CLASS = "io.confluent.connect.azure.blob.storage.AzureBlobStorage"
STORAGE_CLASSES = (STORAGE_CLASS, "azure")  # storage.class values naming an Azure store
SCHEMES = ("az", "abfs", "abfss")
DEFAULT_CONTAINER = "default"  # Confluent's azblob.container.name default
DEFAULT_BLOCK_SIZE = 26214400  # Confluent's azblob.block.size default (25 MiB)
MIN_BLOCK_SIZE = 5242880
MAX_BLOCK_SIZE = 104857600
RETRY_TYPES = ("EXPONENTIAL", "FIXED")
_MAX_PUT_BLOB = 5000 * 1024 * 1024  # the largest blob one Put Blob writes

#: Keys of Azure stores only (those without a default value).
KEYS = ("azblob.account.name", "azblob.account.key", "azblob.sas.token", "azblob.connection.string",
        "azblob.container.name", "azblob.proxy.url", "azblob.proxy.user", "azblob.proxy.password")

_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")
_CONTAINER = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")
_CREDENTIALS = ("azblob.account.key", "azblob.sas.token", "azblob.connection.string")
_HIDDEN = "[hidden]"
_SIGNATURE = re.compile(r"(?i)(sig=)[^&\s'\"]+")


def require_azure() -> None:
    if importlib.util.find_spec("azure.storage.blob") is None:
        raise ConfigError("an Azure Blob store needs azure-storage-blob; install it with "
                          "pip install 'beamconnect[azure]'")


def names_azure(values: Mapping[str, Any], scheme: str) -> bool:
    """Whether the keys name an Azure store: an Azure URL, ``azblob.container.name``, or an Azure
    ``storage.class`` with no ``store.url`` or only an endpoint in it."""
    if scheme in SCHEMES or values.get("azblob.container.name"):
        return True
    return (values.get("storage.class") in STORAGE_CLASSES
            and (not values.get("store.url") or scheme in ("http", "https")))


def azure_storage(values: Mapping[str, Any]) -> "AzureBlobStorage":
    """The Azure store the keys name; any conflict between them is a ConfigError."""
    require_azure()
    url: Optional[str] = values.get("store.url") or None
    parsed = urllib.parse.urlparse(url) if url else None
    scheme = parsed.scheme.lower() if parsed else ""
    key_container = values.get("azblob.container.name")
    account = values.get("azblob.account.name")
    connection = values.get("azblob.connection.string")
    endpoint = prefix = host = None
    if scheme in SCHEMES:
        if key_container:
            raise ConfigError("with azblob.container.name set, store.url may only be the store's "
                              "http(s):// blob endpoint, got %r; name the container in one place" % url)
        container, prefix = parsed.netloc, parsed.path.strip("/")
        if scheme != "az":
            container, _, host = container.rpartition("@")
            if not container or "." not in host:
                raise ConfigError("store.url must be %s://container@account.dfs.core.windows.net/prefix, "
                                  "got %r" % (scheme, url))
            account = _same_account(account, host.split(".")[0], "store.url=%s" % url)
            endpoint = "https://%s" % host.replace(".dfs.", ".blob.", 1)
        elif "@" in container:
            raise ConfigError("store.url must be az://container/prefix (the account is azblob.account.name), "
                              "or abfss://container@account.dfs.core.windows.net/prefix, got %r" % url)
        if not container:
            raise ConfigError("store.url must name a container (%s://container/prefix), got %r"
                              % (scheme, url))
        shown = url
    elif scheme in ("http", "https") or url is None:
        container, prefix, endpoint = key_container or DEFAULT_CONTAINER, "", url
        if endpoint is not None and (parsed.query or not parsed.netloc):
            raise ConfigError("store.url must be the blob endpoint without a query "
                              "(http(s)://host[:port][/account]); put a SAS in azblob.sas.token")
        shown = "az://%s" % container
    else:
        raise ConfigError("store.url=%r cannot name an Azure Blob store; use az://container/prefix, "
                          "abfss://container@account.dfs.core.windows.net/prefix or the blob endpoint "
                          "with azblob.container.name" % url)
    if not _CONTAINER.fullmatch(container):
        raise ConfigError("the container name must be 3-63 lowercase letters, digits and single hyphens, "
                          "starting and ending with a letter or digit, got %r" % container)

    given = [key for key in _CREDENTIALS if values.get(key)]
    if len(given) != 1:
        raise ConfigError("an Azure Blob store needs exactly one of azblob.account.key (with "
                          "azblob.account.name), azblob.sas.token or azblob.connection.string, got %s"
                          % (" and ".join(given) or "none"))
    if connection:
        if endpoint is not None:
            raise ConfigError("azblob.connection.string names the account and its endpoint; store.url "
                              "may then only be an az:// URL, got %r" % url)
        endpoint, named = _connection_endpoint(connection)
        account = _same_account(account, named, "azblob.connection.string")
    elif values.get("azblob.account.key"):
        if not account:
            raise ConfigError("azblob.account.key needs azblob.account.name, the storage account's name")
        try:
            base64.b64decode(values["azblob.account.key"], validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("azblob.account.key must be the storage account's base64-encoded access "
                              "key") from None
    elif "sig=" not in values["azblob.sas.token"]:
        raise ConfigError("azblob.sas.token must be a shared access signature, the query string "
                          "sv=...&sig=... (the token's value is not shown)")
    if account is not None and not _ACCOUNT.fullmatch(account):
        raise ConfigError("azblob.account.name must be 3-24 lowercase letters and digits, got %r" % account)
    if endpoint is None:
        if not account:
            raise ConfigError("an Azure Blob store needs azblob.account.name (or an abfss:// store.url, "
                              "or a blob endpoint in store.url) to find the account")
        endpoint = "https://%s.blob.core.windows.net" % account
    if values.get("azblob.proxy.password") and not values.get("azblob.proxy.user"):
        raise ConfigError("azblob.proxy.password needs azblob.proxy.user")
    if values.get("azblob.proxy.user") and not values.get("azblob.proxy.url"):
        raise ConfigError("azblob.proxy.user needs azblob.proxy.url")
    root = "%s://%s" % (scheme, parsed.netloc) if scheme in SCHEMES else "az://%s" % container
    return AzureBlobStorage(
        container, prefix or "", shown, root=root, endpoint=endpoint.rstrip("/"), account=account,
        account_key=values.get("azblob.account.key"), sas_token=values.get("azblob.sas.token"),
        connection_string=connection, block_size=values.get("azblob.block.size", DEFAULT_BLOCK_SIZE),
        retry_type=values.get("azblob.retry.type", "EXPONENTIAL"),
        retries=values.get("azblob.retry.retries", 3),
        backoff_ms=values.get("azblob.retry.backoff.ms", 4000),
        max_backoff_ms=values.get("azblob.retry.max.backoff.ms", 120000),
        timeout_ms=values.get("azblob.connection.timeout.ms", 30000),
        proxy=_proxy(values))


def _same_account(given: Optional[str], named: Optional[str], where: str) -> Optional[str]:
    if given and named and given != named:
        raise ConfigError("azblob.account.name=%s, but %s names account %r" % (given, where, named))
    return given or named


def _connection_endpoint(connection: str) -> tuple:
    """The blob endpoint (without any SAS) and account a connection string names."""
    from azure.storage.blob import BlobServiceClient

    message = ("azblob.connection.string must be an Azure Storage connection string "
               "(AccountName=...;AccountKey=...[;BlobEndpoint=...] or BlobEndpoint=...;"
               "SharedAccessSignature=...); the value is not shown")
    try:
        client = BlobServiceClient.from_connection_string(connection)
    except (ValueError, KeyError, TypeError):
        raise ConfigError(message) from None
    endpoint = client.url.split("?")[0]
    if client.credential is None and "?" not in client.url:
        raise ConfigError(message)
    return endpoint, client.account_name or None


def _proxy(values: Mapping[str, Any]) -> Optional[str]:
    url = values.get("azblob.proxy.url")
    if not url:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("azblob.proxy.url must be http(s)://host:port, got %r" % url)
    user = values.get("azblob.proxy.user")
    if not user:
        return url
    login = urllib.parse.quote(user, safe="")
    if values.get("azblob.proxy.password"):
        login += ":" + urllib.parse.quote(values["azblob.proxy.password"], safe="")
    return urllib.parse.urlunsplit((parts.scheme, "%s@%s" % (login, parts.netloc), parts.path, "", ""))


class AzureBlobStorage(ObjectStorage):
    """An Azure Blob Storage container (block blobs).

    Writes: a file up to ``azblob.block.size`` is one Put Blob; a larger one is staged as blocks of that
    size and committed with one Put Block List, so a reader sees no blob or the whole of it, never a part
    (staged blocks stay invisible, and the service drops uncommitted ones after a week). Each upload
    carries the file's MD5 as the blob's Content-MD5, and each request its own MD5 for the service to
    check.

    Every upload is a conditional create (``If-None-Match: *``). Names depend only on the data and the
    config, so a replayed window normally finds its blob already there with the same bytes: the write
    compares the stored Content-MD5 and size with its own and, when they agree, leaves the blob as it
    is (no rewrite, no new ETag, nothing for change-feed readers to pick up again). When they differ, the
    blob was left by a killed run that cut its files differently (another ``flush.size``, a config
    change before a rerun): this run's file must win, so the blob is overwritten with ``If-Match`` on
    the ETag just read; if it changed in between, the comparison is made again. A request the service
    answered but whose answer was lost is retried and meets its own blob, so it is done as well.

    Blocks that a killed upload staged under the name (no committed blob yet; Azurite, unlike Azure,
    answers a conditional create on such a name with "already exists"), or that another tool staged
    with block IDs of another length (which the service refuses to mix), are replaced by one Put Blob
    of the whole file, the one request that may discard them.

    Delivery, with the file sink: exactly once per file name; a replay leaves every blob either as it
    was (same bytes) or as this run writes it.

    ``walk`` lists blobs by prefix (skipping the directory markers of hierarchical-namespace
    accounts); ``start_after`` is applied to what the listing returns (the listing is not started
    there). ``delete`` removes a blob with its snapshots; one already gone is fine.
    """

    scheme = "az"

    def __init__(self, container: str, prefix: str = "", url: str = "", *, root: Optional[str] = None,
                 endpoint: str, account: Optional[str] = None, account_key: Optional[str] = None,
                 sas_token: Optional[str] = None, connection_string: Optional[str] = None,
                 block_size: int = DEFAULT_BLOCK_SIZE, retry_type: str = "EXPONENTIAL",
                 retries: int = 3, backoff_ms: int = 4000, max_backoff_ms: int = 120000,
                 timeout_ms: int = 30000, proxy: Optional[str] = None):
        super().__init__(container, prefix, url or "az://%s/%s" % (container, prefix.strip("/")))
        self.root = root or "az://%s" % container
        self.endpoint = endpoint
        self.account = account
        self.account_key = account_key
        self.sas_token = sas_token.lstrip("?") if sas_token else None
        self.connection_string = connection_string
        self.block_size = block_size
        self.retry_type = retry_type
        self.retries = retries
        self.backoff_ms = backoff_ms
        self.max_backoff_ms = max_backoff_ms
        self.timeout_ms = timeout_ms
        self.proxy = proxy

    def __repr__(self) -> str:
        return "AzureBlobStorage(%r, endpoint=%r)" % (self.url, self.endpoint)

    @property
    def container(self) -> str:
        return self.bucket

    def _url(self, key: str) -> str:
        return "%s/%s" % (self.root, key)

    def _make_client(self) -> Any:
        http_log = logging.getLogger("azure.core.pipeline.policies.http_logging_policy")
        if http_log.level == logging.NOTSET:  # one INFO record per request otherwise
            http_log.setLevel(logging.WARNING)
        return self._container_client(self.block_size)

    def _container_client(self, single_put_size: int) -> Any:
        """A client of the container whose uploads up to ``single_put_size`` are one Put Blob, and
        larger ones blocks of ``azblob.block.size``."""
        from azure.storage.blob import BlobServiceClient

        options = dict(retry_policy=_retry_policy(self.retry_type, self.retries, self.backoff_ms,
                                                  self.max_backoff_ms),
                       connection_timeout=self.timeout_ms / 1000, read_timeout=self.timeout_ms / 1000,
                       max_single_put_size=single_put_size, max_block_size=self.block_size)
        if self.proxy:
            options["proxies"] = {"http": self.proxy, "https": self.proxy}
        if self.connection_string:
            service = BlobServiceClient.from_connection_string(self.connection_string, **options)
        else:
            credential = ({"account_name": self.account, "account_key": self.account_key}
                          if self.account_key else self.sas_token)
            service = BlobServiceClient(self.endpoint, credential=credential, **options)
        return service.get_container_client(self.bucket)

    def _put(self, key: str, data: bytes) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.storage.blob import ContentSettings

        md5 = hashlib.md5(data, usedforsecurity=False).digest()
        settings = ContentSettings(content_type="application/octet-stream", content_md5=bytearray(md5))
        upload = dict(content_settings=settings, validate_content=True, length=len(data))
        whole = False
        for _ in range(4):
            try:
                whole = self._upload(key, data, whole, overwrite=False, **upload)
                return
            except ResourceExistsError as exc:
                if exc.error_code != "BlobAlreadyExists":
                    raise
            except _StagedElsewhere:
                whole = True
                continue
            blob = self.client.get_blob_client(key)
            try:
                stored = blob.get_blob_properties()
            except ResourceNotFoundError:
                # No committed blob: only blocks a killed upload staged (which Azurite counts as a
                # blob), or it was deleted since. One Put Blob replaces whatever was staged.
                self._upload(key, data, True, overwrite=True, **upload)
                return
            if stored.size == len(data) and bytes(stored.content_settings.content_md5 or b"") == md5:
                _LOGGER.debug("%s is already in place with the same %d bytes", self._url(key), len(data))
                return
            try:
                whole = self._upload(key, data, whole, overwrite=True, etag=stored.etag,
                                     match_condition=MatchConditions.IfNotModified, **upload)
            except (ResourceModifiedError, ResourceNotFoundError):
                continue  # changed or deleted since it was read: compare again
            except _StagedElsewhere:
                whole = True
                continue
            _LOGGER.info("replaced %s (%d bytes, left by an earlier run) with this run's %d bytes",
                         self._url(key), stored.size, len(data))
            return
        raise StorageError("%s kept changing while it was written; is another run writing to it?"
                           % self._url(key))

    def _upload(self, key: str, data: bytes, whole: bool, **options) -> bool:
        """Uploads ``data`` to ``key`` (in blocks when it is larger than the block size, unless
        ``whole``); returns ``whole``.

        Raises:
          _StagedElsewhere: blocks another upload staged under the name, with block IDs of another
            length, refuse this one's (a single Put Blob, which drops them, is then the way).
        """
        from azure.core.exceptions import HttpResponseError

        container = self.client
        if whole and len(data) > self.block_size:
            container = self._container_client(_MAX_PUT_BLOB)
        try:
            container.get_blob_client(key).upload_blob(data, **options)
        except HttpResponseError as exc:
            if exc.error_code == "InvalidBlobOrBlock" and not whole and len(data) > self.block_size:
                raise _StagedElsewhere() from exc
            raise
        return whole

    def _list(self, prefix: str, start_after: Optional[str]) -> Iterator[str]:
        for blob in self.client.list_blobs(name_starts_with=prefix or None, include=["metadata"]):
            if (blob.metadata or {}).get("hdi_isfolder") == "true":
                continue  # a directory of a hierarchical-namespace account
            if start_after is None or blob.name > start_after:
                yield blob.name

    def _delete(self, key: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self.client.delete_blob(key, delete_snapshots="include")
        except ResourceNotFoundError:
            pass

    def _reason(self, exc: Exception) -> str:
        from azure.core.exceptions import HttpResponseError, ServiceRequestError

        if isinstance(exc, HttpResponseError):
            code = getattr(exc.error_code, "value", exc.error_code) or "HTTP %s" % exc.status_code
            if code == "ContainerNotFound":
                return "container %r does not exist %s" % (self.bucket, self._where())
            if exc.status_code in (401, 403):
                return "the credentials may not use container %r %s (%s)" % (
                    self.bucket, self._where(), code)
            return self._scrub("%s: %s" % (code, str(exc.message or exc).split("\n")[0]))
        if isinstance(exc, ServiceRequestError):
            return self._scrub("cannot reach %s (%s)" % (self.endpoint, str(exc).split("\n")[0]))
        return self._scrub(super()._reason(exc))

    def _where(self) -> str:
        return "in account %r" % self.account if self.account else "at %s" % self.endpoint

    def _scrub(self, text: str) -> str:
        """``text`` without any of the store's secrets or a URL's signature."""
        for secret in (self.account_key, self.sas_token, self.connection_string):
            if secret:
                text = text.replace(secret, _HIDDEN)
        return _SIGNATURE.sub(r"\1" + _HIDDEN, text)


class _StagedElsewhere(Exception):
    """Blocks staged by another upload are in the way of a staged upload."""


def _retry_policy(kind: str, retries: int, backoff_ms: int, max_backoff_ms: int) -> Any:
    """The SDK's retry policy, with the delays of Confluent's ``azblob.retry.*``: ``EXPONENTIAL`` waits
    ``backoff.ms`` and doubles each retry up to ``max.backoff.ms``; ``FIXED`` always waits
    ``backoff.ms``. ``retries`` counts retries after the first try."""
    from azure.storage.blob import ExponentialRetry

    class ConnectRetry(ExponentialRetry):
        def get_backoff_time(self, settings: dict) -> float:
            count = max(settings["count"], 1)
            if kind == "FIXED":
                return backoff_ms / 1000
            return min(backoff_ms * 2 ** (count - 1), max_backoff_ms) / 1000

    return ConnectRetry(retry_total=retries, retry_connect=retries, retry_read=retries,
                        retry_status=retries, random_jitter_range=0)
