"""A throwaway Azurite (Microsoft's Azure Storage emulator) blob service, and where a test finds an Azure
Blob account: :class:`AzureAccount`.

:func:`ensure_azurite` installs the npm package ``azurite`` at :data:`VERSION` (the newest release whose
``engines`` accept Node.js 20) once with ``npm install --ignore-scripts`` into
``${BEAMCONNECT_CACHE:-~/.cache/beamconnect}/azurite-<version>``, under the cache's file lock.
:class:`LocalAzurite` runs its blob service in the foreground::

    azurite-blob --blobHost 127.0.0.1 --blobPort PORT --location DIR --silent --skipApiVersionCheck
                 --disableTelemetry

with its data in its own directory, and one account of its own, :data:`ACCOUNT`, whose key is new for
every server (``AZURITE_ACCOUNTS``). ``--skipApiVersionCheck`` lets the newest SDK's service version
through; ``--disableTelemetry`` keeps it from reaching off the machine. Its endpoint is path-style,
``http://127.0.0.1:PORT/<account>``. It is stopped with SIGTERM.

Set ``AZURE_STORAGE_CONNECTION_STRING`` to run the Azure tests against a real account (or another
Azurite) instead; the tests make and delete containers of their own in it.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import pathlib
import secrets
import shutil
import subprocess
from typing import Optional, Sequence

import requests

from common.errors import BeamConnectError
from pipelines.dev_cache import cached
from tests.servers.base import HOST, ServerProcess

VERSION = "3.35.0"
ACCOUNT = "beamtest"
CONNECTION_STRING_VARIABLE = "AZURE_STORAGE_CONNECTION_STRING"
_NPM_TIMEOUT_S = 600.0


def ensure_azurite(version: str = VERSION) -> pathlib.Path:
    """The ``azurite-blob`` launcher of the cached Azurite ``version``, installed on first use.

    Raises:
      BeamConnectError: npm is missing, or the install failed (with the end of its output).
    """

    def install(home: pathlib.Path) -> str:
        npm = shutil.which("npm")
        if npm is None:
            raise BeamConnectError("npm was not found on PATH; Azurite %s comes from the npm registry"
                                   % version)
        command = [npm, "install", "--prefix", str(home), "--no-audit", "--no-fund", "--ignore-scripts",
                   "--save-exact", "azurite@%s" % version]
        try:
            result = subprocess.run(command, cwd=home, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, timeout=_NPM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise BeamConnectError("npm did not install Azurite %s within %.0f s"
                                   % (version, _NPM_TIMEOUT_S)) from None
        if result.returncode != 0:
            raise BeamConnectError("npm failed to install Azurite %s (exit code %d):\n%s"
                                   % (version, result.returncode, result.stdout[-3000:]))
        return "azurite %s" % version

    launcher = cached("azurite-%s" % version, install) / "node_modules" / ".bin" / "azurite-blob"
    if not launcher.exists():
        raise BeamConnectError("the Azurite %s install has no %s" % (version, launcher))
    return launcher


@dataclasses.dataclass(frozen=True)
class AzureAccount:
    """A storage account the tests may use, and how a connector names it.

    Args:
      connection_string: Its Azure Storage connection string (holds the key; left out of ``repr``).
      name: The account's name.
      key: Its access key, when the connection string has one (left out of ``repr``).
      endpoint: Its blob endpoint (``http://127.0.0.1:PORT/beamtest`` for Azurite).
      server: The suite's own Azurite, or None for an account an environment variable names.
    """

    connection_string: str = dataclasses.field(repr=False)
    name: str
    key: Optional[str] = dataclasses.field(default=None, repr=False)
    endpoint: str = ""
    server: Optional[ServerProcess] = dataclasses.field(default=None, repr=False, compare=False)

    @classmethod
    def from_connection_string(cls, connection_string: str) -> "AzureAccount":
        from azure.storage.blob import BlobServiceClient

        client = BlobServiceClient.from_connection_string(connection_string)
        parts = dict(part.split("=", 1) for part in connection_string.split(";") if "=" in part)
        return cls(connection_string, client.account_name, parts.get("AccountKey"),
                   client.url.split("?")[0].rstrip("/"))

    def service(self):
        """A ``BlobServiceClient`` for the account."""
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string)


class LocalAzurite(ServerProcess):
    """Azurite's blob service on 127.0.0.1 and a free port, with one account of its own.

    Example::

        with LocalAzurite() as server:
            server.account.service().create_container("orders")
    """

    name = "Azurite"

    def __init__(self, options: Sequence[str] = ()):
        super().__init__(options)
        self._key = base64.b64encode(secrets.token_bytes(64)).decode()

    @property
    def account(self) -> AzureAccount:
        """The server's account; only after :meth:`start`."""
        if self.workdir is None:
            raise BeamConnectError("the local %s server has not been started" % self.name)
        endpoint = "http://%s:%d/%s" % (HOST, self.port, ACCOUNT)
        connection = ("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;"
                      % (ACCOUNT, self._key, endpoint))
        return AzureAccount(connection, ACCOUNT, self._key, endpoint, server=self)

    def _initialize(self) -> None:
        self._launcher = ensure_azurite()
        (self.workdir / "data").mkdir()

    def _launch(self) -> subprocess.Popen:
        command = [str(self._launcher), "--blobHost", HOST, "--blobPort", str(self.port),
                   "--location", str(self.workdir / "data"), "--silent", "--skipApiVersionCheck",
                   "--disableTelemetry", *self.options]
        options = self._popen_options()
        options["env"] = {**options["env"], "AZURITE_ACCOUNTS": "%s:%s" % (ACCOUNT, self._key)}
        with open(self.workdir / "azurite.log", "ab") as output:
            return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, **options)

    def _ping(self) -> bool:
        try:  # any answer will do: an unsigned request is refused, but by a running service
            requests.get("http://%s:%d/%s?comp=list" % (HOST, self.port, ACCOUNT), timeout=5)
        except requests.RequestException:
            return False
        return True

    def _log_files(self) -> Sequence[pathlib.Path]:
        return [self.workdir / "azurite.log"]


def open_account():
    """Yields the account ``AZURE_STORAGE_CONNECTION_STRING`` names, or a new local Azurite's, stopped
    afterwards."""
    connection = os.environ.get(CONNECTION_STRING_VARIABLE)
    if connection:
        yield AzureAccount.from_connection_string(connection)
        return
    server = LocalAzurite().start()
    try:
        yield server.account
    finally:
        server.stop()
