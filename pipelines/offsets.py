"""A connector's offsets, seen and moved from the command line (Kafka Connect's KIP-875, as a CLI).

``beamconnect offsets show CONFIG``: per partition the committed offset, the log start and end, and
the lag; ``--json`` prints the shape of Connect's ``GET /connectors/{name}/offsets`` for a sink
(``{"offsets": [{"partition": {"kafka_topic": T, "kafka_partition": P}, "offset": {"kafka_offset":
O}}]}``, the partitions that have an offset).

``beamconnect offsets reset CONFIG --to-earliest|--to-latest|--to-datetime T|--shift-by N|--to-offset
N [--topic T[:P,...]] [--execute]`` prints what it would do first, as ``kafka-consumer-groups
--reset-offsets`` does, and commits the new offsets only with ``--execute``. Targets are kept within
each partition's log (a shift past either end stops at it, as the Kafka tool does). It is refused:

- while a run of the connector is live. Runs read with ``assign()``, so the connector's group has no
  members to see; instead every run holds a lease (:class:`RunLease`): a consumer that joins the group
  ``<group.id>.running``, subscribed to the connector's topics with every partition paused (it fetches
  nothing), for as long as the run works. A reset asks the broker whether that group has members;
- for sinks whose own store, not the group, says where a run starts
  (:meth:`sinks.base.Sink.offsets_location`: the JDBC sink's offsets table, the Kafka sink's offsets
  topic on another cluster, the HDFS sink's file names): moving the group would change nothing, and
  moving their store is a write to the target system a reset should not make. The error says where
  those offsets live. (The Kafka sink on its source cluster commits the group's offsets in its
  transactions: a reset applies.) The file sink keeps no offsets of its own (its file names follow the
  committed offsets), so its resets apply; files already written past a new offset are rewritten
  byte for byte by the next run (same names), and those before it are left as they are.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import threading
from typing import Optional, Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from common.errors import BeamConnectError, ConfigError
from transforms.kafka.clients import client_settings, missing_acl
from transforms.kafka.planning import Planner, admin_config, group_consumer, retrying

_LOGGER = logging.getLogger(__name__)

#: The suffix of the group a run's lease joins (``connect-orders.running``).
LEASE_SUFFIX = ".running"


@dataclasses.dataclass(frozen=True)
class PartitionOffsets:
    """Where one partition of a connector stands.

    Attributes:
      committed: The group's committed offset (the next to read), or None.
      stored: A sink that keeps its own offsets: the next offset its store has, or None.
      log_start, log_end: The partition's first offset and the offset after its last record.
    """

    topic: str
    partition: int
    committed: Optional[int]
    stored: Optional[int]
    log_start: int
    log_end: int

    @property
    def position(self) -> Optional[int]:
        """Where a run would start: the sink's own offset, else the group's."""
        return self.stored if self.stored is not None else self.committed

    @property
    def lag(self) -> Optional[int]:
        return None if self.position is None else max(0, self.log_end - self.position)


def read_offsets(config) -> list:
    """Every partition of the connector's topics, with its offsets (no side effect)."""
    planner = Planner(config.consumer_config)
    topics = planner.topics(config.topics, config.topics_regex)
    tps = [(t, p) for t, count in topics.items() for p in range(count)]
    if not tps:
        return []
    start = planner.offsets(tps, OffsetSpec.earliest())
    end = planner.offsets(tps, OffsetSpec.latest())
    committed = planner.committed(tps)
    stored = (dict(config.sink.stored_offsets(config.sink_config, tps))
              if config.sink.commits_offsets else {})
    return [PartitionOffsets(t, p, committed.get((t, p)), stored.get((t, p)), start[(t, p)],
                             end[(t, p)]) for t, p in sorted(tps)]


