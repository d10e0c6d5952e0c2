"""One run, start to end: results folder → hyperd → workers → phases → CSVs → final table.

Whatever happens (worker failure, verification failure, Ctrl-C, SIGTERM), the `finally` path stops and reaps
the workers, stops the sampler, shuts hyperd down and writes what was measured with the run's status.
"""

import contextlib
import os
import signal
import sys
import time

from rich.console import Console

from loadgen import faults, hyperlog, results, server, staging, thresholds
from loadgen.coordinator import WorkerPool
from loadgen.errors import EXIT_INTERRUPTED, Interrupted, LoadgenError, ResultsError, VerificationError
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

    def epoch(self, perf_ns: int) -> float:
        return self.wall_at_perf + perf_ns / 1e9

    def utc(self, perf_ns: int) -> str:
        return results.iso_utc(self.epoch(perf_ns))

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
                "pid": s.pid, "cpu_pct": s.cpu_pct, "rss_mib": s.rss_mib,
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


HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Signals:
    """SIGINT, SIGTERM and SIGHUP during one run.

    The first signal ends the run: it raises Interrupted wherever the run is, and the cleanup that follows is the
    shutdown it asked for. A first signal that arrives while cleaning up lets the cleanup finish (it is already
    the shutdown). A second signal cuts the cleanup short: `force` kills the children, removes what they
    staged, marks the run interrupted and exits 130."""

    def __init__(self):
        self.received: list[str] = []
        self.cleaning = False
        self.force = None  # set while there is something to kill; called with the signal's name
        self._previous: dict = {}

    def install(self) -> None:
        for sig in HANDLED_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, _frame) -> None:
        name = signal.Signals(signum).name
        self.received.append(name)
        if len(self.received) > 1:
            if self.force:
                self.force(name)
            os._exit(EXIT_INTERRUPTED)
        if not self.cleaning:
            raise Interrupted(f"interrupted by {name}")


def preflight(scenario: Scenario) -> None:
    """Everything that can be refused before anything is created (exit 2): folders, credentials, the endpoint,
    database files that already exist."""
    results.check_writable(scenario.output.dir, "output.dir")
    auth = server.credentials(scenario.server)
    config = scenario.server
    if config.endpoint:
        paths = server.database_paths(config, scenario.workers, config.database_dir) if config.database_dir else []
        server.check_endpoint(config.endpoint, auth, config.connect_timeout_s, paths, config.replace_existing)
    elif config.database_dir:
        results.check_writable(config.database_dir, "server.database_dir")
        paths = server.database_paths(config, scenario.workers, config.database_dir)
        server.check_database_files(paths, config.replace_existing)


def staging_dirs(scenario: Scenario) -> list[str]:
    return [p.staging_dir for p in scenario.phases if getattr(p, "staging_dir", None)]


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
    signals = Signals()
    signals.install()  # before the preflight: an endpoint that never answers must not make Ctrl-C wait
    try:
        preflight(scenario)
        # what an earlier run killed with SIGKILL (or cut short) left behind
        server.sweep_stale(staging_dirs=[d for _, point in plan for d in staging_dirs(point)])
        run_id, run_dir = results.create_run_dir(scenario.output.dir, scenario.name)
        files = RunFiles(run_id, run_dir, scenario, list(plan[0][0]))
        try:
            environment = results.environment(run_id, argv or sys.argv)
            results.write_atomic(run_dir / "scenario.yaml", dump_resolved(scenario))
            results.write_json(run_dir / "environment.json", environment)
            files.write_status("running")
        except OSError as exc:
            raise ResultsError(f"cannot write the run folder {run_dir}: {exc}") from None
        console.print(f"run [bold]{run_id}[/] (seed {scenario.seed}) → {run_dir}", highlight=False)
        signals.force = lambda name: force_exit(files, None, None, name)
        status, error, exit_code, notes = run_points(plan, files, environment, console, quiet, signals)
    finally:
        signals.restore()
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


def run_points(plan, files, environment, console, quiet, signals: Signals):
    """Every point of the plan in order, then the thresholds; the run's status is written whatever happens."""
    status, error, exit_code, notes = "ok", "", 0, []
    try:
        for index, (params, point) in enumerate(plan):
            if len(plan) > 1:
                console.print(f"point {index + 1}/{len(plan)}: {results.describe_parameters(params)}", markup=False)
            files.start_point(index, params, point)
            hyperd_dir = files.dir / ("hyperd" if len(plan) == 1 else f"hyperd-{index}")
            status, error, exit_code, point_notes = run_point(point, files, environment, hyperd_dir, console, quiet,
                                                              signals)  # fmt: skip
            notes.extend(point_notes)
            if status != "ok":
                break
            if signals.received:  # arrived while the point was cleaning up: do not start the next one
                if index + 1 < len(plan):
                    status, exit_code = "interrupted", EXIT_INTERRUPTED
                    error = f"interrupted by {signals.received[0]} (before point {index + 2} of {len(plan)})"
                    break
                notes.append(f"{signals.received[0]} arrived while the run was finishing; it finished its cleanup")
        else:
            missed = files.check_thresholds()
            if missed:
                status, exit_code, error = "failed", 1, "threshold missed: " + "; ".join(missed)
    except Interrupted as exc:  # between two points
        status, exit_code, error = "interrupted", EXIT_INTERRUPTED, str(exc)
    except OSError as exc:  # e.g. a full disk while writing the thresholds' results
        status, exit_code, error = "failed", 1, f"cannot write results to {files.dir}: {exc}"
    finally:
        signals.cleaning = True
        signals.force = lambda name: force_exit(files, None, None, name)
        failures = run_all(
            lambda: files.write_status(status, error, exit_code),
            lambda: files.notes.extend(f"warning: {w}" for w in [append_history(files)] if w),
        )
        if failures and status == "ok":
            status, exit_code, error = "failed", 1, f"cannot write results to {files.dir}: {failures[0]}"
    return status, error, exit_code, notes


