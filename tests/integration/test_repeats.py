"""Repetitions are real repetitions: fresh worker processes each time, matrix points interleaved."""

import csv

from tests.conftest import only_run_dir, write_scenario

REPEATED = """\
name: again
workers: 2
rows: 20000
repeat: 3
phases:
  - {name: load, workload: insert, method: arrow_stream}
"""

SWEEP = """\
name: sweep
workers: 1
rows: 20000
repeat: 2
matrix:
  load.method: [arrow, arrow_stream]
phases:
  - {name: load, workload: insert}
"""


def read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_repetition_has_fresh_worker_processes(cli, tmp_path):
    path = write_scenario(tmp_path / "s.yaml", REPEATED)
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=180)
    assert res.code == 0, res.stdout + res.stderr
    run_dir = only_run_dir(tmp_path / "results")
    workers = read(run_dir / "workers.csv")
    pids = {rep: {w["pid"] for w in workers if w["repetition"] == rep} for rep in ("1", "2", "3")}
    assert all(len(p) == 2 for p in pids.values())
    assert not (pids["1"] & pids["2"] or pids["2"] & pids["3"] or pids["1"] & pids["3"])
    summary = read(run_dir / "summary.csv")
    assert [r["repetition"] for r in summary] == ["1", "2", "3", ""]
    assert summary[-1]["aggregate"] == "median" and all(r["verified"] == "ok" for r in summary)
    assert list(run_dir.glob("hyperd")) and not list(run_dir.glob("hyperd-*"))  # one hyperd for all three


def test_matrix_points_are_interleaved_repetition_by_repetition_in_alternating_order(cli, tmp_path):
    path = write_scenario(tmp_path / "s.yaml", SWEEP)
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=180)
    assert res.code == 0, res.stdout + res.stderr
    run_dir = only_run_dir(tmp_path / "results")
    measured = [r for r in read(run_dir / "summary.csv") if not r["aggregate"]]
    measured.sort(key=lambda r: r["started_utc"])
    # every other repetition in reverse order: no point always runs second
    assert [(r["point"], r["repetition"]) for r in measured] == [("0", "1"), ("1", "1"), ("1", "2"), ("0", "2")]
    medians = [r for r in read(run_dir / "summary.csv") if r["aggregate"] == "median"]
    assert sorted(r["point"] for r in medians) == ["0", "1"]
    assert len(list(run_dir.glob("hyperd-*"))) == 4  # every point and repetition on its own hyperd
