"""A real run's CSVs as a spreadsheet reads them: a missed threshold shows in summary.csv and history.csv."""

import csv
import os
import subprocess
import sys
import time
import uuid

import pytest

from loadgen import columns
from tests.conftest import only_run_dir, tagged_processes, write_scenario

SCENARIO = """\
name: sheets
workers: 2
rows: 20000
sampling: {interval_ms: 20}
phases:
  - {name: load, workload: insert, method: arrow}
  - {name: agg, workload: query, shape: aggregation, method: rows, iterations: 3}
  - {name: scan, workload: query, shape: filtered, method: rows, iterations: 2}
thresholds:
  agg.ops: ">= 1"
  agg.query.p99_ms: "< 0.000001"
  scan.rows_per_s: "> 0"
"""
OLD_HISTORY_COLUMNS = [c for c in columns.SUMMARY_NAMES if c != "thresholds"]  # what earlier versions wrote
OLD_STAMP = "2026-11-01 10:00:00.123"  # and their time form
NS = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
}


def read(path):
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One small run that misses a threshold, into a results folder whose history.csv an earlier version wrote."""
    tmp = tmp_path_factory.mktemp("sheets")
    (tmp / "results").mkdir()
    old_row = dict.fromkeys(OLD_HISTORY_COLUMNS, "")
    old_row.update(run_id="older-run", scenario="sheets", phase="load", status="ok", started_utc=OLD_STAMP)
    with open(tmp / "results" / "history.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, OLD_HISTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerow(old_row)
    scenario = write_scenario(tmp / "sheets.yaml", SCENARIO)
    tag = uuid.uuid4().hex  # the run's processes inherit it: none may outlive the run (as the cli fixture checks)
    proc = subprocess.run([sys.executable, "-m", "loadgen", "run", scenario, "--results-dir", tmp / "results"],
                          cwd=tmp, env={**os.environ, "LOADGEN_TEST_TAG": tag}, capture_output=True, text=True,
                          timeout=240)  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr  # a threshold missed
    deadline = time.monotonic() + 5
    while tagged_processes(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not tagged_processes(tag)
    return tmp / "results", only_run_dir(tmp / "results")


def test_a_missed_threshold_shows_in_summary_and_history_appended_to_an_old_header(run):
    results, run_dir = run
    summary = {r["phase"]: r for r in read(run_dir / "summary.csv")[1]}
    assert [r["status"] for r in summary.values()] == ["ok", "ok", "ok"]
    assert summary["load"]["thresholds"] == ""  # no bound on it
    assert summary["scan"]["thresholds"] == "ok"
    missed = summary["agg"]["thresholds"]
    assert missed.startswith("missed: query.p99_ms<1e-06 (was ") and missed.endswith(")"), missed
    assert float(missed.removeprefix("missed: query.p99_ms<1e-06 (was ")[:-1]) > 0
    header, history = read(results / "history.csv")
    assert header == OLD_HISTORY_COLUMNS + ["thresholds"]  # the old header kept, the new column added at its end
    assert [(r["run_id"], r["phase"], r["thresholds"]) for r in history] == [
        ("older-run", "load", ""),
        *((summary[p]["run_id"], p, summary[p]["thresholds"]) for p in ("load", "agg", "scan")),
    ]
    assert history[0]["started_utc"] == OLD_STAMP  # rows of earlier versions are kept as they are
