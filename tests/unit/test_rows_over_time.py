"""Rows in the time series are counted where they were sent (a streamed COPY's batches, an Inserter's rows) or over
the time the operation ran (a staged COPY), not in the interval it ended: a long COPY draws a steady rate, not a
stall and then a burst."""

import time

import pytest

from loadgen.engine.protocol import Result
from loadgen.results import aggregate
from loadgen.results.recorder import Recorder, spread
from loadgen.scenario.model import Scenario

SECOND = 1_000_000_000


def test_rows_are_spread_in_proportion_to_the_time_in_each_interval():
    # 0.5 s … 3.5 s: half an interval, two whole ones, half an interval
    shares = spread(1_000_000, SECOND // 2, 3 * SECOND + SECOND // 2, SECOND)
    assert shares == {0: 166_666, 1: 333_334, 2: 333_333, 3: 166_667}  # whole rows, cut where the sum crosses
    assert sum(spread(999_983, 123_456_789, 7 * SECOND + 5, SECOND // 10).values()) == 999_983


def test_an_operation_inside_one_interval_keeps_its_rows_there():
    assert spread(500, SECOND + 10, SECOND + 900_000_000, SECOND) == {1: 500}
    assert spread(0, 0, 5 * SECOND, SECOND) == {}


def test_rows_before_an_interval_already_sent_go_to_the_first_one_still_open():
    assert spread(1_000, 0, 4 * SECOND, SECOND, first=2) == {2: 750, 3: 250}


def long_copy(rows: int, seconds: float, ended_at_s: float, interval_ns: int = SECOND) -> Recorder:
    """A recorder whose one operation, a COPY of `rows` that took `seconds`, ended `ended_at_s` after the release."""
    recorder = Recorder(origin_ns=time.perf_counter_ns() - int(ended_at_s * SECOND), bucket_ns=interval_ns)
    recorder.start_ns = recorder.origin_ns
    recorder.record("copy", int(seconds * SECOND), rows)
    recorder.end_ns = time.perf_counter_ns()
    return recorder


def test_a_copy_over_several_intervals_counts_rows_in_each_and_the_operation_once():
    measurement = long_copy(1_000_000, seconds=3.0, ended_at_s=3.5).measurement()
    copies = {index: bucket["ops"]["copy"] for index, bucket in measurement.timeseries.items()}
    assert sorted(copies) == [0, 1, 2, 3]
    assert sum(c["rows"] for c in copies.values()) == 1_000_000 == measurement.rows
    assert all(c["rows"] > 0 for c in copies.values())
    assert copies[1]["rows"] == pytest.approx(333_333, rel=0.01)  # a whole second of the three
    assert [c["ops"] for _, c in sorted(copies.items())] == [0, 0, 0, 1]  # the operation ends in its last second


def test_every_interval_is_sent_once_with_the_rows_it_got():
    sent = {}
    recorder = Recorder(origin_ns=time.perf_counter_ns() - int(2.5 * SECOND), bucket_ns=SECOND)
    recorder.on_interval = lambda index, bucket: sent.setdefault(index, []).append(bucket)
    recorder.record("copy", 2 * SECOND, 900)  # 0.5 s … 2.5 s
    assert sorted(sent) == [0, 1] and all(len(b) == 1 for b in sent.values())
    before = sent[0][0]["ops"]["copy"]["rows"] + sent[1][0]["ops"]["copy"]["rows"]
    assert before == pytest.approx(675, abs=10)  # the 1.5 s of its 2 s before the current interval (22 ms slack)


def test_rows_handed_over_while_a_statement_ran_count_where_they_were_sent():
    sent = {}
    recorder = Recorder(origin_ns=time.perf_counter_ns(), bucket_ns=SECOND, error_budget=1.0)
    recorder.on_interval = lambda index, bucket: sent.setdefault(index, bucket["ops"])
    for _ in range(2):  # an Inserter's load: rows added in two intervals, committed in a third
        recorder.sending(100)
        recorder.record("add_rows", 1_000_000)
        recorder.origin_ns -= SECOND  # the clock moves on one interval
    assert sent == {}  # intervals with rows sent but not committed yet stay open
    recorder.record("execute", 5_000_000, 200)
    assert [sent[i]["execute"]["rows"] for i in (0, 1)] == [100, 100]
    assert [sent[i]["execute"]["ops"] for i in (0, 1)] == [0, 0]
    assert [sent[i]["add_rows"]["ops"] for i in (0, 1)] == [1, 1]
    last = recorder.measurement().timeseries[2]["ops"]["execute"]
    assert (last["ops"], last["rows"]) == (1, 0)  # the commit itself, in the interval it ended in


def test_rows_sent_to_a_statement_that_failed_are_not_counted():
    recorder = Recorder(origin_ns=time.perf_counter_ns(), bucket_ns=SECOND, error_budget=1.0)
    recorder.sending(100)
    recorder.error("copy", "connection lost")
    recorder.record("copy", 1_000_000, 40)
    buckets = recorder.measurement().timeseries
    assert sum(b["ops"]["copy"]["rows"] for b in buckets.values()) == 40 == recorder.rows


def scenario(interval_s: float) -> Scenario:
    return Scenario.model_validate(
        {"name": "t", "workers": 1, "sampling": {"timeseries_interval_s": interval_s},
         "phases": [{"name": "load", "workload": "insert", "rows": 1_000_000}]}
    )  # fmt: skip


def test_the_time_series_of_a_long_copy_has_no_stall_then_burst():
    recorder = long_copy(1_000_000, seconds=2.0, ended_at_s=2.0, interval_ns=SECOND // 10)
    result = Result(0, "load", 100, recorder.measurement(), {"verified": "ok"})
    config = scenario(0.1)
    outcome = aggregate.aggregate_phase("r", config, config.phases[0], [result], recorder.origin_ns, [], "ok")
    rates = [row["rows_per_s"] for row in outcome.timeseries]
    assert len(rates) >= 19 and all(rate > 0 for rate in rates), rates
    assert max(rates) < 2 * outcome.summary["rows_per_s"]  # no burst: every interval near the phase's own rate
    covered = [b["t_s"] - a["t_s"] for a, b in zip(outcome.timeseries, outcome.timeseries[1:], strict=False)]
    covered.append(outcome.summary["wall_s"] - sum(covered))
    assert sum(r * c for r, c in zip(rates, covered, strict=True)) == pytest.approx(1_000_000, rel=1e-6)
