"""`loadgen report RUN [RUN …]`: one self-contained, interactive HTML file (and PNGs of its charts).

One run: RUN/report.html — the phases, a Gatling-style statistics table per phase × operation (sortable),
throughput and latency over time, the latency percentile spectrum per operation, CPU and memory of hyperd vs the
workers, errors over time with their messages, per-worker bars, and for a matrix or repeated run every metric
across the points and the spread of the repetitions. Several runs: RUN_A/compare.html (or --output) — the
per-metric change from loadgen/results/compare.py with its noise flag, and the runs' charts overlaid.

Charts are Plotly (hover, zoom, legend toggles) with plotly.js embedded once, so the file opens offline — its
basic bundle (scatter, bar and pie traces, a quarter of the full one), vendored as assets/plotly-basic.min.js;
PNGs of the same charts (loadgen/report/png.py, matplotlib) go to RUN/charts/ for READMEs and documents. The page
records how many points each chart drew into `window.loadgenRender` (and `body[data-rendered]`), which the browser
test reads.
"""

import html
import json
import math
import os
import re
from functools import cache
from importlib import resources
from pathlib import Path

from loadgen.errors import LoadgenError, ScenarioError
from loadgen.report.compare import note as verdict_note
from loadgen.report.model import PALETTE, SPECTRUM, Chart, Panel, RunCharts, Trace, band_labels, num, r4, spectrum_x
from loadgen.results import compare
from loadgen.results import files as results
from loadgen.results.tables import is_aggregate

# ------------------------------------------------------------------------------------- numbers for people


def fmt_count(value) -> str:
    v = num(value)
    return "" if v is None else f"{v:,.0f}"


def fmt_sig(value, digits: int = 3) -> str:
    """3 significant digits, thousands separated above 1000: 0.0123, 1.23, 12.3, 123, 1,234."""
    v = num(value)
    if v is None:
        return ""
    if v == 0:
        return "0"
    if abs(v) >= 10 ** (digits - 1):
        return f"{v:,.0f}"
    decimals = digits - 1 - math.floor(math.log10(abs(v)))
    text = f"{v:.{decimals}f}"
    if len(text.replace("-", "").replace(".", "").lstrip("0")) > digits:  # 9.996 rounded up to 10.00
        text = f"{v:.{max(0, decimals - 1)}f}"
    return text


def fmt_rate(value) -> str:
    """Rates with K/M/G: 21.8M, 512K, 950, 12.5."""
    v = num(value)
    if v is None:
        return ""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(v) >= scale * 0.9995:
            return f"{float(f'{v / scale:.3g}'):g}{unit}"
    return fmt_sig(v)


def fmt_pct(value) -> str:
    v = num(value)
    return "" if v is None else f"{fmt_sig(v)}%"


# --------------------------------------------------------------------------------------------- tables


