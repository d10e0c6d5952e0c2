"""A phase's results from its workers' plain-data results: the summary row (wall, rates, parallelism, merged
latencies, CPU/RSS), a row per worker, a row per operation and the time series; and the median row of repeated
phases. Workers record into HdrHistograms (loadgen/results/recorder.py) and the coordinator merges them here:
percentiles are never averaged across workers."""

import statistics
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from loadgen import columns
from loadgen.datagen.canonical import MIB
from loadgen.results.counts import latency_ms, new_histogram
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
    mib_per_s: float
    parallelism: float
    start_skew_ms: float


def phase_timing(workers: list[WorkerTiming], row_bytes: int) -> PhaseTiming:
    if not workers:
        return PhaseTiming(0.0, 0, 0.0, 0.0, 0.0, 0.0)
    first_start = min(w.start_ns for w in workers)
    wall_s = (max(w.end_ns for w in workers) - first_start) / 1e9
    rows = sum(w.rows for w in workers)
    busy = sum(w.busy_s for w in workers)
    skew_ms = (max(w.start_ns for w in workers) - first_start) / 1e6
    if wall_s <= 0:
        return PhaseTiming(wall_s, rows, 0.0, 0.0, 0.0, skew_ms)
    return PhaseTiming(
        wall_s=wall_s,
        rows=rows,
        rows_per_s=rows / wall_s,
        mib_per_s=rows * row_bytes / MIB / wall_s,
        parallelism=busy / wall_s,
        start_skew_ms=skew_ms,
    )


def aggregate_phase(run_id, scenario, phase, messages, release_ns, samples, status, error="", repetition=1) -> dict:
    """summary row, worker rows and latency rows of one phase, from the workers' plain-data results."""
    timings = [WorkerTiming(m["worker"], m["start_ns"], m["end_ns"], m["rows"]) for m in messages]
    row_bytes = phase.nominal_row_bytes()
    timing = phase_timing(timings, row_bytes)
    per_op: dict[str, dict] = {}
    all_ops = new_histogram()
    worker_rows = []
    verified = "ok" if messages else "unchecked"
    for message, wt in zip(messages, timings, strict=True):
        worker_hist = new_histogram()
        worker_errors = 0
        for name, op in message["ops"].items():
            hist = HdrHistogram.decode(op["histogram"])
            if is_primary(name):
                worker_hist.add(hist)
                worker_errors += op["errors"]
            entry = per_op.setdefault(
                name, {"histogram": new_histogram(), "total_us": 0, "errors": 0, "first_errors": []}
            )
            entry["histogram"].add(hist)
            entry["total_us"] += op.get("total_us", 0)
            entry["errors"] += op["errors"]
            entry["first_errors"].extend(op["first_errors"])
        all_ops.add(worker_hist)
        check = message.get("verification", {})
        state = check.get("verified", "unchecked")
        if state == "failed":
            verified = "failed"
        elif state == "unchecked" and verified == "ok":
            verified = "unchecked"
        lat = latency_ms(worker_hist)
        busy = wt.busy_s
        worker_rows.append({
            "run_id": run_id, "phase": phase.name, "repetition": repetition, "worker": wt.worker,
            "method": phase.method_name(), "sessions": message.get("sessions", ""), "pid": message.get("pid", ""),
            "node": message.get("node", ""),
            "status": status if state != "failed" else "failed", "setup_s": message.get("setup_ns", 0) / 1e9,
            "start_offset_ms": (wt.start_ns - release_ns) / 1e6, "busy_s": busy,
            "close_s": message.get("close_ns", 0) / 1e9, "rows": wt.rows,
            "rows_per_s": wt.rows / busy if busy > 0 else 0.0,
            "mib_per_s": wt.rows * row_bytes / MIB / busy if busy > 0 else 0.0,
            "ops": lat["count"], "errors": worker_errors, "p50_ms": lat["p50_ms"], "p99_ms": lat["p99_ms"],
            "verified": state, "expected_rows": check.get("expected_rows", ""),
            "counted_rows": check.get("counted_rows", ""), "detail": check.get("detail", ""),
        })  # fmt: skip
    if verified == "ok" and len(messages) < scenario.workers:
        verified = "unchecked"  # a worker ended without a result: what it wrote was not verified (a shared table's
        # check may have been its job)
    latency_rows = []
    for name, entry in per_op.items():
        latency_rows.append({
            "run_id": run_id, "phase": phase.name, "repetition": repetition, "operation": name,
            "errors": entry["errors"],
            **latency_ms(entry["histogram"], entry["total_us"]), "first_error": (entry["first_errors"] or [""])[0],
        })  # fmt: skip
    overall = latency_ms(all_ops)
    total_errors = sum(e["errors"] for name, e in per_op.items() if is_primary(name))
    schedules = [m.get("verification", {}).get("schedule") for m in messages]
    schedules = [s for s in schedules if s]
    schedule = {}
    if schedules and any(s["target_rate_per_s"] or s.get("staged_rate") for s in schedules):
        done = overall["count"]
        schedule = {
            # a staged rate has no single target: timeseries.csv has it per interval
            "target_rate_per_s": ""
            if any(s.get("staged_rate") for s in schedules)
            else sum(s["target_rate_per_s"] for s in schedules),
            "late_ops_pct": 100 * sum(s["late_ops"] for s in schedules) / done if done else 0.0,
            "queued_ops": sum(s.get("queued_ops", 0) for s in schedules),
            "max_late_ms": max(s["max_late_ms"] for s in schedules),
        }
    summary = {
        "run_id": run_id, "scenario": scenario.name, "phase": phase.name, "repetition": repetition,
        "workload": phase.workload,
        "method": phase.method_name(), "workers": scenario.workers,
        "sessions": scenario.workers * phase.sessions if hasattr(phase, "sessions") else "", "status": status,
        "wall_s": timing.wall_s, "rows": timing.rows, "nominal_mib": timing.rows * row_bytes / MIB,
        "rows_per_s": timing.rows_per_s, "mib_per_s": timing.mib_per_s, "parallelism": timing.parallelism,
        "start_skew_ms": timing.start_skew_ms, "seed_wall_s": seed_wall_s(messages, release_ns),
        "ops": overall["count"],
        "ops_per_s": overall["count"] / timing.wall_s if timing.wall_s > 0 else 0.0,
        "errors": total_errors,
        "error_rate": total_errors / (overall["count"] + total_errors) if overall["count"] + total_errors else 0.0,
        **schedule,
        "p50_ms": overall["p50_ms"], "p95_ms": overall["p95_ms"], "p99_ms": overall["p99_ms"],
        **sample_stats(samples, phase.name, repetition), "verified": verified, "error": error,
    }  # fmt: skip
    interval_s = scenario.sampling.timeseries_interval_s
    series = timeseries_rows(run_id, phase.name, repetition, messages, interval_s, release_ns)
    return {"summary": summary, "workers": worker_rows, "latency": latency_rows, "timeseries": series}


def seed_wall_s(messages, release_ns: int) -> float | str:
    """The wall time as the seed benchmark measures it: from the start of its workers to the end of the last, with
    each worker's connect/setup before and its connection close after (loadgen times those outside the phase).
    Per worker: setup + (end − release) + close; the phase's value is the slowest worker's."""
    spans = [
        (m.get("setup_ns", 0) + m["end_ns"] - release_ns + m.get("close_ns", 0)) / 1e9 for m in messages if m["end_ns"]
    ]
    return max(spans) if spans else ""


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
