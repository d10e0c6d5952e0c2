"""A workload that is not part of loadgen — tests/workloads/trivial, an options model and a runtime class — runs
end to end once registered: validated with the scenario, run by every worker, reported by the coordinator."""

import csv
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUN = """
import sys
from loadgen.workloads import registry
from tests.workloads.trivial.config import TrivialPhase

registry.register("trivial", TrivialPhase, "tests.workloads.trivial.workload:TrivialWorkload")  # the one line

from loadgen.cli import main

sys.exit(main(sys.argv[1:]))
"""
SCENARIO = """\
name: trivial_run
workers: 2
phases:
  - {name: ping, workload: trivial, statements: 7, sql: "SELECT 1, 2"}
thresholds:
  ping.statement.count: "== 14"
"""


def test_a_registered_workload_runs_end_to_end(tmp_path):
    path = tmp_path / "trivial.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-c", RUN, "run", str(path), "--results-dir", str(tmp_path / "results"), "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "trivial ping: 14 statements by 2 workers" in run.stdout
    assert "threshold ok     ping.statement.count == 14" in run.stdout
    folder = next((tmp_path / "results" / "trivial_run").iterdir())
    with open(folder / "summary.csv", newline="", encoding="utf-8") as handle:
        [summary] = list(csv.DictReader(handle))
    assert (summary["workload"], summary["ops"], summary["rows"], summary["verified"]) == ("trivial", "14", "14", "ok")


def test_an_unregistered_workload_is_refused_with_the_known_ones(tmp_path):
    path = tmp_path / "trivial.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    check = subprocess.run(
        [sys.executable, "-m", "loadgen", "validate", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 2
    known = (
        "insert, query, mix, tpch_generate, tpch_load, tpch_query, tpcds_generate, tpcds_load, tpcds_query, "
        "ssb_generate, ssb_load, ssb_query, python"
    )
    assert f"unknown workload 'trivial'; allowed: {known}" in check.stderr