def table(columns: list[tuple[str, str]], rows: list[list], table_id: str) -> str:
    """A sortable table: columns (title, kind) with kind 'text' or 'num'; rows of (shown, sort value) pairs."""
    head = "".join(f'<th data-kind="{kind}" title="click to sort">{html.escape(title)}</th>' for title, kind in columns)
    body = []
    for row in rows:
        cells = []
        for (shown, value), (_, kind) in zip(row, columns, strict=True):
            sort = "" if value is None else html.escape(str(value), quote=True)
            cells.append(f'<td class="{kind}" data-v="{sort}">{html.escape(str(shown))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="scroll"><table class="sortable" id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def cell(value, formatter=fmt_sig):
    return formatter(value), num(value)


def text_cell(value):
    return value or "", value or ""


def phase_table(runs: list[RunCharts]) -> str:
    many = len(runs) > 1
    matrix = any(r.matrix for r in runs)
    repeated = any(r.repeated for r in runs)
    columns = ([("run", "text")] if many else []) + ([("point", "text")] if matrix else []) + [("phase", "text")]
    columns += [("repetition", "text")] if repeated else []
    columns += [("workload", "text"), ("method", "text"), ("workers", "num"), ("status", "text"),
                ("wall s", "num"), ("rows", "num"), ("rows/s", "num"), ("MiB/s", "num"), ("ops", "num"),
                ("ops/s", "num"), ("errors", "num"), ("p50 ms", "num"), ("p95 ms", "num"), ("p99 ms", "num"),
                ("parallelism", "num"), ("hyperd CPU %", "num"), ("hyperd RSS MiB", "num"),
                ("workers CPU %", "num"), ("verified", "text")]  # fmt: skip
    if repeated:
        columns += [("rows/s min–max", "text"), ("CV %", "num")]
    rows = []
    for run in runs:
        for r in run.summary:
            row = [text_cell(run.run_id)] if many else []
            row += [text_cell(r.get("parameters", ""))] if matrix else []
            row += [text_cell(r["phase"])]
            row += [text_cell(r.get("aggregate") or r.get("repetition"))] if repeated else []
            row += [text_cell(r.get("workload")), text_cell(r.get("method")), cell(r.get("workers"), fmt_count),
                    text_cell(r.get("status")), cell(r.get("wall_s")), cell(r.get("rows"), fmt_count),
                    cell(r.get("rows_per_s"), fmt_rate), cell(r.get("mib_per_s")), cell(r.get("ops"), fmt_count),
                    cell(r.get("ops_per_s"), fmt_rate), cell(r.get("errors"), fmt_count), cell(r.get("p50_ms")),
                    cell(r.get("p95_ms")), cell(r.get("p99_ms")), cell(r.get("parallelism")),
                    cell(r.get("hyperd_cpu_pct_mean")), cell(r.get("hyperd_rss_mib_peak")),
                    cell(r.get("workers_cpu_pct_mean")), text_cell(r.get("verified"))]  # fmt: skip
            if repeated:
                spread = ""
                if r.get("rows_per_s_min") not in ("", None):
                    spread = f"{fmt_rate(r['rows_per_s_min'])} – {fmt_rate(r['rows_per_s_max'])}"
                row += [(spread, spread), cell(r.get("rows_per_s_cv_pct"))]
            rows.append(row)
    return table(columns, rows, "phases")


def statistics_table(runs: list[RunCharts]) -> str:
    """Gatling's statistics: per phase × operation, counts, rates and the latency distribution."""
    many = len(runs) > 1
    matrix = any(r.matrix for r in runs)
    repeated = any(r.repeated for r in runs)
    columns = ([("run", "text")] if many else []) + ([("point", "text")] if matrix else []) + [("phase", "text")]
    columns += [("repetition", "text")] if repeated else []
    columns += [("operation", "text"), ("count", "num"), ("errors", "num"), ("error %", "num"), ("ops/s", "num"),
                ("rows/s", "num"), ("min ms", "num"), ("p50 ms", "num"), ("p90 ms", "num"), ("p95 ms", "num"),
                ("p99 ms", "num"), ("p99.9 ms", "num"), ("max ms", "num"), ("mean ms", "num")]  # fmt: skip
    rows = []
    for run in runs:
        summaries = {run.key(r): r for r in run.summary if not is_aggregate(r)}
        primaries = {}
        for lat in run.latency:
            if ":" not in lat["operation"]:
                primaries.setdefault(run.key(lat), []).append(lat["operation"])
        for lat in run.latency:
            key = run.key(lat)
            summary = summaries.get(key, {})
            wall = num(summary.get("wall_s"), 0)
            primary = ":" not in lat["operation"]
            count, errors = num(lat["count"], 0), num(lat["errors"], 0)
            ops_per_s = count / wall if primary and wall else None
            # rows are counted per phase, not per operation: shown when the phase has one kind of operation
            rows_per_s = num(summary.get("rows_per_s")) if primary and len(primaries.get(key, [])) == 1 else None
            row = [text_cell(run.run_id)] if many else []
            row += [text_cell(summary.get("parameters", ""))] if matrix else []
            row += [text_cell(lat["phase"])]
            row += [text_cell(lat.get("repetition"))] if repeated else []
            row += [text_cell(lat["operation"]), cell(count, fmt_count), cell(errors, fmt_count),
                    cell(100 * errors / (count + errors) if count + errors else 0, fmt_sig),
                    cell(ops_per_s, fmt_rate), cell(rows_per_s, fmt_rate if rows_per_s else lambda v: "")]  # fmt: skip
            for column in ("min_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p99_9_ms", "max_ms", "mean_ms"):
                row.append(cell(lat.get(column)))
            rows.append(row)
    return table(columns, rows, "statistics")


def errors_table(runs: list[RunCharts]) -> str:
    rows = []
    for run in runs:
        for e in run.error_messages():
            rows.append(
                ([text_cell(run.run_id)] if len(runs) > 1 else [])
                + [cell(e["errors"], fmt_count), text_cell(e["message"]), text_cell("; ".join(e["where"]))]
            )
    if not rows:
        return '<p class="ok">No failed operations.</p>'
    columns = ([("run", "text")] if len(runs) > 1 else []) + [("errors", "num"), ("first message", "text"),
                                                              ("where (phase · operation)", "text")]  # fmt: skip
    return table(columns, rows, "errors")


def compare_table(cmp) -> str:
    """Each side's verdict against the baseline first (so that it is on screen whatever the width of the values and
    the names), then each side's value. Sides are named baseline, B, C… (the legend above the table)."""
    names = ["baseline"] + [chr(ord("B") + i) for i in range(len(cmp.sides) - 1)]
    columns = [("phase", "text"), ("metric", "text")]
    columns += [(f"{n} vs baseline", "text") for n in names[1:]] + [(n, "num") for n in names]
    out = []
    for r in cmp.rows:
        cells = [text_cell(r["phase"]), text_cell(r["metric"])]
        for v in r["judged"]:
            words = v.words() if not r["resource"] or v.verdict == "resource" else f"{v.words()} (resource)"
            cells.append((words, v.change_pct))
        cells += [(f"{v:,.2f}", v) for v in r["values"]]
        out.append(cells)
    legend = "".join(
        f'<p class="meta"><b>{html.escape(name)}</b>: {html.escape(side.header())}</p>'
        for name, side in zip(names, cmp.sides, strict=True)
    )
    lines = "".join(f'<p class="meta">{html.escape(line)}</p>' for line in cmp.phase_lines() + cmp.plan_changes())
    return legend + table(columns, out, "compare") + lines + f'<p class="note">{html.escape(verdict_note())}</p>'


# --------------------------------------------------------------------------------------------- charts


def plotly_figure(chart: Chart) -> dict:
    n = len(chart.panels)
    levels = max((level for _, level in band_labels(chart.bands, 1)), default=-1) + 1
    top = 30 + 16 * levels
    panel_px = 230 if n > 1 else 330
    height = top + 60 + panel_px * n
    gap = 40 / height
    layout = {
        "height": height,
        "margin": {"t": top, "b": 50, "l": 70, "r": 20},
        "hovermode": "closest",
        "legend": {"orientation": "v", "font": {"size": 11}},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "barmode": "group",
        "font": {"family": "system-ui, sans-serif", "size": 12},
    }
    data = []
    usable = 1 - gap * (n - 1)
    for i, panel in enumerate(chart.panels):
        suffix = "" if i == 0 else str(i + 1)
        hi = 1 - i * (usable / n + gap)
        yaxis = {
            "domain": [max(0, hi - usable / n), hi],
            "title": {"text": panel.y_title},
            "type": "log" if panel.y_log else "linear",
            "anchor": f"x{suffix}",
            "gridcolor": "#e5e5e5",
        }
        if not panel.y_log:
            yaxis["rangemode"] = "tozero"
        xaxis = {"anchor": f"y{suffix}", "gridcolor": "#e5e5e5", "title": {"text": panel.x_title}}
        if i > 0 and not panel.x_ticks:
            xaxis["matches"] = "x"
        if i < n - 1 and not chart.categorical:
            xaxis["showticklabels"] = False
        if panel.x_ticks:
            xaxis.update({"tickvals": panel.x_ticks[0], "ticktext": panel.x_ticks[1]})
        if chart.categorical:
            xaxis["type"] = "category"
        layout[f"yaxis{suffix}"] = yaxis
        layout[f"xaxis{suffix}"] = xaxis
        for t in panel.traces:
            data.append(plotly_trace(t, suffix))
    shapes, annotations = [], []
    for band in chart.bands:
        for i in range(n):
            suffix = "" if i == 0 else str(i + 1)
            shapes.append({
                "type": "rect", "xref": f"x{suffix}", "yref": f"y{suffix} domain", "x0": band.x0, "x1": band.x1,
                "y0": 0, "y1": 1, "fillcolor": band.color, "opacity": 0.06 if band.warmup else 0.10,
                "line": {"width": 0}, "layer": "below",
                **({"fillcolor": "#999999", "opacity": 0.18} if band.warmup else {}),
            })  # fmt: skip
    if chart.bands:
        span = max(b.x1 for b in chart.bands) - min(b.x0 for b in chart.bands) or 1
        for band, level in band_labels(chart.bands, span):
            annotations.append({
                "x": band.x0, "xref": "x", "xanchor": "left", "y": 1, "yref": "paper", "yanchor": "bottom",
                "yshift": 2 + 16 * level, "text": html.escape(band.label), "showarrow": False,
                "font": {"size": 11, "color": band.color}, "hovertext": html.escape(
                    f"{band.label}: measured {band.x0:.2f} – {band.x1:.2f} s ({band.x1 - band.x0:.3g} s)"),
            })  # fmt: skip
    layout["shapes"] = shapes
    layout["annotations"] = annotations
    return {"data": data, "layout": layout}


def plotly_trace(t: Trace, suffix: str) -> dict:
    out = {"name": t.name, "x": t.x, "y": t.y, "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
           "showlegend": t.showlegend}  # fmt: skip
    if t.group:
        out["legendgroup"] = t.group
    if t.hidden:
        out["visible"] = "legendonly"
    if t.kind == "bar":
        out["type"] = "bar"
        if t.color:
            out["marker"] = {"color": t.color}
        return out
    out["type"] = "scatter"
    out["mode"] = {"line": "lines", "markers": "markers", "step": "lines"}.get(t.kind, "lines+markers")
    out["line"] = {"width": 1.5, **({"color": t.color} if t.color else {}), **({"dash": t.dash} if t.dash else {})}
    out["marker"] = {"size": 8 if t.kind == "markers" else 4, **({"color": t.color} if t.color else {})}
    if t.kind == "step":
        out["line"]["shape"] = "hv"
    return out


# ----------------------------------------------------------------------------------------- comparisons


def overlay_charts(runs: list[RunCharts], ids: list[str], rows: list[dict]) -> list[Chart]:
    """The runs' charts on top of each other: one colour per run."""
    colors = {run.run_id: PALETTE[i % len(PALETTE)] for i, run in enumerate(runs)}
    charts = []
    for make, title in ((RunCharts.throughput, "Throughput over time"), (RunCharts.resources, "CPU and memory")):
        panels: list[Panel] = []
        for i, run in enumerate(runs):
            chart = make(run)
            if chart is None:
                continue
            for j, panel in enumerate(chart.panels):
                if j >= len(panels):
                    panels.append(Panel(panel.y_title, [], panel.y_log, panel.x_title))
                for t in panel.traces:
                    if t.hidden:
                        continue
                    panels[j].traces.append(Trace(f"{short(run)} · {t.name}", t.x, t.y, t.kind,
                                                  colors[run.run_id], "dot" if i else None, group=run.run_id,
                                                  showlegend=j == 0))  # fmt: skip
        if panels:
            charts.append(Chart(f"overlay_{len(charts)}", f"{title}: runs overlaid (seconds since each run started)",
                                panels, bands=runs[0].bands()))  # fmt: skip
    traces = []
    for i, run in enumerate(runs):
        spectrum = run.spectrum()
        for t in spectrum.panels[0].traces if spectrum else []:
            if ":" not in t.name.rsplit(" · ", 1)[-1]:
                traces.append(Trace(f"{short(run)} · {t.name}", t.x, t.y, t.kind, colors[run.run_id],
                                    "dot" if i else None, group=run.run_id))  # fmt: skip
    if traces:
        ticks = ([spectrum_x(i) for i in range(len(SPECTRUM))], [label for label, _ in SPECTRUM])
        charts.append(Chart("overlay_latency", "Latency percentile spectrum: runs overlaid",
                            [Panel("latency (ms)", traces, True, "percentile", ticks)]))  # fmt: skip
    panels = []
    for metric in compare.METRICS:
        selected = [r for r in rows if r["metric"] == metric]
        if not selected:
            continue
        traces = [Trace(short(run), [r["phase"] for r in selected], [r4(r["values"][k]) for r in selected], "bar",
                        PALETTE[k % len(PALETTE)], group=run.run_id, showlegend=not panels)
                  for k, run in enumerate(runs)]  # fmt: skip
        panels.append(Panel(metric, traces))
    if panels:
        charts.append(Chart("overlay_metrics", "Every metric per phase, run by run", panels, categorical=True))
    return charts


def short(run: RunCharts) -> str:
    """A run's name on charts: its folder (the UTC stamp)."""
    return run.dir.name


# ------------------------------------------------------------------------------------------------ page

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222;max-width:1400px}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin:1.6em 0 .3em;border-bottom:1px solid #ddd}
.meta{color:#555;margin:.2em 0} .note{color:#666;font-size:12px;margin:.2em 0 .4em}
.status-ok{color:#2a7d2a} .status-failed,.status-interrupted{color:#c0392b} .ok{color:#2a7d2a}
table{border-collapse:collapse;font-size:12px;margin:.4em 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:3px 7px;white-space:nowrap} th{background:#f4f4f4;cursor:pointer;user-select:none}
th.asc::after{content:" ▲"} th.desc::after{content:" ▼"} td.num{text-align:right} td.text{text-align:left}
tbody tr:nth-child(even){background:#fafafa} tbody tr:hover{background:#eef4fb}
#errors td:nth-child(2),#errors td:nth-child(3){white-space:normal}
#compare td.text{white-space:normal;min-width:8em}
.chart{break-inside:avoid;page-break-inside:avoid;margin-bottom:1em}
nav a{margin-right:1em} .scroll{overflow-x:auto;max-width:100%}
@page{size:A4 landscape;margin:10mm}
@media print{body{margin:0;max-width:none} .modebar-container,nav{display:none!important} th{cursor:auto}
.scroll{overflow:visible} table{font-size:9px} .chart{zoom:.75}}
"""

SORT_JS = """
document.querySelectorAll("table.sortable th").forEach(th => th.addEventListener("click", () => {
  const body = th.closest("table").tBodies[0], column = th.cellIndex;
  const asc = !th.classList.contains("asc");
  th.parentNode.querySelectorAll("th").forEach(h => h.classList.remove("asc", "desc"));
  th.classList.add(asc ? "asc" : "desc");
  const numeric = th.dataset.kind === "num";
  const value = row => {
    const v = row.cells[column].dataset.v;
    return numeric ? (v === "" ? -Infinity : parseFloat(v)) : v.toLowerCase();
  };
  [...body.rows].sort((a, b) => (value(a) > value(b) ? 1 : value(a) < value(b) ? -1 : 0) * (asc ? 1 : -1))
    .forEach(row => body.appendChild(row));
}));
"""

# After every chart has been drawn: per chart the traces and the points Plotly actually computed and drew.
RENDER_CHECK_JS = """
(async () => {
  const charts = [...document.querySelectorAll(".chart .plot")];
  const deadline = Date.now() + 20000;
  while (charts.some(gd => !gd._fullLayout || !gd.calcdata) && Date.now() < deadline) {
    await new Promise(r => setTimeout(r, 20));
  }
  const report = {charts: {}, ms: 0};
  for (const gd of charts) {
    const points = (gd.calcdata || []).reduce((sum, trace, i) =>
      sum + (gd._fullData[i].visible === true ? trace.filter(p => p.y !== undefined && isFinite(p.y)).length : 0), 0);
    const marks = ".scatterlayer .trace path.js-line, .scatterlayer .point, .barlayer .point";
    const drawn = gd.querySelectorAll(marks).length;
    report.charts[gd.id] = {traces: gd.data.length, points: points, drawn: drawn,
                            expected: Number(gd.closest(".chart").dataset.points)};
  }
  report.ms = Math.round(performance.now());
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  report.timing = {body: Math.round(window.loadgenStart), first_screen: Math.round(window.loadgenFirstScreen),
                   first_paint: paint ? Math.round(paint.startTime) : null};
  window.loadgenRender = report;
  document.getElementById("render-check").textContent = JSON.stringify(report);
  document.body.dataset.rendered = charts.length && Object.values(report.charts).every(
    c => c.points === c.expected && c.drawn > 0) ? "yes" : "no";
})();
"""


def chart_html(chart: Chart) -> str:
    """A chart's section: its title, note, a placeholder of its final height and its figure as JSON, which
    DRAW_JS hands to Plotly.newPlot."""
    figure = plotly_figure(chart)
    figure["config"] = {"displaylogo": False, "responsive": True,
                        "toImageButtonOptions": {"format": "png", "filename": chart.id, "scale": 2}}  # fmt: skip
    spec = json.dumps(figure, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    note = f'<p class="note">{html.escape(chart.note)}</p>' if chart.note else ""
    return (
        f'<section class="chart" data-points="{chart.points()}"><h2 id="{chart.id}">{html.escape(chart.title)}</h2>'
        f'{note}<div class="plot" id="chart-{chart.id}" style="height:{figure["layout"]["height"]}px"></div>'
        f'<script type="application/json">{spec}</script></section>'
    )


# The charts on screen are drawn at once, the others one after another while the page already answers (and at
# once when scrolled to or printed): a report with many charts opens as fast as one with a few.
DRAW_JS = """
(() => {
  const plots = [...document.querySelectorAll(".chart .plot")];
  const draw = div => {
    if (div.dataset.drawn) return;
    div.dataset.drawn = "yes";
    const spec = JSON.parse(div.nextElementSibling.textContent);
    Plotly.newPlot(div, spec.data, spec.layout, spec.config);
  };
  window.addEventListener("beforeprint", () => plots.forEach(draw));
  plots.filter(div => div.getBoundingClientRect().top < innerHeight + 200).forEach(draw);
  window.loadgenFirstScreen = performance.now();
  const observer = new IntersectionObserver(
    entries => entries.forEach(e => e.isIntersecting && draw(e.target)), {rootMargin: "200px"});
  plots.forEach(div => observer.observe(div));
  const rest = () => {
    const div = plots.find(d => !d.dataset.drawn);
    if (div) { draw(div); setTimeout(rest, 0); }
  };
  requestAnimationFrame(() => setTimeout(rest, 0));
})();
"""


# plotly.js-basic-dist-min 2.35.2 (npm, MIT: assets/PLOTLY_LICENSE), the plotly package's plotly.js version: 1.1 MB
# instead of 4.6, which halves the page's main-thread time to open a report (BENCHMARKS.md, "Report open time"). It
# holds these trace types and all of plotly.js's core (axes, shapes, annotations, legend, hover, modebar); a chart
# with any other trace type gets the full plotly.js of the plotly package instead.
BASIC_TRACES = frozenset({"scatter", "bar", "pie"})


@cache
def plotly_js(full: bool = False) -> str:
    """plotly.js to inline in a <script>: the basic bundle, or with full=True the plotly package's whole
    plotly.min.js. Either starts with the banner `plotly.js vX.Y.Z` (once per file)."""
    if full:
        import plotly.offline

        return plotly.offline.get_plotlyjs()
    text = (resources.files("loadgen") / "assets" / "plotly-basic.min.js").read_text(encoding="utf-8")
    version = re.search(r"plotly\.js \(basic - minified\) (v\d[\w.-]*)", text[:300]).group(1)
    return f"/* plotly.js {version}, basic bundle (scatter, bar and pie traces) */\n{text}"


def trace_types(charts: list[Chart]) -> set[str]:
    return {trace["type"] for chart in charts for trace in plotly_figure(chart)["data"]}


def page(title: str, header: str, sections: list[tuple[str, str, str]], charts: list[Chart]) -> str:
    nav = " ".join(f'<a href="#{sid}">{html.escape(name)}</a>' for sid, name, _ in sections)
    nav += " " + " ".join(f'<a href="#{c.id}">{html.escape(c.title.split(":")[0])}</a>' for c in charts)
    body = "".join(f'<h2 id="{sid}">{html.escape(name)}</h2>{content}' for sid, name, content in sections)
    drawn = "".join(chart_html(c) for c in charts)
    # plotly.js once for every chart, inline: the file opens offline
    script = f"<script>{plotly_js(full=not trace_types(charts) <= BASIC_TRACES)}</script>" if charts else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">{GENERATOR}<title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body><script>window.loadgenStart = performance.now();</script>{header}<nav>{nav}</nav>{body}{drawn}
<pre id="render-check" hidden></pre>{script}
<script>{SORT_JS}</script><script>{DRAW_JS}</script><script>{RENDER_CHECK_JS}</script></body></html>
"""


def run_header(run: RunCharts) -> str:
    status = run.status.get("status", "")
    env = run.environment
    machine = (
        f"{env.get('cpu_model', '')}, {env.get('cpu_logical', '')} cores, {fmt_count(env.get('memory_total_mib'))} "
        f"MiB RAM; {env.get('hyperd_version', '')}"
    )
    error = f" — {html.escape(run.status['error'])}" if run.status.get("error") else ""
    return (
        f"<h1>loadgen run {html.escape(run.run_id)}</h1>"
        f'<p class="meta">status <b class="status-{html.escape(status)}">{html.escape(status)}</b>{error} · '
        f"{html.escape(run.status.get('started_utc', ''))} → {html.escape(run.status.get('finished_utc') or '')} UTC"
        f" · {len(run.phase_names)} phases · {html.escape(run.dir.name)}</p>"
        f'<p class="meta">{html.escape(machine)}</p>'
    )


# In the <head> of every report: how `report` knows a file it may replace. Reports of loadgen before it have
# EARLIER_MARK near their start.
GENERATOR = '<meta name="generator" content="loadgen report">'
EARLIER_MARK = "<script>window.loadgenStart = performance.now();</script>"
RUN_DATA_SUFFIXES = (".csv", ".json", ".yaml", ".yml")


def written_by_loadgen(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(65536).decode("utf-8", "replace")
    except OSError:
        return False
    return GENERATOR in head or EARLIER_MARK in head


def is_run_data(path: Path) -> bool:
    """A CSV, JSON or YAML file in a run folder (one with run.json or summary.csv) or below one, or a history.csv."""
    if path.suffix.lower() not in RUN_DATA_SUFFIXES:
        return False
    return path.name == "history.csv" or any(
        (folder / "run.json").is_file() or (folder / "summary.csv").is_file() for folder in path.parents
    )


def check_target(target: Path, force: bool) -> None:
    """Refuse (exit 2) to write the report over a run's data, even with force, or over a file loadgen did not
    write, unless force. A symlink is judged by the file it points to, which is what would be replaced."""
    real = Path(os.path.realpath(target))
    if is_run_data(real):
        raise ScenarioError(f"{target}: a data file of a run; the report goes elsewhere")
    if real.is_dir():
        raise ScenarioError(f"{target}: a folder; the report is a file")
    if real.exists() and not force and not written_by_loadgen(real):
        raise ScenarioError(f"{target}: not a report loadgen wrote; not replaced (--force replaces it)")


def write_report(paths, output=None, png: bool = True, force: bool = False) -> Path:
    """Write the report of one run (RUN/report.html) or the comparison of several (RUN_A/compare.html);
    returns its path. An existing file there is replaced only if loadgen wrote it, or with force."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    target = Path(output) if output else Path(paths[0]) / ("report.html" if len(paths) == 1 else "compare.html")
    check_target(target, force)
    runs = [RunCharts(p) for p in paths]
    if len(runs) == 1:
        run = runs[0]
        charts = run.charts()
        sections = [
            ("phases", "Phases", phase_table(runs)),
            ("statistics", "Statistics per operation", statistics_table(runs)),
            ("failures", "Errors", errors_table(runs)),
        ]
        if run.matrix:  # its points side by side: the first point is the baseline
            try:
                shown = compare_table(compare.compare([str(run.dir)]))
            except LoadgenError as exc:  # a garbled cell: the report still draws what it can, and says why not this
                shown = f'<p class="note">No comparison of the points: {html.escape(str(exc))}</p>'
            sections.insert(0, ("change", "Change per metric (first point = baseline)", shown))
        text = page(f"loadgen {run.run_id}", run_header(run), sections, charts)
        if png:
            from loadgen.report.png import save_pngs  # matplotlib: seconds to import, skipped with --no-png

            save_pngs(charts, run.dir / "charts")
    else:
        cmp = compare.compare([str(r.dir) for r in runs])
        runs = [runs[[str(r.dir) for r in runs].index(side.source)] for side in cmp.sides]  # grouped by version
        charts = overlay_charts(runs, cmp.ids, cmp.rows)
        header = "<h1>loadgen comparison</h1>" + "".join(
            f'<p class="meta"><b style="color:{PALETTE[i % len(PALETTE)]}">{html.escape(short(r))}</b> '
            f"{html.escape(r.run_id)} · {html.escape(r.status.get('status', ''))} · "
            f"{html.escape(r.status.get('started_utc', ''))}{' (baseline)' if i == 0 else ''}</p>"
            for i, r in enumerate(runs)
        )
        sections = [
            ("change", "Change per metric (first run = baseline)", compare_table(cmp)),
            ("phases", "Phases", phase_table(runs)),
            ("statistics", "Statistics per operation", statistics_table(runs)),
            ("failures", "Errors", errors_table(runs)),
        ]
        text = page("loadgen comparison", header, sections, charts)
    try:
        results.write_atomic(target, text)
    except OSError as exc:
        raise ScenarioError(f"{target}: cannot write the report: {exc.strerror}") from None
    return target


def render_counts(charts: list[Chart]) -> dict:
    """chart element id → the points the page must draw (what the browser test compares against)."""
    return {f"chart-{c.id}": c.points() for c in charts}
