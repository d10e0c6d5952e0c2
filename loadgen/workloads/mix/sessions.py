"""Many concurrent sessions in one worker process: one asyncio event loop, one psycopg AsyncConnection per session.

Why asyncio + psycopg and not threads over tableauhyperapi: bound parameters and prepared statements exist only
over the PostgreSQL protocol (tableauhyperapi has no parameter API), and one event loop ramps hundreds of
sessions up and down without a thread each. Measured on this machine (SELECT 1, 64 sessions, one process):
psycopg async 1,800 ops/s and 52 MiB, tableauhyperapi threads 2,250 ops/s and 32 MiB (docs/design.md).

Closed load: each active session runs operations back to back with its think time; stages change how many
sessions are active (a session told to rest finishes its operation first, like k6's ramping VUs).
Open load: arrivals at the target rate (constant or staged) go to an idle session; an arrival that finds every
session busy waits for one (`queued_ops`) and its latency is measured from its intended start, so a stalled
server shows up as latency instead of silently lowering the load.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from dataclasses import dataclass, field

from loadgen import limits
from loadgen.errors import LimitError
from loadgen.workloads.contract import FROM_INTENDED_SUFFIX
from loadgen.workloads.mix.config import LATE_MS

TICK_S = 0.1  # targets, gauges, interval reports and the stop flag are looked at this often

ARRIVAL_STEP_S = 0.005  # a staged rate is integrated in steps this long
END_GRACE_S = 30.0  # at the end, operations still running get this long to finish (k6's gracefulStop)
# Connects in flight per worker. hyperd's Unix-socket listen backlog holds 128 connects: every session connecting at
# once overflows it (EAGAIN). 32 per worker keeps four workers inside it, and more in flight connect no faster
# (10,000 sessions on 2 cores: ~1,700/s with 32 at a time, ~1,000/s all at once with retries).
CONNECT_CONCURRENCY = 32
RETRY_FIRST_S = 0.005  # the first pause after a refused connect; it doubles up to RETRY_MAX_S, with jitter
RETRY_MAX_S = 0.25
CLOSE_ON_LIMIT_S = 0.5  # closing the sessions made, when a limit stopped the connecting (see open_all)


@dataclass
class Stage:
    duration_s: float
    target: float  # this worker's target at the stage's end: active sessions, or operations/s


class Targets:
    """A target over time: linear ramps between stage ends (from `start` at t=0), then the last value held."""

    def __init__(self, stages: list[Stage], start: float = 0.0):
        self.stages = stages
        self.start = start

    def at(self, t_s: float) -> float:
        before, elapsed = self.start, 0.0
        for stage in self.stages:
            if t_s < elapsed + stage.duration_s:
                return before + (stage.target - before) * (t_s - elapsed) / stage.duration_s
            before, elapsed = stage.target, elapsed + stage.duration_s
        return before

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.stages)


def deal(total: float, workers: int, worker: int) -> int:
    """This worker's whole sessions of a phase-wide count: the first workers take the remainder."""
    whole = int(round(total))
    return whole // workers + (worker < whole % workers)


@dataclass
class Session:
    number: int
    plan: object  # mix.OperationPlan
    binder: object  # operations.Binder
    connection: object = None
    _cursor: object = None

    def cursor(self):
        """One cursor per connection, reused: a new cursor per statement costs more than a SELECT 1's client work."""
        if self._cursor is None or self._cursor.connection is not self.connection:
            self._cursor = self.connection.cursor()
        return self._cursor


@dataclass
class Counters:
    started: int = 0
    late: int = 0
    queued: int = 0
    max_late_ns: int = 0
    done: int = 0


@dataclass
class Drive:
    """How this worker's load is driven in one run of the loop."""

    sessions_target: Targets | None = None  # closed load with stages: active sessions in total over time
    rate_target: Targets | None = None  # open load: operations/s in total over time
    share: object = None  # phase-wide target -> this worker's (sessions dealt out, a rate divided)
    arrivals: str = "poisson"
    deadline_ns: int | None = None
    iterations: int | None = None
    suffix: str = ""
    counters: Counters = field(default_factory=Counters)