def show_table(rows: Sequence[PartitionOffsets], sink_offsets: bool) -> str:
    header = ["topic", "partition", "committed", *(["sink offset"] if sink_offsets else []),
              "log start", "log end", "lag"]
    lines = [header]
    for r in rows:
        lines.append([r.topic, str(r.partition), _text(r.committed),
                      *([_text(r.stored)] if sink_offsets else []), str(r.log_start), str(r.log_end),
                      _text(r.lag)])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


def show_json(rows: Sequence[PartitionOffsets]) -> str:
    """Connect's ``GET /connectors/{name}/offsets`` body for a sink connector."""
    return json.dumps({"offsets": [
        {"partition": {"kafka_topic": r.topic, "kafka_partition": r.partition},
         "offset": {"kafka_offset": r.position}} for r in rows if r.position is not None]}, indent=2)


def _text(value) -> str:
    return "-" if value is None else str(value)


@dataclasses.dataclass(frozen=True)
class ResetSpec:
    """One of ``--to-earliest``, ``--to-latest``, ``--to-datetime``, ``--shift-by``, ``--to-offset``."""

    kind: str
    value: object = None


def parse_topics(values: Sequence[str]) -> dict:
    """``--topic T`` / ``--topic T:0,2``: topic -> partitions (None: all of them)."""
    selected: dict = {}
    for value in values or ():
        topic, _, partitions = value.partition(":")
        if not topic:
            raise ConfigError("--topic must be TOPIC or TOPIC:PARTITION[,PARTITION...], got %r" % value)
        if not partitions:
            selected[topic] = None
            continue
        try:
            numbers = {int(p) for p in partitions.split(",")}
        except ValueError:
            raise ConfigError("--topic must be TOPIC or TOPIC:PARTITION[,PARTITION...], got %r"
                              % value) from None
        if selected.get(topic, set()) is not None:
            selected[topic] = selected.get(topic, set()) | numbers
    return selected


def plan_reset(config, rows: Sequence[PartitionOffsets], spec: ResetSpec, topics: dict) -> list:
    """``(row, new offset)`` for each selected partition: what ``--execute`` would commit."""
    if topics:
        unknown = sorted(set(topics) - {r.topic for r in rows})
        if unknown:
            raise ConfigError("--topic %r is not one of the connector's topics (%s)"
                              % (unknown[0], ", ".join(sorted({r.topic for r in rows}))))
        rows = [r for r in rows if r.topic in topics
                and (topics[r.topic] is None or r.partition in topics[r.topic])]
    at_time = {}
    if spec.kind == "to-datetime":
        planner = Planner(config.consumer_config)
        millis = int(spec.value.timestamp() * 1000)
        at_time = planner.offsets([(r.topic, r.partition) for r in rows],
                                   OffsetSpec.for_timestamp(millis))
    changes = []
    for r in rows:
        if spec.kind == "to-earliest":
            target = r.log_start
        elif spec.kind == "to-latest":
            target = r.log_end
        elif spec.kind == "to-datetime":
            found = at_time[(r.topic, r.partition)]
            target = r.log_end if found < 0 else found
        elif spec.kind == "shift-by":
            base = r.position if r.position is not None else r.log_start
            target = base + spec.value
        else:
            target = spec.value
        changes.append((r, min(max(target, r.log_start), r.log_end)))
    return changes


