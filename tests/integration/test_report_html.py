"""`loadgen report` writes a self-contained interactive report; headless Chromium opens it and every chart draws
the points the run's CSVs hold, with no JavaScript error. Real runs, real hyperd, real browser."""

import csv
import json
import re

import pytest

from loadgen.report.browser import chromium_path, open_report
from loadgen.results import compare
from loadgen.results import files as results
from tests.conftest import only_run_dir, write_scenario

SCENARIO = """\
name: reported
workers: 2
rows: 200000
sampling: {interval_ms: 50}
phases:
  - {name: load, workload: insert, method: arrow, rows_per_copy: 50000}
  - {name: scan, workload: query, shape: filtered, method: arrow, duration_s: 1.5}
  - name: mix
    workload: mix
    duration_s: 2
    warmup_s: 0.6
    preload_rows: 0
    max_error_rate: 1
    custom_sql: "SELECT * FROM no_such_table_here"
    operations: {select_limit: 3, aggregate: 1, custom: 1}
"""

# after the page is drawn: what the tests look at in the live page
PAGE_FACTS = """(() => {
  const shapes = id => document.getElementById(id).layout.shapes
    .filter(s => s.xref === "x").map(s => ({x0: s.x0, x1: s.x1, warmup: s.fillcolor === "#999999"}));
  const header = [...document.querySelectorAll("#statistics th")].find(th => th.textContent === "count");
  header.click();
  const counts = [...document.querySelectorAll("#statistics tbody tr")].map(r => Number(r.cells[2].dataset.v));
  const labels = [...document.querySelectorAll("#chart-throughput .annotation")].map(a => {
    const r = a.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom];
  });
  return {shapes: shapes("chart-throughput"), counts: counts, labels: labels,
          names: Object.fromEntries([...document.querySelectorAll(".js-plotly-plot")].map(
            gd => [gd.id, gd.data.map(t => t.name)]))};
})()"""


def read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def expected_points(run_dir) -> dict:
    """What each chart must draw, counted straight from the CSVs."""
    series, latency = read(run_dir / "timeseries.csv"), read(run_dir / "latency.csv")
    samples, workers = read(run_dir / "samples.csv"), read(run_dir / "workers.csv")
    phases = {r["phase"] for r in series}

    def per_phase(column, nonzero_only):
        total = 0
        for phase in phases:
            values = [float(r[column]) for r in series if r["phase"] == phase]
            if any(values):
                total += sum(1 for v in values if v or not nonzero_only)
        return total

    def sessions_points():
        gauged = {r["phase"] for r in series if r["active_sessions"] and float(r["active_sessions"])}
        return sum(1 for r in series if r["phase"] in gauged)

    def per_operation(column):  # op_timeseries.csv: a point per interval in which the operation ran
        return sum(1 for r in read(run_dir / "op_timeseries.csv") if float(r[column]))

    def distinct(which):
        return len({round(float(s["t_s"]), 3) for s in samples if which(s["process"])})

    working = [w for w in workers if int(w["ops"])]
    return {
        "chart-throughput": per_phase("ops_per_s", False)
        + per_phase("rows_per_s", False)
        + 2 * sessions_points(),  # the active sessions panel: active and target, for phases with sessions
        "chart-latency_over_time": per_operation("p50_ms") + per_operation("p99_ms"),
        "chart-latency": 7 * sum(1 for r in latency if int(r["count"]) and not r["operation"].endswith(":warmup")),
        "chart-resources": 2 * (distinct(lambda p: p == "hyperd") + distinct(lambda p: p.startswith("worker-"))),
        "chart-errors": sum(1 for r in series if int(r["errors"])),
        # rows/s only for workers that wrote or read rows; operations/s and p99 for every worker that worked
        "chart-workers": sum(1 for w in working if int(w["rows"])) + 2 * len(working),
    }


@pytest.fixture(scope="module")
def chromium():
    path = chromium_path()
    assert path, "the HTML report tests need Chromium: apt-get install chromium (make test installs it)"
    return path


