"""Bulk insert of the canonical rows into the worker's own table (re-created at the start of the phase).

Methods (DESIGN.md §3):
  rows          tableauhyperapi Inserter; values converted column-wise in bulk, then add_rows per batch
  arrow         Arrow IPC stream staged in a tmpfs file, then COPY t FROM 'file' WITH (FORMAT arrowstream)
  arrow_stream  Arrow IPC over the PostgreSQL protocol: COPY t FROM STDIN WITH (FORMAT arrowstream)
Each COPY is one operation in the latency histogram; for `rows`, each add_rows batch and the final execute are.
"""

import contextlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import pyarrow as pa
from pydantic import Field

from loadgen import data, staging
from loadgen.workloads.base import BOUND_MEANINGS, MAX_ROWS, Count, Number, PhaseBase, Workload, folder_problem


class InsertPhase(PhaseBase):
    workload: Literal["insert"]
    method: Literal["rows", "arrow", "arrow_stream"] = "arrow"
    rows: Count | None = Field(
        default=None, ge=1, le=MAX_ROWS, description="Total rows over all workers (default: scenario rows)."
    )
    rows_scale: Number | None = Field(
        default=None,
        gt=0,
        le=1000,
        description="Without rows: this phase writes the scenario's rows × rows_scale (e.g. 0.1 for the row API).",
    )
    batch_rows: Count = Field(default=16_384, ge=1, le=10_000_000, description="Rows per record batch / add_rows call.")
    rows_per_copy: Count = Field(default=1_000_000, ge=1, description="Rows per COPY statement (arrow methods).")
    staging_dir: str | None = Field(default=None, description="Folder for staged Arrow files (default /dev/shm).")

    def total_rows(self, scenario) -> int | None:
        """Own rows, else the scenario's rows (× rows_scale, rounded down)."""
        if self.rows is not None or scenario.rows is None:
            return self.rows
        return int(scenario.rows * (self.rows_scale or 1))

    def cross_check(self, scenario):
        if self.rows is not None and self.rows_scale is not None:
            yield ("rows_scale",), "give either rows or rows_scale, not both (rows_scale scales the scenario's rows)"
            return
        rows = self.total_rows(scenario)
        key = ("rows_scale",) if self.rows_scale is not None else ("rows",)
        if rows is None:
            yield ("rows",), "required key is missing (set it here or as the scenario's top-level rows)"
        elif rows < scenario.workers:
            yield key, f"{rows} rows cannot be split over {scenario.workers} workers; need rows >= workers"
        elif rows > MAX_ROWS:
            yield key, f"{rows} rows: at most {MAX_ROWS} ({BOUND_MEANINGS[MAX_ROWS]})"
        if self.staging_dir and folder_problem(self.staging_dir):
            yield ("staging_dir",), folder_problem(self.staging_dir)

    def shadowed(self, key: str) -> str:
        if key == "rows_scale" and self.rows is not None:
            return f"{self.name} sets its own rows ({self.name}.rows); rows_scale applies only without it"
        if key in ("rows_per_copy", "staging_dir") and self.method == "rows":
            return f"{key} applies to the arrow methods, and {self.name} uses method rows"
        if key == "staging_dir" and self.method != "arrow":
            return f"staging_dir applies to method arrow only, and {self.name} uses {self.method}"
        return ""

    def progress_total(self) -> int:
        return self.rows or 0

    def method_name(self) -> str:
        return self.method

    def staging_folder(self) -> str | None:
        return self.staging_dir

    def resolved(self, scenario):
        # rows_scale is spent: scenario.yaml records the rows that ran, and stays valid to load again
        return self.model_copy(update={"rows": self.total_rows(scenario), "rows_scale": None})


