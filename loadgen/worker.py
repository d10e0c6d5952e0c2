"""The worker process: connect, then for each phase set up, meet at the barrier, run, verify, report.

Everything sent to the coordinator is plain data on one queue:
  {"kind": "result", "worker", "phase", ...Recorder.to_dict(), "verification": {...}}
  {"kind": "error", "worker", "phase", "message", "traceback"}
"""

import contextlib
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from threading import BrokenBarrierError

from tableauhyperapi import TableName

from loadgen import server
from loadgen.metrics import Recorder
from loadgen.workloads import workload_for

# exit codes of a worker process, so the coordinator can tell the reasons apart
EXIT_DONE = 0
EXIT_FAILED = 1
EXIT_ABORTED = 3  # the barrier was broken by someone else: the coordinator is already handling it
EXIT_ORPHANED = 4  # the coordinator disappeared


@dataclass
class WorkerSpec:
    """Everything a worker needs, picklable (a Connection is not: each worker opens its own)."""

    worker: int
    workers: int
    scenario: object  # loadgen.scenario.Scenario (pydantic models pickle)
    endpoint: str
    database: str
    coordinator_pid: int


class ProgressSlot:
    """This worker's two counters (rows, operations) in the shared progress array."""

    def __init__(self, array, worker: int):
        self._array = array
        self._base = 2 * worker

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
    stop: object  # multiprocessing.Event: set by the coordinator to end a phase early
    state: dict = field(default_factory=dict)  # carried across phases (e.g. which rows the table holds)
    _pg: object = None

    @property
    def table_sql(self) -> str:
        return str(self.table)  # quoted by tableauhyperapi, never pasted raw

    def pg_connection(self):
        if self._pg is None:
            self._pg = server.pg_connect(self.endpoint, self.database)
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


def main(spec: WorkerSpec, barrier, queue, stop, progress) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the coordinator decides what happens.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=watch_coordinator, args=(spec.coordinator_pid,), daemon=True).start()
    scenario = spec.scenario
    phase_name = "connect"
    ctx = None
    try:
        connection = server.connect(spec.endpoint, spec.database)
        ctx = WorkerContext(
            worker=spec.worker,
            workers=spec.workers,
            connection=connection,
            table=TableName(scenario.table_name(spec.worker)),
            endpoint=spec.endpoint,
            database=spec.database,
            stop=stop,
        )
        slot = ProgressSlot(progress, spec.worker)
        for phase in scenario.phases:
            phase_name = phase.name
            workload = workload_for(phase, ctx)
            workload.setup()
            barrier.wait(timeout=scenario.timeouts.barrier_s)
            slot[0] = slot[1] = 0
            recorder = Recorder(slot)
            workload.warmup(recorder)
            recorder.start()
            workload.run(recorder)
            recorder.stop()
            verification = workload.verify()
            queue.put(
                {
                    "kind": "result",
                    "worker": spec.worker,
                    "phase": phase.name,
                    "pid": os.getpid(),
                    "verification": verification,
                    **recorder.to_dict(),
                }
            )
    except BrokenBarrierError:
        exit_now(EXIT_ABORTED, ctx, queue)
    except BaseException as exc:  # noqa: BLE001 - every failure is reported, then the barrier is broken
        queue.put(
            {
                "kind": "error",
                "worker": spec.worker,
                "phase": phase_name,
                "pid": os.getpid(),
                "message": f"{type(exc).__name__}: {server.first_line(exc)}",
                "traceback": traceback.format_exc(),
            }
        )
        barrier.abort()
        exit_now(EXIT_FAILED, ctx, queue)
    if ctx is not None:
        ctx.close()


def exit_now(code: int, ctx, queue) -> None:
    """Close the connections, flush what was queued (earlier phases' results, the error), and exit."""
    if ctx is not None:
        ctx.close()
    queue.close()
    queue.join_thread()
    os._exit(code)