def test_report_draws_every_chart_with_the_runs_data_in_chromium(cli, tmp_path, chromium):
    path = write_scenario(tmp_path / "r.yaml", SCENARIO)
    assert cli("run", path, "--results-dir", tmp_path / "results").code == 0
    run_dir = only_run_dir(tmp_path / "results")
    res = cli("report", run_dir)
    assert res.code == 0, res.stderr
    report = run_dir / "report.html"
    assert res.stdout.strip() == f"report: {report}"

    text = report.read_text()
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=|<link[^>]*\shref=", text)  # nothing to fetch
    assert len(re.findall(r"plotly\.js v\d", text)) == 1  # plotly.js embedded once
    assert report.stat().st_size < 5_000_000
    # no raw floats like 21757853.730113 in any cell: a decimal shown has at most 4 significant digits
    shown = re.findall(r">-?(\d+\.\d+)<", text)
    assert all(len(d.replace(".", "").lstrip("0")) <= 4 for d in shown), [d for d in shown if len(d) > 6]

    expected = expected_points(run_dir)
    for chart in expected:
        assert (run_dir / "charts" / f"{chart.removeprefix('chart-')}.png").stat().st_size > 5000

    opened = open_report(report, tmp_path / "shot.png", evaluate=PAGE_FACTS, pdf=tmp_path / "report.pdf")
    assert opened["problems"] == []  # no console error, exception or failed load
    # self-contained: the page loaded nothing but itself (and data: URIs, e.g. plotly.js probing WebP support)
    assert [url for url in opened["requests"] if not url.startswith("data:")] == [report.as_uri()]
    drawn = opened["render"]["charts"]
    assert {name: c["points"] for name, c in drawn.items()} == expected
    assert all(c["drawn"] > 0 for c in drawn.values()), drawn
    assert (tmp_path / "shot.png").stat().st_size > 50000
    printed = (tmp_path / "report.pdf").read_bytes()  # it prints: landscape pages with the charts on them
    assert printed.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b(?!s)", printed)) >= 3
    facts = opened["evaluated"]

    # the statistics table sorts: one click on "count" orders every phase × operation row by it
    latency = read(run_dir / "latency.csv")
    assert facts["counts"] == sorted(int(r["count"]) for r in latency)
    # phase labels above the chart do not overlap, even for the short phases
    boxes = facts["labels"]
    assert len(boxes) == 3
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)

    # phase bands are the measured windows; the mix phase's warmup is shaded on its own, before its window
    status = json.loads((run_dir / "run.json").read_text())
    t0 = results.parse_utc(status["started_utc"])
    summary, workers = read(run_dir / "summary.csv"), read(run_dir / "workers.csv")
    windows = []
    for row in summary:
        release = results.parse_utc(row["started_utc"]) - t0
        mine = [w for w in workers if w["phase"] == row["phase"]]
        first = min(float(w["start_offset_ms"]) / 1000 for w in mine)
        windows.append((row["phase"], release, release + first, release + first + float(row["wall_s"])))
    shapes = facts["shapes"]
    phase_bands = [x for s in shapes if not s["warmup"] for x in (s["x0"], s["x1"])]
    assert phase_bands == pytest.approx([x for w in windows for x in w[2:]], abs=0.01)
    [(phase, release, start, _)] = [w for w in windows if w[0] == "mix"]
    assert [x for s in shapes if s["warmup"] for x in (s["x0"], s["x1"])] == pytest.approx([release, start], abs=0.01)
    assert start - release >= 0.6

    # timeseries.csv: each interval's rates are per measured second, so they add up to the phase's rows exactly
    series = read(run_dir / "timeseries.csv")
    for phase, release, start, end in windows:
        rows = [r for r in series if r["phase"] == phase]
        bounds = [release + float(r["t_s"]) for r in rows[1:]] + [end]
        covered = [hi - max(release + float(r["t_s"]), start) for r, hi in zip(rows, bounds, strict=True)]
        total = next(float(s["rows"]) for s in summary if s["phase"] == phase)
        assert sum(float(r["rows_per_s"]) * c for r, c in zip(rows, covered, strict=True)) == pytest.approx(
            total, rel=0.01
        ), phase

    # the failed custom operations: counted over time and listed with their message
    assert expected["chart-errors"] > 0
    assert "no_such_table_here" in text


NAME = "compared_hyperd_releases_on_the_canonical_seed_workload"  # long, as real names are: wide headers


