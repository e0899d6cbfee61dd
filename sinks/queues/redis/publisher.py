"""Writing a batch to Redis streams: one atomic script per batch that adds each record once.

A batch (of one source topic-partition) is one ``EVALSHA`` of :data:`SCRIPT`: for each record, in offset
order, an ``XADD <stream> [MAXLEN ~ n] * <fields>`` (Redis chooses the entry id); and in the same
script, the next offset of the source partition in the sink's offsets hash (``redis.offsets.key``,
field ``<topic>/<partition>``). The script skips records below the offset it finds there, so a batch
sent again (its reply lost with the connection, a rerun, ``--from earliest``) adds nothing twice.
Redis runs a script atomically and writes its effects to the AOF and replicas as one transaction: the
entries and the offset land together or not at all. The batch is confirmed when the script's reply
(and, with ``redis.wait.replicas``, WAIT's) is in.

An ``XADD`` Redis refuses (``WRONGTYPE``: the key holds a hash, a string...) stops the script at that
record, so the offset stays on it and the rest of the batch is not written: the batch fails with a
:class:`~common.errors.DataError`, which the write loop answers by splitting the bundle until the
record is alone. It is dead-lettered before any later record is written, so the stored offset never
passes a record that is neither in Redis nor in the dead-letter queue. (A
:class:`~common.errors.RejectedRecord` would say the rest of the batch was written.) A record the sink
cannot turn into fields (``redis.stream.body=value`` and a value without fields) is handled alike.

Dead-letter replays (``replay-dlq``: scattered offsets) skip nothing and store no offsets: their script
writes every record it can and names the refused ones (a ``RejectedRecord``); a batch sent again after
a lost reply is written again.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import List, Optional, Sequence, Tuple

from common.errors import BeamConnectError, DataError, RejectedRecord
from sinks.queues.messages import Message, describe_range
from sinks.queues.publish import ConnectionLost, Publisher
from sinks.queues.redis.config import RedisSinkConfig

_LOGGER = logging.getLogger(__name__)

#: KEYS[1]: the offsets hash; KEYS[2..]: the batch's streams. ARGV[1]: the hash field of the batch's
#: source partition; ARGV[2]: "1" to skip records below its offset and store the next one, "0" not
#: to; ARGV[3]: MAXLEN or "0"; ARGV[4]: "~" or "="; then per record: its stream's index in KEYS[2..],
#: its offset, its field count n and n field, value pairs. Returns {records written, {indices of
#: refused records (1-based)}, {their errors}}.
SCRIPT = """
local skip = ARGV[2] == '1'
local maxlen = ARGV[3]
local trim = ARGV[4]
local nxt = -1
if skip then
  nxt = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
