"""Your own data: is loadgen, not hyperd, the bottleneck when it writes the custom_schema table or loads
Parquet files? Side-by-side measurements on one hyperd, medians of N rounds, as ratios.

Measures, on scenarios/custom_schema.yaml's `orders` table (15 columns, seed 12):
  1. generation in one worker process, as the `arrow` method does it (row_blocks.GeneratedRows: blocks of rows on
     the worker's default generator threads, their facts, the Arrow IPC stream written to /dev/shm), no server at
     all, against hyperd's ingest of the same rows: every file staged beforehand (untimed), then one session COPYs
     them (`FORMAT arrowstream`) with no client work while the clock runs (bench.py's staged-COPY limit, for this
     table and one session, as one worker has). Also on 1 thread, and per CPU-second of each process (hyperd's one
     COPY runs on more than one core);
  2. loadgen `arrow` insert, 1 worker, against a hand-written client: the same rows (generate.record_batch in
     loadgen's blocks, on one thread), written with pyarrow to a staged file and COPYed, one file after the other,
     no facts;
  3. files, 2 workers: loadgen reading Parquet client-side (`arrow`, `arrow_stream`) against hyperd reading the same
     files itself (`external`), in one loadgen run (make sample_data's layout: 4 files, row groups of 65,536);
  4. with --memory-rows N (100,000,000 for the published figure; ~5 minutes on 2 cores, so off by default): peak RSS
     of a worker writing N rows of the table with 2 workers and `arrow`, from samples.csv.
Prints a markdown table with its floors.

    python benchmarks/bench_own_data.py                              # ~4 minutes on 2 cores
    python benchmarks/bench_own_data.py --memory-rows 100000000      # plus the 100M-row memory run
    python benchmarks/bench_own_data.py --quick                      # small sizes, 1 round (smoke, < 1 minute)
"""

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import common  # benchmarks/common.py (a script's own folder is on sys.path)
import psutil
import pyarrow as pa
import yaml
from tableauhyperapi import Connection, CreateMode, HyperProcess, Telemetry, escape_string_literal

from loadgen.datagen import blocks as row_blocks
from loadgen.datagen import canonical, generate
from loadgen.datagen.arrow import arrow_schema
from loadgen.datagen.sample import write_parquet_sample
from loadgen.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "custom_schema.yaml"
KEY, BATCH_ROWS, PER_COPY = "orders", 16_384, 1_000_000
THREADS = row_blocks.auto_threads(1)  # what one worker on this machine uses by default
MIB = 2**20


def definition_and_seed():
    scenario = load_scenario(str(SCENARIO))
    return scenario.data[KEY], scenario.seed


def batches(definition, seed: int, rows: int):
    """Worker 0's rows [0, rows) as loadgen makes them (in datagen.blocks' blocks), on one thread and without facts, in
    batches of BATCH_ROWS."""
    size = row_blocks.block_rows(definition)
    blocks = (
        generate.record_batch(definition, KEY, seed, 0, first, min(size, rows - first))
        for first in range(0, rows, size)
    )
    return row_blocks.rebatch(blocks, BATCH_ROWS)


def write_ipc(path: str, schema: pa.Schema, batch_iter, rows: int = 0) -> int:
    """An Arrow IPC stream file of the batches (with rows: only until it holds at least that many); its rows."""
    written = 0
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        for batch in batch_iter:
            writer.write_batch(batch)
            written += batch.num_rows
            if written >= rows > 0:
                break
    return written


def fresh_table(conn, definition, name: str) -> str:
    table = f'"{name}"'
    conn.execute_command(f"DROP TABLE IF EXISTS {table}")
    conn.execute_command(definition.create_sql(table))
    return table


def check_count(conn, table: str, rows: int) -> None:
    count = conn.execute_scalar_query(f"SELECT COUNT(*) FROM {table}")
    assert count == rows, f"{table}: {count} rows, expected {rows}"


