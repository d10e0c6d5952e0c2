"""Per-operation latency histograms, per-worker counters and per-phase aggregation.

Workers record into HdrHistograms and ship them encoded; the coordinator merges them. Percentiles are
always read from the merged histogram, never averaged across workers.
"""

import statistics
import time
from dataclasses import dataclass, field
from typing import TypedDict

from hdrh.histogram import HdrHistogram

from loadgen import columns
from loadgen.data import MIB

# Operation names with a ":" are side records: listed in latency.csv, left out of the phase's counts and
# statistics. OP:warmup is an operation of the warmup; OP:from_intended is an operation's latency measured from
# its intended start in an open-loop (rate-limited) phase.
WARMUP_SUFFIX = ":warmup"
FROM_INTENDED_SUFFIX = ":from_intended"


class Schedule(TypedDict):
    """An open-loop worker's timing facts, for the phase's target rate and lateness."""

    target_rate_per_s: float
    late_ops: int
    queued_ops: int  # arrivals that found every session busy
    max_late_ms: float
    staged_rate: bool  # the rate follows stages (no single target)


class Verification(TypedDict, total=False):
    """What a workload's verify() returns (plain data, it crosses the process boundary). `verified` is required;
    the rest fill workers.csv (expected_rows, counted_rows, detail) and, for an open-loop phase, the summary's
    schedule columns."""

    verified: str  # "ok" | "failed" | "unchecked"
    detail: str
    expected_rows: int
    counted_rows: int
    schedule: Schedule


def is_primary(op: str) -> bool:
    return ":" not in op


# Latencies are recorded in microseconds from 1 µs to 1 hour with 3 significant digits (0.1% error).
HIST_LOWEST_US = 1
HIST_HIGHEST_US = 3_600_000_000
HIST_DIGITS = 3
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
MAX_KEPT_ERRORS = 5


def new_histogram(digits: int = HIST_DIGITS) -> HdrHistogram:
    return HdrHistogram(HIST_LOWEST_US, HIST_HIGHEST_US, digits)


# time-series buckets keep 2 significant digits (1% error): one histogram per second per worker must stay small
BUCKET_DIGITS = 2


@dataclass
class OpBucket:
    ops: int = 0
    rows: int = 0
    errors: int = 0
    histogram: HdrHistogram = field(default_factory=lambda: new_histogram(BUCKET_DIGITS))

    def to_dict(self) -> dict:
        return {"ops": self.ops, "rows": self.rows, "errors": self.errors, "histogram": self.histogram.encode()}


@dataclass
class Bucket:
    """One interval of one worker: per operation counts and latencies, and the mean of the session gauges."""

    ops: dict[str, OpBucket] = field(default_factory=dict)
    gauge_sum: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # active, target sessions, target rate
    gauges: int = 0

    def op(self, name: str) -> OpBucket:
        entry = self.ops.get(name)
        if entry is None:
            entry = self.ops[name] = OpBucket()
        return entry

    def to_dict(self) -> dict:
        out = {"ops": {name: b.to_dict() for name, b in self.ops.items()}}
        if self.gauges:
            out["gauges"] = [g / self.gauges for g in self.gauge_sum]
        return out


@dataclass
class OpStats:
    histogram: HdrHistogram = field(default_factory=new_histogram)
    total_us: int = 0  # exact sum of the recorded latencies, for the mean
    errors: int = 0
    first_errors: list = field(default_factory=list)


