"""End to end through the CLI with a real hyperd from the wheel, at tiny sizes."""

import csv
import json

import yaml

from loadgen.results import tables as run_tables
from tests.conftest import ROOT, only_run_dir, write_scenario


def read_csv(path):
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


def test_parallel_insert_end_to_end(cli, tmp_path):
    res = cli("run", ROOT / "scenarios" / "parallel_insert.yaml", "--results-dir", tmp_path / "results",
              "--set", "insert_arrow.rows=2000000", "--set", "insert_arrow.rows_per_copy=350000",
              "--set", "insert_rows.rows=80000", "--set", "sampling.interval_ms=20")  # fmt: skip
    assert res.code == 0, res.stderr
    run_dir = only_run_dir(tmp_path / "results")
    assert run_dir.parent.name == "parallel_insert"
    for name in ("summary.csv", "workers.csv", "latency.csv", "samples.csv", "scenario.yaml",
                 "environment.json", "run.json"):  # fmt: skip
        assert (run_dir / name).is_file(), name
    assert "insert_arrow" in res.stdout and "Rows/s" in res.stdout and "MiB/s" in res.stdout

    columns, summary = read_csv(run_dir / "summary.csv")
    assert columns == run_tables.SUMMARY_COLUMNS
    assert [r["phase"] for r in summary] == ["insert_arrow", "insert_rows"]
    assert [r["method"] for r in summary] == ["arrow", "rows"]
    assert all(r["status"] == "ok" and r["verified"] == "ok" for r in summary)
    assert [int(r["rows"]) for r in summary] == [2000000, 80000]
    assert all(float(r["rows_per_s"]) > 0 and float(r["wall_s"]) > 0 for r in summary)
    assert len({r["run_id"] for r in summary}) == 1

    columns, workers = read_csv(run_dir / "workers.csv")
    assert columns == run_tables.WORKER_COLUMNS
    assert sorted((r["phase"], int(r["worker"])) for r in workers) == sorted(
        (p, w) for p in ("insert_arrow", "insert_rows") for w in range(4)
    )
    assert all(r["verified"] == "ok" and r["expected_rows"] == r["counted_rows"] for r in workers)
    arrow_ops = [int(r["ops"]) for r in workers if r["phase"] == "insert_arrow"]
    assert arrow_ops == [2] * 4  # 500,000 rows per worker in COPYs of at most 350,000

    columns, latency = read_csv(run_dir / "latency.csv")
    assert columns == run_tables.LATENCY_COLUMNS
    copy = next(r for r in latency if r["phase"] == "insert_arrow" and r["operation"] == "copy")
    assert int(copy["count"]) == 8

    columns, samples = read_csv(run_dir / "samples.csv")
    assert columns == run_tables.SAMPLE_COLUMNS
    # each phase lasts several 20 ms sampling intervals (2M arrow rows ~0.25 s, 80,000 API rows ~0.17 s, quiet)
    seen = {(r["phase"], r["process"]) for r in samples}
    for phase in ("insert_arrow", "insert_rows"):
        for process in ("hyperd", "coordinator", "host", *(f"worker-{w}" for w in range(4))):
            assert (phase, process) in seen, (phase, process)
    hyperd_rss = [float(r["rss_mib"]) for r in samples if r["process"] == "hyperd"]
    assert max(hyperd_rss) > 10

    env = json.loads((run_dir / "environment.json").read_text())
    assert env["hyperd_version"].startswith("Hyper") and env["cpu_logical"] >= 1
    status = json.loads((run_dir / "run.json").read_text())
    assert status["status"] == "ok" and status["exit_code"] == 0
    resolved = yaml.safe_load((run_dir / "scenario.yaml").read_text())
    assert resolved["phases"][0]["rows"] == 2000000
    assert list((run_dir / "hyperd").glob("hyperd*.log"))


def test_per_worker_databases_over_tcp_with_arrow_stream(cli, tmp_path):
    path = write_scenario(
        tmp_path / "s.yaml",
        """\
name: tcp_stream
workers: 2
rows: 20001
server: {transport: tcp, database: per_worker}
phases:
  - {name: stream, workload: insert, method: arrow_stream, rows_per_copy: 4000, batch_rows: 1000}
  - {name: scan, workload: query, shape: aggregation, method: arrow_stream, iterations: 3}
""",
    )
    res = cli("run", path, "--results-dir", tmp_path / "results")
    assert res.code == 0, res.stderr
    _, summary = read_csv(only_run_dir(tmp_path / "results") / "summary.csv")
    assert [(r["phase"], r["verified"], r["rows"]) for r in summary] == [
        ("stream", "ok", "20000"),  # the remainder row of 20001 over 2 workers is not written (seed split)
        ("scan", "ok", "60"),  # 3 queries × 10 groups × 2 workers
    ]
