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
from dataclasses import dataclass

from loadgen import columns
from loadgen.config.fields import WEEK_S, excerpt, suggestion

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
    hint = suggestion(parts[-1], METRICS if len(parts) == 2 else OPERATION_METRICS) if len(parts) in (2, 3) else ""
    raise ValueError(
        f"{excerpt(key)}: unknown metric{hint}; the key must be PHASE.METRIC with METRIC one of: "
        f"{', '.join(METRICS)}; or PHASE.OPERATION.METRIC with METRIC one of: {', '.join(OPERATION_METRICS)}"
    )


def bounds_of(value) -> tuple[list[str], bool, float]:
    """A threshold's value as (bounds, abort, delay_s): a string, a list of strings, or a mapping."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"bounds", "abort", "delay_s"})
        if unknown:
            hint = suggestion(unknown[0], ("bounds", "abort", "delay_s"))
            raise ValueError(f"unknown key {excerpt(unknown[0])}{hint}; allowed: bounds, abort, delay_s")
        if "bounds" not in value:
            raise ValueError('give the bounds, e.g. {bounds: ["< 500"], abort: true}')
        abort, delay = value.get("abort", False), value.get("delay_s", 0)
        if not isinstance(abort, bool):
            raise ValueError(f"abort: {excerpt(abort)} must be true or false")
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= WEEK_S:
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
