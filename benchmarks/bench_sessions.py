"""Many sessions per worker: startup, memory, per-operation overhead and open load, as loadgen runs them.

Measures, with `workload: mix` phases of `SELECT 1` (a `sql_operations:` entry, preload_rows: 0):
  1. startup of 256 sessions (2 workers × 128): launch of `loadgen run` → release of the phase's barrier
     (summary.csv `started_utc`), and the client's peak RSS (coordinator + workers, samples.csv);
  2. per-operation client overhead, closed loop, no think time: loadgen with 1 worker × 64 sessions, 2 × 32,
     1 × 1,024 and 2 × 512, each against a bare asyncio psycopg loop with the same processes and connections (no
     loadgen), both on one hyperd started here (loadgen points at it with `server.endpoint`), side by side in each
     round, medians of N rounds;
  3. open load at 2,000 operations/s in total over 64 sessions: achieved vs target, and the same with hyperd
     stopped (SIGSTOP) for 1 s in the middle: p99 of `one:from_intended` must show the stall;
  4. peak RSS per worker at 128 sessions (from run 1);
  5. 10,000 sessions (SELECT 1, think 0.5-1 s) with 1 and 2 workers: launch → barrier release (every session
     connected before it), connect time, client RSS of the workers, the coordinator's and hyperd's, once each.
Prints a markdown table with the floors.

    python benchmarks/bench_sessions.py            # ~10 minutes on 2 cores
    python benchmarks/bench_sessions.py --quick    # short durations, 1 round, 2,000 sessions (smoke)
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

from loadgen import limits, server

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


def bare_loop(endpoint: str, database: str, processes: int, sessions: int, duration: float) -> float:
    """The same work with no loadgen: `processes` spawned processes, each one asyncio loop over `sessions` psycopg
    AsyncConnections (autocommit, nothing prepared, one cursor each, as loadgen's sessions), each running SELECT 1
    back to back for `duration` seconds once every process is connected. Operations/s over all of them."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    args = {**server.pg_arguments(endpoint, database, None, 30), "prepare_threshold": None}
    children = [
        ctx.Process(target=bare_process, args=(args, sessions, duration, barrier, results)) for _ in range(processes)
    ]
    for child in children:
        child.start()
    try:
        counts = [results.get(timeout=120 + duration) for _ in children]
    finally:
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
    return sum(done for done, _ in counts) / max(seconds for _, seconds in counts)


def bare_process(args: dict, sessions: int, duration: float, barrier, results) -> None:
    import asyncio

    import psycopg

    async def main() -> tuple[int, float]:
        limiter = asyncio.Semaphore(16)  # hyperd's listen backlog holds 128 connects: a few at a time

        async def connect():
            async with limiter:
                return await psycopg.AsyncConnection.connect(**args)

        connections = await asyncio.gather(*(connect() for _ in range(sessions)))
        barrier.wait(timeout=120)  # every process connected: the loops start together
        done = 0
        deadline = time.perf_counter() + duration

        async def session(connection):
            nonlocal done
            cursor = connection.cursor()
            while time.perf_counter() < deadline:
                await cursor.execute(SQL)
                await cursor.fetchall()
                done += 1

        try:
            start = time.perf_counter()
            await asyncio.gather(*(session(c) for c in connections))
            return done, time.perf_counter() - start
        finally:
            await asyncio.gather(*(c.close() for c in connections))

    results.put(asyncio.run(main()))


# ------------------------------------------------------------------------------ 5: 10,000 sessions
MANY_PHASE = """  - name: load
    workload: mix
    sessions: {sessions}
    duration_s: {duration}
    preload_rows: 0
    think_ms: [500, 1000]
    max_error_rate: 0.01
    operations: {{one: 1}}
    sql_operations: {{one: {{sql: "{sql}"}}}}
"""


def many_sessions(folder: Path, workers: int, total: int, duration: float) -> dict:
    """`total` SELECT 1 sessions with a think time of 0.5-1 s over `workers` workers, on a hyperd of their own started
    here (loadgen would refuse to start its own: 10,000 sessions need more open files in hyperd than this machine's
    hard limit allows, see BENCHMARKS.md). Launch → barrier release, each worker's connect time, peak RSS of the
    workers (summed per sampling round), of the coordinator, and of hyperd (sampled here)."""
    import psutil

    name = f"sessions_many_w{workers}"
    (folder / name).mkdir(exist_ok=True)
    with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": str(folder / name)}) as hp:
        hyperd = psutil.Process(server.find_hyperd_pid())
        peak, done = [hyperd.memory_info().rss], threading.Event()

        def sample():
            while not done.wait(0.1):
                peak.append(hyperd.memory_info().rss)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        line = (
            f'server: {{endpoint: "{hp.endpoint.connection_descriptor}", database_dir: "{folder / name}", '
            "replace_existing: true, connect_timeout_s: 30}\n"
        )
        phase = MANY_PHASE.format(sessions=total // workers, duration=duration, sql=SQL)
        text = f"name: {name}\nworkers: {workers}\nseed: 1\n{line}sampling: {{interval_ms: 100}}\nphases:\n{phase}"
        try:
            run_dir, launched = run_loadgen(text, folder, name)
        finally:
            done.set()
            sampler.join()
    rounds: dict[str, float] = defaultdict(float)
    coordinator = 0.0
    for r in read(run_dir / "samples.csv"):
        if r["process"].startswith("worker-"):
            rounds[r["t_s"]] += float(r["rss_mib"] or 0)
        elif r["process"] == "coordinator":
            coordinator = max(coordinator, float(r["rss_mib"] or 0))
    workers_rows = [r for r in read(run_dir / "workers.csv") if r["phase"] == "load"]
    connect = [float(r["detail"].split("connected in ")[1].split(" s")[0]) for r in workers_rows]
    s = summary(run_dir)
    return {
        "release_s": utc_epoch(s["started_utc"]) - launched,
        "connect_s": max(connect),
        "setup_s": max(float(r["setup_s"]) for r in workers_rows),
        "workers_rss": max(rounds.values()),
        "coordinator_rss": coordinator,
        "hyperd_rss": max(peak) / 2**20,
        "ops_per_s": float(s["ops_per_s"]),
        "p50_ms": float(s["p50_ms"] or 0),
        "errors": float(s["errors"] or 0),
        "ops": float(s["ops"] or 0),
    }


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
CLOSED_SHAPES = ((1, 64), (2, 32), (1, 1024), (2, 512))  # (workers or processes, sessions each)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short durations and 1 round (smoke test)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10, help="seconds of each closed-loop measurement")
    parser.add_argument("--rate", type=float, default=2000, help="open-load target, operations/s in total")
    parser.add_argument("--rate-duration", type=float, default=20)
    parser.add_argument("--many", type=int, default=10_000, help="sessions in total of the many-sessions check")
    parser.add_argument("--many-duration", type=float, default=30, help="long enough for every session to run")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.rate_duration, args.many, args.many_duration = 1, 2, 4, 2000, 3
    # the hyperds started here inherit this process's open-files limit: 10,000 sessions hold 20,000 files there
    limits.raise_soft(limits.hyperd_need(args.many, 1))

    folder = Path(tempfile.mkdtemp(prefix="loadgen-bench-sessions-"))
    m: dict[str, list[float]] = defaultdict(list)
    with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": str(folder)}) as hyper:
        endpoint = hyper.endpoint.connection_descriptor
        database = str(folder / "bare.hyper")
        with Connection(hyper.endpoint, database, CreateMode.CREATE_AND_REPLACE):
            for i in range(args.rounds):
                print(f"round {i + 1}/{args.rounds}", file=sys.stderr, flush=True)
                for workers, sessions in CLOSED_SHAPES:  # side by side: loadgen, then the bare loop, same shape
                    key = f"{workers}x{sessions}"
                    m[f"lg_{key}"].append(loadgen_closed(folder, endpoint, workers, sessions, args.duration))
                    m[f"bare_{key}"].append(bare_loop(endpoint, database, workers, sessions, args.duration))
    for _ in range(args.rounds):
        for key, value in startup(folder, 2 if args.quick else 5).items():
            m[key].append(value)
    many = {w: many_sessions(folder, w, args.many, args.many_duration) for w in (1, 2)}
    shapes = ((1, 64),) if args.quick else ((1, 64), (2, 32))
    opened = {(w, s): open_load(folder, w, s, args.rate, args.rate_duration) for w, s in shapes}
    stall = stalled(folder, 1, 64, args.rate, args.rate_duration)

    for key, values in m.items():  # every round, for judging the noise behind a median
        print(f"{key}: {', '.join(f'{v:.2f}' for v in values)}", file=sys.stderr)
    for workers, values in many.items():
        print(f"many w{workers}: {values}", file=sys.stderr)
    report = render({k: statistics.median(v) for k, v in m.items()}, many, opened, stall, args)
    print(report, end="")
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    return 0


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def render(med: dict, many: dict, opened: dict, stall: dict, args) -> str:
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
    for workers, r in many.items():
        label = f"{args.many:,} sessions (SELECT 1, think 0.5–1 s), {workers} worker(s)"
        rows.append(
            f"| {label}: launch → barrier release | {r['release_s']:.1f} s | | | ≤ 30 s | "
            f"{yes(r['release_s'] <= 30)} | connecting {r['connect_s']:.1f} s, slowest worker setup_s "
            f"{r['setup_s']:.1f} s |"
        )
        rows.append(
            f"| {label}: client peak RSS (workers) | {r['workers_rss']:,.0f} MiB | | | ≤ 1536 MiB | "
            f"{yes(r['workers_rss'] <= 1536)} | + coordinator {r['coordinator_rss']:.0f} MiB; hyperd "
            f"{r['hyperd_rss']:,.0f} MiB; {r['ops_per_s']:,.0f} ops/s, p50 {r['p50_ms']:,.0f} ms, "
            f"{r['errors']:,.0f} of {r['ops']:,.0f} operations failed |"
        )
    for workers, sessions in CLOSED_SHAPES:
        key = f"{workers}x{sessions}"
        ratio = med[f"lg_{key}"] / med[f"bare_{key}"]
        floor = f"≥ 0.9 | {yes(ratio >= 0.9)}" if workers == 1 else "| "
        label = f"{workers} worker(s) × {sessions:,} sessions" if workers > 1 else f"1 worker × {sessions:,} sessions"
        rows.append(
            f"| SELECT 1 closed loop, loadgen {label} vs bare asyncio loop, same processes and connections | "
            f"{med[f'lg_{key}']:,.0f} ops/s | {med[f'bare_{key}']:,.0f} ops/s | {ratio:.2f} | {floor} | "
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
