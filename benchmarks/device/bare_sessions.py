"""The baseline for many sessions: P processes, each one asyncio loop over K psycopg connections running
`SELECT 1` back to back for D seconds against one hyperd of its own; then the same through loadgen (a mix phase,
P workers × K sessions, no think time), and the ratio of their ops/s.

    python benchmarks/device/bare_sessions.py OUTDIR P K D     (from the checkout's root, loadgen importable)
"""

import asyncio
import csv
import glob
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time

import yaml
from tableauhyperapi import HyperProcess, Telemetry

from loadgen.engine.server import pg_params


def bare_process(arguments: dict, connections: int, seconds: float, results) -> None:
    import psycopg

    async def session(conn, end: float) -> int:
        done = 0
        while time.perf_counter() < end:
            await conn.execute("SELECT 1")
            done += 1
        return done

    async def main():
        conns = [await psycopg.AsyncConnection.connect(**arguments) for _ in range(connections)]
        t0 = time.perf_counter()
        counts = await asyncio.gather(*(session(c, t0 + seconds) for c in conns))
        elapsed = time.perf_counter() - t0
        for conn in conns:
            await conn.close()
        return sum(counts), elapsed

    results.put(asyncio.run(main()))


def bare(processes: int, connections: int, seconds: float) -> float:
    logs = tempfile.mkdtemp(prefix="bare-sessions-hyperd-")
    with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": logs}) as hyper:
        arguments = {**pg_params(hyper.endpoint.connection_descriptor), "user": "tableau_internal_user",
                     "dbname": "", "autocommit": True}  # fmt: skip
        spawn = multiprocessing.get_context("spawn")
        results = spawn.Queue()
        children = [spawn.Process(target=bare_process, args=(arguments, connections, seconds, results))
                    for _ in range(processes)]  # fmt: skip
        for child in children:
            child.start()
        done = [results.get(timeout=seconds + 300) for _ in children]
        for child in children:
            child.join(timeout=30)
    shutil.rmtree(logs, ignore_errors=True)
    return sum(n for n, _ in done) / max(elapsed for _, elapsed in done)


def main() -> int:
    out, processes, connections, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    os.makedirs(out, exist_ok=True)
    bare_ops = bare(processes, connections, seconds)
    doc = {"name": "sess", "workers": processes,
           "phases": [{"name": "s", "workload": "mix", "sessions": connections, "duration_s": seconds, "think_ms": 0,
                       "operations": {"one": 1}, "sql_operations": {"one": {"sql": "SELECT 1"}}}]}  # fmt: skip
    path = os.path.join(out, "bare_sessions.yaml")
    with open(path, "w") as handle:
        yaml.safe_dump(doc, handle)
    results = tempfile.mkdtemp(prefix="bare-sessions-")  # the run folder holds hyperd's logs: not kept
    try:
        command = [sys.executable, "-m", "loadgen", "run", path, "--quiet", "--results-dir", results]
        subprocess.run(command, check=True, timeout=600)
        summary = glob.glob(os.path.join(results, "sess", "*", "summary.csv"))[-1]
        shutil.copy(summary, out)
        with open(summary, newline="") as handle:
            loadgen_ops = float(next(csv.DictReader(handle))["ops_per_s"])
    finally:
        shutil.rmtree(results, ignore_errors=True)
    print(f"{processes}x{connections} SELECT 1 for {seconds:g} s: bare asyncio psycopg {bare_ops:,.0f} ops/s, "
          f"loadgen {loadgen_ops:,.0f} ops/s, ratio {loadgen_ops / bare_ops:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
