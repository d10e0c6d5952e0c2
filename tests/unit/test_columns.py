"""The metric registry is the one list: CSV headers, thresholds, compare, the terminal tables and the column
reference (docs/reference/result_columns.md) agree."""

import re
from pathlib import Path

from loadgen import columns
from loadgen.config import thresholds
from loadgen.report import terminal
from loadgen.results import aggregate, compare
from loadgen.results import tables as run_tables

REFERENCE = (Path(__file__).resolve().parents[2] / "docs" / "reference" / "result_columns.md").read_text("utf-8")


def section(title: str) -> str:
    start = REFERENCE.index(f"## {title}\n")
    end = REFERENCE.index("\n## ", start + 1)
    return REFERENCE[start:end]


def documented(title: str) -> set[str]:
    """Column names in a section of the reference: backticked names in the table's first column, or in its text."""
    text = section(title)
    rows = [line.split("|")[1] for line in text.splitlines() if line.startswith("| `")]
    source = "\n".join(rows) if rows else text
    return {n for n in re.findall(r"`([a-z][a-z0-9_:]*)`", source) if not n.startswith("param:")}


def test_every_summary_column_is_documented_and_nothing_else():
    assert documented("summary.csv") == set(columns.SUMMARY_NAMES)


def test_every_workers_column_is_documented():
    assert set(columns.WORKER_NAMES) <= documented("workers.csv")


def test_the_csv_headers_are_the_registry():
    assert run_tables.SUMMARY_COLUMNS == columns.SUMMARY_NAMES
    assert run_tables.WORKER_COLUMNS == columns.WORKER_NAMES


def test_readers_take_their_metrics_from_the_registry():
    registry = columns.by_name()
    assert set(thresholds.METRICS) == {c.name for c in columns.SUMMARY if c.better}
    assert all(registry[m].better for m in compare.METRICS)
    assert set(aggregate.MEDIAN_COLUMNS) <= set(thresholds.METRICS)
    for workload in ("insert", "query", "mix", "tpch_query"):
        for header, name, spec in terminal.table_columns(workload):
            assert name in registry and header and spec


def test_a_metric_has_a_unit_direction_and_description():
    for column in columns.SUMMARY:
        assert column.description
        if column.better:
            assert column.better in ("higher", "lower")
