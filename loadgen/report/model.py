"""What `loadgen report` draws, read from a run folder's files: phase windows on one time axis, and the charts as
plain data (panels of traces) that report/html.py renders with Plotly and report/png.py with matplotlib.

Time is seconds since the run started (run.json). A phase is released at its summary row's `started_utc`; its
measured window is [first worker start, last worker end] (workers.csv: start_offset_ms, busy_s), and the time
between release and window is the warmup (when latency.csv has OP:warmup rows for it) or barrier wake-up.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from loadgen.errors import NotARunFolder
from loadgen.results.counts import percentile_column
from loadgen.results.files import parse_utc
from loadgen.results.run_folder import RunFolder
from loadgen.results.tables import final_rows, is_aggregate

# D3's category10 = matplotlib's tab10: the same phase has the same colour in the HTML and the PNGs
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]  # fmt: skip
SPECTRUM = [("min", None), ("50", 50.0), ("90", 90.0), ("95", 95.0), ("99", 99.0), ("99.9", 99.9), ("max", None)]


def utc_seconds(file: Path, column: str, text) -> float:
    """Epoch seconds of a timestamp of a run's file; a garbled one names the file."""
    try:
        return parse_utc(str(text))
    except ValueError:
        raise NotARunFolder(f"{file}: {column}: {text!r} is not a timestamp") from None


def num(value, default=None):
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return out if math.isfinite(out) else default


def r4(value):
    """4 significant digits: the JSON in the page stays small, the hover stays exact enough."""
    if value is None or not isinstance(value, float) or value == 0:
        return value
    return float(f"{value:.4g}")


@dataclass
class Trace:
    name: str
    x: list
    y: list
    kind: str = "line"  # line | markers | lines+markers | bar | step
    color: str | None = None
    dash: str | None = None  # dot | dash
    group: str | None = None  # legend group: one legend entry toggles the group
    showlegend: bool = True
    hidden: bool = False  # starts hidden, one click on its legend entry shows it
    hover: list | None = None


@dataclass
class Panel:
    y_title: str
    traces: list[Trace] = field(default_factory=list)
    y_log: bool = False
    x_title: str = ""
    x_ticks: tuple[list, list] | None = None  # (values, labels)


@dataclass
class Band:
    x0: float
    x1: float
    label: str
    color: str
    warmup: bool = False


@dataclass
class Chart:
    id: str
    title: str
    panels: list[Panel]
    note: str = ""
    bands: list[Band] = field(default_factory=list)
    categorical: bool = False  # x is categories (phases, points): bars and markers, no time axis

    def points(self) -> int:
        """Plotted values with a number (what the browser test expects to find drawn)."""
        return sum(1 for p in self.panels for t in p.traces if not t.hidden for v in t.y if v is not None)


@dataclass
class Instance:
    """One run of one phase: (point, phase, repetition)."""

    key: tuple
    phase: str
    point: str
    parameters: str
    repetition: str
    summary: dict
    release: float  # seconds since the run started
    start: float  # measured window
    end: float
    warmup: bool
    color: str


