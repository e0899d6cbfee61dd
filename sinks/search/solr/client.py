"""Solr over HTTP with ``requests``: the schema, real-time get and the JSON update handler.

Only the requests the sink needs, each answered as JSON (``wt=json``):

- ``GET <core>/schema/uniquekey`` and ``GET <core>/schema/fields?fl=...&includeDynamic=true``: the
  core's id field and whether the fields the sink writes exist (explicitly or by a dynamic field);
- ``POST <core>/get`` (real-time get): the current version of documents, committed or not;
- ``POST <core>/update`` with a JSON command object (repeated ``add`` and ``delete`` commands, each
  with ``_version_`` for optimistic concurrency) and ``commitWithin``.

Solr's answers become errors the sink acts on: HTTP 409 is :class:`VersionConflict`; 400 (and other
4xx but 401, 403, 404) a :class:`Refused` data error, naming the document when Solr's message does
(``[doc=<id>]``); 401, 403 and 404 a :class:`~common.errors.BeamConnectError` that stops the run
(credentials, permissions, a missing core), naming the URL and the user, never the password.

HTTP 429 and 5xx, timeouts and failed connections are passing: the request is sent again, up to
``solr.max.retries`` times, retry ``n`` after a random wait between half and all of
``solr.retry.backoff.ms`` x 2^(n-1), at most :data:`MAX_BACKOFF_S` (or as long as Solr's
``Retry-After`` asks, capped the same way); then it is a :class:`~common.errors.RetriableError` naming
the URL, which ``errors.retry.timeout`` may retry further. Sending a request again is safe: schema
reads and real-time gets only read, and an update's documents are conditional on the ``_version_``
read before it, so an update a first try did apply, wholly or from its first document on (Solr
answered too late, or applied some and then failed), fails its resend at that first document with
HTTP 409 and changes nothing: the writer reads the documents again, counts those that hold their
records and sends only the rest (:mod:`sinks.search.solr.writer`).
"""

from __future__ import annotations

import datetime
import email.utils
import json
import logging
import random
import re
import time
from typing import Dict, Iterable, Mapping, Optional, Sequence

import orjson
import requests

from common.errors import BeamConnectError, DataError, RetriableError
from sinks.search.solr.config import SolrSinkConfig

_LOGGER = logging.getLogger(__name__)

#: Longest wait (s) before one retry, whatever the backoff or Solr's ``Retry-After`` says.
MAX_BACKOFF_S = 30.0

_DOC_ID = re.compile(r"\[doc=(.*?)\]")
_MESSAGE_LIMIT = 1000


class VersionConflict(BeamConnectError):
    """A conditional update met a document that changed since it was read (HTTP 409)."""


class Refused(DataError):
    """Solr refused an update for what it holds (HTTP 400).

    Attributes:
      doc_id: The document Solr's message names (``[doc=<id>]``), or None.
    """

    def __init__(self, message: str, doc_id: Optional[str]):
        super().__init__(message)
        self.doc_id = doc_id


class _Passing(RetriableError):
    """A failure worth sending the request again for.

    Attributes:
      cause: What failed, short and without Solr's message (which may quote documents), for the log.
      retry_after: Seconds Solr's ``Retry-After`` asks to wait, or None.
    """

    def __init__(self, message: str, cause: str, retry_after: Optional[float] = None):
        super().__init__(message)
        self.cause = cause
        self.retry_after = retry_after


