"""Bulk insert of the canonical rows (or of a `data:` table definition's generated rows, `table: KEY`, or of
files, `source:`) into the worker's own table, or into one table all workers share (re-created at the start of
the phase).

Methods:
  rows          tableauhyperapi Inserter; values converted column-wise in bulk, then add_rows per batch
  arrow         Arrow IPC stream staged in a tmpfs file, then COPY t FROM 'file' WITH (FORMAT arrowstream)
  arrow_stream  Arrow IPC over the PostgreSQL protocol: COPY t FROM STDIN WITH (FORMAT arrowstream)
Each COPY is one operation in the latency histogram; for `rows`, each add_rows batch and the final execute are.

A definition's table is verified from facts the worker accumulates while generating (datagen/facts.py) against
the server's aggregates. A shared table is checked by the last worker to finish (loadgen/workloads/insert/shared.py).
"""

import contextlib
import itertools
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
from tableauhyperapi import HyperException, Inserter, Interval, TableName, escape_string_literal

from loadgen.datagen import blocks, canonical, canonical_batches
from loadgen.datagen.arrow import arrow_schema
from loadgen.datagen.checks import check_table
from loadgen.datagen.definitions import quote
from loadgen.datagen.facts import batch_facts, merge_facts
from loadgen.transfer import staging
from loadgen.transfer.copy_io import CopyWriter
from loadgen.transfer.files import file_units, read_unit
from loadgen.workloads.contract import Workload
from loadgen.workloads.insert import shared


