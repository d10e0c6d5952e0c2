"""Runs that finish together all land in history.csv (10 runs together once kept 9 rows, and one exited 1)."""

import csv
import os
import subprocess
import sys
import time
import uuid

from loadgen.results import history as run_history
from tests.conftest import tagged_processes, write_scenario

TINY = """\
name: tiny
workers: 1
rows: 3000
phases:
  - {name: load, workload: insert, method: arrow}
"""
RUNS = 10
EARLIER = 20_000  # rows already in history.csv: each append then takes a while, so the appends overlap


def test_ten_runs_finishing_together_keep_every_row(tmp_path):
    scenario = write_scenario(tmp_path / "tiny.yaml", TINY)
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    with open(results_dir / "history.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=run_history.HISTORY_COLUMNS)
        writer.writeheader()
        writer.writerows({"run_id": f"earlier-{i}", "phase": "load", "status": "ok"} for i in range(EARLIER))
    tag = uuid.uuid4().hex
    env = {**os.environ, "LOADGEN_TEST_TAG": tag}
    command = [sys.executable, "-m", "loadgen", "run", str(scenario), "--results-dir", str(results_dir), "--quiet"]
    procs = [
        subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(RUNS)
    ]
    try:
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0] * RUNS, [err for _, err in outputs]
    assert not any("Traceback" in err or "warning:" in out for out, err in outputs)

    with open(results_dir / "history.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    run_dirs = sorted(p.name for p in (results_dir / "tiny").iterdir())
    assert len(run_dirs) == RUNS
    assert len(rows) == EARLIER + RUNS
    assert [r["run_id"] for r in rows[:EARLIER]] == [f"earlier-{i}" for i in range(EARLIER)]
    ours = rows[EARLIER:]
    assert sorted(r["run_id"] for r in ours) == [f"tiny-{name}" for name in run_dirs]
    assert all(r["phase"] == "load" and r["status"] == "ok" and r["rows"] == "3000" for r in ours)
    assert sorted(p.name for p in results_dir.iterdir()) == [".history.csv.lock", "history.csv", "tiny"]

    deadline = time.monotonic() + 5  # workers and hyperd inherit the tag; give their exit a moment
    while tagged_processes(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not tagged_processes(tag)
