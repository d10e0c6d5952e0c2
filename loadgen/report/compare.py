"""`loadgen compare` as text: a rich table for the terminal, markdown for a pull request, CSV for a spreadsheet.

Every output names the sides first (the baseline first: hyperd version, the run's status, its thresholds), then one
row per phase and metric, then one line per phase saying which side is faster. One number format per column: values
`1,234,567.89`, changes in words with their interval."""

from rich.table import Table

from loadgen.report.terminal import shown
from loadgen.results.compare import Comparison
from loadgen.results.files import csv_rows_text
from loadgen.results.judge import LARGE, LEVEL, MIN_REPS, NOT_MEASURED, TOO_FEW


def value(v: float) -> str:
    return f"{v:,.2f}"


def verdict_cell(v, resource: bool) -> str:
    """`worse: 23.0 % lower, 95 % interval 18.1–27.9 % lower`; a resource metric says so."""
    words = v.words()
    return words if not resource or v.verdict == "resource" else f"{words} (resource)"


SHORT = {TOO_FEW: "too few reps", LARGE: "large, unjudged"}


def short_cell(v, resource: bool) -> str:
    """The terminal's cell: `worse -23.0 % [-27.9, -18.1]`, `+16.0 % too few reps` (the note says each once)."""
    if v.verdict == NOT_MEASURED:
        return "not measured"
    change = f"{v.change_pct:+.1f} %"
    if v.interval is not None and v.verdict != "resource":
        low, high = v.interval
        return f"{v.verdict} {change} [{low:+.1f}, {high:+.1f}]"
    kind = SHORT.get(v.verdict, v.verdict.split(" (")[0])
    return f"{change} {kind}" + (" (resource)" if resource and v.verdict != "resource" else "")


def headers(cmp: Comparison) -> list[str]:
    return [f"{'baseline' if i == 0 else chr(ord('B') + i - 1)}: {s.header()}" for i, s in enumerate(cmp.sides)]


def note() -> str:
    return (
        f"verdicts: the {LEVEL} interval of the change (Hodges–Lehmann, exact Mann–Whitney) over at least {MIN_REPS} "
        f"measured repetitions on each side, [low, high] in %; fewer: `{TOO_FEW}`, or `{LARGE}` past ×2 or ÷2; "
        "resource metrics (CPU, memory, parallelism) are shown, not judged (--judge-resources)"
    )


def side_names(cmp: Comparison) -> list[str]:
    return ["baseline"] + [chr(ord("B") + i) for i in range(len(cmp.sides) - 1)]


def render_markdown(cmp: Comparison) -> str:
    names = side_names(cmp)
    lines = [f"- **{h}**" for h in headers(cmp)] + [""]
    lines.append("| phase | metric | " + " | ".join(names) + " | " + " | ".join(f"{n} vs baseline" for n in names[1:]))
    lines[-1] += " |"
    lines.append("|" + "---|" * (2 + 2 * len(names) - 1))
    for r in cmp.rows:
        cells = " | ".join(verdict_cell(v, r["resource"]) for v in r["judged"])
        lines.append(f"| {r['phase']} | {r['metric']} | {' | '.join(map(value, r['values']))} | {cells} |")
    said = [f"- {line}" for line in cmp.phase_lines()] + [f"- {line}" for line in cmp.plan_changes()]
    return "\n".join(lines + [""] + said + ["", note(), ""])


def render_csv(cmp: Comparison) -> str:
    """One row per phase, metric and side after the baseline (a spreadsheet filters on `side`)."""
    header = ["phase", "metric", "resource", "baseline", "baseline_value", "side", "value", "hyperd_version",
              "status", "thresholds", "change_pct", "verdict", "ci_low_pct", "ci_high_pct"]  # fmt: skip
    lines = []
    base = cmp.baseline
    for r in cmp.rows:
        for side, v, number in zip(cmp.sides[1:], r["judged"], r["values"][1:], strict=True):
            low, high = (f"{x:.2f}" for x in v.interval) if v.interval else ("", "")
            lines.append([
                r["phase"], r["metric"], "yes" if r["resource"] else "", base.label, f"{r['values'][0]:.6g}",
                side.label, f"{number:.6g}", side.hyperd_version, side.status, side.thresholds,
                f"{v.change_pct:.2f}", v.verdict, low, high,
            ])  # fmt: skip
    return csv_rows_text(header, lines)


def render_table(cmp: Comparison) -> list:
    """What the terminal prints: the sides, the table, a line per phase."""
    names = side_names(cmp)
    table = Table(title="compare", title_justify="left")
    for name in ("phase", "metric", *names, *(f"{n} vs baseline" for n in names[1:])):
        # names and verdicts whole (a row may wrap its numbers, never cut a metric's name)
        table.add_column(shown(name), justify="left" if name in ("phase", "metric") else "right",
                         no_wrap=name == "metric", overflow="fold")  # fmt: skip
    for r in cmp.rows:
        cells = [short_cell(v, r["resource"]) for v in r["judged"]]
        table.add_row(*map(shown, (r["phase"], r["metric"], *map(value, r["values"]), *cells)))
    tail = [note(), *cmp.phase_lines(), *cmp.plan_changes()]
    return [*map(shown, headers(cmp)), table, *map(shown, tail)]
