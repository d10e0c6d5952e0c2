"""loadgen's public API for workloads written in Python: the only names a user's workload imports from loadgen.

Stable within a major API_VERSION: a class written for 1.0 runs on every 1.x; what is not here may change. A workload
is a class (docs/writing_workloads.md walks through one):

    from loadgen import api

    class Options(api.Options):              # its keys, under the phase's `options:` (validated at `loadgen validate`)
        rows: int = 1000

    class Refresh(api.Workload):
        Options = Options
        operations = ("swap",)               # the names it records: thresholds may name them (PHASE.swap.p99_ms)

        def setup(self): ...                 # untimed, before the barrier; self.ctx, self.options, self.phase
        def run(self, rec):                  # timed: rec.record / rec.op / rec.error
            with rec.op("swap") as op:
                op.rows = ...

and a scenario phase `{workload: python, module: refresh.py, class: Refresh, options: {rows: 10}}`. Many concurrent
sessions per worker, Locust-style: a `Users` subclass whose `@task(weight)` coroutines each take one session.

Light on purpose: importing it (at `loadgen validate`, in the coordinator) loads pydantic and no driver.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from loadgen.config.fields import HOUR_MS, WEEK_S
from loadgen.workloads.contract import FROM_INTENDED_SUFFIX, WARMUP_SUFFIX, Verification
from loadgen.workloads.contract import Workload as _ContractWorkload
from loadgen.workloads.mix import sessions as _sessions
from loadgen.workloads.mix.config import MAX_RATE, MAX_SESSIONS, MIN_RATE, Stage
from loadgen.workloads.mix.plan import OperationPlan

API_VERSION = "1.0"
BARRIER_MARGIN_S = 2.0  # sessions finish connecting this long before the coordinator's barrier timeout: time to
# stop, close and report the limit to the coordinator on a loaded machine
_TUPLES_OK = 2  # psycopg.pq.ExecStatus.TUPLES_OK: a statement that returned rows (psycopg is not imported here)

__all__ = [
    "API_VERSION",
    "FROM_INTENDED_SUFFIX",
    "WARMUP_SUFFIX",
    "Context",
    "Options",
    "Recorder",
    "Session",
    "SessionOptions",
    "Stage",
    "Users",
    "Verification",
    "Workload",
    "task",
]


class Options(BaseModel):
    """A workload's options: the keys under its phase's `options:`. Unknown keys are errors; frozen once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Recorder(Protocol):
    """What a workload records into (the same histograms, time series, progress and error counts as built-ins)."""

    def record(self, name: str, ns: int, rows: int = 0) -> None:
        """One completed operation `name` that took `ns` nanoseconds (names with ':' are side records)."""

    def op(self, name: str):
        """`with rec.op(name) as op: …; op.rows = n`: times the block as one operation; an exception is error()."""

    def error(self, name: str, exc) -> None:
        """A failed operation: counted against the phase's error budget (options.max_error_rate), else raised."""

    def sending(self, rows: int) -> None:
        """Rows of a statement still running, for the progress line."""


class Context(Protocol):
    """What a worker gives its workload (self.ctx). One per worker process, shared by its phases."""

    worker: int  # this worker's number, 0 … workers-1
    workers: int
    seed: int  # the scenario's seed (drawn and recorded when it gives none)
    connection: Any  # this worker's tableauhyperapi Connection to the phase's database, open for the whole run
    table: Any  # this worker's table (the scenario's `table`, {worker} filled in), a tableauhyperapi TableName
    table_sql: str  # the same, quoted for SQL
    definitions: dict  # the scenario's `data:` definitions by key
    stop: Any  # .is_set(): the run is ending, return from run() now
    finish: Any  # .is_set(): an abort threshold fired, end the phase (when ends_early) and report
    owns_database: bool  # the one worker per database that creates shared objects
    run_dir: str  # the run folder, for files of your own

    def random(self, *key): ...  # a random.Random of this worker, from the seed and `key` only
    def connect(self): ...  # a new tableauhyperapi Connection (you close it)
    def pg_connection(self): ...  # this worker's psycopg connection (autocommit), closed after the last phase
    def pg_connect(self): ...  # a new psycopg connection (you close it)
    def pg_connect_async(self, timeout_s: float | None = None): ...  # a coroutine: a new psycopg AsyncConnection
    def table_names(self, templates: dict[str, str]) -> dict[str, str]: ...  # {worker} filled in, quoted
    def staging_dir(self, configured: str | None, needed_bytes: int) -> str: ...  # where to stage files hyperd reads
    def shared(self, kind: type): ...  # this worker's object of `kind`, kept for its later phases
    def gather(self, value) -> list: ...  # every worker's value, once all have called it


