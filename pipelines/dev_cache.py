"""The machine-wide cache of what the local servers need: Maven Central jars, compiled Java mains, Go
binaries, built once and shared by the demo, the tests and every process that asks at the same time.

Everything lives in ``${BEAMCONNECT_CACHE:-~/.cache/beamconnect}/<name>``. :func:`cached` makes an
entry under a file lock and marks it complete with a stamp, so a second process waits for the first
instead of building again, and what an interrupted attempt left is removed before the next one.

Maven runs with a ``settings.xml`` whose one mirror is Maven Central: a POM that names other
repositories then fails at once instead of hanging on one this machine cannot reach.
"""

from __future__ import annotations

import fcntl
import logging
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
from typing import Callable, Iterable, Mapping, Optional, Sequence, Tuple

from common.errors import BeamConnectError

_LOGGER = logging.getLogger(__name__)

MAVEN_TIMEOUT_S = 900.0
STAMP = "complete.stamp"

_POM = """\
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.beamconnect</groupId>
  <artifactId>{name}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
</project>
"""
_DEPENDENCY = ("    <dependency><groupId>{0}</groupId><artifactId>{1}</artifactId>"
               "<version>{2}</version></dependency>")
_SETTINGS = """\
<settings>
  <mirrors>
    <mirror><id>central</id><mirrorOf>*</mirrorOf><url>https://repo.maven.apache.org/maven2</url></mirror>
  </mirrors>
</settings>
"""


def cache_dir() -> pathlib.Path:
    """``${BEAMCONNECT_CACHE:-~/.cache/beamconnect}``."""
    root = os.environ.get("BEAMCONNECT_CACHE") or "~/.cache/beamconnect"
    return pathlib.Path(root).expanduser()


def cached(name: str, make: Callable[[pathlib.Path], Optional[str]]) -> pathlib.Path:
    """``<cache>/<name>``, made by ``make(directory)`` unless an earlier call completed it.

    Safe to call from several processes at once: one makes it under a file lock while the others
    wait. ``make`` may return a line for the stamp (what was made); an exception leaves the entry
    incomplete, and the next call starts again from an empty directory.
    """
    home = cache_dir() / name
    stamp = home / STAMP
    if stamp.is_file():
        return home
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file():  # another process made it while this one waited
            return home
        for entry in home.iterdir():  # what an interrupted attempt left
            if entry.name != ".lock":
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink()
        started = time.monotonic()
        line = make(home)
        stamp.write_text("%s\n" % (line or name))
        _LOGGER.info("Prepared %s in %.1f s", home, time.monotonic() - started)
    return home


def maven_jars(artifacts: Iterable[Tuple[str, str, str]], libs: pathlib.Path, what: str, *,
               env: Optional[Mapping[str, str]] = None) -> int:
    """Resolves ``(groupId, artifactId, version)`` and their runtime dependencies from Maven Central
    into ``libs`` (``mvn dependency:copy-dependencies``); returns how many jars it holds.

    Raises:
      BeamConnectError: naming ``what``, when ``mvn`` is missing, fails or takes too long.
    """
    run_maven(["dependency:copy-dependencies", "-DoutputDirectory=%s" % libs, "-DincludeScope=runtime"],
              what, artifacts=artifacts, env=env)
    return len(list(libs.glob("*.jar")))


def run_maven(goals: Sequence[str], what: str, *, artifacts: Iterable[Tuple[str, str, str]] = (),
              env: Optional[Mapping[str, str]] = None) -> None:
    """Runs ``mvn <goals>`` on a POM depending on ``artifacts``, with Maven Central as the only mirror.

    Raises:
      BeamConnectError: naming ``what``, when ``mvn`` is missing, fails or takes too long.
    """
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BeamConnectError("mvn was not found on PATH; %s comes from Maven Central" % what)
    with tempfile.TemporaryDirectory(prefix="beamconnect-pom-") as work:
        pom, settings = pathlib.Path(work) / "pom.xml", pathlib.Path(work) / "settings.xml"
        pom.write_text(_POM.format(name="local-servers", dependencies="\n".join(
            _DEPENDENCY.format(*artifact) for artifact in artifacts)))
        settings.write_text(_SETTINGS)
        command = [mvn, "-q", "-B", "-s", str(settings), "-f", str(pom), *goals]
        try:
            result = subprocess.run(command, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, timeout=MAVEN_TIMEOUT_S,
                                    env=dict(env) if env is not None else None)
        except subprocess.TimeoutExpired:
            raise BeamConnectError("mvn did not resolve %s within %.0f s" % (what, MAVEN_TIMEOUT_S)) from None
    if result.returncode != 0:
        raise BeamConnectError("mvn failed to resolve %s (exit code %d):\n%s"
                               % (what, result.returncode, result.stdout[-3000:]))


def compile_java(class_name: str, source: str, libs: pathlib.Path, classes: pathlib.Path,
                 what: str) -> None:
    """Compiles one Java class, ``class_name`` with ``source``, against ``libs/*`` into ``classes``."""
    from pipelines.dev_kafka import java_executable

    classes.mkdir(parents=True, exist_ok=True)
    path = classes / ("%s.java" % class_name)
    path.write_text(source)
    javac = os.path.join(os.path.dirname(os.path.realpath(java_executable())), "javac")
    result = subprocess.run([javac, "-cp", str(libs / "*"), "-d", str(classes), str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    if result.returncode != 0:
        raise BeamConnectError("javac of the %s launcher failed:\n%s" % (what, result.stdout[-3000:]))


def go_executable(what: str) -> str:
    """The ``go`` on PATH, or a BeamConnectError saying that ``what`` is built with it."""
    go = shutil.which("go")
    if go is None:
        raise BeamConnectError("Go is needed to build %s; the README's setup command installs it" % what)
    return go


def run_go(args: Sequence[str], what: str, *, cwd: Optional[pathlib.Path] = None,
           env: Optional[Mapping[str, str]] = None, timeout: float = 1800.0) -> str:
    """Runs ``go <args>`` (``GOFLAGS=-mod=mod`` unless ``env`` says otherwise); returns its stdout.

    Raises:
      BeamConnectError: naming ``what`` and the tail of Go's output, when it fails.
    """
    go = go_executable(what)
    environment = {**os.environ, "GOFLAGS": "-mod=mod", **(env or {})}
    try:
        result = subprocess.run([go, *args], cwd=cwd, env=environment, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BeamConnectError("go %s (%s) did not finish within %.0f s" % (args[0], what, timeout)) from None
    if result.returncode != 0:
        raise BeamConnectError("go %s failed for %s:\n%s"
                               % (" ".join(args), what, (result.stderr or result.stdout)[-3000:]))
    return result.stdout
