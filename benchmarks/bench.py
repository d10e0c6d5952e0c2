"""Is loadgen the bottleneck? Side-by-side measurements on one hyperd, medians of N repetitions, as ratios.

Measures, on the same canonical rows: the server's own ceiling (INSERT … SELECT generate_series), minimal
hand-written clients for each path, loadgen running the same work through scenarios (1 and 2 workers), and
pantab. Prints a markdown table of medians and ratios with their floors, and optionally writes it
to a file (BENCHMARKS.md). Only ratios measured in the same run are compared.

    python benchmarks/bench.py                 # full size (10M rows; ~5 minutes on 2 cores)
    python benchmarks/bench.py --rows 20000 --row-api-rows 2000 --memory-rows 40000 --reps 1   # smoke size
"""

import argparse
import contextlib
import csv
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common  # benchmarks/common.py (a script's own folder is on sys.path)
import numpy as np
import psutil
import pyarrow as pa
from tableauhyperapi import (
    Connection,
    CreateMode,
    Endpoint,
    HyperProcess,
    Inserter,
    TableName,
    Telemetry,
    escape_string_literal,
)

from loadgen.datagen import canonical
from loadgen.datagen.canonical import RowRange
from loadgen.datagen.canonical_batches import ARROW_SCHEMA, iter_record_batches
from loadgen.engine import server
from loadgen.engine.sampler import CpuClock, take_sample
from loadgen.transfer.copy_io import CopyWriter

SMALL_TABLE_ROWS = 100_000
SMALL_QUERIES = 2000
SQL_CEILING = (
    "INSERT INTO {t} SELECT i, i % 10, i * 0.1, 1700000000000 + i::BIGINT * 1000 "
    "FROM generate_series(0, {n} - 1) AS s(i)"
)


# ------------------------------------------------------------------------------------------- helpers
def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def fresh_table(conn, name: str) -> str:
    table = str(TableName(name))
    conn.execute_command(f"DROP TABLE IF EXISTS {table}")
    conn.execute_command(f"CREATE TABLE {table} ({canonical.COLUMNS_SQL})")
    return table


def check_count(conn, table: str, rows: int) -> None:
    count = conn.execute_scalar_query(f"SELECT COUNT(*) FROM {table}")
    assert count == rows, f"{table}: {count} rows, expected {rows}"


# ------------------------------------------------------------------------------- hand-written clients
def ceiling(conn, rows: int) -> float:
    table = fresh_table(conn, "ceiling")
    seconds = timed(lambda: conn.execute_command(SQL_CEILING.format(t=table, n=rows)))
    check_count(conn, table, rows)
    return rows / seconds


def hand_staged_copy(conn, rows: int, per_copy: int = 1_000_000, batch: int = 16_384) -> float:
    table = fresh_table(conn, "hand_copy")

    def work():
        for start in range(0, rows, per_copy):
            path = f"/dev/shm/bench-{os.getpid()}.arrows"
            with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, ARROW_SCHEMA) as writer:
                for b in iter_record_batches(RowRange(start, min(per_copy, rows - start)), batch):
                    writer.write_batch(b)
            conn.execute_command(f"COPY {table} FROM {escape_string_literal(path)} WITH (FORMAT arrowstream)")
            os.unlink(path)

    seconds = timed(work)
    check_count(conn, table, rows)
    return rows / seconds


