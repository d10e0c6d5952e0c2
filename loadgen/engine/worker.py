"""The worker process: connect, then for each phase set up, meet at the barrier, run, verify, report.

Everything crosses the worker's link (a pipe, or an actor's TCP connection) as the typed messages of
loadgen/engine/protocol.py. A worker imports the runtime class of a workload only when it runs a phase of it, so
a worker of SQL sessions loads no library that generates or reads data.
"""

import contextlib
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field

from tableauhyperapi import TableName

from loadgen.engine import faults, protocol, server
from loadgen.engine.context import Stopped, WorkerContext
from loadgen.results.recorder import Recorder
from loadgen.workloads.registry import load_runtime

# exit codes of a worker process, so the coordinator can tell the reasons apart
EXIT_FAILED = 1
EXIT_ABORTED = 3  # the barrier was broken by someone else: the coordinator is already handling it
EXIT_ORPHANED = 4  # the coordinator disappeared
STOP_POLL_S = 0.05
PROGRESS_SLOTS = 5  # rows, operations, errors, rows sent in a statement that has not finished yet, active sessions


STOP, FINISH = 1, 2  # values of the shared stop byte: 0 = run on


class StopFlag:
    """Set by the coordinator to end the run (STOP: no result) or only the running phase (FINISH: e.g. an abort
    threshold fired; the workers end their operations and report what they measured). A lock-free shared byte: a
    process that dies can never leave it locked (multiprocessing.Event can deadlock its setter when a waiter
    dies)."""

    def __init__(self, raw, value: int = STOP):
        self.raw = raw
        self.value = value

    def is_set(self) -> bool:
        return self.raw.value == self.value if self.value == FINISH else self.raw.value == STOP

    def set(self) -> None:
        if self.value == STOP or self.raw.value == 0:  # a stop is never turned back into a finish
            self.raw.value = self.value


@dataclass
class WorkerSpec:
    """Everything a worker needs, picklable (a Connection is not: each worker opens its own)."""

    worker: int
    workers: int
    phases: list  # every phase's options, in order
    runtimes: dict  # workload name → "module:Class", imported when a phase needs it
    endpoint: str
    database: str
    coordinator_pid: int
    server: object  # the scenario's server section: credentials, connect timeout, database mode
    table: str = "measurements_{worker}"  # the scenario's table template
    seed: int = 0
    barrier_s: float = 120.0
    interval_s: float = 1.0  # the time series' interval
    definitions: dict = field(default_factory=dict)  # the scenario's data: definitions
    database_is_new: bool = False  # the run created the database (so every table in it is the run's)
    run_dir: str = ""  # the run folder, for workloads that leave files there (e.g. query answers)
    # when the coordinator stops waiting at the first barrier (time.monotonic(), one clock for every process of a
    # host); None: unknown (a worker on another host), counted from this worker's start
    first_barrier_by: float | None = None


class ProgressSlot:
    """This worker's counters (rows, operations, errors, …) in the shared progress array."""

    def __init__(self, array, worker: int):
        self._array = array
        self._base = PROGRESS_SLOTS * worker

    def __getitem__(self, i):
        return self._array[self._base + i]

    def __setitem__(self, i, value):
        self._array[self._base + i] = value


def watch_coordinator(coordinator_pid: int) -> None:
    """Exit if the coordinator dies, so that a killed coordinator never leaves workers behind."""
    while True:
        time.sleep(0.5)
        if os.getppid() != coordinator_pid:
            os._exit(EXIT_ORPHANED)


def cancel_on_stop(ctx: WorkerContext) -> None:
    """When the coordinator says stop (failure, timeout, Ctrl-C), cancel whatever statement is running in
    hyperd, so that a long query does not keep the server busy after the run has ended."""
    while not ctx.stop.is_set():
        time.sleep(STOP_POLL_S)
    ctx.cancel()


def main(spec: WorkerSpec, link, stop_raw, progress) -> None:
    # Ctrl-C in a terminal (and SIGHUP when it closes) reaches the whole process group: the coordinator decides
    # what happens, and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if spec.coordinator_pid:  # 0: a Ray actor, which watches its raylet and its link instead
        threading.Thread(target=watch_coordinator, args=(spec.coordinator_pid,), daemon=True).start()
    Worker(spec, link, stop_raw, progress).run()


