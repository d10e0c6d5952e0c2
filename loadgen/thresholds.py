"""Pass/fail criteria for CI: `thresholds: {"insert_arrow.rows_per_s": ">= 5e6", "scan.p99_ms": "< 50"}`.

A key is PHASE.METRIC (a numeric summary.csv column); a value is an operator and a number. They are checked
at the end of a run against the phase's summary row (the median row when the scenario repeats).
"""

import operator
import re
from dataclasses import dataclass

from loadgen import columns
from loadgen.workloads.base import excerpt

METRICS = columns.METRIC_NAMES  # numeric summary.csv columns with a direction (loadgen/columns.py)
OPERATORS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
EXPRESSION = re.compile(r"^\s*(>=|<=|==|>|<)\s*([-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class Threshold:
    phase: str
    metric: str
    op: str
    limit: float

    @property
    def text(self) -> str:
        return f"{self.phase}.{self.metric} {self.op} {self.limit:g}"


def parse(key: str, expression: str) -> Threshold:
    """Raise ValueError with the allowed forms when the key or the expression is malformed."""
    phase, _, metric = key.partition(".")
    if not phase or metric not in METRICS:
        raise ValueError(f"{excerpt(key)}: the key must be PHASE.METRIC with METRIC one of: {', '.join(METRICS)}")
    match = EXPRESSION.match(str(expression))
    if not match:
        operators = " ".join(OPERATORS)
        raise ValueError(f'{excerpt(expression)}: write an operator ({operators}) and a number, e.g. ">= 5e6"')
    return Threshold(phase, metric, match.group(1), float(match.group(2)))


def evaluate(thresholds: list[Threshold], summaries: dict[str, dict]) -> list[tuple[Threshold, float | None, bool]]:
    """(threshold, measured value, passed) for each; a phase that did not run, or an empty value, fails."""
    out = []
    for t in thresholds:
        row = summaries.get(t.phase)
        value = row.get(t.metric) if row else None
        if value in (None, ""):
            out.append((t, None, False))
            continue
        out.append((t, float(value), OPERATORS[t.op](float(value), t.limit)))
    return out
