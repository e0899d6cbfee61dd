"""Throughput of ``beamconnect run`` into PostgreSQL and MariaDB (upserts) against a bare bulk load.

Produces N (default 1,000,000) JSON records with K (default 100,000) distinct ids into a 4-partition
topic, then, in the same run, times as whole processes:
  (a) a bare client bulk-loading the same N rows into a table of the same columns: ``COPY ... FROM
      STDIN`` with psycopg for PostgreSQL, ``LOAD DATA LOCAL INFILE`` with PyMySQL for MariaDB;
  (c) a bare client doing the sink's writes: each batch of ``batch.size`` rows bulk-loaded into a
      staging table (COPY / LOAD DATA LOCAL INFILE), then merged into a table keyed by id, the
      newest row of each id winning (``INSERT ... ON CONFLICT DO UPDATE`` / ``ON DUPLICATE KEY
      UPDATE``), one transaction per batch;
  (b) ``python -m pipelines run`` with the JDBC sink: ``insert.mode=upsert``, ``pk.mode=record_value``,
      ``pk.fields=id``, ``auto.create=true`` (each bundle reduced to the last record per id, written
      with the dialect's fast path), checked to leave K rows holding each id's newest record.
Prints both rates in records/s, each process's own peak memory (its maximum resident set, measured by a
small parent of its own, so that this process's memory does not count) and the ratios b/a and b/c per
database (the project's target for b/a: 0.5).

    .venv/bin/python benchmarks/kafka_to_jdbc.py [--records N] [--keys K] [--only postgres|mariadb]

A local Kafka broker and throwaway PostgreSQL and MariaDB servers (the suite's own launchers) are
started and stopped; ``./dev test`` installs the servers where they are missing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid

import harness

ROOT = harness.ROOT
sys.path.insert(0, ROOT)

PARTITIONS = 4
BATCH_SIZE = 50_000
COLUMNS = ("id", "user_name", "event", "amount", "ts", "country")

BARE_POSTGRES = r"""
import sys, psycopg
url, path = sys.argv[1], sys.argv[2]
with psycopg.connect(url) as conn, open(path, "rb") as f:
    conn.execute("CREATE TABLE bare_copy (id bigint, user_name text, event text, amount double precision,"
                 " ts bigint, country text)")
    with conn.cursor().copy("COPY bare_copy FROM STDIN WITH (FORMAT csv)") as copy:
        while chunk := f.read(1 << 20):
            copy.write(chunk)
    print(conn.execute("SELECT count(*) FROM bare_copy").fetchone()[0])
"""

BARE_MARIADB = r"""
import sys, pymysql
host, port, user, password, database, path = sys.argv[1:7]
conn = pymysql.connect(host=host, port=int(port), user=user, password=password, database=database,
                       local_infile=True)
with conn.cursor() as cur:
    cur.execute("CREATE TABLE bare_load (id bigint, user_name text, event text, amount double, "
                "ts bigint, country text)")
    cur.execute("LOAD DATA LOCAL INFILE %s INTO TABLE bare_load FIELDS TERMINATED BY ',' "
                "OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n'", (path,))
    conn.commit()
    cur.execute("SELECT count(*) FROM bare_load")
    print(cur.fetchone()[0])
conn.close()
"""

# The same writes as the sink's, by a bare client: each batch of BATCH_SIZE rows staged in bulk, then
# merged into a table keyed by id, the newest row of each id winning.
UPSERT_COLUMNS = "user_name, event, amount, ts, country"

BARE_POSTGRES_UPSERT = r"""
import itertools, sys, psycopg
url, path, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
columns = "%s"
with psycopg.connect(url, autocommit=True) as conn:
    conn.execute("CREATE TABLE bare_upsert (id bigint PRIMARY KEY, user_name text, event text, "
                 "amount double precision, ts bigint, country text)")
    conn.execute("CREATE TEMP TABLE stage (ord bigserial, id bigint, user_name text, event text, "
                 "amount double precision, ts bigint, country text)")
    merge = ("INSERT INTO bare_upsert SELECT DISTINCT ON (id) id, %%s FROM stage ORDER BY id, ord DESC "
             "ON CONFLICT (id) DO UPDATE SET %%s" %% (columns, ", ".join(
                 "%%s = EXCLUDED.%%s" %% (c, c) for c in columns.split(", "))))
    with open(path, "rb") as f:
        while lines := list(itertools.islice(f, batch)):
            with conn.transaction():
                with conn.cursor().copy("COPY stage (id, %%s) FROM STDIN WITH (FORMAT csv)" %% columns) as copy:
                    copy.write(b"".join(lines))
                conn.execute(merge)
                conn.execute("TRUNCATE stage")
    print(conn.execute("SELECT count(*) FROM bare_upsert").fetchone()[0])
