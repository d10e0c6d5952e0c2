"""The workload registry: the value of a phase's `workload:` key → (phase model, workload class).

Adding a workload is one module in this package plus one line below.
"""

from typing import Union

from loadgen.workloads import insert, mix, query, tpch

WORKLOADS = {
    "insert": (insert.InsertPhase, insert.InsertWorkload),
    "query": (query.QueryPhase, query.QueryWorkload),
    "mix": (mix.MixPhase, mix.MixWorkload),
    "tpch_generate": (tpch.TpchGeneratePhase, tpch.TpchGenerateWorkload),
    "tpch_load": (tpch.TpchLoadPhase, tpch.TpchLoadWorkload),
    "tpch_query": (tpch.TpchQueryPhase, tpch.TpchQueryWorkload),
}

PHASE_MODELS = {name: model for name, (model, _) in WORKLOADS.items()}
PhaseModel = Union[tuple(PHASE_MODELS.values())]  # noqa: UP007 - built from the registry at import time


def workload_class(phase):
    return WORKLOADS[phase.workload][1]


def workload_for(phase, ctx):
    return workload_class(phase)(phase, ctx)
