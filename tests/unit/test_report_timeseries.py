"""timeseries.csv rates are per second of measured time inside each interval, not per whole interval."""

import pytest

from loadgen.engine.protocol import Result
from loadgen.results import aggregate, counts, timeseries
from loadgen.results.recorder import Measurement
from loadgen.scenario.model import Scenario

S = 1_000_000_000


def message(worker, start_s, end_s, buckets, release_s=0.0):
    """A worker's result: measured from start_s to end_s; buckets {index: (ops, rows)} from the release."""
    series = {}
    for index, (ops, rows) in buckets.items():
        op = counts.Counts(counts.BUCKET_DIGITS)
        for n in range(ops):
            op.record(1000, rows if n == 0 else 0)  # 1 ms each; the bucket's rows on its first operation
        series[index] = {"ops": {"op": op.encode()}}
    measured = Measurement(int((release_s + start_s) * S), int((release_s + end_s) * S),
                           sum(rows for _, rows in buckets.values()), {}, series)  # fmt: skip
    return Result(worker, "p", 100 + worker, measured, {"verified": "ok"})


def rows(messages, release_s=0.0, interval_s=1.0):
    measurements = [m.measurement for m in messages]
    return timeseries.timeseries_rows("run", "p", 1, measurements, interval_s, int(release_s * S))


def test_a_phase_shorter_than_an_interval_is_drawn_at_its_real_rate():
    # a 0.3 s scan of 6.5M rows: 21.8M rows/s, which a whole-second bucket would show as 6.5M rows/s
    [row] = rows([message(0, 0.01, 0.31, {0: (3, 6_527_356)}, release_s=100.0)], release_s=100.0)
    assert row["rows_per_s"] == pytest.approx(6_527_356 / 0.3)
    assert row["ops_per_s"] == pytest.approx(10)
    assert row["t_s"] == 0 and row["interval_s"] == 1.0


def test_the_last_partial_interval_is_no_collapse_and_a_sliver_joins_its_neighbour():
    # two workers at a steady 1000 rows/s together, measured from 0.005 s to 3.605 s after the release
    first = message(0, 0.005, 3.605, {0: (1, 497), 1: (1, 500), 2: (1, 500), 3: (1, 302)})
    second = message(1, 0.010, 3.600, {0: (1, 498), 1: (1, 500), 2: (1, 500), 3: (1, 303)})
    series = rows([first, second])
    assert [r["t_s"] for r in series] == [0, 1, 2, 3]
    for r in series:
        assert r["rows_per_s"] == pytest.approx(1000, rel=1e-9), r  # the last 0.605 s is not drawn at 605/s
    # the same phase ending 0.2 s into its last interval: that sliver is merged into the interval before
    first = message(0, 0.005, 3.205, {0: (1, 497), 1: (1, 500), 2: (1, 500), 3: (1, 102)})
    second = message(1, 0.010, 3.200, {0: (1, 498), 1: (1, 500), 2: (1, 500), 3: (1, 103)})
    series = rows([first, second])
    assert [r["t_s"] for r in series] == [0, 1, 2]
    assert [r["ops"] for r in series] == [2, 2, 4]
    assert all(r["rows_per_s"] == pytest.approx(1000, rel=1e-9) for r in series)


def test_warmup_before_the_measured_window_is_not_measured_time():
    # 2.3 s of warmup after the release: measured 2.3 … 5.3 s; bucket 2 covers 0.7 s, bucket 5 (0.3 s) joins 4
    series = rows([message(0, 2.3, 5.3, {2: (7, 700), 3: (10, 1000), 4: (10, 1000), 5: (3, 300)})])
    assert [r["t_s"] for r in series] == [2, 3, 4]
    assert [r["ops_per_s"] for r in series] == pytest.approx([10, 10, 10])
    assert [r["rows_per_s"] for r in series] == pytest.approx([1000, 1000, 1000])


def test_intervals_without_completed_operations_inside_the_window_are_rows_with_zero():
    series = rows([message(0, 0.0, 3.9, {3: (1, 50)})])  # one long operation that ended at 3.9 s
    assert [(r["t_s"], r["ops"]) for r in series] == [(0, 0), (1, 0), (2, 0), (3, 1)]


def test_the_rows_of_a_phase_add_up_to_its_summary():
    scenario = Scenario.model_validate(
        {"name": "t", "workers": 2, "phases": [{"name": "scan", "workload": "query", "iterations": 3}]}
    )
    release = 50.0
    messages = [
        message(0, 0.002, 2.41, {0: (4, 4000), 1: (5, 5000), 2: (1, 900)}, release_s=release),
        message(1, 0.004, 2.38, {0: (3, 3500), 1: (5, 5100), 2: (1, 400)}, release_s=release),
    ]
    out = aggregate.aggregate_phase("run", scenario, scenario.phases[0], messages, int(release * S), [], "ok")
    summary, series = out.summary, out.timeseries
    bounds = [r["t_s"] for r in series][1:] + [summary["wall_s"] + 0.002]  # each row covers up to the next one
    covered = [min(b, summary["wall_s"] + 0.002) - max(r["t_s"], 0.002) for r, b in zip(series, bounds, strict=True)]
    assert sum(covered) == pytest.approx(summary["wall_s"])
    assert sum(r["rows_per_s"] * c for r, c in zip(series, covered, strict=True)) == pytest.approx(summary["rows"])
    assert sum(r["ops"] for r in series) == 19
