"""Sustained mixed load: weighted operations for a duration (or a count), closed loop with think time or open
loop at a target rate, deterministic per seed.

Operations on the worker's own table (canonical columns) and a shared dimension table `loadgen_sensors`:
  bulk_insert    Inserter, a row count drawn from bulk_rows      single_insert  INSERT … VALUES (one row)
  select_limit   SELECT … WHERE id >= ? LIMIT 100                 aggregate      GROUP BY sensor_id
  join           the table joined to loadgen_sensors, grouped     ddl            temporary table create/insert/drop
  custom         your own statement (custom_sql, {table} = the worker's table)
Errors are counted per operation (first messages kept), not fatal; the phase fails past max_error_rate.
With a rate, every operation also records its latency from its intended start (`OP:from_intended`), so a
server stall shows up as latency instead of silently lowering the load (no coordinated omission).
"""

import time
import zlib
from typing import Annotated, Literal

import numpy as np
from pydantic import BeforeValidator, Field

from loadgen import data
from loadgen.workloads.base import (
    BOUND_MEANINGS,
    FROM_INTENDED_SUFFIX,
    HOUR_MS,
    WEEK_S,
    Count,
    Number,
    PhaseBase,
    StrictModel,
    Workload,
    check_placeholders,
    not_bool,
)

OPERATIONS = ("bulk_insert", "single_insert", "select_limit", "aggregate", "join", "ddl", "custom")
Operation = Literal["bulk_insert", "single_insert", "select_limit", "aggregate", "join", "ddl", "custom"]
DIMENSION = "loadgen_sensors"
LATE_MS = 10  # an operation that starts this much after its intended time counts as late
FIRST_NEW_ID = 1 << 30  # ids of rows the mix inserts, far above the canonical ones
NEW_IDS_PER_WORKER = 1 << 22  # 256 workers × 4M ids stay below 2^31 (id is INT); ids need not be unique
# a rate below one operation per 1000 s would sleep for hours between operations (and 1/rate can overflow)
MIN_RATE = 0.001
MAX_RATE = 1_000_000


Think = Annotated[float | tuple[float, float], BeforeValidator(not_bool)]


