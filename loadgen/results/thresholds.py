"""Thresholds against what was measured: at the end of a run against the phases' final rows (evaluate), and during
a phase against the workers' interval reports (LiveCheck, for `abort: true`). The expressions themselves are
parsed with the scenario (loadgen/config/thresholds.py)."""

from __future__ import annotations

import statistics

from loadgen.config.thresholds import Threshold, passes
from loadgen.results.counts import BUCKET_DIGITS, Counts, error_rate, per_second


def operation_value(metric: str, rows: list[dict], wall_s: float | None) -> float | None:
    """A per-operation metric from its latency.csv rows (one per repetition: their median)."""
    values = []
    for row in rows:
        count, errors = float(row["count"]), float(row["errors"])
        if metric == "error_rate":
            values.append(error_rate(count, errors))
        elif metric == "ops_per_s":
            if wall_s:
                values.append(per_second(count, wall_s))
        elif row.get(metric) not in (None, ""):
            values.append(float(row[metric]))
    return statistics.median(values) if values else None


def evaluate(thresholds: list[Threshold], summaries: dict[str, dict], latency: list[dict] = ()) -> list:
    """(threshold, measured value, passed) for each; a phase or operation that did not run, or an empty value,
    fails."""
    out = []
    for t in thresholds:
        row = summaries.get(t.phase)
        if t.operation:
            rows = [r for r in latency if r["phase"] == t.phase and r["operation"] == t.operation]
            wall = float(row["wall_s"]) if row and row.get("wall_s") not in (None, "") else None
            value = operation_value(t.metric, rows, wall) if rows else None
        else:
            value = row.get(t.metric) if row else None
        if value in (None, ""):
            out.append((t, None, False))
            continue
        out.append((t, float(value), passes(t, float(value))))
    return out


class LiveCheck:
    """The abort bounds of one running phase, checked against the workers' interval reports as they arrive."""

    def __init__(self, bounds: list[Threshold], interval_s: float):
        self.bounds = bounds
        self.interval_s = interval_s
        self.by_op: dict[str, Counts] = {}
        self.seen_s = 0.0  # the end of the latest interval reported, in seconds since the release
        self.fired: tuple[Threshold, float, float] | None = None
        self.acted = False  # the coordinator has told the workers to finish

    def add(self, interval) -> None:
        """A worker's finished interval (loadgen.engine.protocol.Interval)."""
        for name, part in interval.interval["ops"].items():
            self.by_op.setdefault(name, Counts(BUCKET_DIGITS)).merge(Counts.decode(part, BUCKET_DIGITS))
        self.seen_s = max(self.seen_s, (interval.index + 1) * self.interval_s)

    def value(self, t: Threshold) -> float | None:
        names = [t.operation] if t.operation else list(self.by_op)
        parts = [self.by_op[n] for n in names if n in self.by_op]
        if not parts or not self.seen_s:
            return None
        total = Counts.merged(parts, BUCKET_DIGITS)
        derived = {
            "ops": total.ops,
            "count": total.ops,
            "errors": total.errors,
            "error_rate": total.error_rate,
            "ops_per_s": per_second(total.ops, self.seen_s),
            "rows_per_s": per_second(total.rows, self.seen_s),
        }
        if t.metric in derived:
            return derived[t.metric]
        return total.latency()[t.metric] if total.ops else None

    def check(self) -> tuple[Threshold, float, float] | None:
        """The first abort bound breached by what was measured so far: (bound, value, seconds into the phase)."""
        if self.fired is None:
            for t in self.bounds:
                if self.seen_s < t.delay_s:
                    continue
                value = self.value(t)
                if value is not None and not passes(t, value):
                    self.fired = (t, value, self.seen_s)
                    break
        return self.fired
