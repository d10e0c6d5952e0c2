"""The workloads loadgen knows: the value of a phase's `workload:` key → its options model, imported here (pydantic
only, so validating a scenario stays light), and its runtime class, named by module path and imported only by a
worker that runs it (and by the coordinator for its after_phase).

Adding a workload is its own package (an options model and a runtime class, see loadgen/workloads/contract.py)
plus one `register` line below; a module outside loadgen (a test, a user's workload) adds its own the same way.
"""

import importlib
from dataclasses import dataclass

from loadgen import columns
from loadgen.config.phase import PhaseOptions
from loadgen.workloads.insert.config import InsertPhase
from loadgen.workloads.mix.config import MixPhase
from loadgen.workloads.python.config import RUNTIME as PYTHON_RUNTIME
from loadgen.workloads.python.config import PythonPhase, installed_plugins, plugin_phase
from loadgen.workloads.query.config import QueryPhase
from loadgen.workloads.ssb.config import SsbGeneratePhase, SsbLoadPhase, SsbQueryPhase
from loadgen.workloads.tpcds.config import TpcdsGeneratePhase, TpcdsLoadPhase, TpcdsQueryPhase
from loadgen.workloads.tpch.config import TpchGeneratePhase, TpchLoadPhase, TpchQueryPhase


@dataclass(frozen=True)
class Entry:
    name: str  # the phase's `workload:` value; the options model's `workload` field is Literal[name]
    options: type[PhaseOptions]
    runtime: str  # "package.module:Class", a loadgen.workloads.contract.Workload subclass
    origin: str = "built-in"  # where it comes from: built-in, or the installed distribution of a plugin


_entries: dict[str, Entry] = {}
_generation = [0]  # bumped by every registration: the scenario model is rebuilt for the new set of workloads


def register(name: str, options: type[PhaseOptions], runtime: str, origin: str = "built-in") -> None:
    module, _, attribute = runtime.partition(":")
    if not module or not attribute:
        raise ValueError(f"workload {name}: runtime {runtime!r} must be 'package.module:Class'")
    if options.model_fields["workload"].annotation.__args__ != (name,):
        raise ValueError(f"workload {name}: {options.__name__}.workload must be Literal[{name!r}]")
    unknown = [
        c
        for c in options.summary_columns + options.table_columns + options.compact_columns
        if c not in columns.SUMMARY_NAMES
    ]
    if unknown:
        raise ValueError(f"workload {name}: {unknown} are not summary.csv columns (loadgen/columns.py)")
    _entries[name] = Entry(name, options, runtime, origin)
    _generation[0] += 1


def entries() -> dict[str, Entry]:
    _discover()
    return dict(_entries)


def generation() -> int:
    _discover()
    return _generation[0]


def options_models() -> dict[str, type[PhaseOptions]]:
    _discover()
    return {name: entry.options for name, entry in _entries.items()}


def runtime_paths() -> dict[str, str]:
    """Workload name → runtime class path: what a worker needs to run any phase (it imports only the ones it runs)."""
    _discover()
    return {name: entry.runtime for name, entry in _entries.items()}


def load_runtime(path: str) -> type:
    """The runtime class at 'package.module:Class', imported now."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def runtime_class(name: str) -> type:
    _discover()
    return load_runtime(_entries[name].runtime)


register("insert", InsertPhase, "loadgen.workloads.insert.workload:InsertWorkload")
register("query", QueryPhase, "loadgen.workloads.query.workload:QueryWorkload")
register("mix", MixPhase, "loadgen.workloads.mix.workload:MixWorkload")
# the analytic suites: one set of workloads (loadgen/workloads/suites/), each phase's options name its suite
for _name, _options in (
    ("tpch", (TpchGeneratePhase, TpchLoadPhase, TpchQueryPhase)),
    ("tpcds", (TpcdsGeneratePhase, TpcdsLoadPhase, TpcdsQueryPhase)),
    ("ssb", (SsbGeneratePhase, SsbLoadPhase, SsbQueryPhase)),
):
    register(f"{_name}_generate", _options[0], "loadgen.workloads.suites.generate:GenerateWorkload")
    register(f"{_name}_load", _options[1], "loadgen.workloads.suites.load:LoadWorkload")
    register(f"{_name}_query", _options[2], "loadgen.workloads.suites.query:QueryWorkload")
register("python", PythonPhase, PYTHON_RUNTIME)

# Installed packages' workloads (entry-point group loadgen.workloads, "NAME = package.module:Class"), looked up the
# first time the set of workloads is asked for: a worker, which only imports runtimes, never scans the installed
# distributions (tens of ms). Their modules are imported only when a phase uses them. A plugin cannot take a
# built-in's name.
refused_plugins: list[str] = []
_discovered = [False]


def _discover() -> None:
    if _discovered[0]:
        return
    _discovered[0] = True
    for name, target, dist in installed_plugins():
        if name in _entries or not name.isidentifier():
            refused_plugins.append(f"{name} = {target} ({dist}): the name is taken or not an identifier")
            continue
        register(name, plugin_phase(name, target), PYTHON_RUNTIME, origin=f"plugin {dist} ({target})")
