"""Reading the HDFS store's keys: ``hdfs.url``/``store.url``, ``hadoop.conf.dir``'s Hadoop files, the
Kerberos keys, and whether libhdfs is installed; :func:`hdfs_storage` makes the store they name.

See :mod:`sinks.files.storage.hdfs` for the URL forms and how each one is reached.
"""

from __future__ import annotations

import getpass
import glob
import os
import urllib.parse
import xml.etree.ElementTree as ElementTree
from typing import Any, Mapping, Optional

from common.errors import ConfigError
from sinks.files.storage.hdfs import HdfsStorage, KerberosLogin, NativeClient

HDFS_SCHEMES = ("hdfs", "webhdfs", "swebhdfs")
HTTP_PORT, HTTPS_PORT, RPC_PORT = 9870, 9871, 8020

#: Keys that only HDFS stores read (those without a default value).
HDFS_ONLY_KEYS = ("hdfs.url", "hadoop.conf.dir", "hadoop.home", "connect.hdfs.principal",
                  "connect.hdfs.keytab", "hdfs.namenode.principal")


def is_hdfs(values: Mapping[str, Any]) -> bool:
    """Whether the keys name an HDFS store (``hdfs.url``, or an HDFS ``store.url``)."""
    url = values.get("store.url") or ""
    return bool(values.get("hdfs.url")) or urllib.parse.urlsplit(url).scheme.lower() in HDFS_SCHEMES


def hdfs_url(values: Mapping[str, Any]) -> str:
    """The HDFS URL the keys name; ``hdfs.url`` and ``store.url`` may both be set only if equal."""
    url, store_url = values.get("hdfs.url"), values.get("store.url")
    if url and store_url and url.rstrip("/") != store_url.rstrip("/"):
        raise ConfigError("set hdfs.url or store.url, not both (hdfs.url=%r, store.url=%r); store.url "
                          "is the newer name" % (url, store_url))
    url = url or store_url
    if urllib.parse.urlsplit(url).scheme.lower() not in HDFS_SCHEMES:
        raise ConfigError("hdfs.url must be an hdfs://, webhdfs:// or swebhdfs:// URL, got %r" % url)
    return url


def hdfs_storage(values: Mapping[str, Any]) -> HdfsStorage:
    """The HDFS store the keys name (validated: URL, conf dir, Kerberos keys)."""
    url = hdfs_url(values)
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if parts.query or parts.fragment:
        raise ConfigError("hdfs.url must not have a query or fragment, got %r" % url)
    conf = read_conf_dir(values.get("hadoop.conf.dir"))
    kerberos = _kerberos(values)
    root = "/" + parts.path.strip("/")
    if scheme == "hdfs":
        netloc = parts.netloc
        if not netloc:
            default = urllib.parse.urlsplit(conf.get("fs.defaultFS", ""))
            if default.scheme != "hdfs" or not default.netloc:
                raise ConfigError(
                    "hdfs.url=%r names no namenode: write hdfs://namenode:8020, or set hadoop.conf.dir "
                    "to a directory whose core-site.xml has an hdfs:// fs.defaultFS (got %r)"
                    % (url, conf.get("fs.defaultFS")))
            netloc = default.netloc
        host, port = _host_port(netloc, url)
        namenodes = webhdfs_addresses(host, conf)
        shown = "hdfs://%s%s" % (netloc, root.rstrip("/"))
        libhdfs = find_libhdfs(values.get("hadoop.home"))
        native = None
        if libhdfs is not None:
            ha = host in _split(conf.get("dfs.nameservices"))
            native = NativeClient(host, 0 if ha else (port or RPC_PORT), libhdfs, values.get("hadoop.home"),
                                  tuple(sorted(conf.items())))
    else:
        host, port = _host_port(parts.netloc, url)
        if not host:
            raise ConfigError("hdfs.url must name the WebHDFS host, %s://host:port, got %r" % (scheme, url))
        http = "https" if scheme == "swebhdfs" else "http"
        namenodes = ["%s://%s:%d" % (http, host, port or (HTTPS_PORT if http == "https" else HTTP_PORT))]
        shown, native = "%s://%s%s" % (scheme, parts.netloc, root.rstrip("/")), None
    if native is None:
        require_fsspec()
    user = None if kerberos else (os.environ.get("HADOOP_USER_NAME") or getpass.getuser())
    return HdfsStorage(shown, root, namenodes, user=user, kerberos=kerberos, native=native)


def _host_port(netloc: str, url: str) -> tuple:
    try:
        parsed = urllib.parse.urlsplit("//" + netloc)
        return parsed.hostname or "", parsed.port
    except ValueError:
        raise ConfigError("hdfs.url has an invalid host or port: %r" % url) from None