class RunCharts:
    """One run folder as the report draws it: its phases' windows on one time axis, and its charts."""

    def __init__(self, folder):
        run = RunFolder.read(folder)
        self.dir, self.run_id, self.summary = run.dir, run.run_id, run.summary
        self.status, self.environment = run.run_json, run.environment
        self.workers, self.latency, self.samples = run.workers, run.latency, run.samples
        self.timeseries, self.op_timeseries = run.timeseries, run.op_timeseries  # op_timeseries: since 0.3
        if self.status.get("started_utc"):
            self.t0 = utc_seconds(self.dir / "run.json", "started_utc", self.status["started_utc"])
        else:
            stamps = [r.get("started_utc") for r in self.summary]
            self.t0 = min((utc_seconds(self.summary[0].file, "started_utc", t) for t in stamps if t), default=0.0)
        self.phase_names = list(dict.fromkeys(r["phase"] for r in self.summary))
        self.colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(self.phase_names)}
        self.matrix = len({r.get("point", "0") for r in self.summary}) > 1
        self.repeated = any(is_aggregate(r) for r in self.summary)
        self.instances = self._instances()

    @staticmethod
    def key(row: dict) -> tuple:
        return str(row.get("point") or "0"), row["phase"], str(row.get("repetition") or "1")

    def _instances(self) -> list[Instance]:
        workers = defaultdict(list)
        for w in self.workers:
            workers[self.key(w)].append(w)
        warm = {self.key(r) for r in self.latency if r["operation"].endswith(":warmup")}
        out = []
        for row in self.summary:
            if is_aggregate(row) or not row.get("started_utc"):
                continue
            key = self.key(row)
            release = utc_seconds(row.file, "started_utc", row["started_utc"]) - self.t0
            spans = [
                (num(w["start_offset_ms"], 0) / 1000, num(w["start_offset_ms"], 0) / 1000 + num(w["busy_s"], 0))
                for w in workers.get(key, [])
            ]
            first = max(0.0, min((s for s, _ in spans), default=0.0))
            last = max((e for _, e in spans), default=first + num(row.get("wall_s"), 0))
            out.append(
                Instance(key, row["phase"], key[0], row.get("parameters", ""), key[2], row, release,
                         release + first, release + last, key in warm, self.colors[row["phase"]])
            )  # fmt: skip
        return out

    def label(self, inst_or_row) -> str:
        row = inst_or_row.summary if isinstance(inst_or_row, Instance) else inst_or_row
        out = row["phase"]
        if self.matrix and row.get("parameters"):
            out += f" [{row['parameters']}]"
        if self.repeated and not is_aggregate(row):
            out += f" #{row.get('repetition')}"
        return out

    def bands(self) -> list[Band]:
        out = []
        for inst in self.instances:
            if inst.warmup and inst.start > inst.release:
                out.append(Band(inst.release, inst.start, f"{inst.phase} warmup", inst.color, warmup=True))
            out.append(Band(inst.start, max(inst.end, inst.start + 1e-3), self.label(inst), inst.color))
        return out

    # ------------------------------------------------------------------------------------------ charts
    def series_points(self, inst: Instance, operation: str | None = None) -> list[tuple[float, float, dict]]:
        """(x0, x1, row) per timeseries row (op_timeseries row of `operation`): the part of the measured window the
        row covers, in run seconds."""
        if operation is None:
            rows = [r for r in self.timeseries if self.key(r) == inst.key]
        else:
            rows = [r for r in self.op_timeseries if self.key(r) == inst.key and r["operation"] == operation]
        rows.sort(key=lambda r: num(r["t_s"], 0))
        out = []
        for i, row in enumerate(rows):
            lo = max(inst.release + num(row["t_s"], 0), inst.start)
            hi = inst.release + num(rows[i + 1]["t_s"], 0) if i + 1 < len(rows) else inst.end
            out.append((lo, max(lo, min(hi, inst.end)), row))
        return out

    def _by_phase(self, column: str, factor: float = 1.0) -> list[Trace]:
        """One trace per phase (all its points and repetitions, broken between instances), a point at the
        middle of the time each row covers."""
        traces = []
        for phase in self.phase_names:
            xs, ys = [], []
            for inst in (i for i in self.instances if i.phase == phase):
                for lo, hi, row in self.series_points(inst):
                    xs.append(r4((lo + hi) / 2))
                    ys.append(r4(num(row[column], 0) * factor))
                xs.append(None)
                ys.append(None)
            if any(y for y in ys if y is not None):
                traces.append(Trace(phase, xs[:-1], ys[:-1], "lines+markers", self.colors[phase], group=phase))
        return traces

    def throughput(self) -> Chart | None:
        if not self.timeseries:
            return None
        panels = [Panel("operations/s", self._by_phase("ops_per_s"))]
        rows = self._by_phase("rows_per_s")
        if rows:
            for t in rows:
                t.showlegend = False
            panels.append(Panel("rows/s", rows))
        active = self._by_phase("active_sessions")
        if active:  # phases with sessions: how many were active, against the target of their stages
            target = self._by_phase("target_sessions")
            for t in target:
                t.name, t.dash, t.showlegend = f"{t.name} target", "dash", False
            for t in active:
                t.showlegend = False
            panels.append(Panel("active sessions", active + target))
        panels[-1].x_title = "seconds since the run started"
        note = "Each point is one interval of timeseries.csv, divided by the measured time it covers."
        if rows:  # loadgen/results/recorder.py: where rows are counted
            note += (
                " An operation counts in the interval it ended in, its rows where they were sent: a streamed COPY's"
                " and the row API's as they were handed over, a staged COPY's spread over the seconds it ran."
            )
        if active:
            note += " Active sessions: running an operation or thinking (dashed: the target)."
        return Chart("throughput", "Throughput over time", panels, note, self.bands())

    def latency_over_time(self) -> Chart | None:
        if self.op_timeseries:
            return self._latency_per_operation()
        if not self.timeseries:
            return None
        traces = []
        for column, dash in (("p50_ms", "dot"), ("p99_ms", None)):
            for t in self._by_phase(column):
                t.name = f"{t.name} {column[:-3]}"
                t.dash = dash
                t.y = [y if y else None for y in t.y]  # an interval without operations has no latency
                traces.append(t)
        panel = Panel("latency (ms)", traces, y_log=True, x_title="seconds since the run started")
        return Chart("latency_over_time", "Latency over time: p50 (dotted) and p99 per phase", [panel],
                     bands=self.bands(),
                     note="All operations of a phase together: timeseries.csv keeps one histogram per interval and "
                          "phase, not per operation.")  # fmt: skip

    def _latency_per_operation(self) -> Chart | None:
        """p50 (dotted) and p99 of each phase · operation over time, from op_timeseries.csv."""
        traces = []
        operations = list(dict.fromkeys((r["phase"], r["operation"]) for r in self.op_timeseries))
        for n, (phase, operation) in enumerate(operations):
            color = PALETTE[n % len(PALETTE)]
            for column, dash in (("p50_ms", "dot"), ("p99_ms", None)):
                xs, ys = [], []
                for inst in (i for i in self.instances if i.phase == phase):
                    for lo, hi, row in self.series_points(inst, operation):
                        xs.append(r4((lo + hi) / 2))
                        ys.append(r4(num(row[column], 0)) or None)  # an interval without operations has no latency
                    xs.append(None)
                    ys.append(None)
                if any(y for y in ys if y is not None):
                    name = f"{phase} · {operation} {column[:-3]}"
                    traces.append(
                        Trace(name, xs[:-1], ys[:-1], "lines+markers", color, dash, group=f"{phase}·{operation}")
                    )
        if not traces:
            return None
        panel = Panel("latency (ms)", traces, y_log=True, x_title="seconds since the run started")
        note = "From op_timeseries.csv: one histogram per interval and operation."
        title = "Latency over time per operation: p50 (dotted) and p99"
        return Chart("latency_over_time", title, [panel], note, self.bands())

    def spectrum(self) -> Chart | None:
        traces = []
        finals = {self.key(r) for r in self.final_instances()}
        colors: dict[tuple, str] = {}  # one colour per phase · operation; its side records share it, dotted
        for row in self.latency:
            if self.key(row) not in finals or not num(row["count"]):
                continue
            values = [num(row["min_ms"])] + [num(row[percentile_column(p)]) for _, p in SPECTRUM[1:-1]]
            values.append(num(row["max_ms"]))
            name = f"{self.label_key(self.key(row))} · {row['operation']}"
            side = ":" in row["operation"]
            base = (self.key(row), row["operation"].split(":")[0])
            color = colors.setdefault(base, PALETTE[len(colors) % len(PALETTE)])
            traces.append(Trace(name, [spectrum_x(i) for i in range(len(SPECTRUM))], [r4(v) for v in values],
                                "lines+markers", color, dash="dot" if side else None,
                                hidden=row["operation"].endswith(":warmup")))  # fmt: skip
        if not traces:
            return None
        ticks = ([spectrum_x(i) for i in range(len(SPECTRUM))], [label for label, _ in SPECTRUM])
        panel = Panel("latency (ms)", traces, y_log=True, x_title="percentile", x_ticks=ticks)
        note = "From latency.csv (merged HdrHistograms). Dotted: side records (warmup, from intended start)."
        return Chart("latency", "Latency percentile spectrum per operation", [panel], note)

    def final_instances(self) -> list[Instance]:
        """Per point and phase, the repetition whose rows/s is the median's (or the last): what spectra show."""
        out = {}
        for final in final_rows(self.summary):
            candidates = [i for i in self.instances if i.point == str(final.get("point") or "0")
                          and i.phase == final["phase"]]  # fmt: skip
            if not candidates:
                continue
            target = num(final.get("rows_per_s"), 0)
            out[(final.get("point"), final["phase"])] = min(
                candidates, key=lambda i: abs(num(i.summary.get("rows_per_s"), 0) - target)
            )
        return [i.summary for i in out.values()]

    def label_key(self, key: tuple) -> str:
        row = next((r for r in self.summary if self.key(r) == key and not is_aggregate(r)), None)
        return self.label(row) if row else key[1]

    def resources(self) -> Chart | None:
        if not self.samples:
            return None
        groups = {"hyperd": {}, "workers": {}, "coordinator": {}, "host": {}}
        for s in self.samples:
            process = s["process"]
            group = "workers" if process.startswith("worker-") else process
            if group not in groups:
                continue
            t = round(num(s["t_s"], 0), 3)
            cpu, rss = groups[group].setdefault(t, [0.0, 0.0])
            groups[group][t] = [cpu + num(s["cpu_pct"], 0), rss + num(s["rss_mib"], 0)]
        colors = {"hyperd": "#d62728", "workers": "#1f77b4", "coordinator": "#7f7f7f", "host": "#bcbd22"}
        names = {"workers": "all workers (sum)", "host": "host (whole machine)"}
        cpu, rss = [], []
        for group, points in groups.items():
            if not points:
                continue
            xs = sorted(points)
            hidden = group in ("host", "coordinator")
            name = names.get(group, group)
            cpu.append(Trace(name, xs, [r4(points[x][0]) for x in xs], "line", colors[group], group=group,
                             hidden=hidden))  # fmt: skip
            if group != "host":  # host memory is the whole machine's: it would flatten the processes
                rss.append(Trace(name, xs, [r4(points[x][1]) for x in xs], "line", colors[group], group=group,
                                 showlegend=False, hidden=hidden))  # fmt: skip
        panels = [Panel("CPU (% of one core)", cpu), Panel("RSS (MiB)", rss, x_title="seconds since the run started")]
        note = "samples.csv; the workers' CPU and RSS are summed. Coordinator and host: click the legend."
        return Chart("resources", "CPU and memory: hyperd vs all workers", panels, note, self.bands())

    def per_worker(self) -> Chart | None:
        """Bars per worker, per phase, only for what that worker produced (no rows/s bar for a reader)."""
        if not self.workers:
            return None
        metrics = [("rows/s", "rows_per_s"), ("operations/s", None), ("p99 (ms)", "p99_ms")]
        labels = [self.label_key(i.key) for i in self.instances]
        by_key = defaultdict(dict)
        for w in self.workers:
            by_key[self.key(w)][int(w.number("worker"))] = w
        numbers = sorted({n for ws in by_key.values() for n in ws})
        panels = []
        for title, column in metrics:
            traces = []
            for n in numbers:
                ys = []
                for inst in self.instances:
                    w = by_key.get(inst.key, {}).get(n)
                    if w is None or not num(w["ops"]):
                        ys.append(None)
                    elif column is None:
                        busy = num(w["busy_s"], 0)
                        ys.append(r4(num(w["ops"], 0) / busy) if busy else None)
                    elif column == "rows_per_s" and not num(w["rows"]):
                        ys.append(None)
                    else:
                        ys.append(r4(num(w[column])))
                traces.append(Trace(f"worker {n}", labels, ys, "bar", PALETTE[n % len(PALETTE)], group=f"w{n}",
                                    showlegend=not panels))  # fmt: skip
            if any(y is not None for t in traces for y in t.y):
                panels.append(Panel(title, traces))
        if not panels:
            return None
        return Chart("workers", "Per worker: only what each worker produced", panels, categorical=True,
                     note="A missing bar: the worker had no such metric in that phase (e.g. no rows).")  # fmt: skip

    def matrix_chart(self) -> Chart | None:
        finals = final_rows(self.summary)
        points = list(dict.fromkeys(r.get("parameters", "") for r in finals))
        if len(points) < 2:
            return None
        columns = [("rows/s", "rows_per_s"), ("MiB/s", "mib_per_s"), ("operations/s", "ops_per_s"),
                   ("p50 (ms)", "p50_ms"), ("p99 (ms)", "p99_ms"), ("parallelism", "parallelism"),
                   ("hyperd CPU %", "hyperd_cpu_pct_mean"), ("hyperd RSS (MiB)", "hyperd_rss_mib_peak"),
                   ("workers CPU %", "workers_cpu_pct_mean")]  # fmt: skip
        panels = []
        for title, column in columns:
            traces = []
            for phase in self.phase_names:
                by_point = {r.get("parameters", ""): num(r.get(column)) for r in finals if r["phase"] == phase}
                ys = [r4(by_point.get(p)) for p in points]
                if any(ys):
                    traces.append(Trace(phase, points, ys, "lines+markers", self.colors[phase], group=phase,
                                        showlegend=not panels))  # fmt: skip
            if traces:
                panels.append(Panel(title, traces))
        panels[-1].x_title = "matrix point"
        return Chart("matrix", "Matrix: every metric across the points", panels, categorical=True)

    def repeats_chart(self) -> Chart | None:
        if not self.repeated:
            return None
        panels = []
        for title, column in (("rows/s", "rows_per_s"), ("operations/s", "ops_per_s"), ("p99 (ms)", "p99_ms")):
            traces = []
            reps = sorted({str(r.get("repetition")) for r in self.summary if not is_aggregate(r)})
            for rep in reps:
                rows = [r for r in self.summary if str(r.get("repetition")) == rep and not is_aggregate(r)]
                traces.append(Trace(f"repetition {rep}", [self.point_phase(r) for r in rows],
                                    [r4(num(r.get(column))) for r in rows], "markers", "#7f7f7f", group=f"rep{rep}",
                                    showlegend=not panels))  # fmt: skip
            medians = [r for r in self.summary if is_aggregate(r)]
            traces.append(Trace("median", [self.point_phase(r) for r in medians],
                                [r4(num(r.get(column))) for r in medians], "markers", "#d62728", group="median",
                                showlegend=not panels))  # fmt: skip
            if any(y for t in traces for y in t.y):
                panels.append(Panel(title, traces))
        note = "Each grey marker is one repetition; red is the median that summary.csv reports."
        return Chart("repeats", "Repetitions: the spread around the median", panels, note, categorical=True)

    def point_phase(self, row: dict) -> str:
        return f"{row['phase']} [{row['parameters']}]" if self.matrix and row.get("parameters") else row["phase"]

    def errors_chart(self) -> Chart | None:
        if not any(num(r["errors"]) for r in self.timeseries):
            return None
        traces = []
        for phase in self.phase_names:
            xs, ys = [], []
            for inst in (i for i in self.instances if i.phase == phase):
                for lo, hi, row in self.series_points(inst):
                    if num(row["errors"]):
                        xs.append(r4((lo + hi) / 2))
                        ys.append(num(row["errors"]))
            if xs:
                traces.append(Trace(phase, xs, ys, "bar", self.colors[phase], group=phase))
        panel = Panel("failed operations", traces, x_title="seconds since the run started")
        return Chart("errors", "Errors over time", [panel], bands=self.bands())

    def error_messages(self) -> list[dict]:
        """Failed operations grouped by their first message: where, how many."""
        grouped: dict[str, dict] = {}
        for row in self.latency:
            errors = int(num(row["errors"], 0))
            if not errors:
                continue
            message = row.get("first_error") or "(no message kept)"
            entry = grouped.setdefault(message, {"message": message, "errors": 0, "where": []})
            entry["errors"] += errors
            entry["where"].append(f"{self.label_key(self.key(row))} · {row['operation']} ({errors:,})")
        return sorted(grouped.values(), key=lambda e: -e["errors"])

    def charts(self) -> list[Chart]:
        made = [self.throughput(), self.latency_over_time(), self.spectrum(), self.resources(), self.errors_chart(),
                self.per_worker(), self.matrix_chart(), self.repeats_chart()]  # fmt: skip
        return [c for c in made if c is not None]


def spectrum_x(index: int) -> float:
    """x of SPECTRUM[index] on a 'nines' axis: −log10(1 − p); min at 0 and max half a decade past p99.9."""
    label, p = SPECTRUM[index]
    if p is None:
        return 0.0 if label == "min" else 3.5
    return round(-math.log10(1 - p / 100), 4)


def band_labels(bands: list[Band], span: float) -> list[tuple[Band, int]]:
    """Phase labels on up to 4 staggered rows so short phases' labels do not overlap (≈ 7 px per character on a
    plot at most ~900 px wide: an overestimate keeps them apart)."""
    ends: list[float] = []
    out = []
    for band in sorted((b for b in bands if not b.warmup), key=lambda b: b.x0):
        width = (len(band.label) * 7 + 8) / 900 * span
        level = next((i for i, end in enumerate(ends) if end <= band.x0), len(ends))
        if level >= 4:
            level = min(range(len(ends)), key=lambda i: ends[i])
        if level == len(ends):
            ends.append(0.0)
        ends[level] = band.x0 + width
        out.append((band, level))
    return out
