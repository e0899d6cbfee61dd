"""Beam's Prism runner for local tests: built from Beam's Go module with ``go install``.

Prism is Beam's portable local runner (streaming, splittable DoFns, dynamic splitting). Beam's Python
SDK normally downloads a prebuilt binary at run time; here it is built once, at the version of the
installed apache-beam, into ``${BEAMCONNECT_CACHE:-~/.cache/beamconnect}/prism-<version>/prism``, and
passed to runs with ``--runner PrismRunner --prism_location PATH``.
"""

from __future__ import annotations

import logging
import pathlib

from common.errors import BeamConnectError
from pipelines.dev_cache import cached, go_executable, run_go

_LOGGER = logging.getLogger(__name__)

MODULE = "github.com/apache/beam/sdks/v2/go/cmd/prism"


def beam_version() -> str:
    from apache_beam.version import __version__
    return __version__


def ensure_prism() -> pathlib.Path:
    """Builds Prism unless already built; returns the binary's path. Safe from several processes."""
    version = beam_version()
    what = "Beam's Prism runner (go install %s@v%s)" % (MODULE, version)
    go_executable(what)

    def make(home: pathlib.Path) -> str:
        _LOGGER.info("building Beam's Prism runner %s with go install (once; a few minutes)", version)
        run_go(["install", "%s@v%s" % (MODULE, version)], what, env={"GOBIN": str(home)})
        if not (home / "prism").is_file():
            raise BeamConnectError("go install %s@v%s finished but built no prism binary" % (MODULE, version))
        return "prism %s" % version

    return cached("prism-%s" % version, make) / "prism"


def prism_args(binary: pathlib.Path) -> list:
    """Beam options that run a pipeline on the local Prism binary, workers in this process."""
    return ["--runner", "PrismRunner", "--prism_location", str(binary),
            "--environment_type", "LOOPBACK"]


if __name__ == "__main__":
    print(ensure_prism())
