"""`loadgen compare RUN_A RUN_B …`: per phase and metric, each run's value, its % change from the first run (the
baseline) and a verdict that takes the metric's direction and its spread into account.

The verdict: with at least MIN_REPS measured repetitions on both sides, a bootstrap 95% interval of the relative
change of the median (resampling each run's repetitions, seeded, so the same runs always give the same answer);
`better` or `worse` when the interval excludes 0 and the change reaches PRACTICAL_PCT, else `within noise`. With
fewer repetitions there is no spread to judge by: `single run`.
"""

import numpy as np

from loadgen import columns
from loadgen.errors import ScenarioError
from loadgen.results.run_folder import RunFolder
from loadgen.results.tables import final_rows, is_aggregate

METRICS = columns.HEADLINE  # the metrics judged (loadgen/columns.py)
MIN_REPS = 5  # with 3 against 3, a percentile interval calls 1 in 10 unchanged pairs different
PRACTICAL_PCT = 1.0  # a change smaller than this is "within noise" however tight the spread
RESAMPLES = 2000
CONFIDENCE = 0.95


class Phases:
    """A run's phases as compare judges them: each phase's final row (median when repeated) and its measured
    repetitions."""

    def __init__(self, run: RunFolder):
        self.run_id = run.run_id
        self.final = {phase_label(r): r for r in final_rows(run.summary)}
        self.repetitions: dict[str, list[dict]] = {}
        for r in run.summary:
            if not is_aggregate(r) and r.get("status") == "ok":
                self.repetitions.setdefault(phase_label(r), []).append(r)

    def samples(self, phase: str, metric: str) -> list[float]:
        return [r.number(metric) for r in self.repetitions.get(phase, []) if r.get(metric) not in ("", None)]


def phase_label(row: dict) -> str:
    """The phase, with its matrix point's parameters when there are any: `load [workers=2]`."""
    return f"{row['phase']} [{row['parameters']}]" if row.get("parameters") else row["phase"]


def bootstrap_change(base: list[float], other: list[float], seed: int = 0) -> tuple[float, float]:
    """The bootstrap CONFIDENCE interval of (median(other) − median(base)) ÷ median(base), in %."""
    rng = np.random.default_rng(seed)
    a, b = np.asarray(base, dtype=float), np.asarray(other, dtype=float)
    ma = np.median(rng.choice(a, size=(RESAMPLES, a.size)), axis=1)
    mb = np.median(rng.choice(b, size=(RESAMPLES, b.size)), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(ma != 0, 100 * (mb - ma) / ma, 0.0)
    tail = 100 * (1 - CONFIDENCE) / 2
    return float(np.percentile(change, tail)), float(np.percentile(change, 100 - tail))


def verdict(metric: str, base: list[float], other: list[float]) -> tuple[str, tuple[float, float] | None]:
    if len(base) < MIN_REPS or len(other) < MIN_REPS:
        return "single run", None
    low, high = bootstrap_change(base, other)
    if low <= 0 <= high or max(abs(low), abs(high)) < PRACTICAL_PCT:
        return "within noise", (low, high)
    up = low > 0
    better = up if columns.by_name()[metric].better == "higher" else not up
    return ("better" if better else "worse"), (low, high)


def compare(paths: list[str]) -> tuple[list[str], list[dict]]:
    """A row per phase and metric: values (one per run), change_pct and verdict of the last run against the first,
    and `changes`/`verdicts`/`intervals` of every run against the first."""
    runs = [Phases(RunFolder.read(p, summary_only=True)) for p in paths]
    ids = [run.run_id for run in runs]
    base = runs[0]
    out = []
    for phase in base.final:
        if not all(phase in run.final for run in runs):
            continue
        for metric in METRICS:
            if any(run.final[phase].get(metric) in ("", None) for run in runs):
                continue
            numbers = [run.final[phase].number(metric) for run in runs]
            changes = [100 * (n - numbers[0]) / numbers[0] if numbers[0] else 0.0 for n in numbers[1:]]
            judged = [verdict(metric, base.samples(phase, metric), run.samples(phase, metric)) for run in runs[1:]]
            last, interval = judged[-1]
            out.append({
                "phase": phase, "metric": metric, "values": numbers, "change_pct": changes[-1],
                "noise": {"within noise": "noise", "single run": "no repetitions"}.get(last, ""),
                "verdict": last, "interval": interval,
                "changes": changes, "verdicts": [v for v, _ in judged], "intervals": [i for _, i in judged],
            })  # fmt: skip
    if not out:
        raise ScenarioError("the runs have no phase in common")
    return ids, out
