"""One run, start to end: results folder → hyperd → workers → phases → CSVs → final table.

A Run goes through the plan's matrix points (and repetitions) in order; a PointRun runs some repetitions of one
point on one hyperd. Whatever happens (worker failure, verification failure, Ctrl-C, SIGTERM), a PointRun's
cleanup steps all run: stop and reap the workers, stop the sampler, write what the failed phase measured, shut
hyperd down, write the tables, the samples and hyperd's log figures.
"""

import contextlib
import os
import sys
import time

from rich.console import Console
from rich.text import Text

from loadgen import limits
from loadgen.config import thresholds as threshold_expressions
from loadgen.engine import faults, hyperd_select, protocol, server
from loadgen.engine.backends.local import LocalBackend
from loadgen.engine.sampler import Sampler
from loadgen.engine.signals import Signals
from loadgen.engine.worker import WorkerSpec
from loadgen.errors import (
    EXIT_INTERRUPTED,
    EXIT_RUN_FAILED,
    Interrupted,
    LoadgenError,
    ResultsError,
    ScenarioError,
    ThresholdAborted,
)
from loadgen.report.terminal import Progress, clean, print_results, print_verdicts, say
from loadgen.results import compare, history, hyperlog, judge, tables, thresholds
from loadgen.results import environment as run_environment
from loadgen.results import files as results
from loadgen.results.aggregate import aggregate_phase
from loadgen.results.run_folder import RunFolder
from loadgen.scenario.load import dump_resolved
from loadgen.workloads import registry

RAY_CLUSTER = "loadgen.engine.backends.ray_cluster"


def preflight(scenario, point: int | None = None) -> None:
    """Everything that can be refused before anything is created (exit 2): folders, credentials, the endpoint,
    database files that already exist (`point`: a matrix point's own files), open-files limits."""
    results.check_writable(scenario.output.dir, "output.dir")
    auth = server.credentials(scenario.server)
    config = scenario.server
    if config.endpoint:
        directory = config.database_dir
        paths = server.database_paths(config, scenario.workers, directory, point) if directory else []
        server.check_endpoint(config.endpoint, auth, config.connect_timeout_s, paths, config.replace_existing)
    elif config.database_dir:
        results.check_writable(config.database_dir, "server.database_dir")
        paths = server.database_paths(config, scenario.workers, config.database_dir, point)
        server.check_database_files(paths, config.replace_existing)
    if scenario.backend == "ray":
        from loadgen.engine.backends import ray_cluster  # Ray is optional and heavy: only for backend: ray

        ray_cluster.preflight(scenario.ray)
    problems = [p for p in open_files_shortfalls(scenario) if p]
    if problems:
        raise ScenarioError(problems)


def open_files_shortfalls(scenario) -> list[str | None]:
    """Sessions past the open-files hard limit of a worker on this host or of the private hyperd."""
    (sessions, phase), workers = limits.most_sessions(scenario), scenario.workers
    out = []
    if scenario.backend != "ray":  # a Ray worker checks its own host's limit
        why = f"phase {phase}: {sessions:,} sessions per worker"
        out.append(limits.shortfall(limits.worker_need(sessions), "each worker", why))
    if not scenario.server.endpoint:
        why = f"phase {phase}: {workers} worker(s) × {sessions:,} sessions"
        who = "hyperd (two per session: its socket and its transient database)"
        out.append(limits.shortfall(limits.hyperd_need(sessions, workers), who, why))
    return out


def open_files_needed(plan) -> int:
    """What this process's soft limit must allow: its workers and the private hyperd inherit it."""
    need = 0
    for _, point in plan:
        sessions, _ = limits.most_sessions(point)
        need = max(need, limits.worker_need(sessions))
        if not point.server.endpoint:
            need = max(need, limits.hyperd_need(sessions, point.workers))
    return need


def staging_dirs(scenario) -> list[str]:
    return [p.staging_folder() for p in scenario.phases if p.staging_folder()]


