"""CPU and memory samples of the run's processes (taken by loadgen/engine/sampler.py, or by Ray actors on their
nodes), the per-phase figures of summary.csv made from them, and their wide form (samples_wide.csv)."""

import re
from dataclasses import dataclass

INSTANT_COLUMNS = ["run_id", "point", "t_s", "utc", "phase", "repetition"]


@dataclass(frozen=True)
class Sample:
    t_ns: int  # perf_counter_ns, the clock phases are timed with
    phase: str
    process: str  # hyperd | worker-N | coordinator | host
    pid: int
    cpu_pct: float
    rss_mib: float
    repetition: int = 1
    node: str = ""  # backend: ray: the node it was taken on (empty: the coordinator's machine)


def sample_stats(samples, phase: str, repetition: int = 1) -> dict:
    """Mean CPU % and peak RSS per process group (hyperd, workers, coordinator) during one phase."""
    groups: dict[str, dict[str, list[float]]] = {}
    for s in samples:
        if s.phase != phase or s.repetition != repetition:
            continue
        group = "workers" if s.process.startswith("worker-") else s.process
        entry = groups.setdefault(group, {"cpu": [], "rss": []})
        entry["cpu"].append(s.cpu_pct)
        entry["rss"].append(s.rss_mib)
    out = {}
    for group in ("hyperd", "workers", "coordinator"):
        entry = groups.get(group)
        # workers: the mean over all worker samples is the average worker's CPU %, comparable to 100%
        out[f"{group}_cpu_pct_mean"] = sum(entry["cpu"]) / len(entry["cpu"]) if entry else ""
        out[f"{group}_rss_mib_peak"] = max(entry["rss"]) if entry else ""
    return out


def _role_order(role: str) -> tuple:
    worker = re.fullmatch(r"worker-(\d+)(@.*)?", role)
    if worker:
        return (2, int(worker.group(1)), role)
    return ({"hyperd": 0, "coordinator": 1, "host": 3}.get(role.split("@")[0], 4), 0, role)


def wide_rows(samples: list[dict]) -> tuple[list[str], list[dict]]:
    """samples.csv's rows (one per process per sample) as (columns, rows) of samples_wide.csv: one row per sampling
    instant, a `<role>_cpu_pct` column per process, then a `<role>_rss_mib` column per process, so a spreadsheet
    charts a block of columns directly. A role is the process's name (hyperd, coordinator, worker-N, host), with
    `@node` where the same name was sampled on several nodes (backend: ray: a host per node). Samples taken at
    other instants (on other Ray nodes) are rows of their own; a process not sampled at an instant has empty
    cells."""
    nodes: dict[str, set[str]] = {}
    for s in samples:
        nodes.setdefault(s["process"], set()).add(s["node"])
    instants: dict[tuple, dict] = {}
    roles: dict[str, None] = {}
    for s in samples:
        role = s["process"] if len(nodes[s["process"]]) == 1 or not s["node"] else f"{s['process']}@{s['node']}"
        roles[role] = None
        row = instants.setdefault((s["point"], s["t_s"]), {c: s[c] for c in INSTANT_COLUMNS})
        row[f"{role}_cpu_pct"], row[f"{role}_rss_mib"] = s["cpu_pct"], s["rss_mib"]
    ordered = sorted(roles, key=_role_order)
    columns = INSTANT_COLUMNS + [f"{r}_cpu_pct" for r in ordered] + [f"{r}_rss_mib" for r in ordered]
    return columns, [instants[k] for k in sorted(instants, key=lambda k: (int(k[0]), float(k[1])))]
