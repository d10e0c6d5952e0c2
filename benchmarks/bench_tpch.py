"""TPC-H through loadgen against the simplest alternatives, on the same Parquet files, as ratios.

  load    loadgen tpch_load (2 workers, arrow) vs hyperd reading the Parquet itself
          (CREATE TABLE t AS SELECT * FROM external('…')), floor 0.8; vs pantab.frame_to_hyper of the same Arrow
          tables (already in memory, string_view cast to string; money as float64: pantab 5.3 rejects some
          decimals), floor 1.5
  power   loadgen's power run vs a bare loop over the 22 queries on one connection (rows fetched), floor 0.97:
          cold (each side's first run in its hyperd: query compilation and the page cache's state vary from one
          hyperd process to the next) and warm (after one untimed pass on each side: what the harness adds)
  data    loadgen's parallel generation (2 workers, 2 parts) vs one tpchgen-cli process: reported

Every ratio is "loadgen's speed ÷ the alternative's" (> 1: loadgen is faster). Medians over --reps.

    python benchmarks/bench_tpch.py                       # SF 1 (~4 minutes on 2 cores)
    python benchmarks/bench_tpch.py --sf 0.01 --reps 1    # smoke size
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common  # benchmarks/common.py (a script's own folder is on sys.path)
import pyarrow.parquet as pq
from tableauhyperapi import Connection, CreateMode, HyperProcess, Telemetry, escape_string_literal

from loadgen.workloads.suites import layout as tdata
from loadgen.workloads.suites import layout as tpch_cache
from loadgen.workloads.suites.load import cast_batch
from loadgen.workloads.tpch import queries
from loadgen.workloads.tpch.schema import TABLES, hyper_arrow_schema
from loadgen.workloads.tpch.suite import TPCH

FLOORS = {"load_vs_external": 0.8, "load_vs_pantab": 1.5, "power_vs_loop": 0.97}


def loadgen_run(folder: Path, name: str, text: str) -> Path:
    return common.run_loadgen(text, folder, name, timeout=7200, cwd=folder)[0]


read_csv = common.read_csv


def scenario(name: str, sf: float, data_dir: Path, workers: int, phases: str) -> str:
    return (
        f"name: {name}\nworkers: {workers}\ntimeouts: {{barrier_s: 3600}}\nphases:\n"
        f"  - {{name: generate, workload: tpch_generate, scale_factor: {sf}, data_dir: '{data_dir}'}}\n{phases}"
    )


def loadgen_load_and_power(folder: Path, sf: float, data_dir: Path, workers: int) -> dict:
    text = scenario(
        "bench_tpch",
        sf,
        data_dir,
        workers,
        "  - {name: load, workload: tpch_load, method: arrow}\n  - {name: power, workload: tpch_query, mode: power}\n"
        "  - {name: power_warm, workload: tpch_query, mode: power, warmup_iterations: 1}\n",
    )
    run_dir = loadgen_run(folder, "bench_tpch", text)
    summary = {r["phase"]: r for r in read_csv(run_dir / "summary.csv")}
    tpch = {r["phase"]: r for r in read_csv(run_dir / "tpch.csv")}
    latency = {
        r["operation"]: float(r["mean_ms"]) * int(r["count"]) / 1000
        for r in read_csv(run_dir / "latency.csv")
        if r["phase"] == "power" and r["operation"].startswith("q")
    }
    return {
        "load_s": float(summary["load"]["wall_s"]),
        "rows": int(summary["load"]["rows"]),
        "power_s": float(tpch["power"]["power_run_s"]),
        "power_warm_s": float(tpch["power_warm"]["power_run_s"]),
        "queries": latency,
    }


def hyperd_external(folder: Path, cache: Path, manifest: dict) -> tuple[float, float, float, dict]:
    """CREATE TABLE … AS SELECT * FROM external(files) for the 8 tables on one connection, then the 22
    validation queries in order on the same connection, every row fetched, three times: cold (the first run in
    this hyperd, as loadgen's `power` phase), once more, and warm (as loadgen's `power_warm`, whose warmup is one
    untimed pass). Returns (load s, cold loop s, warm loop s, per-query s of the cold loop)."""
    per_query = {}
    with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": str(folder)}) as hyper:
        with Connection(hyper.endpoint, str(folder / "external.hyper"), CreateMode.CREATE_AND_REPLACE) as conn:
            start = time.perf_counter()
            for table in TABLES:
                files = ", ".join(escape_string_literal(str(cache / f["path"])) for f in manifest[table]["files"])
                conn.execute_command(f"CREATE TABLE {table} AS SELECT * FROM external(ARRAY[{files}])")
            load_s = time.perf_counter() - start
            sf = manifest_sf(cache)
            loops = []
            for _ in range(3):  # cold (as loadgen's first power run), then an untimed pass, then warm
                start = time.perf_counter()
                for q in queries.QUERY_NUMBERS:
                    t0 = time.perf_counter()
                    with conn.execute_query(queries.query_text(q, sf)) as result:
                        for _ in result:
                            pass
                    if not loops:
                        per_query[f"q{q:02d}"] = time.perf_counter() - t0
                loops.append(time.perf_counter() - start)
            loop_s = loops[0]
    return load_s, loop_s, loops[2], per_query


def manifest_sf(cache: Path) -> float:
    return float(tpch_cache.read_manifest(cache)["scale_factor"])


def pantab_load(folder: Path, cache: Path, manifest: dict) -> float:
    """pantab.frames_to_hyper (frame_to_hyper for several tables) of the eight tables, read into Arrow
    beforehand (not timed)."""
    import pantab
    import pyarrow as pa

    tables = {}
    for table in TABLES:
        parts = []
        for f in manifest[table]["files"]:
            source = pq.ParquetFile(cache / f["path"])
            target = hyper_arrow_schema(source.schema_arrow)
            parts.extend(cast_batch(b, target) for b in source.iter_batches(batch_size=65_536))
        data = pa.Table.from_batches(parts)
        # pantab 5.3 rejects some NUMERIC values (-0.01 … -0.09: "invalid number format"), which customer has at
        # SF 1: pantab gets the money columns as float64 instead (no cheaper for Hyper to store)
        for i, field in enumerate(data.schema):
            if pa.types.is_decimal(field.type):
                data = data.set_column(i, field.with_type(pa.float64()), data.column(i).cast(pa.float64()))
        tables[table] = data
    path = folder / "pantab.hyper"
    start = time.perf_counter()
    pantab.frames_to_hyper(tables, path)
    seconds = time.perf_counter() - start
    path.unlink()
    return seconds


def one_process_generation(folder: Path, sf: float) -> float:
    out = folder / "one_process"
    binary = tdata.find_generator(TPCH)
    start = time.perf_counter()
    subprocess.run([binary, "parquet", "-s", tdata.sf_text(sf), "--output-dir", str(out), "-q"], check=True)
    seconds = time.perf_counter() - start
    shutil.rmtree(out)
    return seconds


def loadgen_generation(folder: Path, sf: float, workers: int) -> float:
    data_dir = folder / "fresh_cache"
    run_dir = loadgen_run(folder, "bench_tpch_gen", scenario("bench_tpch_gen", sf, data_dir, workers, ""))
    seconds = float(read_csv(run_dir / "summary.csv")[0]["wall_s"])
    shutil.rmtree(data_dir)
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sf", type=float, default=1.0, help="scale factor (default 1)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions; medians are reported")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data-dir", default=None, help="TPC-H cache (default: the user's, as loadgen's)")
    parser.add_argument("--skip-generation", action="store_true", help="do not time data generation")
    parser.add_argument("--write", help="also write the markdown report to this file")
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir) if args.data_dir else tdata.default_data_dir(TPCH)
    folder = Path(tempfile.mkdtemp(prefix="loadgen-bench-tpch-"))
    m: dict[str, list] = {}

    def add(key, value):
        m.setdefault(key, []).append(value)

    try:
        for rep in range(args.reps):
            print(f"repetition {rep + 1}/{args.reps}", file=sys.stderr, flush=True)
            lg = loadgen_load_and_power(folder, args.sf, data_dir, args.workers)  # also generates on first use
            cache = tdata.cache_dir(TPCH, data_dir, args.sf, tdata.generator_version(tdata.find_generator(TPCH)))
            manifest = tpch_cache.read_manifest(cache)["tables"]
            add("rows", lg["rows"])
            add("lg_load", lg["load_s"])
            add("lg_power", lg["power_s"])
            add("lg_queries", lg["queries"])
            ext_load, loop_s, loop_warm_s, loop_queries = hyperd_external(folder, cache, manifest)
            add("ext_load", ext_load)
            add("loop", loop_s)
            add("loop_warm", loop_warm_s)
            add("lg_power_warm", lg["power_warm_s"])
            add("loop_queries", loop_queries)
            add("pantab", pantab_load(folder, cache, manifest))
            if not args.skip_generation:
                add("gen_one", one_process_generation(folder, args.sf))
                add("gen_lg", loadgen_generation(folder, args.sf, args.workers))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report = render(m, args)
    common.publish(report, args.write)
    return 0


def med(m, key) -> float:
    return statistics.median(m[key])


def render(m, args) -> str:
    rows = int(med(m, "rows"))
    lines = [
        f"TPC-H SF {tdata.sf_text(args.sf)}, {args.workers} workers, {rows:,} rows, median of {args.reps}, "
        f"{os.cpu_count()} cores",
        "",
        "| measurement | loadgen | alternative | ratio | floor | met |",
        "|---|---|---|---|---|---|",
    ]

    def row(label, lg_s, alt_s, floor=None):
        ratio = alt_s / lg_s if lg_s > 0 else 0.0
        met = "" if floor is None else ("yes" if ratio >= floor else "**no**")
        shown_floor = "" if floor is None else f"≥ {floor}"
        lines.append(f"| {label} | {lg_s:.2f} s | {alt_s:.2f} s | {ratio:.2f} | {shown_floor} | {met} |")

    row("load: tpch_load arrow vs hyperd CREATE TABLE AS external(parquet)", med(m, "lg_load"), med(m, "ext_load"), 0.8)
    row("load: tpch_load arrow vs pantab.frame_to_hyper (Arrow in memory)", med(m, "lg_load"), med(m, "pantab"), 1.5)
    row(
        "power run vs bare loop over the 22 queries, one connection (cold: first run in that hyperd)",
        med(m, "lg_power"),
        med(m, "loop"),
        0.97,
    )
    row(
        "power run vs bare loop, warm (after one untimed pass of the 22 queries on each side)",
        med(m, "lg_power_warm"),
        med(m, "loop_warm"),
        0.97,
    )
    if "gen_lg" in m:
        row("generation: loadgen (workers in parallel) vs one tpchgen-cli", med(m, "gen_lg"), med(m, "gen_one"))
    lines += ["", "| query | loadgen power run (s) | bare loop (s) |", "|---|---|---|"]
    for q in queries.QUERY_NUMBERS:
        key = f"q{q:02d}"
        lg = statistics.median(d[key] for d in m["lg_queries"])
        loop = statistics.median(d[key] for d in m["loop_queries"])
        lines.append(f"| {key} | {lg:.3f} | {loop:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