class Workload(_ContractWorkload):
    """One phase as a worker runs it: setup() (untimed) → barrier → warmup(rec) → run(rec) (timed) → verify() →
    report() → close(); on the coordinator, after_phase(phase, outcome, output) (a classmethod)."""

    Options: ClassVar[type[Options]] = Options
    api_version: ClassVar[str] = API_VERSION  # set it to the version you wrote for: a later major one refuses to run it
    operations: ClassVar[tuple[str, ...]] = ()  # the operations run() records; thresholds may name only these
    ends_early: ClassVar[bool] = False  # run() returns soon after ctx.finish is set: abort thresholds may end it

    def __init__(self, phase, ctx):
        super().__init__(phase, ctx)
        # an instance of Options; a built-in's options are its phase itself (its keys at the phase's level)
        validated = getattr(phase, "validated_options", None)
        self.options = validated() if validated is not None else phase

    def run(self, recorder: Recorder) -> None:
        raise NotImplementedError(f"{type(self).__name__}.run")


# ------------------------------------------------------------------------------------------- sessions (Users)
Think = float | tuple[float, float]


class SessionOptions(Options):
    """The load shape of a Users workload, the same keys (and machinery) as `workload: mix`."""

    duration_s: float | None = Field(default=None, gt=0, le=WEEK_S, description="How long the measured part runs.")
    iterations: int | None = Field(default=None, ge=1, description="Operations per worker instead of a duration.")
    warmup_s: float = Field(default=0, ge=0, le=WEEK_S, description="Run this long first; recorded as OP:warmup.")
    sessions: int = Field(default=1, ge=1, le=MAX_SESSIONS, description="Concurrent sessions per worker.")
    think_ms: Think = Field(default=0, description="Pause after each task: ms or [min, max].")
    rate_per_s: float | None = Field(
        default=None, ge=MIN_RATE, le=MAX_RATE, description="Open loop: tasks per second, for the whole phase."
    )
    stages: list[Stage] = Field(default_factory=list, max_length=1000, description="Sessions or rate over time.")
    arrivals: Literal["poisson", "uniform"] = "poisson"
    max_error_rate: float = Field(default=0.0, ge=0, le=1, description="Fraction of tasks allowed to fail.")

    @model_validator(mode="after")
    def _shape(self):
        if (self.duration_s is None) == (self.iterations is None) and not self.stages:
            raise ValueError("give either duration_s or iterations")
        if self.stages and (self.duration_s is not None or self.iterations is not None):
            raise ValueError("stages set the duration: give no duration_s or iterations with them")
        kinds = {
            "sessions" if s.sessions is not None else "rate" if s.rate_per_s is not None else "" for s in self.stages
        }
        if "" in kinds or len(kinds) > 1:
            raise ValueError("every stage sets sessions, or every stage sets rate_per_s")
        think = self.think_ms if isinstance(self.think_ms, tuple) else (self.think_ms, self.think_ms)
        if not 0 <= think[0] <= think[1] <= HOUR_MS:
            raise ValueError(f"think_ms must be a number or [min, max] with 0 <= min <= max <= {HOUR_MS}")
        return self


def task(weight: float = 1):
    """Marks a Users coroutine `async def NAME(self, session)` as a task: each session picks its next task by
    weight. Its latency is recorded as operation NAME; it returns the rows it read or wrote (or None)."""
    if callable(weight):  # @task without an argument
        return task(1)(weight)
    if not weight > 0:
        raise ValueError(f"@task weight must be > 0, got {weight!r}")

    def mark(function):
        function.loadgen_task_weight = float(weight)
        return function

    return mark


@dataclass
class Session(_sessions.Session):
    """One concurrent session of a Users worker: `connection` (a psycopg AsyncConnection, autocommit), `random` (its
    own seeded random.Random, made on first use), `state` (a dict the session's tasks share), `number` (0 …
    sessions-1)."""

    state: dict = field(default_factory=dict)
    new_random: Any = None  # () → its random.Random
    _random: Any = None

    @property
    def random(self):
        if self._random is None:
            self._random = self.new_random()
        return self._random

    async def execute(self, sql: str, params=None) -> list:
        """Run one statement with %s parameters bound by the server; its rows ([] for a statement without)."""
        cursor = self.cursor()
        await cursor.execute(sql, params)
        result = cursor.pgresult  # its status, not cursor.description: that builds the columns, every time
        return await cursor.fetchall() if result is not None and result.status == _TUPLES_OK else []