def run(plan, console: Console, errors: Console, argv=None, quiet: bool = False, base=None, wide: bool = False) -> int:
    """Run a validated plan: one point per matrix combination (one point without a matrix). Returns the exit
    code; the run folder holds the outcome either way. `wide`: the full result tables even on a narrow terminal."""
    return Run(plan, console, errors, argv, quiet, base, wide).execute()


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


class Run:
    def __init__(self, plan, console: Console, errors: Console, argv=None, quiet: bool = False, base=None, wide=False):
        self.plan, self.base = plan, base or plan[0][1]
        self.console, self.errors, self.quiet, self.wide = console, errors, quiet, wide
        self.argv = argv or sys.argv
        self.signals = Signals()
        self.files: RunFolder | None = None
        self.environment: dict = {}
        self.point: PointRun | None = None  # the point running now: what a second signal kills
        self.hyperds: list = []  # each point's hyperd (engine/hyperd_select.py; None: an endpoint)
        self.status, self.error, self.exit_code, self.notes = "ok", "", 0, []

    def execute(self) -> int:
        self.signals.install()  # before the preflight: an endpoint that never answers must not make Ctrl-C wait
        try:
            self.prepare()
            self.signals.force = self.force_exit
            self.run_points()
        finally:
            if RAY_CLUSTER in sys.modules:  # leave the Ray cluster; one this run started is stopped
                sys.modules[RAY_CLUSTER].disconnect()
            self.signals.restore()
        self.print_outcome()
        if RAY_CLUSTER in sys.modules:  # a Ray cluster start cut short cannot be torn down by Python's exit
            sys.modules[RAY_CLUSTER].exit_if_abandoned(self.exit_code)
        return self.exit_code

    def prepare(self) -> None:
        """Refuse what can be refused (exit 2), sweep what killed runs left, create the run folder."""
        for index, (_params, point) in enumerate(self.plan):  # every point: a matrix may change server keys
            preflight(point, index if self.base.matrix else None)
        self.hyperds = hyperd_select.prepare([point for _, point in self.plan], self.console, not self.quiet)
        for chosen in dict.fromkeys(h for h in self.hyperds if h and h.folder):  # fetched and checked
            say(self.console, f"hyperd: {chosen.chosen} ({chosen.reported or chosen.executable})")
        # what an earlier run killed with SIGKILL (or cut short) left behind
        server.sweep_stale(staging_dirs=[d for _, point in self.plan for d in staging_dirs(point)])
        scenario = self.base
        run_id, run_dir = results.create_run_dir(scenario.output.dir, scenario.name)
        self.files = RunFolder(run_id, run_dir, scenario, list(self.plan[0][0]))
        try:
            self.environment = run_environment.environment(run_id, self.argv)
            results.write_atomic(run_dir / "scenario.yaml", dump_resolved(scenario))
            results.write_json(run_dir / "environment.json", self.environment)
            self.files.write_status("running")
        except OSError as exc:
            raise ResultsError(f"cannot write the run folder {run_dir}: {exc}") from None
        except Interrupted as exc:  # the folder exists: it says what happened to it
            try:
                self.files.write_status("interrupted", str(exc), EXIT_INTERRUPTED)
            except OSError:
                pass
            raise
        where = clean(f" (seed {scenario.seed}) → {run_dir}")
        self.console.print(Text.assemble("run ", (clean(run_id), "bold"), where))
        raised = limits.raise_soft(open_files_needed(self.plan))  # before hyperd starts: it inherits the limit
        if raised:
            say(self.console, f"note: {raised}")

    def batches(self) -> list[tuple[int, list[int]]]:
        """(point, repetitions) in the order they run, each on its own hyperd. One point keeps one hyperd for all
        its repetitions (fresh workers each time) unless fresh_server; a matrix interleaves its points repetition
        by repetition, so that a drift of the machine spreads over every point instead of biasing one, and every
        other repetition in reverse order (1 2, 2 1, 1 2, …): a point that always ran second paid for what the first
        left behind (in an A/A run of one hyperd as two points, the second point's insert was called worse)."""
        if len(self.plan) == 1 and not self.base.fresh_server:
            return [(0, list(range(1, self.base.repeat + 1)))]
        points = list(range(len(self.plan)))
        return [
            (index, [rep]) for rep in range(1, self.base.repeat + 1) for index in (points[:: -1 if rep % 2 == 0 else 1])
        ]

    def run_points(self) -> None:
        """Every point and repetition of the plan in order, then the medians and the thresholds; the run's status
        is written whatever happens."""
        try:
            self.run_batches()
        except Interrupted as exc:  # between two points
            self.end("interrupted", EXIT_INTERRUPTED, str(exc))
        except OSError as exc:  # e.g. a full disk while writing the thresholds' results
            self.end("failed", 1, f"cannot write results to {self.files.dir}: {exc}")
        except Exception as exc:  # a bug: the run folder still says the run failed, and the traceback follows
            self.end("failed", 1, f"internal error: {exc!r}")
            raise
        except BaseException as exc:  # e.g. SystemExit from a signal handler not ours: the run did not finish
            self.end("failed", 1, unfinished(exc))
            raise
        finally:
            self.write_outcome()

    def run_batches(self) -> None:
        order = self.batches()
        for number, (index, repetitions) in enumerate(order):
            params, point = self.plan[index]
            self.announce(index, repetitions, params, len(order))
            self.files.start_point(index, params, point)
            hyperd_dir = self.files.dir / self.hyperd_folder(index, repetitions, order)
            self.point = PointRun(self, point, hyperd_dir, self.hyperds[index] if self.hyperds else None)
            status, error, exit_code, notes = self.point.execute(repetitions)
            self.point = None
            self.notes.extend(notes)
            self.end(status, exit_code, error)
            if status != "ok":
                return
            if self.signals.received:  # arrived while the point was cleaning up: do not start the next one
                if number + 1 < len(order):
                    error = f"interrupted by {self.signals.received[0]} (before {number + 2} of {len(order)})"
                    self.end("interrupted", EXIT_INTERRUPTED, error)
                    return
                name = self.signals.received[0]
                self.notes.append(f"{name} arrived while the run was finishing; it finished its cleanup")
        for index, (_params, point) in enumerate(self.plan):
            self.files.add_medians(index, point)
        missed = self.files.check_thresholds()
        if missed:
            self.end("failed", 1, "threshold missed: " + "; ".join(missed))

    def announce(self, index: int, repetitions: list[int], params: dict, batches: int) -> None:
        if batches > 1:
            where = [f"point {index + 1}/{len(self.plan)}"] if len(self.plan) > 1 else []
            where += [f"repetition {repetitions[0]}/{self.base.repeat}"] if self.base.repeat > 1 else []
            what = tables.describe_parameters(params)
            say(self.console, ", ".join(where) + (f": {what}" if what else ""))

    def hyperd_folder(self, index: int, repetitions: list[int], order) -> str:
        if len(order) == 1:
            return "hyperd"
        return f"hyperd-{index}" if self.base.repeat == 1 else f"hyperd-{index}-{repetitions[0]}"

    def end(self, status: str, exit_code: int, error: str) -> None:
        self.status, self.exit_code, self.error = status, exit_code, error

    def write_outcome(self) -> None:
        """run.json and history.csv, whatever happened; a run that cannot write them fails."""
        self.signals.cleaning = True
        self.signals.force = self.force_exit
        files = self.files
        failures = run_all(
            lambda: files.write_status(self.status, self.error, self.exit_code),
            lambda: files.notes.extend(f"warning: {w}" for w in [self.append_history()] if w),
        )
        if failures and self.status == "ok":
            self.end("failed", 1, f"cannot write results to {files.dir}: {failures[0]}")

    def append_history(self) -> str | None:
        return history.append_history(self.files.scenario.output.dir, self.files.final_rows())

    def print_outcome(self) -> None:
        for note in self.notes:
            say(self.console, f"note: {note}")
        final = self.files.final_rows()
        print_results(self.console, final, self.wide)
        for line in self.files.notes + self.files.threshold_lines:
            say(self.console, line)
        for warning in judge.suspect_results(final):
            say(self.console, f"warning: {warning}")
        for line in self.points_compared():
            say(self.console, line)
        print_verdicts(self.console, final)
        if self.error:
            say(self.errors, f"error: {self.error}")
        say(self.console, f"results: {self.files.dir}")

    def points_compared(self) -> list[str]:
        """A repeated matrix: per phase and point, which is faster than the first point and by how much."""
        if len(self.plan) < 2 or self.base.repeat < 2 or not self.files.summary:
            return []
        try:
            lines = compare.compare([str(self.files.dir)]).phase_lines()
        except LoadgenError:  # no phase every point completed: nothing to compare
            return []
        return [f"compared with {tables.describe_parameters(self.plan[0][0])}:"] + [f"  {x}" for x in lines]

    def force_exit(self, name: str) -> None:
        """A second signal: kill the children at once, remove what they staged and what we created, mark the run,
        exit 130. No waiting for a graceful stop."""
        point = self.point
        for kill in (point.backend.kill_all if point and point.backend else None,
                     point.hyperd.kill if point and point.hyperd else None):  # fmt: skip
            if kill is not None:
                try:
                    kill()
                except Exception:  # noqa: BLE001 - killing what is left; nothing to report to
                    pass
        try:
            self.files.write_status("interrupted", f"interrupted by a second signal ({name}): cleanup cut short", 130)
        except Exception:  # noqa: BLE001
            pass
        os._exit(EXIT_INTERRUPTED)


