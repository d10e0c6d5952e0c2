"""The tables of a run folder: their columns (summary.csv and workers.csv from the metric registry,
loadgen/columns.py), and reading the rows that stand for a phase."""

from loadgen import columns
from loadgen.results.counts import PERCENTILES, percentile_column

SUMMARY_COLUMNS = columns.SUMMARY_NAMES
WORKER_COLUMNS = columns.WORKER_NAMES
LATENCY_COLUMNS = (
    ["run_id", "point", "phase", "repetition", "operation", "count", "errors", "min_ms"]
    + [percentile_column(p) for p in PERCENTILES]
    + ["max_ms", "mean_ms", "first_error"]
)
TIMESERIES_COLUMNS = [
    "run_id", "point", "phase", "repetition", "t_s", "interval_s", "ops", "ops_per_s", "rows_per_s", "errors",
    "p50_ms", "p99_ms", "active_sessions", "target_sessions", "target_rate_per_s",
]  # fmt: skip
OP_TIMESERIES_COLUMNS = [
    "run_id", "point", "phase", "repetition", "t_s", "interval_s", "operation", "ops", "ops_per_s", "rows_per_s",
    "errors", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p99_9_ms",
]  # fmt: skip
SAMPLE_COLUMNS = [
    "run_id", "point", "t_s", "utc", "phase", "repetition", "process", "pid", "cpu_pct", "rss_mib", "node",
]  # fmt: skip


def is_aggregate(row: dict) -> bool:
    """A row that summarises repetitions (`aggregate` = median) rather than measuring one."""
    return bool(row.get("aggregate"))


def final_rows(summary: list[dict]) -> list[dict]:
    """One summary row per phase (per matrix point): its `median` row when repeated, else a failed one, else
    its last one."""

    def rank(row: dict) -> int:
        return 2 if is_aggregate(row) else 1 if row.get("status") != "ok" else 0

    by_phase: dict[tuple, dict] = {}
    for row in summary:
        key = (str(row.get("point", "")), row["phase"])
        kept = by_phase.get(key)
        if kept is None or rank(row) >= rank(kept):
            by_phase[key] = row
    return list(by_phase.values())


def describe_parameters(params: dict) -> str:
    """A matrix point's parameters as one cell: `workers=2 load.method=rows`."""
    return " ".join(f"{k}={v}" for k, v in params.items())
