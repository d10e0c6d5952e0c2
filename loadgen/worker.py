"""The worker process: connect, then for each phase set up, meet at the barrier, run, verify, report.

Everything crosses the worker's pipe as plain data (dicts):
  to the coordinator:  {"kind": "ready", "phase"}, {"kind": "result", "worker", "phase", ...Recorder.to_dict(),
                       "verification": {...}}, {"kind": "error", "worker", "phase", "message", "traceback"}
  from it:             {"kind": "go", "phase"} (the start barrier), {"kind": "stop"}
"""

import contextlib
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field

from tableauhyperapi import TableName

from loadgen import faults, server
from loadgen.metrics import Recorder
from loadgen.workloads.registry import workload_for

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
    scenario: object  # loadgen.scenario.Scenario (pydantic models pickle)
    endpoint: str
    database: str
    coordinator_pid: int
    run_dir: str = ""  # the run folder, for workloads that leave files there (e.g. query answers)
    # when the coordinator stops waiting at the first barrier (time.monotonic(), one clock for every process of a
    # host); None: unknown (a worker on another host), counted from this worker's start
    first_barrier_by: float | None = None


class ProgressSlot:
    """This worker's counters (rows, operations, errors) in the shared progress array."""

    def __init__(self, array, worker: int):
        self._array = array
        self._base = PROGRESS_SLOTS * worker

    def __getitem__(self, i):
        return self._array[self._base + i]

    def __setitem__(self, i, value):
        self._array[self._base + i] = value


@dataclass
class WorkerContext:
    worker: int
    workers: int
    connection: object
    table: TableName
    endpoint: str
    database: str
    stop: StopFlag
    finish: StopFlag  # end the running phase now and report (set by an abort threshold)
    auth: dict = field(default_factory=dict)  # user/password, if the endpoint needs them
    seed: int = 0  # the scenario's seed; workloads derive their random streams from it and the worker number
    owns_database: bool = True  # the one worker per database that creates shared objects in setup
    state: dict = field(default_factory=dict)  # carried across phases (e.g. which rows the table holds)
    run_dir: str = ""  # the run folder
    connect_timeout_s: float = 5.0
    barrier_by: float = float("inf")  # time.monotonic() by which the coming phase's setup must reach the barrier
    _pg: object = None

    @property
    def table_sql(self) -> str:
        return str(self.table)  # quoted by tableauhyperapi, never pasted raw

    def pg_connection(self):
        if self._pg is None:
            self._pg = server.pg_connect(self.endpoint, self.database, self.auth, self.connect_timeout_s)
        return self._pg

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self._pg is not None:
                self._pg.close()
        with contextlib.suppress(Exception):
            self.connection.close()


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
    with contextlib.suppress(Exception):
        ctx.connection.cancel()
    with contextlib.suppress(Exception):
        if ctx._pg is not None:
            ctx._pg.cancel_safe(timeout=1)


