"""Streaming queries against the worker's own table, each one fully consumed and checked.

Shapes (DESIGN.md §2) or user SQL with a {table} placeholder; fetch methods (DESIGN.md §3):
  rows          Connection.execute_query, iterate every row in Python and checksum the first column
  arrow         COPY (q) TO 'file' WITH (FORMAT arrowstream) on tmpfs, memory-mapped and read batch by batch
  arrow_stream  COPY (q) TO STDOUT WITH (FORMAT arrowstream) over the PostgreSQL protocol, decoded as it streams
Every fetch produces the same digest (row count, Σ first column, and the rows themselves when there are few),
which is compared with the closed forms of data.py when the table holds a known set of rows.
"""

import contextlib
import io
import itertools
import math
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, PrivateAttr

from loadgen import data, staging
from loadgen.workloads.base import (
    WARMUP_SUFFIX,
    WEEK_S,
    Count,
    Number,
    PhaseBase,
    Workload,
    check_placeholders,
    folder_problem,
)

SHAPES = {
    "full_scan": "SELECT id, sensor_id, value, timestamp FROM {table}",
    "filtered": "SELECT id, value FROM {table} WHERE sensor_id = 5",
    "aggregation": "SELECT sensor_id, COUNT(*), SUM(value) FROM {table} GROUP BY sensor_id",
}
# nominal result bytes per row, for MiB/s: the column widths each shape returns
SHAPE_ROW_BYTES = {"full_scan": 24, "filtered": 12, "aggregation": 20}
FILTER_SENSOR = 5
KEEP_ROWS = 100  # a result this small is kept whole in the digest (aggregation: 10 rows)
WARMUP_OP = "query" + WARMUP_SUFFIX
MAX_QUERY_SESSIONS = 1000  # a thread each: query sessions read whole results, so a few per core make sense


class QueryPhase(PhaseBase):
    workload: Literal["query"]
    shape: Literal["full_scan", "filtered", "aggregation"] | None = None
    sql: str | None = Field(default=None, min_length=1, description="Your own query; {table} is the worker's table.")
    method: Literal["rows", "arrow", "arrow_stream"] = "arrow"
    iterations: Count | None = Field(default=None, ge=1, description="Queries per worker (default 1).")
    sessions: Count = Field(
        default=1, ge=1, le=MAX_QUERY_SESSIONS, description="Concurrent sessions per worker, each its own connection."
    )
    duration_s: Number | None = Field(default=None, gt=0, le=WEEK_S, description="Run queries for this long instead.")
    warmup: Count = Field(default=0, ge=0, description="Queries per worker before measuring; reported separately.")
    staging_dir: str | None = Field(default=None, description="Folder for COPY TO files (arrow; default /dev/shm).")
    table: str | None = Field(
        default=None,
        description="Instead of shape or sql: read every row of this data: definition's table (row count checked).",
    )
    _tables: dict = PrivateAttr(default_factory=dict)  # data: key -> table name template, filled by resolved()
    _row_bytes: int = PrivateAttr(default=0)  # the nominal row of `table`, for MiB/s
    _first_column: str = PrivateAttr(default="")  # of `table`: what its reads are checksummed on
    _first_is_char: bool = PrivateAttr(default=False)

    def method_name(self) -> str:
        return self.method

    def ends_early(self) -> bool:
        return True

    def operation_names(self) -> list[str]:
        return ["query"]

    def staging_folder(self) -> str | None:
        return self.staging_dir

    def cross_check(self, scenario):
        if self.shape and self.sql:
            yield ("sql",), "give either shape or sql, not both"
        definitions = getattr(scenario, "data", {})
        if self.sql:
            try:
                check_placeholders(self.sql, ("table", *definitions))
            except ValueError as exc:
                yield ("sql",), str(exc)
        if self.table is not None:
            if self.table not in definitions:
                yield (
                    ("table",),
                    f"no table definition named {self.table!r} in data: (defined: {', '.join(definitions) or 'none'})",
                )
            if self.shape or self.sql:
                yield ("table",), "give one of shape, sql or table"
        if self.iterations is not None and self.duration_s is not None:
            yield ("duration_s",), "give either iterations or duration_s, not both"
        if self.staging_dir and folder_problem(self.staging_dir):
            yield ("staging_dir",), folder_problem(self.staging_dir)

    def shadowed(self, key: str) -> str:
        if key == "staging_dir" and self.method != "arrow":
            return f"staging_dir applies to method arrow only, and {self.name} uses {self.method}"
        return ""

    def resolved(self, scenario):
        update = {}
        if not self.sql and not self.shape and self.table is None:
            update["shape"] = "full_scan"
        if self.iterations is None and self.duration_s is None:
            update["iterations"] = 1
        phase = self.model_copy(update=update)
        definitions = getattr(scenario, "data", {})
        phase._tables = {key: d.name or key + "_{worker}" for key, d in definitions.items()}
        if self.table in definitions:
            phase._row_bytes = definitions[self.table].row_bytes()
            phase._first_column = definitions[self.table].columns[0].name
            phase._first_is_char = definitions[self.table].columns[0].sql_type.base == "CHAR"
        return phase

    def nominal_row_bytes(self) -> int:
        if self.table is not None and self._row_bytes:
            return self._row_bytes
        return SHAPE_ROW_BYTES.get(self.shape or "", data.BYTES_PER_ROW)

    def query_text(self, table_sql: str, worker: int = 0) -> str:
        tables = {key: self.definition_table(key, worker) for key in self._tables}
        if self.table is not None:
            return f"SELECT * FROM {tables[self.table]}"
        return (self.sql or SHAPES[self.shape]).format(table=table_sql, **tables)

    def definition_table(self, key: str, worker: int) -> str:
        """A data: definition's table, as SQL (quoted)."""
        from tableauhyperapi import TableName  # here: validation must not load the library

        return str(TableName(self._tables[key].format(worker=worker)))


