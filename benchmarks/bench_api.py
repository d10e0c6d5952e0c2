"""Workloads written on loadgen.api: what the public API costs against the built-ins.

1. the recorder's overhead per operation: `with rec.op(name)` and `rec.record(name, ns)` on the Recorder a worker
   gives a workload, against a bare `time.perf_counter_ns()` pair (the least any timing costs); median of rounds;
   floor: ≤ 2 µs/op;
2. a `SELECT 1` Users class (one @task) with 64 sessions against `workload: mix` running SELECT 1 as a
   `sql_operations:` entry with 64 sessions, both 1 worker, closed loop, no think time, alternating rounds on
   one machine; floor: the class's ops/s ≥ 0.9 × the mix's (medians).

  python benchmarks/bench_api.py            # ~1 minute on 2 cores
  python benchmarks/bench_api.py --quick    # 1 round, short runs (smoke)
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import common  # benchmarks/common.py (a script's own folder is on sys.path)

from loadgen.results.recorder import Recorder

USER_CLASS = """\
from loadgen import api


class One(api.Users):
    @api.task
    async def one(self, session):
        return len(await session.execute("SELECT 1"))
"""
SCENARIO = "name: {name}\nworkers: 1\nseed: 1\nphases:\n  - name: load\n{phase}"
MIX = """\
    workload: mix
    sessions: {sessions}
    duration_s: {duration}
    preload_rows: 0
    operations: {{one: 1}}
    sql_operations: {{one: {{sql: "SELECT 1"}}}}
"""
USERS = """\
    workload: python
    module: one.py
    class: One
    options: {{sessions: {sessions}, duration_s: {duration}}}
"""


def recorder_overhead(ops: int, rounds: int) -> tuple[float, float]:
    """(ns per op of `with rec.op`, of `rec.record`) above a bare perf_counter_ns pair, medians of rounds. Each loop
    is timed in this process's CPU time (process_time_ns): on a shared machine wall time also counts the waits for
    a core, which are not the recorder's cost."""
    clock, cpu = time.perf_counter_ns, time.process_time_ns
    with_op, record = [], []
    for _ in range(rounds):
        rec = Recorder([0] * 5, clock(), 1_000_000_000, None)
        t0 = cpu()
        for _ in range(ops):
            a = clock()
            _ = clock() - a
        bare = cpu() - t0
        t0 = cpu()
        for _ in range(ops):
            with rec.op("step"):
                pass
        with_op.append((cpu() - t0 - bare) / ops)
        t0 = cpu()
        for _ in range(ops):
            a = clock()
            rec.record("step", clock() - a)
        record.append((cpu() - t0 - bare) / ops)
    return statistics.median(with_op), statistics.median(record)


def ops_per_s(folder: Path, name: str, phase: str) -> float:
    run, _ = common.run_loadgen(SCENARIO.format(name=name, phase=phase), folder, name, timeout=600)
    [row] = [r for r in common.read_csv(run / "summary.csv") if r["phase"] == "load"]
    return float(row["ops_per_s"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, duration, sessions = (1, 2, 64) if args.quick else (3, 8, 64)
    op_ns, record_ns = recorder_overhead(20_000 if args.quick else 200_000, rounds if args.quick else 7)
    users, mix = [], []
    with tempfile.TemporaryDirectory(prefix="loadgen-bench-api-") as tmp:
        folder = Path(tmp)
        (folder / "one.py").write_text(USER_CLASS, encoding="utf-8")
        for i in range(rounds):  # alternating, so the machine's drift reaches both alike
            mix.append(ops_per_s(folder, f"mix{i}", MIX.format(sessions=sessions, duration=duration)))
            users.append(ops_per_s(folder, f"users{i}", USERS.format(sessions=sessions, duration=duration)))
    ratio = statistics.median(users) / statistics.median(mix)
    print(common.machine_line())
    print()
    print("| measure | loadgen.api | reference | floor | ok |")
    print("|---|---|---|---|---|")
    print(f"| recorder overhead per op, `with rec.op` | {op_ns / 1000:.2f} µs | bare perf_counter_ns pair | ≤ 2 µs "
          f"| {'yes' if op_ns <= 2000 else 'NO'} |")  # fmt: skip
    print(f"| recorder overhead per op, `rec.record` | {record_ns / 1000:.2f} µs | bare perf_counter_ns pair | ≤ 2 µs "
          f"| {'yes' if record_ns <= 2000 else 'NO'} |")  # fmt: skip
    print(f"| SELECT 1, 1 worker × {sessions} sessions, ops/s (median of {rounds}) | Users class "
          f"{statistics.median(users):,.0f} ({', '.join(f'{u:,.0f}' for u in users)}) | mix "
          f"{statistics.median(mix):,.0f} ({', '.join(f'{m:,.0f}' for m in mix)}) | ≥ 0.9 × mix: {ratio:.2f} × "
          f"| {'yes' if ratio >= 0.9 else 'NO'} |")  # fmt: skip
    return 0 if op_ns <= 2000 and record_ns <= 2000 and ratio >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
