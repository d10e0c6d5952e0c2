"""Sustained mixed load, as a worker runs it: the sessions (loadgen/workloads/mix/sessions.py) run the built-in
operations on the worker's own table and the shared dimension table, and your `sql_operations:` with their bound
parameters (loadgen/workloads/mix/binder.py)."""

import asyncio
import contextlib
import time

import psycopg
from psycopg import pq
from tableauhyperapi import TableName, escape_name

from loadgen import limits
from loadgen.datagen import canonical
from loadgen.datagen.canonical import RowRange
from loadgen.errors import LimitError
from loadgen.workloads.contract import WARMUP_SUFFIX, Workload
from loadgen.workloads.insert.state import CanonicalTable
from loadgen.workloads.mix import sessions
from loadgen.workloads.mix.binder import Binder, NoValue
from loadgen.workloads.mix.config import DIMENSION, FIRST_NEW_ID, LATE_MS, NEW_IDS_PER_WORKER, OPERATIONS
from loadgen.workloads.mix.plan import OperationPlan

SPARE_FILES = 16  # open files a worker keeps free besides its sessions' sockets
BARRIER_MARGIN_S = 1.0  # connecting ends this long before the coordinator's barrier timeout, to say why in time


def returns_rows(cursor) -> bool:
    """Whether the statement returned a result set (cheaper than `cursor.description`, which builds columns)."""
    result = cursor.pgresult
    return result is not None and result.status == pq.ExecStatus.TUPLES_OK