SUM_EVERY = 64  # first-column chunks summed in one pyarrow call: per-batch calls cost ~20% of a fast scan


@dataclass
class Digest:
    """What every fetch method sees of a result: its row count, a checksum of its first column (Σ for numbers,
    Σ of character lengths for text, none for other types) and, for small results, the rows themselves."""

    rows: int = 0
    first_sum: float = 0  # the checksum (ints stay exact in Python and in pyarrow's int64 sum)
    first_kind: str | None = None  # number | text | None (not summed), from the result's type
    trim: bool = False  # a CHAR(n) first column: its values arrive padded to n, LENGTH does not count the padding
    kept: list = field(default_factory=list)  # the rows, while there are at most KEEP_ROWS of them
    pending: list = field(default_factory=list)  # first-column chunks not summed yet (at most SUM_EVERY)

    def add_python_row(self, row) -> None:
        if self.rows == 0 and self.first_kind is None:
            self.first_kind = python_kind(row[0])
        self.rows += 1
        if self.first_kind == "number":
            self.first_sum += row[0] or 0
        elif self.first_kind == "text":
            self.first_sum += len((row[0] or "").rstrip(" ") if self.trim else (row[0] or ""))
        if self.rows <= KEEP_ROWS:
            self.kept.append(tuple(row))

    def add_batch(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if self.first_kind is None and self.rows == 0:
            self.first_kind = arrow_kind(batch.column(0).type)
        if self.first_kind is not None:
            self.pending.append(batch.column(0))
        if len(self.pending) >= SUM_EVERY:
            self.finish()
        if self.rows + batch.num_rows <= KEEP_ROWS:
            self.kept.extend(tuple(r.values()) for r in batch.to_pylist())
        self.rows += batch.num_rows

    def finish(self) -> "Digest":
        """Sum what add_batch has collected; call once the result is read."""
        if self.pending:
            chunks = pa.chunked_array(self.pending)
            if self.first_kind == "text":
                chunks = pc.utf8_length(pc.utf8_rtrim(chunks, characters=" ") if self.trim else chunks)
            self.first_sum += pc.sum(chunks).as_py() or 0
            self.pending = []
        return self


def python_kind(value) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return "number"
    return "text" if isinstance(value, str) else None


def hyper_kind(type_tag_name: str) -> str | None:
    """number | text | None for a tableauhyperapi column type (TypeTag name): the rows path's kind, from the
    result's schema, so a NULL in the first row does not switch the checksum off."""
    if type_tag_name in ("BIG_INT", "INT", "SMALL_INT", "NUMERIC", "DOUBLE", "FLOAT"):
        return "number"
    return "text" if type_tag_name in ("TEXT", "VARCHAR", "CHAR") else None


def arrow_kind(arrow_type: pa.DataType) -> str | None:
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "number"
    return "text" if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) else None


