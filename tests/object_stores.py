"""Real object-store servers for the suite, and buckets in them that tests can read and seed.

S3 is moto's server and GCS is gcp-storage-emulator, both Python packages from PyPI started here on
loopback, one each per session; every test gets a bucket of its own. A store is handed to a connector
the way a user would: Confluent's ``s3.bucket.name`` with ``store.url`` as the endpoint and an access
key for S3, and a ``gs://`` URL with ``STORAGE_EMULATOR_HOST`` (Google's own emulator switch) for GCS.
"""

import os
import subprocess
import sys
import time
import uuid

from pipelines.processes import accepts_connections, die_with_parent, free_ports, stop_process

ACCESS_KEY, SECRET_KEY, REGION = "testing", "testing-secret", "us-east-1"


class StoreServer:
    """One server process on a free loopback port; stopped with its process group."""

    def __init__(self, name, argv):
        self.name = name
        self.port = free_ports(1)[0]
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self._argv = [a.replace("{port}", str(self.port)) for a in argv]
        self._process = None

    def start(self, log_dir, timeout=60.0):
        log = open(os.path.join(log_dir, "%s.log" % self.name), "wb")
        self._process = subprocess.Popen(self._argv, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True, preexec_fn=die_with_parent)
        log.close()
        deadline = time.monotonic() + timeout
        while not accepts_connections(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("%s did not start on port %d; see %s" % (self.name, self.port, log.name))
            time.sleep(0.1)
        return self

    def stop(self):
        if self._process is not None:
            stop_process(self._process, self.name, timeout=10)


def s3_server():
    return StoreServer("moto-s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "{port}"])


def gcs_server():
    return StoreServer("gcs-emulator", [sys.executable, "-m", "gcp_storage_emulator", "start",
                                        "--host", "127.0.0.1", "--port", "{port}", "--in-memory"])


class Bucket:
    """A fresh bucket: what a connector config needs to write to it, and direct access to check it."""

    #: extra environment a connector process needs to reach the store
    env = {}

    def config(self, prefix=""):
        """Connector keys that point the file sink at ``prefix`` in this bucket."""
        raise NotImplementedError

    def url(self, key):
        """The path the sink reports for ``key``."""
        raise NotImplementedError

    def keys(self, prefix=""):
        raise NotImplementedError

    def read(self, key):
        raise NotImplementedError

    def put(self, key, data):
        raise NotImplementedError


class S3Bucket(Bucket):
    def __init__(self, server):
        import boto3

        self.server = server
        self.name = "b-%s" % uuid.uuid4().hex[:12]
        self.client = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=ACCESS_KEY,
                                   aws_secret_access_key=SECRET_KEY, region_name=REGION)
        self.client.create_bucket(Bucket=self.name)

    def config(self, prefix=""):
        if prefix:
            return {"store.url": "s3://%s/%s" % (self.name, prefix), "s3.region": REGION,
                    "aws.access.key.id": ACCESS_KEY, "aws.secret.access.key": SECRET_KEY}
        return {"s3.bucket.name": self.name, "store.url": self.server.endpoint, "s3.region": REGION,
                "aws.access.key.id": ACCESS_KEY, "aws.secret.access.key": SECRET_KEY}

    @property
    def env(self):  # an s3:// store.url takes its endpoint from boto3's environment variable
        return {"AWS_ENDPOINT_URL": self.server.endpoint}

    def url(self, key):
        return "s3://%s/%s" % (self.name, key)

    def keys(self, prefix=""):
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", ()))

    def read(self, key):
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def put(self, key, data):
        self.client.put_object(Bucket=self.name, Key=key, Body=data)


class GcsBucket(Bucket):
    def __init__(self, server):
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        self.server = server
        self.name = "b-%s" % uuid.uuid4().hex[:12]
        self.client = storage.Client(project="test", credentials=AnonymousCredentials(),
                                     client_options={"api_endpoint": server.endpoint})
        self.client.create_bucket(self.name)
        self.env = {"STORAGE_EMULATOR_HOST": server.endpoint}

    def config(self, prefix=""):
        if prefix:
            return {"store.url": "gs://%s/%s" % (self.name, prefix)}
        return {"gcs.bucket.name": self.name}

    def url(self, key):
        return "gs://%s/%s" % (self.name, key)

    def keys(self, prefix=""):
        return sorted(blob.name for blob in self.client.list_blobs(self.name, prefix=prefix))

    def read(self, key):
        return self.client.bucket(self.name).blob(key).download_as_bytes()

    def put(self, key, data):
        self.client.bucket(self.name).blob(key).upload_from_string(data)
