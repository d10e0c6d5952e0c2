"""Bulk insert of the canonical rows (or of a `data:` table definition's generated rows, `table: KEY`, or of
files, `source:`) into the worker's own table, or into one table all workers share (re-created at the start of
the phase).

Methods (loadgen/transfer/writers.py):
  rows          tableauhyperapi Inserter; values converted column-wise in bulk, then add_rows per batch; one
                Inserter (one COPY, one commit) per ~8 MiB of rows (loadgen/transfer/row_loads.py)
  arrow         Arrow IPC stream staged in a tmpfs file, then COPY t FROM 'file' WITH (FORMAT arrowstream)
  arrow_stream  Arrow IPC over the PostgreSQL protocol: COPY t FROM STDIN WITH (FORMAT arrowstream)
Each COPY is one operation in the latency histogram; for `rows`, each add_rows batch and each load's execute
(which counts the rows: they are committed then) are.

A definition's table is verified from facts the worker accumulates while generating (datagen/facts.py) against
the server's aggregates. A table all workers share is checked by worker 0 against the sum of every worker's facts,
exchanged through the coordinator once every worker has written its rows (ctx.gather).
"""

from tableauhyperapi import TableName, escape_string_literal

from loadgen.datagen import blocks, canonical, canonical_batches
from loadgen.datagen.arrow import arrow_schema
from loadgen.datagen.checks import check_table
from loadgen.datagen.definitions import quote
from loadgen.datagen.facts import batch_facts, merge_facts
from loadgen.transfer import row_loads, staging, writers
from loadgen.transfer.files import file_units, read_unit
from loadgen.workloads.contract import Workload
from loadgen.workloads.insert.state import CanonicalTable, LoadedTables

# row_loads.size_bound of a canonical row: its 24 Arrow bytes and 2 per value
CANONICAL_ROW_BOUND = canonical.BYTES_PER_ROW + 2 * len(canonical_batches.ARROW_SCHEMA)


