"""Beam's Prism runner for local tests: built from Beam's Go module with ``go install``.

Prism is Beam's portable local runner (streaming, splittable DoFns, dynamic splitting). Beam's Python
SDK normally downloads a prebuilt binary at run time; here it is built once, at the version of the
installed apache-beam, into ``${BEAMCONNECT_CACHE:-~/.cache/beamconnect}/prism-<version>/prism``, and
passed to runs with ``--runner PrismRunner --prism_location PATH``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import pathlib
import shutil
import subprocess

from common.errors import BeamConnectError
from pipelines.dev_kafka import cache_dir

_LOGGER = logging.getLogger(__name__)

MODULE = "github.com/apache/beam/sdks/v2/go/cmd/prism"


def beam_version() -> str:
    from apache_beam.version import __version__
    return __version__


def ensure_prism() -> pathlib.Path:
    """Builds Prism unless already built; returns the binary's path. Safe from several processes."""
    version = beam_version()
    home = cache_dir() / ("prism-%s" % version)
    binary = home / "prism"
    if binary.is_file():
        return binary
    go = shutil.which("go")
    if go is None:
        raise BeamConnectError("Go is needed to build Beam's Prism runner (go install %s@v%s); the "
                               "README's setup command installs it" % (MODULE, version))
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.is_file():
            return binary
        _LOGGER.info("building Beam's Prism runner %s with go install (once; a few minutes)", version)
        partial = home / "bin.partial"
        shutil.rmtree(partial, ignore_errors=True)
        built = subprocess.run([go, "install", "%s@v%s" % (MODULE, version)],
                               env={**os.environ, "GOBIN": str(partial), "GOFLAGS": "-mod=mod"},
                               capture_output=True, text=True)
        if built.returncode != 0 or not (partial / "prism").is_file():
            raise BeamConnectError("go install %s@v%s failed:\n%s"
                                   % (MODULE, version, built.stderr[-3000:]))
        os.replace(partial / "prism", binary)
        shutil.rmtree(partial, ignore_errors=True)
    return binary


def prism_args(binary: pathlib.Path) -> list:
    """Beam options that run a pipeline on the local Prism binary, workers in this process."""
    return ["--runner", "PrismRunner", "--prism_location", str(binary),
            "--environment_type", "LOOPBACK"]


if __name__ == "__main__":
    print(ensure_prism())
