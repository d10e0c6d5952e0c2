"""PNGs of the report's charts (matplotlib, headless Agg backend) for READMEs and documents: RUN/charts/<id>.png.

The same chart data as the HTML report (loadgen/report/model.py), so a PNG and its interactive chart agree. Plotly's
own static export (kaleido) needs a Chrome to drive, which a CI box may not have; matplotlib needs nothing.
"""

from pathlib import Path

from loadgen.report.model import Chart, band_labels


def save_pngs(charts: list[Chart], out_dir: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(exist_ok=True)
    saved = {}
    for chart in charts:
        n = len(chart.panels)
        fig, axes = plt.subplots(n, 1, figsize=(11, 0.8 + 2.4 * n), sharex=not chart.categorical, squeeze=False)
        for ax, panel in zip(axes[:, 0], chart.panels, strict=True):
            draw_panel(ax, panel, chart)
        top = axes[0, 0]
        if chart.bands:
            span = max(b.x1 for b in chart.bands) - min(b.x0 for b in chart.bands) or 1
            for band, level in band_labels(chart.bands, span):
                top.annotate(band.label, (band.x0, 1), xycoords=("data", "axes fraction"), xytext=(0, 2 + 11 * level),
                             textcoords="offset points", fontsize=7, color=band.color, va="bottom")  # fmt: skip
        fig.suptitle(chart.title, fontsize=10, x=0.01, ha="left")
        handles, labels = [], []
        for ax in axes[:, 0]:
            for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
                if label not in labels and not label.startswith("_"):
                    handles.append(h)
                    labels.append(label)
        if handles:
            top.legend(handles, labels, fontsize=7, ncol=min(4, len(labels)), loc="upper right")
        fig.tight_layout()
        path = out_dir / f"{chart.id}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        saved[chart.id] = path
    return saved


def draw_panel(ax, panel, chart: Chart) -> None:
    for band in chart.bands:
        if band.warmup:
            ax.axvspan(band.x0, band.x1, color="#999999", alpha=0.18, hatch="//", linewidth=0)
        else:
            ax.axvspan(band.x0, band.x1, color=band.color, alpha=0.10, linewidth=0)
    bars = [t for t in panel.traces if t.kind == "bar" and not t.hidden]
    categories = list(dict.fromkeys(x for t in panel.traces for x in t.x)) if chart.categorical else []
    for k, t in enumerate(bars):
        width = 0.8 / len(bars)
        if chart.categorical:
            xs = [categories.index(x) + (k - (len(bars) - 1) / 2) * width for x in t.x]
        else:
            xs, width = t.x, 0.8
        pairs = [(x, y) for x, y in zip(xs, t.y, strict=True) if y is not None]
        if pairs:
            ax.bar([p[0] for p in pairs], [p[1] for p in pairs], width, color=t.color, label=label(t))
    for t in panel.traces:
        if t.kind == "bar" or t.hidden:
            continue
        xs = [categories.index(x) if chart.categorical and x is not None else x for x in t.x]
        ys = [float("nan") if y is None else y for y in t.y]
        xs = [float("nan") if x is None else x for x in xs]
        style = {"color": t.color, "label": label(t), "linewidth": 1.2}
        if t.dash:
            style["linestyle"] = ":" if t.dash == "dot" else "--"
        if t.kind == "markers":
            ax.plot(xs, ys, "o", markersize=5, **{k: v for k, v in style.items() if k != "linewidth"})
        else:
            ax.plot(xs, ys, marker="." if t.kind == "lines+markers" else None, markersize=3, **style)
    if chart.categorical and categories:
        ax.set_xticks(range(len(categories)), categories, rotation=15, fontsize=7)
    if panel.x_ticks:
        ax.set_xticks(panel.x_ticks[0], panel.x_ticks[1])
    if panel.y_log:
        ax.set_yscale("log")
    ax.set_ylabel(panel.y_title, fontsize=8)
    if panel.x_title:
        ax.set_xlabel(panel.x_title, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def label(trace) -> str:
    return trace.name if trace.showlegend else f"_{trace.name}"
