"""What ``tasks.max`` means on each runner, and how a run starts on the runners that need set-up (Dask).

Kafka Connect's ``tasks.max`` is how many tasks share a connector's topic-partitions. Here it becomes the
runner's own parallelism:

- DirectRunner (the default): ``tasks.max=N > 1`` runs N SDK worker processes
  (``--direct_num_workers N --direct_running_mode multi_processing``): processes, not threads, because
  reading and converting hold the GIL. The read is then the work-item read
  (:func:`transforms.kafka.read.work_items`), whose ranges the runner deals out to the workers.
- Dask (``--runner DaskRunner``): the work-item read always (Dask has no splittable DoFns), one Dask task
  per work item. With ``--dask_client_address HOST:PORT`` the run uses that cluster; without it, a
  local cluster of ``tasks.max`` worker processes is started for the run and stopped after it.
- Flink: ``--parallelism N``; Dataflow: ``--max_num_workers N``; each only where not given already.
- Prism and the portable runners run one SDK worker here; ``tasks.max`` changes nothing there, and a
  run says so once.

An explicit Beam option always wins over what ``tasks.max`` would set.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from typing import Iterator, Optional, Sequence

from apache_beam.options.pipeline_options import PipelineOptions

from common.errors import ConfigError
from pipelines import beam_import

_LOGGER = logging.getLogger(__name__)

DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"
#: Runners that read every partition in turn in this one process (with one worker), where reading the
#: next partition ahead pays.
LOCAL_RUNNERS = ("DirectRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner", "PrismRunner")
DIRECT_RUNNERS = beam_import.DIRECT_RUNNERS
#: Runners that cannot run an unbounded pipeline.
BOUNDED_ONLY = ("DaskRunner",)


@dataclasses.dataclass(frozen=True)
class Execution:
    """How one run executes.

    Attributes:
      args: The Beam pipeline options to build the pipeline with.
      runner: The runner's short name (``DirectRunner``, ``DaskRunner``...).
      tasks: None for the splittable read; a number of tasks for the work-item read.
      read_ahead: One process reads the partitions in turn: fetch the next one ahead.
    """

    args: tuple
    runner: str
    tasks: Optional[int]
    read_ahead: bool


def runner_name(beam_args: Sequence[str]) -> str:
    """The short name of the runner the Beam options choose (DirectRunner when none)."""
    return beam_import.runner_of(beam_args)


def _direct_workers(args: Sequence[str], tasks_max: int) -> int:
    """The DirectRunner's worker processes: ``--direct_num_workers`` if given, else ``tasks.max``."""
    if _given(args, "--direct_num_workers"):
        return PipelineOptions(list(args)).get_all_options()["direct_num_workers"] or 1
    return tasks_max


def _given(beam_args: Sequence[str], option: str) -> bool:
    return any(a == option or a.startswith(option + "=") for a in beam_args)


def _with_runner(beam_args: Sequence[str], runner: str) -> list:
    """``beam_args`` with ``--runner`` replaced by ``runner``."""
    out, skip = [], False
    for arg in beam_args:
        if skip:
            skip = False
            continue
        if arg == "--runner":
            skip = True
            continue
        if arg.startswith("--runner="):
            continue
        out.append(arg)
    return ["--runner", runner, *out]


def check_streaming(beam_args: Sequence[str]) -> None:
    """Refuses an unbounded run on a runner that only runs bounded pipelines."""
    name = runner_name(beam_args)
    if name in BOUNDED_ONLY:
        raise ConfigError("--runner %s runs bounded pipelines only (Beam's Dask runner has no "
                          "unbounded reads); use --mode batch or micro-batch there, or --mode "
                          "streaming on DirectRunner, Prism, Flink or Dataflow" % name)


@contextlib.contextmanager
def execution(beam_args: Sequence[str], tasks_max: int = 1) -> Iterator[Execution]:
    """Maps ``tasks.max`` onto the chosen runner's options; starts and stops a local Dask cluster
    when the run asks for Dask without naming one."""
    args = list(beam_args) or ["--runner", "DirectRunner"]
    name = runner_name(args)
    if name == "DaskRunner":
        with _dask(args, tasks_max) as dask_args:
            yield Execution(tuple(dask_args), name, max(1, tasks_max), False)
        return
    tasks = None
    if name in DIRECT_RUNNERS:
        workers = _direct_workers(args, tasks_max)
        if workers > 1:
            wanted = [("--direct_num_workers", str(workers)),
                      ("--direct_running_mode", "multi_processing")]
            if logging.getLogger().isEnabledFor(logging.DEBUG):
                wanted.append(("--default_sdk_harness_log_level", "DEBUG"))  # -v: the workers' too
            for option, value in wanted:
                if not _given(args, option):
                    args += [option, value]
            tasks = workers
    elif name == "FlinkRunner" and tasks_max > 1 and not _given(args, "--parallelism"):
        args += ["--parallelism", str(tasks_max)]
    elif name in ("DataflowRunner", "TestDataflowRunner") and tasks_max > 1 \
            and not _given(args, "--max_num_workers"):
        args += ["--max_num_workers", str(tasks_max)]
    elif tasks_max > 1 and name in ("PrismRunner", "PortableRunner"):
        _LOGGER.warning("tasks.max=%d has no effect on %s, which runs one SDK worker here", tasks_max,
                        name)
    yield Execution(tuple(args), name, tasks, tasks is None and name in LOCAL_RUNNERS)


