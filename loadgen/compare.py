"""`loadgen compare RUN_A RUN_B …`: per phase and metric, each run's value and the % change from the first.

A change smaller than twice the larger coefficient of variation of the runs' repetitions is flagged as noise;
without repetitions there is nothing to judge noise by, and the flag says so.
"""

import csv
from pathlib import Path

from loadgen import columns
from loadgen.errors import ScenarioError
from loadgen.results import final_rows

METRICS = columns.HEADLINE  # the metrics judged (loadgen/columns.py)


def load_run(path: str) -> tuple[str, dict[str, dict]]:
    """(run_id, phase → final summary row) of a run folder (or its summary.csv)."""
    file = Path(path)
    if file.is_dir():
        file = file / "summary.csv"
    try:
        with open(file, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ScenarioError(f"{path}: not a run folder: {exc.strerror}") from None
    if not rows or "phase" not in rows[0]:
        raise ScenarioError(f"{path}: summary.csv has no phases")
    return rows[0]["run_id"], {phase_label(row): row for row in final_rows(rows)}


def phase_label(row: dict) -> str:
    """The phase, with its matrix point's parameters when there are any: `load [workers=2]`."""
    return f"{row['phase']} [{row['parameters']}]" if row.get("parameters") else row["phase"]


def compare(paths: list[str]) -> tuple[list[str], list[dict]]:
    runs = [load_run(p) for p in paths]
    ids = [run_id for run_id, _ in runs]
    base = runs[0][1]
    out = []
    for phase in base:
        if not all(phase in rows for _, rows in runs):
            continue
        cvs = [float(rows[phase].get("rows_per_s_cv_pct") or 0) for _, rows in runs]
        for metric in METRICS:
            values = [rows[phase].get(metric, "") for _, rows in runs]
            if any(v in ("", None) for v in values):
                continue
            numbers = [float(v) for v in values]
            first, last = numbers[0], numbers[-1]
            change = 100 * (last - first) / first if first else 0.0
            if max(cvs) > 0:
                noise = "noise" if abs(change) < 2 * max(cvs) else ""
            else:
                noise = "no repetitions"
            out.append({"phase": phase, "metric": metric, "values": numbers, "change_pct": change, "noise": noise})
    if not out:
        raise ScenarioError("the runs have no phase in common")
    return ids, out


def render_markdown(ids: list[str], rows: list[dict]) -> str:
    head = "| phase | metric | " + " | ".join(ids) + " | change | noise |"
    lines = [head, "|" + "---|" * (len(ids) + 4)]
    for r in rows:
        values = " | ".join(f"{v:,.4g}" for v in r["values"])
        lines.append(f"| {r['phase']} | {r['metric']} | {values} | {r['change_pct']:+.1f}% | {r['noise']} |")
    return "\n".join(lines) + "\n"


def render_csv(ids: list[str], rows: list[dict]) -> str:
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["phase", "metric", *ids, "change_pct", "noise"])
    for r in rows:
        writer.writerow(
            [r["phase"], r["metric"], *(f"{v:g}" for v in r["values"]), f"{r['change_pct']:.2f}", r["noise"]]
        )
    return out.getvalue()


def render_table(ids: list[str], rows: list[dict]):
    from rich.table import Table

    table = Table(title="compare", title_justify="left")
    for name in ("phase", "metric", *ids, "change", "noise"):
        table.add_column(name, justify="right" if name not in ("phase", "metric", "noise") else "left")
    for r in rows:
        change = f"{r['change_pct']:+.1f}%"
        table.add_row(r["phase"], r["metric"], *(f"{v:,.4g}" for v in r["values"]), change, r["noise"])
    return table
