"""Failures end the run promptly with exit 1, an error naming worker and phase, results marked failed."""

import csv
import json

from tests.conftest import only_run_dir, write_scenario


def test_a_worker_that_raises_fails_the_run_within_seconds(cli, tmp_path):
    path = write_scenario(
        tmp_path / "s.yaml",
        """\
name: failing
workers: 3
rows: 3000
phases:
  - {name: load, workload: insert, method: arrow}
  - {name: broken, workload: query, method: rows, sql: "SELECT * FROM no_such_table", iterations: 2}
  - {name: never, workload: query, shape: full_scan}
""",
    )
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=120)
    assert res.code == 1, res.stdout + res.stderr
    assert res.seconds < 30
    assert "failed in phase broken" in res.stderr and "worker " in res.stderr
    assert "no_such_table" in res.stderr  # Hyper's own message is passed on
    run_dir = only_run_dir(tmp_path / "results")
    status = json.loads((run_dir / "run.json").read_text())
    assert status["status"] == "failed" and status["exit_code"] == 1 and "broken" in status["error"]
    with open(run_dir / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["phase"], r["status"]) for r in rows] == [("load", "ok"), ("broken", "failed")]
    assert "failed in phase broken" in rows[1]["error"]


def test_bad_scenario_exits_2_and_writes_nothing(cli, tmp_path):
    path = write_scenario(tmp_path / "bad.yaml", "name: x\nworkers: 0\nphases: []\n")
    res = cli("run", path, "--results-dir", tmp_path / "results")
    assert res.code == 2
    assert res.stderr.splitlines() == [
        f"error: {path}:2: workers: must be >= 1 (got 0)",
        f"error: {path}:3: phases: needs at least 1 item(s) (got [])",
    ]
    assert not (tmp_path / "results").exists()


def test_unreachable_endpoint_exits_2_and_writes_nothing(cli, tmp_path):
    path = write_scenario(
        tmp_path / "ext.yaml",
        """\
name: external
server: {endpoint: "tab.tcp://127.0.0.1:9"}
phases:
  - {name: load, workload: insert, rows: 10}
""",
    )
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=120)
    assert res.code == 2, res.stderr
    assert res.stderr.startswith("error: server.endpoint: cannot connect to tab.tcp://127.0.0.1:9")
    assert not (tmp_path / "results").exists()


def test_results_dir_that_cannot_be_created_exits_2(cli, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    path = write_scenario(tmp_path / "ok.yaml", "name: x\nphases:\n  - {name: load, workload: insert, rows: 10}\n")
    res = cli("run", path, "--results-dir", tmp_path / "file" / "results")
    assert res.code == 2
    assert "is not a folder" in res.stderr


def test_database_dir_that_cannot_be_created_exits_2(cli, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    path = write_scenario(
        tmp_path / "db.yaml",
        f"name: x\nserver: {{database_dir: '{tmp_path / 'file' / 'db'}'}}\nphases:\n"
        "  - {name: load, workload: insert, rows: 10}\n",
    )
    res = cli("run", path, "--results-dir", tmp_path / "results")
    assert res.code == 2
    assert (
        res.stderr.strip()
        == f"error: server.database_dir: {tmp_path / 'file' / 'db'}: {tmp_path / 'file'} is not a folder"
    )
    assert not (tmp_path / "results").exists()


def test_validate_reports_every_file(cli, tmp_path):
    good = write_scenario(tmp_path / "good.yaml", "name: x\nphases:\n  - {name: load, workload: insert, rows: 10}\n")
    bad = write_scenario(tmp_path / "bad.yaml", "name: x\nphases:\n  - {name: load, workload: nope}\n")
    res = cli("validate", good, bad)
    assert res.code == 2
    assert f"ok: {good}" in res.stdout
    allowed = (
        "insert, query, mix, tpch_generate, tpch_load, tpch_query, tpcds_generate, tpcds_load, tpcds_query, "
        "ssb_generate, ssb_load, ssb_query, python"
    )
    assert res.stderr.strip() == f"error: {bad}:3: phases[0].workload: unknown workload 'nope'; allowed: {allowed}"
