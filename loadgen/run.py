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
from rich.text import Text

from loadgen import faults, hyperd_select, hyperlog, judge, limits, results, server, staging, thresholds
from loadgen.errors import (
    EXIT_INTERRUPTED,
    EXIT_RUN_FAILED,
    Interrupted,
    LoadgenError,
    ResultsError,
    ScenarioError,
    ThresholdAborted,
)
from loadgen.metrics import aggregate_phase
from loadgen.pool import WorkerPool
from loadgen.run_folder import RunFolder
from loadgen.sampler import Sampler
from loadgen.scenario import Scenario, dump_resolved
from loadgen.terminal import Progress, clean, phase_tables, say
from loadgen.worker import WorkerSpec
from loadgen.workloads.registry import workload_class

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
        self.holding = False  # a first signal waits for the end of a held block
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
        if not self.cleaning and not self.holding:
            raise Interrupted(f"interrupted by {name}")

    @contextlib.contextmanager
    def held(self):
        """A block a first signal must not cut in two (a finished phase's rows being written): the signal is
        raised when the block is done."""
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if self.received and not self.cleaning:
            raise Interrupted(f"interrupted by {self.received[0]}")


def preflight(scenario: Scenario, point: int | None = None) -> None:
    """Everything that can be refused before anything is created (exit 2): folders, credentials, the endpoint,
    database files that already exist (`point`: a matrix point's own files)."""
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
        from loadgen import ray_pool  # noqa: PLC0415 - Ray is optional and heavy: only for backend: ray

        ray_pool.preflight(scenario.ray)
    problems = [p for p in open_files_shortfalls(scenario) if p]
    if problems:
        raise ScenarioError(problems)


def open_files_shortfalls(scenario: Scenario) -> list[str | None]:
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


def staging_dirs(scenario: Scenario) -> list[str]:
    return [p.staging_folder() for p in scenario.phases if p.staging_folder()]


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
        for index, (_params, point) in enumerate(plan):  # every point: a matrix may change server keys
            preflight(point, index if scenario.matrix else None)
        hyperds = hyperd_select.prepare([point for _, point in plan], console, progress=not quiet)  # fetched, checked
        for chosen in dict.fromkeys(h for h in hyperds if h and h.folder):
            say(console, f"hyperd: {chosen.chosen} ({chosen.reported or chosen.executable})")
        # what an earlier run killed with SIGKILL (or cut short) left behind
        server.sweep_stale(staging_dirs=[d for _, point in plan for d in staging_dirs(point)])
        run_id, run_dir = results.create_run_dir(scenario.output.dir, scenario.name)
        files = RunFolder(run_id, run_dir, scenario, list(plan[0][0]))
        try:
            environment = results.environment(run_id, argv or sys.argv)
            results.write_atomic(run_dir / "scenario.yaml", dump_resolved(scenario))
            results.write_json(run_dir / "environment.json", environment)
            files.write_status("running")
        except OSError as exc:
            raise ResultsError(f"cannot write the run folder {run_dir}: {exc}") from None
        except Interrupted as exc:  # the folder exists: it says what happened to it
            with contextlib.suppress(OSError):
                files.write_status("interrupted", str(exc), EXIT_INTERRUPTED)
            raise
        console.print(Text.assemble("run ", (clean(run_id), "bold"), clean(f" (seed {scenario.seed}) → {run_dir}")))
        raised = limits.raise_soft(open_files_needed(plan))  # before hyperd starts: it inherits the limit
        if raised:
            say(console, f"note: {raised}")
        signals.force = lambda name: force_exit(files, None, None, name)
        status, error, exit_code, notes = run_points(plan, files, environment, console, quiet, signals, hyperds)
    finally:
        if "loadgen.ray_pool" in sys.modules:  # leave the Ray cluster; one this run started is stopped
            sys.modules["loadgen.ray_pool"].disconnect()
        signals.restore()
    for note in notes:
        say(console, f"note: {note}")
    for table in phase_tables(files.final_rows()):
        console.print(table)
    for line in files.notes + files.threshold_lines:
        say(console, line)
    for warning in judge.suspect_results(files.final_rows()):
        say(console, f"warning: {warning}")
    if error:
        say(errors, f"error: {error}")
    say(console, f"results: {run_dir}")
    if "loadgen.ray_pool" in sys.modules:  # a Ray cluster start cut short cannot be torn down by Python's exit
        sys.modules["loadgen.ray_pool"].exit_if_abandoned(exit_code)
    return exit_code


