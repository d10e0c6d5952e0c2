from dataclasses import replace

import pytest

from loadgen.datagen.canonical import BYTES_PER_ROW, MIB
from loadgen.engine.protocol import Result
from loadgen.results import aggregate, counts, recorder
from loadgen.results.samples import Sample
from loadgen.scenario.model import Scenario


def recorder_with(latencies_ms, op="copy", rows_each=10):
    rec = recorder.Recorder()
    for ms in latencies_ms:
        rec.record(op, int(ms * 1e6), rows_each)
    return rec


def test_merged_percentiles_come_from_the_merged_histogram_not_averages():
    scenario = scenario_with_query()
    messages = []
    for w, values in enumerate([[1] * 99, [100]]):  # a fast worker and a slow one
        rec = recorder_with(values)
        rec.start_ns, rec.end_ns = 0, 1_000_000_000
        messages.append(Result(w, "scan", 100 + w, rec.measurement(), {"verified": "ok"}))
    [lat] = aggregate.aggregate_phase("run", scenario, scenario.phases[0], messages, 0, [], "ok").latency
    assert lat["count"] == 100
    assert lat["p50_ms"] == pytest.approx(1, rel=0.01)
    assert lat["max_ms"] == pytest.approx(100, rel=0.01)
    # averaging the two workers' p99 would give ~50 ms; the merged p99 is the true one
    assert lat["p99_ms"] == pytest.approx(1, rel=0.01)


def test_latency_columns_are_ordered():
    lat = recorder_with(range(1, 500)).ops["copy"].latency()
    values = [lat["min_ms"]] + [lat[counts.percentile_column(p)] for p in counts.PERCENTILES] + [lat["max_ms"]]
    assert values == sorted(values)
    assert counts.percentile_column(99.9) == "p99_9_ms"


def test_phase_timing_wall_parallelism_and_skew():
    workers = [
        aggregate.WorkerTiming(0, start_ns=0, end_ns=2_000_000_000, rows=100),
        aggregate.WorkerTiming(1, start_ns=500_000_000, end_ns=1_500_000_000, rows=300),
    ]
    timing = aggregate.phase_timing(workers, BYTES_PER_ROW)
    assert timing.wall_s == 2.0
    assert timing.rows == 400 and timing.rows_per_s == 200
    assert timing.parallelism == pytest.approx(1.5)  # (2 s + 1 s) busy over 2 s wall
    assert timing.start_skew_ms == 500
    assert timing.mib_per_s == pytest.approx(400 * BYTES_PER_ROW / MIB / 2)


def scenario_with_query():
    return Scenario.model_validate(
        {
            "name": "t",
            "workers": 2,
            "phases": [{"name": "scan", "workload": "query", "shape": "full_scan", "iterations": 3}],
        }
    )


def test_aggregate_phase_adds_up_and_leaves_warmup_out():
    scenario = scenario_with_query()
    phase = scenario.phases[0]
    messages = []
    for w in range(2):
        rec = recorder.Recorder()
        rec.record("query:warmup", 50_000_000)
        rec.start_ns, rec.end_ns = 1_000 + w, 1_000_000_000
        for _ in range(3):
            rec.record("query", 2_000_000, 1000)
        messages.append(Result(w, "scan", 100 + w, rec.measurement(), {"verified": "ok"}))
    samples = [  # a process's first sample of a phase measured its CPU partly before it: not in the mean
        Sample(0, "scan", "hyperd", 9, 999.0, 200.0),
        Sample(1, "scan", "hyperd", 9, 150.0, 300.0),
        Sample(2, "scan", "hyperd", 9, 50.0, 400.0),
        Sample(0, "scan", "worker-0", 100, 999.0, 80.0),
        Sample(1, "scan", "worker-0", 100, 90.0, 80.0),
        Sample(1, "other", "hyperd", 9, 999.0, 999.0),
    ]
    out = aggregate.aggregate_phase("run", scenario, phase, messages, 1_000, samples, "ok")
    summary = out.summary
    assert summary["ops"] == 6 and summary["rows"] == 6000 and summary["errors"] == 0
    assert summary["p99_ms"] == pytest.approx(2, rel=0.01)  # the 50 ms warmups are not in the statistics
    assert summary["hyperd_cpu_pct_mean"] == 100.0 and summary["hyperd_rss_mib_peak"] == 400.0
    assert summary["workers_cpu_pct_mean"] == 90.0
    assert summary["verified"] == "ok"
    assert [r["worker"] for r in out.workers] == [0, 1]
    by_op = {r["operation"]: r for r in out.latency}
    assert by_op["query"]["count"] == 6 and by_op["query:warmup"]["count"] == 2
    assert summary["mib_per_s"] == pytest.approx(6000 * 24 / MIB / summary["wall_s"])