@contextlib.contextmanager
def _dask(args: list, tasks_max: int) -> Iterator[list]:
    try:
        import dask.distributed
    except ImportError:
        raise ConfigError("--runner DaskRunner needs Dask; install it with pip install "
                          "'beamconnect[dask]'") from None
    args = _with_runner(args, DASK_RUNNER)
    if not (_given(args, "--dask_partition_size") or _given(args, "--dask_npartitions")):
        args += ["--dask_partition_size", "1"]  # one Dask task per work item: they are sized already
    if _given(args, "--dask_client_address"):
        yield args
        return
    workers = max(1, tasks_max)
    _LOGGER.info("starting a local Dask cluster of %d worker processes", workers)
    cluster = dask.distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None)
    try:
        yield args + ["--dask_client_address", cluster.scheduler_address]
    finally:
        cluster.close()


def batch_runner(options: PipelineOptions):
    """For a bounded run on DirectRunner, the runner it would pick for it: Beam's FnApiRunner, given
    the pipeline options as DirectRunner gives them; None on every other runner.

    DirectRunner first tries Prism, downloading a Prism binary where it can: the same run would then
    execute on Prism on one machine and on the FnApiRunner on another (here, after a failed download,
    ~0.2 s later), and Prism ignores ``--direct_num_workers``. A bounded connector pipeline always
    suits the FnApiRunner (no streaming, no TestStream), so it goes there directly.
    """
    name = (options.get_all_options().get("runner") or "DirectRunner").split(".")[-1]
    if name != "DirectRunner":
        return None
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    given = ["--%s=%s" % item for item in options.get_all_options(drop_default=True).items()]
    runner = _LeanWorkersRunner() if beam_import.is_lean(given) else fn_runner.FnApiRunner
    return runner(provision_info=fn_runner.ExtendedProvisionInfo(
        beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)))


#: Beam's command for a DirectRunner worker process, and the module that replaces it.
BEAM_WORKER_MODULE = "apache_beam.runners.worker.sdk_worker_main"
WORKER_MODULE = "pipelines.sdk_worker"


@functools.lru_cache(maxsize=None)
def _LeanWorkersRunner():  # noqa: N802 (a class, made on first use: it subclasses Beam's runner)
    """Beam's FnApiRunner whose worker processes (``--direct_running_mode multi_processing``) start as
    :mod:`pipelines.sdk_worker`, importing Beam as lean as the launcher (:mod:`pipelines.beam_import`).

    The runner picks its workers' environment from the options when it runs a pipeline, naming
    Beam's worker module in a command line; this runner takes that environment with our module in it.
    """
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    class LeanWorkersRunner(fn_runner.FnApiRunner):
        @property
        def _default_environment(self):
            return self.__dict__["_lean_environment"]

        @_default_environment.setter
        def _default_environment(self, environment):
            command = getattr(environment, "command_string", "")
            if command.endswith(" -m " + BEAM_WORKER_MODULE):
                environment.command_string = command[:-len(BEAM_WORKER_MODULE)] + WORKER_MODULE
            self.__dict__["_lean_environment"] = environment

    return LeanWorkersRunner


def finish(result) -> None:
    """Releases what a finished run's result holds: the Dask runner's client to its scheduler."""
    client = getattr(result, "client", None)
    if client is not None and hasattr(client, "close"):
        client.close()


def describe(beam_args: Sequence[str], tasks_max: int = 1) -> str:
    """What ``tasks.max`` becomes on the chosen runner, in words (``validate`` prints it)."""
    args = list(beam_args) or ["--runner", "DirectRunner"]
    name = runner_name(args)
    if name == "DaskRunner":
        where = ("the Dask cluster at --dask_client_address" if _given(args, "--dask_client_address")
                 else "a local Dask cluster of %d worker processes" % max(1, tasks_max))
        return "work items on %s; bounded runs only" % where
    if name in DIRECT_RUNNERS:
        workers = _direct_workers(args, tasks_max)
        if workers > 1:
            return "%d worker processes reading work items" % workers
        return "one process, reading the next partition ahead"
    if name == "FlinkRunner":
        return "--parallelism %s" % ("as given" if _given(args, "--parallelism") else tasks_max)
    if name in ("DataflowRunner", "TestDataflowRunner"):
        return "--max_num_workers %s" % ("as given" if _given(args, "--max_num_workers")
                                         else tasks_max)
    return "the runner's own parallelism"
