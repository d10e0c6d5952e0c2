"""Worker processes: spawn, release each phase through a barrier, supervise, collect, and always reap.

No tableauhyperapi here: workers open their own connections. Failure handling in one sentence: whoever
notices a problem (a worker that raises, the supervisor thread seeing a worker exit, a timeout) breaks the
barrier, so nobody waits forever, and `shutdown` stops and reaps every worker in bounded time.
"""

import multiprocessing as mp
import queue as queue_module
import signal
import threading
import time
from multiprocessing.connection import wait as wait_for_sentinels
from threading import BrokenBarrierError

from loadgen import staging, worker
from loadgen.errors import WorkerError

POLL_S = 0.1


def describe_exit(code: int | None) -> str:
    if code is None:
        return "is still running"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class WorkerPool:
    def __init__(self, specs: list, barrier_s: float, shutdown_s: float):
        ctx = mp.get_context("spawn")  # never fork: a forked child can keep hyperd alive after we die
        self.specs = specs
        self.barrier_s = barrier_s
        self.shutdown_s = shutdown_s
        self.barrier = ctx.Barrier(len(specs) + 1)
        self.queue = ctx.Queue()
        self.stop_event = ctx.Event()
        # one writer per slot (rows done, operations done), read approximately for progress: no lock needed
        self.progress = ctx.RawArray("q", 2 * len(specs))
        self.processes = [
            ctx.Process(
                target=worker.main,
                args=(spec, self.barrier, self.queue, self.stop_event, self.progress),
                name=f"loadgen-worker-{spec.worker}",
            )
            for spec in specs
        ]
        self.errors: list[dict] = []  # error messages from workers
        self.deaths: dict[int, int] = {}  # worker → exit code, for exits nobody asked for
        self.partial: list[dict] = []  # results of the phase that failed, from workers that finished it
        self._closing = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="loadgen-supervisor", daemon=True)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        for process in self.processes:
            process.start()
        self._supervisor.start()

    def pids(self) -> dict[int, int]:
        return {spec.worker: p.pid for spec, p in zip(self.specs, self.processes, strict=True)}

    def _supervise(self) -> None:
        """Notice a worker that exits before the run is over, and break the barrier so nobody waits for it."""
        alive = {p.sentinel: (spec.worker, p) for spec, p in zip(self.specs, self.processes, strict=True)}
        while alive and not self._closing.is_set():
            for sentinel in wait_for_sentinels(list(alive), timeout=POLL_S):
                number, process = alive.pop(sentinel)
                process.join(timeout=1)
                if process.exitcode != worker.EXIT_DONE and not self._closing.is_set():
                    self.deaths[number] = process.exitcode
                    self.barrier.abort()
                    self.stop_event.set()

    def progress_totals(self) -> tuple[int, int, list[int]]:
        values = list(self.progress)
        rows = values[0::2]
        return sum(rows), sum(values[1::2]), rows

    # ------------------------------------------------------------------ phases
    def release(self, phase: str) -> int:
        """Wait for every worker at the start barrier; return the release time (perf_counter_ns)."""
        try:
            self.barrier.wait(timeout=self.barrier_s)
        except BrokenBarrierError:
            raise self.failure(
                phase, f"workers did not all reach the start barrier within {self.barrier_s:g} s"
            ) from None
        return time.perf_counter_ns()

    def collect(self, phase: str, timeout_s: float, on_tick=None) -> list[dict]:
        """The result of every worker for this phase, or a WorkerError; never waits past timeout_s."""
        results: dict[int, dict] = {}
        deadline = time.monotonic() + timeout_s
        next_tick = 0.0
        while len(results) < len(self.specs):
            now = time.monotonic()
            if on_tick and now >= next_tick:
                on_tick()
                next_tick = now + 1.0
            if now > deadline:
                self.partial = list(results.values())
                missing = sorted(set(range(len(self.specs))) - set(results))
                raise WorkerError(
                    f"phase {phase}: timed out after {timeout_s:g} s waiting for worker(s) {missing} "
                    f"(raise timeouts.phase_s or the phase's timeout_s)"
                )
            try:
                message = self.queue.get(timeout=POLL_S)
            except queue_module.Empty:
                if self.deaths:
                    self.partial = list(results.values())
                    raise self.failure(phase, "a worker exited") from None
                continue
            if message["kind"] == "error":
                self.errors.append(message)
                self.partial = list(results.values())
                raise self.failure(phase, message["message"])
            results[message["worker"]] = message
        return [results[w] for w in sorted(results)]

    def failure(self, phase: str, fallback: str) -> WorkerError:
        """The most telling explanation: a worker's own error message, else how a worker died."""
        self.stop_event.set()
        self.barrier.abort()
        deadline = time.monotonic() + 1.0
        while not self.errors and time.monotonic() < deadline:
            try:
                message = self.queue.get(timeout=POLL_S)
            except queue_module.Empty:
                continue
            if message["kind"] == "error":
                self.errors.append(message)
            elif message["phase"] == phase:
                self.partial.append(message)
        if self.errors:
            first = self.errors[0]
            return WorkerError(f"worker {first['worker']} failed in phase {first['phase']}: {first['message']}")
        if self.deaths:
            number, code = sorted(self.deaths.items())[0]
            return WorkerError(f"worker {number} {describe_exit(code)} during phase {phase}")
        return WorkerError(f"phase {phase}: {fallback}")

    # ------------------------------------------------------------------ shutdown
    def shutdown(self) -> list[str]:
        """Stop and reap every worker in bounded time: ask, then SIGTERM, then SIGKILL. Returns notes."""
        self._closing.set()
        self.stop_event.set()
        self.barrier.abort()
        notes = []
        deadline = time.monotonic() + self.shutdown_s
        for process in self.processes:
            if process.pid is not None:
                process.join(timeout=max(0.0, deadline - time.monotonic()))
        for process in self.processes:
            if process.pid is not None and process.is_alive():
                process.terminate()
                process.join(timeout=1)
            if process.pid is not None and process.is_alive():
                process.kill()
                process.join(timeout=5)
                notes.append(f"{process.name} (pid {process.pid}) had to be killed")
            if process.pid is not None:
                staging.remove_leftovers(process.pid)
        self._supervisor.join(timeout=2)
        self.queue.close()
        self.queue.cancel_join_thread()  # the workers are gone; never block on unread data
        return notes
