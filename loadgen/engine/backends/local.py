"""backend: local — one process per worker on this machine: spawn, start each phase together, supervise, collect,
and always reap.

Why pipes and not multiprocessing.Barrier/Event: their Condition makes a notifier wait for every sleeper to
acknowledge, so one worker killed while waiting hangs the coordinator forever. Here each worker has its own
pipe. The start barrier is: every worker sends Ready, then the coordinator sends Go to all. The coordinator waits
on the pipes and the process sentinels together, so a worker that raises (a Failure) or dies (its sentinel) is
noticed at once, whatever step it was in. The stop flag and progress counters are lock-free shared memory, so a
dying process can never leave a lock held.

No tableauhyperapi here: workers open their own connections.
"""

import contextlib
import multiprocessing as mp
import time
from multiprocessing.connection import wait as wait_for_ready

from loadgen.engine import protocol, worker
from loadgen.engine.backends.base import POLL_S, Backend
from loadgen.errors import describe_exit
from loadgen.transfer import staging


class LocalBackend(Backend):
    def __init__(self, specs: list, barrier_s: float, stop_s: float, staging_dirs=(), target=worker.main):
        super().__init__(specs, barrier_s, stop_s, staging_dirs)
        ctx = mp.get_context("spawn")  # never fork: a forked child can keep hyperd alive after we die
        self.stop_flag = worker.StopFlag(ctx.RawValue("b", 0))
        # one writer per slot (rows done, operations done, …), read approximately for progress: no lock needed
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

    def finish_phase(self) -> None:
        worker.StopFlag(self.stop_flag.raw, worker.FINISH).set()

    def _stop_workers(self) -> None:
        self.stop_flag.set()

    def _send(self, number: int, message) -> bool:
        try:
            self.links[number].send(message)
            return True
        except OSError:
            return False

    def _link(self, number: int):
        return self.links[number]

    # ------------------------------------------------------------------ supervision
    def _wait_step(self, pending: list[int], got: dict, phase: str, kind: type, wait_s: float) -> None:
        """Wait up to wait_s for the pending workers' pipes or exits; take what came, turn an exit into a failure.
        Only the workers still owed a message are waited on: a finished worker's sentinel stays readable once it
        exits (normal after its last phase), and waiting on it would spin."""
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

    def _exited(self, number: int) -> bool:
        """Whether a worker's process has ended: its sentinel is readable. Unlike is_alive(), this holds even
        if something else in the process already reaped the child."""
        return bool(wait_for_ready([self.processes[number].sentinel], timeout=0))

    def _note_death(self, number: int, cause: str = "") -> None:
        process = self.processes[number]
        process.join(timeout=1)
        self.deaths.setdefault(number, process.exitcode)

    def _first_death(self) -> int:
        """The first worker (by number) that crashed; workers that exited because they were told to stop are no
        cause."""
        crashes = {n: c for n, c in self.deaths.items() if c != worker.EXIT_ABORTED} or self.deaths
        return sorted(crashes)[0]

    def death_text(self, number: int, phase: str) -> str:
        return f"worker {number} {describe_exit(self.deaths[number])} during phase {phase}"

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

    # ------------------------------------------------------------------ shutdown
    def shutdown(self) -> list[str]:
        """Ask, then SIGTERM, then SIGKILL; remove what a killed worker staged."""
        self.stop_flag.set()
        for number in range(len(self.links)):
            self._send(number, protocol.Stop())
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

    def kill_all(self) -> None:
        processes = [p for p in self.processes if p.pid]
        for process in processes:
            with contextlib.suppress(Exception):
                process.kill()
        for process in processes:
            with contextlib.suppress(Exception):
                process.join(timeout=1)
                staging.remove_leftovers(process.pid, self.staging_dirs)
