"""The SSB workloads end to end at SF 0.01 with real tpchgen-cli, hyperd and DuckDB: TPC-H's data (from TPC-H's
cache), SSB's five tables built in Hyper from the loaded TPC-H tables, the 13 queries in a power run and in two
throughput streams, every answer compared with DuckDB's over tables it builds from the same Parquet files."""

import csv
import json
import subprocess
import sys

from tests.conftest import only_run_dir, write_scenario

SCENARIO = """name: ssb
workers: 2
timeouts: {{barrier_s: 300}}
phases:
  - {{name: generate, workload: ssb_generate, scale_factor: 0.01, data_dir: '{data}'}}
  - {{name: load, workload: ssb_load, method: arrow}}
  - {{name: power, workload: ssb_query}}
  - {{name: streams, workload: ssb_query, mode: throughput, sessions: 2, queries: [1, 7, 13]}}
  - {{name: hot, workload: ssb_query, queries: [1, 7], cache: hot, hot_runs: 3}}
"""


def run_loadgen(path, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "loadgen", "run", str(path), "--results-dir", str(tmp_path / "results")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_ssb_builds_its_tables_from_tpch_data_and_every_answer_matches_duckdb(tmp_path):
    path = write_scenario(tmp_path / "ssb.yaml", SCENARIO.format(data=tmp_path / "cache"))
    proc = run_loadgen(path, tmp_path)
    out = " ".join(proc.stdout.split())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list((tmp_path / "cache").glob("sf0.01-tpchgen-*/.loadgen-tpch-cache"))  # TPC-H's own cache
    assert "ssb.lineorder 60,175 rows" in out and "ssb.dwdate 2,557 rows" in out
    assert "SSB: 13 of 13 ran, 13 matched DuckDB" in out
    assert "SSB: 3 of 3 ran, 3 matched DuckDB" in out
    assert "SSB: 2 of 2 ran, 2 matched DuckDB" in out  # the cold/hot protocol on a suite: answers still checked
    with open(only_run_dir(tmp_path / "results") / "summary.csv", newline="") as handle:
        [hot] = [r for r in csv.DictReader(handle) if r["phase"] == "hot"]
    assert hot["cache"] == "hot" and float(hot["hot_s"]) > 0 and hot["cold_s"] == ""
    assert "q1.1" in out and "q4.3" in out
    with open(only_run_dir(tmp_path / "results") / "ssb.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["phase"], r["mode"], r["streams"], r["audited"]) for r in rows] == [
        ("power", "power", "1", "no"),
        ("streams", "throughput", "2", "no"),
        ("hot", "power", "1", "no"),
    ]


def test_cold_ssb_queries_run_on_a_fresh_hyperd_with_the_suites_search_path(tmp_path):
    text = f"""name: ssb_cold
workers: 1
phases:
  - {{name: generate, workload: ssb_generate, scale_factor: 0.01, data_dir: '{tmp_path / "cache"}'}}
  - {{name: load, workload: ssb_load, method: arrow}}
  - {{name: cold, workload: ssb_query, queries: [1, 13], cache: cold}}
"""
    path = write_scenario(tmp_path / "cold.yaml", text)
    proc = run_loadgen(path, tmp_path)
    out = " ".join(proc.stdout.split())
    # each query on a new hyperd: its connection set up again (SSB's tables live in schema ssb)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SSB: 2 of 2 ran, 2 matched DuckDB" in out
    run = only_run_dir(tmp_path / "results")
    [entry] = json.loads((run / "clickbench.json").read_text())["phases"]
    assert len(set(entry["hyperd_pids"])) == 2 and entry["cache"] == "cold", entry
