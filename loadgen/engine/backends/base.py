"""What the coordinator does with the workers of one repetition, wherever they run: start them, release each phase
together, collect every worker's result (supervising them meanwhile), end a phase early, and stop and reap them.

The receiving is the same for every backend: the coordinator waits for one kind of message from every worker
(Ready at a barrier, Result at a phase's end) while ticking (progress line, hyperd's log, abort thresholds),
passes Intervals on and answers Gathers; a worker's Failure, its death or the deadline end the wait with a
WorkerError that names the first cause. A backend says how it waits (pipes and process sentinels, or TCP links
and Ray's word on its actors), how it sends, and how it stops and reaps its workers.
"""

import time

from loadgen.engine import protocol
from loadgen.engine.worker import PROGRESS_SLOTS
from loadgen.errors import WorkerError

POLL_S = 0.1
TICK_S = 0.5  # progress line and hyperd log polling
DRAIN_S = 0.25  # after a failure, how long to listen for the first worker's own error message


class Backend:
    """The workers of one repetition. Subclasses implement the hooks below; the rest is shared."""

    closed_cause = "its connection closed"  # what a worker's closed connection says about its death

    def __init__(self, specs: list, barrier_s: float, stop_s: float, staging_dirs=()):
        self.specs = specs
        self.barrier_s = barrier_s
        self.stop_s = stop_s
        self.staging_dirs = list(staging_dirs)  # configured folders where a killed worker's staged files may be
        self.progress = [0] * (PROGRESS_SLOTS * len(specs))  # rows, operations, errors, rows in flight, sessions
        self.errors: list[protocol.Failure] = []  # the workers' own failures, first one first
        self.deaths: dict[int, object] = {}  # worker → how it ended (an exit code, or None when unknown)
        self.causes: dict[int, str] = {}  # worker → what the backend knows about its death
        self.partial: list[protocol.Result] = []  # results of the phase that failed or was stopped
        self.seen: dict[tuple[str, int], protocol.Result] = {}  # every result read: (phase, worker) → result
        self.running_phase = ""  # the phase released and not collected yet, whose results may come in late
        self.on_interval = None  # called with each worker's finished interval of the running phase
        self.on_restart = None  # called with a worker's Restart (cache: cold); returns the Restarted to send back
        self.sampler = None  # the coordinator's Sampler (a backend whose workers sample themselves adds to it)
        self._gathers: dict[tuple[str, int], dict[int, object]] = {}

    # ------------------------------------------------------------------ hooks
    def start(self) -> None:
        """Start every worker; each connects to hyperd and waits at the first barrier."""
        raise NotImplementedError

    def pids(self) -> dict[int, int]:
        """Worker → pid of the processes the coordinator's sampler should watch (none for remote workers)."""
        raise NotImplementedError

    def finish_phase(self) -> None:
        """End the running phase early: the workers finish their operations and report what they measured."""
        raise NotImplementedError

    def shutdown(self) -> list[str]:
        """Stop and reap every worker in bounded time; returns notes for the final output."""
        raise NotImplementedError

    def kill_all(self) -> None:
        """A second signal: kill every worker at once, no waiting."""
        raise NotImplementedError

    def _send(self, number: int, message) -> bool:
        """Send to one worker; False when its connection is gone."""
        raise NotImplementedError

    def _stop_workers(self) -> None:
        """Tell every worker to stop (the stop flag)."""
        raise NotImplementedError

    def _wait_step(self, pending: list[int], got: dict, phase: str, kind: type, wait_s: float) -> None:
        """Wait up to wait_s for the pending workers; take what came (self._take); note a death and raise
        self.failure(phase) for a worker that ended without the awaited message."""
        raise NotImplementedError

    def _link(self, number: int):
        """The worker's connection (None before it has one)."""
        raise NotImplementedError

    def _note_death(self, number: int, cause: str = "") -> None:
        raise NotImplementedError

    def _first_death(self) -> int:
        """The worker whose death names the failure."""
        return next(iter(self.deaths))

    def death_text(self, number: int, phase: str) -> str:
        raise NotImplementedError

    def where(self, number: int) -> str:
        """Where a worker ran, as failure messages add it after its number ('' on this machine)."""
        return ""

    def name_workers(self, numbers: list[int]) -> str:
        """Workers as messages name them."""
        return str(numbers)

    def _go(self, phase: str) -> tuple[int, protocol.Go]:
        """The release time and the message that releases the phase."""
        released = time.perf_counter_ns()
        return released, protocol.Go(phase, released)

    def _at_barrier(self) -> None:
        """Every worker has reached a barrier (before the go)."""

    def _on_message(self, number: int, message) -> None:
        """A message of the backend's own kinds (an actor's progress or samples)."""

    # ------------------------------------------------------------------ phases
    def progress_totals(self) -> tuple[int, int, int, list[int], int]:
        """Rows, operations and errors so far in the running phase over all workers, each worker's operations, and
        the active sessions."""
        values = list(self.progress)
        n = PROGRESS_SLOTS
        rows = sum(values[0::n]) + sum(values[3::n])
        return rows, sum(values[1::n]), sum(values[2::n]), values[1::n], sum(values[4::n])

    def release(self, phase: str, on_tick=None) -> int:
        """The start barrier: wait until every worker is ready, then let them all go. Returns the release time."""
        self.running_phase = ""
        self._receive(phase, protocol.Ready, self.barrier_s, on_tick, "reach the start barrier")
        self._at_barrier()
        # every worker waits for "go" now and writes nothing: the new phase's counters start at zero, so the
        # first progress line never shows the previous phase's
        self.progress[:] = [0] * len(self.progress)
        released, go = self._go(phase)
        self.running_phase = phase
        for number in range(len(self.specs)):
            if not self._send(number, go):
                self._note_death(number, "its connection closed")
        if self.deaths:
            raise self.failure(phase)
        return released

    def collect(self, phase: str, timeout_s: float, on_tick=None) -> list[protocol.Result]:
        """The result of every worker for this phase, or a WorkerError; never waits past timeout_s."""
        results = self._receive(phase, protocol.Result, timeout_s, on_tick, "finish")
        self.running_phase = ""
        return [results[w] for w in sorted(results)]

    def results_of(self, phase: str) -> list[protocol.Result]:
        return [message for (name, _), message in sorted(self.seen.items()) if name == phase]

    def _receive(self, phase: str, kind: type, timeout_s: float, on_tick, doing: str) -> dict:
        got: dict = {}
        try:
            return self._receive_into(got, phase, kind, timeout_s, on_tick, doing)
        except WorkerError:
            if kind is protocol.Result:  # what the workers that finished did measure, and those stopped meanwhile
                self.partial = self.results_of(phase)
            raise

    def _receive_into(self, got: dict, phase: str, kind: type, timeout_s: float, on_tick, doing: str) -> dict:
        """Until every worker's `kind` message is in `got`: ticks, the deadline, and one wait step at a time."""
        deadline = time.monotonic() + timeout_s
        next_tick = 0.0
        while len(got) < len(self.specs):
            now = time.monotonic()
            if on_tick and now >= next_tick:
                on_tick()
                next_tick = now + TICK_S
            if now > deadline:
                missing = sorted(set(range(len(self.specs))) - set(got))
                where = self.name_workers(missing)
                raise self.failure(phase, f"worker(s) {where} did not {doing} within {timeout_s:g} s")
            pending = [n for n in range(len(self.specs)) if n not in got and n not in self.deaths]
            self._wait_step(pending, got, phase, kind, min(POLL_S, max(0.0, deadline - now)))
        return got

    def _take(self, number: int, phase: str, kind: type, got: dict) -> None:
        """Read one message from a worker: keep the awaited one, turn a failure into a WorkerError."""
        message = self._recv(number)
        if message is None or isinstance(message, protocol.Failure):  # None: its connection closed, it is gone
            raise self.failure(phase)
        if isinstance(message, protocol.Interval):
            if self.on_interval is not None and message.phase == phase:
                self.on_interval(message)
        elif isinstance(message, protocol.Gather):
            self._gather(message)
        elif isinstance(message, protocol.Restart):
            self._restart(number, message)
        elif isinstance(message, kind) and message.phase == phase:
            got[number] = message

    def _recv(self, number: int):
        try:
            message = self._link(number).recv()
        except (EOFError, OSError):
            self._note_death(number, self.closed_cause)
            return None
        if isinstance(message, protocol.Failure):
            self.errors.append(message)
        elif isinstance(message, protocol.Result):
            self.seen[(message.phase, number)] = message
        elif isinstance(message, protocol.Lost):  # the worker is gone (its node was lost): a death, with its cause
            self._note_death(number, message.cause)
            return None
        else:
            self._on_message(number, message)
        return message

    def _gather(self, message: protocol.Gather) -> None:
        """A worker's share of an exchange; once every worker's share is in, each gets them all."""
        shares = self._gathers.setdefault((message.phase, message.round), {})
        shares[message.worker] = message.value
        if len(shares) == len(self.specs):
            del self._gathers[(message.phase, message.round)]
            done = protocol.Gathered(message.phase, message.round, [shares[w] for w in sorted(shares)])
            for number in range(len(self.specs)):
                self._send(number, done)

    def _restart(self, number: int, message: protocol.Restart) -> None:
        """A fresh hyperd for the worker that asked (its connections are closed). The restart runs here, on the
        coordinator's main thread, where a signal ends it like any other step of the phase."""
        if self.on_restart is None:
            reply = protocol.Restarted(message.phase, error="this run cannot restart hyperd")
        else:
            reply = self.on_restart(message)
        self._send(number, reply)

    def _drain(self, number: int) -> None:
        """Read what a worker sent before it exited (its failure, if any)."""
        link = self._link(number)
        try:
            while link is not None and link.poll(0):
                if self._recv(number) is None:
                    return
        except (EOFError, OSError):
            return

    # ------------------------------------------------------------------ failures
    def failure(self, phase: str, cause: str = "") -> WorkerError:
        """Stop everyone, then name the cause: the first worker's own error, else the cause the caller saw (a
        timeout), else how the first worker died. Workers that exit because they were told to stop are no cause."""
        self._stop_workers()
        self._await_first_error()
        if self.errors:
            first = self.errors[0]
            error = WorkerError(
                f"worker {first.worker}{self.where(first.worker)} failed in phase {first.phase}: {first.message}"
            )
            error.exit_code = first.exit_code  # 2 for a limit to raise (LimitError)
            return error
        if cause:
            return WorkerError(f"phase {phase}: {cause}")
        if self.deaths:
            return WorkerError(self.death_text(self._first_death(), phase))
        return WorkerError(f"phase {phase}: a worker stopped")

    def _await_first_error(self) -> None:
        """Listen for DRAIN_S for a worker's own error message: it names the cause better than its exit does."""
        deadline = time.monotonic() + DRAIN_S
        while not self.errors and time.monotonic() < deadline:
            for number in range(len(self.specs)):
                self._drain(number)
            time.sleep(0.02)
