"""Scaling on a many-core machine: loadgen's canonical insert (`arrow`, `arrow_stream`) with W workers against the
arrow path's limit on the same machine (hyperd COPYing pre-staged Arrow IPC files with W sessions, no client work,
the same rows), then one many-session `SELECT 1` run (mix workload, closed loop).

    python benchmarks/device/scale.py OUTDIR [--workers 1 4 12] [--per-w 20000000 4000000] [--sessions 16,64,15]

--per-w: rows per worker, one round of every worker count per value (the files staged once, for the largest);
--sessions: workers,sessions per worker,seconds (0,0,0: none). Run from the checkout's root with loadgen and its
libraries importable (benchmarks/device/run_scale.sh does that on a machine without network). Prints one JSON line
per measurement and markdown tables, and appends them to OUTDIR/scale.txt.
"""

import argparse
import csv
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pyarrow as pa
import yaml
from tableauhyperapi import Connection, CreateMode, HyperProcess, Telemetry

from loadgen.datagen import canonical, canonical_batches

PER_FILE = 1_000_000  # rows per staged file and per loadgen COPY (rows_per_copy)
BATCH_ROWS = 16_384


class Log:
    def __init__(self, folder: str):
        self.file = open(os.path.join(folder, "scale.txt"), "a")  # noqa: SIM115 - open for the whole run

    def say(self, *parts) -> None:
        line = " ".join(str(p) for p in parts)
        print(line, flush=True)
        self.file.write(line + "\n")
        self.file.flush()


def stage_files(folder: str, rows: int) -> list[str]:
    """Arrow IPC streams of the canonical rows [0, rows), PER_FILE rows each in batches of BATCH_ROWS."""
    files = []
    for start in range(0, rows, PER_FILE):
        count = min(PER_FILE, rows - start)
        path = os.path.join(folder, f"f{start // PER_FILE}.arrows")
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, canonical_batches.ARROW_SCHEMA) as writer:
            for offset in range(start, start + count, BATCH_ROWS):
                writer.write_batch(canonical_batches.record_batch(offset, min(BATCH_ROWS, start + count - offset)))
        files.append(path)
    return files