def batches(plan, base: Scenario) -> list[tuple[int, list[int]]]:
    """(point, repetitions) in the order they run, each on its own hyperd. One point keeps one hyperd for all its
    repetitions (fresh workers each time) unless fresh_server; a matrix interleaves its points repetition by
    repetition, so that a drift of the machine spreads over every point instead of biasing one."""
    if len(plan) == 1 and not base.fresh_server:
        return [(0, list(range(1, base.repeat + 1)))]
    return [(index, [rep]) for rep in range(1, base.repeat + 1) for index in range(len(plan))]


def run_points(plan, files, environment, console, quiet, signals: Signals, hyperds=None):
    """Every point and repetition of the plan in order, then the medians and the thresholds; the run's status is
    written whatever happens."""
    status, error, exit_code, notes = "ok", "", 0, []
    base = plan[0][1]
    order = batches(plan, base)
    try:
        for number, (index, repetitions) in enumerate(order):
            params, point = plan[index]
            if len(order) > 1:
                where = [f"point {index + 1}/{len(plan)}"] if len(plan) > 1 else []
                where += [f"repetition {repetitions[0]}/{base.repeat}"] if base.repeat > 1 else []
                what = results.describe_parameters(params)
                say(console, ", ".join(where) + (f": {what}" if what else ""))
            files.start_point(index, params, point)
            name = (
                "hyperd"
                if len(order) == 1
                else f"hyperd-{index}"
                if base.repeat == 1
                else f"hyperd-{index}-{repetitions[0]}"
            )
            hyperd_dir = files.dir / name
            status, error, exit_code, point_notes = run_point(
                point, files, environment, hyperd_dir, console, quiet, signals, repetitions,
                hyperds[index] if hyperds else None,
            )  # fmt: skip
            notes.extend(point_notes)
            if status != "ok":
                break
            if signals.received:  # arrived while the point was cleaning up: do not start the next one
                if number + 1 < len(order):
                    status, exit_code = "interrupted", EXIT_INTERRUPTED
                    error = f"interrupted by {signals.received[0]} (before {number + 2} of {len(order)})"
                    break
                notes.append(f"{signals.received[0]} arrived while the run was finishing; it finished its cleanup")
        else:
            for index, (_params, point) in enumerate(plan):
                files.add_medians(index, point)
            missed = files.check_thresholds()
            if missed:
                status, exit_code, error = "failed", 1, "threshold missed: " + "; ".join(missed)
    except Interrupted as exc:  # between two points
        status, exit_code, error = "interrupted", EXIT_INTERRUPTED, str(exc)
    except OSError as exc:  # e.g. a full disk while writing the thresholds' results
        status, exit_code, error = "failed", 1, f"cannot write results to {files.dir}: {exc}"
    except Exception as exc:  # a bug: the run folder still says the run failed, and the traceback follows
        status, exit_code, error = "failed", 1, f"internal error: {exc!r}"
        raise
    except BaseException as exc:  # e.g. SystemExit from a signal handler not ours: the run did not finish
        status, exit_code, error = "failed", 1, unfinished(exc)
        raise
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


