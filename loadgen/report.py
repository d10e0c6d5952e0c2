"""What the terminal shows: a live progress line while a phase runs and the final table (rich)."""

import time

from rich.console import Console
from rich.table import Table


def fmt(value, spec: str = ",.0f") -> str:
    if value in ("", None):
        return "-"
    return format(value, spec)


def phase_table(summaries: list[dict], title: str = "loadgen results") -> Table:
    table = Table(title=title, title_justify="left")
    for name, justify in [
        ("Phase", "left"), ("Method", "left"), ("Workers", "right"), ("Wall (s)", "right"),
        ("Rows/s", "right"), ("MiB/s", "right"), ("Ops/s", "right"), ("Parallel", "right"), ("p99 op (ms)", "right"),
        ("hyperd CPU %", "right"), ("hyperd peak RSS (MiB)", "right"), ("Worker CPU %", "right"),
        ("Verified", "left"), ("Status", "left"),
    ]:  # fmt: skip
        table.add_column(name, justify=justify)
    for s in summaries:
        status = s["status"] if s["status"] == "ok" else f"[bold red]{s['status']}[/]"
        verified = s["verified"] if s["verified"] != "failed" else "[bold red]failed[/]"
        table.add_row(
            s["phase"],
            s["method"],
            str(s["workers"]),
            fmt(s["wall_s"], ".3f"),
            fmt(s["rows_per_s"]),
            fmt(s["mib_per_s"], ",.1f"),
            fmt(s["ops_per_s"], ",.1f"),
            fmt(s["parallelism"], ".2f") + "x",
            fmt(s["p99_ms"], ",.2f"),
            fmt(s["hyperd_cpu_pct_mean"], ".0f"),
            fmt(s["hyperd_rss_mib_peak"], ",.0f"),
            fmt(s["workers_cpu_pct_mean"], ".0f"),
            verified,
            status,
        )
    return table


class Progress:
    """One status line per second: a rewritten line on a terminal, plain lines every 5 s otherwise."""

    def __init__(self, console: Console, quiet: bool = False):
        self.console = console
        self.quiet = quiet
        self.live = console.is_terminal
        self.phase = ""
        self.total_rows = 0
        self.started = 0.0
        self._last_plain = 0.0

    def begin(self, phase: str, total_rows: int) -> None:
        self.phase, self.total_rows, self.started = phase, total_rows, time.monotonic()
        self._last_plain = self.started

    def tick(self, rows: int, ops: int) -> None:
        if self.quiet:
            return
        elapsed = time.monotonic() - self.started
        rate = rows / elapsed if elapsed > 0 else 0.0
        line = f"{self.phase}: {rows:,} rows"
        if self.total_rows:
            pct = 100 * rows / self.total_rows
            eta = (self.total_rows - rows) / rate if rate > 0 else float("nan")
            line += f" / {self.total_rows:,} ({pct:.0f}%)"
        line += f"  {ops:,} ops  {rate:,.0f} rows/s  {elapsed:.1f} s"
        if self.total_rows and rate > 0:
            line += f"  ETA {eta:.0f} s"
        if self.live:
            self.console.file.write("\r\x1b[2K" + line)
            self.console.file.flush()
        elif time.monotonic() - self._last_plain >= 5:
            self._last_plain = time.monotonic()
            self.console.print(line, highlight=False)

    def end(self) -> None:
        if self.live and not self.quiet:
            self.console.file.write("\r\x1b[2K")
            self.console.file.flush()
