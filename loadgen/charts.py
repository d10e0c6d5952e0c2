"""`loadgen report RUN`: a self-contained HTML report with charts, from a run folder's CSVs.

PNG charts are drawn with matplotlib (headless Agg backend) into RUN/charts/ and embedded in RUN/report.html
as data URIs, so the one HTML file can be mailed or attached to a CI job:
  throughput.png  rows/s and operations/s over the run (timeseries.csv)
  latency.png     p50 / p95 / p99 per phase (summary.csv)
  resources.png   CPU % and RSS of hyperd, each worker and the coordinator over the run (samples.csv)
  workers.png     rows/s of each worker per phase (workers.csv): imbalance shows at a glance
  matrix.png      with a matrix: every phase's rows/s across the points (e.g. throughput vs workers)
"""

import base64
import csv
import html
import json
from pathlib import Path

from loadgen import results
from loadgen.errors import ScenarioError
from loadgen.results import final_rows


def read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def epoch(utc: str) -> float:
    return results.parse_utc(utc)


def draw(run_dir: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = read_csv(run_dir / "summary.csv")
    if not summary:
        raise ScenarioError(f"{run_dir}: not a run folder (no summary.csv)")
    out_dir = run_dir / "charts"
    out_dir.mkdir(exist_ok=True)
    run_start = epoch(json.loads((run_dir / "run.json").read_text())["started_utc"])
    phase_spans = [
        (r["phase"], epoch(r["started_utc"]) - run_start, float(r["wall_s"] or 0))
        for r in summary
        if r.get("started_utc") and not results.is_aggregate(r)
    ]
    charts = {}

    def shade(ax):
        for i, (name, start, wall) in enumerate(phase_spans):
            ax.axvspan(start, start + wall, color=f"C{i % 10}", alpha=0.08)
            ax.text(start, 1.0, name, transform=ax.get_xaxis_transform(), fontsize=7, va="bottom")

    def save(fig, name):
        path = out_dir / f"{name}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        charts[name] = path

    series = read_csv(run_dir / "timeseries.csv")
    fig, (rows_ax, ops_ax) = plt.subplots(2, 1, figsize=(10, 5), sharex=True)

    def key(r):
        return r.get("point", ""), r["phase"], r["repetition"]

    starts = {key(r): epoch(r["started_utc"]) - run_start for r in summary if r.get("started_utc")}
    for phase in dict.fromkeys(r["phase"] for r in series):
        points = [r for r in series if r["phase"] == phase]  # every point and repetition, each at its start
        xs = [starts.get(key(r), 0) + float(r["t_s"]) for r in points]
        rows_ax.plot(xs, [float(r["rows_per_s"]) for r in points], marker=".", label=phase)
        ops_ax.plot(xs, [float(r["ops_per_s"]) for r in points], marker=".", label=phase)
    rows_ax.set_ylabel("rows/s")
    ops_ax.set_ylabel("operations/s")
    ops_ax.set_xlabel("seconds since the run started")
    rows_ax.legend(fontsize=7)
    for ax in (rows_ax, ops_ax):
        shade(ax)
    save(fig, "throughput")

    finals = final_rows(summary)
    fig, ax = plt.subplots(figsize=(10, 4))
    names = [f"{r['phase']} [{r['parameters']}]" if r.get("parameters") else r["phase"] for r in finals]
    for i, column in enumerate(("p50_ms", "p95_ms", "p99_ms")):
        values = [float(r[column] or 0) for r in finals]
        ax.bar([x + (i - 1) * 0.27 for x in range(len(names))], values, width=0.27, label=column.replace("_ms", ""))
    ax.set_xticks(range(len(names)), names, rotation=20, fontsize=8)
    ax.set_ylabel("operation latency (ms)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    save(fig, "latency")

    samples = read_csv(run_dir / "samples.csv")
    fig, (cpu_ax, rss_ax) = plt.subplots(2, 1, figsize=(10, 5), sharex=True)
    for process in sorted({r["process"] for r in samples} - {"host"}):
        points = [r for r in samples if r["process"] == process]
        xs = [float(r["t_s"]) for r in points]
        cpu_ax.plot(xs, [float(r["cpu_pct"]) for r in points], label=process, linewidth=1)
        rss_ax.plot(xs, [float(r["rss_mib"]) for r in points], label=process, linewidth=1)
    cpu_ax.set_ylabel("CPU % of one core")
    rss_ax.set_ylabel("RSS (MiB)")
    rss_ax.set_xlabel("seconds since the run started")
    cpu_ax.legend(fontsize=7, ncol=4)
    for ax in (cpu_ax, rss_ax):
        shade(ax)
    save(fig, "resources")

    points = list(dict.fromkeys(r.get("parameters", "") for r in finals))
    if len(points) > 1:  # a matrix run: every phase's rows/s across the points
        fig, ax = plt.subplots(figsize=(10, 4))
        for phase in dict.fromkeys(r["phase"] for r in finals):
            by_point = {r.get("parameters", ""): float(r["rows_per_s"] or 0) for r in finals if r["phase"] == phase}
            ax.plot(range(len(points)), [by_point.get(p, float("nan")) for p in points], marker="o", label=phase)
        ax.set_xticks(range(len(points)), points, rotation=20, fontsize=7)
        ax.set_ylabel("rows/s")
        ax.set_title("matrix: throughput per point", fontsize=9)
        ax.legend(fontsize=7)
        save(fig, "matrix")

    workers = read_csv(run_dir / "workers.csv")
    fig, ax = plt.subplots(figsize=(10, 4))
    phases = list(dict.fromkeys(r["phase"] for r in workers))
    numbers = sorted({int(r["worker"]) for r in workers})
    width = 0.8 / max(1, len(numbers))
    for j, number in enumerate(numbers):
        values = []
        for phase in phases:
            rates = [float(r["rows_per_s"]) for r in workers if r["phase"] == phase and int(r["worker"]) == number]
            values.append(sum(rates) / len(rates) if rates else 0)
        ax.bar(
            [x + (j - (len(numbers) - 1) / 2) * width for x in range(len(phases))],
            values,
            width,
            label=f"worker {number}",
        )
    ax.set_xticks(range(len(phases)), phases, rotation=20, fontsize=8)
    ax.set_ylabel("rows/s per worker")
    ax.legend(fontsize=7, ncol=4)
    save(fig, "workers")
    return charts


SUMMARY_SHOWN = ("point", "parameters", "phase", "repetition", "method", "workers", "status", "wall_s",
                 "rows_per_s", "mib_per_s", "ops_per_s", "parallelism", "p50_ms", "p99_ms", "hyperd_cpu_pct_mean",
                 "hyperd_rss_mib_peak", "verified")  # fmt: skip


def write_report(run_dir: str) -> Path:
    run_dir = Path(run_dir)
    charts = draw(run_dir)
    status = json.loads((run_dir / "run.json").read_text())
    environment = json.loads((run_dir / "environment.json").read_text())
    summary = read_csv(run_dir / "summary.csv")
    head = "".join(f"<th>{html.escape(c)}</th>" for c in SUMMARY_SHOWN)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in SUMMARY_SHOWN) + "</tr>" for r in summary
    )
    images = "".join(
        f'<h2>{name}</h2><img alt="{name}" src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}">'
        for name, path in charts.items()
    )
    machine = (
        f"{environment.get('cpu_model', '')}, {environment.get('cpu_logical', '')} cores, "
        f"{environment.get('memory_total_mib', '')} MiB RAM; {environment.get('hyperd_version', '')}"
    )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>loadgen {html.escape(status["run_id"])}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}} img{{max-width:100%}}</style></head>
<body><h1>loadgen run {html.escape(status["run_id"])}</h1>
<p>status <b>{html.escape(status["status"])}</b> {html.escape(status.get("error") or "")} —
{html.escape(status["started_utc"])} to {html.escape(status.get("finished_utc") or "")}</p>
<p>{html.escape(machine)}</p>
<table><tr>{head}</tr>{body}</table>{images}
<script>
window.addEventListener("load", () => {{
  const ok = [...document.images].every(i => i.complete && i.naturalWidth > 0);
  document.body.dataset.rendered = ok && document.images.length === {len(charts)} ? "yes" : "no";
}});
</script></body></html>
"""
    path = run_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
