"""Planning a bounded read: which offsets of which topic-partitions one run reads.

Start of each partition: the consumer group's committed offset, else ``auto.offset.reset``; or an explicit
``earliest`` / ``latest`` / timestamp. End: the latest offset at planning time (the last stable offset under
``isolation.level=read_committed``), or the first offset at or after ``until``. ``max_records`` caps the
total planned offsets, shared fairly across partitions.

On a cluster with an authorizer, a look-up the principal may not make fails naming the ACL to add
(:func:`transforms.kafka.clients.missing_acl`): a named topic it may not DESCRIBE (which a full metadata
answer leaves out, so it would look missing), offsets of a topic, the group's committed offsets
(:func:`group_denied` asks an AdminClient, as a consumer only times out).
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import re
import time
from typing import Callable, Mapping, Optional, Sequence, TypeVar, Union

from confluent_kafka import Consumer, IsolationLevel, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from common.errors import BeamConnectError
from transforms.kafka.clients import client_settings, missing_acl

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")
StartPolicy = Union[str, datetime.datetime]  # 'committed', 'earliest', 'latest' or a timestamp
START_POLICIES = ("committed", "earliest", "latest")


@dataclasses.dataclass(frozen=True, order=True)
class PartitionPlan:
    """The offsets ``[start, end)`` of one topic-partition that one run reads and then commits."""

    topic: str
    partition: int
    start: int
    end: int
    committed: Optional[int] = None

    @property
    def size(self) -> int:
        return self.end - self.start


def admin_config(consumer_config: Mapping[str, str]) -> dict:
    """The subset of a consumer config an AdminClient accepts (connection and security settings)."""
    consumer_only = re.compile(
        r"^(group\.|enable\.|auto\.|fetch\.|queued\.|isolation\.level|max\.poll|session\.|"
        r"heartbeat\.|partition\.assignment|check\.crcs|consume\.|group\.instance)")
    return {k: v for k, v in consumer_config.items() if not consumer_only.match(k)}


def group_consumer(consumer_config: Mapping[str, str]) -> Consumer:
    """A consumer that only reads and commits the group's offsets: connection settings and group.id."""
    return Consumer(client_settings({**admin_config(consumer_config),
                                     "group.id": consumer_config["group.id"],
                                     "enable.auto.commit": "false"}))


class Planner:
    """Looks up topics and offsets for one run.

    Args:
      consumer_config: librdkafka settings of the connector's consumer (with ``group.id``).
      timeout: Seconds to wait for each broker request.
    """

    def __init__(self, consumer_config: Mapping[str, str], timeout: float = 15.0):
        self._config = dict(consumer_config)
        self._timeout = timeout
        self._servers = self._config.get("bootstrap.servers", "?")
        self._admin = AdminClient(client_settings(admin_config(self._config)))
        self._isolation = (IsolationLevel.READ_COMMITTED
                           if self._config.get("isolation.level") == "read_committed"
                           else IsolationLevel.READ_UNCOMMITTED)

    def topics(self, names: Sequence[str] = (), regex: Optional[str] = None) -> dict:
        """Maps each selected topic to its partition count; a named topic that does not exist raises."""
        try:
            metadata = self._admin.list_topics(timeout=self._timeout)
        except KafkaException as exc:
            self._admin.poll(0)  # serve librdkafka's log lines saying why (collapsed, see clients.py)
            raise BeamConnectError(
                "could not reach Kafka at bootstrap.servers=%s within %gs: %s"
                % (self._servers, self._timeout, exc.args[0])) from exc
        found = {name: len(t.partitions) for name, t in metadata.topics.items() if t.error is None}
        missing = [n for n in names if n not in found]
        for name in missing:  # the broker lists only the topics a principal may DESCRIBE
            self._check_described(name)
        if missing:
            raise BeamConnectError("topic %r does not exist on bootstrap.servers=%s (topics: %s)" % (
                missing[0], self._servers, ", ".join(sorted(t for t in found if not t.startswith("__")))
                or "none"))
        selected = {n: found[n] for n in names}
        if regex:
            pattern = re.compile(regex)
            selected.update({n: c for n, c in found.items() if pattern.fullmatch(n)})
        return dict(sorted(selected.items()))

    def _check_described(self, name: str) -> None:
        """Raises if the broker refuses to describe topic ``name`` to this principal."""
        try:
            error = self._admin.list_topics(topic=name, timeout=self._timeout).topics[name].error
        except (KafkaException, KeyError):
            return
        acl = missing_acl(error, self._config, "READ and DESCRIBE", name)
        if acl:
            raise BeamConnectError("topic %r on bootstrap.servers=%s is not authorized (%s)%s (Kafka "
                                   "does not tell a principal without DESCRIBE whether the topic exists)"
                                   % (name, self._servers, error.name(), acl))

    def plan(self, topics: Mapping[str, int], *, start: StartPolicy = "committed",
             until: Optional[datetime.datetime] = None, reset: str = "earliest",
             max_records: Optional[int] = None,
             stored: Optional[Callable[[list], Mapping[tuple, int]]] = None) -> list:
        """Plans every partition of ``topics`` (topic -> partition count).

        ``stored``, for a sink that commits its own offsets, gives the next offset of each (topic,
        partition) as the sink's own store has it; those win over the group's committed offsets (the
        group's are only updated after the sink's, for lag tools).
        """
        tps = [(t, p) for t, count in topics.items() for p in range(count)]
        if not tps:
            return []
        earliest = self.offsets(tps, OffsetSpec.earliest())
        latest = self.offsets(tps, OffsetSpec.latest())
        committed = self.committed(tps)
        if stored is not None:
            committed.update(stored(tps))
        end = dict(latest)
        if until is not None:
            at = self.offsets(tps, OffsetSpec.for_timestamp(_millis(until)))
            end = {tp: latest[tp] if at[tp] < 0 else min(at[tp], latest[tp]) for tp in tps}
        if isinstance(start, datetime.datetime):
            at = self.offsets(tps, OffsetSpec.for_timestamp(_millis(start)))
            begin = {tp: latest[tp] if at[tp] < 0 else at[tp] for tp in tps}
        elif start in ("earliest", "latest"):
            begin = earliest if start == "earliest" else latest
        else:
            fallback = earliest if reset == "earliest" else latest
            begin = {}
            for tp in tps:
                c = committed.get(tp)
                if c is None:
                    if reset == "none":
                        raise BeamConnectError(
                            "no committed offset for topic=%s partition=%d and auto.offset.reset=none"
                            % tp)
                    begin[tp] = fallback[tp]
                elif c > latest[tp]:  # out of range (the topic was recreated): reset, as Kafka does
                    if reset == "none":
                        raise BeamConnectError(
                            "committed offset %d of topic=%s partition=%d is past the end (%d) and "
                            "auto.offset.reset=none" % (c, tp[0], tp[1], latest[tp]))
                    _LOGGER.warning("committed offset %d of topic=%s partition=%d is past the end "
                                    "(%d); starting from %s", c, tp[0], tp[1], latest[tp], reset)
                    begin[tp] = fallback[tp]
                else:  # committed offsets below the log start were deleted by retention
                    begin[tp] = max(c, earliest[tp])
        plans = [PartitionPlan(t, p, min(begin[(t, p)], end[(t, p)]), end[(t, p)], committed.get((t, p)))
                 for t, p in sorted(begin)]
        return cap_records(plans, max_records)

    def offsets(self, tps, spec) -> dict:
        """The offset ``spec`` (earliest, latest, for a timestamp) of each (topic, partition)."""
        futures = self._admin.list_offsets({TopicPartition(t, p): spec for t, p in tps},
                                           isolation_level=self._isolation,
                                           request_timeout=self._timeout)
        result = {}
        for tp, future in futures.items():
            try:
                result[(tp.topic, tp.partition)] = future.result().offset
            except KafkaException as exc:
                raise BeamConnectError("could not list offsets of topic=%s partition=%d on "
                                       "bootstrap.servers=%s: %s%s"
                                       % (tp.topic, tp.partition, self._servers, exc.args[0],
                                          missing_acl(exc.args[0], self._config, "DESCRIBE",
                                                      tp.topic))) from exc
        return result

    def committed(self, tps) -> dict:
        """The group's committed offset of each (topic, partition) that has one."""
        consumer = group_consumer(self._config)
        try:
            offsets = retrying(lambda: consumer.committed([TopicPartition(t, p) for t, p in tps],
                                                          timeout=self._timeout), self._timeout)
        except KafkaException as exc:
            raise BeamConnectError("could not read committed offsets of group.id=%s: %s%s"
                                   % (self._config.get("group.id"), exc.args[0],
                                      group_denied(self._config, self._timeout))) from exc
        finally:
            consumer.close()
        return {(tp.topic, tp.partition): tp.offset for tp in offsets if tp.offset >= 0}


