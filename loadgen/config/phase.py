"""The options every phase has, and what the rest of loadgen may ask of a phase's options: the options half of the
workload contract (the runtime half is loadgen/workloads/contract.py). Each workload's options model extends
PhaseOptions with its own keys and answers these questions for itself."""

from typing import ClassVar

from pydantic import Field

from loadgen.config.fields import PHASE_NAME_PATTERN, WEEK_S, Number, StrictModel

# what the terminal's table of a workload shows when its options do not say (summary.csv column names)
DEFAULT_TABLE_COLUMNS = ("wall_s", "seed_wall_s", "rows_per_s", "mib_per_s", "parallelism", "p99_ms")


class PhaseOptions(StrictModel):
    name: str = Field(pattern=PHASE_NAME_PATTERN, description="Unique phase name (letters, digits, _).")
    description: str = Field(default="", description="What the phase does, for people.")
    timeout_s: Number | None = Field(
        default=None, gt=0, le=WEEK_S, description="Maximum duration of this phase; defaults to timeouts.phase_s."
    )

    # summary.csv columns the final table of this workload shows (headers and formats: loadgen/columns.py), and
    # clearer headers for some of them
    table_columns: ClassVar[tuple[str, ...]] = DEFAULT_TABLE_COLUMNS
    table_labels: ClassVar[dict[str, str]] = {}
    # summary.csv columns (of loadgen/columns.py) the workload's reports fill, through its runtime's summarize
    summary_columns: ClassVar[tuple[str, ...]] = ()
    # whether the scenario's top-level `rows` is the default of this workload's phases (a --set rows=N reaches them)
    takes_scenario_rows: ClassVar[bool] = False
    # keys a --set of another key removes from the phase, e.g. {"rows": ("rows_scale",)}: the rows given replace it
    set_replaces: ClassVar[dict[str, tuple[str, ...]]] = {}
    # deprecated key → its new name: still accepted (with a warning naming FILE:LINE and the new key) for a release
    renamed_keys: ClassVar[dict[str, str]] = {}

    def cross_check(self, scenario):
        """Rules involving other keys of the scenario. Yields (location inside this phase, message)."""
        return ()

    def shadowed(self, key: str) -> str:
        """Why setting this phase's `key` would change nothing ('' when it takes effect); for --set."""
        return ""

    def sets_own_rows(self) -> bool:
        """With takes_scenario_rows: whether this phase sets its own rows (the scenario's do not reach it)."""
        return False

    def resolved(self, scenario):
        """This phase with defaults that depend on the scenario filled in."""
        return self

    def nominal_row_bytes(self) -> int:
        """Bytes per row for MiB/s: a nominal width, the same for every method (0: MiB/s is left out)."""
        return 0

    def progress_total(self) -> int:
        """Rows the phase will write or read in all, for the progress line's % and ETA; 0 = unknown."""
        return 0

    def error_budget(self) -> float | None:
        """The fraction of operations allowed to fail; None: any error fails the phase."""
        return None

    def method_name(self) -> str:
        """The client path (rows, arrow, arrow_stream, …) for the summary's `method` column; '' if none."""
        return ""

    def sessions_per_worker(self) -> int | None:
        """Concurrent sessions each worker runs, for the `sessions` columns; None: not a session workload."""
        return None

    def staging_folder(self) -> str | None:
        """A configured folder for staged files, swept of dead workers' files like /dev/shm."""
        return None

    def ends_early(self) -> bool:
        """Whether the phase honours the finish flag (an abort threshold ends it at once, keeping its results)."""
        return False

    def operation_names(self) -> list[str] | None:
        """The operations this phase records (latency.csv), for per-operation thresholds; None: not known ahead."""
        return None

    def describe_rate(self, workers: int) -> str:
        """How the load is paced, printed when the phase starts ('' for a phase that runs as fast as it can)."""
        return ""
