"""The cold/hot protocol at run time (its options: loadgen/config/cache.py; docs/cold_hot.md).

A query workload whose options include CacheOptions runs each statement through CacheRuns.measure when the phase
sets `cache:`; its report carries CacheRuns.report(), and its summarize and after_phase call summary_values and
after_phase below (the summary columns, clickbench.json and the lines under the final tables).

Each run of a statement is recorded twice: as the statement's own operation (the phase's counts, as without the
protocol) and as a side record labelled `NAME:cold` (the first run on a fresh hyperd with the database's pages
evicted), `NAME:first` (hot: the first run on the connection, cold-ish) or `NAME:hot` (every later run). The restart
before a cold run is recorded as `hyperd:restart`, outside every statement's time.
"""

import statistics
import time

COLD, FIRST, HOT = "cold", "first", "hot"
RESTART_OP = "hyperd:restart"
CLICKBENCH_FILE = "clickbench.json"
NOT_DROPPED = "cold: page cache not dropped"


class CacheRuns:
    """One worker's statements run by the phase's cache protocol, on the worker's own connection."""

    def __init__(self, phase, ctx):
        self.phase, self.ctx = phase, ctx
        self.statements: list[dict] = []

    def label(self, run: int) -> str:
        if run:
            return HOT
        return COLD if self.phase.restarts() else FIRST

    def measure(self, recorder, name: str, execute, on_fresh=None) -> list:
        """Run one statement by the protocol: with cold/both a fresh hyperd first (ctx.fresh_server, then
        `on_fresh()` so the workload can reopen what it holds on the old connection), then `execute()` once (cold)
        or hot_runs times. `execute()` runs the statement on ctx.connection and returns (value, rows). Returns the
        runs' values (fewer when the run stops meanwhile)."""
        entry = {"statement": name, "labels": [], "seconds": [], "hyperd_pid": None, "page_cache": ""}
        entry["restart_s"] = None
        self.statements.append(entry)
        if self.ctx.stop.is_set() or self.ctx.finish.is_set():
            return []
        if self.phase.restarts():
            t0 = time.perf_counter_ns()
            restarted = self.ctx.fresh_server()
            recorder.record(RESTART_OP, time.perf_counter_ns() - t0)
            entry.update(hyperd_pid=restarted.pid, page_cache=restarted.page_cache, restart_s=restarted.seconds)
            if on_fresh is not None:
                on_fresh()
        values = []
        for run in range(self.phase.cache_runs()):
            if self.ctx.stop.is_set() or self.ctx.finish.is_set():
                break
            t0 = time.perf_counter_ns()
            value, rows = execute()
            ns = time.perf_counter_ns() - t0
            recorder.record(name, ns, rows)
            recorder.record(f"{name}:{self.label(run)}", ns, rows)
            entry["labels"].append(self.label(run))
            entry["seconds"].append(ns / 1e9)
            values.append(value)
        return values

    def report(self) -> dict:
        """Plain data for the coordinator: every statement's runs."""
        return {"cache": self.phase.cache, "statements": self.statements}


# ---------------------------------------------------------------------------------------------- coordinator side
def _statements(reports: list) -> list[dict]:
    return [s for r in reports if r for s in r["statements"]]


def cold_seconds(statement: dict) -> float | None:
    return statement["seconds"][0] if statement["labels"][:1] == [COLD] else None


def hot_seconds(statement: dict) -> list[float]:
    return [s for s, label in zip(statement["seconds"], statement["labels"], strict=True) if label == HOT]


def summary_values(phase, reports: list) -> dict:
    """summary.csv's cache, cold_s (the statements' cold runs, summed) and hot_s (their best hot runs, summed);
    `reports`: each worker's CacheRuns.report() (None: none). Empty when the phase sets no cache."""
    if phase.cache is None:
        return {}
    statements = [s for s in _statements(reports) if s["seconds"]]
    colds = [cold_seconds(s) for s in statements if cold_seconds(s) is not None]
    hots = [min(hot_seconds(s)) for s in statements if hot_seconds(s)]
    return {"cache": phase.cache, "cold_s": sum(colds) if colds else None, "hot_s": sum(hots) if hots else None}


def page_cache_note(statements: list[dict]) -> str:
    """'' when every cold run's database pages were evicted, else NOT_DROPPED and why."""
    why = next((s["page_cache"] for s in statements if s["page_cache"]), "")
    return f"{NOT_DROPPED} ({why})" if why else ""


def clickbench_entry(phase, summary: dict, reports: list) -> dict:
    """The phase in ClickBench's shape: per statement its runs' seconds, `[cold, hot1, hot2]` with cache: both."""
    statements = _statements(reports)
    restarted = phase.restarts()
    return {
        "phase": phase.name, "repetition": summary.get("repetition", ""), "point": summary.get("point", ""),
        "cache": phase.cache, "labels": [COLD if restarted else FIRST] + [HOT] * (phase.cache_runs() - 1),
        "page_cache": (page_cache_note(statements) or "dropped") if restarted else "",
        "queries": [s["statement"] for s in statements], "result": [s["seconds"] for s in statements],
        "hyperd_pids": [s["hyperd_pid"] for s in statements] if restarted else [],
        "restart_s": [s["restart_s"] for s in statements] if restarted else [],
        "cold_s": summary.get("cold_s"), "hot_s": summary.get("hot_s"),
    }  # fmt: skip


def after_phase(phase, outcome, output, reports: list) -> list[str]:
    """clickbench.json gets the phase's entry (the file keeps every cache phase of the run); returns the lines
    printed under the final tables: each statement's times labelled cold, first or hot."""
    if phase.cache is None:
        return []
    entry = clickbench_entry(phase, outcome.summary, reports)
    document = output.read_json(CLICKBENCH_FILE) or {"system": "Hyper", "phases": []}
    document["phases"].append(entry)
    output.write_json(CLICKBENCH_FILE, document)
    return time_lines(phase, _statements(reports), entry["page_cache"])


def time_lines(phase, statements: list[dict], page_cache: str) -> list[str]:
    restarted = phase.restarts()
    heads = [COLD if restarted else FIRST] + (["hot best", "hot median"] if phase.cache_runs() > 1 else [])
    how = "a fresh hyperd per statement, page cache " + ("dropped" if page_cache == "dropped" else "not dropped")
    lines = [f"{phase.name}: cache {phase.cache} ({how if restarted else 'one connection'}): seconds per statement"]
    lines.append("  " + f"{'statement':<12}" + "".join(f"{h:>12}" for h in heads))
    totals = [0.0] * len(heads)
    for s in statements:
        cells = [s["seconds"][0]] if s["seconds"] else [None]
        if phase.cache_runs() > 1:
            hot = hot_seconds(s)
            cells += [min(hot), statistics.median(hot)] if hot else [None, None]
        totals = [t + (c or 0.0) for t, c in zip(totals, cells, strict=True)]
        shown = "".join(f"{c:>12.3f}" if c is not None else f"{'':>12}" for c in cells)
        lines.append("  " + f"{s['statement']:<12}" + shown)
    lines.append("  " + f"{'total':<12}" + "".join(f"{t:>12.3f}" for t in totals))
    if restarted and page_cache != "dropped":
        lines.append(page_cache)
    return lines + [f"{phase.name}: every run's seconds → {CLICKBENCH_FILE}"]