def staged_copy_limit(endpoint: str, database: str, conn, rows: int, sessions: int = 2, per_copy: int = 1_000_000):
    """The arrow path's own limit on this machine: every file staged beforehand (not timed), then `sessions`
    connections COPY them in parallel, one table each, with no client work at all while the clock runs. The COPY
    call releases the GIL, so threads give real parallel sessions."""
    import threading

    share = rows // sessions
    staged: list[list[str]] = []
    for s in range(sessions):
        paths = []
        for start in range(s * share, (s + 1) * share, per_copy):
            path = f"/dev/shm/bench-limit-{os.getpid()}-{s}-{start}.arrows"
            with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, ARROW_SCHEMA) as writer:
                for b in iter_record_batches(RowRange(start, min(per_copy, (s + 1) * share - start)), 16_384):
                    writer.write_batch(b)
            paths.append(path)
        staged.append(paths)
    tables = [fresh_table(conn, f"limit_{s}") for s in range(sessions)]
    connections = [Connection(Endpoint(endpoint, "bench"), database) for _ in range(sessions)]
    start_gate = threading.Barrier(sessions + 1)

    def copy(s: int) -> None:
        start_gate.wait()
        for path in staged[s]:
            connections[s].execute_command(
                f"COPY {tables[s]} FROM {escape_string_literal(path)} WITH (FORMAT arrowstream)"
            )

    threads = [threading.Thread(target=copy, args=(s,)) for s in range(sessions)]
    try:
        for t in threads:
            t.start()
        start = time.perf_counter()
        start_gate.wait()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - start
    finally:
        for c in connections:
            c.close()
        for path in (p for paths in staged for p in paths):
            with contextlib.suppress(OSError):
                os.unlink(path)
    for table in tables:
        check_count(conn, table, share)
    return share * sessions / seconds


def hand_add_row(conn, rows: int) -> float:
    table = TableName("hand_add_row")
    fresh_table(conn, "hand_add_row")

    def work():
        with Inserter(conn, table) as inserter:
            for i in range(rows):
                inserter.add_row([i, i % 10, i * 0.1, 1_700_000_000_000 + i * 1000])
            inserter.execute()

    seconds = timed(work)
    check_count(conn, str(table), rows)
    return rows / seconds


def hand_pg_copy(descriptor: str, database: str, conn, rows: int, per_copy: int = 1_000_000) -> float:
    table = fresh_table(conn, "hand_pg")
    pg = server.pg_connect(descriptor, database)

    def work():
        with pg.cursor() as cursor:
            for start in range(0, rows, per_copy):
                with cursor.copy(f"COPY {table} FROM STDIN WITH (FORMAT arrowstream)") as copy:
                    with pa.ipc.new_stream(pa.PythonFile(CopyWriter(copy), mode="w"), ARROW_SCHEMA) as w:
                        for b in iter_record_batches(RowRange(start, min(per_copy, rows - start)), 16_384):
                            w.write_batch(b)

    try:
        seconds = timed(work)
    finally:
        pg.close()
    check_count(conn, table, rows)
    return rows / seconds


def hand_copy_to_mmap(conn, table: str, rows: int) -> float:
    """Warm (one untimed query first, as loadgen's fetch phases do with `warmup_iterations: 1`): Hyper compiles a
    query the first time it sees it, and that cost is not the client's."""
    path = f"/dev/shm/bench-out-{os.getpid()}.arrows"
    result = {}

    def work():
        conn.execute_command(
            f"COPY (SELECT id, sensor_id, value, timestamp FROM {table}) TO {escape_string_literal(path)} "
            "WITH (FORMAT arrowstream)"
        )
        with pa.memory_map(path) as source:
            result["rows"] = sum(b.num_rows for b in pa.ipc.open_stream(source))
        os.unlink(path)

    work()
    seconds = timed(work)
    assert result["rows"] == rows
    return rows / seconds


def hand_row_fetch(conn, table: str, rows: int) -> float:
    total = {"n": 0, "sum": 0}

    def work():
        total["n"] = total["sum"] = 0
        with conn.execute_query(f"SELECT id, sensor_id, value, timestamp FROM {table}") as result:
            for row in result:
                total["n"] += 1
                total["sum"] += row[0]

    work()  # warm, like hand_copy_to_mmap
    seconds = timed(work)
    assert total["n"] == rows
    return rows / seconds


def hand_small_queries_p50_ms(conn, table: str) -> float:
    latencies = []
    sql = f"SELECT COUNT(*) FROM {table}"
    for _ in range(SMALL_QUERIES):
        t0 = time.perf_counter_ns()
        conn.execute_scalar_query(sql)
        latencies.append(time.perf_counter_ns() - t0)
    return float(np.median(latencies)) / 1e6


def pantab_to(rows: int, folder: str) -> float:
    import pantab

    table = pa.Table.from_batches(list(iter_record_batches(RowRange(0, rows), 1_000_000)))
    path = os.path.join(folder, "pantab.hyper")
    seconds = timed(lambda: pantab.frame_to_hyper(table, path, table="measurements"))
    return rows / seconds


