"""Many sessions per worker: startup, memory, per-operation overhead and open load, as loadgen runs them.

Measures, with `workload: mix` phases of `SELECT 1` (a `sql_operations:` entry, preload_rows: 0):
  1. startup of 256 sessions (2 workers × 128): launch of `loadgen run` → release of the phase's barrier
     (summary.csv `started_utc`), and the client's peak RSS (coordinator + workers, samples.csv);
  2. per-operation client overhead: loadgen 1 worker × 64 sessions (and 2 × 32), closed loop, no think time,
     against a bare asyncio loop of 64 psycopg AsyncConnections in one process, both on one hyperd started
     here (loadgen points at it with `server.endpoint`), alternating, medians of N rounds;
  3. open load at 2,000 operations/s in total over 64 sessions: achieved vs target, and the same with hyperd
     stopped (SIGSTOP) for 1 s in the middle: p99 of `one:from_intended` must show the stall;
  4. peak RSS per worker at 128 sessions (from run 1).
Prints a markdown table with its floors.

    python benchmarks/bench_sessions.py            # ~4 minutes on 2 cores
    python benchmarks/bench_sessions.py --quick    # short durations, 1 round (smoke)
"""

import argparse
import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import common  # benchmarks/common.py (a script's own folder is on sys.path)
import psutil
from tableauhyperapi import Connection, CreateMode, HyperProcess, Telemetry

from loadgen.engine import server

SQL = "SELECT 1"
PHASE = """\
  - name: {phase}
    workload: mix
    sessions: {sessions}
    duration_s: {duration}
    preload_rows: 0
    think_ms: 0
{extra}    operations: {{one: 1}}
    sql_operations: {{one: {{sql: "{sql}"}}}}
"""


# --------------------------------------------------------------------------------------------- loadgen
def scenario(name: str, workers: int, sessions: int, duration: float, extra: str = "", server_line: str = "") -> str:
    phase = PHASE.format(phase="load", sessions=sessions, duration=duration, extra=extra, sql=SQL)
    return f"name: {name}\nworkers: {workers}\nseed: 1\n{server_line}sampling: {{interval_ms: 100}}\nphases:\n{phase}"


def run_loadgen(text: str, folder: Path, name: str) -> tuple[Path, float]:
    return common.run_loadgen(text, folder, name, timeout=600)


read = common.read_csv


def summary(run_dir: Path) -> dict:
    return next(r for r in read(run_dir / "summary.csv") if r["phase"] == "load")


def utc_epoch(text: str) -> float:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).timestamp()


def rss_peaks(run_dir: Path) -> tuple[float, float]:
    """(peak of coordinator + all workers summed per sampling round, peak of any one worker), MiB."""
    rounds: dict[str, float] = defaultdict(float)
    worker = 0.0
    for r in read(run_dir / "samples.csv"):
        if r["process"] == "coordinator" or r["process"].startswith("worker-"):
            rss = float(r["rss_mib"] or 0)
            rounds[r["t_s"]] += rss
            if r["process"].startswith("worker-"):
                worker = max(worker, rss)
    return max(rounds.values()), worker


# --------------------------------------------------------------------------------------- 1 + 4: startup
def startup(folder: Path, duration: float) -> dict:
    run_dir, launched = run_loadgen(scenario("sessions_startup", 2, 128, duration), folder, "sessions_startup")
    total, worker = rss_peaks(run_dir)
    setup = max(float(r["setup_s"]) for r in read(run_dir / "workers.csv") if r["phase"] == "load")
    release = utc_epoch(summary(run_dir)["started_utc"]) - launched
    return {"startup_s": release, "setup_s": setup, "client_rss": total, "worker_rss": worker}


# -------------------------------------------------------------------------------------- 2: overhead
def loadgen_closed(folder: Path, endpoint: str, workers: int, sessions: int, duration: float) -> float:
    name = f"sessions_closed_w{workers}"
    (folder / name).mkdir(exist_ok=True)
    line = f'server: {{endpoint: "{endpoint}", database_dir: "{folder / name}", replace_existing: true}}\n'
    run_dir, _ = run_loadgen(scenario(name, workers, sessions, duration, server_line=line), folder, name)
    return float(summary(run_dir)["ops_per_s"])


