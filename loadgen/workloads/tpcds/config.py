"""Options of the TPC-DS workloads: tpcds_generate (tpcgen-cli's Parquet, cached), tpcds_load (the 24 tables),
tpcds_query (the 99 queries: a power run or throughput streams), the shared suite options
(loadgen/workloads/suites/config.py) bound to TPC-DS."""

from typing import ClassVar, Literal

from loadgen.workloads.suites.config import SuiteGeneratePhase, SuiteLoadPhase, SuiteQueryPhase
from loadgen.workloads.suites.suite import Suite
from loadgen.workloads.tpcds.suite import TPCDS


class TpcdsGeneratePhase(SuiteGeneratePhase):
    suite: ClassVar[Suite] = TPCDS
    workload: Literal["tpcds_generate"]


class TpcdsLoadPhase(SuiteLoadPhase):
    suite: ClassVar[Suite] = TPCDS
    workload: Literal["tpcds_load"]


class TpcdsQueryPhase(SuiteQueryPhase):
    suite: ClassVar[Suite] = TPCDS
    workload: Literal["tpcds_query"]