# ------------------------------------------------------------------------------ 1: generation vs ingest
def generation(definition, seed: int, rows: int, threads: int) -> tuple[float, float, float]:
    """(rows/s, IPC bytes per row, CPU seconds) of a worker's client work, as the `arrow` method does it: its rows
    (row_blocks.GeneratedRows on `threads` threads, with the facts), in staged IPC files of PER_COPY rows."""
    schema = arrow_schema(definition)
    path = f"/dev/shm/bench-own-gen-{os.getpid()}.arrows"
    size = 0
    start_time, start_cpu = time.perf_counter(), time.process_time()
    try:
        with row_blocks.GeneratedRows(definition, KEY, seed, 0, canonical.RowRange(0, rows), threads) as generated:
            for start in range(0, rows, PER_COPY):
                chunk = canonical.RowRange(start, min(PER_COPY, rows - start))
                write_ipc(path, schema, generated.batches(chunk, BATCH_ROWS))
                size += os.path.getsize(path)
        seconds, cpu = time.perf_counter() - start_time, time.process_time() - start_cpu
        assert generated.facts_rows == rows
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return rows / seconds, size / rows, cpu


def staged_ingest(conn, hyperd: psutil.Process, definition, seed: int, rows: int) -> tuple[float, float]:
    """(rows/s, hyperd's CPU seconds) of hyperd alone: the table's rows staged as Arrow IPC files first (untimed),
    then COPYed by one session."""
    schema, paths, made, written = arrow_schema(definition), [], batches(definition, seed, rows), 0
    try:
        while written < rows:
            paths.append(f"/dev/shm/bench-own-staged-{os.getpid()}-{len(paths)}.arrows")
            written += write_ipc(paths[-1], schema, made, PER_COPY)
        table = fresh_table(conn, definition, "staged")
        start_time, start_cpu = time.perf_counter(), cpu_seconds(hyperd)
        for path in paths:
            conn.execute_command(f"COPY {table} FROM {escape_string_literal(path)} WITH (FORMAT arrowstream)")
        seconds, cpu = time.perf_counter() - start_time, cpu_seconds(hyperd) - start_cpu
    finally:
        for path in paths:
            with contextlib.suppress(OSError):
                os.unlink(path)
    check_count(conn, table, rows)
    return rows / seconds, cpu


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


# --------------------------------------------------------------------------- 2: arrow insert vs by hand
def hand_staged_copy(conn, definition, seed: int, rows: int) -> float:
    """The minimal client: generate the batches, write about PER_COPY rows of them with pyarrow to a staged file,
    COPY it, and again; no facts, one thread."""
    schema, table = arrow_schema(definition), fresh_table(conn, definition, "hand")
    path = f"/dev/shm/bench-own-hand-{os.getpid()}.arrows"
    made, written = batches(definition, seed, rows), 0
    start_time = time.perf_counter()
    while written < rows:
        written += write_ipc(path, schema, made, PER_COPY)
        conn.execute_command(f"COPY {table} FROM {escape_string_literal(path)} WITH (FORMAT arrowstream)")
        os.unlink(path)
    seconds = time.perf_counter() - start_time
    check_count(conn, table, rows)
    return rows / seconds


# --------------------------------------------------------------------------------------------- loadgen
def scenario_text(name: str, workers: int, phases: list, endpoint: str | None, folder: Path, **extra) -> str:
    """custom_schema.yaml's data: section with other phases (and this bench's hyperd, if given)."""
    base = yaml.safe_load(SCENARIO.read_text())
    text = {"name": name, "workers": workers, "seed": base["seed"], **extra, "data": base["data"], "phases": phases}
    if endpoint is not None:
        (folder / name).mkdir(exist_ok=True)
        text["server"] = {"endpoint": endpoint, "database_dir": str(folder / name), "replace_existing": True}
    return yaml.safe_dump(text, sort_keys=False)


def run_loadgen(text: str, folder: Path, name: str) -> Path:
    return common.run_loadgen(text, folder, name, cwd=ROOT)[0]


read_csv = common.read_csv