def reset_table(changes: Sequence[tuple]) -> str:
    lines = [["topic", "partition", "current", "new offset", "lag after"]]
    for r, target in changes:
        lines.append([r.topic, str(r.partition), _text(r.position), str(target),
                      str(r.log_end - target)])
    widths = [max(len(line[i]) for line in lines) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


def check_resettable(config) -> None:
    """Refuses a reset for a sink that keeps its own offsets, or while a run of the connector is live.

    Raises:
      BeamConnectError: naming where the sink's offsets live, or the live run's lease.
    """
    where = config.sink.offsets_location(config.sink_config)
    if where is not None:
        raise BeamConnectError(
            "connector %r (connector.class=%s) keeps its own offsets in the system it writes to (%s); "
            "a run starts from those, not from group.id=%s, so resetting the group would change "
            "nothing. Move them there, or write to a new target"
            % (config.name, config.connector_class, where, config.group_id))
    members = lease_members(config)
    if members:
        raise BeamConnectError(
            "a run of connector %r is live (group %s has %d member(s): %s); stop it, then reset"
            % (config.name, config.group_id + LEASE_SUFFIX, len(members), ", ".join(members)))


def lease_members(config) -> list:
    """``client_id@host`` of each member of the run lease group (empty: no run is live)."""
    admin = AdminClient(client_settings(admin_config(config.consumer_config)))
    group = config.group_id + LEASE_SUFFIX
    try:
        described = admin.describe_consumer_groups([group], request_timeout=15)[group].result()
    except KafkaException as exc:
        raise BeamConnectError("could not describe group %s on bootstrap.servers=%s: %s"
                               % (group, config.consumer_config["bootstrap.servers"],
                                  exc.args[0])) from exc
    return ["%s@%s" % (m.client_id, m.host) for m in described.members]


def execute_reset(config, changes: Sequence[tuple]) -> None:
    """Commits the new offsets for the connector's group."""
    consumer = group_consumer(config.consumer_config)
    try:
        offsets = [TopicPartition(r.topic, r.partition, target) for r, target in changes]
        result = retrying(lambda: consumer.commit(offsets=offsets, asynchronous=False), 60.0)
    except KafkaException as exc:
        raise BeamConnectError("could not commit the new offsets of group.id=%s: %s"
                               % (config.group_id, exc.args[0])) from exc
    finally:
        consumer.close()
    for tp in result:
        if tp.error is not None:
            raise BeamConnectError("committing topic=%s partition=%d offset=%d failed: %s"
                                   % (tp.topic, tp.partition, tp.offset, tp.error))


def parse_datetime(value: str) -> datetime.datetime:
    from pipelines.run import parse_time

    return parse_time(value)


class RunLease:
    """Membership of ``<group.id>.running`` for as long as a run works (see the module docs).

    The member subscribes to the connector's topics and pauses every partition it is given, so it
    fetches nothing; a thread polls it to keep it in the group. Leaving is part of :meth:`close`.
    """

    def __init__(self, config):
        settings = {**admin_config(config.consumer_config),
                    "group.id": config.group_id + LEASE_SUFFIX, "enable.auto.commit": "false",
                    "client.id": "beamconnect-run-%s" % config.name,
                    "log_level": 0}  # its broker's troubles are the run's own consumers' to report
        self._settings = settings
        self._consumer = Consumer(client_settings(settings))
        topics = list(config.topics) or ["^" + config.topics_regex]
        self._consumer.subscribe(topics, on_assign=lambda c, tps: c.pause(tps))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep, name="run-lease", daemon=True)

    def __enter__(self) -> "RunLease":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self._consumer.close()
        except KafkaException as error:  # the broker went away: the lease lapses by itself
            _LOGGER.debug("closing the run lease: %s", error)

    def _keep(self) -> None:
        warned = False
        while not self._stop.is_set():
            try:
                message = self._consumer.poll(0.02)  # short: the end of a run waits for it
                error = message.error() if message is not None else None
                acl = (missing_acl(error, self._settings, "READ", self._settings["group.id"])
                       if error is not None and error.code() == KafkaError.GROUP_AUTHORIZATION_FAILED
                       else "")  # a topic the run may not read is the run's own consumers' to report
                if acl and not warned:  # the run goes on, but unguarded against a second one
                    warned = True
                    _LOGGER.warning("the run lease cannot join group.id=%s (%s)%s",
                                    self._settings["group.id"], error.name(), acl)
            except (KafkaException, RuntimeError) as error:
                _LOGGER.debug("run lease poll: %s", error)
                self._stop.wait(1.0)