def append_history(files) -> str | None:
    return results.append_history(files.scenario.output.dir, files.final_rows())


def run_point(scenario: Scenario, files, environment: dict, hyperd_dir, console: Console, quiet: bool, signals):
    """One scenario, start to end: hyperd → workers → phases → files. Returns (status, error, exit code,
    notes). Whatever happens, workers are stopped and reaped, hyperd is shut down and what was measured is
    written."""
    status, error, exit_code = "ok", "", 0
    sampler = Sampler(scenario.sampling.interval_ms)
    sampler.watch("coordinator", os.getpid())
    pool: WorkerPool | None = None
    hyperd: server.Server | None = None
    progress = Progress(console, quiet)
    tail: hyperlog.Tail | None = None
    current_phase, release_ns = None, 0
    signals.cleaning = False
    # looked up when called: a second signal at any moment kills whatever pool and hyperd exist by then
    signals.force = lambda name: force_exit(files, pool, hyperd, name)
    try:
        hyperd = server.Server(scenario.server, scenario.workers, str(hyperd_dir), scenario.timeouts.hyperd_stop_s)
        hyperd.start()
        environment["hyperd_version"] = hyperd.version
        environment["endpoint"] = hyperd.descriptor if not scenario.server.endpoint else "external"
        results.write_json(files.dir / "environment.json", environment)
        sampler.watch("hyperd", hyperd.pid)
        if hyperd.pid:  # a private hyperd: its log is ours to read
            tail = hyperlog.Tail(hyperd_dir, files.run_id)
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
                if tail:
                    tail.begin(phase.name, repetition, files.epoch(release_ns))
                label = phase.name if scenario.repeat == 1 else f"{phase.name} ({repetition}/{scenario.repeat})"
                if hasattr(phase, "describe_rate") and repetition == 1:  # how the load is paced, before it runs
                    console.print(f"{phase.name}: {phase.describe_rate(scenario.workers)}", markup=False)
                progress.begin(label, getattr(phase, "rows", None) or 0)

                def tick():
                    check_hyperd(hyperd)
                    progress.tick(*pool.progress_totals())
                    if tail:
                        tail.poll()

                messages = pool.collect(phase.name, phase.timeout_s or scenario.timeouts.phase_s, tick)
                if tail:
                    tail.end(files.epoch(time.perf_counter_ns()))
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
    except Interrupted as exc:
        status, exit_code, error = "interrupted", EXIT_INTERRUPTED, str(exc)
    except LoadgenError as exc:
        status, error, exit_code = "failed", str(exc), exc.exit_code
        # a killed hyperd closes its sockets before it is a zombie, so a worker may report first: if hyperd
        # does not answer, give it a moment to finish dying, then name it as the cause
        death = hyperd.death() if hyperd else ""
        if not death and hyperd is not None and hyperd.pid and not hyperd.responds():
            death = hyperd.death(wait_s=1.0)
        if death and death not in error:  # workers lose their connections: name the cause first
            error = f"{death} ({error})"
    except OSError as exc:  # the results folder cannot be written (a full disk, …)
        status, error, exit_code = "failed", f"cannot write results to {files.dir}: {exc}", 1
    finally:
        signals.cleaning = True  # a first signal from here on lets the cleanup finish; a second one forces
        faults.inject("coordinator", "run", "cleanup")
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
                death = hyperd.death()
                hyperd.close()
                if death and status == "ok":
                    status, exit_code, error = "failed", 1, death

        failures = run_all(
            progress.end,
            stop_workers,
            sampler.stop,
            write_partial_phase,
            stop_hyperd,
            lambda: files.add_samples(sampler.snapshot()),
            lambda: files.add_hyper_log(tail),
        )
        if failures and status == "ok":
            status, exit_code = "failed", 1
            error = f"cannot write results to {files.dir}: {failures[0]}"
        elif failures:
            notes.append(f"cleanup: {failures[0]}")
        signals.force = lambda name: force_exit(files, None, None, name)
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


def run_all(*steps) -> list[BaseException]:
    """Run every cleanup step even if one fails; return the failures (a signal's Interrupted is not one: during
    cleanup it is not raised)."""
    failures = []
    for step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - the remaining steps must still run
            failures.append(exc)
    return failures


def check_hyperd(hyperd: server.Server | None) -> None:
    death = hyperd.death() if hyperd else ""
    if death:
        raise server.ServerError(death)


def force_exit(files, pool, hyperd, name: str) -> None:
    """A second signal: kill the children at once, remove what they staged and what we created, mark the run,
    exit 130. No waiting for a graceful stop."""
    processes = [p for p in (pool.processes if pool else []) if p.pid]
    for process in processes:
        with contextlib.suppress(Exception):
            process.kill()
    if hyperd is not None:
        with contextlib.suppress(Exception):
            hyperd.kill()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(timeout=1)
            staging.remove_leftovers(process.pid, staging_dirs(files.scenario))
    with contextlib.suppress(Exception):
        files.write_status("interrupted", f"interrupted by a second signal ({name}): cleanup cut short", 130)
    os._exit(EXIT_INTERRUPTED)