def phase_rates(run_dir: Path) -> dict[str, float]:
    rows = read_csv(run_dir / "summary.csv")
    assert all(r.get("verified", "ok") in ("ok", "") for r in rows), rows
    return {r["phase"]: float(r["rows_per_s"]) for r in rows}


def loadgen_arrow(endpoint: str, folder: Path, rows: int) -> float:
    phase = {"name": "load_arrow", "workload": "insert", "table": KEY, "method": "arrow", "rows": rows,
             "rows_per_copy": PER_COPY, "batch_rows": BATCH_ROWS}  # fmt: skip
    return phase_rates(run_loadgen(scenario_text("own_arrow", 1, [phase], endpoint, folder), folder, "own_arrow"))[
        "load_arrow"
    ]


def loadgen_files(endpoint: str, folder: Path, pattern: str) -> dict[str, float]:
    source = {"path": pattern, "table": "orders_from_files"}
    phases = [
        {"name": "load_arrow", "workload": "insert", "method": "arrow", "source": source},
        {"name": "load_stream", "workload": "insert", "method": "arrow_stream", "source": source},
        {"name": "load_external", "workload": "insert", "source": {**source, "read_by": "hyperd"}},
    ]
    return phase_rates(run_loadgen(scenario_text("own_files", 2, phases, endpoint, folder), folder, "own_files"))


def loadgen_memory(folder: Path, rows: int) -> tuple[float, float, float]:
    """(peak worker RSS MiB, peak coordinator RSS MiB, rows/s) of a 2-worker arrow insert of `rows` rows on
    loadgen's own hyperd (the database in the bench's folder, removed afterwards)."""
    phase = {"name": "big_insert", "workload": "insert", "table": KEY, "method": "arrow", "rows": rows}
    (folder / "memory_db").mkdir()
    text = scenario_text("own_memory", 2, [phase], None, folder, sampling={"interval_ms": 100},
                         server={"database_dir": str(folder / "memory_db")})  # fmt: skip
    run_dir = run_loadgen(text, folder, "own_memory")
    peaks = {"worker": 0.0, "coordinator": 0.0}
    for r in read_csv(run_dir / "samples.csv"):
        who = "worker" if r["process"].startswith("worker-") else r["process"]
        if who in peaks:
            peaks[who] = max(peaks[who], float(r["rss_mib"] or 0))
    return peaks["worker"], peaks["coordinator"], phase_rates(run_dir)["big_insert"]