def _kerberos(values: Mapping[str, Any]) -> Optional[KerberosLogin]:
    principal, keytab = values.get("connect.hdfs.principal"), values.get("connect.hdfs.keytab")
    if not values.get("hdfs.authentication.kerberos"):
        for key in ("connect.hdfs.principal", "connect.hdfs.keytab", "hdfs.namenode.principal"):
            if values.get(key):
                raise ConfigError("%s applies with hdfs.authentication.kerberos=true, which is not set"
                                  % key)
        return None
    if not principal or not keytab:
        raise ConfigError("hdfs.authentication.kerberos=true needs both connect.hdfs.principal and "
                          "connect.hdfs.keytab (the principal and the path of its keytab)")
    require_kerberos_client()
    return KerberosLogin(principal, keytab, values.get("hdfs.namenode.principal") or None)


def require_fsspec() -> None:
    try:
        import fsspec.implementations.webhdfs  # noqa: F401
    except ImportError:
        raise ConfigError("HDFS stores are written through fsspec's WebHDFS client; install it with "
                          "pip install 'beamconnect[hdfs]'") from None


def require_kerberos_client() -> None:
    for modules in (("gssapi", "requests_gssapi"), ("requests_kerberos",)):
        try:
            for module in modules:
                __import__(module)
        except ImportError:
            continue
        return
    raise ConfigError("hdfs.authentication.kerberos=true needs a Kerberos client for WebHDFS: install "
                      "it with pip install 'beamconnect[hdfs-kerberos]' (requests-gssapi), or "
                      "requests-kerberos")


def read_conf_dir(directory: Optional[str]) -> dict:
    """The properties of ``core-site.xml`` and ``hdfs-site.xml`` in ``hadoop.conf.dir`` (the latter's
    win); {} without a directory.

    Raises:
      ConfigError: the directory holds neither file, or one is not a Hadoop configuration file.
    """
    if not directory:
        return {}
    files = [os.path.join(directory, name) for name in ("core-site.xml", "hdfs-site.xml")]
    if not any(os.path.isfile(f) for f in files):
        raise ConfigError("hadoop.conf.dir=%r holds neither core-site.xml nor hdfs-site.xml" % directory)
    properties = {}
    for path in files:
        if not os.path.isfile(path):
            continue
        try:
            root = ElementTree.parse(path).getroot()
        except (ElementTree.ParseError, OSError) as exc:
            raise ConfigError("hadoop.conf.dir: %s is not a Hadoop configuration file: %s" % (path, exc)) \
                from None
        if root.tag != "configuration":
            raise ConfigError("hadoop.conf.dir: %s is not a Hadoop configuration file (its root "
                              "element is <%s>, not <configuration>)" % (path, root.tag))
        for prop in root.iter("property"):
            name, value = prop.findtext("name"), prop.findtext("value")
            if name and value is not None:
                properties[name.strip()] = value.strip()
    return properties


def webhdfs_addresses(host: str, conf: Mapping[str, str]) -> list:
    """The WebHDFS base URLs of namenode (or HA nameservice) ``host``, as ``conf`` gives them."""
    https = conf.get("dfs.http.policy", "HTTP_ONLY").upper() == "HTTPS_ONLY"
    key = "dfs.namenode.https-address" if https else "dfs.namenode.http-address"
    scheme, port = ("https", HTTPS_PORT) if https else ("http", HTTP_PORT)
    if host in _split(conf.get("dfs.nameservices")):
        namenodes = _split(conf.get("dfs.ha.namenodes.%s" % host))
        keys = ["%s.%s.%s" % (key, host, nn) for nn in namenodes] or ["%s.%s" % (key, host)]
        missing = [k for k in keys if not conf.get(k)]
        if missing:
            raise ConfigError("hadoop.conf.dir: nameservice %s has no %s" % (host, missing[0]))
        addresses = [conf[k] for k in keys]
    else:
        addresses = [conf.get(key) or "%s:%d" % (host, port)]
    urls = []
    for address in addresses:
        name, _, number = address.strip().rpartition(":")
        if not name or not number.isdigit():
            raise ConfigError("hadoop.conf.dir: %s must be HOST:PORT, got %r" % (key, address))
        if name in ("0.0.0.0", "[::]", "::"):  # the namenode's bind address: reach it by its name
            name = host
        urls.append("%s://%s:%s" % (scheme, name, number))
    return urls


def find_libhdfs(hadoop_home: Optional[str]) -> Optional[str]:
    """The directory holding libhdfs.so (``ARROW_LIBHDFS_DIR``, or ``lib/native`` of ``hadoop.home``
    or ``HADOOP_HOME``), or None when there is none: then WebHDFS is used."""
    candidates = [os.environ.get("ARROW_LIBHDFS_DIR")]
    for home in (hadoop_home, os.environ.get("HADOOP_HOME")):
        if home:
            candidates.append(os.path.join(home, "lib", "native"))
    for directory in candidates:
        if directory and glob.glob(os.path.join(directory, "libhdfs.so*")):
            return directory
    return None


def _split(value: Optional[str]) -> list:
    return [item.strip() for item in (value or "").split(",") if item.strip()]
