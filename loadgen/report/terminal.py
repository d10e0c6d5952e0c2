"""What the terminal shows: a live progress line while a phase runs, and the final results (rich).

The final results have one table per workload, titled like the seed benchmark's (PARALLEL INSERT, PARALLEL QUERY):
path or shape | Wall (s) | Rows/s | MiB/s | Parallel, plus what a load tester wants next to it. A terminal too
narrow for a table gets its compact form instead (the few columns the workload declares as compact_columns), and
the output ends with one plain verdict line per phase. Every column comes from the workload's options and the
metric registry (loadgen/columns.py): nothing here knows a workload.
"""

import math
import time

from rich import box
from rich.console import Console
from rich.segment import Segments
from rich.table import Table
from rich.text import Text

from loadgen import columns
from loadgen.config.phase import PhaseOptions
from loadgen.workloads import registry

COMMON_TAIL = ("hyperd_cpu_pct_mean", "hyperd_rss_mib_peak", "workers_cpu_pct_mean")
NO_LIMIT = 10_000  # columns: a table's natural width is measured against this
NAME_WIDTH = 12  # the phase column folds a longer word (a phase name) when the terminal is narrow
VERIFIED_WORDS = {"ok": "verified", "failed": "verification failed", "unchecked": "unchecked"}


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


def counted(number: int, noun: str) -> str:
    """`1 phase`, `2 phases`."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def options_of(workload: str) -> type[PhaseOptions]:
    return registry.options_models().get(workload, PhaseOptions)


def labelled(options: type[PhaseOptions], names) -> list[tuple[str, str, str]]:
    """(header, summary column, format) of each column: headers and formats from loadgen/columns.py, unless the
    workload's table_labels say better."""
    known = columns.by_name()
    return [(options.table_labels.get(n, known[n].label), n, known[n].fmt) for n in names]


def table_columns(workload: str) -> list[tuple[str, str, str]]:
    """(header, summary column, format) of a workload's table: the columns its options declare (table_columns, with
    their table_labels), then hyperd's and the workers' resources."""
    options = options_of(workload)
    return labelled(options, options.table_columns + COMMON_TAIL)


def compact_columns(workload: str) -> list[tuple[str, str, str]]:
    """The same for the compact table: the workload's compact_columns."""
    options = options_of(workload)
    return labelled(options, options.compact_columns)


def fmt(value, spec: str) -> str:
    if value in ("", None):
        return "-"
    return format(value, spec)


def short(value, spec: str = ",.0f") -> str:
    """A number for the compact table and the verdict lines: as the full table shows it below 10,000, above in
    three significant digits with k, M or G (488k, 4.88M, 21.8M): a rate of any size stays narrow."""
    if value in ("", None):
        return "-"
    number = float(value)
    for size, divisor, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(number) >= size:
            scaled = number / divisor
            return f"{scaled:,.{max(0, 2 - math.floor(math.log10(abs(scaled))))}f}{suffix}"
    return format(number, spec)


def phase_name(row: dict, method: bool = True) -> str:
    name = f"{row['phase']} ({row['method']})" if method and row["method"] else row["phase"]
    if row.get("parameters"):  # a matrix point
        name += f" [{row['parameters']}]"
    return name


def by_workload(summaries: list[dict]) -> list[tuple[str, list[dict]]]:
    return [(w, [s for s in summaries if s["workload"] == w]) for w in dict.fromkeys(s["workload"] for s in summaries)]


def marked(value: str, bad: bool) -> Text:
    return shown(value, "bold red" if bad else "")


def longest_word(texts) -> int:
    return max((len(word) for text in texts for word in str(text).split()), default=1)


def filled_table(title: str, heads: list[tuple[str, str]], rows: list[list], compact: bool) -> Table:
    """A table whose columns are no narrower than their longest word (header or cell; the phase names' column: up to
    NAME_WIDTH, a longer name folds): rich then wraps at spaces and never cuts a cell short with an ellipsis, and
    the table's measured minimum is the width it needs."""
    style = {"box": box.SIMPLE_HEAD, "show_edge": False, "pad_edge": False, "padding": (0, 1, 0, 0)} if compact else {}
    table = Table(title=title, title_justify="left", **style)
    for index, (header, justify) in enumerate(heads):
        width = longest_word([header, *(row[index] for row in rows)])
        table.add_column(header, justify=justify, overflow="fold", min_width=width if index else min(width, NAME_WIDTH))
    for row in rows:
        table.add_row(*row)
    return table


def phase_tables(summaries: list[dict]) -> list[Table]:
    """The full table of each workload."""
    tables = []
    for workload, rows in by_workload(summaries):
        shown_columns = table_columns(workload)
        heads = [("Phase (method)", "left"), ("Workers", "right"), *((h, "right") for h, _, _ in shown_columns)]
        cells = [
            [
                shown(phase_name(s)),
                str(s["workers"]),
                *(fmt(s.get(key, ""), spec) for _, key, spec in shown_columns),
                marked(s["verified"], s["verified"] == "failed"),
                marked(s["status"], s["status"] != "ok"),
            ]
            for s in rows
        ]
        heads += [("Verified", "left"), ("Status", "left")]
        tables.append(filled_table(f"PARALLEL {workload.upper()}", heads, cells, compact=False))
    return tables


