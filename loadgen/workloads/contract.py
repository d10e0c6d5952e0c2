"""The workload contract: what a workload is, what it is given, and what it may declare.

A workload is two classes, named in the registry (loadgen/workloads/registry.py):

- an options model, a PhaseOptions subclass (loadgen/config/phase.py) with `workload: Literal["NAME"]` and its own
  keys, validated with the scenario; it declares what the coordinator needs without running anything: the
  terminal's columns (table_columns, table_labels; compact_columns for a narrow terminal), the summary columns its
  reports fill (summary_columns), its error budget, whether it can end early, its operations, its nominal row width.
  pydantic only: validating a scenario imports no runtime library.
- a runtime class, a Workload subclass below, imported by a worker only when it runs a phase of it.

Each worker runs a phase as: setup() (untimed) → the barrier → warmup(recorder) (untimed) → run(recorder) (timed) →
verify() → report() → close(). On the coordinator, once every worker's result is in: summarize() (the summary
columns the workload declared) and after_phase() (checks across workers, tables of its own, lines to print).

What a workload is given, its context (loadgen/engine/context.py):
  ctx.worker, ctx.workers, ctx.seed, ctx.random(*key)       who it is; a seeded random.Random
  ctx.connection, ctx.connect(), ctx.pg_connection(),        tableauhyperapi and psycopg (sync, async) connections
    ctx.pg_connect(), ctx.pg_connect_async()                 to the phase's database
  ctx.table, ctx.table_sql, ctx.table_names(templates)       the worker's table, and the phase's table names
  ctx.staging_dir(configured, bytes)                         where to stage files hyperd reads
  ctx.definitions                                            the scenario's data: definitions (generated batches:
                                                             loadgen/datagen/blocks.py)
  ctx.shared(Kind)                                           typed state this worker's later phases read
  ctx.gather(value)                                          every worker's value: a rendezvous of the phase
  ctx.stop, ctx.finish                                       the run is ending; end this phase now
  ctx.owns_database, ctx.database_is_new                     the worker that creates shared objects; whether the
                                                             run created the database (every table in it is ours)
and its recorder (loadgen/results/recorder.py):
  recorder.record(name, ns, rows)      one completed operation (names with ":" are side records, e.g. q:warmup)
  with recorder.op(name) as op: …      times the block; op.rows = rows it wrote or read
  recorder.error(name, exc)            a failed operation: counted when the phase has an error budget, else raised
  recorder.sending(rows)               rows handed to a statement still running: the progress line shows
                                       them, the time series counts them there once the statement is recorded
"""

from typing import TypedDict

from loadgen.config.phase import PhaseOptions

# Operation names with a ":" are side records: listed in latency.csv, left out of the phase's counts and
# statistics. OP:warmup is an operation of the warmup; OP:from_intended is an operation's latency measured from
# its intended start in an open-loop (rate-limited) phase.
WARMUP_SUFFIX = ":warmup"
FROM_INTENDED_SUFFIX = ":from_intended"


def is_primary(op: str) -> bool:
    return ":" not in op


class Verification(TypedDict, total=False):
    """What a workload's verify() returns (plain data, it crosses the process boundary). `verified` is required;
    the rest fill workers.csv."""

    verified: str  # "ok" | "failed" | "unchecked"
    detail: str
    expected_rows: int
    counted_rows: int


class Workload:
    """One phase as a worker runs it. `setup`, `verify` and `close` are untimed; `run` is the timed part."""

    def __init__(self, phase: PhaseOptions, ctx):
        self.phase = phase
        self.ctx = ctx

    def setup(self) -> None:
        """Before the barrier: create tables, open sessions, prepare what run needs."""

    def warmup(self, recorder) -> None:
        """After the barrier, untimed by the phase clock; record operations named with WARMUP_SUFFIX."""

    def run(self, recorder) -> None:
        """The timed part: record every operation into `recorder`; end early when ctx.finish is set (if the
        options say ends_early) and at once when ctx.stop is set."""
        raise NotImplementedError

    def verify(self) -> Verification:
        """Check what the phase did (untimed)."""
        return {"verified": "unchecked", "detail": ""}

    def report(self):
        """This worker's message to the coordinator-side summarize and after_phase (plain data; None: nothing)."""
        return None

    def close(self) -> None:
        """Release what setup opened (after verify)."""

    @classmethod
    def summarize(cls, phase, reports: list, ops: int) -> dict:
        """Coordinator side: the values of the summary columns the options declare (summary_columns), from the
        workers' reports (by worker; None for a worker that sent none) and the phase's operations."""
        return {}

    @classmethod
    def after_phase(cls, phase, outcome, output) -> list[str]:
        """Coordinator side, after a phase's results are aggregated (outcome: a results.aggregate.PhaseResult, its
        workers' reports in outcome.reports) and before they are written: a workload may check them across
        workers (outcome.fail(reason) fails the phase) or keep tables of its own in the run folder
        (`output.read_table(name)`, `output.write_table(name, columns, rows)`). Returns lines printed under the
        final tables."""
        return []
