"""What a worker that runs many SQL sessions pays in memory (RSS) and time, part by part.

  1. each import, in a fresh interpreter: RSS after `import X` minus before, and the import's wall time
     (`python -X importtime -c "import loadgen.worker"` shows the tree behind a figure);
  2. per session, in one process against a hyperd started here: a connected psycopg AsyncConnection, a cursor
     after one SELECT 1, an OperationPlan + Binder, an asyncio task that thinks (waits on an Event with a timeout).

    python benchmarks/session_costs.py [--sessions 5000]

Not part of `make bench` (no floor): it explains the RSS figures of bench_sessions.py.
"""

import argparse
import asyncio
import gc
import subprocess
import sys

import psutil

IMPORTS = (
    "numpy", "pyarrow", "psycopg", "tableauhyperapi", "pydantic", "hdrh.histogram", "yaml", "rich", "plotly",
    "matplotlib", "matplotlib.pyplot", "duckdb", "ray",
    "loadgen.sessions", "loadgen.workloads.mix", "loadgen.worker",
)  # fmt: skip
MEASURE_IMPORT = """
import importlib, sys, time, psutil
p = psutil.Process()
before, t = p.memory_info().rss, time.perf_counter()
importlib.import_module(sys.argv[1])
print(f"{(p.memory_info().rss - before) / 2**20:.1f} {time.perf_counter() - t:.2f}")
"""


def import_costs() -> list[str]:
    rows = ["| import (fresh interpreter) | RSS | time |", "|---|---|---|"]
    for name in IMPORTS:
        out = subprocess.run([sys.executable, "-c", MEASURE_IMPORT, name], capture_output=True, text=True)
        if out.returncode != 0:
            rows.append(f"| `{name}` | not installed | |")
            continue
        rss, seconds = out.stdout.split()
        rows.append(f"| `{name}` | {rss} MiB | {seconds} s |")
    return rows


def rss_mib() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


async def per_session(endpoint: str, n: int) -> list[str]:
    from loadgen import server
    from loadgen.operations import Binder
    from loadgen.workloads.mix import OperationPlan

    rows = ["| per session | KiB |", "|---|---|"]
    start = rss_mib()
    plans = [
        (OperationPlan(1, 0, "load", {"one": 1}, (500, 1000), (1, 1), session=k), Binder({}, 1, k, n)) for k in range(n)
    ]
    after_plans = rss_mib()
    rows.append(f"| OperationPlan + Binder (three numpy generators) | {(after_plans - start) * 1024 / n:.1f} |")
    limiter = asyncio.Semaphore(32)

    async def connect():
        async with limiter:
            return await server.pg_connect_async(endpoint, None, None, 30)

    connections = await asyncio.gather(*(connect() for _ in range(n)))
    connected = rss_mib()
    rows.append(f"| psycopg AsyncConnection, connected | {(connected - after_plans) * 1024 / n:.1f} |")
    cursors = [c.cursor() for c in connections]

    async def select(cursor):
        await cursor.execute("SELECT 1")
        await cursor.fetchall()

    await asyncio.gather(*(select(c) for c in cursors))
    queried = rss_mib()
    rows.append(f"| its cursor, after one SELECT 1 | {(queried - connected) * 1024 / n:.1f} |")
    ending = asyncio.Event()

    async def think():
        while not ending.is_set():
            try:
                await asyncio.wait_for(ending.wait(), 0.5)
            except TimeoutError:
                pass

    tasks = [asyncio.create_task(think()) for _ in range(n)]
    await asyncio.sleep(1.2)
    thinking = rss_mib()
    rows.append(f"| an asyncio task thinking (wait_for on an Event) | {(thinking - queried) * 1024 / n:.1f} |")
    ending.set()
    await asyncio.gather(*tasks)
    await asyncio.gather(*(c.close() for c in connections))
    del plans
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=5000)
    args = parser.parse_args(argv)
    import tempfile

    from tableauhyperapi import HyperProcess, Telemetry

    rows = import_costs() + [""]
    with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": tempfile.mkdtemp()}) as hp:
        rows += asyncio.run(per_session(hp.endpoint.connection_descriptor, args.sessions))
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
