"""backend: ray against the local backend, on a 2-node Ray cluster on this machine (two
raylets on 127.0.0.1) that is up before the runs start, and one hyperd both backends write to.

  - 4 Ray workers reach the first barrier within 6 s (environment.json: ray.first_barrier_s);
  - start skew across workers on one host: p99 of the workers' start offsets from the shared instant ≤ 5 ms;
  - arrow_stream insert, 2 Ray workers vs 2 local workers on the same hyperd ≥ 0.9;
  - the coordinator's CPU and RSS in both backends, and the Ray node processes' (raylets, GCS, agents).

Run by `make bench`; `--write FILE` also writes the table.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import common  # benchmarks/common.py (a script's own folder is on sys.path)
import psutil
from tableauhyperapi import HyperProcess, Telemetry

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = (
    "0"  # hold Ray to loopback (see loadgen/engine/backends/ray_cluster.py)
)
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"


def run(text: str, folder: Path, name: str) -> Path:
    return common.run_loadgen(text, folder, name, timeout=1800)[0]


def rows(run_dir: Path, name: str) -> list[dict]:
    return common.read_csv(run_dir / name)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else float("nan")


def coordinator_usage(run_dir: Path, phase: str) -> tuple[float, float]:
    samples = [r for r in rows(run_dir, "samples.csv") if r["process"] == "coordinator" and r["phase"] == phase]
    return (
        sum(float(r["cpu_pct"]) for r in samples) / max(1, len(samples)),
        max((float(r["rss_mib"]) for r in samples), default=0.0),
    )


def cpu_s(pids: set[int]) -> tuple[float, float]:
    """CPU seconds and RSS (MiB) of the cluster's processes now."""
    total, rss = 0.0, 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            times = proc.cpu_times()
            total += times.user + times.system
            rss += proc.memory_info().rss / 2**20
        except psutil.Error:
            continue
    return total, rss


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=4_000_000, help="rows of the arrow_stream insert")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--write", help="also write the markdown table to this file")
    args = parser.parse_args(argv)
    from ray.cluster_utils import Cluster  # the `ray` extra

    folder = Path(tempfile.mkdtemp(prefix="loadgen-bench-ray-"))
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 2, "include_dashboard": False, "node_ip_address": "127.0.0.1"},
    )
    m: dict[str, list[float]] = {}

    def add(key, value):
        m.setdefault(key, []).append(value)

    try:
        cluster.add_node(num_cpus=2, node_ip_address="127.0.0.1")
        ray_pids = {p.pid for p in psutil.Process().children(recursive=True)} - before
        with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": str(folder)}) as hyper:
            endpoint = hyper.endpoint.connection_descriptor
            (folder / "db").mkdir()
            server = f'server: {{endpoint: "{endpoint}", database_dir: "{folder / "db"}", replace_existing: true}}\n'
            ray = f'backend: ray\nray: {{address: "{cluster.address}"}}\n'
            barrier_phases = "".join(
                f"  - {{name: q{i}, workload: query, method: rows, sql: 'SELECT 1', iterations: 1}}\n"
                for i in range(10)
            )
            for rep in range(args.reps):
                print(f"repetition {rep + 1}/{args.reps}", file=sys.stderr, flush=True)
                run_dir = run(
                    f"name: barrier\nworkers: 4\n{server}{ray}phases:\n"
                    f"  - {{name: load, workload: insert, method: arrow_stream, rows: 4000}}\n{barrier_phases}",
                    folder,
                    "barrier",
                )
                add("first_barrier_s", json.loads((run_dir / "environment.json").read_text())["ray"]["first_barrier_s"])
                offsets = [float(r["start_offset_ms"]) for r in rows(run_dir, "workers.csv") if r["phase"] != "load"]
                add("offset_p99_ms", percentile(offsets, 99))
                add("skew_max_ms", max(float(r["start_skew_ms"]) for r in rows(run_dir, "summary.csv")))
                insert = f"phases:\n  - {{name: insert, workload: insert, method: arrow_stream, rows: {args.rows}}}\n"
                local_dir = run(f"name: stream_local\nworkers: 2\n{server}{insert}", folder, "stream_local")
                cpu0, _ = cpu_s(ray_pids)
                t0 = time.monotonic()
                ray_dir = run(f"name: stream_ray\nworkers: 2\n{server}{ray}{insert}", folder, "stream_ray")
                cpu1, rss = cpu_s(ray_pids)
                local_rate = float(rows(local_dir, "summary.csv")[0]["rows_per_s"])
                ray_rate = float(rows(ray_dir, "summary.csv")[0]["rows_per_s"])
                add("stream_ratio", ray_rate / local_rate)
                add("stream_ray", ray_rate)
                add("stream_local", local_rate)
                for key, run_dir_ in (("local", local_dir), ("ray", ray_dir)):
                    cpu, peak = coordinator_usage(run_dir_, "insert")
                    add(f"coord_cpu_{key}", cpu)
                    add(f"coord_rss_{key}", peak)
                add("nodes_cpu_pct", 100 * (cpu1 - cpu0) / (time.monotonic() - t0))
                add("nodes_rss_mib", rss)
    finally:
        cluster.shutdown()
    report = render(m, args)
    common.publish(report, args.write)
    return 0


def render(m, args) -> str:
    def med(key):
        return median(m[key])

    def spread(key, fmt):
        return " / ".join(format(v, fmt) for v in m[key])

    lines = [
        f"backend: ray on a 2-node cluster on this machine, {args.reps} repetitions (median; each run listed)",
        "",
        "| measure | floor | median | runs |",
        "|---|---|---|---|",
        f"| 4 Ray workers: start to first barrier (cluster up) | ≤ 6 s | {med('first_barrier_s'):.2f} s | "
        f"{spread('first_barrier_s', '.2f')} |",
        f"| start offset p99 across workers (10 phases × 4) | ≤ 5 ms | {med('offset_p99_ms'):.2f} ms | "
        f"{spread('offset_p99_ms', '.2f')} |",
        f"| start skew, worst phase (last − first start) | | {med('skew_max_ms'):.2f} ms | "
        f"{spread('skew_max_ms', '.2f')} |",
        f"| arrow_stream insert {args.rows:,} rows: 2 Ray workers vs 2 local | ≥ 0.9 | {med('stream_ratio'):.2f} | "
        f"{spread('stream_ratio', '.2f')} |",
        f"| … Ray rows/s | | {med('stream_ray'):,.0f} | {spread('stream_ray', ',.0f')} |",
        f"| … local rows/s | | {med('stream_local'):,.0f} | {spread('stream_local', ',.0f')} |",
        f"| coordinator CPU % during the insert, local | | {med('coord_cpu_local'):.1f} | "
        f"{spread('coord_cpu_local', '.1f')} |",
        f"| coordinator CPU % during the insert, Ray | | {med('coord_cpu_ray'):.1f} | "
        f"{spread('coord_cpu_ray', '.1f')} |",
        f"| coordinator peak RSS MiB, local | | {med('coord_rss_local'):.0f} | {spread('coord_rss_local', '.0f')} |",
        f"| coordinator peak RSS MiB, Ray | | {med('coord_rss_ray'):.0f} | {spread('coord_rss_ray', '.0f')} |",
        f"| Ray node processes (2 raylets, GCS, agents) CPU % over the Ray run | | {med('nodes_cpu_pct'):.1f} | "
        f"{spread('nodes_cpu_pct', '.1f')} |",
        f"| Ray node processes RSS MiB (sum) | | {med('nodes_rss_mib'):.0f} | {spread('nodes_rss_mib', '.0f')} |",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