def bare_loop(endpoint: str, database: str, sessions: int, duration: float) -> float:
    """64 AsyncConnections in one process, each running SELECT 1 back to back for `duration` seconds."""
    import asyncio

    async def main() -> float:
        connections = await asyncio.gather(*(server.pg_connect_async(endpoint, database) for _ in range(sessions)))
        done = 0
        deadline = 0.0

        async def session(conn):
            nonlocal done
            while time.perf_counter() < deadline:
                cursor = await conn.execute(SQL)
                await cursor.fetchall()
                done += 1

        try:
            start = time.perf_counter()
            deadline = start + duration
            await asyncio.gather(*(session(c) for c in connections))
            return done / (time.perf_counter() - start)
        finally:
            await asyncio.gather(*(c.close() for c in connections))

    return asyncio.run(main())


# ------------------------------------------------------------------------------------ 3: open load
def open_load(folder: Path, workers: int, sessions: int, rate: float, duration: float) -> dict:
    name = f"sessions_open_w{workers}"
    run_dir, _ = run_loadgen(scenario(name, workers, sessions, duration, f"    rate_per_s: {rate}\n"), folder, name)
    s = summary(run_dir)
    return {k: float(s[k] or 0) for k in ("ops_per_s", "target_rate_per_s", "late_ops_pct", "max_late_ms")} | {
        "queued_ops": queued_ops(run_dir)
    }


def queued_ops(run_dir: Path) -> float:
    return float(summary(run_dir)["queued_ops"] or "nan")


def stalled(folder: Path, workers: int, sessions: int, rate: float, duration: float, stall_s: float = 1.0) -> dict:
    """The open load with loadgen's own hyperd SIGSTOPped for stall_s in the middle of the phase. Worker 0 says on
    stderr when it enters the phase's run (a zero-length fault, as in tests/integration/test_mix.py)."""
    name = f"sessions_stall_w{workers}"
    path = folder / f"{name}.yaml"
    path.write_text(scenario(name, workers, sessions, duration, f"    rate_per_s: {rate}\n"))
    out = open(folder / f"{name}.out", "w")
    proc = subprocess.Popen(
        common.loadgen_command(path, folder), stdout=out, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "LOADGEN_FAULT": "0:load:run:sleep0"},
    )  # fmt: skip
    hyperd = None
    err: list[str] = []
    try:
        for line in proc.stderr:
            if "at run of phase load" in line:
                break
        else:
            raise RuntimeError("the run never entered its phase")
        drain = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)
        drain.start()
        hyperd = next(c for c in psutil.Process(proc.pid).children() if c.name() == "hyperdMain")
        time.sleep(duration / 2)  # into the middle of the phase
        hyperd.send_signal(signal.SIGSTOP)
        time.sleep(stall_s)  # the stall being measured
        hyperd.send_signal(signal.SIGCONT)
        proc.wait(timeout=duration + 120)
        drain.join(timeout=10)
    finally:
        if hyperd is not None and hyperd.is_running():
            hyperd.send_signal(signal.SIGCONT)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # loadgen stops its workers and hyperd itself
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        out.close()
    if proc.returncode != 0:
        raise RuntimeError(f"loadgen failed ({proc.returncode}): {''.join(err)}")
    run_dir = common.newest_run(folder, name)
    latency = {r["operation"]: r for r in read(run_dir / "latency.csv") if r["phase"] == "load"}
    s = summary(run_dir)
    return {
        "p99_intended_ms": float(latency["one:from_intended"]["p99_ms"]),
        "max_intended_ms": float(latency["one:from_intended"]["max_ms"]),
        "p99_service_ms": float(latency["one"]["p99_ms"]),
        "ops_per_s": float(s["ops_per_s"]),
        "late_ops_pct": float(s["late_ops_pct"] or 0),
    }