def compact_tables(summaries: list[dict]) -> list[Table]:
    """The compact table of each workload: phase, status, its compact columns, verified; no borders."""
    tables = []
    for workload, rows in by_workload(summaries):
        shown_columns = compact_columns(workload)
        heads = [
            ("Phase", "left"),
            ("Status", "left"),
            *((h, "right") for h, _, _ in shown_columns),
            ("Verified", "left"),
        ]
        cells = [
            [
                shown(phase_name(s)),
                marked(s["status"], s["status"] != "ok"),
                *(short(s.get(key, ""), spec) for _, key, spec in shown_columns),
                marked(s["verified"], s["verified"] == "failed"),
            ]
            for s in rows
        ]
        tables.append(filled_table(f"PARALLEL {workload.upper()}", heads, cells, compact=True))
    return tables


def verdicts(summaries: list[dict]) -> list[str]:
    """One plain line per phase: its status, its rates (the rates among its compact columns), how many workers,
    whether its data was verified, e.g. `load: ok, 4.88M rows/s over 2 workers, verified`."""
    units = {c.name: c.unit for c in columns.SUMMARY}
    out = []
    for s in summaries:
        rates = [
            f"{short(s.get(key), spec)} {header.lower()}"
            for header, key, spec in compact_columns(s["workload"])
            if units[key].endswith("/s") and s.get(key) not in ("", None)
        ]
        who = counted(int(s["workers"]), "worker")
        if s.get("sessions") not in ("", None):
            who += f" ({s['sessions']} sessions)"
        median = "median " if s.get("aggregate") == "median" else ""
        what = f"{median}{', '.join(rates)} over {who}" if rates else f"{who}"
        out.append(
            f"{phase_name(s, method=False)}: {s['status']}, {what}, {VERIFIED_WORDS.get(s['verified'], s['verified'])}"
        )
    return out


def fitted(table: Table, console: Console, options) -> bool:
    """Fix the column widths of a table wider than the terminal so that it fits: each column gets its longest word
    at least (filled_table's min_width) and a share of the room left in proportion to how much wider its longest
    line is. rich's own shrinking does not keep to min_width, so it would cut cells or run past the edge. False
    when even the longest words do not fit."""
    natural = console.measure(table, options=options.update_width(NO_LIMIT)).maximum
    lines = [max(len(str(text)) for text in (column.header, *column.cells)) for column in table.columns]
    least = [column.min_width or 1 for column in table.columns]
    room = console.width - (natural - sum(lines))  # less the borders and padding
    spare = room - sum(least)
    if spare < 0:
        return False
    wants = [line - low for line, low in zip(lines, least, strict=True)]
    for column, low, want in zip(table.columns, least, wants, strict=True):
        column.width = low + (spare * want // sum(wants) if sum(wants) else 0)
    return True


def print_results(console: Console, summaries: list[dict], wide: bool = False) -> None:
    """Each workload's full table when it fits the terminal (its headers and names wrapped at spaces if need be,
    no cell cut), or with `wide` at its own width, whatever the terminal's; else its compact table. Tables wrap
    even on a console that soft-wraps (the CLI's): soft wrapping would let them run past the edge."""
    options = console.options.update(no_wrap=False, overflow=None)
    for table, compact in zip(phase_tables(summaries), compact_tables(summaries), strict=True):
        natural = console.measure(table, options=options.update_width(NO_LIMIT)).maximum
        if natural <= console.width or (not wide and fitted(table, console, options)):
            console.print(table, soft_wrap=False)
        elif wide:  # rich renders at most the console's width: the lines are rendered at the table's own
            lines = console.render_lines(table, options.update_width(natural), pad=False, new_lines=True)
            console.print(Segments([segment for line in lines for segment in line]), crop=False, end="")
        else:
            console.print(compact, soft_wrap=False)


def print_verdicts(console: Console, summaries: list[dict]) -> None:
    """The closing lines, wrapped at the terminal's width."""
    for line in verdicts(summaries):
        console.print(clean(line), markup=False, highlight=False, soft_wrap=False, overflow="fold")


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

    def narrow_line(self, rows: int, errors: int, elapsed: float, ops_rate: float) -> str:
        """The line for a terminal too narrow for `line`: numbers in three digits, what matters most first (what is
        cut off the end of a line that still does not fit matters least)."""
        rate = rows / elapsed if elapsed > 0 else 0.0
        text = f"{self.phase}: {short(rows)} rows"
        if self.total_rows:
            text += f" / {short(self.total_rows)} ({100 * rows / self.total_rows:.0f}%)"
            if rate > 0:
                text += f"  ETA {max(0.0, (self.total_rows - rows) / rate):.0f} s"
        return text + f"  {errors:,} errors  {short(rate)} rows/s  {short(ops_rate)} ops/s"

    def tick(self, rows: int, ops: int, errors: int = 0, per_worker_ops: list[int] = (), sessions: int = 0) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        last_ops, last_t = self._last
        ops_rate = (ops - last_ops) / (now - last_t) if now > last_t else 0.0
        self._last = (ops, now)
        text = self.line(rows, ops, errors, now - self.started, ops_rate)
        if self.live and len(text) >= self.console.width:  # a line that wraps is not rewritten in place
            text = self.narrow_line(rows, errors, now - self.started, ops_rate)
        if sessions:
            text += f" | {sessions:,} active sessions"
        detail = "  | " + " ".join(f"w{i}:{n:,}" for i, n in enumerate(per_worker_ops))
        if per_worker_ops and len(text) + len(detail) <= self.console.width:  # a wide terminal: per worker too
            text += detail
        if self.live:
            self.console.file.write("\r\x1b[2K" + text[: self.console.width - 1])
            self.console.file.flush()
        elif now - self._last_plain >= 5:
            self._last_plain = now
            self.console.print(text, markup=False)

    def end(self) -> None:
        if self.live and not self.quiet:
            self.console.file.write("\r\x1b[2K")
            self.console.file.flush()
