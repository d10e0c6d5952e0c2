"""What every workload shares: the phase model fields and the worker-side interface."""

import string
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from loadgen.data import BYTES_PER_ROW

PHASE_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
# Operation names with a ":" are side records: listed in latency.csv, left out of the phase's counts and
# statistics. OP:warmup is an operation of the warmup; OP:from_intended is an operation's latency measured from
# its intended start in an open-loop (rate-limited) phase.
WARMUP_SUFFIX = ":warmup"
FROM_INTENDED_SUFFIX = ":from_intended"


def is_primary(op: str) -> bool:
    return ":" not in op


class StrictModel(BaseModel):
    """Unknown keys are errors and a validated scenario cannot be changed by accident."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PhaseBase(StrictModel):
    name: str = Field(pattern=PHASE_NAME_PATTERN, description="Unique phase name (letters, digits, _).")
    description: str = ""
    timeout_s: float | None = Field(
        default=None, gt=0, description="Maximum duration of this phase; defaults to timeouts.phase_s."
    )

    def cross_check(self, scenario):
        """Rules involving other keys of the scenario. Yields (location inside this phase, message)."""
        return ()

    def resolved(self, scenario):
        """This phase with defaults that depend on the scenario filled in."""
        return self

    def nominal_row_bytes(self) -> int:
        """Bytes per row for MiB/s: the canonical row's nominal width, the same for every method."""
        return BYTES_PER_ROW


class Workload:
    """One phase as a worker runs it. `setup` and `verify` are untimed; `run` is the timed part.

    A workload records every operation into `recorder` (loadgen.metrics.Recorder) and keeps what later phases
    need (for example which rows its table holds) in `ctx.state`.
    """

    # the value of `workload:` in YAML; the registry maps it to (phase model, this class)
    name: ClassVar[str]

    def __init__(self, phase, ctx):
        self.phase = phase
        self.ctx = ctx

    def setup(self) -> None:
        pass

    def warmup(self, recorder) -> None:
        """Untimed by the phase clock; record operations named with WARMUP_SUFFIX."""

    def run(self, recorder) -> None:
        raise NotImplementedError

    def verify(self) -> dict:
        """Return {"verified": "ok" | "failed" | "unchecked", "detail": str, ...}."""
        return {"verified": "unchecked", "detail": ""}

    @classmethod
    def after_phase(cls, phase, outcome: dict, run_dir) -> list[str]:
        """Coordinator side, after a phase's results are aggregated (outcome: summary, workers, latency,
        timeseries) and before they are written: a workload may check them across workers (setting
        outcome["summary"]["status"]/"error" to fail the phase) or write files of its own into run_dir.
        Returns lines printed under the final tables."""
        return []


def check_placeholders(template: str, allowed: tuple[str, ...]) -> None:
    """Reject `{unknown}` placeholders and broken braces in a template string."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ValueError(f"bad braces in {template!r}: {exc} (write {{{{ and }}}} for literal braces)") from None
    for name in fields:
        if name not in allowed:
            shown = ", ".join("{" + a + "}" for a in allowed)
            raise ValueError(f"unknown placeholder {{{name}}} (allowed: {shown})")
