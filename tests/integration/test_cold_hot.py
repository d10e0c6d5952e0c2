"""The cold/hot protocol (`cache:`) with a real hyperd: cold statements run on a fresh hyperd each, clickbench.json
agrees with summary.csv, `both` labels cold and hot runs, an endpoint refuses cold, and a signal during a restart
leaves no hyperd behind."""

import csv
import json
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import only_run_dir, wait_for_line, write_scenario
from tests.integration.test_reliability import assert_nothing_left, finish, start_run
from tests.integration.test_tpch import GENERATE, cache  # noqa: F401 - the module's TPC-H data (a fixture)

QUERIES = """\
name: coldhot
workers: 1
rows: 20000
phases:
  - {name: load, workload: insert, method: arrow}
  - {name: cold, workload: query, shape: aggregation, cache: cold}
  - {name: both, workload: query, shape: aggregation, method: arrow_stream, cache: both}
  - {name: hot, workload: query, sql: "SELECT COUNT(*) FROM {table}", method: rows, cache: hot, hot_runs: 4}
"""


def read_csv(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def log_pids(run_dir) -> set[int]:
    """Every hyperd process that wrote to the run's hyperd log (each line names its pid)."""
    text = "".join(p.read_text(errors="replace") for p in (run_dir / "hyperd").glob("*.log"))
    return {int(pid) for pid in re.findall(r'"pid":(\d+)', text)}


@pytest.fixture(scope="module")
def query_run(tmp_path_factory):
    """One run of QUERIES (shared by the checks below: each reads a different part of its results)."""
    folder = tmp_path_factory.mktemp("coldhot")
    path = write_scenario(folder / "q.yaml", QUERIES)
    proc = subprocess.run(
        [sys.executable, "-m", "loadgen", "run", str(path), "--results-dir", str(folder / "results")],
        cwd=folder, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return only_run_dir(folder / "results"), proc.stdout


def test_cold_statements_run_on_a_fresh_hyperd_each(query_run):
    run_dir, _ = query_run
    phases = {p["phase"]: p for p in json.loads((run_dir / "clickbench.json").read_text())["phases"]}
    cold_pids = [pid for name in ("cold", "both") for pid in phases[name]["hyperd_pids"]]
    assert len(cold_pids) == 2 and len(set(cold_pids)) == 2, cold_pids
    # the run's hyperd log holds the first hyperd (the load) and one new hyperd per cold statement
    pids = log_pids(run_dir)
    assert set(cold_pids) < pids and len(pids) == 3, (pids, cold_pids)
    assert phases["hot"]["hyperd_pids"] == []  # hot: no restart
    for name in ("cold", "both"):
        assert phases[name]["page_cache"] == "dropped"  # posix_fadvise needs no privilege
    latency = {(r["phase"], r["operation"]): r for r in read_csv(run_dir / "latency.csv")}
    assert latency[("cold", "hyperd:restart")]["count"] == "1" and ("hot", "hyperd:restart") not in latency
    summary = {r["phase"]: r for r in read_csv(run_dir / "summary.csv")}
    assert summary["cold"]["verified"] == "ok" and summary["both"]["verified"] == "ok"  # the rows still checked


def test_clickbench_json_matches_the_summary(query_run):
    run_dir, stdout = query_run
    document = json.loads((run_dir / "clickbench.json").read_text())
    summary = {r["phase"]: r for r in read_csv(run_dir / "summary.csv")}
    runs = {"cold": 1, "both": 3, "hot": 4}
    assert [p["phase"] for p in document["phases"]] == list(runs)
    for entry in document["phases"]:
        name = entry["phase"]
        row = summary[name]
        assert row["cache"] == entry["cache"] == name
        assert entry["queries"] == ["query"] and len(entry["result"]) == 1
        (times,) = entry["result"]
        assert len(times) == len(entry["labels"]) == runs[name] == int(row["ops"])
        assert all(t > 0 for t in times)
        if name in ("cold", "both"):
            assert entry["labels"][0] == "cold"
            assert float(row["cold_s"]) == pytest.approx(times[0], abs=1e-5)
        else:
            assert entry["labels"][0] == "first" and row["cold_s"] == ""
        if name == "cold":
            assert row["hot_s"] == ""
        else:
            assert float(row["hot_s"]) == pytest.approx(min(times[1:]), abs=1e-5)
    assert f"{document['phases'][1]['result'][0][0]:.3f}" in stdout  # the terminal shows the cold time


def test_both_labels_cold_and_hot_runs(query_run):
    run_dir, stdout = query_run
    summary = {r["phase"]: r for r in read_csv(run_dir / "summary.csv")}
    assert summary["both"]["cold_s"] and summary["both"]["hot_s"]
    counts = {r["operation"]: int(r["count"]) for r in read_csv(run_dir / "latency.csv") if r["phase"] == "both"}
    assert counts["query:cold"] == 1 and counts["query:hot"] == 2 and counts["query"] == 3
    hot = {r["operation"]: int(r["count"]) for r in read_csv(run_dir / "latency.csv") if r["phase"] == "hot"}
    assert hot["query:first"] == 1 and hot["query:hot"] == 3 and "query:cold" not in hot
    assert "both: cache both" in stdout and "cold    hot best  hot median" in stdout


def test_cold_with_an_external_endpoint_is_refused(cli, tmp_path):
    text = QUERIES.replace("rows: 20000\n", "rows: 20000\nserver: {endpoint: 'tab.tcp://localhost:1'}\n")
    path = write_scenario(tmp_path / "endpoint.yaml", text)
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=60)
    assert res.code == 2, res.stdout + res.stderr
    for line, phase, mode in ((7, 1, "cold"), (8, 2, "both")):
        assert f"endpoint.yaml:{line}: phases[{phase}].cache: {mode} starts a fresh hyperd" in res.stderr
        assert "server.endpoint is set (tab.tcp://localhost:1)" in res.stderr
    assert "phases[3]" not in res.stderr  # hot needs no restart
    assert not (tmp_path / "results").exists()


def test_a_signal_during_a_cold_restart_leaves_no_hyperd(tmp_path):
    # the coordinator pauses once the fresh hyperd has started and before it holds it: the riskiest moment
    env = {"LOADGEN_FAULT": "coordinator:hyperd:restart:sleep60"}
    proc, tag = start_run(tmp_path, QUERIES, env=env)
    wait_for_line(proc, "at restart of phase hyperd", timeout=120)  # the fault says it sleeps: an observable event
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    code, _, err = finish(proc)
    assert code == 130, err
    assert time.monotonic() - sent < 30
    run_dir = only_run_dir(tmp_path / "results")
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    assert [(r["phase"], r["status"]) for r in read_csv(run_dir / "summary.csv")] == [
        ("load", "ok"),
        ("cold", "interrupted"),
    ]
    assert_nothing_left(tag)


def test_tpch_power_run_cold_and_hot(cli, tmp_path, cache):  # noqa: F811 - the fixture
    data, _ = cache
    text = (
        "name: tpch_cache\nworkers: 1\nphases:\n"
        + GENERATE.format(data=data)
        + "  - {name: load, workload: tpch_load, method: arrow}\n"
        "  - {name: power, workload: tpch_query, queries: [1, 6, 14], cache: both}\n"
    )
    path = write_scenario(tmp_path / "tpch.yaml", text)
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=240)
    assert res.code == 0, res.stdout + res.stderr
    run_dir = only_run_dir(tmp_path / "results")
    power = {r["phase"]: r for r in read_csv(run_dir / "summary.csv")}["power"]
    assert power["verified"] == "ok" and power["cache"] == "both"  # every cold answer checked against DuckDB's
    (entry,) = json.loads((run_dir / "clickbench.json").read_text())["phases"]
    assert entry["queries"] == ["q01", "q06", "q14"] and [len(r) for r in entry["result"]] == [3, 3, 3]
    assert len(set(entry["hyperd_pids"])) == 3
    assert float(power["cold_s"]) == pytest.approx(sum(r[0] for r in entry["result"]), abs=1e-5)
    assert float(power["hot_s"]) == pytest.approx(sum(min(r[1:]) for r in entry["result"]), abs=1e-5)
    (row,) = read_csv(run_dir / "tpch.csv")
    assert "cache both" in row["note"]
