"""`loadgen compare RUN_A RUN_B …`: per phase and metric, each run's value, its % change from the first run (the
baseline) and a verdict that takes the metric's direction and its spread into account.

The verdict: with at least MIN_REPS measured repetitions on both sides, a bootstrap 95% interval of the relative
change of the median (resampling each run's repetitions, seeded, so the same runs always give the same answer);
`better` or `worse` when the interval excludes 0 and the change reaches PRACTICAL_PCT, else `within noise`. With
fewer repetitions there is no spread to judge by: `single run`.
"""

from pathlib import Path

import numpy as np

from loadgen import columns
from loadgen.errors import NotARunFolder, ScenarioError
from loadgen.results import csv_rows_text, final_rows, is_aggregate, read_run_table

METRICS = columns.HEADLINE  # the metrics judged (loadgen/columns.py)
MIN_REPS = 5  # with 3 against 3, a percentile interval calls 1 in 10 unchanged pairs different
PRACTICAL_PCT = 1.0  # a change smaller than this is "within noise" however tight the spread
RESAMPLES = 2000
CONFIDENCE = 0.95


class Run:
    """A run folder's phases: the final row (median when repeated) and the measured repetitions."""

    def __init__(self, path: str):
        file = Path(path)
        if file.is_dir():
            file = file / "summary.csv"
        if not file.is_file():
            raise NotARunFolder(f"{path}: not a run folder: no summary.csv")
        rows = read_run_table(file)
        if not rows:
            raise NotARunFolder(f"{path}: summary.csv has no phases")
        self.run_id = rows[0]["run_id"]
        self.final = {phase_label(r): r for r in final_rows(rows)}
        self.repetitions: dict[str, list[dict]] = {}
        for r in rows:
            if not is_aggregate(r) and r.get("status") == "ok":
                self.repetitions.setdefault(phase_label(r), []).append(r)

    def samples(self, phase: str, metric: str) -> list[float]:
        return [r.number(metric) for r in self.repetitions.get(phase, []) if r.get(metric) not in ("", None)]


def load_run(path: str) -> tuple[str, dict[str, dict]]:
    """(run_id, phase → final summary row) of a run folder (or its summary.csv)."""
    run = Run(path)
    return run.run_id, run.final


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
    runs = [Run(p) for p in paths]
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


def judged(change: float, verdict_text: str, interval) -> str:
    """`+3.2% better [+1.0, +5.1]` for a table cell."""
    shown = f"{change:+.1f}% {verdict_text}"
    return shown + (f" [{interval[0]:+.1f}, {interval[1]:+.1f}]" if interval else "")


def render_markdown(ids: list[str], rows: list[dict]) -> str:
    """A markdown table for a pull request: values, then each run's change against the first with its verdict and
    the 95% interval of the change (when there are repetitions)."""
    head = "| phase | metric | " + " | ".join(ids) + " | " + " | ".join(f"vs {i}" for i in ids[1:]) + " |"
    lines = [head, "|" + "---|" * (2 + len(ids) + len(ids) - 1)]
    for r in rows:
        values = " | ".join(f"{v:,.4g}" for v in r["values"])
        cells = " | ".join(judged(*j) for j in zip(r["changes"], r["verdicts"], r["intervals"], strict=True))
        lines.append(f"| {r['phase']} | {r['metric']} | {values} | {cells} |")
    note = f"\nverdicts: bootstrap {CONFIDENCE:.0%} interval of the change of the median over the repetitions"
    return "\n".join(lines) + "\n" + note + f" (at least {MIN_REPS} each); `single run`: too few to judge\n"


def render_csv(ids: list[str], rows: list[dict]) -> str:
    header = ["phase", "metric", *ids, "change_pct", "verdict", "ci_low_pct", "ci_high_pct", "noise"]
    lines = []
    for r in rows:
        low, high = r["interval"] or ("", "")
        lines.append([
            r["phase"], r["metric"], *(f"{v:g}" for v in r["values"]), f"{r['change_pct']:.2f}", r["verdict"],
            f"{low:.2f}" if low != "" else "", f"{high:.2f}" if high != "" else "", r["noise"],
        ])  # fmt: skip
    return csv_rows_text(header, lines)


def render_table(ids: list[str], rows: list[dict]):
    from rich.table import Table

    from loadgen.terminal import shown

    table = Table(title="compare", title_justify="left")
    for name in ("phase", "metric", *ids, *(f"vs {i}" for i in ids[1:])):
        table.add_column(shown(name), justify="left" if name in ("phase", "metric") else "right")
    for r in rows:
        cells = [judged(*j) for j in zip(r["changes"], r["verdicts"], r["intervals"], strict=True)]
        table.add_row(*map(shown, (r["phase"], r["metric"], *(f"{v:,.4g}" for v in r["values"]), *cells)))
    return table