class InsertWorkload(Workload):
    def setup(self) -> None:
        ctx, phase = self.ctx, self.phase
        self.rows = (
            canonical.worker_range(ctx.worker, ctx.workers, phase.rows) if phase.rows else canonical.RowRange(0, 0)
        )
        self.definition = phase.definition
        self.facts: dict = {}  # of the rows read from files (generated rows keep theirs in self.generated)
        self.facts_rows = 0  # rows the facts cover
        self.generated = None
        if self.definition is None:
            ctx.state.pop("rows", None)  # the table is about to hold something else
            self.table_sql, self.schema = ctx.table_sql, canonical_batches.ARROW_SCHEMA
            create = f"CREATE TABLE {ctx.table_sql} ({canonical.COLUMNS_SQL})"
        else:
            if phase.source is not None:
                if phase.table is None:
                    self.table = TableName(phase.source.table.format(worker=ctx.worker))
                else:
                    self.table = TableName(self.definition.table_name(phase.table, ctx.worker))
                by_row_group = phase.source.read_by == "client"  # hyperd reads whole files
                self.units = file_units(phase._files, phase._format, ctx.workers, ctx.worker, by_row_group)
            else:
                self.table = TableName(self.definition.table_name(phase.table, ctx.worker))
            self.table_sql, self.schema = str(self.table), arrow_schema(self.definition)
            ctx.state.setdefault("tables", {}).pop(self.state_key, None)
            create = self.definition.create_sql(self.table_sql)
            if phase.shared and ctx.owns_database:
                # There is no barrier at the end of a phase: a slower worker may still be writing into a shared
                # table of the previous phase (found by verification: a re-created table lost its rows). Wait
                # until the last worker has checked that table (all writes are done by then) before dropping.
                for folder in ctx.state.pop("shared_writes", []):
                    shared.wait_for_check(folder, ctx.stop)
                self._facts_dir(clear=True)  # before the barrier: nobody writes facts until after it
            if phase.shared:
                ctx.state.setdefault("shared_writes", []).append(self._facts_dir())
        if self.definition is None or not phase.shared or ctx.owns_database:
            # a shared table is created by worker 0 alone, before the barrier releases anyone into it
            ctx.connection.execute_command(f"DROP TABLE IF EXISTS {self.table_sql}")
            ctx.connection.execute_command(create)
        if phase.method == "arrow_stream":
            ctx.pg_connection()  # connect before the barrier so the timed part measures only the COPYs
        elif phase.method == "arrow":
            needed = min(phase.rows_per_copy, self.rows.count) * phase.nominal_row_bytes() * 2
            self.staging_dir = staging.choose_dir(phase.staging_dir, needed)

    def _batches(self, chunk: canonical.RowRange):
        """The chunk's record batches; for a definition, its facts are accumulated as they are generated."""
        if self.definition is None:
            yield from canonical_batches.iter_record_batches(chunk, self.phase.batch_rows)
            return
        yield from self.generated.batches(chunk, self.phase.batch_rows)

    def _python_rows(self, chunk: canonical.RowRange):
        if self.definition is None:
            return canonical_batches.python_rows(chunk.start, chunk.count)
        # column-wise conversion (Decimal, date, datetime), then zipped into rows
        batches = list(self._batches(chunk))
        return itertools.chain.from_iterable(zip(*map(inserter_values, b.columns), strict=True) for b in batches)

    @property
    def state_key(self) -> str:
        """What later phases know the loaded table by: the data: key, or the source's table."""
        return self.phase.table or self.phase.source.table

    def run(self, recorder) -> None:
        if self.phase.source is not None:
            return self._run_files(recorder)
        if self.definition is None:
            return getattr(self, "_run_" + self.phase.method)(recorder)
        threads = self.phase.generator_threads or blocks.auto_threads(self.ctx.workers)
        self.generated = blocks.GeneratedRows(
            self.definition, self.phase.table, self.ctx.seed, self.ctx.worker, self.rows, threads
        )
        with self.generated:
            getattr(self, "_run_" + self.phase.method)(recorder)

    def _run_files(self, recorder) -> None:
        """external: one COPY per file, hyperd reads it itself. Client-side, the worker's units (row groups or
        files) are read here batch by batch (memory bounded by the batch) and sent in COPYs of about
        rows_per_copy rows each, as generated rows are: one COPY (one commit) per small row group cost more than
        the reading. `arrow` stages the next file on a helper thread while hyperd copies the current one."""
        if self.phase.source.read_by == "hyperd":
            for unit in self.units:
                if self.ctx.stop.is_set():
                    return
                t0 = time.perf_counter_ns()
                try:
                    count = self.ctx.connection.execute_command(self._server_read_sql(escape_string_literal(unit[0])))
                except HyperException as exc:  # hyperd's message names neither the file nor the table
                    raise RuntimeError(f"hyperd reading {unit[0]} into {self.table_sql}: {exc.main_message}") from None
                recorder.record("copy", time.perf_counter_ns() - t0, count or 0)
            return
        if self.phase.method == "rows":
            for unit in self.units:
                if self.ctx.stop.is_set():
                    return
                t0, count = time.perf_counter_ns(), 0
                with Inserter(self.ctx.connection, self.table) as inserter:
                    for batch in self._read(unit):
                        inserter.add_rows(zip(*map(inserter_values, batch.columns), strict=True))
                        count += batch.num_rows
                    inserter.execute()
                recorder.record("insert", time.perf_counter_ns() - t0, count)
            return
        batches = self._file_batches()
        if self.phase.method == "arrow_stream":
            with self.ctx.pg_connection().cursor() as cursor:
                while (first := next(batches, None)) is not None:
                    t0 = time.perf_counter_ns()
                    count = self._copy_stream(cursor, itertools.chain([first], batches), recorder)
                    recorder.record("copy", time.perf_counter_ns() - t0, count)
            return
        connection = self.ctx.connection
        with contextlib.ExitStack() as files, ThreadPoolExecutor(max_workers=1) as stager:
            staged = stager.submit(self._stage_batches, files, batches)
            while True:
                path, count = staged.result()
                if not count:
                    return
                staged = stager.submit(self._stage_batches, files, batches)  # the next, while hyperd copies
                t0 = time.perf_counter_ns()
                connection.execute_command(
                    f"COPY {self.table_sql} FROM {escape_string_literal(path)} WITH (FORMAT arrowstream)"
                )
                recorder.record("copy", time.perf_counter_ns() - t0, count)
                os.unlink(path)

    def _server_read_sql(self, path_literal: str) -> str:
        """hyperd reads a file itself. Into a declared table, Parquet columns are picked by name with
        INSERT … SELECT … FROM external(): COPY refuses a nullable Parquet column for a NOT NULL one even when it
        holds no NULL (found by test), and a declared table need not have every column of the file."""
        if self.phase._format == "csv":
            return f"COPY {self.table_sql} FROM {path_literal} WITH (FORMAT csv, HEADER)"
        if self.phase.table is None:
            return f"COPY {self.table_sql} FROM {path_literal} WITH (FORMAT parquet)"
        names = ", ".join(quote(c.name) for c in self.definition.columns)
        return f"INSERT INTO {self.table_sql} ({names}) SELECT {names} FROM external({path_literal})"

    def _file_batches(self):
        """Every batch of the worker's units, in order, until the run stops."""
        for unit in self.units:
            if self.ctx.stop.is_set():
                return
            yield from self._read(unit)

    def _stage_batches(self, files: contextlib.ExitStack, batches) -> tuple[str, int]:
        """A staged file of the next batches, about rows_per_copy rows (0 rows: nothing left)."""
        path = files.enter_context(staging.staged_file(self.staging_dir))  # removed at the end, whatever happens
        count = 0
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, self.schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
                count += batch.num_rows
                if count >= self.phase.rows_per_copy:
                    break
        return path, count

    def _read(self, unit):
        """The unit's batches; the facts of what was read are accumulated on the way."""
        for batch in read_unit(unit, self.phase._format, self.schema, self.phase.batch_rows):
            merge_facts(self.facts, batch_facts(self.definition, batch))
            self.facts_rows += batch.num_rows
            yield batch

    def _copy_stream(self, cursor, batches, recorder) -> int:
        """One COPY FROM STDIN of the batches, up to about rows_per_copy rows; the rows it sent."""
        count = 0
        with cursor.copy(f"COPY {self.table_sql} FROM STDIN WITH (FORMAT arrowstream)") as copy:
            sink = pa.PythonFile(CopyWriter(copy), mode="w")
            with pa.ipc.new_stream(sink, self.schema) as writer:
                for batch in batches:
                    writer.write_batch(batch)
                    recorder.sending(batch.num_rows)
                    count += batch.num_rows
                    if count >= self.phase.rows_per_copy:
                        break
        return count

    def _chunks(self, size: int):
        for start in range(self.rows.start, self.rows.stop, size):
            if self.ctx.stop.is_set():
                return
            yield canonical.RowRange(start, min(size, self.rows.stop - start))

    def _run_rows(self, recorder) -> None:
        table = self.ctx.table if self.definition is None else self.table
        with Inserter(self.ctx.connection, table) as inserter:
            for chunk in self._chunks(self.phase.batch_rows):
                t0 = time.perf_counter_ns()
                inserter.add_rows(self._python_rows(chunk))
                recorder.record("add_rows", time.perf_counter_ns() - t0, chunk.count)
            t0 = time.perf_counter_ns()
            inserter.execute()
            recorder.record("execute", time.perf_counter_ns() - t0)

    def _run_arrow(self, recorder) -> None:
        """Stage the next file on a helper thread while hyperd copies the current one (numpy, pyarrow and the
        COPY call all release the GIL), so the client's work hides behind the server's. At most two staged files
        exist at a time. Each COPY statement is one `copy` operation."""
        connection, table_sql = self.ctx.connection, self.table_sql
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

    def _stage(self, files: contextlib.ExitStack, chunk: canonical.RowRange) -> str:
        path = files.enter_context(staging.staged_file(self.staging_dir))  # removed at the end, whatever happens
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, self.schema) as writer:
            for batch in self._batches(chunk):
                writer.write_batch(batch)
        return path

    def _run_arrow_stream(self, recorder) -> None:
        pg = self.ctx.pg_connection()
        sql = f"COPY {self.table_sql} FROM STDIN WITH (FORMAT arrowstream)"
        with pg.cursor() as cursor:
            for chunk in self._chunks(self.phase.rows_per_copy):
                t0 = time.perf_counter_ns()
                with cursor.copy(sql) as copy:
                    sink = pa.PythonFile(CopyWriter(copy), mode="w")
                    with pa.ipc.new_stream(sink, self.schema) as writer:
                        for batch in self._batches(chunk):
                            writer.write_batch(batch)
                            recorder.sending(batch.num_rows)
                recorder.record("copy", time.perf_counter_ns() - t0, chunk.count)

    def verify(self) -> dict:
        if self.definition is not None:
            return self._verify_definition()
        result = verify_table(self.ctx.connection, self.ctx.table_sql, self.rows)
        if result["verified"] == "ok":
            self.ctx.state["rows"] = self.rows  # later query phases check their results against this
        return result

    def _verify_definition(self) -> dict:
        if (
            self.phase.source is not None and self.phase.source.read_by == "hyperd"
        ):  # hyperd read the files: read them here too (untimed) for the facts
            for unit in self.units:
                for _ in self._read(unit):
                    pass
        counted = self.generated or self  # generated rows, or rows read from files
        mine = {"rows": counted.facts_rows, "columns": counted.facts}
        if not self.phase.shared:
            result = check_table(self.ctx.connection, self.table_sql, self.definition, mine)
        else:
            folder = self._facts_dir()
            names = shared.publish(folder, self.ctx.worker, mine)
            claimed = len(names) >= self.ctx.workers and shared.claim(os.path.join(folder, "checker"))
            if not claimed:  # someone is still inserting, or another worker checks; the last one checks
                # the table's rows as later query phases expect them (if the check fails, so does the phase)
                if self.phase.source is None:
                    self.ctx.state.setdefault("tables", {})[self.state_key] = self.rows.count * self.ctx.workers
                return {"verified": "ok", "detail": "shared table: checked by the last worker to finish",
                        "expected_rows": mine["rows"], "counted_rows": ""}  # fmt: skip
            total = {"rows": 0, "columns": {}}
            for facts in shared.read_all(folder, names):
                total["rows"] += facts["rows"]
                merge_facts(total["columns"], facts["columns"])
            try:
                result = check_table(self.ctx.connection, self.table_sql, self.definition, total)
            finally:
                shared.mark_checked(folder)
            result["detail"] = ("shared table, all workers: " + result["detail"]).rstrip(": ")
        if result["verified"] == "ok":
            self.ctx.state.setdefault("tables", {})[self.state_key] = result["counted_rows"]
        return result

    def _facts_dir(self, clear: bool = False) -> str:
        return shared.facts_dir(self.ctx.run_dir, self.phase.name, clear)


