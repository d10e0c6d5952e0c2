"""One run, start to end: results folder → hyperd → workers → phases → CSVs → final table.

Whatever happens (worker failure, verification failure, Ctrl-C, SIGTERM), the `finally` path stops and reaps
the workers, stops the sampler, shuts hyperd down and writes what was measured with the run's status.
"""

import contextlib
import os
import signal
import sys
import time

import psutil
from rich.console import Console

from loadgen import hyperlog, results, server, thresholds
from loadgen.coordinator import WorkerPool, describe_exit
from loadgen.errors import EXIT_INTERRUPTED, Interrupted, LoadgenError, VerificationError
from loadgen.metrics import aggregate_phase, median_row
from loadgen.report import Progress, phase_tables
from loadgen.sampler import Sampler
from loadgen.scenario import Scenario, dump_resolved
from loadgen.worker import WorkerSpec
from loadgen.workloads import workload_class


class RunFiles:
    """The run folder's files, rewritten atomically after every phase so a killed run keeps what it had.

    With a matrix, rows carry the point (0, 1, …) and its parameters; summary.csv has a `param:KEY` column per
    matrix key."""

    def __init__(self, run_id: str, run_dir, scenario: Scenario, matrix_keys: list[str]):
        self.run_id = run_id
        self.dir = run_dir
        self.scenario = scenario  # the point running now
        self.param_columns = [f"param:{k}" for k in matrix_keys]
        self.point, self.parameters, self.param_values = 0, "", {}
        self.summary: list[dict] = []
        self.workers: list[dict] = []
        self.latency: list[dict] = []
        self.timeseries: list[dict] = []
        self.samples: list[dict] = []
        self.hyper_metrics: list[dict] = []
        self.query_stats: list[dict] = []
        self.threshold_lines: list[str] = []
        self.notes: list[str] = []  # lines the workloads ask to print under the final tables
        self.thresholds_result: list[dict] = []
        self.wall_at_perf = time.time() - time.perf_counter_ns() / 1e9  # perf_counter → epoch seconds
        self.start_ns = time.perf_counter_ns()

    def utc(self, perf_ns: int) -> str:
        return results.iso_utc(self.wall_at_perf + perf_ns / 1e9)

    def start_point(self, index: int, params: dict, scenario: Scenario) -> None:
        self.point, self.scenario = index, scenario
        self.parameters = results.describe_parameters(params)
        self.param_values = {f"param:{k}": v for k, v in params.items()}

    def _mark(self, rows: list[dict]) -> list[dict]:
        for row in rows:
            row["point"] = self.point
        return rows

    def add_phase(self, phase_result: dict) -> None:
        summary = self._mark([phase_result["summary"]])[0]
        summary.update({"parameters": self.parameters, **self.param_values})
        self.summary.append(summary)
        self.workers.extend(self._mark(phase_result["workers"]))
        self.latency.extend(self._mark(phase_result["latency"]))
        self.timeseries.extend(self._mark(phase_result["timeseries"]))
        self.write_tables()

    def add_medians(self) -> None:
        """With repeat > 1: a `median` row per phase (medians, min/max/CV of rows/s) after the repetitions."""
        if self.scenario.repeat > 1:
            for phase in self.scenario.phases:
                rows = [r for r in self.summary if r["phase"] == phase.name and r["point"] == self.point]
                self.summary.append(median_row(rows))
            self.write_tables()

    def final_rows(self) -> list[dict]:
        return results.final_rows(self.summary)

    def check_thresholds(self) -> list[str]:
        """Evaluate `thresholds:` for every point; remember the printed lines; return the missed ones."""
        parsed = [thresholds.parse(k, v) for k, v in self.scenario.thresholds.items()]
        missed = []
        points = dict.fromkeys(r["point"] for r in self.final_rows())
        for point in points:
            rows = [r for r in self.final_rows() if r["point"] == point]
            where = f" [{rows[0]['parameters']}]" if rows and rows[0]["parameters"] else ""
            for t, value, passed in thresholds.evaluate(parsed, {r["phase"]: r for r in rows}):
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

    def add_hyper_log(self, log) -> None:
        """hyper_metrics.csv and query_stats.csv from this point's private hyperd log (nothing for an endpoint)."""
        if not log.exists():
            return
        windows = []
        for r in self.summary:
            if r.get("started_utc") and not results.is_aggregate(r) and r["point"] == self.point:
                start = results.parse_utc(r["started_utc"])
                windows.append((r["phase"], r["repetition"], start, start + float(r["wall_s"] or 0)))
        metrics, stats = hyperlog.read(log, self.run_id, windows)
        self.hyper_metrics.extend(self._mark(metrics))
        self.query_stats.extend(self._mark(stats))
        results.write_csv(self.dir / "hyper_metrics.csv", hyperlog.METRIC_COLUMNS, self.hyper_metrics)
        results.write_csv(self.dir / "query_stats.csv", hyperlog.QUERY_COLUMNS, self.query_stats)

    def add_samples(self, samples) -> None:
        self.samples.extend(
            {
                "run_id": self.run_id, "point": self.point, "t_s": (s.t_ns - self.start_ns) / 1e9,
                "utc": self.utc(s.t_ns), "phase": s.phase, "repetition": s.repetition, "process": s.process,
                "pid": s.pid, "cpu_pct": s.cpu_pct, "rss_mib": s.rss_mib,
            }
            for s in samples
        )  # fmt: skip
        results.write_csv(self.dir / "samples.csv", results.SAMPLE_COLUMNS, self.samples)

    def write_status(self, status: str, error: str = "", exit_code: int | None = None) -> None:
        results.write_json(
            self.dir / "run.json",
            {
                "run_id": self.run_id, "scenario": self.scenario.name, "status": status, "error": error,
                "exit_code": exit_code, "started_utc": self.utc(self.start_ns),
                "finished_utc": self.utc(time.perf_counter_ns()) if status != "running" else "",
                "phases_completed": [s["phase"] for s in self.final_rows() if s["status"] == "ok"],
                "thresholds": self.thresholds_result,
            },
        )  # fmt: skip


