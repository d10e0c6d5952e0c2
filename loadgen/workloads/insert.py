"""Bulk insert of the canonical rows (or of a `data:` table definition's generated rows, `table: KEY`) into the
worker's own table, or into one table all workers share (re-created at the start of the phase).

Methods (DESIGN.md §3):
  rows          tableauhyperapi Inserter; values converted column-wise in bulk, then add_rows per batch; one
                Inserter (one COPY, one commit) per ~8 MiB of rows (loadgen/row_loads.py)
  arrow         Arrow IPC stream staged in a tmpfs file, then COPY t FROM 'file' WITH (FORMAT arrowstream)
  arrow_stream  Arrow IPC over the PostgreSQL protocol: COPY t FROM STDIN WITH (FORMAT arrowstream)
Each COPY is one operation in the latency histogram; for `rows`, each add_rows batch and each
load's execute (which counts the rows: they are committed then) are.

A definition's table is verified from facts the worker accumulates while generating (generators.batch_facts)
against the server's aggregates. A shared table is checked by the last worker to finish: each worker writes its
facts to RUN_DIR/facts/PHASE/WORKER.json after its last COPY, and the one that then sees every worker's file
(all inserts are committed by then) checks the table against their sum; no barrier, no waiting.
"""

import contextlib
import itertools
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import pyarrow as pa
from pydantic import Field, PrivateAttr

from loadgen import data, generators, results, row_blocks, row_loads, staging, tables
from loadgen.file_source import FileSource, file_schema, file_units, has_rows, parquet_rows, read_unit
from loadgen.table_checks import check_table, claim, wait_for_check
from loadgen.workloads.base import (
    BOUND_MEANINGS,
    MAX_ROWS,
    Count,
    Number,
    PhaseBase,
    Workload,
    excerpt,
    folder_problem,
    name_problem,
    placeholders,
)

