"""The run's closing output fits the terminal: the full tables when they fit (or with --wide), else a compact table
of each workload's compact columns; then one plain verdict line per phase."""

import io

import pytest
from rich.console import Console

from loadgen.report import terminal
from loadgen.workloads import registry


def summary_row(phase, workload, **values):
    return {
        "run_id": "r", "scenario": "demo", "point": 0, "parameters": "", "phase": phase, "repetition": 1,
        "aggregate": "", "workload": workload, "method": "arrow", "workers": 2, "sessions": None, "status": "ok",
        "wall_s": 4.1, "seed_wall_s": 4.35, "rows": 20_000_000, "nominal_mib": 457.8, "rows_per_s": 4_878_049.0,
        "mib_per_s": 111.7, "parallelism": 1.84, "ops": 20, "ops_per_s": 4.88, "errors": 0, "p50_ms": 1_095.68,
        "p99_ms": 1_433.6, "hyperd_cpu_pct_mean": 151.0, "hyperd_rss_mib_peak": 1_280.0,
        "workers_cpu_pct_mean": 48.0, "verified": "ok", **values,
    }  # fmt: skip


# the first command's phases, a query phase of a matrix point, a mix phase: every built-in table shape
ROWS = [
    summary_row("insert_arrow", "insert"),
    summary_row("insert_rows", "insert", method="rows", rows_per_s=141_527.6, p50_ms=103.68, p99_ms=266.5),
    summary_row(
        "aggregation_arrow",
        "query",
        parameters="workers=2 insert_arrow.method=arrow_stream",
        rows_per_s=2_345.0,
        ops_per_s=117.3,
        p50_ms=8.2,
        p99_ms=12.0,
        verified="unchecked",
    ),  # fmt: skip
    summary_row(
        "stress",
        "mix",
        method="",
        sessions=16,
        ops_per_s=812.3,
        rows_per_s=12_000.0,
        p50_ms=2.1,
        p99_ms=35.0,
        errors=3,
        status="failed",
        verified="unchecked",
    ),  # fmt: skip
]


def output(width: int, wide: bool = False) -> str:
    """What `loadgen run` prints of its results on a terminal this wide (the CLI's console settings)."""
    out = io.StringIO()
    console = Console(file=out, width=width, highlight=False, markup=False, soft_wrap=True)
    terminal.print_results(console, ROWS, wide)
    terminal.print_verdicts(console, ROWS)
    return out.getvalue()


def headline_cells(row: dict) -> list[set[str]]:
    """How each of a phase's headline numbers (its workload's compact columns) reads: in the full or the compact
    table."""
    options = registry.options_models()[row["workload"]]
    return [
        {terminal.fmt(row[name], spec), terminal.short(row[name], spec)}
        for _, name, spec in terminal.labelled(options, options.compact_columns)
    ]


@pytest.mark.parametrize("width", [80, 100, 200])
def test_the_results_fit_the_terminal_and_nothing_is_cut(width):
    text = output(width)
    too_long = [line for line in text.splitlines() if len(line) > width]
    assert not too_long, too_long
    assert "…" not in text


@pytest.mark.parametrize("width", [80, 100, 200])
def test_the_headline_numbers_of_every_phase_are_shown(width):
    text = output(width)
    for row in ROWS:
        for forms in headline_cells(row):
            assert any(form in text for form in forms), (row["phase"], forms)
    assert text.count("unchecked") >= 2 and "failed" in text


def test_a_narrow_terminal_gets_the_compact_table_and_a_wide_one_the_full_table():
    narrow, roomy = output(80), output(200)
    assert "Seed wall" not in narrow and "4.88M" in narrow  # compact: rates in three digits
    assert "Seed wall (s)" in roomy and "4,878,049" in roomy and "hyperd peak RSS (MiB)" in roomy


def test_wide_prints_the_full_tables_whatever_the_terminal():
    text = output(80, wide=True)
    assert "Seed wall (s)" in text and "4,878,049" in text and "hyperd peak RSS (MiB)" in text
    assert "…" not in text


@pytest.mark.parametrize("width", [80, 200])
def test_the_output_ends_with_a_verdict_line_per_phase(width):
    lines = output(width).replace("\n", " ").split("insert_arrow: ")[-1]
    verdicts = "insert_arrow: " + " ".join(lines.split())
    assert verdicts == (
        "insert_arrow: ok, 4.88M rows/s over 2 workers, verified "
        "insert_rows: ok, 142k rows/s over 2 workers, verified "
        "aggregation_arrow [workers=2 insert_arrow.method=arrow_stream]: ok, 2,345 rows/s, 117.3 queries/s over "
        "2 workers, unchecked "
        "stress: failed, 812.3 ops/s over 2 workers (16 sessions), unchecked"
    )


def test_compact_numbers_keep_three_digits():
    assert [terminal.short(v) for v in (4_878_049, 21_812_345.0, 141_527.6, 9_999, 2_345.4, "", None)] == [
        "4.88M", "21.8M", "142k", "9,999", "2,345", "-", "-",
    ]  # fmt: skip
    assert terminal.short(1_433.6, ",.2f") == "1,433.60" and terminal.short(3_600_000_000.0) == "3.60G"


def test_the_full_table_shows_every_compact_column():
    for workload, options in registry.options_models().items():
        assert set(options.compact_columns) <= set(options.table_columns), workload


def test_the_live_progress_line_stays_on_one_line_of_a_narrow_terminal():
    for width in (80, 100, 200):
        out = io.StringIO()
        progress = terminal.Progress(Console(file=out, width=width, force_terminal=True))
        progress.begin("insert_arrow", 20_000_000)
        progress.started -= 2.0  # two seconds in, the last tick one second ago
        progress._last = (12_000, progress._last[1] - 1.0)
        progress.tick(9_756_098, 12_345, 0, [6_000, 6_345])
        line = out.getvalue().split("\r\x1b[2K")[-1]
        assert len(line) < width, (width, line)  # a line as wide as the terminal wraps, and is not rewritten in place
        assert line.startswith("insert_arrow: ") and "(49%)" in line and "ETA 2 s" in line and "rows/s" in line