# ------------------------------------------------------------------------------------------------ main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=3_000_000, help="rows of generation, ingest and insert")
    parser.add_argument("--file-rows", type=int, default=2_000_000,
                        help="rows in the 4 Parquet files (1M-row phases last ~2 s: a run moved by ±0.15)")  # fmt: skip
    parser.add_argument(
        "--memory-rows", type=int, default=0, help="rows of the memory run (0: skip; the published figure: 1e8)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 round: a smoke run (< 1 minute)")
    parser.add_argument("--write", help="also write the markdown report to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.file_rows, args.rounds = 300_000, 200_000, 1

    folder = Path(tempfile.mkdtemp(prefix="loadgen-bench-own-"))
    m: dict[str, list[float]] = {}

    def add(key, value):
        m.setdefault(key, []).append(value)

    definition, seed = definition_and_seed()
    try:
        with contextlib.redirect_stdout(sys.stderr):  # it prints each file's path
            write_parquet_sample(definition, KEY, seed, str(folder / "files"), 4, args.file_rows // 4, 65_536)
        pattern = str(folder / "files" / "*.parquet")
        with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": str(folder)}) as hyper:
            endpoint = hyper.endpoint.connection_descriptor
            (hyperd,) = [p for p in psutil.Process().children() if p.name().startswith("hyperd")]
            with Connection(hyper.endpoint, str(folder / "bench.hyper"), CreateMode.CREATE_AND_REPLACE) as conn:
                for rnd in range(args.rounds):
                    print(f"round {rnd + 1}/{args.rounds}", file=sys.stderr, flush=True)
                    rate, row_bytes, cpu = generation(definition, seed, args.rows, THREADS)
                    add("generation", rate)
                    add("generation_cpu", args.rows / cpu)
                    add("row_bytes", row_bytes)
                    add("generation_1", generation(definition, seed, args.rows, 1)[0])
                    rate, cpu = staged_ingest(conn, hyperd, definition, seed, args.rows)
                    add("ingest", rate)
                    add("ingest_cpu", args.rows / cpu)
                    add("hand_copy", hand_staged_copy(conn, definition, seed, args.rows))
                    add("lg_arrow", loadgen_arrow(endpoint, folder, args.rows))
                    files = loadgen_files(endpoint, folder, pattern)
                    for phase in ("load_arrow", "load_stream", "load_external"):
                        add(f"files_{phase}", files[phase])
                    conn.execute_command('DROP TABLE IF EXISTS "staged"')
                    conn.execute_command('DROP TABLE IF EXISTS "hand"')
        memory = loadgen_memory(folder, args.memory_rows) if args.memory_rows else None
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    report = render(m, memory, args)
    common.publish(report, args.write)
    return 0


def render(m: dict, memory, args) -> str:
    med = {k: statistics.median(v) for k, v in m.items()}
    row_bytes = med["row_bytes"]

    def rate(key):
        return f"{med[key]:,.0f} rows/s ({med[key] * row_bytes / MIB:.0f} MiB/s)"

    rows = []

    def ratio_row(label, key, base, floor, note="", unit=rate):
        ratio = med[key] / med[base]
        spread = f"loadgen {min(m[key]):,.0f}–{max(m[key]):,.0f}" if len(m[key]) > 1 else ""
        met = "" if floor is None else "yes" if ratio >= floor else "**no**"
        rows.append(
            f"| {label} | {unit(key)} | {unit(base)} | {ratio:.2f} | {'' if floor is None else f'≥ {floor:g}'} | "
            f"{met} | {'; '.join(filter(None, (note, spread)))} |"
        )

    def per_cpu(key):
        return f"{med[key]:,.0f} rows per CPU-second"

    ratio_row(f"generation, 1 worker ({THREADS} generator threads: blocks + facts + IPC) vs hyperd's staged COPY, "
              "1 session", "generation", "ingest", 2,
              f"{args.rows:,} rows; Arrow IPC {row_bytes:.0f} B/row")  # fmt: skip
    ratio_row("the same generation on 1 thread vs hyperd's staged COPY", "generation_1", "ingest", None)
    ratio_row("the same per CPU-second: the worker's process vs hyperd's (whose one COPY runs on more than one core)",
              "generation_cpu", "ingest_cpu", None, "CPU time of each process while it works", per_cpu)  # fmt: skip
    ratio_row("arrow insert, 1 worker vs hand pyarrow + staged COPY", "lg_arrow", "hand_copy", 0.95,
              f"{args.rows:,} rows, {PER_COPY:,} per COPY")  # fmt: skip
    for phase, label in (("load_arrow", "arrow"), ("load_stream", "arrow_stream")):
        ratio_row(f"files, 2 workers: client {label} vs hyperd reading the Parquet itself (external)",
                  f"files_{phase}", "files_load_external", 0.8, f"{args.file_rows:,} rows in 4 files")  # fmt: skip
    if memory is not None:
        worker, coordinator, speed = memory
        rows.append(
            f"| peak worker RSS, {args.memory_rows:,} rows, 2 workers, arrow | {worker:.0f} MiB | | | ≤ 400 MiB | "
            f"{'yes' if worker <= 400 else '**no**'} | samples.csv; coordinator {coordinator:.0f} MiB; "
            f"{speed:,.0f} rows/s |"
        )
    header = [
        common.machine_line(),
        f"Medians of {args.rounds} round(s); MiB/s = rows/s × the table's Arrow IPC bytes per row.",
        "",
        *common.RATIO_TABLE_HEAD,
    ]
    return "\n".join(header + rows) + "\n"


if __name__ == "__main__":
    sys.exit(main())