def raise_interrupted(signum, _frame):
    raise Interrupted(f"interrupted by {signal.Signals(signum).name}")


def run(
    plan: list[tuple[dict, Scenario]],
    console: Console,
    errors: Console,
    argv: list[str] | None = None,
    quiet: bool = False,
    base: Scenario | None = None,
) -> int:
    """Run a validated plan: one point per matrix combination (one point without a matrix). Returns the exit
    code; the run folder holds the outcome either way."""
    scenario = base or plan[0][1]
    results.check_writable(scenario.output.dir, "output.dir")
    auth = server.credentials(scenario.server)
    if scenario.server.endpoint:
        server.check_endpoint(scenario.server.endpoint, auth)
    elif scenario.server.database_dir:
        results.check_writable(scenario.server.database_dir, "server.database_dir")
    server.sweep_stale()  # what an earlier run killed with SIGKILL left in the temp folder
    run_id, run_dir = results.create_run_dir(scenario.output.dir, scenario.name)
    files = RunFiles(run_id, run_dir, scenario, list(plan[0][0]))
    environment = results.environment(run_id, argv or sys.argv)
    results.write_atomic(run_dir / "scenario.yaml", dump_resolved(scenario))
    results.write_json(run_dir / "environment.json", environment)
    files.write_status("running")
    console.print(f"run [bold]{run_id}[/] (seed {scenario.seed}) → {run_dir}", highlight=False)

    status, error, exit_code, notes = "ok", "", 0, []
    previous_handlers = {
        signal.SIGTERM: signal.signal(signal.SIGTERM, raise_interrupted),
        signal.SIGINT: signal.signal(signal.SIGINT, raise_interrupted),
    }
    try:
        for index, (params, point) in enumerate(plan):
            if len(plan) > 1:
                console.print(f"point {index + 1}/{len(plan)}: {results.describe_parameters(params)}", markup=False)
            files.start_point(index, params, point)
            hyperd_dir = run_dir / ("hyperd" if len(plan) == 1 else f"hyperd-{index}")
            status, error, exit_code, point_notes = run_point(point, files, environment, hyperd_dir, console, quiet)
            notes.extend(point_notes)
            if status != "ok":
                break
        else:
            missed = files.check_thresholds()
            if missed:
                status, exit_code, error = "failed", 1, "threshold missed: " + "; ".join(missed)
    except (Interrupted, KeyboardInterrupt) as exc:  # between two points
        status, exit_code = "interrupted", EXIT_INTERRUPTED
        error = str(exc) if isinstance(exc, Interrupted) else "interrupted by SIGINT"
    finally:
        run_all(
            lambda: files.write_status(status, error, exit_code),
            lambda: results.append_history(scenario.output.dir, files.final_rows()),
            lambda: [signal.signal(sig, handler) for sig, handler in previous_handlers.items()],
        )
    for note in notes:
        console.print(f"note: {note}", highlight=False)
    for table in phase_tables(files.final_rows()):
        console.print(table)
    for line in files.notes + files.threshold_lines:
        console.print(line, markup=False)
    for warning in suspect_results(files.final_rows()):
        console.print(f"warning: {warning}", markup=False)
    if error:
        errors.print(f"error: {error}", markup=False)
    console.print(f"results: {run_dir}", highlight=False)
    return exit_code


