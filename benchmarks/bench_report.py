"""HTML report size and open time: a report of a 10-phase run with 4 workers stays under 5 MB and opens
in under 2 s in headless Chromium.

Runs a 10-phase scenario with 4 workers (insert, query and mix phases in turn, ~1.5 s each), writes its report with
`loadgen report`, and opens it in headless Chromium (loadgen.report_browser, a fresh browser per open) as written —
plotly.js's basic bundle, loadgen/assets/plotly-basic.min.js — and with the plotly package's full plotly.min.js in
its place (the report before the basic bundle), alternating, N opens each. Per open:
  open      navigation start → every chart drawn: the page's performance.now() when its render check ran (it
            waits until every chart has been computed and drawn, the off-screen ones included);
  wall      the same seen from outside: Page.navigate sent → the render record read over DevTools;
  first     navigation start → the charts on the first screen drawn (plotly.js parsed and started, the
            DRAW_JS first pass done);
  cpu       the renderer's main-thread CPU time (Performance.getMetrics ThreadTime), less sensitive to other
            work on the machine than the elapsed times.
Every open must draw every chart with the points the page expects and log no error. Prints a markdown table of
the medians with their floors.

    python benchmarks/bench_report.py               # ~1 minute on 2 cores
    python benchmarks/bench_report.py --opens 3     # fewer opens
    python benchmarks/bench_report.py --run RUN_DIR # report an existing run instead of running the scenario
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import common  # benchmarks/common.py (a script's own folder is on sys.path)

from loadgen.report import html as html_report
from loadgen.report.browser import chromium_path, open_report

PHASES = [
    "{name: load_1, workload: insert, method: arrow, rows_per_copy: 25000}",
    "{name: scan_1, workload: query, shape: filtered, method: arrow, duration_s: 1.5}",
    "{name: mix_1, workload: mix, duration_s: 1.5, preload_rows: 0, operations: {select_limit: 3, aggregate: 1}}",
    "{name: load_2, workload: insert, method: rows, rows_scale: 0.1, batch_rows: 5000}",
    "{name: agg_2, workload: query, shape: aggregation, method: rows, duration_s: 1.5}",
    "{name: mix_2, workload: mix, duration_s: 1.5, warmup_s: 0.3, preload_rows: 0, operations: {aggregate: 1}}",
    "{name: load_3, workload: insert, method: arrow, rows_per_copy: 50000}",
    "{name: scan_3, workload: query, shape: filtered, method: arrow, duration_s: 1.5}",
    "{name: mix_3, workload: mix, duration_s: 1.5, preload_rows: 0, operations: {select_limit: 1, aggregate: 1}}",
    "{name: agg_4, workload: query, shape: aggregation, method: arrow, duration_s: 1.5}",
]
SCENARIO = "name: report_open\nworkers: 4\nrows: 200000\nseed: 1\nsampling: {interval_ms: 100}\nphases:\n" + "".join(
    f"  - {phase}\n" for phase in PHASES
)
SIZE_FLOOR, OPEN_FLOOR = 5_000_000, 2.0


def make_run(folder: Path) -> Path:
    path = folder / "report_open.yaml"
    path.write_text(SCENARIO)
    cmd = [sys.executable, "-m", "loadgen", "run", str(path), "--results-dir", str(folder / "results"), "--quiet"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    [run_dir] = (folder / "results" / "report_open").iterdir()
    return run_dir


def variants(run_dir: Path, folder: Path) -> dict[str, Path]:
    """The report as `loadgen report` writes it (basic bundle) and the same page with the full plotly.js."""
    subprocess.run([sys.executable, "-m", "loadgen", "report", str(run_dir)], check=True, stdout=subprocess.DEVNULL)
    basic = run_dir / "report.html"
    text = basic.read_text()
    embedded = html_report.plotly_js()
    assert text.count(embedded) == 1, "the report does not embed plotly.js's basic bundle"
    full = folder / "report_full.html"
    full.write_text(text.replace(embedded, html_report.plotly_js(full=True)))
    return {"full plotly.js": full, "basic bundle": basic}


def open_once(path: Path) -> dict:
    opened = open_report(path)
    render = opened["render"] or {}
    charts = render.get("charts", {})
    bad = {k: c for k, c in charts.items() if c["points"] != c["expected"] or not c["drawn"]}
    if not charts or bad or opened["problems"]:
        raise RuntimeError(f"{path.name}: not every chart drew: {bad or charts} {opened['problems']}")
    return {
        "open": render["ms"] / 1000,
        "wall": opened["load_s"],
        "first": render["timing"]["first_screen"] / 1000,
        "cpu": opened["metrics"].get("ThreadTime", float("nan")),
        "charts": len(charts),
        "points": sum(c["points"] for c in charts.values()),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opens", type=int, default=5, help="opens of each variant; medians are reported")
    parser.add_argument("--run", type=Path, help="an existing run folder to report (default: run the scenario)")
    args = parser.parse_args(argv)
    if not chromium_path():
        print("bench_report needs Chromium: apt-get install chromium", file=sys.stderr)
        return 1
    folder = Path(tempfile.mkdtemp(prefix="loadgen-bench-report-"))
    run_dir = args.run or make_run(folder)
    reports = variants(run_dir, folder)
    opens: dict[str, list[dict]] = {name: [] for name in reports}
    for i in range(args.opens):
        print(f"open {i + 1}/{args.opens}", file=sys.stderr, flush=True)
        for name, path in reports.items():  # alternating, so both see the same machine
            opens[name].append(open_once(path))
    for name, rounds in opens.items():  # every open, for judging the noise behind a median
        for key in ("open", "wall", "first", "cpu"):
            print(f"{name} {key}: {', '.join(f'{r[key]:.2f}' for r in rounds)}", file=sys.stderr)
    print(render(reports, opens, run_dir, args), end="")
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    return 0


def render(reports: dict[str, Path], opens: dict[str, list[dict]], run_dir: Path, args) -> str:
    def med(name, key):
        return statistics.median(r[key] for r in opens[name])

    rows = []
    for name, path in reports.items():
        size = path.stat().st_size
        js = len(html_report.plotly_js(full=name.startswith("full")).encode())
        opened = med(name, "open")
        met = "yes" if size < SIZE_FLOOR and opened < OPEN_FLOOR else "**no**"
        rows.append(
            f"| {name} | {size / 1e6:.2f} MB ({js / 1e6:.2f} MB plotly.js) | {opened:.2f} s | {med(name, 'wall'):.2f} s"
            f" | {med(name, 'first'):.2f} s | {med(name, 'cpu'):.2f} s | < 5 MB, < 2 s | {met} |"
        )
    some = next(iter(opens.values()))[0]
    header = [
        common.machine_line(),
        f"Report of {run_dir.name} ({some['charts']} charts, {some['points']:,} points); medians of {args.opens} "
        "opens each, alternating, a fresh headless Chromium per open.",
        "",
        "| plotly.js embedded | file size | open: navigation → every chart drawn | wall (DevTools) "
        "| first screen drawn | main-thread CPU | floor | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    return "\n".join(header + rows) + "\n"


if __name__ == "__main__":
    sys.exit(main())
