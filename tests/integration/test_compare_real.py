"""compare on real runs: an A/A run (the same hyperd as both matrix points, interleaved, 5 repetitions each) is judged
with an interval on every headline metric and says which point is faster per phase; a planted slowdown (a worker
that sleeps in its timed phase) is called `worse`. Small on purpose: the false-call rate over many comparisons is
measured by the judge's own tests and by `make bench` (benchmarks/bench_compare.py)."""

import csv
import io

from tests.conftest import only_run_dir, write_scenario

QUERY = "  - {name: scan, workload: query, shape: aggregation, method: rows, iterations: 20}\n"


def test_an_a_a_run_is_judged_on_every_headline_metric_and_says_which_point_is_faster(cli, tmp_path):
    path = write_scenario(
        tmp_path / "aa.yaml",
        "name: aa\nworkers: 2\nrows: 20000\nrepeat: 5\nmatrix:\n  server.hyperd: [{}, {}]\n"
        "phases:\n  - {name: load, workload: insert, method: arrow}\n" + QUERY,
    )
    res = cli("run", path, "--results-dir", tmp_path / "results", timeout=600)
    assert res.code == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    start = lines.index("compared with server.hyperd={}:")
    said = lines[start + 1 : start + 3]
    assert [line.split(" (")[0].strip() for line in said] == ["load", "scan"], lines[start:]
    assert all(" 95 % interval " in line for line in said), said
    out = cli("compare", only_run_dir(tmp_path / "results"), "--format", "csv")
    assert out.code == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    headline = [r for r in rows if r["metric"] in ("rows_per_s", "ops_per_s", "p50_ms", "p99_ms")]
    assert len(headline) == 8 and all(r["ci_low_pct"] and r["ci_high_pct"] for r in headline), rows
    assert {r["verdict"] for r in headline} <= {"within noise", "better", "worse"}
    # CPU, RSS, parallelism: shown, not judged (a phase shorter than the sampling interval has no CPU value to judge)
    resources = {r["verdict"] for r in rows if r["resource"]}
    assert "resource" in resources and resources <= {
        "resource",
        "too few repetitions to judge (need 5: --set repeat=5)",
    }


def test_a_planted_slowdown_is_called_worse(cli, tmp_path):
    text = "name: planted\nworkers: 2\nrows: 20000\nrepeat: 5\nphases:\n  - {name: load, workload: insert}\n" + QUERY
    path = write_scenario(tmp_path / "planted.yaml", text)
    base = cli("run", path, "--results-dir", tmp_path / "a", timeout=300)
    # worker 0 sleeps 1 s at the start of every repetition's timed phase: the phase's wall grows by about 1 s
    slow = cli("run", path, "--results-dir", tmp_path / "b", env={"LOADGEN_FAULT": "0:scan:run:sleep1"}, timeout=300)
    assert base.code == 0 and slow.code == 0, base.stderr + slow.stderr
    a, b = only_run_dir(tmp_path / "a"), only_run_dir(tmp_path / "b")
    out = cli("compare", a, b, "--format", "csv")
    assert out.code == 0, out.stderr
    verdicts = {r["metric"]: r["verdict"] for r in csv.DictReader(io.StringIO(out.stdout))}
    assert verdicts["ops_per_s"] == verdicts["wall_s"] == "worse", verdicts
    said = cli("compare", a, b, "--format", "markdown").stdout
    line = next(x for x in said.splitlines() if x.startswith("- scan ("))
    assert f"): planted-{b.name} is " in line and f"% slower than planted-{a.name}, 95 % interval " in line, line