def run_point(scenario: Scenario, files, environment: dict, hyperd_dir, console: Console, quiet: bool):
    """One scenario, start to end: hyperd → workers → phases → files. Returns (status, error, exit code,
    notes). Whatever happens, workers are stopped and reaped, hyperd is shut down and what was measured is
    written."""
    status, error, exit_code = "ok", "", 0
    sampler = Sampler(scenario.sampling.interval_ms)
    sampler.watch("coordinator", os.getpid())
    pool: WorkerPool | None = None
    hyperd: server.Server | None = None
    progress = Progress(console, quiet)
    current_phase, release_ns = None, 0
    try:
        hyperd = server.Server(scenario.server, scenario.workers, str(hyperd_dir), scenario.timeouts.hyperd_stop_s)
        hyperd.start()
        environment["hyperd_version"] = hyperd.version
        environment["endpoint"] = hyperd.descriptor if not scenario.server.endpoint else "external"
        results.write_json(files.dir / "environment.json", environment)
        sampler.watch("hyperd", hyperd.pid)
        if scenario.sampling.enabled:
            sampler.start()
        specs = [
            WorkerSpec(
                w, scenario.workers, scenario, hyperd.descriptor, hyperd.database_for(w), os.getpid(), str(files.dir)
            )
            for w in range(scenario.workers)
        ]
        pool = WorkerPool(specs, scenario.timeouts.barrier_s, scenario.timeouts.worker_stop_s)
        pool.start()
        for number, pid in pool.pids().items():
            sampler.watch(f"worker-{number}", pid)
        for repetition in range(1, scenario.repeat + 1):
            for phase in scenario.phases:
                current_phase = phase
                release_ns = pool.release(phase.name)
                sampler.phase, sampler.repetition = phase.name, repetition
                label = phase.name if scenario.repeat == 1 else f"{phase.name} ({repetition}/{scenario.repeat})"
                progress.begin(label, getattr(phase, "rows", None) or 0)

                def tick():
                    check_hyperd(hyperd)
                    progress.tick(*pool.progress_totals())

                messages = pool.collect(phase.name, phase.timeout_s or scenario.timeouts.phase_s, tick)
                progress.end()
                sampler.phase = "setup"
                outcome = aggregate_phase(
                    files.run_id, scenario, phase, messages, release_ns, sampler.snapshot(), "ok", repetition=repetition
                )
                outcome["summary"]["started_utc"] = files.utc(release_ns)
                current_phase = None
                summary = outcome["summary"]
                if summary["verified"] == "failed":
                    details = "; ".join(
                        f"worker {w['worker']}: {w['detail']}" for w in outcome["workers"] if w["detail"]
                    )
                    summary["status"], summary["error"] = "failed", f"verification failed: {details}"
                budget = getattr(phase, "max_error_rate", None)
                if budget is not None and summary["error_rate"] > budget:
                    first = next((r["first_error"] for r in outcome["latency"] if r["first_error"]), "")
                    summary["status"] = "failed"
                    summary["error"] = (
                        f"error budget exceeded: {summary['errors']} operations failed "
                        f"({100 * summary['error_rate']:.2f}% > {100 * budget:g}%); first: {first}"
                    )
                files.notes.extend(workload_class(phase).after_phase(phase, outcome, files.dir))
                files.add_phase(outcome)
                if summary["status"] == "failed":
                    raise VerificationError(f"phase {phase.name}: {summary['error']}")
        files.add_medians()
    except (Interrupted, KeyboardInterrupt) as exc:
        status, exit_code = "interrupted", EXIT_INTERRUPTED
        error = str(exc) if isinstance(exc, Interrupted) else "interrupted by SIGINT"
    except LoadgenError as exc:
        status, error, exit_code = "failed", str(exc), exc.exit_code
        # a killed hyperd closes its sockets before it is a zombie, so a worker may report first: if hyperd
        # does not answer, give it a moment to finish dying, then name it as the cause
        death = hyperd_death(hyperd)
        if not death and hyperd is not None and hyperd.pid and not hyperd.responds():
            death = hyperd_death(hyperd, wait_s=1.0)
        if death and death not in error:  # workers lose their connections: name the cause first
            error = f"{death} ({error})"
    finally:
        # a second Ctrl-C or SIGTERM during cleanup forces the exit, but still kills the children
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, force_exit_handler(pool, hyperd))
        notes: list[str] = []

        def stop_workers():
            notes.extend(pool.shutdown() if pool else [])

        def write_partial_phase():
            if current_phase is not None and pool is not None:
                # what the workers that finished the failed phase measured, marked with the run's status
                partial = aggregate_phase(
                    files.run_id,
                    scenario,
                    current_phase,
                    pool.partial,
                    release_ns,
                    sampler.snapshot(),
                    status,
                    error,
                    repetition=sampler.repetition,
                )
                partial["summary"]["started_utc"] = files.utc(release_ns) if release_ns else ""
                files.add_phase(partial)

        def stop_hyperd():
            nonlocal status, exit_code, error
            if hyperd is not None:
                death = hyperd_death(hyperd)
                hyperd.close()
                if death and status == "ok":
                    status, exit_code, error = "failed", 1, death

        def listen_again():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, raise_interrupted)

        run_all(
            progress.end,
            stop_workers,
            sampler.stop,
            write_partial_phase,
            stop_hyperd,
            lambda: files.add_samples(sampler.snapshot()),
            lambda: files.add_hyper_log(hyperd_dir / "hyperd.log"),
            listen_again,
        )
    return status, error, exit_code, notes