def group_denied(consumer_config: Mapping[str, str], timeout: float = 10.0) -> str:
    """``missing_acl``'s text when the broker refuses this principal the group ``group.id``, else "".

    A consumer whose principal may not use the group never finds its coordinator: ``committed()``
    times out and ``commit()`` waits "for coordinator", naming no ACL. An AdminClient's
    ``list_consumer_group_offsets`` gets ``GROUP_AUTHORIZATION_FAILED`` back, so a failed call asks it why.
    """
    from confluent_kafka import ConsumerGroupTopicPartitions

    group = consumer_config["group.id"]
    admin = AdminClient(client_settings({**admin_config(consumer_config), "log_level": 0}))
    try:
        futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)],
                                                    request_timeout=timeout)
        for future in futures.values():
            future.result()
    except KafkaException as exc:
        acl = missing_acl(exc.args[0], consumer_config, "READ", group)
        return " (%s)%s" % (exc.args[0].name(), acl) if acl else ""
    return ""


_COORDINATOR_BUSY = (KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                     KafkaError.COORDINATOR_NOT_AVAILABLE)


def retrying(call: Callable[[], T], timeout: float) -> T:
    """Calls ``call``, retrying while the group coordinator moves or loads (as on a fresh broker)."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        try:
            return call()
        except KafkaException as exc:
            error = exc.args[0]
            busy = isinstance(error, KafkaError) and (error.retriable()
                                                       or error.code() in _COORDINATOR_BUSY)
            if not busy or time.monotonic() + delay > deadline:
                raise
            _LOGGER.debug("retrying after %s", error)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def cap_records(plans: Sequence[PartitionPlan], max_records: Optional[int]) -> list:
    """Shrinks plan ends so that at most ``max_records`` offsets are planned in total.

    The cap is shared fairly (water-filling in topic/partition order), so every partition with data gets
    a share and the result depends only on the plans and the cap.
    """
    plans = sorted(plans)
    if max_records is None or sum(p.size for p in plans) <= max_records:
        return list(plans)
    sizes = {i: 0 for i in range(len(plans))}
    left = max_records
    open_ = [i for i, p in enumerate(plans) if p.size > 0]
    while left > 0 and open_:
        share = max(1, left // len(open_))
        for i in list(open_):
            take = min(share, plans[i].size - sizes[i], left)
            sizes[i] += take
            left -= take
            if sizes[i] == plans[i].size:
                open_.remove(i)
            if left == 0:
                break
    return [dataclasses.replace(p, end=p.start + sizes[i]) for i, p in enumerate(plans)]


def _millis(moment: datetime.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp() * 1000)
