"""Config keys of the Solr sink: those of jcustenborder's kafka-connect-solr, and where records go.

``HttpSolrSinkConnector``'s keys keep their names, types and defaults: ``solr.url``,
``solr.username``, ``solr.password`` (basic authentication when the user name is set),
``solr.commit.within`` (-1: none), ``solr.delete.documents.enabled`` (true),
``solr.connect.timeout.ms`` (15000) and ``solr.socket.timeout.ms`` (120000). ``flush.size`` is the
sink's own: the offsets of one bundle, which go to Solr as one update request per core. So are
``solr.max.retries`` (5) and ``solr.retry.backoff.ms`` (100): how often, and after how long, a request
Solr answers with HTTP 429 or 5xx, or that fails to connect or times out, is sent again
(:mod:`sinks.search.solr.client`); kafka-connect-solr leaves that to SolrJ and Kafka Connect.

Where records go: ``solr.url`` is either a core (``http://host:8983/solr/orders``), which every record
goes to, as ``HttpSolrSinkTask`` sends everything to its URL, or Solr's base URL (a path ending in
``/solr``), and then each record goes to the core named by its topic after the transforms (a
``RegexRouter`` renames it), as the connector's documentation and ``CloudSolrSinkTask`` name the
collection.

``CloudSolrSinkConnector`` (SolrCloud found through ZooKeeper) is refused: see :data:`CLOUD_REFUSAL`.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from typing import Any, Mapping, Optional

from common.configdef import ConfigDef, ConfigKey
from common.errors import ConfigError
from sinks.base import ConnectorContext

HTTP_CONNECTOR = "com.github.jcustenborder.kafka.connect.solr.HttpSolrSinkConnector"
CLOUD_CONNECTOR = "com.github.jcustenborder.kafka.connect.solr.CloudSolrSinkConnector"

#: Transforms that rename a record's topic: with one, the cores a run writes are known only from its records.
ROUTERS = ("RegexRouter", "TimestampRouter")

_COMMON = [
    ConfigKey("solr.username", "string", "", group="Authentication",
              doc="The user name for basic authentication; empty for none."),
    ConfigKey("solr.password", "password", "", group="Authentication",
              doc="The password for basic authentication (never printed)."),
    ConfigKey("solr.commit.within", "int", -1, min=-1, group="Indexing",
              doc="Ask Solr to commit each update within this many ms, so that its documents become "
                  "searchable; -1 (or 0) leaves commits to the core's autoCommit settings."),
    ConfigKey("solr.delete.documents.enabled", "boolean", True, group="Indexing",
              doc="A tombstone (a record with a key and a null value) deletes its key's document; "
                  "false: tombstones are skipped."),
    ConfigKey("solr.connect.timeout.ms", "int", 15000, min=1, group="Connection",
              doc="How long (ms) connecting to Solr may take."),
    ConfigKey("solr.socket.timeout.ms", "int", 120000, min=1, group="Connection",
              doc="How long (ms) Solr may take to answer a request."),
]

CONFIG_DEF = ConfigDef([
    ConfigKey("solr.url", "string", group="Connection",
              doc="A core (http://host:8983/solr/<core>), which every record goes to, or Solr's base "
                  "URL (http://host:8983/solr), and each record goes to the core its topic names."),
    *_COMMON,
    ConfigKey("solr.max.retries", "int", 5, min=0, group="Connection",
              doc="Retries of a request Solr answers with HTTP 429 or 5xx, or that fails to connect or "
                  "times out; then the failure is retriable per errors.retry.timeout."),
    ConfigKey("solr.retry.backoff.ms", "int", 100, min=0, group="Connection",
              doc="Wait (ms) before the first retry; each further retry waits twice as long (between "
                  "half and all of it, at most 30 s), or as long as Solr's Retry-After says."),
    ConfigKey("flush.size", "int", 1000, min=1, group="Indexing",
              doc="Offsets per bundle: each bundle is one update request per core, and its offsets "
                  "are committed once Solr has taken it."),
])

IGNORED_KEYS = {
    "solr.queue.size": "each bundle (flush.size offsets) goes to Solr as one update request per core, "
                       "so ConcurrentUpdateSolrClient's queue has no counterpart",
    "solr.thread.count": "a bundle's requests are sent one after the other, in order; parallelism "
                         "comes from the Beam runner",
    "solr.core.name": "kafka-connect-solr does not define it either (its example config carries it): "
                      "the core is the one solr.url names, or each record's topic",
    "solr.topic": "kafka-connect-solr does not define it either (its example config carries it): "
                  "the topics are the connector's topics",
}

CLOUD_CONFIG_DEF = ConfigDef([
    *_COMMON,
    ConfigKey("solr.zookeeper.hosts", "list", (), group="Connection",
              doc="ZooKeeper hosts of the SolrCloud cluster (refused: see connector.class)."),
    ConfigKey("solr.zookeeper.chroot", "string", None, group="Connection", doc="(refused)"),
    ConfigKey("solr.zookeeper.connect.timeout.ms", "int", 15000, group="Connection", doc="(refused)"),
    ConfigKey("solr.zookeeper.client.timeout.ms", "int", 45000, group="Connection", doc="(refused)"),
    ConfigKey("solr.zookeeper.retry.expiry.time.ms", "int", 3000, group="Connection", doc="(refused)"),
])

CLOUD_IGNORED_KEYS = {
    "solr.collection.name": "kafka-connect-solr does not define it either (its example config "
                            "carries it): the collection is each record's topic",
}

CLOUD_REFUSAL = (
    "connector.class=%s finds SolrCloud through ZooKeeper (solr.zookeeper.hosts), which this sink "
    "does not do: it would need a ZooKeeper client and SolrCloud's cluster state. Any SolrCloud node "
    "takes the same updates over HTTP and forwards them to the leaders: use connector.class=%s with "
    "solr.url=http://<node>:8983/solr, and each record goes to the collection its topic names, as "
    "with %s" % (CLOUD_CONNECTOR, HTTP_CONNECTOR, CLOUD_CONNECTOR.rsplit(".", 1)[-1]))


@dataclasses.dataclass(frozen=True)
class SolrSinkConfig:
    """The Solr sink's parsed config.

    Attributes:
      url: ``solr.url`` as given, without a trailing slash.
      base_url: Solr's base URL (``solr.url``, or ``solr.url`` without its core).
      core: The core ``solr.url`` names, or None when each record's target topic names it.
      username: ``solr.username``; basic authentication when not empty.
      password: ``solr.password``.
      commit_within_ms: ``solr.commit.within``; 0 or less: none.
      delete_enabled: ``solr.delete.documents.enabled``.
      connect_timeout_ms: ``solr.connect.timeout.ms``.
      socket_timeout_ms: ``solr.socket.timeout.ms``.
      max_retries: ``solr.max.retries``.
      retry_backoff_ms: ``solr.retry.backoff.ms``.
      flush_size: ``flush.size``.
      known_cores: The cores the run writes when they are known before any record is read (the one of
        ``solr.url``, or the topics' when no transform renames them); checked before the run.
    """

    url: str
    base_url: str
    core: Optional[str]
    username: str = ""
    password: str = dataclasses.field(default="", repr=False)
    commit_within_ms: int = -1
    delete_enabled: bool = True
    connect_timeout_ms: int = 15000
    socket_timeout_ms: int = 120000
    max_retries: int = 5
    retry_backoff_ms: int = 100
    flush_size: int = 1000
    known_cores: tuple = ()

    def core_of(self, topic: str) -> str:
        """The core a record of target topic ``topic`` goes to."""
        return self.core or topic

    def core_url(self, core: str) -> str:
        return "%s/%s" % (self.base_url, urllib.parse.quote(core, safe=""))

    @classmethod
    def from_values(cls, values: Mapping[str, Any], connector: ConnectorContext) -> "SolrSinkConfig":
        """Builds the config from :data:`CONFIG_DEF`'s parsed values.

        Raises:
          ConfigError: ``solr.url`` is not an http(s) URL of a core or of Solr's base, or carries
            credentials or a query; a password is set without a user name.
        """
        url, base, core = parse_url(values["solr.url"])
        if values["solr.password"] and not values["solr.username"]:
            raise ConfigError("solr.password is set but solr.username is empty: basic authentication "
                              "needs both")
        if core is not None:
            known = (core,)
        elif connector.topics and not any(kind.rsplit(".", 1)[-1] in ROUTERS
                                          for _, kind in connector.transforms):
            known = tuple(connector.topics)
        else:
            known = ()
        return cls(url=url, base_url=base, core=core, username=values["solr.username"],
                   password=values["solr.password"], commit_within_ms=values["solr.commit.within"],
                   delete_enabled=values["solr.delete.documents.enabled"],
                   connect_timeout_ms=values["solr.connect.timeout.ms"],
                   socket_timeout_ms=values["solr.socket.timeout.ms"],
                   max_retries=values["solr.max.retries"],
                   retry_backoff_ms=values["solr.retry.backoff.ms"],
                   flush_size=values["flush.size"], known_cores=known)


def parse_url(url: str) -> tuple:
    """``(url, base URL, core or None)`` of a ``solr.url``.

    Raises:
      ConfigError: naming the key and what is allowed (never echoing credentials in the URL).
    """
    text = url.strip().rstrip("/")
    parts = urllib.parse.urlsplit(text)
    if parts.username is not None or parts.password is not None:
        raise ConfigError("solr.url must not carry credentials: set solr.username and solr.password")
    allowed = ("an http(s) URL of a core (http://host:8983/solr/<core>) or of Solr's base "
               "(http://host:8983/solr)")
    try:
        parts.port
    except ValueError:
        raise ConfigError("solr.url must be %s, got %r" % (allowed, url)) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("solr.url must be %s, got %r" % (allowed, url))
    if parts.query or parts.fragment:
        raise ConfigError("solr.url must be %s without a query, got %r" % (allowed, url))
    segments = [s for s in parts.path.split("/") if s]
    if not segments:
        raise ConfigError("solr.url must be %s; a URL without a path names neither, got %r"
                          % (allowed, url))
    if segments[-1] == "solr":
        return text, text, None
    core = urllib.parse.unquote(segments[-1])
    base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + "/".join(segments[:-1]), "", ""))
    return text, base.rstrip("/"), core
