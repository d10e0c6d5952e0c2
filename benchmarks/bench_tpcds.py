"""TPC-DS through loadgen against the simplest alternatives, on the same Parquet files, as ratios.

  load        loadgen tpcds_load (external, 1 worker: the typed tables, INSERT … SELECT FROM external()) vs hyperd's
              own CREATE TABLE t AS SELECT * FROM external('…') of the same files on one connection, floor 0.95:
              the same server work, so the client must add nothing
  power       loadgen's power run of the 99 queries (hot: after one untimed pass, answers not checked) vs a bare
              loop over the same 99 statements on one connection, rows fetched, after one untimed pass, on
              tables loaded the same way, floor 0.97
  generation  loadgen tpcds_generate (2 workers, each a share of whole tables) vs one tpcgen-cli process with
              one thread, floor 1.6 (on 2 cores a 1.6x speed-up has room only over a one-thread process); also vs
              one process with as many threads as cores, shown with its ceiling (that process's wall time ÷ its
              CPU-seconds spread over every core: no split of the same work on these cores can beat it by more)

Every ratio is "the alternative's time ÷ loadgen's" (> 1: loadgen is faster). Medians over --reps.

    python benchmarks/bench_tpcds.py                       # SF 1 (~5 minutes per repetition on 2 quiet cores)
    python benchmarks/bench_tpcds.py --sf 0.01 --reps 1    # smoke size
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common  # benchmarks/common.py (a script's own folder is on sys.path)
from tableauhyperapi import Connection, CreateMode, HyperException, HyperProcess, Telemetry, escape_string_literal

from loadgen.workloads.suites import layout
from loadgen.workloads.tpcds import queries, schema
from loadgen.workloads.tpcds.suite import TPCDS

FLOORS = {"load": 0.95, "power": 0.97, "generation": 1.6}
CORES = os.cpu_count() or 1


def scenario(name: str, sf: float, data_dir: Path, workers: int, phases: str) -> str:
    return (
        f"name: {name}\nworkers: {workers}\ntimeouts: {{barrier_s: 3600}}\nphases:\n"
        f"  - {{name: generate, workload: tpcds_generate, scale_factor: {sf}, data_dir: '{data_dir}'}}\n{phases}"
    )


def loadgen_load_and_power(folder: Path, sf: float, data_dir: Path) -> dict:
    text = scenario(
        "bench_tpcds",
        sf,
        data_dir,
        1,
        "  - {name: load, workload: tpcds_load, method: external}\n"
        "  - {name: power, workload: tpcds_query, warmup_iterations: 1, check_answers: false}\n",
    )
    run_dir = common.run_loadgen(text, folder, "bench_tpcds", timeout=7200, cwd=folder)[0]
    summary = {r["phase"]: r for r in common.read_csv(run_dir / "summary.csv")}
    power = {r["phase"]: r for r in common.read_csv(run_dir / "tpcds.csv")}["power"]
    return {"load_s": float(summary["load"]["wall_s"]), "power_s": float(power["power_run_s"])}


def files(cache: Path, table: str) -> str:
    return ", ".join(escape_string_literal(str(p)) for p in sorted((cache / table).glob("*.parquet")))


def hyperd_alternatives(folder: Path, cache: Path) -> tuple[float, float]:
    """(CREATE TABLE AS external() of the 24 tables on one connection, s; the 99 statements in a loop on one
    connection over typed tables loaded as loadgen loads them, after one untimed pass, s)."""
    with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": str(folder)}) as hyper:
        with Connection(hyper.endpoint, str(folder / "ctas.hyper"), CreateMode.CREATE_AND_REPLACE) as conn:
            start = time.perf_counter()
            for table in schema.TABLES:
                conn.execute_command(f"CREATE TABLE {table} AS SELECT * FROM external(ARRAY[{files(cache, table)}])")
            ctas_s = time.perf_counter() - start
        (folder / "ctas.hyper").unlink()
        with Connection(hyper.endpoint, str(folder / "typed.hyper"), CreateMode.CREATE_AND_REPLACE) as conn:
            for table in schema.TABLES:
                conn.execute_command(schema.create_sql(table))
                conn.execute_command(f"INSERT INTO {table} SELECT * FROM external(ARRAY[{files(cache, table)}])")
            texts = []
            for q in queries.QUERY_NUMBERS:  # one untimed pass; a statement that fails here is left out, as
                try:  # loadgen's warmup leaves it out of its run (q12 at SF 0.01: division by zero)
                    fetch_all(conn, queries.hyper_text(q))
                    texts.append(queries.hyper_text(q))
                except HyperException:
                    pass
            start = time.perf_counter()
            for sql in texts:  # the measured pass (hot, as loadgen's)
                fetch_all(conn, sql)
            loop_s = time.perf_counter() - start
        (folder / "typed.hyper").unlink()
    return ctas_s, loop_s


def fetch_all(conn, sql: str) -> None:
    with conn.execute_query(sql) as result:
        for _ in result:
            pass


def one_process_generation(folder: Path, sf: float, threads: int) -> tuple[float, float]:
    """(wall seconds, CPU-seconds) of one tpcgen-cli process writing the whole suite."""
    out = folder / "one_process"
    binary = layout.find_generator(TPCDS)
    command = [binary, "tpcds", "parquet", "-s", f"{sf:g}", "-o", str(out), "-q", "--no-progress"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command + ["-n", str(threads)], check=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(out)
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def loadgen_generation(folder: Path, sf: float, workers: int) -> float:
    data_dir = folder / "fresh_cache"
    text = scenario("bench_tpcds_gen", sf, data_dir, workers, "")
    run_dir = common.run_loadgen(text, folder, "bench_tpcds_gen", timeout=7200, cwd=folder)[0]
    seconds = float(common.read_csv(run_dir / "summary.csv")[0]["wall_s"])
    shutil.rmtree(data_dir)
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sf", type=float, default=1.0, help="scale factor (default 1)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions; medians are reported")
    parser.add_argument("--workers", type=int, default=2, help="workers of the generation (default 2)")
    parser.add_argument("--data-dir", default=None, help="TPC-DS cache (default: the user's, as loadgen's)")
    parser.add_argument("--write", help="also write the markdown report to this file")
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir) if args.data_dir else layout.default_data_dir(TPCDS)
    folder = Path(tempfile.mkdtemp(prefix="loadgen-bench-tpcds-"))
    m: dict[str, list] = {}
    try:
        for rep in range(args.reps):
            print(f"repetition {rep + 1}/{args.reps}", file=sys.stderr, flush=True)
            lg = loadgen_load_and_power(folder, args.sf, data_dir)  # also generates on first use
            version = layout.generator_version(layout.find_generator(TPCDS))
            ctas_s, loop_s = hyperd_alternatives(folder, layout.cache_dir(TPCDS, data_dir, args.sf, version))
            gen_single, _ = one_process_generation(folder, args.sf, 1)
            gen_one, gen_one_cpu = one_process_generation(folder, args.sf, CORES)
            gen_lg = loadgen_generation(folder, args.sf, args.workers)
            for key, value in (
                ("lg_load", lg["load_s"]), ("ctas", ctas_s), ("lg_power", lg["power_s"]), ("loop", loop_s),
                ("gen_lg", gen_lg), ("gen_single", gen_single), ("gen_one", gen_one),
                ("gen_ceiling", gen_one / (gen_one_cpu / CORES)),
            ):  # fmt: skip
                m.setdefault(key, []).append(value)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report = render(m, args)
    common.publish(report, args.write)
    return 0


def render(m: dict, args) -> str:
    lines = [
        common.machine_line(),
        "",
        f"TPC-DS SF {layout.sf_text(args.sf)}, median of {args.reps}",
        "",
        "| measurement | loadgen | alternative | ratio | floor | met |",
        "|---|---|---|---|---|---|",
    ]

    def row(label, lg_key, alt_key, floor=None, ceiling=None):
        lg_s, alt_s = statistics.median(m[lg_key]), statistics.median(m[alt_key])
        ratio = alt_s / lg_s if lg_s > 0 else 0.0
        if floor is not None:
            bound, met = f"≥ {floor}", "yes" if ratio >= floor else "**no**"
        else:  # no floor: the most any split could reach on these cores
            bound, met = f"ceiling {ceiling:.2f}", "—"
        lines.append(f"| {label} | {lg_s:.2f} s | {alt_s:.2f} s | {ratio:.2f} | {bound} | {met} |")

    row("load: tpcds_load external (1 worker) vs CREATE TABLE AS external()", "lg_load", "ctas", FLOORS["load"])
    row("power run (hot) vs bare loop over the 99 statements, one connection", "lg_power", "loop", FLOORS["power"])
    generation = f"generation: tpcds_generate ({args.workers} workers, by tables) vs one tpcgen-cli"
    row(f"{generation}, 1 thread", "gen_lg", "gen_single", FLOORS["generation"])
    row(f"{generation}, {CORES} threads", "gen_lg", "gen_one", ceiling=statistics.median(m["gen_ceiling"]))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