def suspect_results(rows: list[dict]) -> list[str]:
    """Why a result may not mean what it seems: noisy repetitions, a saturated client, a ragged start."""
    out = []
    for row in rows:
        r = dict(row, phase=f"{row['phase']} [{row['parameters']}]" if row.get("parameters") else row["phase"])
        cv = r.get("rows_per_s_cv_pct")
        if cv not in ("", None) and float(cv) >= 10:
            out.append(f"{r['phase']}: rows/s varies by {float(cv):.0f}% across repetitions (CV >= 10%)")
        cpu = r.get("workers_cpu_pct_mean")
        if cpu not in ("", None) and float(cpu) >= 90:
            out.append(f"{r['phase']}: workers at {float(cpu):.0f}% CPU: the client may be the bottleneck")
        late = r.get("late_ops_pct")
        if late not in ("", None) and float(late) >= 10:
            out.append(
                f"{r['phase']}: {float(late):.0f}% of operations started more than 10 ms behind schedule: "
                f"the target rate was not met as intended (max {float(r['max_late_ms']):.0f} ms late)"
            )
        wall, skew = float(r.get("wall_s") or 0), float(r.get("start_skew_ms") or 0)
        if wall > 0 and skew / 1000 >= 0.05 * wall:
            out.append(
                f"{r['phase']}: workers started {skew:.1f} ms apart, {100 * skew / 1000 / wall:.0f}% of the wall time"
            )
    return out


def run_all(*steps) -> None:
    """Run every cleanup step even if one fails; then raise the first failure."""
    first = None
    for step in steps:
        try:
            step()
        except BaseException as exc:  # noqa: BLE001 - the remaining steps must still run
            first = first or exc
    if first is not None:
        raise first


def hyperd_death(hyperd: server.Server | None, wait_s: float = 0) -> str:
    """'hyperd exited with code …' when the private hyperd is gone, else ''."""
    code = hyperd.exit_code(wait_s) if hyperd else None
    return "" if code is None else f"hyperd {describe_exit(code)}"


def check_hyperd(hyperd: server.Server | None) -> None:
    death = hyperd_death(hyperd)
    if death:
        raise server.ServerError(death)


def force_exit_handler(pool, hyperd):
    """A second Ctrl-C: kill the children at once and exit 130, without waiting for a graceful stop."""

    def handler(_signum, _frame):
        for process in pool.processes if pool else []:
            with contextlib.suppress(Exception):
                process.kill()
        if hyperd is not None and hyperd.pid:
            with contextlib.suppress(psutil.Error):
                psutil.Process(hyperd.pid).kill()
        os._exit(EXIT_INTERRUPTED)

    return handler