class MixWorkload(Workload):
    def setup(self) -> None:
        ctx, phase = self.ctx, self.phase
        conn, table = ctx.connection, ctx.table_sql
        conn.execute_command(f"CREATE TABLE IF NOT EXISTS {table} ({canonical.COLUMNS_SQL})")
        self.table_rows = conn.execute_scalar_query(f"SELECT COUNT(*) FROM {table}")
        if self.table_rows == 0 and phase.preload_rows:  # made by hyperd: the worker needs no numpy for it
            conn.execute_command(
                canonical.insert_sql(table, RowRange(ctx.worker * phase.preload_rows, phase.preload_rows))
            )
            self.table_rows = phase.preload_rows
        ctx.shared(CanonicalTable).rows = None  # the mix changes the table: it no longer holds a known canonical range
        if ctx.owns_database:  # the one worker per database that creates the shared dimension table
            dim = escape_name(DIMENSION)
            conn.execute_command(f"CREATE TABLE IF NOT EXISTS {dim} (sensor_id INT NOT NULL, name TEXT)")
            if conn.execute_scalar_query(f"SELECT COUNT(*) FROM {dim}") == 0:
                conn.execute_command(
                    f"INSERT INTO {dim} SELECT i, 'sensor-' || i FROM generate_series(0, {canonical.SENSORS - 1}) g(i)"
                )
        self.dimension_sql = str(escape_name(DIMENSION))
        klass = phase.worker_class(ctx.worker)
        weights = klass.operations if klass else phase.operations
        think = klass.think_ms if klass and klass.think_ms is not None else phase.think_ms
        rate = klass.rate_per_s if klass and klass.rate_per_s else phase.rate_per_s
        if rate and phase.rate_scope == "total" and not (klass and klass.rate_per_s):
            rate = rate / ctx.workers
        self.rate = rate
        self.next_id = FIRST_NEW_ID + ctx.worker * NEW_IDS_PER_WORKER
        self.temp_table = escape_name(f"loadgen_tmp_{ctx.worker}")
        self.statements = {name: (op.prepare, op.statements()) for name, op in phase.sql_operations.items()}
        names = self.table_names()
        self.sql_texts = {
            name: [st.server_sql().format(**names) for st in sts] for name, (_, sts) in self.statements.items()
        }
        self.custom_sql = phase.custom_sql.format(**names) if phase.custom_sql else None
        self._open_sessions(weights, think)

    def table_names(self) -> dict[str, str]:
        """{table} (the worker's own) and {KEY} for each data: definition, quoted, as SQL placeholders take them."""
        ctx = self.ctx
        names = {key: str(TableName(name.format(worker=ctx.worker))) for key, name in self.phase._tables.items()}
        return {**names, "table": ctx.table_sql}

    def _open_sessions(self, weights, think) -> None:
        ctx, phase = self.ctx, self.phase
        count = phase.sessions
        self.sessions = []
        for k in range(count):
            plan = OperationPlan(ctx.seed, ctx.worker, phase.name, weights, think, phase.bulk_rows, session=k)
            binder = Binder(phase.sql_operations, ctx.seed, ctx.worker * count + k, ctx.workers * count)
            binder.pick = lambda n, plan=plan: int(plan.param_rng.integers(n))
            self.sessions.append(sessions.Session(k, plan, binder))
        self.open_files_note = self._make_room(count)
        self.loop = asyncio.new_event_loop()
        self.pool = sessions.SessionPool(
            self.sessions,
            self._connect,
            self._execute,
            self._errors(),
            ctx.stop,
            ctx.finish,
            phase.connect_per_operation,
            ctx.connect_timeout_s,
            ctx.connect_refused,
        )
        # the whole stage ends before the coordinator's barrier does, so that this worker says what held it up
        stage_s = ctx.barrier_by - time.monotonic() - BARRIER_MARGIN_S
        self.loop.run_until_complete(self.pool.open_all(stage_s))

    def _make_room(self, count: int) -> str | None:
        """Open files for `count` sessions: the soft limit raised to the hard one if needed (a note), or a
        LimitError naming what to raise."""
        need = limits.open_now() + count + SPARE_FILES
        problem = limits.shortfall(need, f"worker {self.ctx.worker}", f"phase {self.phase.name}: {count:,} sessions")
        if problem:
            raise LimitError(problem)
        return limits.raise_soft(need)

    @staticmethod
    def _errors() -> tuple:
        return (psycopg.Error, NoValue)

    def _connect(self, timeout_s: float):
        return self.ctx.pg_connect_async(timeout_s)

    # --------------------------------------------------------------------------------------- loop
    def _drive(self, seconds: float | None, iterations: int | None, suffix: str) -> sessions.Drive:
        phase, ctx = self.phase, self.ctx
        deadline = time.perf_counter_ns() + int(seconds * 1e9) if seconds else None
        drive = sessions.Drive(arrivals=phase.arrivals, deadline_ns=deadline, iterations=iterations, suffix=suffix)
        stages = phase.stages
        if stages and stages[0].sessions is not None:
            drive.sessions_target = sessions.Targets([sessions.Stage(s.duration_s, s.sessions) for s in stages])
            drive.share = lambda total: sessions.deal(total, ctx.workers, ctx.worker)
        elif stages:
            drive.rate_target = sessions.Targets([sessions.Stage(s.duration_s, s.rate_per_s) for s in stages])
            drive.share = lambda total: total / ctx.workers
        elif self.rate:
            drive.rate_target = sessions.Targets([], start=self.rate)  # this worker's rate already
            drive.share = lambda rate: rate
        return drive

    def warmup(self, recorder) -> None:
        if self.phase.warmup_s:
            drive = self._drive(self.phase.warmup_s, None, WARMUP_SUFFIX)
            self.loop.run_until_complete(sessions.run_until_over(self.pool, recorder, drive))

    def run(self, recorder) -> None:
        phase = self.phase
        seconds = sum(s.duration_s for s in phase.stages) if phase.stages else phase.duration_s
        self.drive = self._drive(seconds, phase.iterations, "")
        self.loop.run_until_complete(sessions.run_until_over(self.pool, recorder, self.drive))

    def verify(self) -> dict:
        counters = self.drive.counters
        detail = f"{self.phase.sessions} session(s)"
        if not self.phase.connect_per_operation:
            detail += f", connected in {self.pool.connect_s:.2f} s"
        if self.pool.retries:
            detail += f" ({self.pool.retries} refused connects retried)"
        if self.open_files_note:
            detail += f"; {self.open_files_note}"
        if self.drive.rate_target is not None:
            detail += (
                f"; {counters.late} of {counters.done} operations started > {LATE_MS} ms late, "
                f"{counters.queued} waited for a free session"
            )
        return {"verified": "unchecked", "detail": detail}

    def report(self) -> dict:
        """The schedule of an open-loop worker: its target rate and how far its operations fell behind."""
        counters = self.drive.counters
        target = self.rate if self.drive.rate_target is not None and not self.phase.stages else 0
        return {
            "target_rate_per_s": target or 0,
            "late_ops": counters.late,
            "queued_ops": counters.queued,
            "staged_rate": bool(self.phase.stages) and self.drive.rate_target is not None,
            "max_late_ms": counters.max_late_ns / 1e6,
        }

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.loop.run_until_complete(asyncio.wait_for(self.pool.close_all(), self.ctx.connect_timeout_s))
        self.loop.close()

    @classmethod
    def summarize(cls, phase, reports: list, ops: int) -> dict:
        """An open-loop phase's schedule columns: the target rate (None for staged rates: timeseries.csv has it
        per interval), how late operations started, how many arrivals waited for a session."""
        schedules = [r for r in reports if r]
        if not schedules or not any(s["target_rate_per_s"] or s["staged_rate"] for s in schedules):
            return {}
        staged = any(s["staged_rate"] for s in schedules)
        return {
            "target_rate_per_s": None if staged else sum(s["target_rate_per_s"] for s in schedules),
            "late_ops_pct": 100 * sum(s["late_ops"] for s in schedules) / ops if ops else 0.0,
            "queued_ops": sum(s["queued_ops"] for s in schedules),
            "max_late_ms": max(s["max_late_ms"] for s in schedules),
        }

    # --------------------------------------------------------------------------------------- operations
    async def _execute(self, session, op: str) -> int:
        if op in OPERATIONS:
            return await getattr(self, "_op_" + op)(session.connection, session)
        return await self._sql_operation(session, op)

    async def _sql_operation(self, session, name: str) -> int:
        prepare, statements = self.statements[name]
        if len(statements) == 1:
            return await self._statement(session, name, 0, statements[0], prepare)
        rows = 0
        async with session.connection.transaction():
            for i, statement in enumerate(statements):
                rows += await self._statement(session, name, i, statement, prepare)
        return rows

    async def _statement(self, session, name: str, i: int, statement, prepare: bool) -> int:
        values = session.binder.values(name, i, statement)
        if values is None:  # a parameter reads a result this session has not seen yet: fetch it first
            for source in self.phase.sql_operations[name].sources():
                if source not in session.binder.latest:
                    await self._sql_operation(session, source)
            values = session.binder.values(name, i, statement)
            if values is None:
                raise NoValue(f"{name}: the operation its parameter reads from returned no rows")
        cursor = session.cursor()
        await cursor.execute(self.sql_texts[name][i], values or None, prepare=prepare or None)
        if not returns_rows(cursor):
            return max(cursor.rowcount, 0)
        rows = await cursor.fetchall()
        session.binder.saw(name, rows)
        return len(rows)

    async def _op_bulk_insert(self, conn, session) -> int:
        import pyarrow as pa  # only a phase that runs bulk_insert loads pyarrow (and numpy)

        from loadgen.datagen import canonical_batches

        count = session.plan.bulk_count()
        sink = pa.BufferOutputStream()
        batch = canonical_batches.record_batch(self.next_id, count)
        self.next_id += count
        with pa.ipc.new_stream(sink, batch.schema) as writer:
            writer.write_batch(batch)
        cursor = conn.cursor()
        async with cursor.copy(f"COPY {self.ctx.table_sql} FROM STDIN WITH (FORMAT arrowstream)") as copy:
            await copy.write(sink.getvalue())
        return count

    async def _op_single_insert(self, conn, session) -> int:
        i = self.next_id
        self.next_id += 1
        await conn.execute(
            f"INSERT INTO {self.ctx.table_sql} VALUES (%s, %s, %s, %s)",
            (i, i % 10, i * 0.1, canonical.TIMESTAMP_BASE + i * 1000),
        )
        return 1

    async def _op_select_limit(self, conn, session) -> int:
        start = self.ctx.worker * self.phase.preload_rows + int(session.plan.fraction() * max(1, self.table_rows))
        cursor = session.cursor()
        await cursor.execute(
            f"SELECT id, sensor_id, value, timestamp FROM {self.ctx.table_sql} WHERE id >= %s LIMIT 100", (start,)
        )
        return len(await cursor.fetchall())

    async def _op_aggregate(self, conn, session) -> int:
        sql = f"SELECT sensor_id, COUNT(*), AVG(value) FROM {self.ctx.table_sql} GROUP BY sensor_id"
        cursor = session.cursor()
        await cursor.execute(sql)
        return len(await cursor.fetchall())

    async def _op_join(self, conn, session) -> int:
        sql = (
            f"SELECT d.name, COUNT(*), MAX(t.value) FROM {self.ctx.table_sql} t "
            f"JOIN {self.dimension_sql} d ON t.sensor_id = d.sensor_id GROUP BY d.name"
        )
        cursor = session.cursor()
        await cursor.execute(sql)
        return len(await cursor.fetchall())

    async def _op_custom(self, conn, session) -> int:
        cursor = session.cursor()
        await cursor.execute(self.custom_sql)
        return len(await cursor.fetchall()) if returns_rows(cursor) else max(cursor.rowcount, 0)

    async def _op_ddl(self, conn, session) -> int:
        tmp = self.temp_table
        await conn.execute(f"CREATE TEMPORARY TABLE {tmp} (x INT)")
        try:
            await conn.execute(f"INSERT INTO {tmp} VALUES (1), (2), (3)")
        finally:
            await conn.execute(f"DROP TABLE {tmp}")
        return 0