def expected_digest_problems(shape: str, rows: data.RowRange, digest: Digest) -> str:
    """'' when the digest matches what this shape must return from a table holding `rows`, else why not."""
    want = data.expected(rows)
    if shape == "full_scan":
        if digest.rows != want.count or digest.first_sum != want.sum_id:
            return f"full_scan: {digest.rows} rows, Σid {digest.first_sum}; expected {want.count}, {want.sum_id}"
    elif shape == "filtered":
        count = want.per_sensor[FILTER_SENSOR]
        total = data.sum_with_remainder(rows.start, rows.stop, FILTER_SENSOR)
        if digest.rows != count or digest.first_sum != total:
            return f"filtered: {digest.rows} rows, Σid {digest.first_sum}; expected {count}, {total}"
    elif shape == "aggregation":
        groups = {int(r[0]): (int(r[1]), float(r[2] or 0)) for r in digest.kept}
        for sensor in range(data.SENSORS):
            count, total = groups.get(sensor, (0, 0.0))
            if count != want.per_sensor[sensor] or not math.isclose(
                total, want.sum_value_per_sensor[sensor], rel_tol=1e-9, abs_tol=1e-6
            ):
                return (
                    f"aggregation: sensor {sensor} has COUNT {count}, SUM(value) {total}; expected "
                    f"{want.per_sensor[sensor]}, {want.sum_value_per_sensor[sensor]}"
                )
        if digest.rows != (data.SENSORS if rows.count >= data.SENSORS else len(groups)):
            return f"aggregation: {digest.rows} groups, expected {data.SENSORS}"
    return ""


def same_number(a, b) -> bool:
    """Exact for integers and decimals; floats within 1e-9 (summed in another order), NaN equal to NaN."""
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def read_vs_server(connection, table_sql: str, first_column: str, read: Digest) -> str:
    """'' when what a read of the whole table returned equals the server's COUNT(*) and checksum of the table's
    first column (Σ for numbers, Σ LENGTH for text), else what differs. Run after the phase: untimed."""
    from loadgen.tables import quote

    column = quote(first_column)
    checksum = {"number": f"SUM({column})", "text": f"SUM(LENGTH({column}))"}.get(read.first_kind, "0")
    count, server_sum = connection.execute_list_query(f"SELECT COUNT(*), {checksum} FROM {table_sql}")[0]
    server_sum = server_sum or 0
    if count == read.rows and (read.first_kind is None or same_number(read.first_sum, server_sum)):
        return ""
    what = {"number": f"Σ {first_column}", "text": f"Σ LENGTH({first_column})"}.get(read.first_kind, "checksum")
    return f"{table_sql}: read {read.rows} rows ({what} {read.first_sum}), the server has {count} ({server_sum})"


@dataclass
class QuerySession:
    """One session's connections: the tableauhyperapi one (rows, arrow) or a psycopg one (arrow_stream)."""

    connection: object = None
    pg: object = None

    def cancel(self) -> None:
        with contextlib.suppress(Exception):
            if self.connection is not None:
                self.connection.cancel()
        with contextlib.suppress(Exception):
            if self.pg is not None:
                self.pg.cancel_safe(timeout=1)

    def close(self) -> None:
        for connection in (self.connection, self.pg):
            with contextlib.suppress(Exception):
                if connection is not None:
                    connection.close()


