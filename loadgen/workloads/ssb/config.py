"""Options of the SSB workloads: ssb_generate (TPC-H's data, from TPC-H's cache), ssb_load (the eight TPC-H tables,
then SSB's five built from them), ssb_query (the 13 queries: a power run or throughput streams), the shared suite
options (loadgen/workloads/suites/config.py) bound to SSB."""

from typing import ClassVar, Literal

from loadgen.workloads.ssb.suite import SSB
from loadgen.workloads.suites.config import SuiteGeneratePhase, SuiteLoadPhase, SuiteQueryPhase
from loadgen.workloads.suites.suite import Suite


class SsbGeneratePhase(SuiteGeneratePhase):
    suite: ClassVar[Suite] = SSB
    workload: Literal["ssb_generate"]


class SsbLoadPhase(SuiteLoadPhase):
    suite: ClassVar[Suite] = SSB
    workload: Literal["ssb_load"]


class SsbQueryPhase(SuiteQueryPhase):
    suite: ClassVar[Suite] = SSB
    workload: Literal["ssb_query"]
