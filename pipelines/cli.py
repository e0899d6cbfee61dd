"""``beamconnect``: run, validate and demo connectors; start a local Kafka broker."""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import logging
import os
import sys
import textwrap
from typing import Optional, Sequence

from common.errors import BeamConnectError

_LOGGER = logging.getLogger("beamconnect")

EPILOG = """\
Any other --option of `run` is a Beam pipeline option (--runner, --direct_num_workers, ...).
Exit status: 0 on success, 2 for a bad config or argument, 1 when the run failed.
"""


def _logging_options() -> argparse.ArgumentParser:
    """-v, -q and --log-format, taken before or after the command (``beamconnect run C -v``)."""
    options = argparse.ArgumentParser(add_help=False)
    loudness = options.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                          help="debug logging, and the traceback of an error")
    loudness.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                          help="log warnings and errors only")
    options.add_argument("--log-format", choices=("text", "json"), default=argparse.SUPPRESS,
                         help="text lines (default) or JSON lines with connector, topic, partition "
                              "and offsets as fields")
    return options


def _parser() -> argparse.ArgumentParser:
    logging_options = _logging_options()
    parser = argparse.ArgumentParser(
        prog="beamconnect", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Kafka Connect sink connectors as Apache Beam pipelines.",
        parents=[logging_options])
    commands = parser.add_subparsers(dest="command", required=True)
    command = functools.partial(commands.add_parser, parents=[logging_options])

    run = command("run", help="read the configured topics once and write them out")
    run.add_argument("config", help="connector config: .properties, Connect REST JSON or flat JSON")
    _run_arguments(run)

    validate = command("validate", help="check a connector config without running it")
    validate.add_argument("config")
    validate.add_argument("--bootstrap-servers", help="Kafka brokers (wins over the config)")
    validate.add_argument("--check", action="store_true",
                          help="also reach the sink's system, as a run does before it reads: "
                               "credentials, tables or columns, buckets, queues")
    validate.add_argument("--mode", default="batch",
                          help="the run mode to check the runner's Beam options for (default batch)")

    demo = command("demo", help="start a local broker, produce samples, run a connector")
    demo.add_argument("--records", type=int, default=20_000, help="sample records to produce")
    demo.add_argument("--output", default="demo-output", help="directory the files go to")

    replay = command("replay-dlq", help="run a connector over its dead letters' original records, "
                                        "once the cause is fixed")
    replay.add_argument("config")
    source = replay.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-topic", help="the dead-letter topic (written with context headers)")
    source.add_argument("--from-store", help="the store errors.deadletterqueue.store.url wrote to")
    replay.add_argument("--bootstrap-servers", help="Kafka brokers (wins over the config)")
    replay.add_argument("--from", dest="start", default="committed",
                        help="--from-topic: committed (default: the replay group's), earliest, latest "
                             "or an ISO 8601 timestamp")
    replay.add_argument("--max-records", type=int, help="replay at most this many dead letters")
    replay.add_argument("--metrics-port", type=int, default=None,
                        help="serve metrics and a status page on this port while replaying")

    offsets = command("offsets", help="show or reset a connector's committed offsets")
    actions = offsets.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", parents=[logging_options],
                              help="committed offset, log end and lag per partition")
    show.add_argument("config")
    show.add_argument("--bootstrap-servers", help="Kafka brokers (wins over the config)")
    show.add_argument("--json", action="store_true",
                      help="the body of Connect's GET /connectors/{name}/offsets")
    reset = actions.add_parser("reset", parents=[logging_options],
                               help="move the committed offsets (a preview unless --execute)")
    reset.add_argument("config")
    reset.add_argument("--bootstrap-servers", help="Kafka brokers (wins over the config)")
    target = reset.add_mutually_exclusive_group(required=True)
    target.add_argument("--to-earliest", action="store_true")
    target.add_argument("--to-latest", action="store_true")
    target.add_argument("--to-datetime", metavar="ISO_TIME",
                        help="the first offset at or after that time")
    target.add_argument("--shift-by", type=int, metavar="N", help="from the committed offset")
    target.add_argument("--to-offset", type=int, metavar="N")
    reset.add_argument("--topic", action="append", metavar="TOPIC[:P,...]",
                       help="only these topics (or partitions); repeatable")
    reset.add_argument("--execute", action="store_true", help="commit the new offsets")

    plan = command("plan", help="what a run would read and write, without running it")
    plan.add_argument("config")
    plan.add_argument("--bootstrap-servers", help="Kafka brokers (wins over the config)")
    plan.add_argument("--from", dest="start", default="committed",
                      help="committed (default), earliest, latest or an ISO 8601 timestamp")
    plan.add_argument("--until", help="read only records before this ISO 8601 timestamp")
    plan.add_argument("--max-records", type=int, help="read at most this many offsets in total")

    launch = command("launch", help="check a Flex Template's parameters and run it")
    launch.add_argument("template", help="template directory (with metadata.json)")
    launch.add_argument("--parameters", default="", help="NAME=VALUE,... (or ^;^NAME=VALUE;...)")

    dev = command("dev-kafka", help="start a local single-node Kafka broker")
    dev.add_argument("--port", type=int, default=None, help="listener port (default: a free one)")
    return parser


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap-servers", help="Kafka brokers (wins over the config)")
    parser.add_argument("--from", dest="start", default="committed",
                        help="committed (default), earliest, latest or an ISO 8601 timestamp")
    parser.add_argument("--until", help="read only records before this ISO 8601 timestamp")
    parser.add_argument("--max-records", type=int, help="read at most this many offsets in total")
    parser.add_argument("--mode", default="batch",
                        help="batch (one bounded run, default), micro-batch (a bounded run every "
                             "--interval until SIGINT/SIGTERM) or streaming (one unbounded pipeline)")
    parser.add_argument("--interval", default="30s", help="micro-batch period, e.g. 30s, 5m (default 30s)")
    parser.add_argument("--metrics-port", type=int, default=None,
                        help="serve Prometheus metrics (/metrics) and a status page (/) on this port "
                             "while working (0: a free port); wins over metrics.port")
    parser.add_argument("--hold-partial", action=argparse.BooleanOptionalAction, default=None,
                        help="file sink, bounded runs: leave each partition's partial last file "
                             "unwritten and uncommitted for the next run (default: on in "
                             "micro-batch mode, off in batch mode)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    for name, default in (("verbose", False), ("quiet", False), ("log_format", "text")):
        if not hasattr(args, name):
            setattr(args, name, default)
    if args.verbose and args.quiet:
        parser.error("-v/--verbose and -q/--quiet do not go together")
    if extra and args.command not in ("run", "launch", "replay-dlq", "validate"):
        parser.error("unrecognized arguments: %s" % " ".join(extra))
    if args.command == "validate" and _stray(extra):
        parser.error("unrecognized arguments: %s (validate checks one config; Beam options may "
                     "follow it)" % " ".join(_stray(extra)))
    from common.secrets import redacting_streams

    with redacting_streams():
        return _main(parser, args, extra)


def _stray(extra: Sequence[str]) -> list:
    """Words among Beam options that are no option's value (``--runner X`` gives X a home)."""
    return [word for i, word in enumerate(extra) if not word.startswith("-") and not (
        i > 0 and extra[i - 1].startswith("--") and "=" not in extra[i - 1])]


def _main(parser, args, extra) -> int:
    from common import logs

    logs.configure("verbose" if args.verbose else "quiet" if args.quiet else "normal", args.log_format)
    os.environ.setdefault("NO_GCE_CHECK", "true")  # never probe the GCE metadata address
    try:
        if args.command == "run":
            return _run(args, extra)
        if args.command == "validate":
            return _validate(args, extra)
        if args.command == "replay-dlq":
            return _replay(args, extra)
        if args.command == "offsets":
            return _offsets(args)
        if args.command == "plan":
            return _plan(args)
        if args.command == "launch":
            return launch(args.template, args.parameters, extra)
        if args.command == "demo":
            from pipelines.demo import run_demo
            return run_demo(records=args.records, output=args.output)
        from pipelines.dev_kafka import run_dev_kafka
        return run_dev_kafka(args.port)
    except BeamConnectError as exc:
        return _fail(exc, args.verbose)
    except KeyboardInterrupt:
        print("beamconnect: interrupted; nothing was committed for the unfinished run",
              file=sys.stderr)
        return 130
    except Exception as exc:  # a runner wraps errors raised in workers; find ours inside
        inner = logs.find_ours(exc)
        if inner is not None:
            return _fail(inner, args.verbose)
        if args.verbose:
            raise
        _LOGGER.debug("run failed", exc_info=True)
        last = [line for line in str(exc).strip().splitlines() if line.strip()]
        from common.secrets import redact

        message = ("%s: %s (run with -v for the traceback); nothing was committed for the failed run"
                   % (type(exc).__name__, redact(last[-1]) if last else ""))
        if logs.json_lines():
            _LOGGER.error("%s", message)
        else:
            print("beamconnect: error: " + message, file=sys.stderr)
        return 1


def launch(template_dir: str, parameters, beam_args: Sequence[str]) -> int:
    """Runs a Flex Template: ``parameters`` as ``--parameters`` text or a dict of NAME -> VALUE."""
    from pipelines import templates

    metadata = templates.load_metadata(template_dir)
    params = (templates.parse_parameters(parameters) if isinstance(parameters, str)
              else dict(parameters))
    templates.validate_parameters(metadata, params)
    raw = templates.connector_config(metadata, params)
    args, extra = _parser().parse_known_args(
        ["run", template_dir, *templates.run_arguments(params), *beam_args])
    return _run(args, extra, raw=raw)


@contextlib.contextmanager
def _start_up(beam_args: Sequence[str] = ()):
    """Beam imported first, without the cloud clients a run on the DirectRunner never uses
    (:mod:`pipelines.beam_import`), and Python's cyclic GC paused while a run imports Beam, pyarrow
    and its sink and parses its config, then that heap frozen out of later collections (as the Kafka
    reader freezes its own).

    The start-up heap is long-lived modules, classes and functions: left on, the collector makes about
    three full passes over it while it grows (~0.2 s) and frees about 1,400 of its ~170,000 objects.
    """
    from pipelines.beam_import import lean_beam

    enabled = gc.isenabled()
    gc.disable()
    try:
        with lean_beam(beam_args):
            import apache_beam  # noqa: F401
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _run(args, extra, raw=None) -> int:
    if args.max_records is not None and args.max_records < 1:
        raise _config_error("--max-records must be a positive integer, got %r" % args.max_records)
    with _start_up(extra):
        from pipelines.config import load_config
        from pipelines.config.connector import parse_connector_config
        from pipelines.run import RunOptions, parse_start, parse_time

        if raw is None:
            raw = load_config(args.config)
        config = parse_connector_config(raw, bootstrap_servers=args.bootstrap_servers)
    _announce(config)
    _check_mode(args.mode)
    if args.mode == "streaming" and args.hold_partial is not None:
        raise _config_error("--hold-partial applies to bounded runs; --mode streaming always keeps "
                            "a partition's open file for later")
    hold = args.hold_partial if args.hold_partial is not None else args.mode == "micro-batch"
    options = RunOptions(start=parse_start(args.start),
                         until=parse_time(args.until) if args.until else None,
                         max_records=args.max_records, beam_args=tuple(extra), hold_partial=hold)
    from pipelines.offsets import RunLease

    with _monitoring(config, args), RunLease(config):
        return _run_mode(args, config, options)


def _run_mode(args, config, options) -> int:
    from pipelines.modes import StopRequest, micro_batches, parse_interval
    from pipelines.run import run_connector

    if args.mode == "batch":
        print(run_connector(config, options).table())
        return 0
    if args.mode == "streaming":
        from pipelines.run import run_streaming

        if args.until or args.max_records:
            raise _config_error("--until and --max-records bound a run; --mode streaming has no end")
        with StopRequest(immediate=True):
            run_streaming(config, options)
        return 0
    interval = parse_interval(args.interval)
    if args.start != "committed" or args.until:
        raise _config_error("--from and --until apply to one bounded run; micro-batch mode always "
                            "continues from the committed offsets")

    def run_once():
        result = run_connector(config, options)
        if result.records_read:
            print(result.table(), flush=True)

    with StopRequest() as stop:
        micro_batches(run_once, interval, stop.event)
    return 0


def _offsets(args) -> int:
    from pipelines import offsets
    from pipelines.config import load_config
    from pipelines.config.connector import parse_connector_config

    config = parse_connector_config(load_config(args.config), bootstrap_servers=args.bootstrap_servers)
    _announce(config)
    if args.action == "reset":  # before reading: a sink's own offsets may live where only it goes
        offsets.check_resettable(config)
    rows = offsets.read_offsets(config)
    if args.action == "show":
        if args.json:
            print(offsets.show_json(rows))
        else:
            print(offsets.show_table(rows, config.sink.commits_offsets))
        return 0
    spec = (offsets.ResetSpec("to-earliest") if args.to_earliest
            else offsets.ResetSpec("to-latest") if args.to_latest
            else offsets.ResetSpec("to-datetime", offsets.parse_datetime(args.to_datetime))
            if args.to_datetime
            else offsets.ResetSpec("shift-by", args.shift_by) if args.shift_by is not None
            else offsets.ResetSpec("to-offset", args.to_offset))
    changes = offsets.plan_reset(config, rows, spec, offsets.parse_topics(args.topic))
    print(offsets.reset_table(changes))
    if not args.execute:
        print("(a preview: nothing was changed; add --execute to commit these offsets for group.id=%s)"
              % config.group_id)
        return 0
    offsets.execute_reset(config, changes)
    print("committed %d offsets for group.id=%s" % (len(changes), config.group_id))
    return 0


def _plan(args) -> int:
    from pipelines.config import load_config
    from pipelines.config.connector import parse_connector_config
    from pipelines.plan import describe_plan
    from pipelines.run import RunOptions, parse_start, parse_time

    config = parse_connector_config(load_config(args.config), bootstrap_servers=args.bootstrap_servers)
    _announce(config)
    if args.max_records is not None and args.max_records < 1:
        raise _config_error("--max-records must be a positive integer, got %r" % args.max_records)
    options = RunOptions(start=parse_start(args.start),
                         until=parse_time(args.until) if args.until else None,
                         max_records=args.max_records)
    print(describe_plan(config, options))
    return 0


def _replay(args, extra) -> int:
    with _start_up(extra):
        from pipelines.config import load_config
        from pipelines.config.connector import parse_connector_config
        from pipelines.replay import replay_from_store, replay_from_topic
        from pipelines.run import RunOptions, parse_start

        config = parse_connector_config(load_config(args.config),
                                        bootstrap_servers=args.bootstrap_servers)
    _announce(config)
    options = RunOptions(start=parse_start(args.start), max_records=args.max_records,
                         beam_args=tuple(extra))
    with _monitoring(config, args):
        if args.from_topic:
            result = replay_from_topic(config, args.from_topic, options)
        else:
            result = replay_from_store(config, args.from_store, options)
    print(result.table())
    return 0


def _validate(args, beam_args=()) -> int:
    from pipelines.config import load_config
    from pipelines.config.connector import NO_BROKERS, parse_connector_config

    # Only --check reaches a system: without it no broker is needed (the examples name none).
    config = parse_connector_config(load_config(args.config), bootstrap_servers=args.bootstrap_servers,
                                    brokers_required=args.check)
    _announce(config)
    topics = ",".join(config.topics) if config.topics else "regex %r" % config.topics_regex
    print("%s: valid %s connector %r reading %s as group.id=%s" % (
        args.config, config.connector_class, config.name, topics, config.group_id))
    for step in config.transforms.steps:
        guard = ""
        if step.predicate is not None:
            guard = " if %s%s" % ("not " if step.negate else "", step.predicate.name)
        print("  transform %s: %s%s" % (step.transformation.alias, step.transformation.type_name,
                                         guard))
    where = config.dead_letters.description if config.dead_letters is not None else "none"
    print("  errors.tolerance=%s, dead letters: %s" % (config.errors.tolerance, where))
    if config.consumer_config["bootstrap.servers"] == NO_BROKERS:
        print("  brokers: none given; run, replay-dlq and validate --check need bootstrap.servers or "
              "--bootstrap-servers")
    print("  " + _execution_line(config, args.mode, beam_args))
    if args.check:
        config.sink.check(config.sink_config)
        print("  sink check: the %s sink's system accepted the settings" % config.connector_class)
    return 0


def _execution_line(config, mode: str, beam_args) -> str:
    """Where the run would execute, and with how many tasks; refuses a mode the runner cannot run."""
    from pipelines import runners

    _check_mode(mode)
    name = runners.runner_name(beam_args)
    if mode == "streaming":
        runners.check_streaming(beam_args)
        return "runner: %s, streaming (one task)" % name
    return "runner: %s, %s, tasks.max=%d: %s" % (name, mode, config.tasks_max,
                                                  runners.describe(beam_args, config.tasks_max))


def _monitoring(config, args):
    """The monitoring server of ``--metrics-port`` (or ``metrics.port``) for the block, if asked."""
    import contextlib

    port = args.metrics_port if getattr(args, "metrics_port", None) is not None else config.metrics_port
    if port is None:
        return contextlib.nullcontext()
    if not 0 <= port <= 65535:
        raise _config_error("--metrics-port must be between 0 and 65535, got %r" % port)
    from pipelines.monitoring.server import MonitoringServer

    try:
        return MonitoringServer(config.name, port, config.metrics_address)
    except OSError as exc:
        raise _config_error("cannot serve metrics on %s:%d: %s"
                            % (config.metrics_address, port, exc.strerror or exc)) from None


def _announce(config) -> None:
    """Names the connector in log lines from now on and logs its config's warnings."""
    from common import logs

    logs.set_connector(config.name)
    for warning in config.warnings:
        _LOGGER.warning("%s", warning)


def _check_mode(mode: str) -> None:
    from pipelines.modes import MODES

    if mode not in MODES:
        raise _config_error("--mode must be one of %s, got %r" % (", ".join(map(repr, MODES)), mode))


def _config_error(message: str):
    from common.errors import ConfigError
    return ConfigError(message)


def _wrap(text: str) -> list:
    """Lines of at most 100 characters, never breaking inside a name (``orders-eu``, a path)."""
    return textwrap.wrap(text, 100, break_on_hyphens=False, break_long_words=False)


def _fail(exc: BeamConnectError, verbose: bool = False) -> int:
    """Prints ``exc`` as one paragraph (after its traceback with ``-v``); the exit status."""
    import traceback

    from common import logs
    from common.errors import ConfigError, ConfigErrors
    from common.secrets import redact

    status = 2 if isinstance(exc, ConfigError) else 1
    if logs.json_lines():  # for log shippers: the error is one more JSON line, its problems a field
        several = isinstance(exc, ConfigErrors)
        _LOGGER.error("%s", ("the config has %d problems" % len(exc.problems)) if several
                      else str(exc).split(" [while running")[0],
                      extra={"problems": list(exc.problems)} if several else {},
                      exc_info=exc if verbose else None)
        return status
    if verbose:
        print(redact("".join(traceback.format_exception(exc))).rstrip(), file=sys.stderr)
    if isinstance(exc, ConfigErrors):  # every problem of the config, a paragraph each
        print("beamconnect: error: the config has %d problems:" % len(exc.problems), file=sys.stderr)
        for problem in exc.problems:
            print("  - " + "\n    ".join(_wrap(redact(problem))), file=sys.stderr)
        return 2
    message = redact(str(exc)).split("\n")[0]
    message = message.split(" [while running")[0]
    print("beamconnect: error: " + "\n  ".join(_wrap(message)), file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
