"""What every workload shares: the phase model fields and the worker-side interface."""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

PHASE_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"


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

    def run(self, recorder) -> None:
        raise NotImplementedError

    def verify(self) -> dict:
        """Return {"verified": "ok" | "failed" | "unchecked", "detail": str, ...}."""
        return {"verified": "unchecked", "detail": ""}