class InsertWorkload(Workload):
    def setup(self) -> None:
        ctx = self.ctx
        self.rows = data.worker_range(ctx.worker, ctx.workers, self.phase.rows)
        ctx.state.pop("rows", None)  # the table is about to hold something else
        ctx.connection.execute_command(f"DROP TABLE IF EXISTS {ctx.table_sql}")
        ctx.connection.execute_command(f"CREATE TABLE {ctx.table_sql} ({data.COLUMNS_SQL})")
        if self.phase.method == "arrow_stream":
            ctx.pg_connection()  # connect before the barrier so the timed part measures only the COPYs
        elif self.phase.method == "arrow":
            needed = min(self.phase.rows_per_copy, self.rows.count) * data.BYTES_PER_ROW * 2
            self.staging_dir = staging.choose_dir(self.phase.staging_dir, needed)

    def run(self, recorder) -> None:
        getattr(self, "_run_" + self.phase.method)(recorder)

    def _chunks(self, size: int):
        for start in range(self.rows.start, self.rows.stop, size):
            if self.ctx.stop.is_set():
                return
            yield data.RowRange(start, min(size, self.rows.stop - start))

    def _run_rows(self, recorder) -> None:
        from tableauhyperapi import Inserter  # here, not at the top: validation must not load the library

        with Inserter(self.ctx.connection, self.ctx.table) as inserter:
            for chunk in self._chunks(self.phase.batch_rows):
                t0 = time.perf_counter_ns()
                inserter.add_rows(data.python_rows(chunk.start, chunk.count))
                recorder.record("add_rows", time.perf_counter_ns() - t0, chunk.count)
            t0 = time.perf_counter_ns()
            inserter.execute()
            recorder.record("execute", time.perf_counter_ns() - t0)

    def _run_arrow(self, recorder) -> None:
        """Stage the next file on a helper thread while hyperd copies the current one (numpy, pyarrow and the
        COPY call all release the GIL), so the client's work hides behind the server's. At most two staged files
        exist at a time. Each COPY statement is one `copy` operation."""
        from tableauhyperapi import escape_string_literal

        connection, table_sql = self.ctx.connection, self.ctx.table_sql
        with contextlib.ExitStack() as files, ThreadPoolExecutor(max_workers=1) as stager:
            chunks = self._chunks(self.phase.rows_per_copy)
            chunk = next(chunks, None)
            staged = stager.submit(self._stage, files, chunk) if chunk else None
            while staged is not None:
                path = staged.result()
                upcoming = next(chunks, None)
                staged_next = stager.submit(self._stage, files, upcoming) if upcoming else None
                t0 = time.perf_counter_ns()
                connection.execute_command(
                    f"COPY {table_sql} FROM {escape_string_literal(path)} WITH (FORMAT arrowstream)"
                )
                recorder.record("copy", time.perf_counter_ns() - t0, chunk.count)
                os.unlink(path)
                chunk, staged = upcoming, staged_next

    def _stage(self, files: contextlib.ExitStack, chunk: data.RowRange) -> str:
        path = files.enter_context(staging.staged_file(self.staging_dir))  # removed at the end, whatever happens
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, data.ARROW_SCHEMA) as writer:
            for batch in data.iter_record_batches(chunk, self.phase.batch_rows):
                writer.write_batch(batch)
        return path

    def _run_arrow_stream(self, recorder) -> None:
        pg = self.ctx.pg_connection()
        sql = f"COPY {self.ctx.table_sql} FROM STDIN WITH (FORMAT arrowstream)"
        with pg.cursor() as cursor:
            for chunk in self._chunks(self.phase.rows_per_copy):
                t0 = time.perf_counter_ns()
                with cursor.copy(sql) as copy:
                    sink = pa.PythonFile(CopyWriter(copy), mode="w")
                    with pa.ipc.new_stream(sink, data.ARROW_SCHEMA) as writer:
                        for batch in data.iter_record_batches(chunk, self.phase.batch_rows):
                            writer.write_batch(batch)
                            recorder.sending(batch.num_rows)
                recorder.record("copy", time.perf_counter_ns() - t0, chunk.count)

    def verify(self) -> dict:
        result = verify_table(self.ctx.connection, self.ctx.table_sql, self.rows)
        if result["verified"] == "ok":
            self.ctx.state["rows"] = self.rows  # later query phases check their results against this
        return result


class CopyWriter:
    """A write-only file object that forwards pyarrow's IPC bytes into a psycopg COPY."""

    closed = False

    def __init__(self, copy):
        self._copy = copy

    def write(self, buffer) -> int:
        self._copy.write(buffer)
        return len(buffer)

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True


def verify_table(connection, table_sql: str, rows: data.RowRange) -> dict:
    """COUNT(*), SUM(id) and per-sensor counts against the closed forms for the ids the table should hold."""
    want = data.expected(rows)
    count, sum_id = connection.execute_list_query(f"SELECT COUNT(*), SUM(id) FROM {table_sql}")[0]
    per_sensor = dict(connection.execute_list_query(f"SELECT sensor_id, COUNT(*) FROM {table_sql} GROUP BY sensor_id"))
    got_per_sensor = tuple(per_sensor.get(s, 0) for s in range(data.SENSORS))
    problems = []
    if count != want.count:
        problems.append(f"COUNT(*) = {count}, expected {want.count}")
    if (sum_id or 0) != want.sum_id:
        problems.append(f"SUM(id) = {sum_id}, expected {want.sum_id}")
    if got_per_sensor != want.per_sensor or set(per_sensor) - set(range(data.SENSORS)):
        problems.append(f"per-sensor counts {dict(per_sensor)}, expected {dict(enumerate(want.per_sensor))}")
    return {
        "verified": "failed" if problems else "ok",
        "detail": "; ".join(problems),
        "expected_rows": want.count,
        "counted_rows": count,
    }