class Users(Workload):
    """Many sessions per worker running weighted @task coroutines, closed loop with think time or open loop at a
    rate, with stages: the session machinery of `workload: mix`. Options must be a SessionOptions subclass."""

    Options: ClassVar[type[Options]] = SessionOptions
    ends_early: ClassVar[bool] = True
    errors: ClassVar[tuple[type[BaseException], ...]] = ()  # besides psycopg.Error: exceptions counted, not fatal

    @classmethod
    def tasks(cls) -> dict[str, float]:
        """The @task coroutines and their weights; a class without any that defines `async def user(self, session)`
        runs that one coroutine, a whole user's iteration (k6's default function), as operation `user`."""
        marked = {
            name: member.loadgen_task_weight
            for name in dir(cls)
            if (member := getattr(cls, name, None)) is not None and hasattr(member, "loadgen_task_weight")
        }
        if not marked and inspect.iscoroutinefunction(getattr(cls, "user", None)):
            return {"user": 1.0}
        return marked

    async def on_start(self, session: Session) -> None:
        """Once per session after it connected, before the barrier (untimed): e.g. prepare session state."""

    # What a subclass that chooses its operations itself may change (the built-in `workload: mix` does).
    def weights(self) -> dict[str, float]:
        """This worker's operations and their weights (default: the @task coroutines)."""
        return self.tasks()

    def think_ms(self):
        """This worker's pause after each operation: ms or (min, max)."""
        return self.options.think_ms

    def rate_per_s(self) -> float | None:
        """This worker's operations per second without stages (open loop), or None: closed loop."""
        rate = self.options.rate_per_s
        return rate / self.ctx.workers if rate else None

    def new_session(self, number: int, weights: dict[str, float]) -> Session:
        ctx, name = self.ctx, self.phase.name
        plan = OperationPlan(ctx.seed, ctx.worker, name, weights, self.think_ms(), (1, 1), number)
        return Session(number, plan, None, new_random=functools.partial(ctx.random, name, number))

    def before_connect(self, sessions: int) -> None:
        """Before the sessions connect (e.g. make room for their open files)."""

    async def run_task(self, session: Session, name: str) -> int:
        """Run operation `name` on `session`; returns the rows it read or wrote."""
        return await self._tasks[name](session) or 0

    def setup(self) -> None:
        import psycopg  # noqa: PLC0415 - only a worker running sessions loads the driver, not validation

        ctx, options = self.ctx, self.options
        weights = self.weights()
        self._tasks = {name: getattr(self, name) for name in self.tasks()}
        self.sessions = [self.new_session(k, weights) for k in range(options.sessions)]
        self.before_connect(len(self.sessions))
        self.loop = asyncio.new_event_loop()
        self.pool = _sessions.SessionPool(
            self.sessions, ctx.pg_connect_async, self.run_task, (psycopg.Error, *self.errors), ctx.stop, ctx.finish,
            getattr(options, "connect_per_operation", False), ctx.connect_timeout_s, ctx.connect_refused,
        )  # fmt: skip
        # the whole stage ends before the coordinator's barrier does, so that this worker says what held it up
        stage_s = ctx.barrier_by - time.monotonic() - BARRIER_MARGIN_S
        self.loop.run_until_complete(self.pool.open_all(stage_s))
        self.loop.run_until_complete(self._start_all())

    async def _start_all(self) -> None:
        if type(self).on_start is not Users.on_start:
            await asyncio.gather(*(self.on_start(s) for s in self.sessions))

    def _drive(self, seconds, iterations, suffix) -> _sessions.Drive:
        ctx, options = self.ctx, self.options
        deadline = time.perf_counter_ns() + int(seconds * 1e9) if seconds else None
        drive = _sessions.Drive(arrivals=options.arrivals, deadline_ns=deadline, iterations=iterations, suffix=suffix)
        stages = options.stages
        if stages and stages[0].sessions is not None:
            drive.sessions_target = _sessions.Targets([_sessions.Stage(s.duration_s, s.sessions) for s in stages])
            drive.share = lambda total: _sessions.deal(total, ctx.workers, ctx.worker)
        elif stages:
            drive.rate_target = _sessions.Targets([_sessions.Stage(s.duration_s, s.rate_per_s) for s in stages])
            drive.share = lambda total: total / ctx.workers
        elif rate := self.rate_per_s():
            drive.rate_target = _sessions.Targets([], start=rate)  # this worker's rate already
            drive.share = lambda rate: rate
        return drive

    def warmup(self, recorder: Recorder) -> None:
        if self.options.warmup_s:
            drive = self._drive(self.options.warmup_s, None, WARMUP_SUFFIX)
            self.loop.run_until_complete(_sessions.run_until_over(self.pool, recorder, drive))

    def run(self, recorder: Recorder) -> None:
        options = self.options
        seconds = sum(s.duration_s for s in options.stages) if options.stages else options.duration_s
        self.drive = self._drive(seconds, options.iterations, "")
        self.loop.run_until_complete(_sessions.run_until_over(self.pool, recorder, self.drive))

    def verify(self) -> Verification:
        return {
            "verified": "unchecked",
            "detail": f"{len(self.sessions)} session(s), {self.drive.counters.done} tasks",
        }

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.loop.run_until_complete(asyncio.wait_for(self.pool.close_all(), self.ctx.connect_timeout_s))
        self.loop.close()
