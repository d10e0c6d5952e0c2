"""`loadgen compare` as text: a rich table for the terminal, markdown for a pull request, CSV for a spreadsheet."""

from rich.table import Table

from loadgen.report.terminal import shown
from loadgen.results.compare import CONFIDENCE, MIN_REPS
from loadgen.results.files import csv_rows_text


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
    table = Table(title="compare", title_justify="left")
    for name in ("phase", "metric", *ids, *(f"vs {i}" for i in ids[1:])):
        table.add_column(shown(name), justify="left" if name in ("phase", "metric") else "right")
    for r in rows:
        cells = [judged(*j) for j in zip(r["changes"], r["verdicts"], r["intervals"], strict=True)]
        table.add_row(*map(shown, (r["phase"], r["metric"], *(f"{v:,.4g}" for v in r["values"]), *cells)))
    return table
