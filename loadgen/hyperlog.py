"""Hyper's own view of a run, from the private hyperd's JSON log (hyperd/hyperd.log):

- `resource-metrics` lines (hyperd writes them about once a second while it has load) → hyper_metrics.csv:
  process memory, system memory, tracked memory, CPU and overall load;
- `query-end` lines → query_stats.csv: per phase and statement kind (SELECT, INSERT, COPY, …) the count,
  total and mean elapsed time, mean compilation time and rows.
Each line is assigned to the phase whose [start, end] window holds its timestamp, else `setup`.
"""

import datetime as dt
import json
from pathlib import Path

METRIC_COLUMNS = [
    "run_id", "point", "utc", "phase", "repetition", "process_memory_mib", "system_memory_mib", "tracked_memory_mib",
    "cpu_load", "overall_load", "memory_load",
]  # fmt: skip
QUERY_COLUMNS = [
    "run_id", "point", "phase", "repetition", "statement", "count", "elapsed_s_total", "elapsed_ms_mean",
    "elapsed_ms_max", "compilation_ms_mean", "rows_total",
]  # fmt: skip


def parse_ts(text: str) -> float:
    """hyperd's timestamps are UTC without a zone suffix."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc).timestamp()


def phase_at(windows: list[tuple[str, int, float, float]], ts: float) -> tuple[str, int | str]:
    for phase, repetition, start, end in windows:
        if start <= ts <= end:
            return phase, repetition
    return "setup", ""


def read(log: Path, run_id: str, windows) -> tuple[list[dict], list[dict]]:
    metrics, queries = [], {}
    if not log.exists():
        return [], []
    with open(log, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if '"k":"resource-metrics"' not in line and '"k":"query-end"' not in line:
                continue
            try:
                entry = json.loads(line)
                ts = parse_ts(entry["ts"])
            except (ValueError, KeyError):
                continue
            phase, repetition = phase_at(windows, ts)
            v = entry.get("v", {})
            if entry.get("k") == "resource-metrics":
                memory, load = v.get("memory", {}), v.get("load", {})
                tracked = v.get("mem-trackers", {}).get("memory_tracked_current_usage_mb", {})
                metrics.append({
                    "run_id": run_id, "utc": entry["ts"].replace("T", " ")[:23], "phase": phase,
                    "repetition": repetition,
                    "process_memory_mib": memory.get("process_physical_memory_mb", ""),
                    "system_memory_mib": memory.get("system_physical_memory_mb", ""),
                    "tracked_memory_mib": tracked.get("global", ""),
                    "cpu_load": load.get("cpu_load", ""), "overall_load": load.get("overall_load", ""),
                    "memory_load": load.get("memory_load", ""),
                })  # fmt: skip
            else:
                key = (phase, repetition, v.get("statement", "?"))
                q = queries.setdefault(key, {"count": 0, "elapsed": 0.0, "max": 0.0, "compile": 0.0, "rows": 0})
                elapsed = float(v.get("elapsed", 0) or 0)
                q["count"] += 1
                q["elapsed"] += elapsed
                q["max"] = max(q["max"], elapsed)
                q["compile"] += float(v.get("pre-execution", {}).get("compilation-time", 0) or 0)
                q["rows"] += int(v.get("rows", 0) or 0)
    stats = [
        {
            "run_id": run_id,
            "phase": phase,
            "repetition": repetition,
            "statement": statement,
            "count": q["count"],
            "elapsed_s_total": q["elapsed"],
            "elapsed_ms_mean": 1000 * q["elapsed"] / q["count"],
            "elapsed_ms_max": 1000 * q["max"],
            "compilation_ms_mean": 1000 * q["compile"] / q["count"],
            "rows_total": q["rows"],
        }  # fmt: skip
        for (phase, repetition, statement), q in queries.items()
    ]
    return metrics, stats
