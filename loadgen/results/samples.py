"""CPU and memory samples of the run's processes (taken by loadgen/engine/sampler.py, or by Ray actors on their
nodes), and the per-phase figures of summary.csv made from them."""

from dataclasses import dataclass


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
    """Mean CPU % and peak RSS per process group (hyperd, workers, coordinator) during one phase.

    A sample's CPU % is measured over the sampling interval before it, so each process's first sample of a phase
    covers time before the phase began: the CPU means leave it out, and a phase shorter than one sampling interval
    has no CPU figure. RSS is read at the sample's instant, inside the phase: every sample counts."""
    groups: dict[str, dict[str, list[float]]] = {}
    seen = set()
    for s in sorted((s for s in samples if s.phase == phase and s.repetition == repetition), key=lambda s: s.t_ns):
        group = "workers" if s.process.startswith("worker-") else s.process
        entry = groups.setdefault(group, {"cpu": [], "rss": []})
        process = (s.node, s.process, s.pid)
        if process in seen:
            entry["cpu"].append(s.cpu_pct)
        seen.add(process)
        entry["rss"].append(s.rss_mib)
    out = {}
    for group in ("hyperd", "workers", "coordinator"):
        entry = groups.get(group, {"cpu": [], "rss": []})
        # workers: the mean over all worker samples is the average worker's CPU %, comparable to 100%
        out[f"{group}_cpu_pct_mean"] = sum(entry["cpu"]) / len(entry["cpu"]) if entry["cpu"] else ""
        out[f"{group}_rss_mib_peak"] = max(entry["rss"]) if entry["rss"] else ""
    return out