def test_a_failed_verification_marks_the_phase_and_the_worker():
    scenario = scenario_with_query()
    rec = recorder.Recorder()
    rec.start_ns, rec.end_ns = 0, 10
    msg = Result(0, "scan", 100, rec.measurement(), {"verified": "failed", "detail": "COUNT(*) = 1"})
    out = aggregate.aggregate_phase("run", scenario, scenario.phases[0], [msg], 0, [], "ok")
    assert out.summary["verified"] == "failed"
    assert out.workers[0]["status"] == "failed" and out.workers[0]["detail"] == "COUNT(*) = 1"


def test_errors_are_counted_with_first_messages_kept():
    rec = recorder.Recorder()
    for i in range(10):
        rec.error("query", f"boom {i}")
    op = rec.measurement().ops["query"]
    assert op["errors"] == 10 and op["first_errors"] == [f"boom {i}" for i in range(counts.MAX_KEPT_ERRORS)]


def test_latency_rows_have_the_exact_mean():
    scenario = scenario_with_query()
    messages = []
    for w, values in enumerate([[1, 2, 3], [10]]):
        rec = recorder_with(values, op="query")
        rec.start_ns, rec.end_ns = 0, 1_000_000_000
        messages.append(Result(w, "scan", 100 + w, rec.measurement(), {"verified": "ok"}))
    out = aggregate.aggregate_phase("run", scenario, scenario.phases[0], messages, 0, [], "ok")
    [row] = out.latency
    assert row["count"] == 4 and row["mean_ms"] == pytest.approx(4.0)  # (1 + 2 + 3 + 10) / 4


def test_progress_line_shows_workers_when_it_fits():
    import io

    from rich.console import Console

    from loadgen.report.terminal import Progress

    for width, expect_detail in ((200, True), (60, False)):
        out = io.StringIO()
        progress = Progress(Console(file=out, width=width, force_terminal=True))
        progress.begin("load", 1000)
        progress.tick(500, 10, 1, [4, 6])
        text = out.getvalue()
        assert "load: 500 rows / 1,000 (50%)" in text and "1 errors" in text
        assert ("| w0:4 w1:6" in text) is expect_detail


def test_a_phase_missing_a_workers_result_is_not_verified_ok():
    """A worker that died sent no result: what it wrote (and, for a shared table, the check that was its job)
    was never verified, so the others' `ok` must not make the phase `ok`."""
    scenario = scenario_with_query()  # 2 workers
    rec = recorder.Recorder()
    rec.start_ns, rec.end_ns = 0, 10
    msg = Result(0, "scan", 100, rec.measurement(), {"verified": "ok", "detail": "checked by the last worker"})
    out = aggregate.aggregate_phase("run", scenario, scenario.phases[0], [msg], 0, [], "failed", "worker 1 died")
    assert out.summary["verified"] == "unchecked"
    both = aggregate.aggregate_phase("run", scenario, scenario.phases[0], [msg, replace(msg, worker=1)], 0, [], "ok")
    assert both.summary["verified"] == "ok"
