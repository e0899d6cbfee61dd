"""One interface to an Elasticsearch or OpenSearch cluster, through the engine's official client.

:func:`probe` asks the cluster what it is (``GET /``: OpenSearch says ``"distribution": "opensearch"``)
and :class:`SearchClient` then talks to it with ``opensearch-py`` or ``elasticsearch`` (whose product
check refuses OpenSearch), imported only then, with a hint naming the extra to install. Both send what
the sink builds itself (a bulk body as bytes) through the client's low-level ``perform_request`` and
parse each answer once (with orjson where the client lets it choose). Their errors come out as
:class:`Unavailable` (worth a retry: no connection, a timeout, 429, 5xx) or :class:`Refused` (the cluster
answered a request error); HTTP 401 and 403 name ``connection.username``, never the password.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import ssl
import tempfile
from typing import Any, Optional, Tuple

import orjson

from common.errors import BeamConnectError, ConfigError
from sinks.search.elasticsearch.config import ElasticsearchSinkConfig, TlsSettings

_LOGGER = logging.getLogger(__name__)

OPENSEARCH = "opensearch"
ELASTICSEARCH = "elasticsearch"
_NDJSON = {"content-type": "application/x-ndjson", "accept": "application/json"}
_JSON = {"content-type": "application/json", "accept": "application/json"}
_PLAIN = {"accept": "application/json"}
# The clients log every request at INFO; the sink logs what it wrote per bundle instead.
_CLIENT_LOGGERS = ("opensearch", "elastic_transport.transport")
_PASSING = (429, 502, 503, 504)


class Unavailable(Exception):
    """The request may pass if sent again: no connection, a timeout, HTTP 429 or 5xx."""


class Refused(Exception):
    """The cluster answered the request with an error.

    Attributes:
      status: The HTTP status.
      body: The parsed answer (a dict), or its text.
    """

    def __init__(self, status: int, body: Any):
        super().__init__("HTTP %s: %s" % (status, _reason(body)))
        self.status = status
        self.body = body

    @property
    def type(self) -> str:
        """The error type (``resource_already_exists_exception``), or ``""``."""
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return error.get("type", "") if isinstance(error, dict) else ""


def ssl_context(tls: TlsSettings) -> ssl.SSLContext:
    """The TLS client context of :class:`~sinks.search.elasticsearch.config.TlsSettings`.

    Raises:
      ConfigError: a certificate or key cannot be loaded (naming the key, never its content).
    """
    try:
        context = ssl.create_default_context(cafile=tls.ca_file, cadata=tls.ca_pem)
    except (ssl.SSLError, OSError) as e:
        raise ConfigError("the trusted certificates (elastic.https.ssl.truststore.*) could not be "
                          "loaded: %s" % e.__class__.__name__ + _detail(e)) from None
    context.check_hostname = tls.check_hostname
    try:
        if tls.cert_file:
            context.load_cert_chain(tls.cert_file, password=tls.key_password)
        elif tls.cert_pem:
            with tempfile.TemporaryDirectory(prefix="beamconnect-tls-") as work:
                cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
                for path, text in ((cert, tls.cert_pem), (key, tls.key_pem)):
                    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                        f.write(text)
                context.load_cert_chain(cert, key, password=tls.key_password)
    except (ssl.SSLError, OSError) as e:
        raise ConfigError("the client certificate and key (elastic.https.ssl.keystore.*) could not be "
                          "loaded: %s" % e.__class__.__name__ + _detail(e)) from None
    return context


def probe(config: ElasticsearchSinkConfig) -> Tuple[str, str]:
    """``(engine, version)`` of the cluster: :data:`OPENSEARCH` or :data:`ELASTICSEARCH`.

    Raises:
      BeamConnectError: no URL answers, or the cluster refuses the login.
    """
    import urllib3

    context = ssl_context(config.tls) if config.tls is not None else None
    timeout = urllib3.Timeout(connect=config.connection_timeout_ms / 1000 or None,
                              read=max(config.read_timeout_ms / 1000, 10.0))
    pool = urllib3.PoolManager(ssl_context=context, timeout=timeout, retries=False)
    headers = dict(_JSON)
    if config.username is not None:
        token = base64.b64encode(("%s:%s" % (config.username, config.password)).encode()).decode()
        headers["Authorization"] = "Basic " + token
    problems = []
    try:
        for url in config.urls:
            try:
                answer = pool.request("GET", url + "/", headers=headers)
            except urllib3.exceptions.HTTPError as e:
                problems.append("%s: %s" % (url, _connection_reason(e)))
                continue
            if answer.status in (401, 403):
                raise BeamConnectError(_login_refused(config, answer.status, _parse(answer.data)))
            if answer.status != 200:
                problems.append("%s: HTTP %d: %s" % (url, answer.status, _reason(_parse(answer.data))))
                continue
            info = _parse(answer.data)
            version = info.get("version", {}) if isinstance(info, dict) else {}
            engine = OPENSEARCH if version.get("distribution") == OPENSEARCH else ELASTICSEARCH
            return engine, str(version.get("number", "unknown"))
    finally:
        pool.clear()
    raise BeamConnectError("could not reach Elasticsearch or OpenSearch at %s: %s"
                           % (config.describe(), "; ".join(problems)))


class SearchClient:
    """A cluster, through ``opensearch-py`` or ``elasticsearch`` as :func:`probe` found it.

    Args:
      config: The sink's config (URLs, login, TLS, timeouts, compression, pool size).
      engine: :data:`OPENSEARCH` or :data:`ELASTICSEARCH`.
    """

    def __init__(self, config: ElasticsearchSinkConfig, engine: str):
        self.engine = engine
        self._config = config
        for name in _CLIENT_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        context = ssl_context(config.tls) if config.tls is not None else None
        auth = (config.username, str(config.password)) if config.username is not None else None
        read = config.read_timeout_ms / 1000 or None
        if engine == OPENSEARCH:
            try:
                import opensearchpy
                import urllib3
            except ImportError:
                raise BeamConnectError("the cluster at %s is OpenSearch, which needs the opensearch-py "
                                       "client: pip install 'beamconnect[elasticsearch]'"
                                       % config.describe()) from None
            self._errors = opensearchpy.exceptions
            options: dict = dict(
                hosts=list(config.urls), http_auth=auth, http_compress=config.compression,
                timeout=urllib3.Timeout(connect=config.connection_timeout_ms / 1000 or None, read=read),
                max_retries=0, retry_on_timeout=False, pool_maxsize=config.max_in_flight + 1,
                serializer=_orjson_serializer(opensearchpy))
            if context is not None:
                options.update(use_ssl=True, ssl_context=context)
            self._client = opensearchpy.OpenSearch(**options)
        else:
            try:
                import elasticsearch
                import elastic_transport
            except ImportError:
                raise BeamConnectError("the cluster at %s is Elasticsearch, which needs the "
                                       "elasticsearch client: pip install 'beamconnect[elasticsearch]'"
                                       % config.describe()) from None
            self._errors = (elasticsearch, elastic_transport)
            options = dict(hosts=list(config.urls), basic_auth=auth, http_compress=config.compression,
                           request_timeout=read, max_retries=0, retry_on_timeout=False,
                           connections_per_node=config.max_in_flight + 1)
            if context is not None:
                options["ssl_context"] = context
            self._client = elasticsearch.Elasticsearch(**options)

    def close(self) -> None:
        self._client.close()

    def bulk(self, body: bytes) -> dict:
        """``POST /_bulk`` of an NDJSON body; the parsed answer (one item per action)."""
        return self._call("POST", "/_bulk", body, _NDJSON)

    def exists(self, name: str) -> bool:
        """Whether an index, alias or data stream named ``name`` exists."""
        try:
            self._call("HEAD", "/" + name, None, _PLAIN)
        except Refused as refused:
            if refused.status == 404:
                return False
            raise
        return True

    def create_index(self, name: str, mappings: Optional[dict]) -> bool:
        """Creates index ``name`` (with ``mappings``); False when it already exists."""
        return self._create("/" + name, {"mappings": mappings} if mappings else {})

    def create_data_stream(self, name: str) -> bool:
        """Creates data stream ``name``; False when it already exists.

        Raises:
          BeamConnectError: no index template with ``data_stream`` matches the name.
        """
        try:
            return self._create("/_data_stream/" + name, None)
        except Refused as refused:
            if refused.status in (400, 404) and "template" in str(refused).lower():
                raise BeamConnectError(
                    "data stream %r cannot be created: %s. Create an index template whose "
                    "index_patterns match it, with \"data_stream\": {} (Elasticsearch has one for "
                    "logs-*-* and metrics-*-*; OpenSearch has none)" % (name, refused)) from None
            raise

    def has_mapping(self, name: str) -> bool:
        """Whether index ``name`` (or every index behind an alias) has mapped fields."""
        answer = self._call("GET", "/%s/_mapping" % name, None, _PLAIN)
        return bool(answer) and all((entry.get("mappings") or {}).get("properties")
                                    for entry in answer.values())

    def put_mapping(self, name: str, mapping: dict) -> None:
        self._call("PUT", "/%s/_mapping" % name, orjson.dumps(mapping), _JSON)

    def _create(self, path: str, body: Optional[dict]) -> bool:
        try:
            self._call("PUT", path, orjson.dumps(body) if body is not None else None,
                       _JSON if body is not None else _PLAIN)
        except Refused as refused:
            if refused.type == "resource_already_exists_exception":
                return False
            raise
        return True

    def _call(self, method: str, path: str, body: Optional[bytes], headers: dict) -> Any:
        """One request; the parsed answer.

        Raises:
          Unavailable: no connection, a timeout, HTTP 429 or 502-504.
          Refused: any other error status.
          BeamConnectError: HTTP 401 or 403 (the login is refused or lacks a right).
        """
        if self.engine == OPENSEARCH:
            errors = self._errors
            try:
                answer = self._client.transport.perform_request(
                    method, path, headers=headers, body=body, ignore=(404,) if method == "HEAD" else ())
            except (errors.ConnectionError, errors.ConnectionTimeout) as e:
                raise Unavailable("%s %s: %s" % (method, path, _connection_reason(e))) from None
            except errors.TransportError as e:
                status = e.status_code if isinstance(e.status_code, int) else 0
                self._raise(status, e.info if e.info is not None else e.error, method, path)
            if method == "HEAD" and answer is False:
                raise Refused(404, "not found")
            return answer
        api, transport = self._errors
        try:
            response = self._client.perform_request(method, path, headers=headers, body=body)
        except (transport.ConnectionError, transport.ConnectionTimeout) as e:
            raise Unavailable("%s %s: %s" % (method, path, _connection_reason(e))) from None
        except api.ApiError as e:
            self._raise(e.meta.status, e.body, method, path)
        if method == "HEAD" and response.meta.status == 404:  # HEAD answers are not raised
            raise Refused(404, "not found")
        return response.body

    def _raise(self, status: int, body: Any, method: str, path: str):
        if status in (401, 403):
            raise BeamConnectError(_login_refused(self._config, status, body)) from None
        if status in _PASSING or status >= 500:
            raise Unavailable("%s %s answered HTTP %d: %s" % (method, path, status, _reason(body))) \
                from None
        raise Refused(status, body) from None


def _orjson_serializer(opensearchpy):
    class OrjsonSerializer(opensearchpy.JSONSerializer):
        """Parses answers with orjson (a bulk answer holds an item per document)."""

        def loads(self, s):
            return orjson.loads(s)

    return OrjsonSerializer()


def _login_refused(config: ElasticsearchSinkConfig, status: int, body: Any) -> str:
    if config.username is None:
        who, hint = "requests without a login", "set connection.username and connection.password"
    else:
        who = "the login connection.username=%r" % config.username
        hint = ("check connection.username and connection.password" if status == 401
                else "grant that user the rights the sink needs")
    return "the cluster at %s %s %s (HTTP %d: %s); %s" % (
        config.describe(), "refused" if status == 401 else "forbade", who, status, _reason(body), hint)


def _reason(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            cause = (error.get("root_cause") or [error])[0]
            return "%s: %s" % (cause.get("type", "error"), cause.get("reason", ""))
        if error:
            return str(error)[:500]
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return str(body)[:500]


def _parse(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return data.decode("utf-8", "replace")[:500]


def _connection_reason(error: Exception) -> str:
    """The root cause of a connection failure (``[Errno 111] Connection refused``, ``Read timed
    out``), without the client's wrapping of it."""
    text = str(error)
    found = re.search(r"\[Errno -?\d+\][^)\]\n]*|[Rr]ead timed out[^)\n]*|[Cc]onnection timed out|"
                      r"timed out|Name or service not known|certificate verify failed[^)\n]*", text)
    return found.group(0).strip().rstrip(".") if found else text[:300]


def _detail(error: Exception) -> str:
    reason = getattr(error, "reason", None) or getattr(error, "strerror", None)
    return " (%s)" % reason if reason else ""
