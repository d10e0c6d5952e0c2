"""Thresholds against what was measured: at the end of a run against the phases' final rows (evaluate), and during
a phase against the workers' interval reports (LiveCheck, for `abort: true`). The expressions themselves are
parsed with the scenario (loadgen/config/thresholds.py)."""

from __future__ import annotations

import statistics

from hdrh.histogram import HdrHistogram

from loadgen.config.thresholds import Threshold, passes
from loadgen.results.counts import BUCKET_DIGITS, latency_ms, new_histogram


def operation_value(metric: str, rows: list[dict], wall_s: float | None) -> float | None:
    """A per-operation metric from its latency.csv rows (one per repetition: their median)."""
    values = []
    for row in rows:
        count, errors = float(row["count"]), float(row["errors"])
        if metric == "error_rate":
            values.append(errors / (count + errors) if count + errors else 0.0)
        elif metric == "ops_per_s":
            if wall_s:
                values.append(count / wall_s)
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
        self.by_op: dict[str, dict] = {}
        self.seen_s = 0.0  # the end of the latest interval reported, in seconds since the release
        self.fired: tuple[Threshold, float, float] | None = None
        self.acted = False  # the coordinator has told the workers to finish

    def add(self, message: dict) -> None:
        for name, part in message["interval"]["ops"].items():
            entry = self.by_op.setdefault(name, {"ops": 0, "rows": 0, "errors": 0, "h": new_histogram(BUCKET_DIGITS)})
            entry["ops"] += part["ops"]
            entry["rows"] += part["rows"]
            entry["errors"] += part["errors"]
            entry["h"].add(HdrHistogram.decode(part["histogram"]))
        self.seen_s = max(self.seen_s, (message["index"] + 1) * self.interval_s)

    def value(self, t: Threshold) -> float | None:
        names = [t.operation] if t.operation else list(self.by_op)
        entries = [self.by_op[n] for n in names if n in self.by_op]
        if not entries or not self.seen_s:
            return None
        ops = sum(e["ops"] for e in entries)
        errors = sum(e["errors"] for e in entries)
        metric = t.metric
        if metric in ("ops", "count"):
            return ops
        if metric == "errors":
            return errors
        if metric == "error_rate":
            return errors / (ops + errors) if ops + errors else 0.0
        if metric == "ops_per_s":
            return ops / self.seen_s
        if metric == "rows_per_s":
            return sum(e["rows"] for e in entries) / self.seen_s
        if not ops:
            return None
        merged = new_histogram(BUCKET_DIGITS)
        for e in entries:
            merged.add(e["h"])
        return latency_ms(merged)[metric]

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
