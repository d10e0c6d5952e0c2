"""The time series of a phase: the workers' per-interval buckets merged into rows of timeseries.csv and
op_timeseries.csv, each row's rates taken over the part of the phase's measured window it covers.

Buckets are `interval_s` wide from the phase's release (the workers' bucket origin). A bucket's rates are its
counts divided by the time it covers inside the phase's measured window [first worker start, last worker end] —
the warmup before it and the idle tail after it are not measured time — so the first and last bucket of a phase
are not diluted, and a phase shorter than a bucket is drawn at its real rate. The phase's first or last bucket
covering less than half an interval is merged into its neighbour: a few milliseconds of coverage would turn one
operation into a spike. A row then covers the window from its `t_s` to the next row's `t_s` (the last row: to the
window's end); Σ covered = wall_s and Σ rows_per_s × covered = rows.
"""

from dataclasses import dataclass, field

from loadgen.results.counts import BUCKET_DIGITS, Counts, per_second


@dataclass
class Interval:
    """One interval of every worker together: Counts per operation, and the sums of the workers' session gauges."""

    by_op: dict[str, Counts] = field(default_factory=dict)
    # active sessions, target sessions, target rate (None: not a session phase; a target rate of None: no target)
    gauges: list | None = None

    def add(self, bucket: dict) -> None:
        """One worker's encoded bucket (results.recorder.Bucket)."""
        for name, part in bucket["ops"].items():
            self.by_op.setdefault(name, Counts(BUCKET_DIGITS)).merge(Counts.decode(part, BUCKET_DIGITS))
        if "gauges" in bucket:
            self.gauges = [add(a, g) for a, g in zip(self.gauges or [None] * 3, bucket["gauges"], strict=True)]


def add(a: float | None, b: float | None) -> float | None:
    """A sum in which None is nothing known (not 0): None only when both are."""
    return b if a is None else a if b is None else a + b


def larger(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


class Window:
    """The phase's measured window [first worker start, last worker end], in ns after the release."""

    def __init__(self, measurements, release_ns: int, width_ns: float, indices: set[int]):
        self.width_ns = width_ns
        spans = [(m.start_ns, m.end_ns) for m in measurements if m.end_ns > m.start_ns >= 0]
        self.span, self.first, self.last = None, 0, -1
        if spans:
            span = (min(s for s, _ in spans) - release_ns, max(e for _, e in spans) - release_ns)
            first, last = int(max(0, span[0]) // width_ns), int(max(0, span[1] - 1) // width_ns)
            if not (indices and (first > max(indices) or last < min(indices))):  # else not this release's window
                self.span, self.first, self.last = span, first, last

    def covered_s(self, lo: int, hi: int) -> float:
        """Seconds of the measured window inside buckets lo … hi."""
        a, b = lo * self.width_ns, (hi + 1) * self.width_ns
        if self.span is None:
            return (b - a) / 1e9
        return max(0.0, min(b, self.span[1]) - max(a, self.span[0])) / 1e9


def timeseries_rows(run_id, phase: str, repetition: int, measurements, interval_s: float, release_ns: int = 0):
    """Rows of timeseries.csv for the workers' measurements (results.recorder.Measurement): ops/s, rows/s, errors,
    p50 and p99 per interval, the active sessions and their targets (sums over the workers of each interval's
    mean), and the same per operation (`by_op`, for op_timeseries.csv)."""
    merged: dict[int, Interval] = {}
    for measurement in measurements:
        for index, bucket in measurement.timeseries.items():
            merged.setdefault(int(index), Interval()).add(bucket)
    window = Window(measurements, release_ns, interval_s * 1e9, set(merged))
    indices = sorted(set(range(window.first, window.last + 1)) | set(merged))
    if not indices:
        return []
    out = []
    for group in row_groups(indices[0], indices[-1], window, interval_s):
        seconds = window.covered_s(group[0], group[-1]) or interval_s  # operations outside the window: its width
        parts = [merged[index] for index in group if index in merged]
        row = series_row(parts, seconds)
        out.append({"run_id": run_id, "phase": phase, "repetition": repetition, "t_s": group[0] * interval_s,
                    "interval_s": interval_s, **row})  # fmt: skip
    return out


def row_groups(first: int, last: int, window: Window, interval_s: float) -> list[list[int]]:
    """Consecutive bucket indices that make one row each: a short edge bucket joins its neighbour."""
    groups = [[i] for i in range(first, last + 1)]
    if len(groups) > 1 and window.covered_s(groups[0][0], groups[0][0]) < interval_s / 2:
        groups[1:2] = [groups[0] + groups[1]]
        del groups[0]
    if len(groups) > 1 and window.covered_s(groups[-1][0], groups[-1][0]) < interval_s / 2:
        groups[-2:] = [groups[-2] + groups[-1]]
    return groups


def series_row(parts: list[Interval], seconds: float) -> dict:
    """The columns of one row from the intervals it covers, over `seconds` of measured time."""
    total, by_op, gauges = Counts(BUCKET_DIGITS), {}, None
    for part in parts:
        for name, counts in part.by_op.items():
            by_op.setdefault(name, Counts(BUCKET_DIGITS)).merge(counts)
            total.merge(counts)
        if part.gauges is not None:  # a merged edge bucket keeps the larger (the time-weighted mean is not known)
            gauges = [larger(a, g) for a, g in zip(gauges or [None] * 3, part.gauges, strict=True)]
    lat = total.latency()
    return {
        "ops": total.ops, "ops_per_s": per_second(total.ops, seconds), "rows_per_s": per_second(total.rows, seconds),
        "errors": total.errors, "p50_ms": lat["p50_ms"], "p99_ms": lat["p99_ms"],
        "active_sessions": gauges[0] if gauges else None, "target_sessions": gauges[1] if gauges else None,
        "target_rate_per_s": gauges[2] if gauges else None,
        "by_op": {
            name: {"ops": c.ops, "ops_per_s": per_second(c.ops, seconds), "rows_per_s": per_second(c.rows, seconds),
                   "errors": c.errors, **{k: v for k, v in c.latency().items() if k[0] == "p"}}
            for name, c in sorted(by_op.items())
        },
    }  # fmt: skip


def operation_timeseries_rows(series: list[dict]) -> list[dict]:
    """op_timeseries.csv: one row per interval and operation, taken out of timeseries_rows' `by_op`."""
    keep = ("run_id", "point", "phase", "repetition", "t_s", "interval_s")
    return [{**{k: row[k] for k in keep if k in row}, "operation": name, **values}
            for row in series for name, values in row.pop("by_op", {}).items()]  # fmt: skip
