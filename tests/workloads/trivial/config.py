"""Options of `workload: trivial`: run one statement `statements` times per worker."""

from typing import ClassVar, Literal

from pydantic import Field

from loadgen.config.fields import Count
from loadgen.config.phase import PhaseOptions


class TrivialPhase(PhaseOptions):
    workload: Literal["trivial"]
    sql: str = Field(default="SELECT 1", min_length=1, description="The statement each worker runs.")
    statements: Count = Field(default=10, ge=1, le=1_000_000, description="How many times each worker runs it.")

    table_columns: ClassVar[tuple[str, ...]] = ("wall_s", "ops_per_s", "p50_ms", "p99_ms")

    def operation_names(self) -> list[str]:
        return ["statement"]
