"""`server.hyperd.version`: does choosing a hyperd through loadgen's cache cost anything?

Measures, with the installed tableauhyperapi's own version fetched into loadgen's cache (the same hyperd binary
both ways: only the way of choosing it differs):
  1. the canonical insert (`method: arrow`, 2 workers), one loadgen run with `matrix: {server.hyperd: [{}, {version:
     V}]}` and `repeat: N`: the points interleave repetition by repetition, each on its own hyperd; rows/s and p50 of
     the median rows, side by side (floor: version ÷ default ≥ 0.97 in rows/s, default ÷ version ≥ 0.97 in p50);
  2. a run's start: launch of `loadgen run` → release of its first phase (summary.csv `started_utc`), a small insert,
     default and version alternately, medians of N rounds each after one warm-up run of each (floor: the cached
     version adds ≤ 0.5 s); and the part of the start that differs, timed in this process: choosing and checking
     the hyperd before the run (hyperd_select.prepare: the cache entry, the binary's facts, the probe remembered).
Fetches the version into the cache first when it is not there (`loadgen hyperd fetch`, 91 MB, once).

    python benchmarks/bench_hyperd.py             # ~3 minutes on 2 cores
    python benchmarks/bench_hyperd.py --quick     # small sizes, 1 round (smoke)
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import common  # benchmarks/common.py (a script's own folder is on sys.path)
from rich.console import Console

from loadgen import hyperd_select, results
from loadgen.scenario import validate

INSERT = "  - {{name: load, workload: insert, method: arrow, rows_per_copy: {per_copy}}}\n"


def matrix_run(folder: Path, version: str, rows: int, reps: int) -> dict[int, dict]:
    """The canonical insert on the default hyperd and on `version` from the cache, interleaved: the median row of
    each point."""
    text = (
        f"name: hyperd_matrix\nworkers: 2\nrows: {rows}\nrepeat: {reps}\n"
        f"matrix:\n  server.hyperd: [{{}}, {{version: '{version}'}}]\n"
        f"phases:\n{INSERT.format(per_copy=max(rows // 16, 1000))}"
    )
    run_dir, _ = common.run_loadgen(text, folder, "hyperd_matrix", timeout=3600)
    rows_ = common.read_csv(run_dir / "summary.csv")
    wanted = "median" if reps > 1 else ""
    return {int(r["point"]): r for r in rows_ if r["aggregate"] == wanted}


def start_s(folder: Path, server_line: str, name: str) -> float:
    """Seconds from launching `loadgen run` to the release of its first phase."""
    text = f"name: {name}\nworkers: 2\nrows: 20000\n{server_line}phases:\n{INSERT.format(per_copy=10000)}"
    run_dir, launched = common.run_loadgen(text, folder, name, timeout=600)
    summary = common.read_csv(run_dir / "summary.csv")[0]
    return results.parse_utc(summary["started_utc"]) - launched


def prepare_s(version: str | None, calls: int = 20) -> float:
    """Median seconds of choosing and checking a point's hyperd before a run (what a cached version adds)."""
    data = {"name": "p", "phases": [{"name": "load", "workload": "insert", "rows": 10}]}
    if version:
        data["server"] = {"hyperd": {"version": version}}
    scenario = validate(data, types.SimpleNamespace(path="bench", where=lambda loc: "bench", overrides={}))
    seconds = []
    for _ in range(calls):
        started = time.perf_counter()
        hyperd_select.prepare([scenario], Console(quiet=True))
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=4_000_000, help="rows of the canonical insert")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of each point (the medians)")
    parser.add_argument("--rounds", type=int, default=5, help="start-time rounds of each")
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 repetition and round (smoke)")
    parser.add_argument("--write", help="also write the markdown table to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.reps, args.rounds = 200_000, 1, 1
    version = results.package_version("tableauhyperapi")
    fetch = subprocess.run([sys.executable, "-m", "loadgen", "hyperd", "fetch", version], text=True, check=False)
    if fetch.returncode != 0:
        return fetch.returncode
    folder = Path(tempfile.mkdtemp(prefix="loadgen-bench-hyperd-"))
    points = matrix_run(folder, version, args.rows, args.reps)
    default, chosen = points[0], points[1]
    version_line = f"server: {{hyperd: {{version: '{version}'}}}}\n"
    start_s(folder, "", "start_default")  # warm-up: the binaries' facts (sha256) are cached on first use
    start_s(folder, version_line, "start_version")
    starts: dict[str, list[float]] = {"default": [], "version": []}
    for number in range(args.rounds):
        print(f"start round {number + 1}/{args.rounds}", file=sys.stderr, flush=True)
        starts["default"].append(start_s(folder, "", "start_default"))
        starts["version"].append(start_s(folder, version_line, "start_version"))
    starts["prepare_version"], starts["prepare_default"] = [prepare_s(version)], [prepare_s(None)]
    common.publish(render(version, args, default, chosen, starts), args.write)
    return 0


def render(version: str, args, default: dict, chosen: dict, starts: dict) -> str:
    rate_v, rate_d = float(chosen["rows_per_s"]), float(default["rows_per_s"])
    p50_v, p50_d = float(chosen["p50_ms"]), float(default["p50_ms"])
    start_v, start_d = statistics.median(starts["version"]), statistics.median(starts["default"])
    added = start_v - start_d
    prep_v, prep_d = starts["prepare_version"][0], starts["prepare_default"][0]
    each = " / ".join(f"{v:.2f}-{d:.2f}" for v, d in zip(starts["version"], starts["default"], strict=True))

    def met(ok: bool) -> str:
        return "yes" if ok else "**no**"

    return "\n".join(
        [
            common.machine_line(),
            "",
            f"`server.hyperd.version: {version}` (the installed wheel's version, from loadgen's cache) against the "
            f"default (the installed wheel's hyperd): canonical arrow insert, 2 workers, {args.rows:,} rows, one "
            f"matrix run, {args.reps} interleaved repetitions per point (medians); run start: {args.rounds} rounds "
            "each.",
            "",
            *common.RATIO_TABLE_HEAD,
            f"| insert rows/s, version vs default | {rate_v:,.0f} | {rate_d:,.0f} | {rate_v / rate_d:.3f} | ≥ 0.97 | "
            f"{met(rate_v / rate_d >= 0.97)} | version ÷ default |",
            f"| insert p50, version vs default | {p50_v:.1f} ms | {p50_d:.1f} ms | {p50_d / p50_v:.3f} | ≥ 0.97 | "
            f"{met(p50_d / p50_v >= 0.97)} | default ÷ version (lower latency is better) |",
            f"| run start (launch → first release), version vs default | {start_v:.2f} s | {start_d:.2f} s | "
            f"{added:+.2f} s | ≤ +0.5 s | {met(added <= 0.5)} | version−default per round: {each} |",
            f"| … of which choosing and checking the hyperd (in-process, median of 20) | {prep_v * 1000:.1f} ms | "
            f"{prep_d * 1000:.1f} ms | {(prep_v - prep_d) * 1000:+.1f} ms | | | the only step that differs |",
            "",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