class PointRun:
    """Some repetitions of one scenario (one matrix point) on one hyperd: start hyperd, then per repetition a fresh
    set of workers running every phase. Whatever happens, workers are stopped and reaped, hyperd is shut down and
    what was measured is written."""

    def __init__(self, run: Run, scenario, hyperd_dir, chosen=None):
        self.run, self.scenario, self.hyperd_dir = run, scenario, hyperd_dir
        self.chosen = chosen  # the hyperd binary chosen for the point (None: the installed wheel's, or an endpoint)
        self.files, self.signals = run.files, run.signals
        self.sampler = Sampler(scenario.sampling.interval_ms)
        self.sampler.watch("coordinator", os.getpid())
        self.progress = Progress(run.console, run.quiet)
        self.backend = None
        self.hyperd: server.Server | None = None
        self.tail: hyperlog.Tail | None = None
        self.phase, self.release_ns, self.outcome = None, 0, None  # the phase running now and what it measured
        self.written = 0  # phases written whole: the point is ok only once every phase of every repetition is
        self.status, self.error, self.exit_code, self.notes = "ok", "", 0, []

    def execute(self, repetitions: list[int]):
        """Returns (status, error, exit code, notes)."""
        self.signals.cleaning = False
        try:
            if self.signals.received:  # arrived between two points, while nothing listened for it
                raise Interrupted(f"interrupted by {self.signals.received[0]}")
            self.start_hyperd()
            for repetition in repetitions:
                self.run_repetition(repetition)
        except Interrupted as exc:
            self.status, self.exit_code, self.error = "interrupted", EXIT_INTERRUPTED, str(exc)
        except LoadgenError as exc:
            self.status, self.error, self.exit_code = "failed", str(exc), exc.exit_code
            self.name_the_cause()
        except OSError as exc:  # not a write of results (those raise ResultsError): its own words
            self.status, self.error, self.exit_code = "failed", f"{type(exc).__name__}: {exc}", 1
        except BaseException as exc:  # e.g. SystemExit from a signal handler not ours, a bug: the run did not finish
            self.status, self.error, self.exit_code = "failed", unfinished(exc), 1
            raise
        finally:
            if self.status == "ok" and self.written < len(repetitions) * len(self.scenario.phases):
                self.status, self.error, self.exit_code = "failed", "the run ended before its phases completed", 1
            self.cleanup()
        return self.status, self.error, self.exit_code, self.notes

    def name_the_cause(self) -> None:
        """A killed hyperd closes its sockets before it is a zombie, so a worker may report first: if hyperd does
        not answer, give it a moment to finish dying, then name it as the cause (and the run failed, whatever the
        workers' errors looked like: a refused connect is not a limit to raise, exit 1)."""
        hyperd = self.hyperd
        death = hyperd.death() if hyperd else ""
        if not death and hyperd is not None and hyperd.pid and not hyperd.responds():
            death = hyperd.death(wait_s=1.0)
        if death and death not in self.error:
            self.error = f"{death} ({self.error})"
        if death:
            self.exit_code = EXIT_RUN_FAILED

    def start_hyperd(self) -> None:
        scenario, files = self.scenario, self.files
        chosen, environment = self.chosen, self.run.environment
        self.hyperd = server.Server(
            scenario.server, scenario.workers, str(self.hyperd_dir), scenario.timeouts.hyperd_stop_s,
            files.created_databases, hyper_path=chosen.folder if chosen else None,
            point=files.point if files.param_columns else None,  # a matrix point: database files of its own
        )  # fmt: skip
        self.hyperd.start()
        files.hyperd_version = self.hyperd.version
        environment["endpoint"] = self.hyperd.descriptor if not self.hyperd.config.endpoint else "external"
        record = hyperd_select.record(chosen, self.hyperd, files.point)  # each point's: version, binary, sha256
        points = [*(e for e in environment.get("hyperd", []) if e["point"] != files.point), record]
        environment["hyperd"] = sorted(points, key=lambda e: e["point"])
        environment["hyperd_version"] = " | ".join(dict.fromkeys(e["version"] for e in environment["hyperd"]))
        with writing_results(files):
            results.write_json(files.dir / "environment.json", environment)
        self.sampler.watch("hyperd", self.hyperd.pid)
        if self.hyperd.pid:  # a private hyperd: its log is ours to read
            self.tail = hyperlog.Tail(self.hyperd_dir, files.run_id)
        if scenario.sampling.enabled:
            self.sampler.start()

    def run_repetition(self, repetition: int) -> None:
        """A fresh set of workers (repetitions vary for real) running every phase."""
        self.backend = self.new_backend()  # assigned first: a signal while spawning still finds every process
        self.backend.sampler = self.sampler  # a backend whose workers sample themselves adds to it
        self.backend.start()
        for number, pid in self.backend.pids().items():
            self.sampler.watch(f"worker-{number}", pid)
        for phase in self.scenario.phases:
            self.run_phase(phase, repetition)
        self.notes.extend(self.backend.shutdown())
        self.backend = None

    def worker_specs(self) -> list[WorkerSpec]:
        scenario, hyperd = self.scenario, self.hyperd
        return [
            WorkerSpec(
                worker=w, workers=scenario.workers, phases=list(scenario.phases), runtimes=registry.runtime_paths(),
                endpoint=hyperd.descriptor, database=hyperd.database_for(w), coordinator_pid=os.getpid(),
                server=scenario.server, table=scenario.table, seed=scenario.seed or 0,
                barrier_s=scenario.timeouts.barrier_s, interval_s=scenario.sampling.timeseries_interval_s,
                definitions=dict(scenario.data), run_dir=str(self.files.dir), database_is_new=True,
            )
            for w in range(scenario.workers)
        ]  # fmt: skip

    def new_backend(self):
        scenario, stop_s = self.scenario, self.scenario.timeouts.worker_stop_s
        if scenario.backend != "ray":
            return LocalBackend(self.worker_specs(), scenario.timeouts.barrier_s, stop_s, staging_dirs(scenario))
        from loadgen.engine.backends import ray as ray_backend  # Ray is optional and heavy: only for backend: ray

        sample_ms = scenario.sampling.interval_ms if scenario.sampling.enabled else 0
        return ray_backend.RayBackend(self.worker_specs(), scenario.timeouts.barrier_s, stop_s, scenario.ray,
                                      staging_dirs(scenario), sample_ms, self.cluster_ready)  # fmt: skip

    def cluster_ready(self, cluster: dict, seconds: float) -> None:
        """environment.json: every node of the Ray cluster, who ran where."""
        self.run.environment["ray"] = {**cluster, "first_barrier_s": round(seconds, 3)}
        with writing_results(self.files):
            results.write_json(self.files.dir / "environment.json", self.run.environment)

    # ------------------------------------------------------------------ one phase
    def run_phase(self, phase, repetition: int) -> None:
        """Release the phase, collect its results, judge and write them; raise when it failed."""
        scenario, files, tail = self.scenario, self.files, self.tail
        self.phase, self.release_ns, self.outcome, self.sampler.repetition = phase, 0, None, repetition
        self.release_ns = self.backend.release(phase.name, tail.poll if tail else None)
        faults.inject("coordinator", phase.name, "run")
        self.sampler.phase = phase.name
        if tail:
            tail.begin(phase.name, repetition, files.epoch(self.release_ns))
        pace = phase.describe_rate(scenario.workers) if repetition == 1 else ""
        if pace:  # how the load is paced, as it starts
            say(self.run.console, f"{phase.name}: {pace}")
        live = live_check(scenario, phase)
        results_in = self.collect(phase, repetition, live)
        if tail:
            tail.end(files.epoch(time.perf_counter_ns()))
        self.sampler.phase = "setup"
        self.outcome = self.aggregate(phase, results_in, "ok", "", repetition)
        self.judge(phase, self.outcome, live, results_in)
        with self.signals.held(), writing_results(files):  # written whole, even if a signal arrives meanwhile
            files.add_phase(self.outcome)
            self.phase = None  # only now: until it is written, the cleanup writes what was measured
            self.written += 1
        if live and live.fired:
            raise ThresholdAborted(abort_message(live, phase))
        judge.raise_if_failed(phase, self.outcome)

    def collect(self, phase, repetition: int, live):
        """Every worker's result of a released phase, showing progress, watching hyperd, and ending the phase early
        when an abort threshold (`live`, a thresholds.LiveCheck or None) fires."""
        label = phase.name if self.scenario.repeat == 1 else f"{phase.name} ({repetition}/{self.scenario.repeat})"
        self.progress.begin(label, phase.progress_total())
        self.backend.on_interval = live.add if live else None
        self.backend.on_restart = self.restart_hyperd

        def tick():
            check_hyperd(self.hyperd)
            self.progress.tick(*self.backend.progress_totals())
            if self.tail:
                self.tail.poll()
            if live and live.check() and not live.acted:
                live.acted = True
                self.backend.finish_phase()

        try:
            return self.backend.collect(phase.name, phase.timeout_s or self.scenario.timeouts.phase_s, tick)
        finally:
            self.backend.on_interval = None
            self.backend.on_restart = None
            self.progress.end()

    def restart_hyperd(self, message) -> protocol.Restarted:
        """A fresh hyperd on the same database for a worker of the cold protocol (its connections are closed): on
        this thread, so a signal ends it like any step of the phase and the cleanup finds whichever hyperd is up."""
        hyperd = self.hyperd
        t0 = time.perf_counter()
        page_cache = hyperd.restart()
        self.sampler.watch("hyperd", hyperd.pid)
        seconds = time.perf_counter() - t0
        return protocol.Restarted(message.phase, hyperd.descriptor, hyperd.pid, page_cache, seconds)

    def aggregate(self, phase, results_in, status: str, error: str, repetition: int):
        outcome = aggregate_phase(self.files.run_id, self.scenario, phase, results_in, self.release_ns,
                                  self.sampler.snapshot(), status, error, repetition)  # fmt: skip
        runtime = registry.runtime_class(phase.workload)
        outcome.stamp(**runtime.summarize(phase, outcome.reports, outcome.summary["ops"]))
        outcome.stamp(started_utc=self.files.utc(self.release_ns) if self.release_ns else "")
        return outcome

    def judge(self, phase, outcome, live, results_in) -> None:
        """Verification and error budget, then the workload's own after_phase (it may write tables of its own and
        fail the phase), then an abort threshold that fired."""
        judge.judge_phase(phase, outcome)
        outcome.stamp(point=self.files.point)  # after_phase may write it into tables of its own
        runtime = registry.runtime_class(phase.workload)
        with writing_results(self.files):
            self.files.notes.extend(runtime.after_phase(phase, outcome, self.files))
        if live and live.fired:  # the phase ended early: its rows say why
            outcome.fail(abort_message(live, phase))

    # ------------------------------------------------------------------ cleanup
    def cleanup(self) -> None:
        """Every step runs, whatever fails: a failing step (a full disk) does not stop the others."""
        self.signals.cleaning = True  # a first signal from here on lets the cleanup finish; a second one forces
        faults.inject("coordinator", "run", "cleanup")
        failures = run_all(
            self.progress.end, self.stop_workers, self.sampler.stop, self.write_partial_phase, self.stop_hyperd,
            self.files.write_tables,  # whatever a write cut short, the tables hold every row the run has
            lambda: self.files.add_samples(self.sampler.snapshot()), lambda: self.files.add_hyper_log(self.tail),
        )  # fmt: skip
        if failures and self.status == "ok":
            self.status, self.exit_code = "failed", 1
            self.error = f"cannot write results to {self.files.dir}: {failures[0]}"
        elif failures:
            self.notes.append(f"cleanup: {failures[0]}")

    def stop_workers(self) -> None:
        if self.backend is not None:
            self.notes.extend(self.backend.shutdown())

    def write_partial_phase(self) -> None:
        """The phase that was running when the run ended: measured in full (but not written), or what the workers
        that finished (or were stopped) measured, marked with the run's status."""
        if self.phase is None:
            return
        if self.outcome is not None:
            self.outcome.end_with(self.status, self.error)
            if not any(row is self.outcome.summary for row in self.files.summary):
                self.files.add_phase(self.outcome)
        elif self.backend is not None:
            partial = self.aggregate(self.phase, self.backend.partial, self.status, self.error, self.sampler.repetition)
            self.files.add_phase(partial)

    def stop_hyperd(self) -> None:
        if self.hyperd is not None:
            death = self.hyperd.death()
            self.hyperd.close()
            if death and self.status == "ok":
                self.status, self.exit_code, self.error = "failed", 1, death


def unfinished(exc: BaseException) -> str:
    return f"the run ended before its phases completed: {exc!r}"


@contextlib.contextmanager
def writing_results(files):
    """Writes to the run folder: only an OSError of theirs is reported as 'cannot write results'."""
    try:
        yield
    except OSError as exc:
        raise ResultsError(f"cannot write results to {files.dir}: {exc}") from None


def live_check(scenario, phase) -> thresholds.LiveCheck | None:
    bounds = [
        t
        for key, value in scenario.thresholds.items()
        for t in threshold_expressions.parse_all(key, value)
        if t.abort and t.phase == phase.name
    ]
    return thresholds.LiveCheck(bounds, scenario.sampling.timeseries_interval_s) if bounds else None


def abort_message(live: thresholds.LiveCheck, phase) -> str:
    bound, value, at_s = live.fired
    return (
        f"threshold {bound.text} breached {at_s:g} s into phase {phase.name} (measured {value:g}): "
        "the run was aborted (abort: true)"
    )


def check_hyperd(hyperd: server.Server | None) -> None:
    death = hyperd.death() if hyperd else ""
    if death:
        raise server.ServerError(death)
