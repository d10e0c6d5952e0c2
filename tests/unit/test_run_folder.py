import csv

from loadgen.results.run_folder import RunFolder
from loadgen.scenario.load import load_plan

SCENARIO = """\
name: sweep
rows: 1000
matrix:
  thresholds.load.rows_per_s: [">= 10", ">= 1e12"]
phases:
  - {name: load, workload: insert}
"""


def test_each_matrix_point_is_judged_by_its_own_thresholds(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    base, plan = load_plan(path)
    folder = RunFolder("sweep-1", tmp_path, plan[0][1], list(plan[0][0]))
    for index, (params, point) in enumerate(plan):
        folder.start_point(index, params, point)
        folder.summary.append({"point": index, "phase": "load", "parameters": "", "status": "ok", "rows_per_s": 1000.0})
    missed = folder.check_thresholds()
    # point 0 asks for >= 10 (met), point 1 for >= 1e12 (missed); before, the last point's bound judged both
    assert missed == ["load.rows_per_s >= 1e+12 (measured 1000)"]
    assert [r["passed"] for r in folder.thresholds_result] == [True, False]


BOUNDED = (
    SCENARIO
    + """\
  - {name: scan, workload: query}
  - {name: other, workload: query}
thresholds:
  scan.p99_ms: "<= 50"
  scan.query.count: ">= 10"
  scan.ops: ">= 1"
"""
)


def test_each_phase_row_says_which_of_its_bounds_were_missed(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(BOUNDED)
    base, plan = load_plan(path)
    folder = RunFolder("sweep-1", tmp_path, plan[0][1], list(plan[0][0]))
    for index, (params, point) in enumerate(plan):
        folder.start_point(index, params, point)
        for phase in ("load", "scan", "other"):
            folder.summary.append({"point": index, "phase": phase, "parameters": "", "status": "ok",
                                   "rows_per_s": 1000.0, "p99_ms": 71.25, "ops": 3, "wall_s": 1.0})  # fmt: skip
    folder.latency.append({"point": 0, "phase": "scan", "operation": "query", "count": 3, "errors": 0})
    folder.check_thresholds()
    cells = [(r["point"], r["phase"], r.get("thresholds")) for r in folder.summary]
    assert cells == [
        (0, "load", "ok"), (0, "scan", "missed: p99_ms<=50 (was 71.25); query.count>=10 (was 3)"), (0, "other", None),
        (1, "load", "missed: rows_per_s>=1e+12 (was 1000)"),
        (1, "scan", "missed: p99_ms<=50 (was 71.25); query.count>=10 (no value)"), (1, "other", None),
    ]  # fmt: skip
    with open(tmp_path / "summary.csv", newline="") as handle:  # rewritten with the verdicts
        assert [r["thresholds"] for r in csv.DictReader(handle)] == [c or "" for _, _, c in cells]
