"""Sustained mixed load: weighted operations for a duration (or a count), closed loop with think time or open
loop at a target rate, over one or many sessions per worker, with stages that ramp the load, deterministic per seed.

Operations on the worker's own table (canonical columns) and a shared dimension table `loadgen_sensors`:
  bulk_insert    Arrow COPY of a row count drawn from bulk_rows    single_insert  INSERT … VALUES (bound values)
  select_limit   SELECT … WHERE id >= %s LIMIT 100                 aggregate      GROUP BY sensor_id
  join           the table joined to loadgen_sensors, grouped     ddl            temporary table create/insert/drop
  custom         your own statement (custom_sql, {table} = the worker's table)
and your own parameterized operations (`sql_operations:`, loadgen/workloads/mix/operations.py), all over psycopg
async sessions (loadgen/workloads/mix/sessions.py). Errors are counted per operation (first messages kept), not
fatal; the phase fails past max_error_rate. With a rate, every operation also records its latency from its intended
start (`OP:from_intended`), so a server stall shows up as latency instead of silently lowering the load.
"""

from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, Field, PrivateAttr

from loadgen.config.fields import (
    BOUND_MEANINGS,
    HOUR_MS,
    WEEK_S,
    Count,
    Number,
    StrictModel,
    check_placeholders,
    excerpt,
    not_bool,
    suggestion,
)
from loadgen.config.phase import PhaseOptions
from loadgen.datagen import canonical
from loadgen.workloads.mix.operations import OPERATION_NAME, SqlOperation

OPERATIONS = ("bulk_insert", "single_insert", "select_limit", "aggregate", "join", "ddl", "custom")
Operation = Annotated[str, Field(pattern=OPERATION_NAME)]  # a built-in (OPERATIONS) or one of sql_operations
MAX_SESSIONS = 10_000  # per worker
DIMENSION = "loadgen_sensors"
LATE_MS = 10  # an operation that starts this much after its intended time counts as late
FIRST_NEW_ID = 1 << 30  # ids of rows the mix inserts, far above the canonical ones
NEW_IDS_PER_WORKER = 1 << 22  # 256 workers × 4M ids stay below 2^31 (id is INT); ids need not be unique
# a rate below one operation per 1000 s would sleep for hours between operations (and 1/rate can overflow)
MIN_RATE = 0.001
MAX_RATE = 1_000_000


Think = Annotated[float | tuple[float, float], BeforeValidator(not_bool)]