def main(spec: WorkerSpec, link, stop_raw, progress) -> None:
    # Ctrl-C in a terminal (and SIGHUP when it closes) reaches the whole process group: the coordinator decides
    # what happens, and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if spec.coordinator_pid:  # 0: a Ray actor, which watches its raylet and its link instead
        threading.Thread(target=watch_coordinator, args=(spec.coordinator_pid,), daemon=True).start()
    stop = StopFlag(stop_raw)
    scenario = spec.scenario
    phase_name = "connect"
    ctx = None
    running = None  # (phase, recorder, setup ns) while a phase runs: what it measured goes back if the run is stopped
    barrier_by = spec.first_barrier_by or time.monotonic() + scenario.timeouts.barrier_s
    try:
        auth = server.credentials(scenario.server)
        connect_s = scenario.server.connect_timeout_s
        t0 = time.perf_counter_ns()
        connection = server.connect(spec.endpoint, spec.database, auth, connect_s)
        setup_ns = time.perf_counter_ns() - t0  # the first phase's setup includes connecting, as in the seed
        ctx = WorkerContext(
            worker=spec.worker,
            workers=spec.workers,
            connection=connection,
            table=TableName(scenario.table_name(spec.worker)),
            endpoint=spec.endpoint,
            database=spec.database,
            stop=stop,
            finish=StopFlag(stop_raw, FINISH),
            auth=auth,
            seed=scenario.seed or 0,
            owns_database=scenario.server.database == "per_worker" or spec.worker == 0,
            run_dir=spec.run_dir,
            connect_timeout_s=connect_s,
        )
        threading.Thread(target=cancel_on_stop, args=(ctx,), daemon=True).start()
        slot = ProgressSlot(progress, spec.worker)
        plan = scenario.phases  # once: every repetition has fresh worker processes
        for number, phase in enumerate(plan, start=1):
            phase_name = phase.name
            workload = workload_for(phase, ctx)
            ctx.barrier_by = barrier_by
            faults.inject(spec.worker, phase.name, "setup")
            t0 = time.perf_counter_ns()
            workload.setup()
            setup_ns += time.perf_counter_ns() - t0
            faults.inject(spec.worker, phase.name, "barrier")
            released_ns = wait_for_go(link, phase.name, scenario.timeouts.barrier_s)
            if released_ns is None:
                exit_now(EXIT_ABORTED, ctx)
            recorder = Recorder(slot, released_ns, int(scenario.sampling.timeseries_interval_s * 1e9))
            recorder.on_interval = interval_sender(link, spec.worker, phase.name)
            faults.inject(spec.worker, phase.name, "run")
            workload.warmup(recorder)
            recorder.start()
            running = (phase, recorder, setup_ns)
            workload.run(recorder)
            recorder.stop()
            if stop.is_set():  # the coordinator is ending the run: what was measured, unverified, and no more
                send_stopped(link, spec.worker, running)
                exit_now(EXIT_ABORTED, ctx)
            verification = workload.verify()
            close_ns = 0
            if number == len(plan):  # the last phase closes the connections, as the seed's workers do
                t0 = time.perf_counter_ns()
                ctx.close()
                close_ns = time.perf_counter_ns() - t0
            link.send(result_message(spec.worker, phase, recorder, verification, setup_ns, close_ns))
            setup_ns, running = 0, None
            # the coordinator starts waiting for the next barrier once every result is in: not before this one
            barrier_by = time.monotonic() + scenario.timeouts.barrier_s
    except (EOFError, BrokenPipeError):  # the coordinator is gone
        exit_now(EXIT_ORPHANED, ctx)
    except BaseException as exc:  # noqa: BLE001 - every failure is reported to the coordinator
        if stop.is_set():  # e.g. a statement cancelled because the run is ending: not the cause
            send_stopped(link, spec.worker, running)
            exit_now(EXIT_ABORTED, ctx)
        with contextlib.suppress(OSError):
            link.send(
                {
                    "kind": "error",
                    "worker": spec.worker,
                    "phase": phase_name,
                    "pid": os.getpid(),
                    "message": f"{type(exc).__name__}: {server.first_line(exc)}",
                    "exit_code": getattr(exc, "exit_code", EXIT_FAILED),  # a LimitError's 2: a setting to change
                    "traceback": traceback.format_exc(),
                }
            )
        exit_now(EXIT_FAILED, ctx)
    if ctx is not None:
        ctx.close()


def send_stopped(link, worker: int, running) -> None:
    """What a phase stopped by the coordinator measured until then (the operations that completed), as its result,
    unverified: an interrupted run keeps it. The coordinator reads while it waits for the workers to exit, and
    ends a worker that cannot send within its stop time."""
    if running is None:
        return
    phase, recorder, setup_ns = running
    if not recorder.end_ns:
        recorder.stop()
    unverified = {"verified": "unchecked", "detail": "stopped before the end: not verified"}
    with contextlib.suppress(OSError, ValueError):
        link.send(result_message(worker, phase, recorder, unverified, setup_ns, 0))


def result_message(worker: int, phase, recorder, verification: dict, setup_ns: int, close_ns: int) -> dict:
    """A worker's result of one phase, as the coordinator aggregates it."""
    return {
        "kind": "result",
        "worker": worker,
        "phase": phase.name,
        "pid": os.getpid(),
        "sessions": getattr(phase, "sessions", ""),
        "verification": verification,
        "setup_ns": setup_ns,
        "close_ns": close_ns,
        **recorder.to_dict(),
    }


def interval_sender(link, worker: int, phase: str):
    """Each finished interval goes to the coordinator as it closes, for thresholds that act during the phase."""

    def send(index: int, interval: dict) -> None:
        link.send({"kind": "interval", "worker": worker, "phase": phase, "index": index, "interval": interval})

    return send


def wait_for_go(link, phase: str, timeout_s: float) -> int | None:
    """The worker's side of the start barrier: say ready, wait for go. Returns the coordinator's release time
    (the origin of the time series), or None: stop (or no word in time)."""
    link.send({"kind": "ready", "phase": phase})
    if not link.poll(timeout_s):
        return None
    message = link.recv()
    if message.get("kind") == "go" and message.get("phase") == phase:
        return message["released_ns"]
    return None


def exit_now(code: int, ctx) -> None:
    if ctx is not None:
        ctx.close()
    os._exit(code)
