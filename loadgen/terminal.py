"""What the terminal shows: a live progress line while a phase runs, and the final tables (rich).

The final report has one table per workload, titled like the seed benchmark's (PARALLEL INSERT,
PARALLEL QUERY): path or shape | Wall (s) | Rows/s | MiB/s | Parallel, plus what a load tester wants next to it.
"""

import time

from rich.console import Console
from rich.table import Table
from rich.text import Text

from loadgen import columns

# the summary columns each workload's table shows, in order; headers and formats come from the registry
SHOWN = {
    "insert": ("wall_s", "seed_wall_s", "rows_per_s", "mib_per_s", "parallelism", "p99_ms"),
    "mix": ("wall_s", "ops_per_s", "target_rate_per_s", "late_ops_pct", "errors", "p50_ms", "p99_ms", "rows_per_s"),
    "query": ("wall_s", "seed_wall_s", "rows_per_s", "mib_per_s", "parallelism", "ops_per_s", "p50_ms", "p99_ms"),
}
COMMON_TAIL = ("hyperd_cpu_pct_mean", "hyperd_rss_mib_peak", "workers_cpu_pct_mean")
LABELS = {"insert": {"p99_ms": "p99 op (ms)"}, "query": {"ops_per_s": "Queries/s"}}  # a clearer word per workload


# C0 and C1 control characters and DEL, but newline and tab: in a name, path, description or message an ESC or CSI
# would drive the terminal (move the cursor, clear the screen, set the window title) instead of being read
CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0))}


def clean(text) -> str:
    """User text for the terminal: control characters shown as `\\x1b`."""
    return str(text).translate(CONTROLS)


def shown(text, style: str = "") -> Text:
    """User text for a rich table or print: control characters escaped, never read as rich markup (a path
    `a[/]b` or a value `[wip]` is text)."""
    return Text(clean(text), style=style)


def say(console: Console, text: str) -> None:
    """Print a line that holds user text (paths, names, descriptions, messages): never rich markup, control
    characters escaped."""
    console.print(clean(text), markup=False, highlight=False)


def table_columns(workload: str) -> list[tuple[str, str, str]]:
    """(header, summary column, format) of a workload's table."""
    registry = columns.by_name()
    names = SHOWN.get(workload, SHOWN["insert"]) + COMMON_TAIL
    return [(LABELS.get(workload, {}).get(n, registry[n].label), n, registry[n].fmt) for n in names]


def fmt(value, spec: str) -> str:
    if value in ("", None):
        return "-"
    return format(value, spec)


def phase_tables(summaries: list[dict]) -> list[Table]:
    tables = []
    for workload in dict.fromkeys(s["workload"] for s in summaries):
        rows = [s for s in summaries if s["workload"] == workload]
        shown_columns = table_columns(workload)
        table = Table(title=f"PARALLEL {workload.upper()}", title_justify="left")
        table.add_column("Phase (method)", justify="left")
        table.add_column("Workers", justify="right")
        for header, _, _ in shown_columns:
            table.add_column(header, justify="right")
        table.add_column("Verified")
        table.add_column("Status")
        for s in rows:
            cells = [fmt(s.get(key, ""), spec) for _, key, spec in shown_columns]
            name = f"{s['phase']} ({s['method']})" if s["method"] else s["phase"]
            if s.get("parameters"):  # a matrix point
                name += f" [{s['parameters']}]"
            table.add_row(
                shown(name),
                str(s["workers"]),
                *cells,
                shown(s["verified"], "bold red" if s["verified"] == "failed" else ""),
                shown(s["status"], "bold red" if s["status"] != "ok" else ""),
            )
        tables.append(table)
    return tables


class Progress:
    """One status line per second: rewritten in place on a terminal, a plain line every 5 s otherwise."""

    def __init__(self, console: Console, quiet: bool = False):
        self.console = console
        self.quiet = quiet
        self.live = console.is_terminal
        self.phase = ""
        self.total_rows = 0
        self.started = 0.0
        self._last_plain = 0.0
        self._last = (0, 0.0)

    def begin(self, phase: str, total_rows: int) -> None:
        self.phase, self.total_rows, self.started = phase, total_rows, time.monotonic()
        self._last_plain = self.started
        self._last = (0, self.started)  # (ops, time) at the previous tick, for the current rate

    def line(self, rows: int, ops: int, errors: int, elapsed: float, ops_rate: float) -> str:
        rate = rows / elapsed if elapsed > 0 else 0.0
        text = f"{self.phase}: {rows:,} rows"
        if self.total_rows:
            text += f" / {self.total_rows:,} ({100 * rows / self.total_rows:.0f}%)"
        text += f"  {ops:,} ops ({ops_rate:,.0f}/s now)  {rate:,.0f} rows/s  {errors:,} errors  {elapsed:.1f} s"
        if self.total_rows and rate > 0:
            text += f"  ETA {max(0.0, (self.total_rows - rows) / rate):.0f} s"
        return text

    def tick(self, rows: int, ops: int, errors: int = 0, per_worker_ops: list[int] = (), sessions: int = 0) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        last_ops, last_t = self._last
        ops_rate = (ops - last_ops) / (now - last_t) if now > last_t else 0.0
        self._last = (ops, now)
        text = self.line(rows, ops, errors, now - self.started, ops_rate)
        if sessions:
            text += f" | {sessions:,} active sessions"
        detail = "  | " + " ".join(f"w{i}:{n:,}" for i, n in enumerate(per_worker_ops))
        if per_worker_ops and len(text) + len(detail) <= self.console.width:  # a wide terminal: per worker too
            text += detail
        if self.live:
            self.console.file.write("\r\x1b[2K" + text)
            self.console.file.flush()
        elif now - self._last_plain >= 5:
            self._last_plain = now
            self.console.print(text, markup=False)

    def end(self) -> None:
        if self.live and not self.quiet:
            self.console.file.write("\r\x1b[2K")
            self.console.file.flush()