class Recorder:
    """Collects one worker's measurements for one phase. `progress` is this worker's slot in shared memory
    (rows done, operations done) that the coordinator reads for the live progress line."""

    def __init__(self, progress=None, origin_ns: int = 0, bucket_ns: int = 1_000_000_000):
        self.ops: dict[str, OpStats] = {}
        self.rows = 0
        self.progress = progress
        self.start_ns = 0
        self.end_ns = 0
        # time series: buckets of bucket_ns since origin_ns (the coordinator's release of the phase); a bucket is
        # encoded once its interval is over (a live histogram holds ~26 KB, its encoding a few hundred bytes)
        self.origin_ns = origin_ns
        self.bucket_ns = bucket_ns
        self.buckets: dict[int, Bucket] = {}
        self.closed: dict[int, dict] = {}
        self.on_interval = None  # called with each finished interval (plain data), e.g. to send it to the coordinator

    def _index(self) -> int:
        return max(0, (time.perf_counter_ns() - self.origin_ns) // self.bucket_ns)

    def _bucket(self) -> Bucket:
        index = self._index()
        bucket = self.buckets.get(index)
        if bucket is None:
            self._close_before(index)
            bucket = self.buckets[index] = Bucket()
        return bucket

    def _close_before(self, index: int) -> None:
        for old in [i for i in self.buckets if i < index]:
            self.closed[old] = self.buckets.pop(old).to_dict()
            if self.on_interval is not None:
                self.on_interval(old, self.closed[old])

    def publish(self) -> None:
        """Close the intervals that are over (a workload that runs a ticker calls this even when nothing happens)."""
        self._close_before(self._index())

    def idle(self) -> None:
        """No session is active any more (the progress line)."""
        if self.progress is not None:
            self.progress[4] = 0

    def gauge(self, active: float, target_sessions: float, target_rate: float) -> None:
        """Active sessions and the targets now (sessions, operations/s), averaged per interval; the progress line
        shows the active sessions."""
        bucket = self._bucket()
        for i, value in enumerate((active, target_sessions, target_rate)):
            bucket.gauge_sum[i] += value
        bucket.gauges += 1
        if self.progress is not None:
            self.progress[4] = int(active)

    def start(self) -> None:
        self.start_ns = time.perf_counter_ns()

    def stop(self) -> None:
        self.end_ns = time.perf_counter_ns()

    def _op(self, name: str) -> OpStats:
        stats = self.ops.get(name)
        if stats is None:
            stats = self.ops[name] = OpStats()
        return stats

    def record(self, op: str, latency_ns: int, rows: int = 0) -> None:
        """One operation. Side records (OP:warmup, OP:from_intended) only go into their own histogram, not into
        the counts, progress or time series."""
        us = min(max(latency_ns // 1000, HIST_LOWEST_US), HIST_HIGHEST_US)
        stats = self._op(op)
        stats.histogram.record_value(us)
        stats.total_us += us
        if not is_primary(op):
            return
        self.rows += rows
        if self.progress is not None:
            self.progress[0] += rows
            self.progress[1] += 1
            if rows:  # the rows sent so far are counted now (an add_rows call, counting none, keeps them)
                self.progress[3] = 0
        bucket = self._bucket().op(op)
        bucket.ops += 1
        bucket.rows += rows
        bucket.histogram.record_value(us)

    def sending(self, rows: int) -> None:
        """Rows handed to a statement that is still running (a streamed COPY), for the progress line only."""
        if self.progress is not None:
            self.progress[3] += rows

    def error(self, op: str, message: str) -> None:
        stats = self._op(op)
        stats.errors += 1
        if len(stats.first_errors) < MAX_KEPT_ERRORS:
            stats.first_errors.append(message)
        if is_primary(op):
            if self.progress is not None:
                self.progress[2] += 1
            self._bucket().op(op).errors += 1

    def to_dict(self) -> dict:
        """Plain data that crosses the process boundary."""
        return {
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "rows": self.rows,
            "ops": {
                name: {
                    "histogram": s.histogram.encode(),
                    "total_us": s.total_us,
                    "errors": s.errors,
                    "first_errors": list(s.first_errors),
                }
                for name, s in self.ops.items()
            },
            "timeseries": {**self.closed, **{index: b.to_dict() for index, b in self.buckets.items()}},
        }


def latency_ms(histogram: HdrHistogram, total_us: float | None = None) -> dict:
    """count, min, percentiles, max (and the mean, from the exact total when given) in milliseconds.

    All percentiles come from one pass (get_percentile_to_value_dict); hdrhistogram's get_mean_value walks
    every bucket in Python (~80 ms for a 3-digit histogram), so the mean is computed from the recorded total.
    """
    count = histogram.get_total_count()
    out = {"count": count, "mean_ms": ""}
    if count == 0:
        out.update({"min_ms": 0.0, "max_ms": 0.0, "mean_ms": 0.0})
        out.update({percentile_column(p): 0.0 for p in PERCENTILES})
        return out
    out["min_ms"] = histogram.get_min_value() / 1000
    values = histogram.get_percentile_to_value_dict(list(PERCENTILES))
    for p in PERCENTILES:
        out[percentile_column(p)] = values[p] / 1000
    out["max_ms"] = histogram.get_max_value() / 1000
    if total_us is not None:
        out["mean_ms"] = total_us / count / 1000
    return out


def percentile_column(p: float) -> str:
    return "p" + (f"{p:g}".replace(".", "_")) + "_ms"  # 99.9 → p99_9_ms


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


# ------------------------------------------------------------------------------------ phase aggregation


def sample_stats(samples, phase: str, repetition: int = 1) -> dict:
    """Mean CPU % and peak RSS per process group (hyperd, workers, coordinator) during one phase."""
    groups: dict[str, dict[str, list[float]]] = {}
    for s in samples:
        if s.phase != phase or s.repetition != repetition:
            continue
        group = "workers" if s.process.startswith("worker-") else s.process
        entry = groups.setdefault(group, {"cpu": [], "rss": []})
        entry["cpu"].append(s.cpu_pct)
        entry["rss"].append(s.rss_mib)
    out = {}
    for group in ("hyperd", "workers", "coordinator"):
        entry = groups.get(group)
        # workers: the mean over all worker samples is the average worker's CPU %, comparable to 100%
        out[f"{group}_cpu_pct_mean"] = sum(entry["cpu"]) / len(entry["cpu"]) if entry else ""
        out[f"{group}_rss_mib_peak"] = max(entry["rss"]) if entry else ""
    return out


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


def timeseries_rows(run_id, phase: str, repetition: int, messages, interval_s: float, release_ns: int = 0) -> list:
    """Merge the workers' per-interval buckets: ops/s, rows/s, errors, p50 and p99 per interval, the active sessions
    and their targets (sums over the workers of each interval's mean), and the same per operation (`by_op`).

    Buckets are `interval_s` wide from the phase's release (`release_ns`, the workers' bucket origin). A bucket's
    rates are its counts divided by the time it covers inside the phase's measured window [first worker start,
    last worker end] — the warmup before it and the idle tail after it are not measured time — so the first and
    last bucket of a phase are not diluted, and a phase shorter than a bucket is drawn at its real rate. The
    phase's first or last bucket covering less than half an interval is merged into its neighbour: a few
    milliseconds of coverage would turn one operation into a spike. A row then covers the window from its `t_s` to
    the next row's `t_s` (the last row: to the window's end); Σ covered = wall_s and Σ rows_per_s × covered = rows.
    """
    width_ns = interval_s * 1e9
    merged: dict[int, dict] = {}
    for message in messages:
        for index, b in message.get("timeseries", {}).items():
            entry = merged.setdefault(int(index), {"by_op": {}, "gauges": [0.0, 0.0, 0.0], "gauged": False})
            for name, part in b["ops"].items():
                op = entry["by_op"].setdefault(name, _empty_counts())
                _add_counts(op, part)
            if "gauges" in b:
                entry["gauged"] = True
                entry["gauges"] = [a + g for a, g in zip(entry["gauges"], b["gauges"], strict=True)]
    spans = [(m["start_ns"], m["end_ns"]) for m in messages if m.get("end_ns", 0) > m.get("start_ns", 0) >= 0]
    if spans:  # the measured window, in ns after the release
        window = (min(s for s, _ in spans) - release_ns, max(e for _, e in spans) - release_ns)
        first, last = int(max(0, window[0]) // width_ns), int(max(0, window[1] - 1) // width_ns)
        if merged and (first > max(merged) or last < min(merged)):  # not this release's window: no clipping
            window, first, last = None, 0, -1
    else:
        window = None
        first, last = 0, -1
    indices = sorted(set(range(first, last + 1)) | set(merged))
    if not indices:
        return []

    def covered_s(lo: int, hi: int) -> float:
        """Seconds of the measured window inside buckets lo … hi."""
        a, b = lo * width_ns, (hi + 1) * width_ns
        if window is None:
            return (b - a) / 1e9
        return max(0.0, min(b, window[1]) - max(a, window[0])) / 1e9

    # groups of consecutive bucket indices that make one row each: short edge buckets join their neighbour
    groups = [[i] for i in range(indices[0], indices[-1] + 1)]
    if len(groups) > 1 and covered_s(groups[0][0], groups[0][0]) < interval_s / 2:
        groups[1:2] = [groups[0] + groups[1]]
        del groups[0]
    if len(groups) > 1 and covered_s(groups[-1][0], groups[-1][0]) < interval_s / 2:
        groups[-2:] = [groups[-2] + groups[-1]]
    out = []
    for group in groups:
        total, by_op, gauges, gauged = _empty_counts(), {}, [0.0, 0.0, 0.0], False
        for index in group:
            part = merged.get(index)
            if not part:
                continue
            for name, counts in part["by_op"].items():
                _add_counts(by_op.setdefault(name, _empty_counts()), counts)
                _add_counts(total, counts)
            if part["gauged"]:  # a merged edge bucket keeps the larger (the time-weighted mean is not known here)
                gauged = True
                gauges = [max(a, g) for a, g in zip(gauges, part["gauges"], strict=True)]
        seconds = covered_s(group[0], group[-1]) or interval_s  # operations outside the window (no timing): width
        lat = latency_ms(total["h"])
        out.append({
            "run_id": run_id, "phase": phase, "repetition": repetition, "t_s": group[0] * interval_s,
            "interval_s": interval_s, "ops": total["ops"], "ops_per_s": total["ops"] / seconds,
            "rows_per_s": total["rows"] / seconds, "errors": total["errors"],
            "p50_ms": lat["p50_ms"], "p99_ms": lat["p99_ms"],
            "active_sessions": gauges[0] if gauged else "", "target_sessions": gauges[1] if gauged else "",
            "target_rate_per_s": gauges[2] if gauged else "",
            "by_op": {
                name: {"ops": c["ops"], "ops_per_s": c["ops"] / seconds, "rows_per_s": c["rows"] / seconds,
                       "errors": c["errors"], **{k: v for k, v in latency_ms(c["h"]).items() if k[0] == "p"}}
                for name, c in sorted(by_op.items())
            },
        })  # fmt: skip
    return out


def _empty_counts() -> dict:
    return {"ops": 0, "rows": 0, "errors": 0, "h": new_histogram(BUCKET_DIGITS)}


def _add_counts(into: dict, part: dict) -> None:
    into["ops"] += part["ops"]
    into["rows"] += part["rows"]
    into["errors"] += part["errors"]
    into["h"].add(part["h"] if "h" in part else HdrHistogram.decode(part["histogram"]))


def operation_timeseries_rows(series: list[dict]) -> list[dict]:
    """op_timeseries.csv: one row per interval and operation, taken out of timeseries_rows' `by_op`."""
    keep = ("run_id", "point", "phase", "repetition", "t_s", "interval_s")
    return [{**{k: row[k] for k in keep if k in row}, "operation": name, **values}
            for row in series for name, values in row.pop("by_op", {}).items()]  # fmt: skip


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
