"""The same connector on other runners: Beam's portable job service and Prism (run for real here), and
Dataflow (the job that would be submitted is built with ``--dry_run`` and inspected; no Dataflow
service can run here, so nothing is submitted)."""

import json
import os
import socket
import subprocess
import sys
import time

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.internal import pickler
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability import common_urns
from apache_beam.portability.api import beam_runner_api_pb2

from pipelines.build import build_pipeline
from pipelines.cli import main
from pipelines.config.connector import parse_connector_config
from pipelines.dev_prism import prism_args
from sinks.files.storage import GcsStorage
from tests.helpers import ROOT, json_files_config, run_cli, write_config
from transforms.kafka.planning import PartitionPlan


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def job_endpoint():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m",
                             "apache_beam.runners.portability.local_job_service_main",
                             "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield "localhost:%d" % port
    finally:
        proc.terminate()
        proc.wait(20)


def test_portable_runner_runs_the_connector(kafka, tmp_path, job_endpoint):
    topic = kafka.topic(partitions=3)
    for p in range(3):
        kafka.produce(topic, [(None, json.dumps({"p": p, "i": i}).encode()) for i in range(12)],
                      partition=p)
    config = write_config(tmp_path / "c.json", json_files_config(
        "portable-" + topic, topic, tmp_path / "out", **{"format.class": "json"}))

    code = main(["run", str(config), "--bootstrap-servers", kafka.servers, "--runner",
                 "PortableRunner", "--job_endpoint", job_endpoint, "--environment_type", "LOOPBACK"])

    assert code == 0
    rows = []
    for d, _, names in os.walk(tmp_path / "out"):
        for n in names:
            rows += [json.loads(line) for line in open(os.path.join(d, n))]
    assert sorted((r["p"], r["i"]) for r in rows) == [(p, i) for p in range(3) for i in range(12)]
    assert len(os.listdir(tmp_path / "out" / "topics" / topic / "partition=1")) == 2


def _files_and_rows(store):
    found = {}
    for d, _, names in os.walk(store):
        for n in names:
            path = os.path.join(d, n)
            found[os.path.relpath(path, store)] = pq.read_table(path).to_pylist()
    return found


def test_prism_and_two_workers_write_exactly_the_files_one_direct_worker_writes(kafka, tmp_path, prism):
    """Prism and two DirectRunner workers schedule (and may split) the Kafka read differently from one
    worker; the files must not change."""
    topic = kafka.topic(partitions=3)
    for p in range(3):
        kafka.produce(topic, [(None, json.dumps({"p": p, "i": i}).encode()) for i in range(3000)],
                      partition=p)
    runs = {"direct": ["--runner", "DirectRunner"], "prism": prism_args(prism),
            "direct-2-threads": ["--runner", "DirectRunner", "--direct_num_workers", "2",
                                 "--direct_running_mode", "multi_threading"]}
    for name, args in runs.items():
        config = write_config(tmp_path / (name + ".json"), json_files_config(
            "%s-%s" % (name, topic), topic, tmp_path / name, **{"flush.size": "100"}))
        # a process each: Beam keeps one Prism job server per process, whatever its options
        done = run_cli("run", config, "--bootstrap-servers", kafka.servers, *args)
        assert done.returncode == 0, done.stderr[-3000:]

    direct = _files_and_rows(tmp_path / "direct")
    assert len(direct) == 90
    assert _files_and_rows(tmp_path / "prism") == direct
    assert _files_and_rows(tmp_path / "direct-2-threads") == direct


def test_dataflow_job_graph_is_built_and_every_dofn_survives_pickling(tmp_path):
    raw = {"name": "df", "connector.class": "files", "topics": "orders",
           "store.url": "gs://example-bucket/archive",
           "format.class": "parquet", "flush.size": "1000", "bootstrap.servers": "10.0.0.1:9092"}
    config = parse_connector_config(raw)
    plans = [PartitionPlan("orders", p, 0, 5000) for p in range(4)]
    options = PipelineOptions([
        "--runner", "DataflowRunner", "--project", "example-project", "--region", "europe-west1",
        "--temp_location", "gs://example-bucket/tmp", "--sdk_container_image",
        "europe-docker.pkg.dev/example/beamconnect:1", "--experiments", "use_runner_v2",
        "--setup_file", os.path.join(ROOT, "setup.py"),
        "--dry_run", "true"])
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, config, plans)

    result = pipeline.run()

    assert result.state == "DONE"
    proto = pipeline.runner.proto_pipeline
    names = {t.unique_name for t in proto.components.transforms.values()}
    for step in ("ReadFromKafka/ReadPartitions", "ConvertRecords/Convert", "Write/WriteFiles",
                 "Write/RemoveStaleFiles", "CommitOffsets/Commit", "SettleWrites"):
        assert step in names
    pardos = [t for t in proto.components.transforms.values()
              if t.spec.urn == common_urns.primitives.PAR_DO.urn]
    sdf = [t for t in pardos if t.unique_name == "ReadFromKafka/ReadPartitions"]
    payload = beam_runner_api_pb2.ParDoPayload.FromString(sdf[0].spec.payload)
    assert payload.restriction_coder_id, "the Kafka read must be a splittable DoFn"
    unpickled, stores = 0, []
    for transform in pardos:
        payload = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload)
        if payload.do_fn.urn != "beam:dofn:pickled_python_info:v1":
            continue
        fn = pickler.loads(payload.do_fn.payload)[0]
        unpickled += 1
        # nothing stateful travels with a DoFn: clients are made in setup() on the worker
        assert getattr(fn, "_consumer", None) is None, transform.unique_name
        if hasattr(fn, "_config") and hasattr(fn._config, "storage"):
            stores.append(fn._config.storage)
    assert unpickled >= 6
    # the writers carry the store's settings only; each worker makes its own GCS client
    assert len(stores) == 2
    for store in stores:
        assert type(store) is GcsStorage and store.path("x") == "gs://example-bucket/archive/x"
        assert store._client is None