# row_loads.size_bound of a canonical row: its 24 Arrow bytes and 2 per value
CANONICAL_ROW_BOUND = data.BYTES_PER_ROW + 2 * len(data.ARROW_SCHEMA)


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
    generator_threads: Count | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Threads a worker makes a data: table's rows on (default: the CPUs shared out among the workers, "
        "at most 4).",
    )
    table: str | None = Field(
        default=None, description="A table definition of the scenario's data: section (default: the canonical table)."
    )
    source: FileSource | None = Field(
        default=None, description="Load files (Parquet, CSV, Arrow IPC) instead of generated rows."
    )
    # filled by resolved(): the definition travels with the phase to the workers
    _definition: object = PrivateAttr(default=None)
    _shared: bool = PrivateAttr(default=False)
    _files: list = PrivateAttr(default_factory=list)
    _format: str = PrivateAttr(default="")
    _file_rows: int = PrivateAttr(default=0)  # of a source's Parquet files (its rows: stays unset, all are read)

    def total_rows(self, scenario) -> int | None:
        """Own rows, else the scenario's rows (× rows_scale, rounded down)."""
        if self.rows is not None or scenario.rows is None:
            return self.rows
        return int(scenario.rows * (self.rows_scale or 1))

    def cross_check(self, scenario):
        if self.table is not None:
            yield from self._check_definition(scenario)
        if self.source is not None:
            yield from self._check_source(scenario)
            return
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
        definition = getattr(scenario, "data", {}).get(self.table)
        if definition is not None and rows is not None:
            for column in definition.columns:
                problem = tables.sequence_end_problem(column, rows)
                if problem:
                    yield ("table",), f"data.{self.table}.{column.name}: {problem}"
        if definition is not None and definition.without_generator():
            missing = ", ".join(definition.without_generator())
            yield (
                ("table",),
                (
                    f"data.{self.table} has columns without a generator ({missing}): give each a generator, "
                    "or load the table from files (source:)"
                ),
            )

    def _check_definition(self, scenario):
        definitions = getattr(scenario, "data", {})
        if self.table not in definitions:
            known = ", ".join(definitions) or "none"
            yield ("table",), f"no table definition named {self.table!r} in data: (defined: {known})"
        elif self.method != "rows" and (self.source is None or self.source.read_by == "client"):
            # hyperd's arrowstream COPY takes Utf8 only into TEXT (found by test; no implicit casts)
            for column in definitions[self.table].columns:
                if column.sql_type.base in ("VARCHAR", "CHAR"):
                    yield (
                        ("method",),
                        (
                            f"data.{self.table}.{column.name} is {column.sql_type.sql}: hyperd takes Arrow text "
                            f"only into TEXT columns; use TEXT or method rows (allowed: rows)"
                            + (", or let hyperd read the files (source.read_by: hyperd)" if self.source else "")
                        ),
                    )
                    break

    def _check_source(self, scenario):
        """Files exist, have a format, one schema, and every column maps onto a Hyper type (read from metadata) or
        onto the declared definition's column of the same name (`table: KEY`)."""
        definitions = getattr(scenario, "data", {})
        definition = definitions.get(self.table) if self.table is not None else None
        if self.table is not None and "table" in self.source.model_fields_set:
            yield (
                ("source", "table"),
                (
                    f"the table's name comes from data.{self.table} (its name:); remove source.table, or remove table "
                    "to create the table from the files' schema"
                ),
            )
        if self.rows is not None or self.rows_scale is not None:
            yield ("rows" if self.rows is not None else "rows_scale",), "a source loads all rows of its files"
        if self.table is None and (problem := name_problem(self.source.table, scenario.workers)):
            yield ("source", "table"), problem
        files = self.source.files()
        if self.source.missing():
            shown = ", ".join(excerpt(f) for f in self.source.missing()[:3])
            yield ("source", "path"), f"no such file: {shown}" + (" …" if len(self.source.missing()) > 3 else "")
            return
        if not files:
            yield ("source", "path"), f"no file matches {excerpt(self.source.path)}"
            return
        fmt = self.source.file_format(files)
        if fmt is None:
            yield ("source", "format"), f"cannot tell the format of {excerpt(files[0])} (allowed: parquet, csv, arrow)"
            return
        if self.source.read_by == "hyperd" and fmt == "arrow":
            yield ("source", "read_by"), "hyperd reads parquet and csv files itself, not Arrow IPC (allowed: client)"
        if self.table is not None and definition is None:
            return  # reported by _check_definition
        try:
            if definition is not None:
                for path in files:
                    self._check_declared(definition, path, fmt)
                return
            first = file_schema(files[0], fmt)
            if any(pa.types.is_null(field.type) for field in first) and not has_rows(files[0], fmt):
                raise ValueError(
                    f"{files[0]} has no rows, so the types of its columns cannot be inferred: declare the table in "
                    "data: (column names and types) and load the file into it with table: KEY, or give the file rows"
                )
            tables.file_table(first, files[0])
            for other in files[1:]:
                schema = file_schema(other, fmt)
                for want, got in zip(first, schema, strict=False):
                    if want.name != got.name or want.type != got.type:
                        raise ValueError(
                            f"{other}: column {got.name!r} is {got.type} here, "
                            f"but column {want.name!r} is {want.type} in {files[0]}"
                        )
                if len(schema) != len(first):
                    raise ValueError(f"{other}: {len(schema)} columns, but {len(first)} in {files[0]}")
        except (OSError, ValueError, pa.ArrowException) as exc:
            yield ("source", "path"), str(exc)

    def _check_declared(self, definition, path: str, fmt: str) -> None:
        """A file's columns against the declared table. CSV columns are parsed into the declared types, so their
        names count and the first block must parse; hyperd reads CSV columns by position, Parquet by name."""
        schema = file_schema(path, fmt)
        if fmt != "csv":
            tables.map_file_schema(definition, self.table, schema, path, self.source.read_by)
            return
        names = [c.name for c in definition.columns]
        missing = [name for name in names if name not in schema.names]
        if missing:
            raise ValueError(f"{path}: no column {missing[0]!r} for data.{self.table}.{missing[0]} "
                             f"(the file's header has: {', '.join(schema.names)})")  # fmt: skip
        for column in definition.columns:
            if column.sql_type.domain == "interval":
                raise ValueError(f"{path}: data.{self.table}.{column.name} is INTERVAL, which loadgen does not read "
                                 f"from CSV (allowed for INTERVAL: Arrow IPC files)")  # fmt: skip
        if self.source.read_by == "hyperd" and schema.names != names:
            raise ValueError(
                f"{path}: hyperd reads CSV columns by position, and the header ({', '.join(schema.names)}) is not "
                f"data.{self.table}'s columns in order ({', '.join(names)}); reorder them, or use read_by: client"
            )
        next(read_unit((path, None), fmt, definition.arrow_schema(), 1024), None)  # the first values parse

    def shadowed(self, key: str) -> str:
        if key == "rows_scale" and self.rows is not None:
            return f"{self.name} sets its own rows ({self.name}.rows); rows_scale applies only without it"
        if key in ("rows_per_copy", "staging_dir") and self.method == "rows":
            return f"{key} applies to the arrow methods, and {self.name} uses method rows"
        if key == "staging_dir" and self.method != "arrow":
            return f"staging_dir applies to method arrow only, and {self.name} uses {self.method}"
        if key == "generator_threads" and (self.table is None or self.source is not None):
            return f"generator_threads applies to generated data: tables, and {self.name} writes none"
        return ""

    def progress_total(self) -> int:
        return self.rows or self._file_rows

    def nominal_row_bytes(self) -> int:
        return self._definition.row_bytes() if self._definition is not None else data.BYTES_PER_ROW

    @property
    def definition(self):
        return self._definition

    @property
    def shared(self) -> bool:
        return self._shared

    def method_name(self) -> str:
        return "external" if self.source is not None and self.source.read_by == "hyperd" else self.method

    def staging_folder(self) -> str | None:
        return self.staging_dir

    def resolved(self, scenario):
        # rows_scale is spent: scenario.yaml records the rows that ran, and stays valid to load again
        if self.source is not None:
            files = [os.path.abspath(f) for f in self.source.files()]  # hyperd has another cwd
            fmt = self.source.file_format(files)
            # scenario.yaml records the files read, by name: loaded again, it reads the same ones (no glob)
            source = self.source.model_copy(update={"path": files})
            phase = self.model_copy(update={"rows_scale": None, "source": source})
            phase._files, phase._format = files, fmt
            phase._file_rows = parquet_rows(files) if fmt == "parquet" else 0  # for progress; csv: unknown until read
            if self.table is not None:  # a declared table: the files' columns are mapped onto it by name
                phase._definition = scenario.data[self.table]
                phase._shared = phase._definition.shared(self.table) and scenario.server.database == "shared"
                return phase
            phase._definition = tables.file_table(file_schema(phase._files[0], phase._format), phase._files[0])
            phase._shared = "worker" not in placeholders(self.source.table) and scenario.server.database == "shared"
            return phase
        phase = self.model_copy(update={"rows": self.total_rows(scenario), "rows_scale": None})
        if self.table is not None:
            definition = scenario.data[self.table]
            phase._definition = definition
            phase._shared = definition.shared(self.table) and scenario.server.database == "shared"
        return phase