def prestaged_limit(files: list[str], workers: int, per_w: int, scratch: str) -> float:
    """rows/s of `workers` sessions COPYing their share of the staged files, one after the other each."""
    per = -(-per_w // PER_FILE)
    folder = tempfile.mkdtemp(dir=scratch)
    try:
        with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": folder}) as hyper:
            database = os.path.join(folder, "limit.hyper")
            with Connection(hyper.endpoint, database, CreateMode.CREATE_AND_REPLACE) as conn:
                for i in range(workers):
                    conn.execute_command(f"CREATE TABLE m{i} ({canonical.COLUMNS_SQL})")
            connections = [Connection(hyper.endpoint, database) for _ in range(workers)]
            failures: list[BaseException] = []

            def copy(i: int) -> None:
                try:
                    for path in files[i * per : (i + 1) * per]:
                        connections[i].execute_command(f"COPY m{i} FROM '{path}' WITH (FORMAT arrowstream)")
                except BaseException as exc:  # noqa: BLE001 - reported below
                    failures.append(exc)

            threads = [threading.Thread(target=copy, args=(i,)) for i in range(workers)]
            t0 = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - t0
            for conn in connections:
                conn.close()
            if failures:
                raise failures[0]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return workers * per * PER_FILE / elapsed


def run_loadgen(doc: dict, out: str, tag: str, log: Log):
    """(summary row, workers.csv rows, samples.csv rows, wall seconds of the whole `loadgen run`); None rows on
    failure. The run folder (hyperd's logs: large) is removed; its CSVs are copied to OUT/TAG."""
    folder = tempfile.mkdtemp(prefix=f"scale-{tag}-")
    keep = os.path.join(out, tag)
    os.makedirs(keep, exist_ok=True)
    path = os.path.join(keep, "scenario.yaml")
    with open(path, "w") as handle:
        yaml.safe_dump(doc, handle, sort_keys=False)
    t0 = time.perf_counter()
    command = [sys.executable, "-m", "loadgen", "run", path, "--quiet", "--results-dir", folder]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            log.say(f"{tag}: exit {proc.returncode}: {(proc.stdout + proc.stderr)[-1500:]}")
            return None, None, None, wall
        run = os.path.dirname(glob.glob(os.path.join(folder, "*", "*", "summary.csv"))[0])
        tables = {}
        for name in ("summary", "workers", "samples"):
            shutil.copy(os.path.join(run, f"{name}.csv"), keep)
            with open(os.path.join(run, f"{name}.csv"), newline="") as handle:
                tables[name] = list(csv.DictReader(handle))
        return tables["summary"][0], tables["workers"], tables["samples"], wall
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def insert_doc(workers: int, per_w: int, method: str) -> dict:
    phase = {"name": "ins", "workload": "insert", "method": method, "rows_per_copy": PER_FILE, "batch_rows": BATCH_ROWS}
    shm_needed = workers * 2 * PER_FILE * 24 * 2  # two staged files per worker, with room to spare
    if method == "arrow" and (not os.path.isdir("/dev/shm") or shutil.disk_usage("/dev/shm").free < shm_needed):
        phase["staging_dir"] = tempfile.gettempdir()  # a small /dev/shm (a container's 64 MiB) would run out
    return {
        "name": f"ins_{method}_{workers}",
        "workers": workers,
        "rows": workers * per_w,
        "server": {"transport": "domain", "database": "shared"},
        "phases": [phase],
    }


def sessions_doc(workers: int, sessions: int, seconds: int) -> dict:
    return {
        "name": "sess",
        "workers": workers,
        "phases": [{"name": "s", "workload": "mix", "sessions": sessions, "duration_s": seconds, "think_ms": 0,
                    "operations": {"one": 1}, "sql_operations": {"one": {"sql": "SELECT 1"}}}],
    }  # fmt: skip


def number(row: dict, key: str) -> float:
    try:
        return float(row.get(key) or 0)
    except ValueError:
        return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="scale.txt goes here")
    parser.add_argument("--csv-dir", help="each run's CSVs go here, a folder per run (default OUT)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 12])
    parser.add_argument("--per-w", type=int, nargs="+", default=[4_000_000])
    parser.add_argument("--sessions", default="16,64,15")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    log = Log(args.out)
    csvs = args.csv_dir or args.out
    log.say(f"cpus {os.cpu_count()} per_w {args.per_w} workers {args.workers} sessions {args.sessions}")
    most = max(args.workers) * max(-(-p // PER_FILE) * PER_FILE for p in args.per_w)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and shutil.disk_usage("/dev/shm").free > 2 * most * 24 else None
    stage = tempfile.mkdtemp(dir=shm, prefix="scale-")
    scratch = tempfile.mkdtemp(prefix="scale-limit-")
    try:
        t0 = time.perf_counter()
        files = stage_files(stage, most)
        log.say(f"staged {len(files)} files in {time.perf_counter() - t0:.1f} s in {stage}")
        rows = []
        for per_w in args.per_w:
            for workers in args.workers:
                row = {
                    "per_w": per_w,
                    "workers": workers,
                    "limit_rows_s": prestaged_limit(files, workers, per_w, scratch),
                }
                for method in ("arrow", "arrow_stream"):
                    doc, tag = insert_doc(workers, per_w, method), f"{method}-{workers}w-{per_w}"
                    summary, _, _, wall = run_loadgen(doc, csvs, tag, log)
                    if summary:
                        row[method] = number(summary, "rows_per_s")
                        row[f"{method}_verified"] = summary.get("verified")
                        row[f"{method}_parallelism"] = summary.get("parallelism")
                        row[f"{method}_workers_rss_mib"] = summary.get("workers_rss_mib_peak")
                        row[f"{method}_run_s"] = round(wall, 1)
                log.say(json.dumps(row))
                rows.append(row)
        log.say("")
        log.say("| rows per worker | workers | limit rows/s | arrow rows/s | arrow ÷ limit | arrow_stream rows/s | "
                "arrow_stream ÷ limit | whole loadgen run s (arrow, stream) |")  # fmt: skip
        log.say("|---|---|---|---|---|---|---|---|")
        for r in rows:
            a, s = r.get("arrow", 0), r.get("arrow_stream", 0)
            log.say(f"| {r['per_w']:,} | {r['workers']} | {r['limit_rows_s'] / 1e6:.2f}M | {a / 1e6:.2f}M | "
                    f"{a / r['limit_rows_s']:.2f} | {s / 1e6:.2f}M | {s / r['limit_rows_s']:.2f} | "
                    f"{r.get('arrow_run_s')}, {r.get('arrow_stream_run_s')} |")  # fmt: skip
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)

    workers, sessions, seconds = (int(x) for x in args.sessions.split(","))
    if workers:
        doc = sessions_doc(workers, sessions, seconds)
        summary, per_worker, samples, wall = run_loadgen(doc, csvs, "sess", log)
        if summary:
            rss: dict = {}
            for sample in samples:
                if sample.get("process") not in ("hyperd", "host"):
                    rss[sample["t_s"]] = rss.get(sample["t_s"], 0) + number(sample, "rss_mib")
            slowest = max(number(w, "setup_s") for w in per_worker)
            log.say(f"sessions {workers}x{sessions} SELECT 1 for {seconds} s: ops/s {summary.get('ops_per_s')} "
                    f"p50 {summary.get('p50_ms')} ms p99 {summary.get('p99_ms')} ms errors {summary.get('errors')}; "
                    f"client RSS peak {max(rss.values(), default=0):.0f} MiB, slowest setup {slowest:.2f} s, "
                    f"whole run {wall:.1f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
