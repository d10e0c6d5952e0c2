"""Can compare's verdicts be trusted on this machine? Real runs, judged by `loadgen compare`'s own code.

1. A/A: runs of a matrix with the same hyperd as both points (`server.hyperd: [{}, {}]`), interleaved, `repeat` 5:
   the canonical insert and the three query shapes. Every (phase, headline metric) pair — rows/s, ops/s, p50, p99 —
   judged point 2 against point 1; a call of better or worse is a false call. Goal: at most 5 % over at least 20
   comparisons.
2. Planted slowdown: a baseline run, then the same run with worker 0 sleeping at the start of every repetition's
   timed phase for a quarter of the baseline phase's median wall (LOADGEN_FAULT: the phase's wall grows by about
   25 %, its throughput falls by about 20 %). Goal: ops/s (and wall) called worse on every phase, every time.

  python benchmarks/bench_compare.py               # ~15 minutes on 2 cores
  python benchmarks/bench_compare.py --quick       # small sizes, one run of each (smoke)
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import common  # benchmarks/common.py (a script's own folder is on sys.path)

from loadgen.results import compare

HEADLINE = ("rows_per_s", "ops_per_s", "p50_ms", "p99_ms")
PHASES = (
    "  - {{name: insert, workload: insert, method: arrow, rows_per_copy: {per_copy}}}\n"
    "  - {{name: full_scan, workload: query, shape: full_scan, method: rows, iterations: 2}}\n"
    "  - {{name: filtered, workload: query, shape: filtered, method: rows, iterations: 10}}\n"
    "  - {{name: aggregation, workload: query, shape: aggregation, method: rows, iterations: 10}}\n"
)


def scenario(name: str, rows: int, reps: int, matrix: str = "") -> str:
    return f"name: {name}\nworkers: 2\nrows: {rows}\nrepeat: {reps}\n{matrix}phases:\n" + PHASES.format(
        per_copy=max(rows // 8, 1000)
    )


def run(text: str, folder: Path, name: str, fault: str = "") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text)
    env = {**os.environ, **({"LOADGEN_FAULT": fault} if fault else {})}
    proc = subprocess.run(common.loadgen_command(path, folder), capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"loadgen failed ({proc.returncode}): {proc.stderr}\n{proc.stdout[-2000:]}")
    return common.newest_run(folder, name)


def a_a(folder: Path, rows: int, reps: int) -> list[tuple[str, str, str]]:
    """(phase, metric, verdict) of every headline pair of one A/A run."""
    run_dir = run(scenario("aa", rows, reps, "matrix:\n  server.hyperd: [{}, {}]\n"), folder, "aa")
    cmp = compare.compare([str(run_dir)])
    return [(r["phase"], r["metric"], r["judged"][0].verdict) for r in cmp.rows if r["metric"] in HEADLINE]


def planted(folder: Path, rows: int, reps: int) -> list[tuple[str, str, str, float]]:
    """(phase, metric, verdict, change %) of ops/s and wall_s, the slowed run against its baseline."""
    base = run(scenario("planted", rows, reps), folder, "planted")
    walls = {}
    for r in common.read_csv(base / "summary.csv"):
        if not r["aggregate"] and r["status"] == "ok":
            walls.setdefault(r["phase"], []).append(float(r["wall_s"]))
    fault = ",".join(f"0:{phase}:run:sleep{0.25 * statistics.median(w):.3f}" for phase, w in walls.items())
    slow = run(scenario("planted", rows, reps), folder, "planted", fault)
    cmp = compare.compare([str(base), str(slow)])
    return [
        (r["phase"], r["metric"], r["judged"][0].verdict, r["judged"][0].change_pct)
        for r in cmp.rows
        if r["metric"] in ("ops_per_s", "wall_s")
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the canonical insert")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of each side")
    parser.add_argument("--aa-runs", type=int, default=2, help="A/A runs (16 comparisons each)")
    parser.add_argument("--planted-runs", type=int, default=2, help="planted-slowdown pairs of runs")
    parser.add_argument("--quick", action="store_true", help="small sizes, one run of each (smoke)")
    parser.add_argument("--write", help="also write the markdown report to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.aa_runs, args.planted_runs = 100_000, 1, 1
    judged, slowed = [], []
    with tempfile.TemporaryDirectory(prefix="loadgen-bench-compare-") as tmp:
        for number in range(args.aa_runs):
            print(f"A/A run {number + 1}/{args.aa_runs}", file=sys.stderr, flush=True)
            judged += a_a(Path(tmp), args.rows, args.reps)
        for number in range(args.planted_runs):
            print(f"planted slowdown {number + 1}/{args.planted_runs}", file=sys.stderr, flush=True)
            slowed += planted(Path(tmp), args.rows, args.reps)
    false_calls = [j for j in judged if j[2] in ("better", "worse")]
    caught = [s for s in slowed if s[2] == "worse"]
    lines = [
        common.machine_line(),
        "",
        f"{args.rows:,} rows, 2 workers, {args.reps} repetitions a side.",
        "",
        "| check | comparisons | called better/worse | rate | goal |",
        "|---|---|---|---|---|",
        f"| A/A (same hyperd both points, interleaved) | {len(judged)} | {len(false_calls)} | "
        f"{100 * len(false_calls) / max(len(judged), 1):.1f} % | ≤ 5 % over ≥ 20 |",
    ]
    if slowed:
        lines.append(
            f"| planted slowdown (+25 % wall) called worse | {len(slowed)} | {len(caught)} | "
            f"{100 * len(caught) / len(slowed):.0f} % | 100 % |"
        )
    lines += [
        "",
        "False calls: " + ("; ".join(f"{p} {m} {v}" for p, m, v in false_calls) or "none"),
        "Planted: " + "; ".join(f"{p} {m} {v} ({c:+.1f} %)" for p, m, v, c in slowed),
    ]
    common.publish("\n".join(lines) + "\n", args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
