"""Importing Beam without the cloud clients a run on this machine never uses.

``import apache_beam`` imports, eagerly, Beam's GCS, S3 and Azure filesystems, its BigQuery and Pub/Sub
IO, the Dataflow runner's API client, the Google API client's error classes and its MongoDB IO's
driver: about half of the import (0.5 of ~0.95 s here, ``python -X importtime -c "import apache_beam"``).
A run on the DirectRunner uses none of them: the sinks write through their own clients, imported when
a connector needs one, and nothing is staged. :func:`lean_beam` imports Beam with those modules
reported missing, which Beam's own ``try: ... except ImportError`` around each of them expects (it is
how Beam runs where the cloud extras are not installed); once Beam is imported, every module imports
as usual again (the first gs:// store imports ``google.cloud.storage`` then, a MongoDB sink
``pymongo``).

It applies only to the first import of Beam in a process, and only where the Beam options choose the
DirectRunner and name no cloud path (``--temp_location gs://...``): any other runner, or a path in a
Beam filesystem, gets Beam whole. The DirectRunner's worker processes (``tasks.max > 1``) import Beam
the same way (:mod:`pipelines.sdk_worker`).

This module imports nothing from Beam: it runs before Beam is imported.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import logging
import sys
from typing import Iterator, Sequence

#: What Beam imports only to offer it: the cloud filesystems (each imports its client: google-cloud-
#: storage, boto3, azure-storage-blob), BigQuery (and with it Pub/Sub and the cross-language IOs), the
#: Dataflow API client, apitools (whose HttpError Beam's retry filters look for when present) and the
#: MongoDB driver that Beam's MongoDB IO imports.
SKIPPED = frozenset((
    "apache_beam.io.gcp.gcsfilesystem",
    "apache_beam.io.aws.s3filesystem",
    "apache_beam.io.azure.blobstoragefilesystem",
    "apache_beam.io.gcp.bigquery",
    "google.cloud.dataflow",
    "apitools",
    "bson",
    "pymongo",
))
#: What Beam's MongoDB IO logs when its import finds no driver: true of a lean import, so not said.
_MONGODB_IO_NOTICE = "Could not find a compatible bson package"
#: The DirectRunner's names: it runs in this process and its worker processes, staging nothing.
DIRECT_RUNNERS = ("DirectRunner", "SwitchingDirectRunner", "BundleBasedDirectRunner")
#: The schemes of Beam's cloud filesystems, which a Beam option naming such a path needs.
CLOUD_SCHEMES = ("gs://", "s3://", "azfs://")


def runner_of(beam_args: Sequence[str]) -> str:
    """The short name of the runner ``--runner`` names in ``beam_args`` (DirectRunner when none),
    read without Beam's option parser."""
    runner = "DirectRunner"
    for i, arg in enumerate(beam_args):
        if arg == "--runner" and i + 1 < len(beam_args):
            runner = beam_args[i + 1]
        elif arg.startswith("--runner="):
            runner = arg.split("=", 1)[1]
    return runner.split(".")[-1]


def is_lean(beam_args: Sequence[str]) -> bool:
    """Whether a run with these Beam options can import Beam without :data:`SKIPPED`."""
    return runner_of(beam_args) in DIRECT_RUNNERS and not any(
        scheme in arg for arg in beam_args for scheme in CLOUD_SCHEMES)


class _Skip(importlib.abc.MetaPathFinder):
    """Reports the modules in :data:`SKIPPED` (and their submodules) as not installed."""

    def find_spec(self, name, path=None, target=None):
        if name in SKIPPED or any(name.startswith(skipped + ".") for skipped in SKIPPED):
            raise ModuleNotFoundError("%s is not imported on a local run" % name, name=name)
        return None


@contextlib.contextmanager
def lean_beam(beam_args: Sequence[str]) -> Iterator[None]:
    """Within the block, the first ``import apache_beam`` skips :data:`SKIPPED` if ``beam_args``
    allow it (:func:`is_lean`); a no-op where Beam is imported already or the options need it whole."""
    if "apache_beam" in sys.modules or not is_lean(beam_args):
        yield
        return
    finder = _Skip()
    mongodb_io = logging.getLogger("apache_beam.io.mongodbio")
    sys.meta_path.insert(0, finder)
    mongodb_io.addFilter(_not_the_driver_notice)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        mongodb_io.removeFilter(_not_the_driver_notice)


def _not_the_driver_notice(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(_MONGODB_IO_NOTICE)