class SolrClient:
    """A connection pool to one Solr, with the config's login and timeouts.

    Args:
      config: The sink's config.
    """

    def __init__(self, config: SolrSinkConfig):
        self._config = config
        self._session = requests.Session()
        if config.username:
            self._session.auth = (config.username, config.password)
        self._timeout = (config.connect_timeout_ms / 1000.0, config.socket_timeout_ms / 1000.0)

    def close(self) -> None:
        self._session.close()

    def probe(self) -> None:
        """Reaches Solr's base URL with the login (``admin/info/system``); a 403 passes (the login
        was taken, and the cores' permissions show when they are written)."""
        self._call("GET", "%s/admin/info/system" % self._config.base_url, "reach Solr",
                   allow=(403,))

    def unique_key(self, core: str) -> str:
        """The core's ``uniqueKey`` field."""
        answer = self._call("GET", "%s/schema/uniquekey" % self._config.core_url(core),
                            "read the schema of core %r" % core)
        return answer["uniqueKey"]

    def missing_fields(self, core: str, names: Sequence[str]) -> list:
        """Those of ``names`` the core's schema has no field (or dynamic field) for."""
        answer = self._call("GET", "%s/schema/fields" % self._config.core_url(core),
                            "read the schema of core %r" % core,
                            params={"fl": ",".join(names), "includeDynamic": "true"})
        found = {field["name"] for field in answer.get("fields", [])}
        return [name for name in names if name not in found]

    def get(self, core: str, ids: Sequence[str], fields: Sequence[str],
            unique_key: str) -> Dict[str, dict]:
        """Real-time get of ``ids`` (what Solr holds now, committed or not): ``{id: document}``."""
        if not ids:
            return {}
        data = [("id", i) for i in ids] + [("fl", ",".join(fields)), ("wt", "json")]
        answer = self._call("POST", "%s/get" % self._config.core_url(core),
                            "read documents of core %r" % core, data=data)
        if "response" in answer:
            docs = answer["response"]["docs"]
        else:  # one id: Solr answers {"doc": ... or null}
            docs = [answer["doc"]] if answer.get("doc") else []
        return {str(first(doc[unique_key])): doc for doc in docs}

    def update(self, core: str, body: bytes) -> None:
        """Sends one JSON update request (``commitWithin`` per the config).

        Raises:
          VersionConflict: a document's ``_version_`` did not match (those before it were applied).
          Refused: Solr refused a document (those before it were applied).
        """
        params = {"wt": "json"}
        if self._config.commit_within_ms > 0:
            params["commitWithin"] = str(self._config.commit_within_ms)
        self._call("POST", "%s/update" % self._config.core_url(core), "update core %r" % core,
                   params=params, data=body, headers={"Content-Type": "application/json"})

    def _call(self, method: str, url: str, what: str, allow: Iterable[int] = (), **kwargs) -> dict:
        """One request, sent again on passing failures as the module docstring says; the JSON answer."""
        retries, retry = self._config.max_retries, 0
        while True:
            try:
                return self._request(method, url, what, allow, **kwargs)
            except _Passing as passing:
                if retry == retries:
                    raise RetriableError("%s (%d tries, solr.max.retries=%d)"
                                         % (passing, retry + 1, retries)) from None
                retry += 1
                wait = self._backoff(retry, passing.retry_after)
                _LOGGER.warning("Solr at %s failed to %s (%s); retry %d of %d in %.2fs",
                                url, what, passing.cause, retry, retries, wait)
                time.sleep(wait)

    def _backoff(self, retry: int, retry_after: Optional[float]) -> float:
        """Seconds to wait before retry ``retry`` (1 for the first)."""
        if retry_after is not None:
            return min(retry_after, MAX_BACKOFF_S)
        bound = min(self._config.retry_backoff_ms / 1000.0 * 2 ** (retry - 1), MAX_BACKOFF_S)
        return random.uniform(bound / 2, bound)

    def _request(self, method: str, url: str, what: str, allow: Iterable[int], **kwargs) -> dict:
        try:
            response = self._session.request(method, url, timeout=self._timeout, **kwargs)
        except requests.Timeout as exc:
            raise _Passing("Solr at %s did not answer within solr.socket.timeout.ms=%d or "
                           "solr.connect.timeout.ms=%d: %s"
                           % (url, self._config.socket_timeout_ms,
                              self._config.connect_timeout_ms, type(exc).__name__),
                           type(exc).__name__) from None
        except requests.RequestException as exc:
            reason = _reason(exc)
            raise _Passing("could not reach Solr at %s: %s" % (url, reason), reason) from None
        status = response.status_code
        if status == 200 or status in allow:
            try:
                return response.json()
            except ValueError:
                if status in allow:
                    return {}
                raise BeamConnectError("Solr at %s answered %s with something other than JSON: %r"
                                       % (url, what, response.text[:200])) from None
        message = _solr_message(response)
        user = ("solr.username=%r" % self._config.username if self._config.username
                else "no solr.username")
        if status == 401:
            raise BeamConnectError(
                "Solr at %s refused the login of %s (HTTP 401) trying to %s: check solr.username "
                "and solr.password" % (url, user, what) if self._config.username else
                "Solr at %s asks for a login (HTTP 401) to %s: set solr.username and solr.password"
                % (url, what))
        if status == 403:
            raise BeamConnectError("Solr at %s does not let %s %s (HTTP 403): %s"
                                   % (url, user, what, message))
        if status == 404:
            raise BeamConnectError("Solr has no such core or handler at %s (HTTP 404) to %s: create "
                                   "the core (the sink creates none) or fix solr.url" % (url, what))
        if status == 409:
            raise VersionConflict("version conflict trying to %s at %s: %s" % (what, url, message))
        if status >= 500 or status == 429:
            raise _Passing("Solr at %s failed to %s (HTTP %d): %s" % (url, what, status, message),
                           "HTTP %d" % status, _retry_after(response))
        match = _DOC_ID.search(message)
        raise Refused("Solr refused to %s (HTTP %d): %s" % (what, status, message),
                      match.group(1) if match else None)


def first(value):
    """A field's value, or its first value when Solr holds it as multi-valued."""
    return value[0] if isinstance(value, list) and value else value


def update_body(adds: Sequence[Mapping], deletes: Sequence[Mapping]) -> bytes:
    """A JSON update command object: one ``add`` per document and one ``delete`` per id (Solr takes
    repeated keys, which a JSON object built by ``json.dumps`` cannot hold)."""
    parts = [b'"add":' + orjson.dumps({"doc": doc}) for doc in adds]
    parts += [b'"delete":' + orjson.dumps(command) for command in deletes]
    return b"{" + b",".join(parts) + b"}"


def _solr_message(response: requests.Response) -> str:
    try:
        error = response.json().get("error", {})
        message = error.get("msg") or json.dumps(error)
    except ValueError:
        message = re.sub(r"<[^>]+>", " ", response.text)  # Jetty's HTML error page
        message = " ".join(message.split())
    return message[:_MESSAGE_LIMIT]


def _retry_after(response: requests.Response) -> Optional[float]:
    """Seconds a ``Retry-After`` header asks to wait (delay-seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds())


def _reason(exc: requests.RequestException) -> str:
    """The cause of a connection failure as the system names it, e.g. ``Connection refused``."""
    found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    return found.group(1).strip() if found else type(exc).__name__
