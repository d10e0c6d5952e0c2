"""Hyper's own view of a run, from the private hyperd's JSON log files (hyperd/hyperd*.log):

- `resource-metrics` lines (hyperd writes them about once a second while it has load) → hyper_metrics.csv:
  process memory, system memory, tracked memory, CPU and overall load;
- `query-end` lines → query_stats.csv: per phase and statement kind (SELECT, INSERT, COPY, …) the count,
  total and mean elapsed time, mean compilation time and rows.
Each line is assigned to the phase whose [start, end] window holds its timestamp, else `setup`.

hyperd writes ~0.8 MB/s under mixed load, so it rotates its log (server.HYPERD_LOG_LIMITS) and the coordinator
follows the files while the run goes on (`Tail.poll` twice a second), keeping only the aggregates above: an
hour-long run neither fills the disk nor the coordinator's memory.
"""

import datetime as dt
import json
from pathlib import Path

from loadgen.results.files import iso_utc

METRIC_COLUMNS = [
    "run_id", "point", "utc", "phase", "repetition", "process_memory_mib", "system_memory_mib", "tracked_memory_mib",
    "cpu_load", "overall_load", "memory_load",
]  # fmt: skip
QUERY_COLUMNS = [
    "run_id", "point", "phase", "repetition", "statement", "count", "elapsed_s_total", "elapsed_ms_mean",
    "elapsed_ms_max", "compilation_ms_mean", "rows_total",
]  # fmt: skip
MARKERS = ('"k":"resource-metrics"', '"k":"query-end"')


def parse_ts(text: str) -> float:
    """hyperd's timestamps are UTC without a zone suffix."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc).timestamp()


class Tail:
    """Follows hyperd's (rotating) log files in one folder and aggregates what the CSVs need."""

    def __init__(self, log_dir, run_id: str):
        self.dir = Path(log_dir)
        self.run_id = run_id
        self.offsets: dict[str, int] = {}  # file name → bytes read (complete lines only)
        self.windows: list[tuple[str, int, float, float]] = []  # finished phases: (phase, repetition, start, end)
        self.current: tuple[str, int, float] | None = None  # the running phase: (phase, repetition, start)
        self.metrics: list[dict] = []
        self.queries: dict[tuple, dict] = {}

    def begin(self, phase: str, repetition: int, start_epoch: float) -> None:
        # the window first: a line already written at or after the release belongs to this phase
        self.current = (phase, repetition, start_epoch)
        self.poll()

    def end(self, end_epoch: float) -> None:
        self.poll()
        if self.current:
            self.windows.append((*self.current, end_epoch))
        self.current = None

    def phase_at(self, ts: float) -> tuple[str, int | str]:
        for phase, repetition, start, end in self.windows:
            if start <= ts <= end:
                return phase, repetition
        if self.current and ts >= self.current[2]:
            return self.current[0], self.current[1]
        return "setup", ""

    def poll(self) -> None:
        """Read what was appended to the log files since the last call (oldest file first)."""
        try:
            files = sorted(self.dir.glob("hyperd*.log"), key=lambda f: (f.stat().st_mtime, f.name))
        except OSError:
            return
        for path in files:
            try:
                with open(path, "rb") as handle:
                    handle.seek(self.offsets.get(path.name, 0))
                    data = handle.read()
            except OSError:  # rotated away between the listing and the read
                continue
            complete = data.rfind(b"\n") + 1  # a line hyperd is still writing waits for the next poll
            self.offsets[path.name] = self.offsets.get(path.name, 0) + complete
            for line in data[:complete].decode("utf-8", errors="replace").splitlines():
                if MARKERS[0] in line or MARKERS[1] in line:
                    self._take(line)

    def _take(self, line: str) -> None:
        try:
            entry = json.loads(line)
            ts = parse_ts(entry["ts"])
        except (ValueError, KeyError, TypeError):
            return
        phase, repetition = self.phase_at(ts)
        v = entry.get("v", {})
        if entry.get("k") == "resource-metrics":
            memory, load = v.get("memory", {}), v.get("load", {})
            tracked = v.get("mem-trackers", {}).get("memory_tracked_current_usage_mb", {})
            self.metrics.append({
                "run_id": self.run_id, "utc": iso_utc(ts), "phase": phase,
                "repetition": repetition,
                "process_memory_mib": memory.get("process_physical_memory_mb", ""),
                "system_memory_mib": memory.get("system_physical_memory_mb", ""),
                "tracked_memory_mib": tracked.get("global", ""),
                "cpu_load": load.get("cpu_load", ""), "overall_load": load.get("overall_load", ""),
                "memory_load": load.get("memory_load", ""),
            })  # fmt: skip
        else:
            key = (phase, repetition, v.get("statement", "?"))
            q = self.queries.setdefault(key, {"count": 0, "elapsed": 0.0, "max": 0.0, "compile": 0.0, "rows": 0})
            elapsed = float(v.get("elapsed", 0) or 0)
            q["count"] += 1
            q["elapsed"] += elapsed
            q["max"] = max(q["max"], elapsed)
            q["compile"] += float(v.get("pre-execution", {}).get("compilation-time", 0) or 0)
            q["rows"] += int(v.get("rows", 0) or 0)

    def query_stats(self) -> list[dict]:
        return [
            {
                "run_id": self.run_id,
                "phase": phase,
                "repetition": repetition,
                "statement": statement,
                "count": q["count"],
                "elapsed_s_total": q["elapsed"],
                "elapsed_ms_mean": 1000 * q["elapsed"] / q["count"],
                "elapsed_ms_max": 1000 * q["max"],
                "compilation_ms_mean": 1000 * q["compile"] / q["count"],
                "rows_total": q["rows"],
            }
            for (phase, repetition, statement), q in self.queries.items()
        ]
