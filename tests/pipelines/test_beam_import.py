"""A run on the DirectRunner imports Beam without its cloud clients, in the launcher and in its worker
processes; any other runner, or a cloud path among the Beam options, gets Beam whole."""

import json
import os
import pathlib
import subprocess
import sys

from pipelines.beam_import import SKIPPED, is_lean, runner_of

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Imports Beam as a run with the Beam options in argv does, runs a pipeline on the runner a bounded run
# gets (two worker processes when asked), then imports the skipped clients; prints what each process
# had loaded.
PROBE = r"""
import json, os, sys
from pipelines.beam_import import SKIPPED, lean_beam
beam_args = sys.argv[1:]
with lean_beam(beam_args):
    import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from pipelines.runners import batch_runner

def loaded(_):
    skipped = sorted(m for m in sys.modules if m in SKIPPED or m.split(".")[0] in SKIPPED)
    command = open("/proc/%d/cmdline" % os.getpid()).read().split("\0")
    return json.dumps({"pid": os.getpid(), "command": command, "skipped": skipped,
                       "storage": "google.cloud.storage" in sys.modules})

def note(process):  # one file per process described (a worker's prints may not reach our stdout)
    with open(os.path.join(os.environ["PROBE_DIR"], "%d.json" % json.loads(process)["pid"]), "w") as f:
        f.write(process)

options = PipelineOptions(beam_args)
with beam.Pipeline(runner=batch_runner(options), options=options) as p:
    squares = p | beam.Create(range(100)) | beam.Reshuffle() | beam.Map(lambda x: x * x)
    _ = squares | beam.CombineGlobally(sum) | beam.Map(lambda s: print("sum", s, flush=True))
    _ = squares | beam.Map(loaded) | beam.Distinct() | beam.Map(note)
print("launcher", loaded(None))
import pymongo, google.cloud.storage  # the skipped clients import as usual after Beam
print("after", sorted(m for m in ("pymongo", "google.cloud.storage") if m in sys.modules))
"""

TWO_WORKERS = ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]


def _probe(tmp_path, *beam_args: str) -> tuple:
    done = subprocess.run([sys.executable, "-c", PROBE, *beam_args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PROBE_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert "sum %d" % sum(x * x for x in range(100)) in lines, done.stdout
    launcher = json.loads(next(line for line in lines if line.startswith("launcher "))[9:])
    workers = [json.loads(path.read_text()) for path in sorted(tmp_path.glob("*.json"))]
    after = next(line for line in lines if line.startswith("after "))
    return launcher, workers, after, done.stderr


def test_the_runner_and_cloud_paths_among_the_beam_options_decide():
    assert runner_of([]) == "DirectRunner"
    assert runner_of(["--runner", "apache_beam.runners.dask.dask_runner.DaskRunner"]) == "DaskRunner"
    assert runner_of(["--runner=DataflowRunner", "--project", "p"]) == "DataflowRunner"
    assert is_lean([]) and is_lean(["--runner", "DirectRunner", *TWO_WORKERS])
    assert is_lean(["--temp_location", "/tmp/beam"])
    assert not is_lean(["--runner", "DataflowRunner"])
    assert not is_lean(["--runner=FlinkRunner"])
    assert not is_lean(["--temp_location", "gs://bucket/tmp"])
    assert not is_lean(["--staging_location=s3://bucket/staging"])


def test_a_local_run_imports_beam_without_the_cloud_clients_and_runs(tmp_path):
    launcher, workers, after, stderr = _probe(tmp_path)

    assert launcher["skipped"] == [] and not launcher["storage"]
    assert [w["pid"] for w in workers] == [launcher["pid"]]  # the in-process runner
    assert after == "after ['google.cloud.storage', 'pymongo']"
    assert "bson" not in stderr  # Beam's notice of a MongoDB IO without its driver is not said


def test_the_worker_processes_of_two_tasks_import_beam_lean_too(tmp_path):
    launcher, workers, _, _ = _probe(tmp_path, *TWO_WORKERS)

    assert len(workers) == 2 and launcher["pid"] not in {w["pid"] for w in workers}
    for worker in workers:
        assert worker["command"][1:3] == ["-m", "pipelines.sdk_worker"], worker
        assert worker["skipped"] == [] and not worker["storage"], worker


def test_another_runner_or_a_cloud_path_gets_beam_whole(tmp_path):
    launcher, workers, _, _ = _probe(tmp_path, "--temp_location", "gs://bucket/tmp", *TWO_WORKERS)

    assert "apache_beam.io.gcp.gcsfilesystem" in SKIPPED
    assert launcher["storage"]  # Beam's GCS filesystem imported its client
    assert len(workers) == 2
    for worker in workers:  # and the workers are Beam's own
        assert worker["command"][1:3] == ["-m", "apache_beam.runners.worker.sdk_worker_main"], worker