def run_point(
    scenario: Scenario, files, environment: dict, hyperd_dir, console: Console, quiet: bool, signals, repetitions,
    chosen: hyperd_select.Hyperd | None = None,
):  # fmt: skip
    """Some repetitions of one scenario (one matrix point) on one hyperd: start hyperd, then per repetition a fresh
    pool of workers running every phase. Returns (status, error, exit code, notes). Whatever happens, workers are
    stopped and reaped, hyperd is shut down and what was measured is written."""
    status, error, exit_code = "ok", "", 0
    written = 0  # phases written whole: a run is ok only once every phase of every repetition is
    sampler = Sampler(scenario.sampling.interval_ms)
    sampler.watch("coordinator", os.getpid())
    pool: WorkerPool | None = None
    hyperd: server.Server | None = None
    progress = Progress(console, quiet)
    tail: hyperlog.Tail | None = None
    current_phase, release_ns, outcome = None, 0, None
    notes: list[str] = []
    signals.cleaning = False
    # looked up when called: a second signal at any moment kills whatever pool and hyperd exist by then
    signals.force = lambda name: force_exit(files, pool, hyperd, name)
    try:
        if signals.received:  # arrived between two points, while nothing listened for it
            raise Interrupted(f"interrupted by {signals.received[0]}")
        hyperd = server.Server(
            scenario.server,
            scenario.workers,
            str(hyperd_dir),
            scenario.timeouts.hyperd_stop_s,
            files.created_databases,
            hyper_path=chosen.folder if chosen else None,
            point=files.point if files.param_columns else None,  # a matrix point: database files of its own
        )
        start_hyperd(hyperd, files, environment, chosen)
        sampler.watch("hyperd", hyperd.pid)
        if hyperd.pid:  # a private hyperd: its log is ours to read
            tail = hyperlog.Tail(hyperd_dir, files.run_id)
        if scenario.sampling.enabled:
            sampler.start()
        for repetition in repetitions:
            pool = new_pool(scenario, hyperd, files, environment)  # fresh processes: repetitions vary for real
            start_pool(pool, sampler)  # after the assignment: a signal while spawning still finds every process
            for phase in scenario.phases:
                current_phase, release_ns, outcome, sampler.repetition = phase, 0, None, repetition
                release_ns = pool.release(phase.name, tail.poll if tail else None)
                faults.inject("coordinator", phase.name, "run")
                sampler.phase = phase.name
                if tail:
                    tail.begin(phase.name, repetition, files.epoch(release_ns))
                pace = phase.describe_rate(scenario.workers) if repetition == 1 else ""
                if pace:  # how the load is paced, as it starts
                    say(console, f"{phase.name}: {pace}")
                label = phase.name if scenario.repeat == 1 else f"{phase.name} ({repetition}/{scenario.repeat})"
                live = live_check(scenario, phase)
                messages = collect_phase(pool, phase, scenario, progress, label, hyperd, tail, live)
                if tail:
                    tail.end(files.epoch(time.perf_counter_ns()))
                sampler.phase = "setup"
                outcome = aggregate_phase(
                    files.run_id, scenario, phase, messages, release_ns, sampler.snapshot(), "ok", repetition=repetition
                )
                outcome["summary"]["started_utc"] = files.utc(release_ns)
                judge.judge_phase(phase, outcome)
                outcome["summary"]["point"] = files.point  # after_phase may write it into files of its own
                with writing_results(files):
                    files.notes.extend(workload_class(phase).after_phase(phase, outcome, files.dir))
                if live and live.fired:  # the phase ended early: its rows say why
                    outcome["summary"]["status"] = "failed"
                    outcome["summary"]["error"] = abort_message(live, phase)
                with signals.held(), writing_results(files):  # written whole, even if a signal arrives meanwhile
                    files.add_phase(outcome)
                    current_phase = None  # only now: until it is written, the cleanup writes what was measured
                    written += 1
                if live and live.fired:
                    raise ThresholdAborted(abort_message(live, phase))
                judge.raise_if_failed(phase, outcome)
            notes.extend(pool.shutdown())
            pool = None
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
        if death:  # a failed run, whatever the workers' errors looked like (a refused connect: a limit, exit 2)
            exit_code = EXIT_RUN_FAILED
    except OSError as exc:  # not a write of results (those raise ResultsError): its own words
        status, error, exit_code = "failed", f"{type(exc).__name__}: {exc}", 1
    except BaseException as exc:  # e.g. SystemExit from a signal handler not ours, a bug: the run did not finish
        status, error, exit_code = "failed", unfinished(exc), 1
        raise
    finally:
        signals.cleaning = True  # a first signal from here on lets the cleanup finish; a second one forces
        if status == "ok" and written < len(repetitions) * len(scenario.phases):  # whatever ended it, not a success
            status, error, exit_code = "failed", "the run ended before its phases completed", 1
        faults.inject("coordinator", "run", "cleanup")

        def stop_workers():
            notes.extend(pool.shutdown() if pool else [])

        def write_partial_phase():
            if current_phase is not None and outcome is not None:  # measured in full, then the run ended
                if status != "ok":
                    outcome["summary"]["status"] = status
                    outcome["summary"]["error"] = outcome["summary"]["error"] or error
                if not any(row is outcome["summary"] for row in files.summary):
                    files.add_phase(outcome)
            elif current_phase is not None and pool is not None:
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
            files.write_tables,  # whatever a write cut short, the tables hold every row the run has
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