end
local stored = nxt
local written, refused, reasons = 0, {}, {}
local position, index = 5, 0
while position <= #ARGV do
  index = index + 1
  local stream = KEYS[tonumber(ARGV[position]) + 2]
  local offset = tonumber(ARGV[position + 1])
  local first = position + 3
  position = first + 2 * tonumber(ARGV[position + 2])
  if (not skip) or offset >= nxt then
    local command = {'XADD', stream}
    if maxlen ~= '0' then
      command[3] = 'MAXLEN'; command[4] = trim; command[5] = maxlen
    end
    command[#command + 1] = '*'
    for i = first, position - 1 do command[#command + 1] = ARGV[i] end
    local reply = redis.pcall(unpack(command))
    if type(reply) == 'table' and reply.err then
      refused[#refused + 1] = index
      reasons[#reasons + 1] = reply.err
      if skip then break end
    else
      written = written + 1
      if skip then nxt = offset + 1 end
    end
  end
end
if skip and nxt > stored then
  redis.call('HSET', KEYS[1], ARGV[1], nxt)
end
return {written, refused, reasons}
"""

#: What a JSON value without fields is, for errors.
_KINDS = {str: "a string", list: "an array", int: "a number", float: "a number", bool: "a boolean"}
#: Errors after which the same command may pass later (a restart, a failover, memory freed).
_PASSING = ("LOADING", "BUSY", "READONLY", "MASTERDOWN", "TRYAGAIN", "OOM", "CLUSTERDOWN")


def record_fields(message: Message) -> List[Tuple[str, bytes]]:
    """The fields of ``message``'s entry with ``redis.stream.body=record``.

    ``key`` and ``value`` hold the bytes (left out when null), ``topic``, ``partition`` and
    ``offset`` the source coordinates, ``timestamp`` epoch milliseconds (left out when unknown) and
    ``headers`` a JSON array of ``[name, value]`` pairs (left out without headers): a value is its
    UTF-8 text, null, or ``{"base64": ...}`` when it is not UTF-8.
    """
    fields = []
    if message.key is not None:
        fields.append(("key", bytes(message.key)))
    if message.value is not None:
        fields.append(("value", bytes(message.value)))
    fields += [("topic", message.topic.encode("utf-8")), ("partition", b"%d" % message.partition),
               ("offset", b"%d" % message.offset)]
    if message.timestamp is not None:
        fields.append(("timestamp", b"%d" % message.timestamp))
    if message.headers:
        fields.append(("headers", json.dumps([[name, _header_value(value)]
                                              for name, value in message.headers],
                                             separators=(",", ":"), ensure_ascii=False)
                       .encode("utf-8")))
    return fields


def value_fields(message: Message) -> List[Tuple[str, bytes]]:
    """The fields of ``message``'s entry with ``redis.stream.body=value``: each top-level field of the
    value (its JSON form, from :mod:`sinks.encoding`) as text, nested data as JSON; null fields are
    left out.

    Raises:
      DataError: the value is null or has no fields (a string, bytes, a number, an array).
    """
    if message.value is None:
        raise DataError("redis.stream.body=value writes a value's fields, and %s is a tombstone"
                        % message.describe())
    value = json.loads(message.value)
    if not isinstance(value, dict):
        raise DataError("redis.stream.body=value writes a value's fields, but the value of %s is %s "
                        "(use a struct or map value, or redis.stream.body=record)"
                        % (message.describe(), _KINDS.get(type(value), "not a struct or map")))
    fields = []
    for name, field in value.items():
        if field is None:
            continue
        if isinstance(field, str):
            text = field
        elif isinstance(field, bool):
            text = "true" if field else "false"
        else:
            text = json.dumps(field, separators=(",", ":"), ensure_ascii=False)
        fields.append((name, text.encode("utf-8")))
    if not fields:
        raise DataError("redis.stream.body=value writes a value's fields, and the value of %s has "
                        "none that is not null" % message.describe())
    return fields


def _header_value(value: Optional[bytes]):
    if value is None:
        return None
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}


class RedisPublisher(Publisher):
    """One connection to Redis.

    Args:
      config: The sink's config.
      replay: Whether the batches are dead letters being replayed (nothing skipped, no offsets
        stored).
    """

    def __init__(self, config: RedisSinkConfig, replay: bool = False):
        self._config = config
        self._replay = replay
        self._client = None
        self._sha: Optional[str] = None

    def connect(self) -> None:
        redis = _redis()
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        config, target = self._config, self._config.target
        options = {}
        if target.tls:
            options = dict(ssl=True, ssl_ca_certs=target.cacert or None,
                           ssl_certfile=target.cert or None, ssl_keyfile=target.keyfile or None,
                           ssl_password=str(target.key_password) or None,
                           ssl_cert_reqs="none" if target.insecure else "required",
                           ssl_check_hostname=not target.insecure)
        try:  # a single-connection client connects (and logs in) as it is made
            client = self._client = redis.Redis(
                host=target.host, port=target.port, db=target.database,
                username=target.username or None, password=str(target.password) or None,
                socket_timeout=target.timeout, socket_connect_timeout=target.timeout,
                retry=Retry(NoBackoff(), 0), single_connection_client=True, protocol=2, **options)
            client.ping()
            kind = client.type(config.offsets_key)
            self._sha = client.script_load(SCRIPT)
        except redis.AuthenticationError as exc:
            raise BeamConnectError("Redis at %s refused the login %s: %s; check redis.username and "
                                   "redis.password (or the user and password of redis.uri)"
                                   % (target.describe(), _who(target), exc)) from None
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise ConnectionLost("could not reach Redis at %s within %ds: %s"
                                 % (target.describe(), target.timeout, exc)) from None
        except redis.ResponseError as exc:
            if str(exc).startswith(_PASSING):
                raise ConnectionLost("Redis at %s: %s" % (target.describe(), exc)) from None
            raise BeamConnectError("Redis at %s refused the sink's commands %s: %s"
                                   % (target.describe(), _who(target), exc)) from None
        if kind not in (b"none", b"hash"):
            raise BeamConnectError("redis.offsets.key=%r holds a %s; the sink keeps its offsets in a "
                                   "hash there: name another key" % (config.offsets_key,
                                                                    kind.decode()))

    def publish(self, batch: Sequence[Message]) -> None:
        config = self._config
        streams: dict = {}
        args: list = []
        refused_early: Optional[DataError] = None  # a record without fields, before the others
        kept: List[Message] = []
        failed: List[Tuple[Message, str]] = []
        for message in batch:
            try:
                fields = value_fields(message) if config.body == "value" else record_fields(message)
            except DataError as error:
                if not self._replay:
                    refused_early = error
                    break
                failed.append((message, str(error)))
                continue
            stream = config.stream(message.target)
            args += [streams.setdefault(stream, len(streams)), message.offset, len(fields)]
            for name, value in fields:
                args += [name, value]
            kept.append(message)
        if kept:
            _, refused, reasons = self._run(list(streams), args, batch)
            for position, reason in zip(refused, reasons):
                message = kept[int(position) - 1]
                why = "Redis refused the entry for stream %r: %s" % (
                    config.stream(message.target), _text(reason))
                if not self._replay:
                    raise DataError(_refusal([(message, why)]))
                failed.append((message, why))
        if refused_early is not None:
            raise refused_early
        if failed:
            raise RejectedRecord(_refusal(failed), [m.offset for m, _ in failed])

    def _run(self, streams: list, args: list, batch: Sequence[Message]) -> tuple:
        redis = _redis()
        config, target = self._config, self._config.target
        first = batch[0]
        head = [config.offsets_key.encode("utf-8")] + [s.encode("utf-8") for s in streams]
        tail = ["%s/%d" % (first.topic, first.partition), "0" if self._replay else "1",
                config.maxlen, "~" if config.approximate else "="]
        pipe = self._client.pipeline(transaction=False)
        pipe.evalsha(self._sha, len(head), *head, *tail, *args)
        if config.wait_replicas:
            pipe.wait(config.wait_replicas, config.wait_timeout_ms)
        try:
            replies = pipe.execute(raise_on_error=False)
            if isinstance(replies[0], redis.exceptions.NoScriptError):  # Redis restarted
                self._sha = self._client.script_load(SCRIPT)
                return self._run(streams, args, batch)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise ConnectionLost("Redis at %s: %s while writing %s" % (
                target.describe(), exc, describe_range(batch))) from None
        for reply in replies:
            if isinstance(reply, redis.ResponseError):
                if str(reply).startswith(_PASSING):
                    raise ConnectionLost("Redis at %s answered %s while writing %s" % (
                        target.describe(), reply, describe_range(batch)))
                raise BeamConnectError("Redis at %s failed the write of %s: %s" % (
                    target.describe(), describe_range(batch), reply))
        if config.wait_replicas and replies[1] < config.wait_replicas:
            raise ConnectionLost("only %d of redis.wait.replicas=%d replicas of Redis at %s had %s "
                                 "within redis.wait.timeout=%dms" % (
                                     replies[1], config.wait_replicas, target.describe(),
                                     describe_range(batch), config.wait_timeout_ms))
        return replies[0]

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing must not raise
                pass


def _redis():
    """The redis-py module, or an error naming the extra that brings it."""
    try:
        import redis
    except ImportError:
        raise BeamConnectError("the Redis sink needs redis-py: pip install 'beamconnect[redis]'") from None
    return redis


def _who(target) -> str:
    return "as user %r" % target.username if target.username else "as the default user"


def _text(reason) -> str:
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def _refusal(failed: List[Tuple[Message, str]]) -> str:
    if len(failed) == 1:
        return "the entry of %s was refused: %s" % (failed[0][0].describe(), failed[0][1])
    shown = "; ".join("offset %d: %s" % (m.offset, why) for m, why in failed[:5])
    more = "" if len(failed) <= 5 else "; and %d more" % (len(failed) - 5)
    return "%d entries of topic=%s partition=%d were refused: %s%s" % (
        len(failed), failed[0][0].topic, failed[0][0].partition, shown, more)
