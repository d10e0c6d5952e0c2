"""Cold vs hot TPC-H queries on Hyper: what a fresh hyperd costs, and how much slower a query's first run is
after a fresh hyperd (and, where this machine allows it, with the OS page cache emptied) than its best of the
next two runs.

    .venv/bin/python benchmarks/cold_hot.py --tpch-data DIR --sf 1 --queries 1,6,9,13,18 --trials 3

For every trial and query: start a new hyperd on the same database file (timed: process start, then the first
connection), empty the page cache of that file (posix_fadvise DONTNEED, which needs no privilege; `--drop-caches`
writes 1 to /proc/sys/vm/drop_caches instead, which empties the whole machine's page cache and needs root), run
the query three times, stop hyperd. "warm OS" trials skip the eviction: only hyperd itself is new.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine_line, publish  # noqa: E402
from benchmarks.suites_common import sql_literal  # noqa: E402
from loadgen.workloads.tpch import queries as tpch_queries  # noqa: E402
from loadgen.workloads.tpch import schema as tpch_schema  # noqa: E402
from loadgen.workloads.tpch.refresh import base_files  # noqa: E402

DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def can_drop_caches() -> bool:
    return os.geteuid() == 0 and os.access(DROP_CACHES, os.W_OK)


def resident_mib(path: Path) -> float:
    """How much of `path` is in the page cache (util-linux fincore), in MiB; -1 if fincore is missing."""
    try:
        out = subprocess.run(["fincore", "-b", "-n", "-o", "RES", str(path)], capture_output=True, text=True,
                             timeout=30, check=True)  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return -1.0
    return int(out.stdout.split()[0]) / 2**20


def evict(path: Path, drop_caches: bool) -> None:
    if drop_caches:
        os.sync()
        DROP_CACHES.write_text("1\n")
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def build(database: Path, data_dir: Path, log_dir: str) -> float:
    from tableauhyperapi import Connection, CreateMode, HyperProcess, Telemetry

    start = time.perf_counter()
    with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": log_dir}) as hyperd:
        with Connection(hyperd.endpoint, str(database), CreateMode.CREATE_AND_REPLACE) as connection:
            for table in tpch_schema.TABLES:
                connection.execute_command(tpch_schema.create_sql(table, table))
                for path in base_files(data_dir, table):
                    connection.execute_command(f"INSERT INTO {table} SELECT * FROM external({sql_literal(path)})")
    return time.perf_counter() - start


def trial(database: Path, sql: str, cold_os: bool, drop_caches: bool, log_dir: str) -> dict:
    from tableauhyperapi import Connection, HyperProcess, Telemetry

    if cold_os:
        evict(database, drop_caches)
    resident = resident_mib(database)
    start = time.perf_counter()
    with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": log_dir}) as hyperd:
        started = time.perf_counter()
        with Connection(hyperd.endpoint, str(database)) as connection:
            connected = time.perf_counter()
            runs = []
            for _ in range(3):
                begin = time.perf_counter()
                with connection.execute_query(sql) as result:
                    for _row in result:
                        pass
                runs.append(time.perf_counter() - begin)
        closing = time.perf_counter()
    stopped = time.perf_counter()
    return {
        "start_s": started - start,
        "connect_s": connected - started,
        "stop_s": stopped - closing,
        "first_s": runs[0],
        "hot_s": min(runs[1:]),
        "resident_before_mib": resident,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tpch-data", type=Path, required=True)
    parser.add_argument("--sf", type=float, required=True)
    parser.add_argument("--queries", default="1,6,9,13,18")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--drop-caches", action="store_true", help="empty the whole page cache (root) for cold")
    parser.add_argument("--write", help="also write the markdown table to this file")
    args = parser.parse_args(argv)
    if args.drop_caches and not can_drop_caches():
        parser.error(f"--drop-caches: {DROP_CACHES} is not writable here (needs root)")
    numbers = [int(q) for q in args.queries.split(",")]
    started = machine_line()
    with tempfile.TemporaryDirectory(prefix="cold-hot-") as folder:
        database = Path(folder) / "tpch.hyper"
        build_s = build(database, args.tpch_data, folder)
        size_mib = database.stat().st_size / 2**20
        results = {}
        for number in numbers:
            sql = tpch_queries.query_text(number, args.sf)
            for cold_os in (True, False):
                results[(number, cold_os)] = [
                    trial(database, sql, cold_os, args.drop_caches, folder) for _ in range(args.trials)
                ]
    eviction = "drop_caches (whole machine)" if args.drop_caches else "posix_fadvise DONTNEED of the .hyper file"
    lines = [
        f"# Cold vs hot TPC-H queries on Hyper, SF {args.sf:g}",
        "",
        started,
        f"Database {size_mib:.0f} MiB, built in {build_s:.1f} s. Cold OS cache: {eviction}; "
        f"/proc/sys/vm/drop_caches writable here: {'yes' if can_drop_caches() else 'no'}. "
        f"Medians of {args.trials} trials; each trial starts a new hyperd.",
        "",
        "| query | OS cache | resident before MiB | hyperd start s | connect s | first run s | best of next 2 s "
        "| first ÷ hot | hyperd stop s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (number, cold_os), trials in results.items():
        med = {key: statistics.median(t[key] for t in trials) for key in trials[0]}
        cache = "cold" if cold_os else "warm"
        lines.append(
            f"| Q{number} | {cache} | {med['resident_before_mib']:.0f} | {med['start_s']:.3f} | {med['connect_s']:.3f} "
            f"| {med['first_s']:.3f} | {med['hot_s']:.3f} | {med['first_s'] / med['hot_s']:.1f} | {med['stop_s']:.3f} |"
        )
    publish("\n".join(lines) + "\n", args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
