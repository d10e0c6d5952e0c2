"""The metric registry: every column of summary.csv and workers.csv, declared once.

Each column has its unit, what it means, whether higher is better (empty for a column that is not a
performance metric), how the phase's value comes from the workers, and how repetitions combine. The CSV
headers (results), the median row of repetitions (metrics), the allowed threshold metrics (thresholds), the
metrics `compare` judges, the terminal tables (report) and the README's column tables (checked by a test) all
read it. No imports from the rest of loadgen: everything may import this.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    unit: str
    description: str
    better: str = ""  # "higher" | "lower" | "": not a performance metric (no thresholds, no compare)
    over_workers: str = ""  # how the phase's value is made from the workers' (documentation)
    over_repetitions: str = ""  # "median": the summarising row holds the median; "": kept from the first
    label: str = ""  # header in the terminal tables ("" = not shown there)
    fmt: str = ""  # format spec in the terminal tables
    headline: bool = False  # judged by `loadgen compare`

    @property
    def is_metric(self) -> bool:
        return bool(self.better)


def _m(name, unit, description, better, over_workers, label="", fmt="", headline=False, repeat="median"):
    return Column(name, unit, description, better, over_workers, repeat, label, fmt, headline)


SUMMARY: tuple[Column, ...] = (
    Column("run_id", "", "the run: `<scenario>-<UTC stamp>`"),
    Column("scenario", "", "the scenario's name"),
    Column("point", "", "the matrix point (0, 1, …); 0 without a matrix"),
    Column("parameters", "", "the matrix point's values as one cell (`workers=2 insert_arrow.method=arrow`)"),
    Column(
        "hyperd_version",
        "",
        "what the point's hyperd reports (`SELECT version()`); environment.json has its path and sha256",
    ),
    Column("phase", "", "the phase's name"),
    Column("repetition", "", "1…N; empty on the row that summarises N repetitions"),
    Column("aggregate", "", "empty for a measured row; `median` for the row that summarises repetitions"),
    Column("workload", "", "insert, query, mix, tpch_…"),
    Column("method", "", "rows, arrow, arrow_stream (insert and query)"),
    Column("workers", "", "worker processes"),
    Column("sessions", "", "concurrent sessions (connections) in all: workers × sessions per worker (mix phases)"),
    Column("status", "", "`ok`, `failed` or `interrupted`"),
    Column(
        "thresholds",
        "",
        "the scenario's bounds on the phase: `ok`, or `missed: ` and each missed bound with what was measured "
        "(`missed: p99_ms<=50 (was 71.2)`); empty when the phase has none, on each repetition's row of a repeated "
        "phase (its median row is judged) and when the run ended before the bounds were checked",
    ),
    Column("started_utc", "UTC", "when the coordinator released the phase's barrier"),
    _m("wall_s", "s", "last worker end − first worker start", "lower", "span", "Wall (s)", ".3f", True),
    _m(
        "rows",
        "rows",
        "rows written and committed (insert; an interrupted phase counts only what its tables hold) or fetched "
        "(query) by all workers",
        "higher",
        "sum",
    ),
    _m(
        "nominal_mib",
        "MiB",
        "rows × the nominal row width (insert and full scan 24 B, filtered 12 B, aggregation 20 B): the same for "
        "every method, so MiB/s compare across methods",
        "higher",
        "sum",
    ),
    _m("rows_per_s", "rows/s", "rows per wall second", "higher", "sum ÷ wall", "Rows/s", ",.0f", True),
    _m("mib_per_s", "MiB/s", "nominal MiB per wall second", "higher", "sum ÷ wall", "MiB/s", ",.1f", True),
    _m(
        "parallelism",
        "",
        "Σ worker busy time ÷ wall (as the hyperdb-api async parallel benchmark defines it)",
        "higher",
        "Σ busy ÷ wall",
        "Parallel",
        ".2f",
        True,
    ),  # fmt: skip
    _m("start_skew_ms", "ms", "last worker start − first worker start", "lower", "span"),
    _m(
        "seed_wall_s",
        "s",
        "the wall as the hyperdb-api async parallel benchmark measures it: per worker its setup (connecting — "
        "first phase only — table creation, psycopg connection) + end − release + closing its connections (last "
        "phase only); the slowest worker's",
        "lower",
        "max",
        "Seed wall (s)",
        ".3f",
    ),
    _m(
        "ops",
        "operations",
        "operations (COPYs, add_rows batches, queries, mix operations; warmup excluded)",
        "higher",
        "sum",
    ),  # fmt: skip
    _m("ops_per_s", "operations/s", "operations per wall second", "higher", "sum ÷ wall", "Ops/s", ",.1f", True),
    _m("errors", "operations", "failed operations", "lower", "sum", "Errors", ",.0f"),
    _m("error_rate", "", "errors ÷ (ops + errors)", "lower", "sums"),
    _m(
        "p50_ms",
        "ms",
        "median operation latency, from the merged HdrHistogram",
        "lower",
        "merged histogram",
        "p50 (ms)",
        ",.2f",
        True,
    ),  # fmt: skip
    _m("p95_ms", "ms", "95th percentile operation latency", "lower", "merged histogram", headline=True),
    _m("p99_ms", "ms", "99th percentile operation latency", "lower", "merged histogram", "p99 (ms)", ",.2f", True),
    _m(
        "target_rate_per_s",
        "operations/s",
        "open-loop mix phases: the target rate (empty with rate stages)",
        "",
        "sum",
        "Target/s",
        ",.1f",
        repeat="",
    ),  # fmt: skip
    _m(
        "late_ops_pct",
        "%",
        "open-loop mix phases: operations that started over 10 ms behind schedule",
        "lower",
        "sum ÷ ops",
        "Late %",
        ".1f",
    ),  # fmt: skip
    _m("max_late_ms", "ms", "open-loop mix phases: the latest start behind schedule", "lower", "max"),
    _m(
        "queued_ops",
        "",
        "open-loop mix phases: arrivals that found every session busy and waited for one",
        "lower",
        "sum",
    ),  # fmt: skip
    _m(
        "hyperd_cpu_pct_mean",
        "%",
        "hyperd's mean CPU during the phase, in % of one core",
        "lower",
        "",
        "hyperd CPU %",
        ".0f",
        True,
    ),  # fmt: skip
    _m(
        "hyperd_rss_mib_peak",
        "MiB",
        "hyperd's peak resident memory",
        "lower",
        "",
        "hyperd peak RSS (MiB)",
        ",.0f",
        True,
    ),  # fmt: skip
    _m(
        "workers_cpu_pct_mean",
        "%",
        "the average worker's CPU %",
        "lower",
        "mean over samples",
        "worker CPU %",
        ".0f",
        True,
    ),  # fmt: skip
    _m("workers_rss_mib_peak", "MiB", "the largest worker RSS", "lower", "max"),
    _m("coordinator_cpu_pct_mean", "%", "the coordinator's mean CPU %", "lower", ""),
    _m("coordinator_rss_mib_peak", "MiB", "the coordinator's peak RSS", "lower", ""),
    Column(
        "verified", "", "`ok`, `failed` (data did not match), `unchecked` (user SQL, or nothing known to check against)"
    ),
    Column("error", "", "why the phase failed"),
    _m(
        "rows_per_s_min", "rows/s", "on the median row: the lowest rows/s of the repetitions", "higher", "", repeat=""
    ),  # fmt: skip
    _m(
        "rows_per_s_max", "rows/s", "on the median row: the highest rows/s of the repetitions", "higher", "", repeat=""
    ),  # fmt: skip
    _m(
        "rows_per_s_cv_pct",
        "%",
        "on the median row: coefficient of variation of rows/s over the repetitions (sample standard deviation ÷ mean)",
        "lower",
        "",
        repeat="",
    ),  # fmt: skip
)

WORKERS: tuple[Column, ...] = (
    Column("run_id", "", "the run"),
    Column("point", "", "the matrix point"),
    Column("phase", "", "the phase"),
    Column("repetition", "", "1…N"),
    Column("worker", "", "the worker's number (0…workers−1)"),
    Column("method", "", "the phase's method"),
    Column("sessions", "", "the worker's concurrent sessions (mix and query phases)"),
    Column("pid", "", "the worker's process id"),
    Column("node", "", "backend: ray: the Ray node the worker ran on (`host/node id`); empty for local workers"),
    Column("status", "", "`ok`, `failed` or `interrupted`"),
    Column(
        "setup_s", "s", "the phase's untimed setup: connecting (first phase only), table creation, psycopg connection"
    ),  # fmt: skip
    Column(
        "start_offset_ms",
        "ms",
        "worker start − barrier release as stamped by the coordinator (can be "
        "slightly negative: the coordinator stamps after its own wait returns)",
    ),  # fmt: skip
    Column("busy_s", "s", "the worker's timed part: end − start"),
    Column("close_s", "s", "closing its connections (last phase only)"),
    Column("rows", "rows", "rows written and committed, or fetched", "higher"),
    Column("rows_per_s", "rows/s", "rows ÷ busy", "higher"),
    Column("mib_per_s", "MiB/s", "nominal MiB ÷ busy", "higher"),
    Column("ops", "operations", "operations", "higher"),
    Column("errors", "operations", "failed operations", "lower"),
    Column("p50_ms", "ms", "the worker's median latency", "lower"),
    Column("p99_ms", "ms", "the worker's 99th percentile latency", "lower"),
    Column("verified", "", "`ok`, `failed`, `unchecked`"),
    Column("expected_rows", "rows", "rows the table should hold"),
    Column("counted_rows", "rows", "rows it holds"),
    Column("detail", "", "what did not match"),
)


def names(columns) -> list[str]:
    return [c.name for c in columns]


def by_name(columns=SUMMARY) -> dict[str, Column]:
    return {c.name: c for c in columns}


SUMMARY_NAMES = names(SUMMARY)
WORKER_NAMES = names(WORKERS)
METRIC_NAMES = [c.name for c in SUMMARY if c.is_metric]  # numeric, with a direction: thresholds may name them
REPEATED_MEDIANS = [c.name for c in SUMMARY if c.over_repetitions == "median"]
HEADLINE = [c.name for c in SUMMARY if c.headline]  # what `compare` judges