def pantab_from(rows: int, folder: str) -> float:
    import pantab

    path = os.path.join(folder, "pantab.hyper")
    out = {}
    seconds = timed(
        lambda: out.setdefault("t", pantab.frame_from_hyper(path, table="measurements", return_type="pyarrow"))
    )
    assert out["t"].num_rows == rows
    return rows / seconds


# --------------------------------------------------------------------------------------------- loadgen
def run_loadgen(scenario_text: str, folder: Path, name: str) -> tuple[Path, float]:
    return common.run_loadgen(scenario_text, folder, name)


def summary_rows(run_dir: Path) -> dict[str, dict]:
    with open(run_dir / "summary.csv") as handle:
        return {r["phase"]: r for r in csv.DictReader(handle)}


def loadgen_run_kept(endpoint: str, name: str, workers: int, phases: str, folder: Path) -> dict[str, dict]:
    """One loadgen run whose database is kept in folder/NAME, so a hand-written client can then read the very
    table loadgen read, on the same hyperd, in the same state."""
    (folder / name).mkdir(exist_ok=True)  # an endpoint's database_dir must exist on its host
    text = (
        f"name: {name}\nworkers: {workers}\n"
        # the bench's own folder: each repetition replaces the database the previous one kept
        f'server: {{endpoint: "{endpoint}", database_dir: "{folder / name}", keep_database: true, '
        f"replace_existing: true}}\n"
        f"phases:\n{phases}"
    )
    run_dir, _ = run_loadgen(text, folder, name)
    return summary_rows(run_dir)


def loadgen_paths(hyper, endpoint: str, workers: int, rows: int, row_api_rows: int, folder: Path, add) -> None:
    """loadgen's numbers for every path at `workers` workers, and (for 1 worker) the hand-written readers on
    loadgen's own tables right after: the last table state of each run is what the hand client reads."""
    bulk = loadgen_run_kept(endpoint, f"bulk_w{workers}", workers, f"""\
  - {{name: stream_insert, workload: insert, method: arrow_stream, rows: {rows}}}
  - {{name: arrow_insert, workload: insert, method: arrow, rows: {rows}}}
  - {{name: arrow_fetch, workload: query, shape: full_scan, method: arrow, iterations: 3, warmup_iterations: 1}}
""", folder)  # fmt: skip
    small = loadgen_run_kept(endpoint, f"small_w{workers}", workers, f"""\
  - {{name: rows_insert, workload: insert, method: rows, rows: {row_api_rows}}}
  - {{name: rows_fetch, workload: query, shape: full_scan, method: rows, warmup_iterations: 1}}
  - {{name: small_table, workload: insert, method: arrow, rows: {SMALL_TABLE_ROWS * workers}}}
  - {{name: small_query, workload: query, method: rows, sql: "SELECT COUNT(*) FROM {{table}}", \
iterations: {SMALL_QUERIES}, warmup_iterations: 20}}
""", folder)  # fmt: skip
    for key, summary, phase, column in (
        ("arrow_insert", bulk, "arrow_insert", "rows_per_s"),
        ("stream_insert", bulk, "stream_insert", "rows_per_s"),
        ("arrow_fetch", bulk, "arrow_fetch", "rows_per_s"),
        ("rows_insert", small, "rows_insert", "rows_per_s"),
        ("rows_fetch", small, "rows_fetch", "rows_per_s"),
        ("small_query_p50_ms", small, "small_query", "p50_ms"),
    ):
        add(f"lg{workers}_{key}", float(summary[phase][column]))
    if workers == 1:
        table = str(TableName("measurements_0"))
        with Connection(hyper.endpoint, str(folder / "bulk_w1" / "loadgen.hyper")) as conn:
            add("hand_copy_to", hand_copy_to_mmap(conn, table, rows))
        with Connection(hyper.endpoint, str(folder / "small_w1" / "loadgen.hyper")) as conn:
            add("hand_small_p50_ms", hand_small_queries_p50_ms(conn, table))


