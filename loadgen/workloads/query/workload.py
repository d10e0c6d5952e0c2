"""Streaming queries against the worker's own table (or a data: table), each one fully consumed and checked.

Fetch methods:
  rows          Connection.execute_query, iterate every row in Python and checksum the first column
  arrow         COPY (q) TO 'file' WITH (FORMAT arrowstream) on tmpfs, memory-mapped and read batch by batch
  arrow_stream  COPY (q) TO STDOUT WITH (FORMAT arrowstream) over the PostgreSQL protocol, decoded as it streams
Every fetch produces the same digest (loadgen/workloads/query/digest.py), which is compared with the closed
forms of the canonical rows when the table holds a known set of rows.
"""

import contextlib
import itertools
import threading
import time
from dataclasses import dataclass

from tableauhyperapi import TableName, escape_string_literal

from loadgen.datagen import canonical
from loadgen.transfer import staging
from loadgen.transfer.copy_io import CopyReader
from loadgen.workloads.contract import Workload
from loadgen.workloads.insert.state import CanonicalTable, LoadedTables
from loadgen.workloads.query.config import KEEP_ROWS, WARMUP_OP
from loadgen.workloads.query.digest import Digest, expected_digest_problems, hyper_kind, read_vs_server, same_number


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
        self.tables = {key: str(TableName(name)) for key, name in self.phase.definition_tables(ctx.worker).items()}
        self.sql = self.phase.query_text(ctx.table_sql, self.tables)
        if self.phase.table is not None:  # a definition's table: its loaded row count, and the server's checksum
            self.table_count = ctx.shared(LoadedTables).rows.get(self.phase.table)
            self.rows_in_table = None
            self.first_read: Digest | None = None
        else:
            self.table_count = None
            self.rows_in_table = ctx.shared(CanonicalTable).rows  # set by the last verified insert phase, if any
        self.checked = 0
        self.problem = ""
        self.lock = threading.Lock()
        if self.phase.method == "arrow":
            table_rows = self.rows_in_table.count if self.rows_in_table else 1_000_000
            self.staging_dir = staging.choose_dir(self.phase.staging_dir, table_rows * canonical.BYTES_PER_ROW)
        self.fetch = getattr(self, "_fetch_" + self.phase.method)
        # session 0 is the worker's own connection; more sessions open their own (closed in verify)
        self.sessions = [
            QuerySession(ctx.connection, ctx.pg_connection() if self.phase.method == "arrow_stream" else None)
        ]
        for _ in range(self.phase.sessions - 1):
            self.sessions.append(self._open_session())

    def _open_session(self) -> QuerySession:
        if self.phase.method == "arrow_stream":
            return QuerySession(pg=self.ctx.pg_connect())
        return QuerySession(connection=self.ctx.connect())

    def warmup(self, recorder) -> None:
        for _ in range(self.phase.warmup_iterations):
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

    def close(self) -> None:
        for session in self.sessions[1:]:
            session.close()

    def verify(self) -> dict:
        if self.phase.table is not None and not self.problem and self.first_read is not None:
            table = self.tables[self.phase.table]
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
        import pyarrow as pa  # the Arrow methods only: a worker fetching rows never loads pyarrow nor numpy

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
        import pyarrow as pa

        digest = Digest(trim=self.phase._first_is_char)
        with session.pg.cursor() as cursor:
            with cursor.copy(f"COPY ({self.sql}) TO STDOUT WITH (FORMAT arrowstream)") as copy:
                source = pa.PythonFile(CopyReader(copy), mode="r")
                with pa.ipc.open_stream(source) as reader:
                    for batch in reader:
                        digest.add_batch(batch)
        return digest.finish()
