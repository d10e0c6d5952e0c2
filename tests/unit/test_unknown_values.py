"""What loadgen does not know is an empty cell, not a 0: the MiB/s of rows with no known width, the target rate of a
phase without one, the CPU of a phase shorter than one sampling interval. And a query that returned nothing says so."""

import time
from types import SimpleNamespace

from loadgen.engine.protocol import Result
from loadgen.results import aggregate, timeseries
from loadgen.results.recorder import Recorder
from loadgen.results.samples import Sample, sample_stats
from loadgen.scenario.model import Scenario
from loadgen.workloads.query.workload import QueryWorkload


def scenario(phase: dict) -> Scenario:
    return Scenario.model_validate({"name": "t", "workers": 1, "phases": [{"name": "q", **phase}]})


def outcome_of(phase: dict, rows: int):
    config = scenario(phase)
    recorder = Recorder()
    recorder.start_ns = time.perf_counter_ns()
    recorder.record("query", 2_000_000, rows)
    recorder.end_ns = recorder.start_ns + 1_000_000_000
    result = Result(0, "q", 100, recorder.measurement(), {"verified": "unchecked"})
    return aggregate.aggregate_phase("r", config, config.phases[0], [result], recorder.start_ns, [], "ok")


def test_the_mib_per_s_of_your_own_sql_is_empty():
    outcome = outcome_of({"workload": "query", "sql": "SELECT * FROM {table}"}, rows=1_000)
    assert outcome.summary["rows_per_s"] > 0
    assert outcome.summary["mib_per_s"] is None and outcome.summary["nominal_mib"] is None
    assert outcome.workers[0]["mib_per_s"] is None


def test_a_query_shape_keeps_its_nominal_mib_per_s():
    outcome = outcome_of({"workload": "query", "shape": "full_scan"}, rows=1_000)
    assert outcome.summary["mib_per_s"] > 0 and outcome.workers[0]["mib_per_s"] > 0


def test_the_target_rate_of_a_closed_loop_interval_is_empty_and_an_open_loop_one_a_number():
    closed, ramp = Recorder(), Recorder()
    for _ in range(3):
        closed.gauge(4, 4, None)
        ramp.gauge(4, 4, 0.0)  # a rate stage ramping down to 0: a target of 0, not no target
    closed.record("select_limit", 1_000_000)
    rows = {
        name: timeseries.timeseries_rows("r", "q", 1, [rec.measurement()], 1.0)
        for name, rec in (("closed", closed), ("ramp", ramp))
    }
    assert [r["target_rate_per_s"] for r in rows["closed"]] == [None]
    assert [r["target_rate_per_s"] for r in rows["ramp"]] == [0.0]
    assert rows["closed"][0]["active_sessions"] == 4 and rows["closed"][0]["target_sessions"] == 4


def test_a_phase_shorter_than_a_sampling_interval_has_no_cpu_figure():
    # each process sampled once during the phase: that sample's CPU covers the 100 ms before it, mostly setup
    samples = [Sample(5, "q", "hyperd", 9, 180.0, 300.0), Sample(5, "q", "worker-0", 100, 95.0, 80.0)]
    stats = sample_stats(samples, "q")
    assert stats["hyperd_cpu_pct_mean"] == "" and stats["workers_cpu_pct_mean"] == ""
    assert stats["hyperd_rss_mib_peak"] == 300.0 and stats["workers_rss_mib_peak"] == 80.0


def test_a_longer_phase_leaves_out_only_the_sample_that_began_before_it():
    samples = [Sample(t, "q", "hyperd", 9, cpu, 300.0) for t, cpu in ((3, 50.0), (1, 999.0), (2, 150.0))]
    samples.append(Sample(1, "q", "hyperd", 9, 999.0, 300.0, node="other-host"))  # another node's own process
    assert sample_stats(samples, "q")["hyperd_cpu_pct_mean"] == 100.0


def phase_outcome(ops: int, rows: int):
    return SimpleNamespace(summary={"ops": ops, "rows": rows}, reports=[None])  # a worker that reported nothing


def test_a_query_phase_that_returned_no_rows_gets_a_hint():
    phase = scenario({"workload": "query", "sql": "SELECT * FROM {table} WHERE false"}).phases[0]
    [hint] = QueryWorkload.after_phase(phase, phase_outcome(ops=4, rows=0), None)
    assert hint.startswith("hint: q: its 4 queries returned no rows") and "empty" in hint
    assert QueryWorkload.after_phase(phase, phase_outcome(ops=4, rows=10), None) == []
    assert QueryWorkload.after_phase(phase, phase_outcome(ops=0, rows=0), None) == []  # nothing ran: no hint