def loadgen_memory(rows: int, folder: Path) -> dict[str, float]:
    text = f"""\
name: bench_memory
workers: 2
sampling: {{interval_ms: 100}}
phases:
  - {{name: big_insert, workload: insert, method: arrow, rows: {rows}}}
"""
    run_dir, _ = run_loadgen(text, folder, "bench_memory")
    peaks: dict[str, float] = {}
    with open(run_dir / "samples.csv") as handle:
        for r in csv.DictReader(handle):
            if r["process"].startswith("worker-") or r["process"] == "coordinator":
                key = "worker" if r["process"].startswith("worker-") else "coordinator"
                peaks[key] = max(peaks.get(key, 0.0), float(r["rss_mib"]))
    return peaks


def loadgen_startup_s(folder: Path) -> float:
    text = """\
name: bench_startup
workers: 4
sampling: {enabled: false}
phases:
  - {name: tiny, workload: insert, method: arrow, rows: 4}
"""
    run_dir, started = run_loadgen(text, folder, "bench_startup")
    release = dt.datetime.fromisoformat(summary_rows(run_dir)["tiny"]["started_utc"].replace("Z", "+00:00"))
    return release.timestamp() - started


def sampler_cost_pct(processes: int = 7, seconds: float = 2.0, interval_s: float = 0.1) -> float:
    """CPU of one sample of `processes` processes plus the host, × 10 samples/s, as % of one core."""
    children = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) for _ in range(processes - 1)]
    try:
        watched = {f"p{i}": psutil.Process(c.pid) for i, c in enumerate(children)}
        watched["self"] = psutil.Process()
        clock = CpuClock()
        take_sample(watched, clock, "x")
        calls = 0
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        while time.perf_counter() - wall0 < seconds:
            take_sample(watched, clock, "x")
            calls += 1
        per_call = (time.process_time() - cpu0) / calls
    finally:
        for c in children:
            c.kill()
            c.wait(timeout=10)
    return 100 * per_call / interval_s


# ------------------------------------------------------------------------------------------------ main
def median(values):
    return statistics.median(values) if values else float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows for the bulk paths")
    parser.add_argument("--row-api-rows", type=int, default=1_000_000, help="rows for the row-API paths")
    parser.add_argument("--memory-rows", type=int, default=100_000_000, help="rows for the memory run (0: skip)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--write", help="also write the markdown report to this file")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="loadgen-bench-"))
    m: dict[str, list[float]] = {}

    def add(key, value):
        m.setdefault(key, []).append(value)

    with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": str(folder)}) as hyper:
        endpoint = hyper.endpoint.connection_descriptor
        database = str(folder / "bench.hyper")
        with Connection(hyper.endpoint, database, CreateMode.CREATE_AND_REPLACE) as conn:
            for rep in range(args.reps):
                print(f"repetition {rep + 1}/{args.reps}", file=sys.stderr, flush=True)
                add("ceiling", ceiling(conn, args.rows))
                add("staged_limit", staged_copy_limit(endpoint, database, conn, args.rows))
                add("hand_copy", hand_staged_copy(conn, args.rows))
                add("hand_pg_copy", hand_pg_copy(endpoint, database, conn, args.rows))
                add("hand_add_row", hand_add_row(conn, args.row_api_rows))
                add("hand_row_fetch", hand_row_fetch(conn, str(TableName("hand_add_row")), args.row_api_rows))
                for workers in (1, 2):  # the same total rows whatever the worker count
                    loadgen_paths(hyper, endpoint, workers, args.rows, args.row_api_rows, folder, add)
                add("pantab_to", pantab_to(args.rows, str(folder)))
                add("pantab_from", pantab_from(args.rows, str(folder)))
                add("startup_s", loadgen_startup_s(folder))
    add("sampler_pct", sampler_cost_pct())
    memory = loadgen_memory(args.memory_rows, folder) if args.memory_rows else {}

    report = render(m, memory, args)
    common.publish(report, args.write)
    with contextlib.suppress(OSError):
        import shutil

        shutil.rmtree(folder)
    return 0


