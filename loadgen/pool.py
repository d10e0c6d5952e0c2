"""Worker processes: spawn, start each phase together, supervise, collect, and always reap.

Why pipes and not multiprocessing.Barrier/Event: their Condition makes a notifier wait for every sleeper to
acknowledge, so one worker killed while waiting hangs the coordinator forever. Here each worker has its own
pipe. The start barrier is: every worker sends "ready", then the coordinator sends "go" to all. The coordinator
waits on the pipes and the process sentinels together, so a worker that raises (an "error" message) or dies
(its sentinel) is noticed at once, whatever step it was in. The stop flag and progress counters are lock-free
shared memory, so a dying process can never leave a lock held.

No tableauhyperapi here: workers open their own connections.
"""

import multiprocessing as mp
import time
from multiprocessing.connection import wait as wait_for_ready

from loadgen import staging, worker
from loadgen.errors import WorkerError, describe_exit

POLL_S = 0.1
TICK_S = 0.5  # progress line and hyperd log polling
DRAIN_S = 0.25  # after a failure, how long to listen for the first worker's own error message


class WorkerPool:
    def __init__(self, specs: list, barrier_s: float, stop_s: float, staging_dirs=(), target=worker.main):
        ctx = mp.get_context("spawn")  # never fork: a forked child can keep hyperd alive after we die
        self.specs = specs
        self.barrier_s = barrier_s
        self.stop_s = stop_s
        self.staging_dirs = list(staging_dirs)  # configured folders where a killed worker's staged files may be
        self.stop_flag = worker.StopFlag(ctx.RawValue("b", 0))
        # one writer per slot (rows done, operations done), read approximately for progress: no lock needed
        self.progress = ctx.RawArray("q", worker.PROGRESS_SLOTS * len(specs))
        self.links = []
        self._child_ends = []
        self.processes = []
        for spec in specs:
            mine, theirs = ctx.Pipe(duplex=True)
            self.links.append(mine)
            self._child_ends.append(theirs)
            self.processes.append(
                ctx.Process(
                    target=target,  # worker.main; a test passes a stand-in that needs no hyperd
                    args=(spec, theirs, self.stop_flag.raw, self.progress),
                    name=f"loadgen-worker-{spec.worker}",
                )
            )
        self.errors: list[dict] = []  # error messages from workers, first one first
        self.deaths: dict[int, int] = {}  # worker → exit code, for exits nobody asked for
        self.partial: list[dict] = []  # results of the phase that failed or was stopped: what was measured
        self.seen: dict[tuple[str, int], dict] = {}  # every result read: (phase, worker) → message
        self.running_phase = ""  # the phase released and not collected yet, whose results may come in late
        self.on_interval = None  # called with each worker's finished interval of the running phase

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        # the first barrier's deadline, as release() will count it (a little later): a worker's connecting ends
        # before it and says why, instead of the coordinator's "did not reach the start barrier"
        first_barrier_by = time.monotonic() + self.barrier_s
        for spec in self.specs:
            spec.first_barrier_by = first_barrier_by
        for process in self.processes:
            process.start()
        for end in self._child_ends:
            end.close()  # only the worker holds its end now, so its death reads as EOF here

    def pids(self) -> dict[int, int]:
        return {spec.worker: p.pid for spec, p in zip(self.specs, self.processes, strict=True)}

    def progress_totals(self) -> tuple[int, int, int, list[int], int]:
        """Rows, operations and errors so far in the running phase over all workers, each worker's operations, and
        the active sessions."""
        values = list(self.progress)
        n = worker.PROGRESS_SLOTS
        rows = sum(values[0::n]) + sum(values[3::n])
        return rows, sum(values[1::n]), sum(values[2::n]), values[1::n], sum(values[4::n])

    def finish_phase(self) -> None:
        """End the running phase early: the workers finish their operations and report what they measured."""
        worker.StopFlag(self.stop_flag.raw, worker.FINISH).set()

    # ------------------------------------------------------------------ phases
    def release(self, phase: str, on_tick=None) -> int:
        """The start barrier: wait until every worker is ready, then let them all go. Returns the release time."""
        self.running_phase = ""
        self._receive(phase, "ready", self.barrier_s, on_tick, "reach the start barrier")
        # every worker waits for "go" now and writes nothing: the new phase's counters start at zero, so the
        # first progress line never shows the previous phase's
        self.progress[:] = [0] * len(self.progress)
        released = time.perf_counter_ns()
        self.running_phase = phase
        for number, link in enumerate(self.links):
            try:
                link.send({"kind": "go", "phase": phase, "released_ns": released})
            except OSError:
                self._note_death(number)
        if self.deaths:
            raise self.failure(phase)
        return released

    def collect(self, phase: str, timeout_s: float, on_tick=None) -> list[dict]:
        """The result of every worker for this phase, or a WorkerError; never waits past timeout_s."""
        results = self._receive(phase, "result", timeout_s, on_tick, "finish")
        self.running_phase = ""
        return [results[w] for w in sorted(results)]

    def _receive(self, phase: str, kind: str, timeout_s: float, on_tick, doing: str) -> dict[int, dict]:
        got: dict[int, dict] = {}
        try:
            return self._receive_into(got, phase, kind, timeout_s, on_tick, doing)
        except WorkerError:
            if kind == "result":  # what the workers that finished did measure, and those stopped meanwhile
                self.partial = self.results_of(phase)
            raise

    def results_of(self, phase: str) -> list[dict]:
        return [message for (name, _), message in sorted(self.seen.items()) if name == phase]

    def _receive_into(self, got: dict, phase: str, kind: str, timeout_s: float, on_tick, doing: str) -> dict:
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
            # only the workers still owed a message: a finished worker's sentinel stays readable once it exits
            # (normal after its last phase), and waiting on it would spin
            pending = [n for n in range(len(self.specs)) if n not in got and n not in self.deaths]
            self._wait_step(pending, got, phase, kind, min(POLL_S, max(0.0, deadline - now)))
        return got

    def name_workers(self, numbers: list[int]) -> str:
        """Workers as messages name them."""
        return str(numbers)

    def _wait_step(self, pending: list[int], got: dict, phase: str, kind: str, wait_s: float) -> None:
        """Wait up to wait_s for the pending workers' pipes or exits; take what came, turn an exit into a failure."""
        sentinels = {self.processes[n].sentinel: n for n in pending}
        links = {id(self.links[n]): n for n in pending}
        waiting = [self.links[n] for n in pending] + list(sentinels)
        for ready in wait_for_ready(waiting, timeout=wait_s):
            if ready not in sentinels:  # pipes first: a worker's last message explains its exit
                self._take(links[id(ready)], phase, kind, got)
        for number in pending:
            if number not in self.deaths and number not in got and self._exited(number):
                while number not in got and number not in self.deaths and self.links[number].poll(0):
                    self._take(number, phase, kind, got)  # what it sent before it exited
                if number not in got:
                    self._note_death(number)
                    raise self.failure(phase)

    def _take(self, number: int, phase: str, kind: str, got: dict) -> None:
        """Read one message from a worker: keep the awaited one, turn an error into a failure."""
        message = self._recv(number)
        if message is None or message["kind"] == "error":  # None: its pipe closed, the worker is gone
            raise self.failure(phase)
        if message["kind"] == "interval":
            if self.on_interval is not None and message["phase"] == phase:
                self.on_interval(message)
        elif message["kind"] == kind and message["phase"] == phase:
            got[number] = message

    def _exited(self, number: int) -> bool:
        """Whether a worker's process has ended: its sentinel is readable. Unlike is_alive(), this holds even
        if something else in the process already reaped the child."""
        return bool(wait_for_ready([self.processes[number].sentinel], timeout=0))

    def _recv(self, number: int) -> dict | None:
        try:
            message = self.links[number].recv()
        except (EOFError, OSError):
            self._note_death(number)
            return None
        if message["kind"] == "error":
            self.errors.append(message)
        elif message["kind"] == "result":
            self.seen[(message["phase"], number)] = message
        return message

    def _drain(self, number: int) -> None:
        """Read what a worker sent before it exited (its error message, if any)."""
        link = self.links[number]
        try:
            while link.poll(0):
                if self._recv(number) is None:
                    return
        except (EOFError, OSError):
            return

    def _read_until_exit(self, deadline: float) -> None:
        """Until every worker has exited, or the deadline: read what they send as they stop (a stopped phase's
        result: what it measured), so that none blocks on a full pipe and nothing measured is lost."""
        started = [n for n, process in enumerate(self.processes) if process.pid is not None]
        while True:
            for number in started:
                self._drain(number)
            alive = [n for n in started if not self._exited(n)]
            left = deadline - time.monotonic()
            if not alive or left <= 0:
                return
            waiting = [self.links[n] for n in alive] + [self.processes[n].sentinel for n in alive]
            wait_for_ready(waiting, timeout=min(POLL_S, left))

    def _note_death(self, number: int) -> None:
        process = self.processes[number]
        process.join(timeout=1)
        self.deaths.setdefault(number, process.exitcode)

    def failure(self, phase: str, cause: str = "") -> WorkerError:
        """Stop everyone, then name the cause: the first worker's own error, else the cause the caller saw
        (a timeout), else how a worker died. Workers that exit because they were told to stop are no cause."""
        self.stop_flag.set()
        self._await_first_error()
        if self.errors:
            first = self.errors[0]
            error = WorkerError(f"worker {first['worker']} failed in phase {first['phase']}: {first['message']}")
            error.exit_code = first.get("exit_code", error.exit_code)  # 2 for a limit to raise (LimitError)
            return error
        if cause:
            return WorkerError(f"phase {phase}: {cause}")
        crashes = {n: c for n, c in self.deaths.items() if c != worker.EXIT_ABORTED} or self.deaths
        if crashes:
            number, code = sorted(crashes.items())[0]
            return WorkerError(f"worker {number} {describe_exit(code)} during phase {phase}")
        return WorkerError(f"phase {phase}: a worker stopped")

    def _await_first_error(self) -> None:
        """Listen for DRAIN_S for a worker's own error message: it names the cause better than its exit does."""
        deadline = time.monotonic() + DRAIN_S
        while not self.errors and time.monotonic() < deadline:
            for number in range(len(self.links)):
                self._drain(number)
            time.sleep(0.02)

    # ------------------------------------------------------------------ shutdown
    def shutdown(self) -> list[str]:
        """Stop and reap every worker in bounded time: ask, then SIGTERM, then SIGKILL. Returns notes."""
        self.stop_flag.set()
        for link in self.links:
            try:
                link.send({"kind": "stop"})
            except OSError:
                pass
        notes = []
        self._read_until_exit(time.monotonic() + self.stop_s)
        if self.running_phase:  # stopped in the middle of a phase: what each worker measured until then
            self.partial = self.results_of(self.running_phase)
        for process in self.processes:
            if process.pid is not None and process.is_alive():
                process.terminate()
                process.join(timeout=1)
            if process.pid is not None and process.is_alive():
                process.kill()
                process.join(timeout=5)
                notes.append(f"{process.name} (pid {process.pid}) did not stop and was killed")
            if process.pid is not None:
                staging.remove_leftovers(process.pid, self.staging_dirs)
        for link in self.links:
            link.close()
        return notes