class WorkerClass(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    workers: Count | None = Field(default=None, ge=1, description="An exact worker count (or weight:).")
    weight: Number | None = Field(
        default=None, ge=0, le=1_000_000, description="Share of the workers no class counts exactly (default 1)."
    )
    operations: dict[Operation, Number] = Field(min_length=1, description="Weights of this class's operations.")
    think_ms: Think | None = None
    rate_per_s: Number | None = Field(default=None, ge=MIN_RATE, le=MAX_RATE)


def assign_workers(classes: list[WorkerClass], workers: int) -> list[int]:
    """Workers per class: exact `workers` counts first; the rest split by weight (default 1) with the largest
    remainder method (ties go to the earlier class), then every class of weight > 0 that got none takes one from
    the largest class, when there are enough workers for all. Deterministic; assumes cross_check passed."""
    counts = [c.workers or 0 for c in classes]
    weights = [0.0 if c.workers is not None else (1.0 if c.weight is None else c.weight) for c in classes]
    rest = workers - sum(counts)
    weighted = [i for i, w in enumerate(weights) if w > 0]
    if not weighted or rest <= 0:
        return counts
    quotas = {i: rest * weights[i] / sum(weights) for i in weighted}
    for i in weighted:
        counts[i] += int(quotas[i])
    by_remainder = sorted(weighted, key=lambda i: (-(quotas[i] - int(quotas[i])), i))
    for i in by_remainder[: workers - sum(counts)]:
        counts[i] += 1
    if rest >= len(weighted):
        for i in weighted:
            if counts[i] == 0:
                donor = max(weighted, key=lambda j: (counts[j], j))
                counts[donor] -= 1
                counts[i] = 1
    return counts


def think_text(think) -> str:
    if isinstance(think, tuple):
        return f"{think[0]:g}–{think[1]:g} ms"
    return f"{think or 0:g} ms"


class MixPhase(PhaseBase):
    workload: Literal["mix"]
    duration_s: Number | None = Field(default=None, gt=0, le=WEEK_S, description="How long the measured part runs.")
    iterations: Count | None = Field(default=None, ge=1, description="Operations per worker instead of a duration.")
    warmup_s: Number = Field(default=0, ge=0, le=WEEK_S, description="Run this long first; reported as OP:warmup.")
    operations: dict[Operation, Number] = Field(
        default_factory=lambda: {"select_limit": 1.0}, min_length=1, description="Operation weights."
    )
    classes: list[WorkerClass] = Field(default_factory=list, description="Worker classes with their own weights.")
    think_ms: Think = Field(default=0, description="Pause after each operation: ms or [min, max].")
    rate_per_s: Number | None = Field(
        default=None, ge=MIN_RATE, le=MAX_RATE, description="Open loop: operations per second."
    )
    rate_scope: Literal["worker", "total"] = "worker"
    arrivals: Literal["poisson", "uniform"] = "poisson"
    bulk_rows: tuple[Count, Count] = Field(default=(1000, 10000), description="Row-count range of bulk_insert.")
    preload_rows: Count = Field(default=100_000, ge=0, description="Canonical rows per worker when the table is empty.")
    max_error_rate: Number = Field(default=0.0, ge=0, le=1, description="Fraction of operations allowed to fail.")
    custom_sql: str | None = Field(default=None, min_length=1, description="The `custom` operation's statement.")

    def error_budget(self) -> float | None:
        return self.max_error_rate

    def cross_check(self, scenario):
        if self.duration_s is not None and self.iterations is not None:
            yield ("iterations",), "give either duration_s or iterations, not both"
        yield from self._check_classes(scenario.workers)
        for loc, weights in [(("operations",), self.operations)] + [
            (("classes", i, "operations"), c.operations) for i, c in enumerate(self.classes)
        ]:
            if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
                yield loc, "weights must be >= 0 with a positive sum"
        for loc, think in [(("think_ms",), self.think_ms)] + [
            (("classes", i, "think_ms"), c.think_ms) for i, c in enumerate(self.classes)
        ]:
            values = think if isinstance(think, tuple) else (think,) if think is not None else ()
            if isinstance(think, tuple) and not 0 <= think[0] <= think[1]:
                yield loc, "a think time range must be [min, max] with 0 <= min <= max"
            elif any(not 0 <= v <= HOUR_MS for v in values):  # also catches nan
                yield loc, f"think time must be between 0 and {HOUR_MS} ms ({BOUND_MEANINGS[HOUR_MS]})"
        yield from self._check_rate_and_think()
        uses_custom = self.operations.get("custom", 0) > 0 or any(c.operations.get("custom", 0) for c in self.classes)
        if uses_custom and not self.custom_sql:
            yield ("custom_sql",), "the custom operation needs custom_sql"
        if self.custom_sql:
            try:
                check_placeholders(self.custom_sql, ("table",))
            except ValueError as exc:
                yield ("custom_sql",), str(exc)
        if not 1 <= self.bulk_rows[0] <= self.bulk_rows[1]:
            yield ("bulk_rows",), "bulk_rows must be [min, max] with 1 <= min <= max"
        if self.preload_rows * scenario.workers > FIRST_NEW_ID:
            yield (
                ("preload_rows",),
                f"{self.preload_rows} rows × {scenario.workers} workers: the preloaded ids must stay below "
                f"{FIRST_NEW_ID}, where the ids of rows the mix inserts start; at most "
                f"{FIRST_NEW_ID // scenario.workers} per worker",
            )

    def _check_classes(self, workers: int):
        exact = sum(c.workers for c in self.classes if c.workers is not None)
        for i, c in enumerate(self.classes):
            if c.workers is not None and c.weight is not None:
                yield ("classes", i, "weight"), "give either workers (an exact count) or weight (a share), not both"
        weighted = [c for c in self.classes if c.workers is None]
        if not self.classes:
            return
        if not weighted and exact != workers:
            yield ("classes",), f"the classes have {exact} workers, the scenario has {workers}"
        elif exact > workers:
            yield ("classes",), f"the classes' exact workers add up to {exact}, the scenario has only {workers}"
        elif exact < workers and not any(c.weight is None or c.weight > 0 for c in weighted):
            yield ("classes",), f"{workers - exact} workers are left for classes of weight 0; give one a weight > 0"

    def _check_rate_and_think(self):
        """A rate starts operations on a schedule (open loop), so a think time would be silently ignored."""
        found = {}
        for i, c in enumerate(self.classes or [None]):
            rate_loc = ("classes", i, "rate_per_s") if c and c.rate_per_s else ("rate_per_s",)
            rate = c.rate_per_s if c and c.rate_per_s else self.rate_per_s
            think_key = f"classes[{i}].think_ms" if c and c.think_ms is not None else "think_ms"
            think = c.think_ms if c and c.think_ms is not None else self.think_ms
            if rate and think not in (0, (0, 0)):
                found[(rate_loc, think_key)] = (
                    f"a rate ({rate:g}/s, open loop) and a think time ({think_key}: {think_text(think)}, closed "
                    f"loop) exclude each other: set {think_key} to 0 or remove rate_per_s"
                )
        for (loc, _), message in found.items():
            yield loc, message

    def shadowed(self, key: str) -> str:
        if key in ("rate_scope", "arrivals") and not (self.rate_per_s or any(c.rate_per_s for c in self.classes)):
            return f"{key} applies only to a rate, and {self.name} sets no rate_per_s"
        if not self.classes:
            return ""
        names = ", ".join(c.name for c in self.classes)
        if key == "operations":
            return f"every class of {self.name} sets its own operations ({names})"
        if key == "think_ms" and all(c.think_ms is not None or c.rate_per_s for c in self.classes):
            return f"every class of {self.name} sets its own think_ms or rate_per_s ({names})"
        if key in ("rate_per_s", "rate_scope") and all(c.rate_per_s for c in self.classes):
            return f"every class of {self.name} sets its own rate_per_s ({names})"
        return ""

    def resolved(self, scenario):
        update = {} if self.duration_s or self.iterations else {"duration_s": 10.0}
        if self.classes:  # exact counts, so scenario.yaml shows (and replays) the assignment that ran
            counts = assign_workers(self.classes, scenario.workers)
            update["classes"] = [
                c.model_copy(update={"workers": n, "weight": None}) for c, n in zip(self.classes, counts, strict=True)
            ]
        return self.model_copy(update=update) if update else self

    def worker_class(self, worker: int) -> WorkerClass | None:
        """The class of a worker of the resolved phase (classes hold exact counts)."""
        first = 0
        for c in self.classes:
            if worker < first + c.workers:
                return c
            first += c.workers
        return None

    def describe_rate(self, workers: int) -> str:
        """How the load is paced, in words, e.g. for the line printed at the phase's start."""
        if not self.classes:
            return self._pace(self._per_worker_rate(None, workers), self.think_ms, workers)
        return "; ".join(
            f"{c.name} ({n} worker{'' if n == 1 else 's'}): "
            + self._pace(self._per_worker_rate(c, workers), self.think_ms if c.think_ms is None else c.think_ms, n)
            for c, n in zip(self.classes, assign_workers(self.classes, workers), strict=True)
        )

    def _per_worker_rate(self, klass: WorkerClass | None, workers: int) -> float | None:
        """As MixWorkload.setup applies it: a class's rate is per worker; the phase's per worker or in total."""
        if klass and klass.rate_per_s:
            return klass.rate_per_s
        if self.rate_per_s and self.rate_scope == "total":
            return self.rate_per_s / workers
        return self.rate_per_s

    def _pace(self, per_worker: float | None, think, workers: int) -> str:
        if not per_worker:
            return f"closed loop, think {think_text(think)}"
        return (
            f"open loop: {per_worker * workers:g} operations/s in total "
            f"({per_worker:g}/s per worker, {self.arrivals} arrivals)"
        )


class OperationPlan:
    """The deterministic part of a worker's load: which operation, with which parameters, and how long to wait.
    Three independent streams from one seed, so the operation sequence does not depend on timing choices."""

    def __init__(self, seed: int, worker: int, phase: str, weights: dict[str, float], think, bulk_rows):
        root = np.random.SeedSequence([seed, worker, zlib.crc32(phase.encode())])
        op_seed, param_seed, time_seed = root.spawn(3)
        self.ops_rng = np.random.default_rng(op_seed)
        self.param_rng = np.random.default_rng(param_seed)
        self.time_rng = np.random.default_rng(time_seed)
        self.names = [n for n in OPERATIONS if weights.get(n, 0) > 0]
        p = np.array([weights[n] for n in self.names], dtype=float)
        self.probabilities = p / p.sum()
        self.think = think
        self.bulk_rows = bulk_rows

    def next_operation(self) -> str:
        return self.names[int(self.ops_rng.choice(len(self.names), p=self.probabilities))]

    def bulk_count(self) -> int:
        return int(self.param_rng.integers(self.bulk_rows[0], self.bulk_rows[1] + 1))

    def fraction(self) -> float:
        return float(self.param_rng.random())

    def think_s(self) -> float:
        if isinstance(self.think, tuple):
            return float(self.time_rng.uniform(self.think[0], self.think[1])) / 1000
        return (self.think or 0) / 1000

    def interarrival_s(self, rate: float, arrivals: str) -> float:
        return float(self.time_rng.exponential(1 / rate)) if arrivals == "poisson" else 1 / rate


def operation_sequence(seed: int, worker: int, phase: str, weights: dict[str, float], n: int) -> list[str]:
    plan = OperationPlan(seed, worker, phase, weights, 0, (1, 1))
    return [plan.next_operation() for _ in range(n)]


class MixWorkload(Workload):
    def setup(self) -> None:
        from tableauhyperapi import Inserter, escape_name  # here: validation must not load the library

        ctx, phase = self.ctx, self.phase
        conn, table = ctx.connection, ctx.table_sql
        conn.execute_command(f"CREATE TABLE IF NOT EXISTS {table} ({data.COLUMNS_SQL})")
        self.table_rows = conn.execute_scalar_query(f"SELECT COUNT(*) FROM {table}")
        if self.table_rows == 0 and phase.preload_rows:
            with Inserter(conn, ctx.table) as inserter:
                start = ctx.worker * phase.preload_rows
                for offset in range(0, phase.preload_rows, 10_000):
                    count = min(10_000, phase.preload_rows - offset)
                    inserter.add_rows(data.python_rows(start + offset, count))
                inserter.execute()
            self.table_rows = phase.preload_rows
        ctx.state.pop("rows", None)  # the mix changes the table: it no longer holds a known canonical range
        if ctx.owns_database:  # the one worker per database that creates the shared dimension table
            dim = escape_name(DIMENSION)
            conn.execute_command(f"CREATE TABLE IF NOT EXISTS {dim} (sensor_id INT NOT NULL, name TEXT)")
            if conn.execute_scalar_query(f"SELECT COUNT(*) FROM {dim}") == 0:
                conn.execute_command(
                    f"INSERT INTO {dim} SELECT i, 'sensor-' || i FROM generate_series(0, {data.SENSORS - 1}) g(i)"
                )
        klass = phase.worker_class(ctx.worker)
        weights = klass.operations if klass else phase.operations
        think = klass.think_ms if klass and klass.think_ms is not None else phase.think_ms
        rate = klass.rate_per_s if klass and klass.rate_per_s else phase.rate_per_s
        if rate and phase.rate_scope == "total" and not (klass and klass.rate_per_s):
            rate = rate / ctx.workers
        self.rate = rate
        self.plan = OperationPlan(ctx.seed, ctx.worker, phase.name, weights, think, phase.bulk_rows)
        self.next_id = FIRST_NEW_ID + ctx.worker * NEW_IDS_PER_WORKER
        self.temp_table = escape_name(f"loadgen_tmp_{ctx.worker}")
        self.late = 0
        self.max_late_ns = 0
        self.done = 0

    # --------------------------------------------------------------------------------------- loop
    def warmup(self, recorder) -> None:
        if self.phase.warmup_s:
            self._loop(recorder, time.perf_counter_ns() + int(self.phase.warmup_s * 1e9), None, ":warmup")

    def run(self, recorder) -> None:
        phase = self.phase
        deadline = time.perf_counter_ns() + int(phase.duration_s * 1e9) if phase.duration_s else None
        self._loop(recorder, deadline, phase.iterations, "")

    def _loop(self, recorder, deadline_ns, iterations, suffix: str) -> None:
        from tableauhyperapi import HyperException  # here: validation must not load the library

        intended = time.perf_counter_ns()
        count = 0
        while not self.ctx.stop.is_set():
            if iterations is not None and count >= iterations:
                break
            if self.rate:
                now = time.perf_counter_ns()
                if intended > now:
                    if deadline_ns is not None and intended >= deadline_ns:
                        break
                    time.sleep((intended - now) / 1e9)
            if deadline_ns is not None and time.perf_counter_ns() >= deadline_ns:
                break
            op = self.plan.next_operation()
            start = time.perf_counter_ns()
            try:
                rows = getattr(self, "_op_" + op)()
                end = time.perf_counter_ns()
                recorder.record(op + suffix, end - start, rows)
                if self.rate:
                    recorder.record(op + FROM_INTENDED_SUFFIX + suffix, end - intended)
            except HyperException as exc:
                recorder.error(op + suffix, str(exc).strip().splitlines()[0])
            count += 1
            if self.rate:
                late = start - intended
                if not suffix:
                    self.max_late_ns = max(self.max_late_ns, late)
                    self.late += late > LATE_MS * 1_000_000
                intended += int(self.plan.interarrival_s(self.rate, self.phase.arrivals) * 1e9)
            else:
                pause = self.plan.think_s()
                if pause:
                    time.sleep(pause)
        if not suffix:
            self.done = count

    def verify(self) -> dict:
        detail = ""
        if self.rate:
            detail = f"target {self.rate:g}/s; {self.late} of {self.done} operations started > {LATE_MS} ms late"
        return {
            "verified": "unchecked",
            "detail": detail,
            "schedule": {
                "target_rate_per_s": self.rate or 0,
                "late_ops": self.late,
                "max_late_ms": self.max_late_ns / 1e6,
            },
        }

    # --------------------------------------------------------------------------------------- operations
    def _op_bulk_insert(self) -> int:
        from tableauhyperapi import Inserter  # here: validation must not load the library

        count = self.plan.bulk_count()
        with Inserter(self.ctx.connection, self.ctx.table) as inserter:
            inserter.add_rows(data.python_rows(self.next_id, count))
            inserter.execute()
        self.next_id += count
        return count

    def _op_single_insert(self) -> int:
        i = self.next_id
        self.next_id += 1
        self.ctx.connection.execute_command(
            f"INSERT INTO {self.ctx.table_sql} VALUES ({i}, {i % 10}, {i * 0.1!r}, {data.TIMESTAMP_BASE + i * 1000})"
        )
        return 1

    def _op_select_limit(self) -> int:
        start = self.ctx.worker * self.phase.preload_rows + int(self.plan.fraction() * max(1, self.table_rows))
        rows = self.ctx.connection.execute_list_query(
            f"SELECT id, sensor_id, value, timestamp FROM {self.ctx.table_sql} WHERE id >= {start} LIMIT 100"
        )
        return len(rows)

    def _op_aggregate(self) -> int:
        sql = f"SELECT sensor_id, COUNT(*), AVG(value) FROM {self.ctx.table_sql} GROUP BY sensor_id"
        return len(self.ctx.connection.execute_list_query(sql))

    def _op_join(self) -> int:
        from tableauhyperapi import escape_name  # here: validation must not load the library

        dim = escape_name(DIMENSION)
        sql = (
            f"SELECT d.name, COUNT(*), MAX(t.value) FROM {self.ctx.table_sql} t "
            f"JOIN {dim} d ON t.sensor_id = d.sensor_id GROUP BY d.name"
        )
        return len(self.ctx.connection.execute_list_query(sql))

    def _op_custom(self) -> int:
        sql = self.phase.custom_sql.format(table=self.ctx.table_sql)
        return len(self.ctx.connection.execute_list_query(sql))

    def _op_ddl(self) -> int:
        conn, tmp = self.ctx.connection, self.temp_table
        conn.execute_command(f"CREATE TEMPORARY TABLE {tmp} (x INT)")
        try:
            conn.execute_command(f"INSERT INTO {tmp} VALUES (1), (2), (3)")
        finally:
            conn.execute_command(f"DROP TABLE {tmp}")
        return 0
