"""Options of the TPC-H workloads: tpch_generate (the data, cached), tpch_load (the eight tables), tpch_query (a
power run or throughput streams), the shared suite options (loadgen/workloads/suites/config.py) bound to TPC-H."""

from typing import ClassVar, Literal

from pydantic import Field

from loadgen.workloads.suites.config import SuiteGeneratePhase, SuiteLoadPhase, SuiteQueryPhase
from loadgen.workloads.suites.suite import Suite
from loadgen.workloads.tpch.suite import TPCH


class TpchGeneratePhase(SuiteGeneratePhase):
    suite: ClassVar[Suite] = TPCH
    workload: Literal["tpch_generate"]


class TpchLoadPhase(SuiteLoadPhase):
    suite: ClassVar[Suite] = TPCH
    workload: Literal["tpch_load"]


class TpchQueryPhase(SuiteQueryPhase):
    suite: ClassVar[Suite] = TPCH
    workload: Literal["tpch_query"]
    refresh: bool = Field(
        default=False,
        description="Run the refresh functions: RF1 before and RF2 after the power stream, or a refresh stream of "
        "one RF1/RF2 pair per query stream beside the throughput streams (answers are then not checked).",
    )

    def cross_check(self, scenario):
        yield from super().cross_check(scenario)
        if self.refresh and self.cache is not None:
            yield (
                ("cache",),
                f"cache: {self.cache} measures the queries alone; the refresh functions change the tables between "
                "them: leave out cache, or refresh: false",
            )
        if self.refresh and self.check_answers:
            yield (
                ("check_answers",),
                "answers cannot be checked against DuckDB once the refresh functions have changed the tables "
                "(DuckDB reads the generated files): leave check_answers out, or refresh: false",
            )

    def resolved(self, scenario):
        phase = super().resolved(scenario)
        return phase.model_copy(update={"check_answers": False}) if phase.refresh else phase