class Worker:
    def __init__(self, spec: WorkerSpec, link, stop_raw, progress):
        self.spec, self.link = spec, link
        self.stop = StopFlag(stop_raw)
        self.finish = StopFlag(stop_raw, FINISH)
        self.slot = ProgressSlot(progress, spec.worker)
        self.ctx: WorkerContext | None = None
        self.phase_name = "connect"
        self.setup_ns = 0  # the untimed setup of the phase being prepared (the first one's includes connecting)
        self.running = None  # (phase, recorder) while a phase runs: what it measured goes back if it is stopped
        self.rounds = 0  # gathers so far in this phase
        self.barrier_by = spec.first_barrier_by or time.monotonic() + spec.barrier_s
        self._runtimes: dict[str, type] = {}

    def run(self) -> None:
        try:
            self.connect()
            for number, phase in enumerate(self.spec.phases, start=1):
                self.run_phase(phase, last=number == len(self.spec.phases))
        except (EOFError, BrokenPipeError):  # the coordinator is gone
            self.exit(EXIT_ORPHANED)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported to the coordinator
            self.fail(exc)
        if self.ctx is not None:
            self.ctx.close()

    def connect(self) -> None:
        spec = self.spec
        auth = server.credentials(spec.server)
        t0 = time.perf_counter_ns()
        connection = server.connect(spec.endpoint, spec.database, auth, spec.server.connect_timeout_s)
        self.setup_ns = time.perf_counter_ns() - t0  # the first phase's setup includes connecting, as in the seed
        self.ctx = WorkerContext(
            worker=spec.worker, workers=spec.workers, connection=connection,
            table=TableName(spec.table.format(worker=spec.worker)), endpoint=spec.endpoint, database=spec.database,
            stop=self.stop, finish=self.finish, auth=auth, seed=spec.seed,
            owns_database=spec.server.database == "per_worker" or spec.worker == 0, run_dir=spec.run_dir,
            connect_timeout_s=spec.server.connect_timeout_s, definitions=spec.definitions, exchange=self.exchange,
            database_is_new=spec.database_is_new, restarter=self.restart_server,
        )  # fmt: skip
        threading.Thread(target=cancel_on_stop, args=(self.ctx,), daemon=True).start()

    def runtime(self, workload: str) -> type:
        if workload not in self._runtimes:
            self._runtimes[workload] = load_runtime(self.spec.runtimes[workload])
        return self._runtimes[workload]

    def run_phase(self, phase, last: bool) -> None:
        """Set up (untimed), meet the others at the barrier, warm up and run (timed), verify and report."""
        self.phase_name, self.rounds = phase.name, 0
        workload = self.runtime(phase.workload)(phase, self.ctx)
        self.ctx.barrier_by = self.barrier_by
        faults.inject(self.spec.worker, phase.name, "setup")
        t0 = time.perf_counter_ns()
        workload.setup()
        self.setup_ns += time.perf_counter_ns() - t0
        faults.inject(self.spec.worker, phase.name, "barrier")
        released_ns = self.wait_for_go(phase.name)
        if released_ns is None:
            self.exit(EXIT_ABORTED)
        recorder = Recorder(self.slot, released_ns, int(self.spec.interval_s * 1e9), phase.error_budget())
        recorder.on_interval = self.send_interval
        faults.inject(self.spec.worker, phase.name, "run")
        workload.warmup(recorder)
        recorder.start()
        self.running = (phase, recorder)
        workload.run(recorder)
        recorder.stop()
        if self.stop.is_set():  # the coordinator is ending the run: what was measured, unverified, and no more
            self.send_stopped()
            self.exit(EXIT_ABORTED)
        verification = workload.verify()
        report = workload.report()
        workload.close()
        close_ns = self.close_connections() if last else 0  # the last phase closes them, as the seed's workers do
        self.link.send(self.result(verification, report, close_ns))
        self.setup_ns, self.running = 0, None
        # the coordinator starts waiting for the next barrier once every result is in: not before this one
        self.barrier_by = time.monotonic() + self.spec.barrier_s

    def close_connections(self) -> int:
        t0 = time.perf_counter_ns()
        self.ctx.close()
        return time.perf_counter_ns() - t0

    def result(self, verification: dict, report=None, close_ns: int = 0) -> protocol.Result:
        """This worker's result of the running phase, as the coordinator aggregates it."""
        phase, recorder = self.running
        return protocol.Result(
            worker=self.spec.worker, phase=phase.name, pid=os.getpid(), measurement=recorder.measurement(),
            verification=verification, report=report, sessions=phase.sessions_per_worker(), setup_ns=self.setup_ns,
            close_ns=close_ns,
        )  # fmt: skip

    def send_stopped(self) -> None:
        """What a phase stopped by the coordinator measured until then (the operations that completed), as its
        result, unverified: an interrupted run keeps it. The coordinator reads while it waits for the workers to
        exit, and ends a worker that cannot send within its stop time."""
        if self.running is None:
            return
        recorder = self.running[1]
        if not recorder.end_ns:
            recorder.stop()
        unverified = {"verified": "unchecked", "detail": "stopped before the end: not verified"}
        with contextlib.suppress(OSError, ValueError):
            self.link.send(self.result(unverified))

    def send_interval(self, index: int, interval: dict) -> None:
        """Each finished interval goes to the coordinator as it closes, for thresholds that act during the phase."""
        self.link.send(protocol.Interval(self.spec.worker, self.phase_name, index, interval))

    def wait_for_go(self, phase: str) -> int | None:
        """The worker's side of the start barrier: say ready, wait for go. Returns the coordinator's release time
        (the origin of the time series), or None: stop (or no word in time)."""
        self.link.send(protocol.Ready(phase))
        if not self.link.poll(self.spec.barrier_s):
            return None
        message = self.link.recv()
        if isinstance(message, protocol.Go) and message.phase == phase:
            return message.released_ns
        return None

    def exchange(self, value) -> list:
        """WorkerContext.gather: this worker's share to the coordinator, every worker's back once all have sent
        theirs. The wait ends when the coordinator stops the run (a worker that died, the phase's timeout)."""
        self.rounds += 1
        self.link.send(protocol.Gather(self.spec.worker, self.phase_name, self.rounds, value))
        while not self.stop.is_set():
            if self.link.poll(STOP_POLL_S):
                message = self.link.recv()
                if isinstance(message, protocol.Gathered) and message.round == self.rounds:
                    return message.values
                if isinstance(message, protocol.Stop):
                    break
        raise Stopped(f"the run stopped while worker {self.spec.worker} waited for the other workers")

    def restart_server(self) -> protocol.Restarted:
        """WorkerContext.fresh_server: ask the coordinator for a fresh hyperd (this worker's connections are closed)
        and wait for it, at most barrier_s; the wait ends when the coordinator stops the run."""
        self.link.send(protocol.Restart(self.spec.worker, self.phase_name))
        deadline = time.monotonic() + self.spec.barrier_s
        while not self.stop.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no fresh hyperd within {self.spec.barrier_s:g} s (timeouts.barrier_s)")
            if self.link.poll(STOP_POLL_S):
                message = self.link.recv()
                if isinstance(message, protocol.Restarted):
                    if message.error:
                        raise RuntimeError(f"hyperd could not be restarted: {message.error}")
                    return message
                if isinstance(message, protocol.Stop):
                    break
        raise Stopped(f"the run stopped while worker {self.spec.worker} waited for a fresh hyperd")

    def fail(self, exc: BaseException) -> None:
        if self.stop.is_set():  # e.g. a statement cancelled because the run is ending: not the cause
            self.send_stopped()
            self.exit(EXIT_ABORTED)
        message = f"{type(exc).__name__}: {server.first_line(exc)}"
        with contextlib.suppress(OSError):
            exit_code = getattr(exc, "exit_code", EXIT_FAILED)  # a LimitError's 2: a setting to change
            failure = protocol.Failure(
                self.spec.worker, self.phase_name, os.getpid(), message, traceback.format_exc(), exit_code
            )
            self.link.send(failure)
        self.exit(EXIT_FAILED)

    def exit(self, code: int) -> None:
        if self.ctx is not None:
            self.ctx.close()
        os._exit(code)