def render(m, memory, args) -> str:
    med = {k: median(v) for k, v in m.items()}

    def rate(key):
        return f"{med[key] / 1e6:.2f}M rows/s"

    rows = []

    def ratio_row(label, key, base, floor, note=""):
        ratio = med[key] / med[base]
        ok = "yes" if ratio >= floor else "**no**"
        rows.append(f"| {label} | {rate(key)} | {rate(base)} | {ratio:.2f} | ≥ {floor:g} | {ok} | {note} |")

    ratio_row("arrow insert, 1 worker vs hand staged COPY", "lg1_arrow_insert", "hand_copy", 0.95)
    ratio_row("arrow insert, 2 workers vs server ceiling", "lg2_arrow_insert", "ceiling", 0.75)
    ratio_row("arrow insert, 2 workers vs staged-COPY limit (no client work)", "lg2_arrow_insert", "staged_limit", 0.9)
    ratio_row("arrow insert, 2 workers vs pantab.frame_to_hyper", "lg2_arrow_insert", "pantab_to", 1.5)
    ratio_row("arrow_stream insert, 1 worker vs hand psycopg COPY", "lg1_stream_insert", "hand_pg_copy", 0.95)
    ratio_row("rows insert, 1 worker vs bare add_row loop", "lg1_rows_insert", "hand_add_row", 0.95)
    ratio_row("arrow full-scan fetch, 1 worker vs hand COPY TO + mmap", "lg1_arrow_fetch", "hand_copy_to", 0.9)
    ratio_row("arrow full-scan fetch, 1 worker vs pantab.frame_from_hyper", "lg1_arrow_fetch", "pantab_from", 5)
    ratio_row("rows fetch, 1 worker vs hand execute_query loop", "lg1_rows_fetch", "hand_row_fetch", 0.95)
    extra = med["lg1_small_query_p50_ms"] - med["hand_small_p50_ms"]
    rows.append(
        f"| small query p50, 1 worker vs bare loop | {med['lg1_small_query_p50_ms'] * 1000:.0f} µs | "
        f"{med['hand_small_p50_ms'] * 1000:.0f} µs | +{extra * 1000:.0f} µs | ≤ +50 µs | "
        f"{'yes' if extra <= 0.050 else '**no**'} | COUNT(*) on {SMALL_TABLE_ROWS:,} rows |"
    )
    rows.append(
        f"| startup to first barrier release, 4 workers | {med['startup_s']:.2f} s | | | ≤ 3 s | "
        f"{'yes' if med['startup_s'] <= 3 else '**no**'} | median of {args.reps} |"
    )
    rows.append(
        f"| sampler at 100 ms, 7 processes + host | {med['sampler_pct']:.2f} % of a core | | | ≤ 2 % | "
        f"{'yes' if med['sampler_pct'] <= 2 else '**no**'} | CPU per sample × 10 Hz |"
    )
    if memory:
        for who, limit in (("worker", 300), ("coordinator", 200)):
            rows.append(
                f"| peak RSS, {who}, {args.memory_rows:,}-row 2-worker arrow insert | {memory[who]:.0f} MiB | | | "
                f"≤ {limit} MiB | {'yes' if memory[who] <= limit else '**no**'} | from samples.csv |"
            )
    context = [
        f"| ceiling (INSERT … SELECT generate_series) | {rate('ceiling')} | | | | | no client at all |",
        f"| staged-COPY limit, 2 sessions | {rate('staged_limit')} | | | | | pre-staged Arrow files, no client work |",
        f"| loadgen arrow insert, 2 workers | {rate('lg2_arrow_insert')} | | | | | |",
        f"| loadgen arrow_stream insert, 2 workers | {rate('lg2_stream_insert')} | | | | | |",
        f"| loadgen rows insert, 2 workers | {rate('lg2_rows_insert')} | | | | | |",
        f"| loadgen arrow fetch, 2 workers | {rate('lg2_arrow_fetch')} | | | | | |",
        f"| pantab.frame_to_hyper / frame_from_hyper | {rate('pantab_to')} / {rate('pantab_from')} | | | | | "
        "pantab starts its own hyperd per call |",
    ]
    header = [
        common.machine_line(),
        f"{args.rows:,} rows for bulk paths, {args.row_api_rows:,} for row-API paths; "
        f"medians of {args.reps} repetitions on one hyperd.",
        "",
        "| measurement | loadgen | baseline | ratio | floor | met | note |",
        "|---|---|---|---|---|---|---|",
    ]
    return "\n".join(header + rows + context) + "\n"


if __name__ == "__main__":
    sys.exit(main())