class WorkerClass(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", description="The class's name.")
    workers: Count | None = Field(default=None, ge=1, description="An exact worker count (or weight:).")
    weight: Number | None = Field(
        default=None, ge=0, le=1_000_000, description="Share of the workers no class counts exactly (default 1)."
    )
    operations: dict[Operation, Number] = Field(min_length=1, description="Weights of this class's operations.")
    think_ms: Think | None = Field(default=None, description="This class's pause after each operation.")
    rate_per_s: Number | None = Field(
        default=None, ge=MIN_RATE, le=MAX_RATE, description="This class's open-loop rate, per worker."
    )


class Stage(StrictModel):
    duration_s: Number = Field(gt=0, le=WEEK_S, description="How long this stage ramps (linearly) to its target.")
    sessions: Count | None = Field(default=None, ge=0, description="Active sessions in total at the stage's end.")
    rate_per_s: Number | None = Field(default=None, ge=0, le=MAX_RATE, description="Operations/s in total at its end.")


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


class MixPhase(PhaseOptions):
    workload: Literal["mix"]
    summary_columns: ClassVar[tuple[str, ...]] = ("target_rate_per_s", "late_ops_pct", "max_late_ms", "queued_ops")
    table_columns: ClassVar[tuple[str, ...]] = (
        "wall_s",
        "ops_per_s",
        "target_rate_per_s",
        "late_ops_pct",
        "errors",
        "p50_ms",
        "p99_ms",
        "rows_per_s",
    )
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
    rate_scope: Literal["worker", "total"] = Field(
        default="total", description="rate_per_s for the phase or per worker."
    )
    sessions: Count = Field(
        default=1, ge=1, le=MAX_SESSIONS, description="Concurrent sessions (connections) per worker."
    )
    stages: list[Stage] = Field(
        default_factory=list, max_length=1000, description="Load shape: sessions or rate over time."
    )
    sql_operations: dict[str, SqlOperation] = Field(
        default_factory=dict, description="Your operations: SQL with %s parameters bound by the server."
    )
    connect_per_operation: bool = Field(default=False, description="Open a new connection for every operation.")
    _tables: dict = PrivateAttr(default_factory=dict)  # data: key -> table name template, filled by resolved()
    arrivals: Literal["poisson", "uniform"] = Field(default="poisson", description="How a rate's arrivals are spaced.")
    bulk_rows: tuple[Count, Count] = Field(default=(1000, 10000), description="Row-count range of bulk_insert.")
    preload_rows: Count = Field(default=100_000, ge=0, description="Canonical rows per worker when the table is empty.")
    max_error_rate: Number = Field(default=0.0, ge=0, le=1, description="Fraction of operations allowed to fail.")
    custom_sql: str | None = Field(default=None, min_length=1, description="The `custom` operation's statement.")

    def error_budget(self) -> float | None:
        return self.max_error_rate

    def nominal_row_bytes(self) -> int:
        return canonical.BYTES_PER_ROW  # the rows its operations write and read are canonical ones

    def sessions_per_worker(self) -> int | None:
        return self.sessions

    def ends_early(self) -> bool:
        return True

    def operation_names(self) -> list[str]:
        names = dict.fromkeys(n for n, w in self.operations.items() if w > 0 and not self.classes)
        for c in self.classes:
            names.update(dict.fromkeys(n for n, w in c.operations.items() if w > 0))
        return list(names)

    def cross_check(self, scenario):
        # first: names need no other key, so a misspelt operation is reported even when other keys are refused
        yield from self._check_operation_names(getattr(scenario, "data", {}))
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
        yield from self._check_stages(scenario.workers)
        uses_custom = self.operations.get("custom", 0) > 0 or any(c.operations.get("custom", 0) for c in self.classes)
        if uses_custom and not self.custom_sql:
            yield ("custom_sql",), "the custom operation needs custom_sql"
        if self.custom_sql:
            try:
                check_placeholders(self.custom_sql, ("table", *getattr(scenario, "data", {})))
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

    def _check_stages(self, workers: int):
        if not self.stages:
            return
        if self.duration_s is not None:
            yield ("duration_s",), "stages set the phase's duration (the sum of theirs): remove duration_s"
        if self.iterations is not None:
            yield ("iterations",), "give either stages or iterations, not both"
        kinds = set()
        for i, stage in enumerate(self.stages):
            if (stage.sessions is None) == (stage.rate_per_s is None):
                yield ("stages", i), "a stage needs either sessions (closed load) or rate_per_s (open load)"
            kinds.add("sessions" if stage.sessions is not None else "rate_per_s")
            if stage.sessions is not None and stage.sessions > self.sessions * workers:
                yield (
                    ("stages", i, "sessions"),
                    f"{stage.sessions} active sessions asked, but {workers} worker(s) × sessions {self.sessions} "
                    f"= {self.sessions * workers} exist; raise sessions",
                )
        if len(kinds) > 1:
            yield ("stages",), "all stages target sessions, or all target rate_per_s, not a mix of both"
        if "rate_per_s" in kinds:
            if self.rate_per_s is not None:
                yield ("rate_per_s",), "the stages set the rate: remove rate_per_s"
            if self.think_ms not in (0, (0, 0)):
                yield (
                    ("think_ms",),
                    f"rate stages (open loop) and a think time (think_ms: {think_text(self.think_ms)}, closed loop) "
                    "exclude each other: set think_ms to 0",
                )
        for i, c in enumerate(self.classes):
            if c.rate_per_s:
                yield ("classes", i, "rate_per_s"), "with stages, the stages set the load: remove the class's rate"
        if "sessions" in kinds and self.rate_per_s:
            yield ("rate_per_s",), "session stages drive a closed load: remove rate_per_s"

    def _check_operation_names(self, definitions):
        known = set(OPERATIONS) | set(self.sql_operations)
        allowed = ", ".join(list(OPERATIONS) + sorted(self.sql_operations))
        for loc, weights in [(("operations",), self.operations)] + [
            (("classes", i, "operations"), c.operations) for i, c in enumerate(self.classes)
        ]:
            for name in weights:
                if name not in known:
                    hint = suggestion(name, known)
                    yield loc + (name,), f"unknown operation {excerpt(name)}{hint}; allowed: {allowed}"
        for name, op in self.sql_operations.items():
            if name in OPERATIONS:
                yield ("sql_operations", name), f"{name} is a built-in operation; give yours another name"
            for source in sorted(op.sources()):
                if source not in self.sql_operations:
                    yield (
                        ("sql_operations", name),
                        f"a parameter reads the result of {excerpt(source)}{suggestion(source, self.sql_operations)}"
                        ", which is not one of sql_operations",
                    )
            for statement in op.statements():
                try:
                    check_placeholders(statement.sql, ("table", *definitions))
                except ValueError as exc:
                    yield ("sql_operations", name), str(exc)

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
        phase = self._resolved(scenario)
        definitions = getattr(scenario, "data", {})
        phase._tables = {key: d.name or key + "_{worker}" for key, d in definitions.items()}
        return phase

    def _resolved(self, scenario):
        update = {} if self.duration_s or self.iterations or self.stages else {"duration_s": 10.0}
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
        head = ""
        if self.sessions > 1:
            head = f"{self.sessions} sessions per worker ({self.sessions * workers} in all); "
        if self.stages:
            return head + self._describe_stages()
        if not self.classes:
            return head + self._pace(self._per_worker_rate(None, workers), self.think_ms, workers)
        return head + "; ".join(
            f"{c.name} ({n} worker{'' if n == 1 else 's'}): "
            + self._pace(self._per_worker_rate(c, workers), self.think_ms if c.think_ms is None else c.think_ms, n)
            for c, n in zip(self.classes, assign_workers(self.classes, workers), strict=True)
        )

    def _describe_stages(self) -> str:
        kind = "sessions" if self.stages[0].sessions is not None else "rate_per_s"
        unit = " sessions" if kind == "sessions" else " operations/s"
        loop = (
            f"closed loop, think {think_text(self.think_ms)}" if kind == "sessions" else f"open loop, {self.arrivals}"
        )
        steps, before = [], 0
        for stage in self.stages:
            target = getattr(stage, kind)
            if target == before:
                steps.append(f"hold {target:g} for {stage.duration_s:g} s")
            else:
                steps.append(f"{before:g} → {target:g} over {stage.duration_s:g} s")
            before = target
        return f"stages of{unit} in total ({loop}): " + ", ".join(steps)

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
