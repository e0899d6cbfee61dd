"""``beamconnect plan CONFIG``: what a run would read, and what the sink would write, without a run.

The plan is the one ``run`` makes (the same offsets: committed, else ``auto.offset.reset``, or
``--from``/``--until``/``--max-records``), made by reading offsets only: nothing is committed, created
or written. Per partition it shows the range a run would read, its records and the lag left after it;
sinks that can tell from offsets alone what they would write add it (the file sink: the files' paths,
see :meth:`sinks.base.Sink.describe_plan`).
"""

from __future__ import annotations

from confluent_kafka.admin import OffsetSpec

from pipelines.run import RunOptions, plan_run
from transforms.kafka.planning import Planner


def describe_plan(config, options: RunOptions) -> str:
    plans = plan_run(config, options)
    log_ends = Planner(config.consumer_config).offsets([(p.topic, p.partition) for p in plans],
                                                       OffsetSpec.latest()) if plans else {}
    header = ["topic", "partition", "committed", "from", "to", "records", "lag", "lag after"]
    rows = [header]
    for p in plans:
        end = max(log_ends[(p.topic, p.partition)], p.end)
        position = p.committed if p.committed is not None else p.start
        rows.append([p.topic, str(p.partition), "-" if p.committed is None else str(p.committed),
                     str(p.start), str(p.end), str(p.size), str(max(0, end - position)),
                     str(max(0, end - p.end))])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    total = sum(p.size for p in plans)
    lines.append("a run of connector %r would read %d records from %d topic-partitions (group.id=%s)"
                 % (config.name, total, len(plans), config.group_id))
    for p in plans:
        described = config.sink.describe_plan(config.sink_config, p)
        if described:
            lines.append("%s[%d]:" % (p.topic, p.partition))
            lines.extend("  " + line for line in described)
    return "\n".join(lines)
