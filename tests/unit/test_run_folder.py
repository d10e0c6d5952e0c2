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
