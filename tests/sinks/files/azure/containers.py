"""A container the Azure tests write to: what a connector config needs to reach it, and direct access
to check and seed it."""

import uuid

from tests.servers.azurite import AzureAccount


class Container:
    """A new container in ``account``, read and written with the SDK directly."""

    def __init__(self, account: AzureAccount):
        self.account = account
        self.name = "c-%s" % uuid.uuid4().hex[:12]
        self.client = account.service().get_container_client(self.name)
        self.client.create_container()

    def config(self, prefix=""):
        """Connector keys for ``prefix`` in this container: an ``az://`` URL with the connection
        string, or (no prefix) Confluent's account keys with the endpoint in ``store.url``."""
        if prefix:
            return {"store.url": "az://%s/%s" % (self.name, prefix),
                    "azblob.connection.string": self.account.connection_string}
        if self.account.key is None:  # a SAS connection string
            return {"azblob.container.name": self.name,
                    "azblob.connection.string": self.account.connection_string}
        return {"azblob.account.name": self.account.name, "azblob.account.key": self.account.key,
                "azblob.container.name": self.name, "store.url": self.account.endpoint}

    def url(self, key):
        return "az://%s/%s" % (self.name, key)

    def keys(self, prefix=""):
        return sorted(blob.name for blob in self.client.list_blobs(name_starts_with=prefix or None))

    def read(self, key):
        return self.client.download_blob(key).readall()

    def put(self, key, data):
        self.client.upload_blob(key, data, overwrite=True)

    def etags(self, prefix=""):
        """{key: ETag} of every blob: an ETag changes with every write of a blob."""
        return {blob.name: blob.etag for blob in self.client.list_blobs(name_starts_with=prefix or None)}

    def delete(self):
        self.client.delete_container()
