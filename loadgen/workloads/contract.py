"""The workload contract, runtime half: what a worker does with one phase (the options half is
loadgen/config/phase.py). A workload is an options model (a PhaseOptions subclass, validated with the scenario)
and a runtime class (a Workload subclass) that a worker imports only when it runs that workload."""

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
    the rest fill workers.csv (expected_rows, counted_rows, detail) and, for an open-loop phase, the summary's
    schedule columns."""

    verified: str  # "ok" | "failed" | "unchecked"
    detail: str
    expected_rows: int
    counted_rows: int
    schedule: dict


class Workload:
    """One phase as a worker runs it. `setup` and `verify` are untimed; `run` is the timed part.

    A workload records every operation into `recorder` and keeps what later phases need (for example which rows
    its table holds) in `ctx.state`.
    """

    def __init__(self, phase: PhaseOptions, ctx):
        self.phase = phase
        self.ctx = ctx

    def setup(self) -> None:
        pass

    def warmup(self, recorder) -> None:
        """Untimed by the phase clock; record operations named with WARMUP_SUFFIX."""

    def run(self, recorder) -> None:
        raise NotImplementedError

    def verify(self) -> Verification:
        """Check what the phase did (untimed)."""
        return {"verified": "unchecked", "detail": ""}

    @classmethod
    def after_phase(cls, phase, outcome: dict, output) -> list[str]:
        """Coordinator side, after a phase's results are aggregated (outcome: summary, workers, latency,
        timeseries) and before they are written: a workload may check them across workers (setting
        outcome["summary"]["status"]/"error" to fail the phase) or keep tables of its own in the run folder
        (`output.read_table(name)`, `output.write_table(name, columns, rows)`). Returns lines printed under the
        final tables."""
        return []
