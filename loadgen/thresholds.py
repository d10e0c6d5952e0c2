"""Pass/fail criteria: `thresholds: {"insert_arrow.rows_per_s": ">= 5e6", "scan.p99_ms": "< 50"}`.

A key is PHASE.METRIC (a numeric summary.csv column) or PHASE.OPERATION.METRIC (a latency.csv figure of one
operation); a value is a bound (an operator and a number), a list of bounds, or
`{bounds: [...], abort: true, delay_s: 10}`. All bounds are checked at the end of a run against the phase's
summary row (the median row when the scenario repeats) or its operation's latency rows. A bound with `abort: true`
is also checked during the phase on every interval the workers report, over everything measured so far in the
phase (like k6's abortOnFail), once `delay_s` have passed: a breach ends the phase at once, keeps what was
measured and fails the run (exit 1), naming the bound and when it fired.
"""

from __future__ import annotations

import operator
import re
import statistics
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from loadgen import columns
from loadgen.metrics import BUCKET_DIGITS, latency_ms, new_histogram
from loadgen.workloads.base import excerpt

METRICS = columns.METRIC_NAMES  # numeric summary.csv columns with a direction (loadgen/columns.py)
OPERATION_METRICS = ["count", "errors", "error_rate", "ops_per_s", "min_ms", "p50_ms", "p90_ms", "p95_ms",
                     "p99_ms", "p99_9_ms", "max_ms", "mean_ms"]  # fmt: skip
# what the coordinator can compute from the workers' interval reports while a phase runs
LIVE_METRICS = ["ops", "ops_per_s", "rows_per_s", "errors", "error_rate", "p50_ms", "p90_ms", "p95_ms", "p99_ms",
                "p99_9_ms", "max_ms"]  # fmt: skip
LIVE_OPERATION_METRICS = ["count", "ops_per_s", "errors", "error_rate", "p50_ms", "p90_ms", "p95_ms", "p99_ms",
                          "p99_9_ms", "max_ms"]  # fmt: skip
OPERATORS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
EXPRESSION = re.compile(r"^\s*(>=|<=|==|>|<)\s*([-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class Threshold:
    phase: str
    metric: str
    op: str
    limit: float
    operation: str = ""  # a per-operation bound: latency.csv's row of this operation
    abort: bool = False
    delay_s: float = 0.0

    @property
    def key(self) -> str:
        return ".".join(p for p in (self.phase, self.operation, self.metric) if p)

    @property
    def text(self) -> str:
        return f"{self.key} {self.op} {self.limit:g}"


def split_key(key: str) -> tuple[str, str, str]:
    """PHASE.METRIC or PHASE.OPERATION.METRIC → (phase, operation, metric); ValueError with the allowed forms."""
    parts = key.split(".")
    if len(parts) == 2 and parts[0] and parts[1] in METRICS:
        return parts[0], "", parts[1]
    if len(parts) == 3 and parts[0] and parts[1] and parts[2] in OPERATION_METRICS:
        return parts[0], parts[1], parts[2]
    raise ValueError(
        f"{excerpt(key)}: the key must be PHASE.METRIC with METRIC one of: {', '.join(METRICS)}; "
        f"or PHASE.OPERATION.METRIC with METRIC one of: {', '.join(OPERATION_METRICS)}"
    )


def bounds_of(value) -> tuple[list[str], bool, float]:
    """A threshold's value as (bounds, abort, delay_s): a string, a list of strings, or a mapping."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"bounds", "abort", "delay_s"})
        if unknown:
            raise ValueError(f"unknown key {excerpt(unknown[0])}; allowed: bounds, abort, delay_s")
        if "bounds" not in value:
            raise ValueError('give the bounds, e.g. {bounds: ["< 500"], abort: true}')
        abort, delay = value.get("abort", False), value.get("delay_s", 0)
        if not isinstance(abort, bool):
            raise ValueError(f"abort: {excerpt(abort)} must be true or false")
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 7 * 24 * 3600:
            raise ValueError(f"delay_s: {excerpt(delay)} must be a number of seconds from 0 to one week")
        bounds, _, _ = bounds_of(value["bounds"])
        return bounds, abort, float(delay)
    if isinstance(value, list):
        if not value or not all(isinstance(v, str) for v in value):
            raise ValueError(f'{excerpt(value)}: give one or more bounds as text, e.g. [">= 1000", "< 5000"]')
        return list(value), False, 0.0
    return [value], False, 0.0


def parse_all(key: str, value) -> list[Threshold]:
    """Every bound of one `thresholds:` entry; ValueError naming what is wrong and what is allowed."""
    phase, operation, metric = split_key(key)
    bounds, abort, delay = bounds_of(value)
    out = []
    for expression in bounds:
        match = EXPRESSION.match(str(expression))
        if not match:
            operators = " ".join(OPERATORS)
            raise ValueError(f'{excerpt(expression)}: write an operator ({operators}) and a number, e.g. ">= 5e6"')
        out.append(Threshold(phase, metric, match.group(1), float(match.group(2)), operation, abort, delay))
    if abort:
        live = LIVE_OPERATION_METRICS if operation else LIVE_METRICS
        if metric not in live:
            raise ValueError(f"abort: {metric} is known only at the end of a phase; during it: {', '.join(live)}")
    return out


def parse(key: str, expression) -> Threshold:
    return parse_all(key, expression)[0]


def passes(t: Threshold, value: float) -> bool:
    return OPERATORS[t.op](value, t.limit)


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
