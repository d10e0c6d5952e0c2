"""TPC-H's refresh functions in tpch_query at SF 0.01 with real tpchgen-cli and hyperd: RF1 before and RF2 after
the power stream, then a refresh stream of one pair per query stream beside the throughput streams; the sets
follow one another across phases (read from the database), each function is checked by row counts, and the
metrics say which sets ran."""

import csv
import subprocess
import sys

from tests.conftest import only_run_dir, write_scenario

SCENARIO = """name: refresh
workers: 2
timeouts: {{barrier_s: 300}}
phases:
  - {{name: generate, workload: tpch_generate, scale_factor: 0.01, data_dir: '{data}'}}
  - {{name: load, workload: tpch_load, method: external}}
  - {{name: power, workload: tpch_query, refresh: true}}
  - {{name: streams, workload: tpch_query, mode: throughput, sessions: 2, refresh: true, queries: [1, 6]}}
"""


def run(tmp_path, text: str):
    path = write_scenario(tmp_path / "refresh.yaml", text)
    return subprocess.run(
        [sys.executable, "-m", "loadgen", "run", str(path), "--results-dir", str(tmp_path / "results")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_refresh_functions_run_around_the_power_stream_and_as_a_stream_beside_the_throughput_streams(tmp_path):
    proc = run(tmp_path, SCENARIO.format(data=tmp_path / "cache"))
    out = " ".join(proc.stdout.split())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "refresh functions: RF1 of set 1" in out and "RF2 of set 1" in out
    assert "RF1 of set 2" in out and "RF2 of set 3" in out  # the throughput test continues after the power test
    results = only_run_dir(tmp_path / "results")
    with open(results / "tpch.csv", newline="") as handle:
        rows = {r["phase"]: r for r in csv.DictReader(handle)}
    assert rows["power"]["note"].startswith("RF1/RF2 of refresh set(s) 1–1")
    assert rows["streams"]["note"].startswith("RF1/RF2 of refresh set(s) 2–3")
    assert float(rows["streams"]["qphh_at_size"]) > 0
    with open(results / "latency.csv", newline="") as handle:
        operations = {(r["phase"], r["operation"]) for r in csv.DictReader(handle)}
    assert {("power", "rf1"), ("power", "rf2"), ("streams", "rf1"), ("streams", "rf2")} <= operations


def test_refresh_with_answer_checks_is_refused_before_anything_starts(tmp_path):
    text = SCENARIO.format(data=tmp_path / "cache").replace("refresh: true}", "refresh: true, check_answers: true}", 1)
    proc = run(tmp_path, text)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "answers cannot be checked against DuckDB once the refresh functions" in " ".join(proc.stderr.split())
    assert not (tmp_path / "cache").exists()
