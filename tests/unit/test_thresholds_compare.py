import csv

import pytest

from loadgen.config import thresholds
from loadgen.errors import NotARunFolder, ScenarioError
from loadgen.report import compare as compare_text
from loadgen.results import compare
from loadgen.results import thresholds as measured
from loadgen.results.aggregate import coefficient_of_variation_pct, median_row
from loadgen.results.files import write_csv
from loadgen.results.tables import SUMMARY_COLUMNS


def test_threshold_parsing_and_evaluation():
    t = thresholds.parse("load.rows_per_s", ">= 5e6")
    assert (t.phase, t.metric, t.op, t.limit) == ("load", "rows_per_s", ">=", 5e6)
    outcome = measured.evaluate(
        [t, thresholds.parse("scan.p99_ms", "< 50"), thresholds.parse("gone.p50_ms", "<1")],
        {"load": {"rows_per_s": "6000000"}, "scan": {"p99_ms": "75.5"}},
    )
    assert [(x.text, value, passed) for x, value, passed in outcome] == [
        ("load.rows_per_s >= 5e+06", 6e6, True),
        ("scan.p99_ms < 50", 75.5, False),
        ("gone.p50_ms < 1", None, False),
    ]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("load.speed", ">= 1", "the key must be PHASE.METRIC with METRIC one of: wall_s"),
        ("load", ">= 1", "the key must be PHASE.METRIC"),
        ("load.p99_ms", "fast", "write an operator (>= <= > < ==) and a number"),
        ("load.p99_ms", "=> 3", "write an operator"),
    ],
)
def test_bad_thresholds_are_explained(key, value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        thresholds.parse(key, value)


def test_thresholds_are_validated_with_the_scenario(tmp_path):
    from loadgen.scenario.load import load_scenario

    path = tmp_path / "t.yaml"
    path.write_text(
        "name: t\nphases:\n  - {name: load, workload: insert, rows: 10}\nthresholds:\n"
        "  scan.p99_ms: '< 5'\n  load.rows_per_s: 'lots'\n"
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.problems == [
        f"{path}:5: thresholds.scan.p99_ms: no phase named 'scan'; phases: load",
        f"{path}:6: thresholds.load.rows_per_s: 'lots': write an operator (>= <= > < ==) and a number, e.g. \">= 5e6\"",
    ]


def test_median_row_has_min_max_and_cv():
    rows = [
        {"phase": "p", "repetition": i, "status": "ok", "verified": "ok", "rows_per_s": r, "wall_s": w}
        for i, (r, w) in enumerate([(100.0, 1.0), (120.0, 0.8), (80.0, 1.2)], start=1)
    ]
    out = median_row(rows)
    assert out["aggregate"] == "median" and out["repetition"] == ""
    assert out["rows_per_s"] == 100.0 and out["wall_s"] == 1.0
    assert (out["rows_per_s_min"], out["rows_per_s_max"]) == (80.0, 120.0)
    assert out["rows_per_s_cv_pct"] == pytest.approx(coefficient_of_variation_pct([100, 120, 80]))
    assert out["rows_per_s_cv_pct"] == pytest.approx(20.0)


def write_run(folder, run_id, rates, p99=10.0):
    """A run folder whose phase `load` has one measured row per rate (and a median row when several)."""
    folder.mkdir(parents=True)
    rows = [
        {
            "run_id": run_id,
            "phase": "load",
            "repetition": i,
            "status": "ok",
            "verified": "ok",
            "rows_per_s": rate,
            "p99_ms": p99 + i,
        }
        for i, rate in enumerate(rates, start=1)
    ]
    if len(rows) > 1:
        rows.append(median_row(rows))
    write_csv(folder / "summary.csv", SUMMARY_COLUMNS, rows)
    return folder


NOISY = [95.0, 103.0, 100.0, 106.0, 97.0]


def test_compare_judges_each_metric_by_its_spread_and_direction(tmp_path):
    a = write_run(tmp_path / "a", "run-a", NOISY)
    b = write_run(tmp_path / "b", "run-b", [v + 2 for v in NOISY])  # +2%: inside the spread
    c = write_run(tmp_path / "c", "run-c", [v * 1.5 for v in NOISY], p99=20.0)  # faster, but a worse p99
    cmp = compare.compare([str(a), str(b), str(c)])
    assert cmp.ids == ["run-a", "run-b", "run-c"] and cmp.baseline.run_id == "run-a"
    rate = next(r for r in cmp.rows if r["metric"] == "rows_per_s")
    assert [v.verdict for v in rate["judged"]] == ["within noise", "better"]
    assert rate["judged"][1].change_pct == pytest.approx(50.0)
    low, high = rate["judged"][1].interval
    assert 0 < low <= 50.0 <= high
    p99 = next(r for r in cmp.rows if r["metric"] == "p99_ms")
    assert p99["judged"][1].verdict == "worse"  # lower is better for a latency
    markdown = compare_text.render_markdown(cmp)
    assert "| phase | metric | baseline | B | C | B vs baseline | C vs baseline |" in markdown
    assert "| load | rows_per_s | 100.00 | 102.00 | 150.00 | within noise: 2.0 % higher, 95 % interval -" in markdown
    parsed = list(csv.reader(compare_text.render_csv(cmp).splitlines()))
    assert parsed[0][:6] == ["phase", "metric", "resource", "baseline", "baseline_value", "side"]
    assert [row[5] for row in parsed[1:3]] == ["run-b", "run-c"] and parsed[2][11] == "better"


def test_the_same_runs_always_get_the_same_verdict(tmp_path):
    a = write_run(tmp_path / "a", "run-a", NOISY)
    b = write_run(tmp_path / "b", "run-b", [v * 1.04 for v in NOISY])
    assert compare.compare([str(a), str(b)]) == compare.compare([str(a), str(b)])


def test_compare_rejects_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(NotARunFolder, match="not a run folder") as info:
        compare.compare([str(tmp_path / "nope"), str(tmp_path)])
    assert info.value.exit_code == 2