# ------------------------------------------------------------------------------------------------ main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short durations and 1 round (smoke test)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10, help="seconds of each closed-loop measurement")
    parser.add_argument("--rate", type=float, default=2000, help="open-load target, operations/s in total")
    parser.add_argument("--rate-duration", type=float, default=20)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.rate_duration = 1, 2, 4

    folder = Path(tempfile.mkdtemp(prefix="loadgen-bench-sessions-"))
    m: dict[str, list[float]] = defaultdict(list)
    with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": str(folder)}) as hyper:
        endpoint = hyper.endpoint.connection_descriptor
        database = str(folder / "bare.hyper")
        with Connection(hyper.endpoint, database, CreateMode.CREATE_AND_REPLACE):
            for i in range(args.rounds):
                print(f"round {i + 1}/{args.rounds}", file=sys.stderr, flush=True)
                m["lg_1x64"].append(loadgen_closed(folder, endpoint, 1, 64, args.duration))
                m["bare_64"].append(bare_loop(endpoint, database, 64, args.duration))
                m["lg_2x32"].append(loadgen_closed(folder, endpoint, 2, 32, args.duration))
    for _ in range(args.rounds):
        for key, value in startup(folder, 2 if args.quick else 5).items():
            m[key].append(value)
    shapes = ((1, 64),) if args.quick else ((1, 64), (2, 32))
    opened = {(w, s): open_load(folder, w, s, args.rate, args.rate_duration) for w, s in shapes}
    stall = stalled(folder, 1, 64, args.rate, args.rate_duration)

    for key, values in m.items():  # every round, for judging the noise behind a median
        print(f"{key}: {', '.join(f'{v:.2f}' for v in values)}", file=sys.stderr)
    report = render({k: statistics.median(v) for k, v in m.items()}, opened, stall, args)
    print(report, end="")
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    return 0


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def render(med: dict, opened: dict, stall: dict, args) -> str:
    rows = []
    rows.append(
        f"| startup of 256 sessions (2 workers × 128): launch → barrier release | {med['startup_s']:.2f} s | | | "
        f"≤ 10 s | {yes(med['startup_s'] <= 10)} | slowest worker setup_s {med['setup_s']:.2f} s; private hyperd |"
    )
    rows.append(
        f"| client peak RSS at 256 sessions (coordinator + 2 workers) | {med['client_rss']:.0f} MiB | | | ≤ 1024 MiB | "
        f"{yes(med['client_rss'] <= 1024)} | samples.csv, summed per sampling round |"
    )
    rows.append(f"| peak RSS per worker at 128 sessions | {med['worker_rss']:.0f} MiB | | | | | samples.csv |")
    for key, label in (("lg_1x64", "1 worker × 64"), ("lg_2x32", "2 workers × 32")):
        ratio = med[key] / med["bare_64"]
        floor = f"≥ 0.9 | {yes(ratio >= 0.9)}" if key == "lg_1x64" else "| "
        rows.append(
            f"| SELECT 1 closed loop, loadgen {label} sessions vs bare asyncio loop, 64 AsyncConnections | "
            f"{med[key]:,.0f} ops/s | {med['bare_64']:,.0f} ops/s | {ratio:.2f} | {floor} | "
            f"{args.duration:g} s each, one hyperd |"
        )
    for (w, s), r in opened.items():
        off = abs(r["ops_per_s"] / r["target_rate_per_s"] - 1) * 100
        rows.append(
            f"| open load {args.rate:,.0f} ops/s, {w} worker(s) × {s} sessions: achieved vs target | "
            f"{r['ops_per_s']:,.0f} ops/s | {r['target_rate_per_s']:,.0f} ops/s | "
            f"{r['ops_per_s'] / r['target_rate_per_s']:.3f} | "
            f"within 2% | {yes(off <= 2)} | late {r['late_ops_pct']:.1f} %, max late {r['max_late_ms']:.0f} ms, "
            f"queued {r['queued_ops']:,.0f} ops |"
        )
    rows.append(
        f"| same, 1 × 64, hyperd SIGSTOPped 1 s mid-phase: p99 from intended start | "
        f"{stall['p99_intended_ms']:.0f} ms | | | "
        f"≥ 800 ms | {yes(stall['p99_intended_ms'] >= 800)} | max {stall['max_intended_ms']:.0f} ms; service p99 "
        f"{stall['p99_service_ms']:.0f} ms; {stall['ops_per_s']:,.0f} ops/s; late {stall['late_ops_pct']:.1f} % |"
    )
    header = [
        common.machine_line(),
        f"SELECT 1 as a `sql_operations:` entry; medians of {args.rounds} round(s); open load "
        f"{args.rate_duration:g} s once.",
        "",
        *common.RATIO_TABLE_HEAD,
    ]
    return "\n".join(header + rows) + "\n"


if __name__ == "__main__":
    sys.exit(main())