""" % UPSERT_COLUMNS

BARE_MARIADB_UPSERT = r"""
import itertools, os, sys, tempfile, pymysql
host, port, user, password, database, path, batch = sys.argv[1:8]
columns = "%s"
conn = pymysql.connect(host=host, port=int(port), user=user, password=password, database=database,
                       local_infile=True)
with conn.cursor() as cur:
    cur.execute("CREATE TABLE bare_upsert (id bigint PRIMARY KEY, user_name text, event text, "
                "amount double, ts bigint, country text)")
    cur.execute("CREATE TEMPORARY TABLE stage (ord bigint AUTO_INCREMENT PRIMARY KEY, id bigint, "
                "user_name text, event text, amount double, ts bigint, country text)")
    merge = ("INSERT INTO bare_upsert SELECT id, %%s FROM stage ORDER BY ord ON DUPLICATE KEY UPDATE %%s"
             %% (columns, ", ".join("%%s = VALUES(%%s)" %% (c, c) for c in columns.split(", "))))
    with open(path, "rb") as f:
        while lines := list(itertools.islice(f, int(batch))):
            with tempfile.NamedTemporaryFile(suffix=".csv") as chunk:
                chunk.write(b"".join(lines))
                chunk.flush()
                cur.execute("LOAD DATA LOCAL INFILE %%s INTO TABLE stage FIELDS TERMINATED BY ',' "
                            "OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\n' (id, %%s)"
                            %% ("%%s", columns), (chunk.name,))
            cur.execute(merge)
            cur.execute("DELETE FROM stage")
            conn.commit()
    cur.execute("SELECT count(*) FROM bare_upsert")
    print(cur.fetchone()[0])