class InsertWorkload(Workload):
    def setup(self) -> None:
        ctx, phase = self.ctx, self.phase
        total = phase.rows or phase._file_rows
        self.rows = data.worker_range(ctx.worker, ctx.workers, total) if total else data.RowRange(0, 0)
        self.definition = phase.definition
        self.facts: dict = {}  # of the rows read from files (generated rows keep theirs in self.generated)
        self.facts_rows = 0  # rows the facts cover
        self.generated = None
        if self.definition is None:
            ctx.state.pop("rows", None)  # the table is about to hold something else
            self.table_sql, self.schema = ctx.table_sql, data.ARROW_SCHEMA
            create = f"CREATE TABLE {ctx.table_sql} ({data.COLUMNS_SQL})"
        else:
            from tableauhyperapi import TableName  # here: validation must not load the library

            if phase.source is not None:
                if phase.table is None:
                    self.table = TableName(phase.source.table.format(worker=ctx.worker))
                else:
                    self.table = TableName(self.definition.table_name(phase.table, ctx.worker))
                by_row_group = phase.source.read_by == "client"  # hyperd reads whole files
                self.units = file_units(phase._files, phase._format, ctx.workers, ctx.worker, by_row_group)
            else:
                self.table = TableName(self.definition.table_name(phase.table, ctx.worker))
            self.table_sql, self.schema = str(self.table), self.definition.arrow_schema()
            ctx.state.setdefault("tables", {}).pop(self.state_key, None)
            create = self.definition.create_sql(self.table_sql)
            if phase.shared and ctx.owns_database:
                # There is no barrier at the end of a phase: a slower worker may still be writing into a shared
                # table of the previous phase (found by verification: a re-created table lost its rows). Wait
                # until the last worker has checked that table (all writes are done by then) before dropping.
                for folder in ctx.state.pop("shared_writes", []):
                    wait_for_check(folder, ctx.stop)
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

    def _batches(self, chunk: data.RowRange):
        """The chunk's record batches; for a definition, its facts are accumulated as they are generated."""
        if self.definition is None:
            yield from data.iter_record_batches(chunk, self.phase.batch_rows)
            return
        yield from self.generated.batches(chunk, self.phase.batch_rows)

    @property
    def state_key(self) -> str:
        """What later phases know the loaded table by: the data: key, or the source's table."""
        return self.phase.table or self.phase.source.table

    def run(self, recorder) -> None:
        if self.phase.source is not None:
            return self._run_files(recorder)
        if self.definition is None:
            return getattr(self, "_run_" + self.phase.method)(recorder)
        threads = self.phase.generator_threads or row_blocks.auto_threads(self.ctx.workers)
        self.generated = row_blocks.GeneratedRows(
            self.definition, self.phase.table, self.ctx.seed, self.ctx.worker, self.rows, threads
        )
        with self.generated:
            getattr(self, "_run_" + self.phase.method)(recorder)

    def _run_files(self, recorder) -> None:
        """external: one COPY per file, hyperd reads it itself. Client-side, the worker's units (row groups or
        files) are read here batch by batch (memory bounded by the batch) and sent in COPYs of about
        rows_per_copy rows each, as generated rows are: one COPY (one commit) per small row group cost more than
        the reading. `arrow` stages the next file on a helper thread while hyperd copies the current one."""
        from tableauhyperapi import escape_string_literal

        if self.phase.source.read_by == "hyperd":
            from tableauhyperapi import HyperException

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
            return self._run_rows(recorder)
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
        names = ", ".join(tables.quote(c.name) for c in self.definition.columns)
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
            generators.merge_facts(self.facts, generators.batch_facts(self.definition, batch))
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
            yield data.RowRange(start, min(size, self.rows.stop - start))

    def _run_rows(self, recorder) -> None:
        """One Inserter per load of at most row_loads.LOAD_BYTES: each load is one COPY and one commit (why:
        loadgen/row_loads.py). Each add_rows call is an operation (making the rows included), and so is each
        load's execute, which counts the rows it committed; a stopped phase discards the load it was filling."""
        table = self.ctx.table if self.definition is None else self.table
        with row_loads.Loads(self.ctx.connection, table) as loads:
            pieces = self._row_pieces()
            while True:
                t0 = time.perf_counter_ns()
                piece = next(pieces, None)
                if piece is None:
                    break
                rows, count, size = piece
                made_ns = time.perf_counter_ns() - t0
                if loads.full(size):
                    self._execute(loads, recorder)
                t0 = time.perf_counter_ns()
                loads.add(rows, count, size)
                recorder.record("add_rows", made_ns + time.perf_counter_ns() - t0)
                recorder.sending(count)
            if not self.ctx.stop.is_set():
                self._execute(loads, recorder)

    @staticmethod
    def _execute(loads, recorder) -> None:
        t0 = time.perf_counter_ns()
        committed = loads.commit()
        recorder.record("execute", time.perf_counter_ns() - t0, committed)

    def _row_pieces(self):
        """(Python rows, count, size bound) of the worker's rows, each at most row_loads.LOAD_BYTES, until the run
        stops: the canonical rows by the chunk, a definition's or the files' batches converted column-wise."""
        if self.phase.source is not None:
            batches = self._file_batches()
        elif self.definition is None:
            per_piece = max(1, min(self.phase.batch_rows, row_loads.LOAD_BYTES // CANONICAL_ROW_BOUND))
            for chunk in self._chunks(per_piece):
                yield data.python_rows(chunk.start, chunk.count), chunk.count, chunk.count * CANONICAL_ROW_BOUND
            return
        else:
            batches = (b for chunk in self._chunks(self.phase.batch_rows) for b in self._batches(chunk))
        for batch in row_loads.bounded(batches):
            rows = zip(*map(inserter_values, batch.columns), strict=True)
            yield rows, batch.num_rows, row_loads.size_bound(batch)

    def _run_arrow(self, recorder) -> None:
        """Stage the next file on a helper thread while hyperd copies the current one (numpy, pyarrow and the
        COPY call all release the GIL), so the client's work hides behind the server's. At most two staged files
        exist at a time. Each COPY statement is one `copy` operation."""
        from tableauhyperapi import escape_string_literal

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

    def _stage(self, files: contextlib.ExitStack, chunk: data.RowRange) -> str:
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
            results.write_json(Path(folder, f"{self.ctx.worker}.json"), mine)
            names = [n for n in os.listdir(folder) if n.endswith(".json")]
            claimed = len(names) >= self.ctx.workers and claim(os.path.join(folder, "checker"))
            if not claimed:  # someone is still inserting, or another worker checks; the last one checks
                # the table's rows as later query phases expect them (if the check fails, so does the phase)
                if self.phase.source is None:
                    self.ctx.state.setdefault("tables", {})[self.state_key] = self.rows.count * self.ctx.workers
                return {"verified": "ok", "detail": "shared table: checked by the last worker to finish",
                        "expected_rows": mine["rows"], "counted_rows": ""}  # fmt: skip
            total = {"rows": 0, "columns": {}}
            for name in names:
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    facts = json.load(handle)
                total["rows"] += facts["rows"]
                generators.merge_facts(total["columns"], facts["columns"])
            try:
                result = check_table(self.ctx.connection, self.table_sql, self.definition, total)
            finally:
                results.write_json(Path(folder, "checked"), {"checked": True})  # the next phase may drop it now
            result["detail"] = ("shared table, all workers: " + result["detail"]).rstrip(": ")
        if result["verified"] == "ok":
            self.ctx.state.setdefault("tables", {})[self.state_key] = result["counted_rows"]
        return result

    def _facts_dir(self, clear: bool = False) -> str:
        import shutil
        import tempfile

        base = self.ctx.run_dir or tempfile.gettempdir()
        folder = os.path.join(base, "facts", self.phase.name)
        if clear:
            shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)
        return folder


def inserter_values(array: pa.Array) -> list:
    """A column's values as the Inserter takes them: an Arrow interval becomes tableauhyperapi's Interval."""
    if array.type != pa.month_day_nano_interval():
        return array.to_pylist()
    from tableauhyperapi import Interval

    return [None if v is None else Interval(v.months, v.days, v.nanoseconds // 1000) for v in array.to_pylist()]


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