def inserter_values(array: pa.Array) -> list:
    """A column's values as the Inserter takes them: an Arrow interval becomes tableauhyperapi's Interval."""
    if array.type != pa.month_day_nano_interval():
        return array.to_pylist()
    return [None if v is None else Interval(v.months, v.days, v.nanoseconds // 1000) for v in array.to_pylist()]


def verify_table(connection, table_sql: str, rows: canonical.RowRange) -> dict:
    """COUNT(*), SUM(id) and per-sensor counts against the closed forms for the ids the table should hold."""
    want = canonical.expected(rows)
    count, sum_id = connection.execute_list_query(f"SELECT COUNT(*), SUM(id) FROM {table_sql}")[0]
    per_sensor = dict(connection.execute_list_query(f"SELECT sensor_id, COUNT(*) FROM {table_sql} GROUP BY sensor_id"))
    got_per_sensor = tuple(per_sensor.get(s, 0) for s in range(canonical.SENSORS))
    problems = []
    if count != want.count:
        problems.append(f"COUNT(*) = {count}, expected {want.count}")
    if (sum_id or 0) != want.sum_id:
        problems.append(f"SUM(id) = {sum_id}, expected {want.sum_id}")
    if got_per_sensor != want.per_sensor or set(per_sensor) - set(range(canonical.SENSORS)):
        problems.append(f"per-sensor counts {dict(per_sensor)}, expected {dict(enumerate(want.per_sensor))}")
    return {
        "verified": "failed" if problems else "ok",
        "detail": "; ".join(problems),
        "expected_rows": want.count,
        "counted_rows": count,
    }
