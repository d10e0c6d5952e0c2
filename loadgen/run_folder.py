"""The run folder's state: every table of the run, rewritten atomically after every phase so a killed run keeps
what it had, and run.json with the run's status."""

import time

from loadgen import hyperlog, results, thresholds
from loadgen.metrics import median_row, operation_timeseries_rows
from loadgen.scenario import Scenario


class RunFolder:
    """The run folder's files, rewritten atomically after every phase so a killed run keeps what it had.

    With a matrix, rows carry the point (0, 1, …) and its parameters; summary.csv has a `param:KEY` column per
    matrix key."""

    def __init__(self, run_id: str, run_dir, scenario: Scenario, matrix_keys: list[str]):
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
        self.wall_at_perf = time.time() - time.perf_counter_ns() / 1e9  # perf_counter → epoch seconds
        self.start_ns = time.perf_counter_ns()

    def epoch(self, perf_ns: int) -> float:
        return self.wall_at_perf + perf_ns / 1e9

    def utc(self, perf_ns: int) -> str:
        return results.iso_utc(self.epoch(perf_ns))

    def start_point(self, index: int, params: dict, scenario: Scenario) -> None:
        self.point, self.scenario, self.hyperd_version = index, scenario, ""
        self.point_thresholds[index] = dict(scenario.thresholds)
        self.parameters = results.describe_parameters(params)
        self.param_values = {f"param:{k}": v for k, v in params.items()}

    def _mark(self, rows: list[dict]) -> list[dict]:
        for row in rows:
            row["point"] = self.point
        return rows

    def add_phase(self, phase_result: dict) -> None:
        summary = self._mark([phase_result["summary"]])[0]
        summary.update({"parameters": self.parameters, "hyperd_version": self.hyperd_version, **self.param_values})
        self.summary.append(summary)
        self.workers.extend(self._mark(phase_result["workers"]))
        self.latency.extend(self._mark(phase_result["latency"]))
        series = self._mark(phase_result["timeseries"])
        self.timeseries.extend(series)
        self.op_timeseries.extend(operation_timeseries_rows(series))
        self.write_tables()

    def add_medians(self, point: int, scenario: Scenario) -> None:
        """With repeat > 1: a `median` row per phase of a point (medians, min/max/CV of rows/s) after its
        repetitions."""
        if scenario.repeat > 1:
            for phase in scenario.phases:
                rows = [r for r in self.summary if r["phase"] == phase.name and r["point"] == point]
                if rows:
                    self.summary.append(median_row(rows))
            self.write_tables()

    def final_rows(self) -> list[dict]:
        return results.final_rows(self.summary)

    def check_thresholds(self) -> list[str]:
        """Evaluate each matrix point's own `thresholds:` against its rows; remember the printed lines; return the
        missed ones."""
        missed = []
        points = dict.fromkeys(r["point"] for r in self.final_rows())
        for point in points:
            given = self.point_thresholds.get(point, self.scenario.thresholds)
            parsed = [t for k, v in given.items() for t in thresholds.parse_all(k, v)]
            rows = [r for r in self.final_rows() if r["point"] == point]
            latency = [r for r in self.latency if r["point"] == point]
            where = f" [{rows[0]['parameters']}]" if rows and rows[0]["parameters"] else ""
            for t, value, passed in thresholds.evaluate(parsed, {r["phase"]: r for r in rows}, latency):
                shown = "no value" if value is None else f"{value:g}"
                text = f"{t.text}{where} (measured {shown})"
                self.threshold_lines.append(f"threshold {'ok    ' if passed else 'MISSED'} {text}")
                self.thresholds_result.append({"threshold": t.text + where, "measured": value, "passed": passed})
                if not passed:
                    missed.append(text)
        return missed

    def write_tables(self) -> None:
        results.write_csv(self.dir / "summary.csv", results.SUMMARY_COLUMNS + self.param_columns, self.summary)
        results.write_csv(self.dir / "workers.csv", results.WORKER_COLUMNS, self.workers)
        results.write_csv(self.dir / "latency.csv", results.LATENCY_COLUMNS, self.latency)
        results.write_csv(self.dir / "timeseries.csv", results.TIMESERIES_COLUMNS, self.timeseries)
        results.write_csv(self.dir / "op_timeseries.csv", results.OP_TIMESERIES_COLUMNS, self.op_timeseries)

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
        results.write_csv(self.dir / "samples.csv", results.SAMPLE_COLUMNS, self.samples)

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
