"""Every shape × fetch method against a real hyperd; results are checked against the closed forms."""

import csv

import pytest

from tests.conftest import only_run_dir, write_scenario

SHAPES = ("full_scan", "filtered", "aggregation")
METHODS = ("rows", "arrow", "arrow_stream")


def scenario_text(transport: str) -> str:
    phases = "\n".join(
        f"  - {{name: {shape}_{method}, workload: query, shape: {shape}, method: {method}, iterations: 3, warmup: 1}}"
        for shape in SHAPES
        for method in METHODS
    )
    return f"""\
name: query_matrix
workers: 2
rows: 30000
server: {{transport: {transport}}}
phases:
  - {{name: load, workload: insert, method: arrow, rows_per_copy: 6000, batch_rows: 2048}}
{phases}
  - {{name: own_sql, workload: query, method: arrow_stream, sql: "SELECT COUNT(*) FROM {{table}}", iterations: 2}}
"""


@pytest.mark.parametrize("transport", ["domain", "tcp"])
def test_each_shape_and_method_returns_the_expected_rows(cli, tmp_path, transport):
    path = write_scenario(tmp_path / "q.yaml", scenario_text(transport))
    res = cli("run", path, "--results-dir", tmp_path / "results")
    assert res.code == 0, res.stderr
    run_dir = only_run_dir(tmp_path / "results")
    with open(run_dir / "summary.csv") as handle:
        summary = {r["phase"]: r for r in csv.DictReader(handle)}
    per_worker = 15000
    expected_rows = {"full_scan": per_worker, "filtered": per_worker // 10, "aggregation": 10}
    for shape in SHAPES:
        for method in METHODS:
            row = summary[f"{shape}_{method}"]
            assert row["verified"] == "ok", row
            assert int(row["ops"]) == 6  # 3 iterations × 2 workers; the warmup query is not counted
            assert int(row["rows"]) == 6 * expected_rows[shape], row
    assert summary["own_sql"]["verified"] == "unchecked" and int(summary["own_sql"]["rows"]) == 4
    with open(run_dir / "latency.csv") as handle:
        latency = list(csv.DictReader(handle))
    warmups = [r for r in latency if r["operation"] == "query:warmup"]
    assert len(warmups) == 9 and all(int(r["count"]) == 2 for r in warmups)
    for r in latency:
        values = [float(r[c]) for c in ("min_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p99_9_ms", "max_ms")]
        assert values == sorted(values), r


def test_a_query_on_a_missing_table_names_phase_and_worker(cli, tmp_path):
    path = write_scenario(
        tmp_path / "q.yaml",
        """\
name: no_table
workers: 1
table: "never_created_{worker}"
phases:
  - {name: scan, workload: query, shape: full_scan, method: arrow}
""",
    )
    res = cli("run", path, "--results-dir", tmp_path / "results")
    assert res.code == 1
    assert 'error: worker 0 failed in phase scan: HyperException: table "never_created_0" does not exist' in res.stderr


def test_duration_runs_until_time_is_up(cli, tmp_path):
    path = write_scenario(
        tmp_path / "d.yaml",
        """\
name: timed
workers: 1
rows: 1000
phases:
  - {name: load, workload: insert, method: rows}
  - {name: agg, workload: query, shape: aggregation, method: rows, duration_s: 1.0}
""",
    )
    res = cli("run", path, "--results-dir", tmp_path / "results")
    assert res.code == 0, res.stderr
    with open(only_run_dir(tmp_path / "results") / "summary.csv") as handle:
        agg = [r for r in csv.DictReader(handle) if r["phase"] == "agg"][0]
    assert 1.0 <= float(agg["wall_s"]) < 2.0
    assert int(agg["ops"]) > 10 and agg["verified"] == "ok"
