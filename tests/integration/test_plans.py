"""`explain: true`: each distinct statement's plan saved once per run and point in plans/, outside the timed part, and
`loadgen compare` naming the statement whose plan shape changed — here a join whose build side flips with the size
of the worker's table (a matrix over rows)."""

import json

from tests.conftest import only_run_dir, write_scenario

JOIN = "SELECT COUNT(*) FROM {table} t JOIN (SELECT g AS k FROM generate_series(1, 20000) g) u ON t.id = u.k"


def test_a_plan_that_changes_between_two_points_is_listed_by_compare(cli, tmp_path):
    path = write_scenario(
        tmp_path / "plans.yaml",
        "name: plans\nworkers: 2\nrows: 1000\nrepeat: 2\nmatrix:\n  rows: [1000, 200000]\nphases:\n"
        "  - {name: load, workload: insert, method: arrow}\n"
        f'  - {{name: join, workload: query, method: rows, iterations: 2, explain: true, sql: "{JOIN}"}}\n',
    )
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=300)
    assert res.code == 0, res.stdout + res.stderr
    run = only_run_dir(tmp_path / "results")
    saved = sorted(p.relative_to(run).as_posix() for p in (run / "plans").rglob("*.json"))
    assert saved == ["plans/point-0/join/query.json", "plans/point-1/join/query.json"]  # once per point, worker 0
    small, large = (json.loads((run / p).read_text()) for p in saved)
    assert small["sql"] == JOIN.replace("{table}", '"measurements_0"') and small["format"] == "tree"
    assert small["plan"]["tree"]["operator"] == "result-sink"  # Hyper's own JSON, with ANALYZE's row counts
    assert "output-rows" in json.dumps(small["plan"])
    assert small["shape"] != large["shape"] and not any("rows" in line for line in small["shape"])
    out = cli("compare", run, "--format", "markdown")
    assert out.code == 0, out.stderr
    (line,) = [x for x in out.stdout.splitlines() if "plan changed" in x]
    assert line.startswith("- join query: plan changed on rows=200000 (operator ")


def test_explain_must_be_true_or_false(cli, tmp_path):
    path = write_scenario(
        tmp_path / "bad.yaml",
        "name: bad\nrows: 1000\nphases:\n  - {name: scan, workload: query, explain: sometimes}\n",
    )
    res = cli("run", path, "--results-dir", tmp_path / "results")
    assert res.code == 2, res.stderr
    assert "bad.yaml:4: phases[0].explain: must be true or false (got 'sometimes')" in res.stderr
    assert not (tmp_path / "results").exists()