def test_report_of_several_runs_overlays_them_and_shows_the_change(cli, tmp_path, chromium):
    path = write_scenario(
        tmp_path / "c.yaml",
        f"name: {NAME}\n"
        """\
workers: 2
rows: 100000
phases:
  - {name: load, workload: insert, method: arrow, rows_per_copy: 25000}
  - {name: scan, workload: query, shape: aggregation, method: rows, iterations: 20}
""",
    )
    for workers in (1, 2):
        assert cli("run", path, "--set", f"workers={workers}", "--results-dir", tmp_path / "results").code == 0
    run_a, run_b = sorted((tmp_path / "results" / NAME).iterdir())
    res = cli("report", run_a, run_b)
    assert res.code == 0, res.stderr
    report = run_a / "compare.html"
    assert res.stdout.strip() == f"report: {report}"
    cmp = compare.compare([str(run_a), str(run_b)])

    opened = open_report(report, evaluate=PAGE_COMPARE, width=1400)
    assert opened["problems"] == []
    drawn = opened["render"]["charts"]
    assert set(drawn) == {"chart-overlay_0", "chart-overlay_1", "chart-overlay_latency", "chart-overlay_metrics"}
    assert all(c["points"] == c["expected"] and c["points"] > 0 and c["drawn"] > 0 for c in drawn.values()), drawn
    facts = opened["evaluated"]
    for chart in ("chart-overlay_0", "chart-overlay_latency"):  # each run's series, on the same chart
        assert {name.split(" · ")[0] for name in facts["names"][chart]} == {run_a.name, run_b.name}
    # one row per phase and metric of `loadgen compare`, its verdict in words, then the values in one format
    assert len(facts["change"]) == len(cmp.rows)
    for shown, row in zip(facts["change"], cmp.rows, strict=True):
        assert shown[:2] == [row["phase"], row["metric"]]
        verdict = row["judged"][0]
        tagged = row["resource"] and verdict.verdict != "resource"
        assert shown[2] == verdict.words() + (" (resource)" if tagged else "")
        assert shown[3:] == [f"{v:,.2f}" for v in row["values"]]
    assert {r["judged"][0].verdict for r in cmp.rows} <= {"too few repetitions to judge (need 5: --set repeat=5)",
                                                          "large change, unjudged", "resource",
                                                          "not measured on both sides"}  # fmt: skip
    # the verdict column is on screen at 1,400 px, whole, on every row
    assert facts["width"] == 1400 and facts["verdict_right"] <= facts["width"], facts
    # the sides named: the baseline, each run's hyperd version and status
    version = compare.short_version(cmp.baseline.hyperd_version)
    assert version.startswith("0.0.")
    assert facts["legend"][0] == f"baseline: {NAME}-{run_a.name} · hyperd {version} · ok"
    assert facts["legend"][1] == f"B: {NAME}-{run_b.name} · hyperd {version} · ok"


PAGE_COMPARE = """(() => ({
  names: Object.fromEntries([...document.querySelectorAll(".js-plotly-plot")].map(
    gd => [gd.id, gd.data.map(t => t.name)])),
  change: [...document.querySelectorAll("#compare tbody tr")].map(r => [...r.cells].map(c => c.textContent)),
  width: document.documentElement.clientWidth,
  verdict_right: Math.max(...[...document.querySelectorAll("#compare tbody tr")].map(
    r => r.cells[2].getBoundingClientRect().right)),
  legend: [...document.querySelectorAll("p.meta")].map(p => p.textContent).filter(t => /^(baseline|[B-Z]): /.test(t)),
}))()"""


def test_report_of_a_repeated_matrix_run_draws_every_metric_across_points_and_the_spread(cli, tmp_path, chromium):
    path = write_scenario(
        tmp_path / "m.yaml",
        """\
name: swept
rows: 200000
repeat: 2
sampling: {interval_ms: 10}  # CPU figures need two samples inside the phase (the first began before it)
matrix:
  workers: [1, 2]
phases:
  - {name: load, workload: insert, method: arrow, rows_per_copy: 10000}
""",
    )
    assert cli("run", path, "--results-dir", tmp_path / "results").code == 0
    run_dir = only_run_dir(tmp_path / "results")
    assert cli("report", run_dir).code == 0
    summary = read(run_dir / "summary.csv")
    medians = [r for r in summary if r["aggregate"]]
    singles = [r for r in summary if not r["aggregate"]]
    assert len(medians) == 2 and len(singles) == 4

    def present(rows, column):
        values = [float(r[column]) for r in rows if r[column] != ""]
        return len(values) if any(values) else 0

    matrix_columns = ("rows_per_s", "mib_per_s", "ops_per_s", "p50_ms", "p99_ms", "parallelism",
                      "hyperd_cpu_pct_mean", "hyperd_rss_mib_peak", "workers_cpu_pct_mean")  # fmt: skip
    repeat_columns = ("rows_per_s", "ops_per_s", "p99_ms")
    opened = open_report(run_dir / "report.html")
    assert opened["problems"] == []
    drawn = opened["render"]["charts"]
    # every metric at every point (the median rows); every repetition and the median
    assert drawn["chart-matrix"]["points"] == sum(present(medians, c) for c in matrix_columns) > 2 * 6
    repeat_points = sum(present(singles, c) + present(medians, c) for c in repeat_columns if present(summary, c))
    assert drawn["chart-repeats"]["points"] == repeat_points == 3 * 6
    assert all(c["points"] == c["expected"] and c["drawn"] > 0 for c in drawn.values()), drawn
    assert (run_dir / "charts" / "matrix.png").stat().st_size > 5000


def test_report_of_a_folder_that_is_not_a_run(cli, tmp_path):
    res = cli("report", tmp_path)
    assert res.code == 2
    assert res.stderr.strip() == f"error: {tmp_path}: not a run folder (no summary.csv)"
