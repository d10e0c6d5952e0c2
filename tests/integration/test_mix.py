"""The mixed load-test workload against a real hyperd: determinism, rate, stalls, time series, Hyper's metrics."""

import csv
import os
import signal
import subprocess
import sys
import time

import psutil

from tests.conftest import only_run_dir, wait_for_line, write_scenario


def read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def op_counts(run_dir):
    return {r["operation"]: r["count"] for r in read(run_dir / "latency.csv")}


MIX = """\
name: mix_{tag}
workers: 2
seed: {seed}
phases:
  - name: stress
    workload: mix
    iterations: 30
    preload_rows: 5000
    bulk_rows: [10, 100]
    operations: {{bulk_insert: 1, single_insert: 2, select_limit: 3, aggregate: 2, join: 2, ddl: 1}}
"""


def test_same_seed_same_operations(cli, tmp_path):
    runs = {}
    for tag, seed in (("a", 7), ("b", 7), ("c", 8)):
        path = write_scenario(tmp_path / f"{tag}.yaml", MIX.format(tag=tag, seed=seed))
        res = cli("run", path, "--results-dir", tmp_path / tag)
        assert res.code == 0, res.stderr
        assert f"(seed {seed})" in res.stdout
        runs[tag] = op_counts(only_run_dir(tmp_path / tag))
    assert sum(int(c) for c in runs["a"].values()) == 60
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"]


RATE = """\
name: rate
workers: 2
seed: 1
phases:
  - name: steady
    workload: mix
    duration_s: {duration}
    rate_per_s: 50
    rate_scope: total
    arrivals: {arrivals}
    preload_rows: 5000
    operations: {{select_limit: 1}}
"""


def test_a_light_rate_limited_load_achieves_its_target(cli, tmp_path):
    path = write_scenario(tmp_path / "r.yaml", RATE.format(duration=4, arrivals="uniform"))
    res = cli("run", path, "--results-dir", tmp_path / "results")
    assert res.code == 0, res.stderr
    run_dir = only_run_dir(tmp_path / "results")
    summary = read(run_dir / "summary.csv")[0]
    assert float(summary["target_rate_per_s"]) == 50
    assert abs(float(summary["ops_per_s"]) - 50) <= 5, summary["ops_per_s"]
    latency = {r["operation"]: r for r in read(run_dir / "latency.csv")}
    service, intended = latency["select_limit"], latency["select_limit:from_intended"]
    assert service["count"] == intended["count"]
    for column in ("p50_ms", "p99_ms", "max_ms"):
        assert float(intended[column]) >= float(service[column]) * 0.999  # latency from intent ≥ service time
    series = read(run_dir / "timeseries.csv")
    seconds = [float(r["t_s"]) for r in series]
    assert seconds[0] == 0 and seconds[-1] >= 3  # the buckets cover the duration
    assert all(int(r["ops"]) > 0 for r in series[:4])
    assert sum(int(r["ops"]) for r in series) == int(summary["ops"])
    assert all(abs(float(r["target_rate_per_s"]) - 50) < 1e-6 for r in series[:4])  # the target, per interval


def test_a_stalled_server_shows_in_latency_from_the_intended_start(tmp_path):
    path = write_scenario(tmp_path / "s.yaml", RATE.format(duration=5, arrivals="poisson"))
    # worker 0 announces on stderr when it enters the steady phase's run (a zero-length fault): the stall
    # starts then, after setup and preload
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadgen", "run", str(path), "--results-dir", str(tmp_path / "results")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "LOADGEN_FAULT": "0:steady:run:sleep0"},
    )  # fmt: skip
    try:
        wait_for_line(proc, "at run of phase steady")
        hyperd = next(c for c in psutil.Process(proc.pid).children() if c.name() == "hyperdMain")
        hyperd.send_signal(signal.SIGSTOP)
        time.sleep(1.0)  # the stall being measured, not a synchronisation
        hyperd.send_signal(signal.SIGCONT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    run_dir = only_run_dir(tmp_path / "results")
    latency = {r["operation"]: r for r in read(run_dir / "latency.csv")}
    service, intended = latency["select_limit"], latency["select_limit:from_intended"]
    assert float(intended["max_ms"]) >= 800  # ops due during the stall waited for it
    assert float(intended["p95_ms"]) >= 5 * float(service["p95_ms"])
    summary = read(run_dir / "summary.csv")[0]
    assert float(summary["max_late_ms"]) >= 500 and float(summary["late_ops_pct"]) > 0
    assert "behind schedule" in out or float(summary["late_ops_pct"]) < 10


def test_hyper_metrics_and_query_stats_for_a_local_run(cli, tmp_path):
    # hyperd writes resource-metrics once a second while it has work at that moment: keep the server busy
    path = write_scenario(
        tmp_path / "m.yaml",
        """\
name: metrics
workers: 2
seed: 3
phases:
  - name: busy
    workload: mix
    duration_s: 4
    preload_rows: 20000
    bulk_rows: [1000, 5000]
    operations: {bulk_insert: 1, join: 1, custom: 4}
    custom_sql: "SELECT COUNT(*) FROM {table} t, generate_series(1, 1000) g(i) WHERE t.id % 7 = i % 7"
""",
    )
    res = cli("run", path, "--results-dir", tmp_path / "results")
    assert res.code == 0, res.stderr
    run_dir = only_run_dir(tmp_path / "results")
    metrics = read(run_dir / "hyper_metrics.csv")
    assert metrics and all(float(r["process_memory_mib"]) > 0 for r in metrics)
    stats = {(r["phase"], r["statement"]): r for r in read(run_dir / "query_stats.csv")}
    assert int(stats[("busy", "SELECT")]["count"]) > 0
    assert ("busy", "COPY") in stats or ("busy", "INSERT") in stats  # the Inserter's bulk rows


def test_errors_are_counted_and_the_budget_decides(cli, tmp_path):
    text = """\
name: budget
workers: 1
seed: 5
phases:
  - name: flaky
    workload: mix
    iterations: 40
    preload_rows: 1000
    operations: {{select_limit: 1, custom: 1}}
    custom_sql: "SELECT 1 / (id - id) FROM {{table}} LIMIT 1"
    max_error_rate: {budget}
"""
    lenient = cli("run", write_scenario(tmp_path / "a.yaml", text.format(budget=0.9)), "--results-dir", tmp_path / "a")
    assert lenient.code == 0, lenient.stderr
    row = read(only_run_dir(tmp_path / "a") / "summary.csv")[0]
    errors = int(row["errors"])
    assert 0 < errors < 40 and int(row["ops"]) == 40 - errors
    custom = next(r for r in read(only_run_dir(tmp_path / "a") / "latency.csv") if r["operation"] == "custom")
    assert "division by zero" in custom["first_error"].lower()
    strict = cli("run", write_scenario(tmp_path / "b.yaml", text.format(budget=0.01)), "--results-dir", tmp_path / "b")
    assert strict.code == 1
    assert "error: phase flaky: error budget exceeded:" in strict.stderr and "division by zero" in strict.stderr.lower()
