import csv

import pytest

from loadgen import compare, thresholds
from loadgen.errors import ScenarioError
from loadgen.metrics import coefficient_of_variation_pct, median_row
from loadgen.results import SUMMARY_COLUMNS, write_csv


def test_threshold_parsing_and_evaluation():
    t = thresholds.parse("load.rows_per_s", ">= 5e6")
    assert (t.phase, t.metric, t.op, t.limit) == ("load", "rows_per_s", ">=", 5e6)
    outcome = thresholds.evaluate(
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
    from loadgen.scenario import load_scenario

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


def write_run(folder, run_id, rows_per_s, cv=""):
    folder.mkdir(parents=True)
    rows = [
        {"run_id": run_id, "phase": "load", "repetition": "median" if cv else 1, "status": "ok",
         "rows_per_s": rows_per_s, "p99_ms": 10.0, "rows_per_s_cv_pct": cv}
    ]  # fmt: skip
    write_csv(folder / "summary.csv", SUMMARY_COLUMNS, rows)
    return folder


def test_compare_reports_change_and_noise(tmp_path):
    a = write_run(tmp_path / "a", "run-a", 100.0, cv=5.0)
    b = write_run(tmp_path / "b", "run-b", 108.0, cv=3.0)
    c = write_run(tmp_path / "c", "run-c", 150.0, cv=3.0)
    ids, rows = compare.compare([str(a), str(b)])
    rate = next(r for r in rows if r["metric"] == "rows_per_s")
    assert ids == ["run-a", "run-b"]
    assert rate["change_pct"] == pytest.approx(8.0) and rate["noise"] == "noise"  # 8% < 2 × 5% CV
    _, rows = compare.compare([str(a), str(c)])
    assert next(r for r in rows if r["metric"] == "rows_per_s")["noise"] == ""
    text = compare.render_csv(*compare.compare([str(a), str(c)]))
    parsed = list(csv.reader(text.splitlines()))
    assert parsed[0] == ["phase", "metric", "run-a", "run-c", "change_pct", "noise"]
    assert ["load", "rows_per_s", "100", "150", "50.00", ""] in parsed
    assert "| load | rows_per_s | 100 | 150 | +50.0% |  |" in compare.render_markdown(
        *compare.compare([str(a), str(c)])
    )


def test_compare_without_repetitions_says_so(tmp_path):
    a = write_run(tmp_path / "a", "run-a", 100.0)
    b = write_run(tmp_path / "b", "run-b", 101.0)
    _, rows = compare.compare([str(a), str(b)])
    assert {r["noise"] for r in rows} == {"no repetitions"}


def test_compare_rejects_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(ScenarioError, match="not a run folder"):
        compare.compare([str(tmp_path / "nope"), str(tmp_path)])
