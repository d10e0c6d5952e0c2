"""A phase's results from its workers' plain-data results: the summary row (wall, rates, parallelism, merged
latencies, CPU/RSS), a row per worker, a row per operation and the time series; and the median row of repeated
phases. Workers record into HdrHistograms (loadgen/results/recorder.py) and the coordinator merges them here:
percentiles are never averaged across workers."""

import statistics
from dataclasses import dataclass, field

from loadgen import columns
from loadgen.datagen.canonical import MIB
from loadgen.results.counts import Counts, per_second
from loadgen.results.samples import sample_stats
from loadgen.results.timeseries import timeseries_rows
from loadgen.workloads.contract import is_primary


@dataclass(frozen=True)
class WorkerTiming:
    worker: int
    start_ns: int
    end_ns: int
    rows: int

    @property
    def busy_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9


@dataclass(frozen=True)
class PhaseTiming:
    """Wall = last worker end − first worker start; parallelism = Σ busy ÷ wall (as in the seed benchmark)."""

    wall_s: float
    rows: int
    rows_per_s: float
    mib_per_s: float | None  # None: the rows have no nominal width (user SQL, TPC-H)
    parallelism: float
    start_skew_ms: float


def nominal_mib(rows: int, row_bytes: int) -> float | None:
    """rows × the nominal row width; None when the rows have none (their MiB are not known)."""
    return rows * row_bytes / MIB if row_bytes else None


def mib_per_s(rows: int, row_bytes: int, seconds: float) -> float | None:
    mib = nominal_mib(rows, row_bytes)
    return None if mib is None else per_second(mib, seconds)


def phase_timing(workers: list[WorkerTiming], row_bytes: int) -> PhaseTiming:
    if not workers:
        return PhaseTiming(0.0, 0, 0.0, mib_per_s(0, row_bytes, 0.0), 0.0, 0.0)
    first_start = min(w.start_ns for w in workers)
    wall_s = (max(w.end_ns for w in workers) - first_start) / 1e9
    rows = sum(w.rows for w in workers)
    busy = sum(w.busy_s for w in workers)
    skew_ms = (max(w.start_ns for w in workers) - first_start) / 1e6
    if wall_s <= 0:
        return PhaseTiming(wall_s, rows, 0.0, mib_per_s(rows, row_bytes, 0.0), 0.0, skew_ms)
    return PhaseTiming(
        wall_s=wall_s,
        rows=rows,
        rows_per_s=rows / wall_s,
        mib_per_s=mib_per_s(rows, row_bytes, wall_s),
        parallelism=busy / wall_s,
        start_skew_ms=skew_ms,
    )


@dataclass
class PhaseResult:
    """One phase's results as the run folder keeps them: its summary row, a row per worker, per operation and per
    interval (values by column name; None where a value does not apply, written as an empty cell)."""

    summary: dict
    workers: list[dict]
    latency: list[dict]
    timeseries: list[dict]
    reports: list = field(default_factory=list)  # the workers' reports to the coordinator, by worker

    @property
    def status(self) -> str:
        return self.summary["status"]

    @property
    def error(self) -> str:
        return self.summary["error"]

    def fail(self, error: str) -> None:
        """The phase failed, for this reason (its rows are kept)."""
        self.summary["status"], self.summary["error"] = "failed", error

    def end_with(self, status: str, error: str) -> None:
        """The run ended with `status` while this phase's rows were being written: say so, keeping its own error."""
        if status != "ok":
            self.summary["status"] = status
            self.summary["error"] = self.summary["error"] or error

    def stamp(self, **values) -> None:
        """Summary values known outside the workers' results: where and when the phase ran (started_utc, point),
        the columns the workload fills from its reports."""
        self.summary.update(values)