class LockedRecorder:
    """The phase's Recorder shared by session threads: one record at a time."""

    def __init__(self, recorder, lock):
        self.recorder, self.lock = recorder, lock

    def record(self, *args) -> None:
        with self.lock:
            self.recorder.record(*args)


class QueryWorkload(Workload):
    def setup(self) -> None:
        ctx = self.ctx
        self.sql = self.phase.query_text(ctx.table_sql, ctx.worker)
        if self.phase.table is not None:  # a definition's table: its loaded row count, and the server's checksum
            self.table_count = ctx.state.get("tables", {}).get(self.phase.table)
            self.rows_in_table = None
            self.first_read: Digest | None = None
        else:
            self.table_count = None
            self.rows_in_table = ctx.state.get("rows")  # set by the last verified insert phase, if any
        self.checked = 0
        self.problem = ""
        self.lock = threading.Lock()
        if self.phase.method == "arrow":
            table_rows = self.rows_in_table.count if self.rows_in_table else 1_000_000
            self.staging_dir = staging.choose_dir(self.phase.staging_dir, table_rows * data.BYTES_PER_ROW)
        self.fetch = getattr(self, "_fetch_" + self.phase.method)
        # session 0 is the worker's own connection; more sessions open their own (closed in verify)
        self.sessions = [
            QuerySession(ctx.connection, ctx.pg_connection() if self.phase.method == "arrow_stream" else None)
        ]
        for _ in range(self.phase.sessions - 1):
            self.sessions.append(self._open_session())

    def _open_session(self) -> QuerySession:
        from loadgen import server  # here: validation must not load the Hyper client

        ctx = self.ctx
        if self.phase.method == "arrow_stream":
            return QuerySession(pg=server.pg_connect(ctx.endpoint, ctx.database, ctx.auth, ctx.connect_timeout_s))
        return QuerySession(connection=server.connect(ctx.endpoint, ctx.database, ctx.auth, ctx.connect_timeout_s))

    def warmup(self, recorder) -> None:
        for _ in range(self.phase.warmup):
            if self.ctx.stop.is_set():
                return
            t0 = time.perf_counter_ns()
            self.fetch(self.sessions[0])
            recorder.record(WARMUP_OP, time.perf_counter_ns() - t0)

    def run(self, recorder) -> None:
        phase = self.phase
        self.deadline = time.perf_counter() + phase.duration_s if phase.duration_s else None
        self.started = 0
        if len(self.sessions) == 1:
            self._loop(self.sessions[0], recorder)
            return
        shared = LockedRecorder(recorder, self.lock)
        failures = []

        def loop(session):
            try:
                self._loop(session, shared)
            except BaseException as exc:  # noqa: BLE001 - the main thread re-raises it
                failures.append(exc)

        threads = [threading.Thread(target=loop, args=(s,), daemon=True) for s in self.sessions]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            threads[0].join(0.05) if threads[0].is_alive() else next(t for t in threads if t.is_alive()).join(0.05)
            if self.ctx.stop.is_set() or failures:  # the run ends, or one session failed: cancel the others
                for session in self.sessions:
                    session.cancel()
                for thread in threads:
                    thread.join(2)
                break
        if failures and not self.ctx.stop.is_set():
            raise failures[0]

    def _next(self) -> bool:
        """Whether a session may start another query (a shared count over the worker's sessions)."""
        with self.lock:
            if self.ctx.stop.is_set() or self.ctx.finish.is_set():
                return False
            if self.deadline is None and self.started >= self.phase.iterations:
                return False
            if self.deadline is not None and time.perf_counter() >= self.deadline:
                return False
            self.started += 1
            return True

    def _loop(self, session: QuerySession, recorder) -> None:
        while self._next():
            t0 = time.perf_counter_ns()
            digest = self.fetch(session)
            recorder.record("query", time.perf_counter_ns() - t0, digest.rows)
            with self.lock:
                self._check(digest)

    def _check(self, digest: Digest) -> None:
        if self.phase.table is not None:
            if self.problem:
                return
            first = self.first_read = self.first_read or digest
            if self.table_count is not None and digest.rows != self.table_count:
                self.problem = f"{self.phase.table}: {digest.rows} rows, expected {self.table_count}"
            elif digest.rows != first.rows or not same_number(digest.first_sum, first.first_sum):
                self.problem = (f"{self.phase.table}: one read returned {digest.rows} rows (checksum "
                                f"{digest.first_sum}), another {first.rows} ({first.first_sum})")  # fmt: skip
            return
        if self.rows_in_table is None or self.phase.sql or self.problem:
            return
        self.checked += 1
        self.problem = expected_digest_problems(self.phase.shape, self.rows_in_table, digest)

    def verify(self) -> dict:
        for session in self.sessions[1:]:
            session.close()
        if self.phase.table is not None and not self.problem and self.first_read is not None:
            table = self.phase.definition_table(self.phase.table, self.ctx.worker)
            self.problem = read_vs_server(self.ctx.connection, table, self.phase._first_column, self.first_read)
            self.checked += 1
        if self.problem:
            return {"verified": "failed", "detail": self.problem}
        if self.checked == 0:
            reason = "user SQL" if self.phase.sql else "the table was not loaded by a verified insert phase"
            if self.phase.table is not None:
                reason = "no read finished"
            return {"verified": "unchecked", "detail": f"not checked: {reason}"}
        return {"verified": "ok", "detail": "", "expected_rows": "", "counted_rows": ""}

    # ------------------------------------------------------------------ fetch methods
    def _fetch_rows(self, session: QuerySession) -> Digest:
        """Iterate every row in Python, as a row-API client does. The loop is kept bare (locals, no calls):
        on this path the Python loop itself is the cost being measured."""
        digest = Digest(trim=self.phase._first_is_char)
        with session.connection.execute_query(self.sql) as result:
            digest.first_kind = hyper_kind(result.schema.columns[0].type.tag.name) if result.schema.columns else None
            rows = iter(result)
            for row in itertools.islice(rows, KEEP_ROWS):
                digest.add_python_row(row)
            count, total = 0, 0
            if digest.first_kind == "number":
                for row in rows:
                    count += 1
                    total += row[0] or 0
            elif digest.first_kind == "text":
                for row in rows:
                    count += 1
                    total += len((row[0] or "").rstrip(" ") if digest.trim else (row[0] or ""))
            else:
                for _ in rows:
                    count += 1
            digest.rows += count
            digest.first_sum += total
        return digest

    def _fetch_arrow(self, session: QuerySession) -> Digest:
        from tableauhyperapi import escape_string_literal  # here: validation must not load the library

        digest = Digest(trim=self.phase._first_is_char)
        with staging.staged_file(self.staging_dir) as path:
            session.connection.execute_command(
                f"COPY ({self.sql}) TO {escape_string_literal(path)} WITH (FORMAT arrowstream)"
            )
            with pa.memory_map(path) as source, pa.ipc.open_stream(source) as reader:
                for batch in reader:
                    digest.add_batch(batch)
                digest.finish()  # before the file goes away: the chunks are views of the mapping
        return digest

    def _fetch_arrow_stream(self, session: QuerySession) -> Digest:
        digest = Digest(trim=self.phase._first_is_char)
        with session.pg.cursor() as cursor:
            with cursor.copy(f"COPY ({self.sql}) TO STDOUT WITH (FORMAT arrowstream)") as copy:
                source = pa.PythonFile(CopyReader(copy), mode="r")
                with pa.ipc.open_stream(source) as reader:
                    for batch in reader:
                        digest.add_batch(batch)
        return digest.finish()


class CopyReader(io.RawIOBase):
    """A readable file over a psycopg COPY TO STDOUT, so pyarrow decodes batches as the bytes arrive."""

    def __init__(self, copy):
        self._chunks = iter(copy)
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buffer = memoryview(chunk)
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n