class SessionPool:
    """The sessions of one worker. `execute(session, op)` runs an operation and returns its rows; it raises
    `errors` types for failures that count against the operation, anything else ends the phase."""

    def __init__(
        self,
        sessions: list[Session],
        connect,
        execute,
        errors: tuple,
        stop,
        finish,
        connect_per_op=False,
        connect_timeout_s: float = 5.0,
        refused=lambda exc: None,
        concurrency: int = CONNECT_CONCURRENCY,
    ):
        self.sessions = sessions
        self.connect = connect  # coroutine function (timeout_s) -> connection: one attempt
        self.execute = execute
        self.errors = errors
        self.stop = stop  # the coordinator's stop flag (run ending) and finish flag (end this phase now)
        self.finish = finish
        self.connect_per_op = connect_per_op
        self.connect_timeout_s = connect_timeout_s  # each session's connect, retries included
        self.refused = refused  # exception -> why the server refused for now (worth a retry), or None
        self.concurrency = concurrency
        self.retries = 0  # refused connects tried again
        self.connect_s = 0.0  # how long open_all took
        self.active = 0  # sessions running an operation now
        self.awake = 0  # closed load: sessions not resting (running an operation or thinking), k6's active VUs
        self.target = 0.0

    # --------------------------------------------------------------------------------------- connecting
    async def open_all(self, stage_s: float) -> None:
        """Connect every session, `concurrency` at a time, each within connect_timeout_s (refusals retried), all
        within stage_s (the time left before the start barrier). A limit that stops it raises LimitError with the
        numbers; the connections made are closed then."""
        if self.connect_per_op:
            return
        started = time.monotonic()
        waiting = iter(self.sessions)  # shared by the openers: each session is taken by one of them

        async def opener():
            for session in waiting:
                session.connection = await self._open()

        openers = [asyncio.ensure_future(opener()) for _ in range(min(self.concurrency, len(self.sessions)))]
        done, pending = await asyncio.wait(openers, timeout=max(stage_s, 0), return_when=asyncio.FIRST_EXCEPTION)
        for task in pending:
            task.cancel()
        if pending:  # a cancelled connect ends at once; bounded all the same, the limit must reach the coordinator
            await asyncio.wait(pending, timeout=CLOSE_ON_LIMIT_S)
        self.connect_s = time.monotonic() - started
        failure = next((t.exception() for t in done if not t.cancelled() and t.exception() is not None), None)
        if failure is None and not pending:
            return
        connected = self.connected()
        # what stopped the connecting is the error to report, and it must reach the coordinator before its barrier
        # times out: closing is bounded short (a worker that ends closes what is left with its process)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.close_all(), min(self.connect_timeout_s, CLOSE_ON_LIMIT_S))
        if failure is not None:
            raise failure
        need_s = self.connect_s * len(self.sessions) / max(connected, 1)
        raise LimitError(
            f"{connected:,} of {len(self.sessions):,} sessions connected in {self.connect_s:.1f} s, the time left "
            f"before the start barrier: raise timeouts.barrier_s (all of them would take about {need_s:.0f} s at "
            "this pace) or lower sessions"
        )

    def connected(self) -> int:
        return sum(s.connection is not None for s in self.sessions)

    async def _open(self):
        """One session's connection, for open_all: open files or time that run out become a LimitError."""
        try:
            return await self.connect_retrying()
        except (*self.errors, TimeoutError) as exc:
            total, connected = len(self.sessions), self.connected()
            if limits.out_of_files():
                soft, hard = limits.current()
                raise LimitError(
                    f"out of open files after {connected:,} of {total:,} sessions connected: the limit (ulimit -n) "
                    f"is {soft:,} (hard {hard:,}); raise it to about {limits.open_now() + total - connected:,} "
                    "or lower sessions"
                ) from None
            why = self.refused(exc)
            if why is None and not timed_out(exc):
                raise  # not a limit: a wrong password, a missing database, a server that is gone
            raise LimitError(
                f"a session did not connect within server.connect_timeout_s = {self.connect_timeout_s:g} s (last "
                f"attempt: {why or 'no answer'}; {self.retries:,} refused connects retried); {connected:,} of "
                f"{total:,} sessions were connected: raise server.connect_timeout_s or lower sessions"
                + ("" if why else " (a hyperd at its open-files limit stops answering, too)")
            ) from None

    async def connect_retrying(self):
        """A connection within connect_timeout_s. A refused connect (a full listen backlog) is tried again after a
        pause that doubles, with jitter so that sessions refused together do not return together. When the time
        runs out, the last refusal (or TimeoutError) is raised."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.connect_timeout_s
        pause = RETRY_FIRST_S
        while True:
            left = deadline - loop.time()
            try:
                return await asyncio.wait_for(self.connect(left), left)
            except self.errors as exc:
                if self.refused(exc) is None or loop.time() + pause >= deadline:
                    raise
            self.retries += 1
            await asyncio.sleep(random.uniform(pause / 2, pause))
            pause = min(pause * 2, RETRY_MAX_S)

    async def close_all(self) -> None:
        await asyncio.gather(
            *(s.connection.close() for s in self.sessions if s.connection is not None), return_exceptions=True
        )
        for s in self.sessions:
            s.connection = None

    # --------------------------------------------------------------------------------------- one operation
    async def run_op(self, session: Session, op: str, recorder, drive: Drive, intended_ns: int | None) -> None:
        start = time.perf_counter_ns()
        if intended_ns is not None and not drive.suffix:
            late = start - intended_ns
            drive.counters.max_late_ns = max(drive.counters.max_late_ns, late)
            drive.counters.late += late > LATE_MS * 1_000_000
        name = op + drive.suffix
        try:
            if self.connect_per_op:
                session.connection = await self.connect_retrying()
            try:
                rows = await self.execute(session, op)
            finally:
                if self.connect_per_op and session.connection is not None:
                    await session.connection.close()
                    session.connection = None
            end = time.perf_counter_ns()
            recorder.record(name, end - start, rows)
            if intended_ns is not None:
                recorder.record(op + FROM_INTENDED_SUFFIX + drive.suffix, end - intended_ns)
        except self.errors as exc:
            if session.connection is not None and session.connection.broken:
                raise  # the connection is gone (server down): not one failed operation, the end of the phase
            recorder.error(name, (str(exc).strip().splitlines() or [type(exc).__name__])[0])
        drive.counters.done += 1

    # --------------------------------------------------------------------------------------- the loop
    async def run(self, recorder, drive: Drive) -> None:
        """Run operations until the deadline, the iteration count, the finish flag or the stop flag."""
        self.ending = asyncio.Event()
        self.wake = asyncio.Condition()
        self.origin_ns = time.perf_counter_ns()
        self.in_flight = set()
        ticker = asyncio.create_task(self._tick(recorder, drive))
        if drive.rate_target is not None:
            workers = [asyncio.create_task(self._dispatch(recorder, drive))]
        else:
            workers = [asyncio.create_task(self._closed(s, recorder, drive)) for s in self.sessions]
        try:
            done, _ = await asyncio.wait([ticker, *workers], return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()
        finally:
            tasks = [ticker, *workers, *self.in_flight]
            for task in tasks:
                task.cancel()
            # bounded: cancelling a statement on a frozen server must not keep the worker from exiting
            await asyncio.wait(tasks, timeout=1)
            self.active = self.awake = 0
            recorder.idle()

    def _elapsed_s(self) -> float:
        return (time.perf_counter_ns() - self.origin_ns) / 1e9

    def _over(self, drive: Drive) -> bool:
        if self.stop.is_set() or self.finish.is_set():
            return True
        if drive.deadline_ns is not None and time.perf_counter_ns() >= drive.deadline_ns:
            return True
        return drive.iterations is not None and drive.counters.started >= drive.iterations

    async def _tick(self, recorder, drive: Drive) -> None:
        """Targets and gauges every TICK_S; ends the loop when it is over (waiting for running operations)."""
        while True:
            if self.stop.is_set():
                raise _Stopped  # the run is ending: no grace, no result
            over = self._over(drive) or self.ending.is_set()
            targets = drive.sessions_target or drive.rate_target
            self.target = drive.share(targets.at(self._elapsed_s())) if targets else len(self.sessions)
            if over:
                self.ending.set()
            if drive.sessions_target is not None or over:
                async with self.wake:
                    self.wake.notify_all()
            if drive.suffix:  # a warmup: its operations are side records, its sessions no part of the series
                pass
            elif drive.rate_target is not None:
                recorder.gauge(self.active, len(self.sessions), self.target)
            else:
                recorder.gauge(self.awake, self.target, None)  # closed loop: no target rate
            recorder.publish()
            if over:
                await self._drain()
            await asyncio.sleep(TICK_S)

    async def _drain(self) -> None:
        """The end: no new operation starts; running ones finish within END_GRACE_S."""
        deadline = time.monotonic() + END_GRACE_S
        while self.active and time.monotonic() < deadline and not self.stop.is_set():
            await asyncio.sleep(0.01)
        raise _Finished

    async def _closed(self, session: Session, recorder, drive: Drive) -> None:
        self.awake += 1
        try:
            await self._closed_loop(session, recorder, drive)
        finally:
            self.awake -= 1

    async def _closed_loop(self, session: Session, recorder, drive: Drive) -> None:
        while True:
            if drive.sessions_target is not None and session.number >= self.target:
                self.awake -= 1
                async with self.wake:  # resting: woken when the target changes or the phase ends
                    await self.wake.wait_for(lambda: self.ending.is_set() or session.number < self.target)
                self.awake += 1
            if self.ending.is_set() or self._over(drive):
                return
            drive.counters.started += 1
            self.active += 1
            try:
                await self.run_op(session, session.plan.next_operation(), recorder, drive, None)
            finally:
                self.active -= 1
            pause = session.plan.think_s()
            if pause:
                try:
                    await asyncio.wait_for(self.ending.wait(), pause)
                except TimeoutError:
                    pass

    async def _dispatch(self, recorder, drive: Drive) -> None:
        """Open load: arrivals on a schedule, each handed to an idle session."""
        idle = deque(self.sessions)
        freed = asyncio.Event()
        plan = self.sessions[0].plan  # one schedule and one operation sequence per worker

        async def run(session, op, at):
            self.active += 1
            try:
                await self.run_op(session, op, recorder, drive, at)
            finally:
                self.active -= 1
                idle.append(session)
                freed.set()

        at_s = 0.0  # the first arrival: now, unless the rate starts at 0 (a ramp from 0)
        if drive.share(drive.rate_target.at(0.0)) <= 0:
            at_s = self._next_arrival_s(drive, 0.0, plan.arrival_units(drive.arrivals))
        while not self.ending.is_set():
            if at_s is None:  # no arrival before the end
                await self.ending.wait()
                return
            intended = self.origin_ns + int(at_s * 1e9)
            now = time.perf_counter_ns()
            if intended > now:
                try:
                    await asyncio.wait_for(self.ending.wait(), (intended - now) / 1e9)
                    return
                except TimeoutError:
                    pass
            if self._over(drive):
                await self.ending.wait()
                return
            if not idle:
                drive.counters.queued += not drive.suffix
                while not idle and not self.ending.is_set():
                    freed.clear()
                    await freed.wait()
                if self.ending.is_set():
                    return
            drive.counters.started += 1
            task = asyncio.create_task(run(idle.popleft(), plan.next_operation(), intended))
            self.in_flight.add(task)
            task.add_done_callback(self._finished_task)
            at_s = self._next_arrival_s(drive, at_s, plan.arrival_units(drive.arrivals))

    def _next_arrival_s(self, drive: Drive, after_s: float, units: float) -> float | None:
        """When the arrival rate, integrated from `after_s`, reaches `units` (an Exp(1) draw for poisson arrivals,
        1 for uniform ones): a changing rate is followed while the schedule waits, so a ramp from 0 does not
        schedule its first arrival by the first, tiny rate. Seconds since the loop's start; None: past the end."""
        targets = drive.rate_target
        end_s = (drive.deadline_ns - self.origin_ns) / 1e9 if drive.deadline_ns is not None else None
        t, need = after_s, units
        while end_s is None or t < end_s:
            rate = drive.share(targets.at(t))
            if not targets.stages:  # a constant rate
                return t + need / rate if rate > 0 else None
            if rate > 0 and need / rate <= ARRIVAL_STEP_S:
                return t + need / rate
            need -= rate * ARRIVAL_STEP_S
            t += ARRIVAL_STEP_S
        return None

    def _finished_task(self, task) -> None:
        self.in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.failure = task.exception()
            self.ending.set()


def timed_out(exc: BaseException) -> bool:
    """A connect that ran out of time: asyncio's TimeoutError, or the driver's own connect timeout."""
    return isinstance(exc, TimeoutError) or "timeout" in type(exc).__name__.lower()


class _Finished(Exception):
    """The ticker's way of ending the loop once the phase is over and running operations are done."""


class _Stopped(Exception):
    """The coordinator's stop flag: the run is ending, operations are cancelled."""


async def run_until_over(pool: SessionPool, recorder, drive: Drive) -> None:
    pool.failure = None
    try:
        await pool.run(recorder, drive)
    except (_Finished, _Stopped):
        pass
    if pool.failure is not None:
        raise pool.failure