def unfinished(exc: BaseException) -> str:
    return f"the run ended before its phases completed: {exc!r}"


@contextlib.contextmanager
def writing_results(files):
    """Writes to the run folder: only an OSError of theirs is reported as 'cannot write results'."""
    try:
        yield
    except OSError as exc:
        raise ResultsError(f"cannot write results to {files.dir}: {exc}") from None


def start_hyperd(hyperd: server.Server, files, environment: dict, chosen=None) -> None:
    hyperd.start()
    files.hyperd_version = hyperd.version
    environment["endpoint"] = hyperd.descriptor if not hyperd.config.endpoint else "external"
    record = hyperd_select.record(chosen, hyperd, files.point)  # each point's hyperd: version, binary, sha256
    points = [*(e for e in environment.get("hyperd", []) if e["point"] != files.point), record]
    environment["hyperd"] = sorted(points, key=lambda e: e["point"])
    environment["hyperd_version"] = " | ".join(dict.fromkeys(e["version"] for e in environment["hyperd"]))
    with writing_results(files):
        results.write_json(files.dir / "environment.json", environment)


def new_pool(scenario: Scenario, hyperd: server.Server, files, environment: dict | None = None) -> WorkerPool:
    specs = [
        WorkerSpec(
            w, scenario.workers, scenario, hyperd.descriptor, hyperd.database_for(w), os.getpid(), str(files.dir)
        )
        for w in range(scenario.workers)
    ]
    if scenario.backend == "ray":
        from loadgen import ray_pool  # noqa: PLC0415 - Ray is optional and heavy: only for backend: ray

        def on_ready(cluster: dict, seconds: float) -> None:  # environment.json: every node, who ran where
            if environment is not None:
                environment["ray"] = {**cluster, "first_barrier_s": round(seconds, 3)}
                with writing_results(files):
                    results.write_json(files.dir / "environment.json", environment)

        sample_ms = scenario.sampling.interval_ms if scenario.sampling.enabled else 0
        return ray_pool.RayPool(
            specs, scenario.timeouts.barrier_s, scenario.timeouts.worker_stop_s, scenario.ray,
            staging_dirs(scenario), sample_ms, on_ready,
        )  # fmt: skip
    return WorkerPool(specs, scenario.timeouts.barrier_s, scenario.timeouts.worker_stop_s, staging_dirs(scenario))


def start_pool(pool: WorkerPool, sampler: Sampler) -> None:
    """Spawn the workers (each connects and waits at the first barrier) and sample them."""
    pool.sampler = sampler  # a Ray pool adds what its actors sample on their nodes
    pool.start()
    for number, pid in pool.pids().items():
        sampler.watch(f"worker-{number}", pid)


def collect_phase(pool: WorkerPool, phase, scenario: Scenario, progress: Progress, label: str, hyperd, tail, live):
    """Wait for every worker's result of a released phase, showing progress, watching hyperd, and ending the phase
    early when an abort threshold (`live`, a thresholds.LiveCheck or None) fires."""
    progress.begin(label, phase.progress_total())
    pool.on_interval = live.add if live else None

    def tick():
        check_hyperd(hyperd)
        progress.tick(*pool.progress_totals())
        if tail:
            tail.poll()
        if live and live.check() and not live.acted:
            live.acted = True
            pool.finish_phase()

    try:
        return pool.collect(phase.name, phase.timeout_s or scenario.timeouts.phase_s, tick)
    finally:
        pool.on_interval = None
        progress.end()


def live_check(scenario: Scenario, phase) -> thresholds.LiveCheck | None:
    bounds = [
        t
        for key, value in scenario.thresholds.items()
        for t in thresholds.parse_all(key, value)
        if t.abort and t.phase == phase.name
    ]
    return thresholds.LiveCheck(bounds, scenario.sampling.timeseries_interval_s) if bounds else None


def abort_message(live: thresholds.LiveCheck, phase) -> str:
    bound, value, at_s = live.fired
    return (
        f"threshold {bound.text} breached {at_s:g} s into phase {phase.name} (measured {value:g}): "
        "the run was aborted (abort: true)"
    )


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
    if hasattr(pool, "kill_all"):  # Ray actors (and a cluster this run started)
        with contextlib.suppress(Exception):
            pool.kill_all()
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
