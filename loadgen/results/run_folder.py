"""A run folder: written by the run (every table rewritten atomically after every phase, so a killed run keeps what
it had, and run.json with the run's status), and read by `loadgen compare` and `loadgen report`."""

import time
from pathlib import Path

from loadgen.config import thresholds as threshold_expressions
from loadgen.errors import NotARunFolder
from loadgen.results import files as results
from loadgen.results import hyperlog, tables, thresholds
from loadgen.results.aggregate import median_row
from loadgen.results.samples import wide_rows
from loadgen.results.timeseries import operation_timeseries_rows


def missed_bound(t, value: float | None) -> str:
    """A missed bound in a phase's `thresholds` cell, e.g. `p99_ms<=50 (was 71.2)`: the row names the phase."""
    bound = ".".join(p for p in (t.operation, t.metric) if p) + f"{t.op}{t.limit:g}"
    return f"{bound} ({'no value' if value is None else f'was {value:g}'})"


class RunFolder:
    """The run folder's files, rewritten atomically after every phase so a killed run keeps what it had.

    With a matrix, rows carry the point (0, 1, …) and its parameters; summary.csv has a `param:KEY` column per
    matrix key."""

    def __init__(self, run_id: str, run_dir, scenario, matrix_keys: list[str]):
        self.run_id = run_id
        self.dir = run_dir
        self.scenario = scenario  # the point running now
        self.param_columns = [f"param:{k}" for k in matrix_keys]
        self.point, self.parameters, self.param_values = 0, "", {}
        self.hyperd_version = ""  # what the point's hyperd reports (SELECT version())
        self.point_thresholds: dict[int, dict[str, str]] = {}  # each matrix point's own thresholds
        self.created_databases: set[str] = set()  # database files this run created (later points may replace them)
        self.summary: list[dict] = []
        self.workers: list[dict] = []
        self.latency: list[dict] = []
        self.timeseries: list[dict] = []
        self.op_timeseries: list[dict] = []
        self.samples: list[dict] = []
        self.hyper_metrics: list[dict] = []
        self.query_stats: list[dict] = []
        self.threshold_lines: list[str] = []
        self.notes: list[str] = []  # lines the workloads ask to print under the final tables
        self.thresholds_result: list[dict] = []
        self.run_json: dict = {}  # read from an existing folder: its run.json and environment.json
        self.environment: dict = {}
        self.wall_at_perf = time.time() - time.perf_counter_ns() / 1e9  # perf_counter → epoch seconds
        self.start_ns = time.perf_counter_ns()

    def epoch(self, perf_ns: int) -> float:
        return self.wall_at_perf + perf_ns / 1e9

    def utc(self, perf_ns: int) -> str:
        return results.iso_utc(self.epoch(perf_ns))

    def start_point(self, index: int, params: dict, scenario) -> None:
        self.point, self.scenario, self.hyperd_version = index, scenario, ""
        self.point_thresholds[index] = dict(scenario.thresholds)
        self.parameters = tables.describe_parameters(params)
        self.param_values = {f"param:{k}": v for k, v in params.items()}

    def _mark(self, rows: list[dict]) -> list[dict]:
        for row in rows:
            row["point"] = self.point
        return rows

    @classmethod
    def read(cls, path, summary_only: bool = False) -> "RunFolder":
        """An existing run folder (or its summary.csv), for reading: its tables as RunRows (a missing column or a
        garbled number names the file), run.json and environment.json; with summary_only, summary.csv alone (what
        compare needs: damage elsewhere does not stop it). NotARunFolder (exit 2) when there is no summary.csv with
        phases, or a file read is damaged."""
        folder = Path(path)
        if folder.name == "summary.csv" and folder.is_file():
            folder = folder.parent
        if not (folder / "summary.csv").is_file():
            raise NotARunFolder(f"{path}: not a run folder (no summary.csv)")
        summary = results.read_run_table(folder / "summary.csv")
        if not summary:
            raise NotARunFolder(f"{path}: not a run folder (summary.csv has no phases)")
        run_json = {} if summary_only else results.read_run_json(folder / "run.json")
        run = cls(run_json.get("run_id") or summary[0]["run_id"], folder, None, [])
        run.summary, run.run_json = summary, run_json
        if summary_only:
            return run
        run.environment = results.read_run_json(folder / "environment.json")
        for name in ("workers", "latency", "timeseries", "op_timeseries", "samples"):  # op_timeseries: since 0.3
            setattr(run, name, results.read_run_table(folder / f"{name}.csv"))
        return run

    def add_phase(self, result) -> None:
        """A phase's rows (an aggregate.PhaseResult), marked with the matrix point; every table rewritten."""
        summary = self._mark([result.summary])[0]
        summary.update({"parameters": self.parameters, "hyperd_version": self.hyperd_version, **self.param_values})
        self.summary.append(summary)
        self.workers.extend(self._mark(result.workers))
        self.latency.extend(self._mark(result.latency))
        series = self._mark(result.timeseries)
        self.timeseries.extend(series)
        self.op_timeseries.extend(operation_timeseries_rows(series))
        self.write_tables()

    def add_medians(self, point: int, scenario) -> None:
        """With repeat > 1: a `median` row per phase of a point (medians, min/max/CV of rows/s) after its
        repetitions."""
        if scenario.repeat > 1:
            for phase in scenario.phases:
                rows = [r for r in self.summary if r["phase"] == phase.name and r["point"] == point]
                if rows:
                    self.summary.append(median_row(rows))
            self.write_tables()

    def final_rows(self) -> list[dict]:
        return tables.final_rows(self.summary)

    def check_thresholds(self) -> list[str]:
        """Evaluate each matrix point's own `thresholds:` against its rows; remember the printed lines and put the
        verdict in each judged row's `thresholds` cell (summary.csv rewritten, history.csv gets it too); return the
        missed ones."""
        missed = []
        points = dict.fromkeys(r["point"] for r in self.final_rows())
        for point in points:
            given = self.point_thresholds.get(point, self.scenario.thresholds)
            parsed = [t for k, v in given.items() for t in threshold_expressions.parse_all(k, v)]
            rows = [r for r in self.final_rows() if r["point"] == point]
            latency = [r for r in self.latency if r["point"] == point]
            where = f" [{rows[0]['parameters']}]" if rows and rows[0]["parameters"] else ""
            missed_by_phase: dict[str, list[str]] = {}
            for t, value, passed in thresholds.evaluate(parsed, {r["phase"]: r for r in rows}, latency):
                shown = "no value" if value is None else f"{value:g}"
                text = f"{t.text}{where} (measured {shown})"
                self.threshold_lines.append(f"threshold {'ok    ' if passed else 'MISSED'} {text}")
                self.thresholds_result.append({"threshold": t.text + where, "measured": value, "passed": passed})
                missed_by_phase.setdefault(t.phase, [])
                if not passed:
                    missed.append(text)
                    missed_by_phase[t.phase].append(missed_bound(t, value))
            for row in rows:
                if row["phase"] in missed_by_phase:
                    bounds = missed_by_phase[row["phase"]]
                    row["thresholds"] = "missed: " + "; ".join(bounds) if bounds else "ok"
        self.write_tables()
        return missed

    def write_tables(self) -> None:
        results.write_csv(self.dir / "summary.csv", tables.SUMMARY_COLUMNS + self.param_columns, self.summary)
        results.write_csv(self.dir / "workers.csv", tables.WORKER_COLUMNS, self.workers)
        results.write_csv(self.dir / "latency.csv", tables.LATENCY_COLUMNS, self.latency)
        results.write_csv(self.dir / "timeseries.csv", tables.TIMESERIES_COLUMNS, self.timeseries)
        results.write_csv(self.dir / "op_timeseries.csv", tables.OP_TIMESERIES_COLUMNS, self.op_timeseries)

    def read_table(self, name: str) -> list[dict]:
        """A table of the run folder a workload keeps itself (e.g. tpch.csv), as rows of text; [] if absent."""
        path = self.dir / name
        return results.read_csv(path)[1] if path.exists() else []

    def write_table(self, name: str, columns: list[str], rows: list[dict]) -> None:
        results.write_csv(self.dir / name, columns, rows)

    def write_rows(self, name: str, header: list[str], rows, replace: bool = True) -> None:
        """A CSV of a workload's own under the run folder (e.g. answers/q01.csv), rows of cells under a header;
        replace=False keeps one that is there already."""
        path = self.dir / name
        if path.exists() and not replace:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        results.write_atomic(path, results.csv_rows_text(header, rows))

    def add_hyper_log(self, tail) -> None:
        """hyper_metrics.csv and query_stats.csv from this point's private hyperd log (nothing for an endpoint)."""
        if tail is None:
            return
        tail.poll()
        self.hyper_metrics.extend(self._mark(tail.metrics))
        self.query_stats.extend(self._mark(tail.query_stats()))
        results.write_csv(self.dir / "hyper_metrics.csv", hyperlog.METRIC_COLUMNS, self.hyper_metrics)
        results.write_csv(self.dir / "query_stats.csv", hyperlog.QUERY_COLUMNS, self.query_stats)

    def add_samples(self, samples) -> None:
        self.samples.extend(
            {
                "run_id": self.run_id, "point": self.point, "t_s": (s.t_ns - self.start_ns) / 1e9,
                "utc": self.utc(s.t_ns), "phase": s.phase, "repetition": s.repetition, "process": s.process,
                "pid": s.pid, "cpu_pct": s.cpu_pct, "rss_mib": s.rss_mib, "node": s.node,
            }
            for s in samples
        )  # fmt: skip
        results.write_csv(self.dir / "samples.csv", tables.SAMPLE_COLUMNS, self.samples)
        results.write_csv(self.dir / "samples_wide.csv", *wide_rows(self.samples))

    def write_status(self, status: str, error: str = "", exit_code: int | None = None) -> None:
        """run.json, atomically; on a full disk, in place (the file's block is already there), so a failed
        run still says so."""
        results.write_json(
            self.dir / "run.json",
            {
                "run_id": self.run_id, "scenario": self.scenario.name, "status": status, "error": error,
                "exit_code": exit_code, "started_utc": self.utc(self.start_ns),
                "finished_utc": self.utc(time.perf_counter_ns()) if status != "running" else "",
                "phases_completed": [s["phase"] for s in self.final_rows() if s["status"] == "ok"],
                "thresholds": self.thresholds_result,
            },
            in_place_fallback=True,
        )  # fmt: skip