class InsertWorkload(Workload):
    def setup(self) -> None:
        ctx, phase = self.ctx, self.phase
        total = phase.rows or phase._file_rows
        self.rows = canonical.worker_range(ctx.worker, ctx.workers, total) if total else canonical.RowRange(0, 0)
        self.definition = phase.definition
        self.facts: dict = {}  # of the rows read from files (generated rows keep theirs in self.generated)
        self.facts_rows = 0  # rows the facts cover
        self.generated = None
        self.staged = None  # method arrow: writers.StagedFiles
        if self.definition is None:
            ctx.shared(CanonicalTable).rows = None  # the table is about to hold something else
            self.table, self.table_sql, self.schema = ctx.table, ctx.table_sql, canonical_batches.ARROW_SCHEMA
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
            ctx.shared(LoadedTables).rows.pop(self.state_key, None)
            create = self.definition.create_sql(self.table_sql)
        # a shared table is re-created by worker 0 alone, before the barrier releases anyone into it (every worker's
        # writes of an earlier phase into it ended before that phase's verification, which gathers every worker)
        if self.definition is None or not phase.shared or ctx.owns_database:
            ctx.connection.execute_command(f"DROP TABLE IF EXISTS {self.table_sql}")
            ctx.connection.execute_command(create)
        if phase.method == "arrow_stream":
            ctx.pg_connection()  # connect before the barrier so the timed part measures only the COPYs
        elif phase.method == "arrow":
            needed = min(phase.rows_per_copy, self.rows.count) * phase.nominal_row_bytes() * 2
            self.staged = writers.StagedFiles(self._copy_chunks(), staging.choose_dir(phase.staging_dir, needed))
            if self.definition is None:  # the first file staged before the barrier: the first COPY starts at once
                self.staged.prepare()

    @property
    def state_key(self) -> str:
        """What later phases know the loaded table by: the data: key, or the source's table."""
        return self.phase.table or self.phase.source.table

    def run(self, recorder) -> None:
        if self.phase.source is not None or self.definition is None:
            return self._send(recorder)
        threads = self.phase.generator_threads or blocks.auto_threads(self.ctx.workers)
        self.generated = blocks.GeneratedRows(
            self.definition, self.phase.table, self.ctx.seed, self.ctx.worker, self.rows, threads
        )
        with self.generated:
            self._send(recorder)

    def _send(self, recorder) -> None:
        """The worker's rows through the phase's method, each statement one operation; for method rows each
        add_rows call (making its rows included) and each load's execute, which counts the rows it committed."""
        method, connection = self.phase.method, self.ctx.connection
        if self.phase.source is not None and self.phase.source.read_by == "hyperd":
            sent = writers.server_reads(connection, self._server_reads())
        elif method == "rows":
            chunk = writers.Chunk(self.table, self.schema, self._row_pieces(), "execute")
            sent = writers.inserted_rows(connection, [chunk], self.ctx.stop)
        elif method == "arrow_stream":
            sent = writers.stream_copies(self.ctx.pg_connection(), self._copy_chunks(), recorder)
        else:
            sent = self.staged.copies(connection)
        for done in sent:
            if done.kind == "add":
                recorder.record("add_rows", done.ns)
                recorder.sending(done.rows)
            else:
                recorder.record(done.chunk.name, done.ns, done.rows)

    def _ranges(self, size: int):
        """The worker's rows in ranges of `size`, until the run stops."""
        for start in range(self.rows.start, self.rows.stop, size):
            if self.ctx.stop.is_set():
                return
            yield canonical.RowRange(start, min(size, self.rows.stop - start))

    def _copy_chunks(self):
        """Chunks of about rows_per_copy rows, one COPY each: files read here, a definition's generated rows (their
        facts counted as they are handed out), or the canonical rows."""
        if self.phase.source is not None:
            for part in writers.cut(self._file_batches(), self.phase.rows_per_copy):
                yield writers.Chunk(self.table, self.schema, part)
            return
        for chunk in self._ranges(self.phase.rows_per_copy):
            if self.definition is not None:
                batches = self.generated.batches(chunk, self.phase.batch_rows)
            else:
                batches = canonical_batches.iter_record_batches(chunk, self.phase.batch_rows)
            yield writers.Chunk(self.table, self.schema, batches)

    def _row_pieces(self):
        """Method rows: the canonical rows straight to Python values (no Arrow in between) in pieces of batch_rows
        (at most row_loads.LOAD_BYTES), or the batches of a definition's generated rows or of the files."""
        if self.phase.source is not None:
            yield from self._file_batches()
        elif self.definition is None:
            per_piece = max(1, min(self.phase.batch_rows, row_loads.LOAD_BYTES // CANONICAL_ROW_BOUND))
            for chunk in self._ranges(per_piece):
                rows = canonical_batches.python_rows(chunk.start, chunk.count)
                yield writers.RowPiece(rows, chunk.count, chunk.count * CANONICAL_ROW_BOUND)
        else:
            for chunk in self._ranges(self.phase.batch_rows):
                yield from self.generated.batches(chunk, self.phase.batch_rows)

    def _file_batches(self):
        """Every batch of the worker's units (row groups or files), in order, batch by batch (memory bounded by
        the batch), until the run stops."""
        for unit in self._units():
            yield from self._read(unit)

    def _server_reads(self):
        """hyperd reads the worker's files itself: one statement per file."""
        for unit in self._units():
            yield writers.ServerRead(self.table, unit[0], self._server_read_sql(escape_string_literal(unit[0])))

    def _units(self):
        """The worker's units of the files, until the run stops."""
        for unit in self.units:
            if self.ctx.stop.is_set():
                return
            yield unit

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

    def _read(self, unit):
        """The unit's batches; the facts of what was read are accumulated on the way."""
        for batch in read_unit(unit, self.phase._format, self.schema, self.phase.batch_rows):
            merge_facts(self.facts, batch_facts(self.definition, batch))
            self.facts_rows += batch.num_rows
            yield batch

    def close(self) -> None:
        if self.staged is not None:
            self.staged.close()

    def verify(self) -> dict:
        if self.definition is not None:
            return self._verify_definition()
        result = verify_table(self.ctx.connection, self.ctx.table_sql, self.rows)
        if result["verified"] == "ok":
            self.ctx.shared(CanonicalTable).rows = self.rows  # later query phases check their results against this
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
            everyone = self.ctx.gather(mine)  # every worker has written all its rows when this returns
            if not self.ctx.owns_database:  # worker 0 checks the table against every worker's facts
                # the table's rows as later query phases expect them (if the check fails, so does the phase)
                if self.phase.source is None:
                    self.ctx.shared(LoadedTables).rows[self.state_key] = self.rows.count * self.ctx.workers
                return {"verified": "ok", "detail": "shared table: checked by worker 0",
                        "expected_rows": mine["rows"], "counted_rows": None}  # fmt: skip
            total = {"rows": sum(facts["rows"] for facts in everyone), "columns": {}}
            for facts in everyone:
                merge_facts(total["columns"], facts["columns"])
            result = check_table(self.ctx.connection, self.table_sql, self.definition, total)
            result["detail"] = ("shared table, all workers: " + result["detail"]).rstrip(": ")
        if result["verified"] == "ok":
            self.ctx.shared(LoadedTables).rows[self.state_key] = result["counted_rows"]
        return result


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
