"""``tasks.max``: what it becomes on each runner, the work-item read, and N worker processes on the
DirectRunner writing exactly the files one process writes."""

import json

import pyarrow.parquet as pq
import pytest

from pipelines import runners
from pipelines.cli import main
from tests.helpers import file_bytes, json_files_config, run_cli, write_config
from transforms.kafka.fetch import HoldPartial
from transforms.kafka.planning import PartitionPlan
from transforms.kafka.read import ITEM_OFFSETS, work_items


def _execution(args, tasks):
    with runners.execution(args, tasks) as execution:
        return execution


def test_tasks_max_becomes_each_runners_own_parallelism():
    one = _execution([], 1)
    assert (one.runner, one.tasks, one.read_ahead) == ("DirectRunner", None, True)

    two = _execution([], 2)
    assert two.tasks == 2 and not two.read_ahead
    assert list(two.args[-4:]) == ["--direct_num_workers", "2", "--direct_running_mode",
                                   "multi_processing"]
    # an explicit option wins over tasks.max
    given = _execution(["--runner", "DirectRunner", "--direct_num_workers", "3"], 2)
    assert given.tasks == 3 and given.args.count("--direct_num_workers") == 1
    threads = _execution(["--direct_num_workers=2", "--direct_running_mode=multi_threading"], 1)
    assert threads.tasks == 2 and "multi_processing" not in threads.args

    flink = _execution(["--runner", "FlinkRunner"], 4)
    assert flink.args[-2:] == ("--parallelism", "4") and flink.tasks is None
    assert _execution(["--runner", "FlinkRunner", "--parallelism", "8"], 4).args.count(
        "--parallelism") == 1
    dataflow = _execution(["--runner", "DataflowRunner"], 5)
    assert dataflow.args[-2:] == ("--max_num_workers", "5") and not dataflow.read_ahead

    dask = _execution(["--runner", "DaskRunner", "--dask_client_address", "tcp://10.0.0.1:8786"], 3)
    assert dask.args[:2] == ("--runner", runners.DASK_RUNNER) and dask.tasks == 3
    assert "--dask_partition_size" in dask.args and not dask.read_ahead


def test_the_mode_a_runner_cannot_run_is_refused_naming_the_runner():
    with pytest.raises(Exception) as refused:
        runners.check_streaming(["--runner", "DaskRunner"])
    assert "DaskRunner runs bounded pipelines only" in str(refused.value)
    runners.check_streaming(["--runner", "DirectRunner"])  # no error


def test_work_items_cut_plans_on_window_edges_and_cover_every_offset():
    plans = [PartitionPlan("t", 0, 7, 1007), PartitionPlan("t", 1, 0, 95), PartitionPlan("t", 2, 5, 5)]

    items = work_items(plans, 10, tasks=2)

    for plan in plans[:2]:
        mine = [i for i in items if i.plan == plan]
        assert mine[0].start == plan.start and mine[-1].stop == plan.end
        assert all(a.stop == b.start for a, b in zip(mine, mine[1:]))
        assert all((i.start - plan.start) % 10 == 0 for i in mine)
    assert not [i for i in items if i.plan.partition == 2]  # nothing planned there
    assert len(items) >= 8  # four per task where the backlog allows
    # an item never spans more than ITEM_OFFSETS offsets (but at least a window)
    big = work_items([PartitionPlan("t", 0, 0, 10 * ITEM_OFFSETS)], 1000, tasks=1)
    assert max(i.stop - i.start for i in big) == ITEM_OFFSETS
    wide = work_items([PartitionPlan("t", 0, 0, 10 * ITEM_OFFSETS)], 4 * ITEM_OFFSETS, tasks=1)
    assert [i.stop - i.start for i in wide] == [4 * ITEM_OFFSETS] * 2 + [2 * ITEM_OFFSETS]
    # windows cut by record time have data-dependent edges: one item per plan
    timed = work_items(plans, 10, tasks=2, hold=HoldPartial(rotate_interval_ms=1000))
    assert [(i.start, i.stop) for i in timed] == [(7, 1007), (0, 95)]


def test_two_worker_processes_write_the_files_one_process_writes_byte_for_byte(kafka, tmp_path):
    topic = kafka.topic(partitions=3)
    for p in range(3):
        kafka.produce(topic, [(None, json.dumps({"p": p, "i": i}).encode()) for i in range(2500)],
                      partition=p)
    stores = {}
    for tasks in ("1", "2"):
        stores[tasks] = tmp_path / ("tasks-" + tasks)
        config = write_config(tmp_path / (tasks + ".json"), json_files_config(
            "tasks-%s-%s" % (tasks, topic), topic, stores[tasks],
            **{"flush.size": "100", "tasks.max": tasks}))
        done = run_cli("run", config, "--bootstrap-servers", kafka.servers, "-v")
        assert done.returncode == 0, done.stderr[-3000:]
        assert "tasks.max is accepted" not in done.stderr
        if tasks == "2":
            # the work items were read by two SDK worker processes, not by this one
            readers = {line.split("pid=")[1].split()[0] for line in done.stderr.splitlines()
                       if "reading work item" in line}
            assert len(readers) == 2, done.stderr[-3000:]
            assert "Worker: " not in done.stderr  # relayed as the lines of our own modules
        # the workers' counters reach the summary: read, written, files
        total = [line.split() for line in done.stdout.splitlines() if line.startswith("total")]
        assert total == [["total", "7500", "7500", "75"]], done.stdout
        assert kafka.committed("connect-tasks-%s-%s" % (tasks, topic), topic, 3) == {
            0: 2500, 1: 2500, 2: 2500}

    one = file_bytes(stores["1"])
    assert len(one) == 75
    assert file_bytes(stores["2"]) == one
    rows = [r for path in sorted(one) for r in pq.read_table(stores["1"] / path).to_pylist()]
    assert sorted((r["p"], r["i"]) for r in rows) == [(p, i) for p in range(3) for i in range(2500)]


def test_validate_says_where_the_tasks_run(tmp_path, capsys):
    config = write_config(tmp_path / "c.json", json_files_config(
        "v", "t", tmp_path / "out", **{"tasks.max": "2"}))

    assert main(["validate", str(config)]) == 0
    assert "runner: DirectRunner, batch, tasks.max=2: 2 worker processes reading work items" in (
        capsys.readouterr().out)
    assert main(["validate", str(config), "--runner", "DaskRunner"]) == 0
    assert "work items on a local Dask cluster of 2 worker processes; bounded runs only" in (
        capsys.readouterr().out)
    assert main(["validate", str(config), "--mode", "streaming", "--runner", "DaskRunner"]) == 2
    assert "DaskRunner runs bounded pipelines only" in " ".join(capsys.readouterr().err.split())