def aggregate_phase(run_id, scenario, phase, results, release_ns, samples, status, error="", repetition=1):
    """The PhaseResult of one phase, from the workers' results (loadgen.engine.protocol.Result)."""
    row_bytes = phase.nominal_row_bytes()
    timings = [
        WorkerTiming(r.worker, r.measurement.start_ns, r.measurement.end_ns, r.measurement.rows) for r in results
    ]
    timing = phase_timing(timings, row_bytes)
    per_op: dict[str, Counts] = {}
    everyone = Counts()
    worker_rows = []
    for result, wt in zip(results, timings, strict=True):
        mine = Counts()
        for name, encoded in result.measurement.ops.items():
            counts = Counts.decode(encoded)
            per_op.setdefault(name, Counts()).merge(counts)
            if is_primary(name):
                mine.merge(counts)
        everyone.merge(mine)
        worker_rows.append(worker_row(run_id, phase, repetition, result, wt, mine, release_ns, row_bytes, status))
    latency_rows = [
        {"run_id": run_id, "phase": phase.name, "repetition": repetition, "operation": name, "errors": c.errors,
         **c.latency(), "first_error": (c.first_errors or [""])[0]}
        for name, c in per_op.items()
    ]  # fmt: skip
    overall = everyone.latency()
    summary = {
        "run_id": run_id, "scenario": scenario.name, "phase": phase.name, "repetition": repetition,
        "workload": phase.workload, "method": phase.method_name(), "workers": scenario.workers,
        "sessions": scenario.workers * phase.sessions_per_worker() if phase.sessions_per_worker() else None,
        "status": status, "wall_s": timing.wall_s, "rows": timing.rows,
        "nominal_mib": nominal_mib(timing.rows, row_bytes), "rows_per_s": timing.rows_per_s,
        "mib_per_s": timing.mib_per_s, "parallelism": timing.parallelism,
        "start_skew_ms": timing.start_skew_ms, "seed_wall_s": seed_wall_s(results, release_ns),
        "ops": everyone.ops, "ops_per_s": per_second(everyone.ops, timing.wall_s), "errors": everyone.errors,
        "error_rate": everyone.error_rate,
        "p50_ms": overall["p50_ms"], "p95_ms": overall["p95_ms"], "p99_ms": overall["p99_ms"],
        **sample_stats(samples, phase.name, repetition), "verified": verified(results, scenario.workers),
        "error": error,
    }  # fmt: skip
    interval_s = scenario.sampling.timeseries_interval_s
    series = timeseries_rows(run_id, phase.name, repetition, [r.measurement for r in results], interval_s, release_ns)
    return PhaseResult(summary, worker_rows, latency_rows, series, [r.report for r in results])


def worker_row(run_id, phase, repetition, result, wt: WorkerTiming, counts: Counts, release_ns, row_bytes, status):
    """workers.csv's row of one worker: its span, rates over its busy time, its primary operations' latency."""
    check = result.verification or {}
    state = check.get("verified", "unchecked")
    lat, busy = counts.latency(), wt.busy_s
    return {
        "run_id": run_id, "phase": phase.name, "repetition": repetition, "worker": wt.worker,
        "method": phase.method_name(), "sessions": result.sessions, "pid": result.pid, "node": result.node,
        "status": status if state != "failed" else "failed", "setup_s": result.setup_ns / 1e9,
        "start_offset_ms": (wt.start_ns - release_ns) / 1e6, "busy_s": busy, "close_s": result.close_ns / 1e9,
        "rows": wt.rows, "rows_per_s": per_second(wt.rows, busy),
        "mib_per_s": mib_per_s(wt.rows, row_bytes, busy), "ops": counts.ops, "errors": counts.errors,
        "p50_ms": lat["p50_ms"], "p99_ms": lat["p99_ms"], "verified": state,
        "expected_rows": check.get("expected_rows"), "counted_rows": check.get("counted_rows"),
        "detail": check.get("detail", ""),
    }  # fmt: skip


def verified(results, workers: int) -> str:
    """ok when every worker verified ok; failed when one failed; else unchecked — also when a worker ended without a
    result: what it wrote was not verified (a shared table's check may have been its job)."""
    states = [(r.verification or {}).get("verified", "unchecked") for r in results]
    if "failed" in states:
        return "failed"
    if not states or "unchecked" in states or len(results) < workers:
        return "unchecked"
    return "ok"


def seed_wall_s(results, release_ns: int) -> float | None:
    """The wall time as the seed benchmark measures it: from the start of its workers to the end of the last, with
    each worker's connect/setup before and its connection close after (loadgen times those outside the phase).
    Per worker: setup + (end − release) + close; the phase's value is the slowest worker's."""
    spans = [
        (r.setup_ns + r.measurement.end_ns - release_ns + r.close_ns) / 1e9 for r in results if r.measurement.end_ns
    ]
    return max(spans) if spans else None


# ----------------------------------------------------------------------------------------- repetitions
MEDIAN_COLUMNS = columns.REPEATED_MEDIANS


def coefficient_of_variation_pct(values: list[float]) -> float:
    """Sample standard deviation ÷ mean, in %; 0 for fewer than two values."""
    if len(values) < 2:
        return 0.0
    mean = statistics.fmean(values)
    return 100 * statistics.stdev(values) / mean if mean else 0.0


def median_row(rows: list[dict]) -> dict:
    """One summary row for a phase repeated N times: medians, plus min, max and CV of the rows/s."""
    out = dict(rows[0])
    out["repetition"], out["aggregate"] = "", "median"
    for column in MEDIAN_COLUMNS:
        values = [float(r[column]) for r in rows if r.get(column) not in ("", None)]
        out[column] = statistics.median(values) if values else ""
    rates = [float(r["rows_per_s"]) for r in rows]
    out["rows_per_s_min"], out["rows_per_s_max"] = min(rates), max(rates)
    out["rows_per_s_cv_pct"] = coefficient_of_variation_pct(rates)
    out["started_utc"] = rows[0].get("started_utc", "")
    out["status"] = (
        "ok" if all(r["status"] == "ok" for r in rows) else next(r["status"] for r in rows if r["status"] != "ok")
    )
    out["verified"] = "failed" if any(r["verified"] == "failed" for r in rows) else rows[-1]["verified"]
    return out