conn.close()
""" % UPSERT_COLUMNS


def _record(rng: random.Random, i: int, keys: int) -> dict:
    return {"id": i % keys, "user_name": "user-%06d" % rng.randrange(1_000_000),
            "event": rng.choice(["view", "click", "purchase", "signup"]),
            "amount": round(rng.uniform(0, 1000), 2), "ts": 1_767_225_600_000 + i,
            "country": rng.choice(["DE", "FR", "US", "JP", "BR"])}


def produce(servers: str, topic: str, count: int, keys: int, csv_path: str) -> None:
    """The records to the topic (id i % keys, to partition id % 4), and the same rows to a CSV file."""
    rng = random.Random(1)

    def records():
        with open(csv_path, "w") as csv:
            for i in range(count):
                record = _record(rng, i, keys)
                csv.write("%d,%s,%s,%r,%d,%s\n" % tuple(record[c] for c in COLUMNS))
                yield json.dumps(record, separators=(",", ":")).encode(), record["id"] % PARTITIONS

    harness.produce(servers, topic, PARTITIONS, records())


def _connector(store: str, name: str, topic: str, jdbc_url: str, user: str, password: str,
               batch_size: int = BATCH_SIZE) -> str:
    path = os.path.join(store, name + ".properties")
    with open(path, "w") as f:
        f.write("name=%s\nconnector.class=io.confluent.connect.jdbc.JdbcSinkConnector\ntopics=%s\n"
                "key.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n"
                "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
                "value.converter.schemas.enable=false\n"
                "connection.url=%s\nconnection.user=%s\nconnection.password=%s\n"
                "insert.mode=upsert\npk.mode=record_value\npk.fields=id\nauto.create=true\n"
                "table.name.format=upserted\nbatch.size=%d\n" % (name, topic, jdbc_url, user, password, batch_size))
    return path


def bench(kind: str, db, servers: str, topic: str, args, csv_path: str, store: str, env: dict) -> tuple:
    if kind == "postgres":
        bare = [sys.executable, "-c", BARE_POSTGRES,
                db.sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://"), csv_path]
    else:
        bare = [sys.executable, "-c", BARE_MARIADB, db.host, str(db.port), db.user, db.password,
                db.database, csv_path]
    bare_wall, bare_mem, out = harness.timed_alone(bare, env)
    if int(out.strip()) != args.records:
        raise SystemExit("the bare load wrote %s rows, expected %d" % (out.strip(), args.records))
    if kind == "postgres":
        upsert = [sys.executable, "-c", BARE_POSTGRES_UPSERT, bare[3], csv_path, str(args.batch_size)]
    else:
        upsert = [sys.executable, "-c", BARE_MARIADB_UPSERT, *bare[3:8], csv_path, str(args.batch_size)]
    upsert_wall, upsert_mem, out = harness.timed_alone(upsert, env)
    if int(out.strip()) != args.keys:
        raise SystemExit("the bare upsert left %s rows, expected %d" % (out.strip(), args.keys))
    config = _connector(store, "bench-%s-%s" % (kind, topic), topic, db.jdbc_url, db.user, db.password,
                        args.batch_size)
    run_wall, run_mem, _ = harness.timed_alone([sys.executable, "-m", "pipelines", "run", config,
                                  "--bootstrap-servers", servers], env)
    rows = db.execute("SELECT count(*), count(DISTINCT id) FROM upserted")
    if rows != [(str(args.keys), str(args.keys))]:
        raise SystemExit("the %s table holds %r rows, expected %d" % (kind, rows, args.keys))
    return (bare_wall, bare_mem), (upsert_wall, upsert_mem), (run_wall, run_mem)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--only", choices=("postgres", "mariadb"))
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE,
                        help="batch.size of the connector and of the bare batched upsert")
    args = parser.parse_args()

    from pipelines.dev_kafka import LocalKafka
    from tests.servers.mariadb import LocalMariaDB
    from tests.servers.postgres import LocalPostgres

    kinds = [args.only] if args.only else ["postgres", "mariadb"]
    broker = LocalKafka().start()
    try:
        servers = broker.bootstrap_servers
        topic = "bench-%s" % uuid.uuid4().hex[:8]
        with tempfile.TemporaryDirectory() as store:
            csv_path = os.path.join(store, "rows.csv")
            t0 = time.perf_counter()
            produce(servers, topic, args.records, args.keys, csv_path)
            print("produced %d records (%d ids) to %s in %.1fs"
                  % (args.records, args.keys, topic, time.perf_counter() - t0))
            env = {**os.environ, "PYTHONPATH": ROOT, "NO_GCE_CHECK": "true"}
            for kind in kinds:
                launcher = LocalPostgres() if kind == "postgres" else LocalMariaDB()
                with launcher as server:
                    (bare_wall, bare_mem), (upsert_wall, upsert_mem), (run_wall, run_mem) = bench(
                        kind, server.database, servers, topic, args, csv_path, store, env)
                bare_rate, run_rate = args.records / bare_wall, args.records / run_wall
                upsert_rate = args.records / upsert_wall
                what = "COPY" if kind == "postgres" else "LOAD DATA LOCAL INFILE"
                print("%s (a) bare %s: %10.0f records/s  (%.2fs, peak %.0f MiB)"
                      % (kind, what, bare_rate, bare_wall, bare_mem))
                print("%s (c) bare batched upsert: %7.0f records/s  (%.2fs, peak %.0f MiB)"
                      % (kind, upsert_rate, upsert_wall, upsert_mem))
                print("%s (b) beamconnect upsert: %8.0f records/s  (%.2fs, peak %.0f MiB)"
                      % (kind, run_rate, run_wall, run_mem))
                print("%s ratio b/a: %.2f   b/c: %.2f" % (kind, run_rate / bare_rate,
                                                          run_rate / upsert_rate))
    finally:
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
