"""Sustained mixed load, as a worker runs it: the sessions (loadgen/workloads/mix/sessions.py) run the built-in
operations on the worker's own table and the shared dimension table, and your `sql_operations:` with their bound
parameters (loadgen/workloads/mix/binder.py). Written on the public API (loadgen.api.Users), like a user's
workload: what it needs of the sessions machinery, the API gives."""

from psycopg import pq
from tableauhyperapi import TableName, escape_name

from loadgen import limits
from loadgen.api import Users
from loadgen.datagen import canonical
from loadgen.datagen.canonical import RowRange
from loadgen.errors import LimitError
from loadgen.workloads.insert.state import CanonicalTable
from loadgen.workloads.mix import sessions
from loadgen.workloads.mix.binder import Binder, NoValue
from loadgen.workloads.mix.config import DIMENSION, FIRST_NEW_ID, LATE_MS, NEW_IDS_PER_WORKER, OPERATIONS
from loadgen.workloads.mix.plan import OperationPlan

SPARE_FILES = 16  # open files a worker keeps free besides its sessions' sockets


def returns_rows(cursor) -> bool:
    """Whether the statement returned a result set (cheaper than `cursor.description`, which builds columns)."""
    result = cursor.pgresult
    return result is not None and result.status == pq.ExecStatus.TUPLES_OK


class MixWorkload(Users):
    """The built-in mix on the public API: a loadgen.api.Users whose operations come from the options (the built-in
    ones and `sql_operations:`) instead of @task coroutines, with the sessions, stages and open load of any Users
    class. Its options are the phase itself (MixPhase has the keys of api.SessionOptions)."""

    errors = (NoValue,)

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
        self.klass = phase.worker_class(ctx.worker)
        self.next_id = FIRST_NEW_ID + ctx.worker * NEW_IDS_PER_WORKER
        self.temp_table = escape_name(f"loadgen_tmp_{ctx.worker}")
        self.statements = {name: (op.prepare, op.statements()) for name, op in phase.sql_operations.items()}
        names = self.table_names()
        self.sql_texts = {
            name: [st.server_sql().format(**names) for st in sts] for name, (_, sts) in self.statements.items()
        }
        self.custom_sql = phase.custom_sql.format(**names) if phase.custom_sql else None
        super().setup()  # the sessions, connected (api.Users)

    def table_names(self) -> dict[str, str]:
        """{table} (the worker's own) and {KEY} for each data: definition, quoted, as SQL placeholders take them."""
        ctx = self.ctx
        names = {key: str(TableName(name.format(worker=ctx.worker))) for key, name in self.phase._tables.items()}
        return {**names, "table": ctx.table_sql}

    # ------------------------------------------------------------------------- what api.Users asks of a subclass
    def weights(self) -> dict[str, float]:
        return self.klass.operations if self.klass else self.phase.operations

    def think_ms(self):
        klass = self.klass
        return klass.think_ms if klass and klass.think_ms is not None else self.phase.think_ms

    def rate_per_s(self) -> float | None:
        klass, phase = self.klass, self.phase
        if klass and klass.rate_per_s:
            return klass.rate_per_s
        if phase.rate_per_s and phase.rate_scope == "total":
            return phase.rate_per_s / self.ctx.workers
        return phase.rate_per_s

    def new_session(self, number: int, weights: dict[str, float]) -> sessions.Session:
        ctx, phase = self.ctx, self.phase
        count = phase.sessions
        think = self.think_ms()
        plan = OperationPlan(ctx.seed, ctx.worker, phase.name, weights, think, phase.bulk_rows, session=number)
        binder = Binder(phase.sql_operations, ctx.seed, ctx.worker * count + number, ctx.workers * count)
        binder.pick = lambda n, plan=plan: int(plan.param_rng.integers(n))
        return sessions.Session(number, plan, binder)

    def before_connect(self, count: int) -> None:
        """Open files for `count` sessions: the soft limit raised to the hard one if needed (a note), or a
        LimitError naming what to raise."""
        need = limits.open_now() + count + SPARE_FILES
        problem = limits.shortfall(need, f"worker {self.ctx.worker}", f"phase {self.phase.name}: {count:,} sessions")
        if problem:
            raise LimitError(problem)
        self.open_files_note = limits.raise_soft(need)

    async def run_task(self, session, op: str) -> int:
        if op in OPERATIONS:
            return await getattr(self, "_op_" + op)(session.connection, session)
        return await self._sql_operation(session, op)

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
        target = self.rate_per_s() if self.drive.rate_target is not None and not self.phase.stages else 0
        return {
            "target_rate_per_s": target or 0,
            "late_ops": counters.late,
            "queued_ops": counters.queued,
            "staged_rate": bool(self.phase.stages) and self.drive.rate_target is not None,
            "max_late_ms": counters.max_late_ns / 1e6,
        }

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
