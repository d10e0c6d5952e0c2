"""Options of the TPC-H workloads: tpch_generate (the data, cached), tpch_load (the eight tables), tpch_query (a
power run or throughput streams), the shared suite options (loadgen/workloads/suites/config.py) bound to TPC-H."""

from typing import ClassVar, Literal

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
