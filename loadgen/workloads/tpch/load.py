"""tpch_load as a worker runs it: the parts of every table spread over the workers, loaded by arrow | arrow_stream |
rows | external, then each table checked against the files' manifest and the specification."""

import contextlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tableauhyperapi import Inserter, escape_string_literal

from loadgen.transfer import staging
from loadgen.transfer.copy_io import CopyWriter
from loadgen.workloads.contract import Workload
from loadgen.workloads.tpch import cache
from loadgen.workloads.tpch import data as tdata
from loadgen.workloads.tpch.common import (
    load_parquet_reader,
    notes_dir,
    require_data,
    table_name,
    table_sql,
    take_notes,
    token,
    wait_until,
    write_note,
)
from loadgen.workloads.tpch.schema import (
    CHECKSUM_COLUMNS,
    TABLES,
    cast_batch,
    create_sql,
    hyper_arrow_schema,
    spec_rows,
)


class TpchLoadWorkload(Workload):
    def setup(self) -> None:
        ctx, phase = self.ctx, self.phase
        self.folder, self.manifest = require_data(ctx, phase)
        if ctx.owns_database:
            self._create_tables()
        shares = tdata.assign_files(tdata.table_files(self.manifest), ctx.workers, by_table=not phase.split_tables)
        self.files = shares[ctx.worker]
        self.loaded: dict[str, dict] = {}  # table → rows, seconds (this worker)
        self.problems: list[str] = []
        self.key = f"{phase.name}.load-{token(ctx.endpoint, ctx.database)}"
        if phase.method != "external":
            load_parquet_reader()  # untimed: a library import, not data work (~0.8 s of CPU on the first use)
        if phase.method == "arrow_stream":
            ctx.pg_connection()
        elif phase.method == "arrow":
            biggest = max((f[2] for f in self.files), default=0)
            self.staging_dir = staging.choose_dir(phase.staging_dir, 4 * biggest)

    def _created_file(self) -> Path:
        """Which TPC-H tables this run created in this database: kept in the run folder, as repetitions run in
        fresh worker processes (whose ctx.state starts empty) against the same database."""
        return notes_dir(self.ctx.run_dir) / f"created-{token(self.ctx.endpoint, self.ctx.database)}.json"

    def _create_tables(self) -> None:
        connection, record = self.ctx.connection, self._created_file()
        created = set(json.loads(record.read_text(encoding="utf-8"))) if record.exists() else set()
        existing = [t for t in TABLES if connection.catalog.has_table(table_name(t))]
        foreign = [t for t in existing if t not in created]
        if foreign and not self.phase.replace_existing:
            raise RuntimeError(
                f"table(s) {', '.join(foreign)} exist already in the database and were not created by this run; "
                f"loadgen does not drop them unless phase {self.phase.name} sets replace_existing: true"
            )
        for table in existing:
            connection.execute_command(f"DROP TABLE {table_sql(table)}")
        record.parent.mkdir(parents=True, exist_ok=True)
        for table in TABLES:
            connection.execute_command(create_sql(table, table_sql(table)))
            created.add(table)
            record.write_text(json.dumps(sorted(created)), encoding="utf-8")

    def _note(self, table: str, rows: int, elapsed_ns: int, recorder) -> None:
        recorder.record(table, elapsed_ns, rows)
        entry = self.loaded.setdefault(table, {"rows": 0, "seconds": 0.0})
        entry["rows"] += rows
        entry["seconds"] += elapsed_ns / 1e9

    def _check_count(self, table: str, path: str, reported, expected: int) -> None:
        if reported is not None and reported != expected:
            self.problems.append(f"{table}: {path} inserted {reported} rows, expected {expected}")

    def run(self, recorder) -> None:
        getattr(self, "_run_" + self.phase.method)(recorder)

    def _batches(self, path: Path):
        """The file's record batches in the schema Hyper takes. The text columns are decoded straight to string
        (not to the files' string_view and then cast), on this thread only: pyarrow's decoding threads would
        compete with hyperd's COPY for the same cores (single-threaded decoding measured 2× cheaper here)."""
        target = hyper_arrow_schema(pq.read_schema(path))
        dataset = load_parquet_reader().dataset(path, format="parquet", schema=target)
        for batch in dataset.to_batches(batch_size=self.phase.batch_rows, use_threads=False):
            yield cast_batch(batch, target), target

    def _chunks(self):
        """(table, path, schema, batch iterator of at most rows_per_copy rows) over this worker's files."""
        for table, rel, _bytes, _rows in self.files:
            if self.ctx.stop.is_set():
                return
            batches = self._batches(self.folder / rel)
            pending = next(batches, None)
            while pending is not None:
                chunk, rows = [], 0
                while pending is not None and rows < self.phase.rows_per_copy:
                    chunk.append(pending[0])
                    rows += pending[0].num_rows
                    pending = next(batches, None)
                yield table, rel, chunk[0].schema, chunk, rows

    def _run_arrow(self, recorder) -> None:
        """Stage the next file on a helper thread while hyperd copies the current one (as insert does)."""
        connection = self.ctx.connection
        chunks = self._chunks()
        with contextlib.ExitStack() as files, ThreadPoolExecutor(max_workers=1) as stager:
            staged = stager.submit(self._stage, files, chunks)
            while True:
                item = staged.result()
                if item is None:
                    return
                staged = stager.submit(self._stage, files, chunks)
                table, rel, rows, path = item
                t0 = time.perf_counter_ns()
                count = connection.execute_command(
                    f"COPY {table_sql(table)} FROM {escape_string_literal(path)} WITH (FORMAT arrowstream)"
                )
                self._note(table, rows, time.perf_counter_ns() - t0, recorder)
                self._check_count(table, rel, count, rows)
                os.unlink(path)

    def _stage(self, files: contextlib.ExitStack, chunks):
        item = next(chunks, None)
        if item is None:
            return None
        table, rel, schema, batches, rows = item
        path = files.enter_context(staging.staged_file(self.staging_dir))
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
        return table, rel, rows, path

    def _run_arrow_stream(self, recorder) -> None:
        with self.ctx.pg_connection().cursor() as cursor:
            for table, rel, schema, batches, rows in self._chunks():
                t0 = time.perf_counter_ns()
                with cursor.copy(f"COPY {table_sql(table)} FROM STDIN WITH (FORMAT arrowstream)") as copy:
                    sink = pa.PythonFile(CopyWriter(copy), mode="w")
                    with pa.ipc.new_stream(sink, schema) as writer:
                        for batch in batches:
                            writer.write_batch(batch)
                self._note(table, rows, time.perf_counter_ns() - t0, recorder)
                self._check_count(table, rel, cursor.rowcount if cursor.rowcount >= 0 else None, rows)

    def _run_rows(self, recorder) -> None:
        for table, rel, _bytes, rows in self.files:
            if self.ctx.stop.is_set():
                return
            t0 = time.perf_counter_ns()
            with Inserter(self.ctx.connection, table_name(table)) as inserter:
                for batch, _schema in self._batches(self.folder / rel):
                    inserter.add_rows(zip(*(column.to_pylist() for column in batch.columns), strict=True))
                inserter.execute()
            self._note(table, rows, time.perf_counter_ns() - t0, recorder)

    def _run_external(self, recorder) -> None:
        for table, rel, _bytes, rows in self.files:
            if self.ctx.stop.is_set():
                return
            path = escape_string_literal(str(self.folder / rel))
            t0 = time.perf_counter_ns()
            count = self.ctx.connection.execute_command(
                f"INSERT INTO {table_sql(table)} SELECT * FROM external({path})"
            )
            self._note(table, rows, time.perf_counter_ns() - t0, recorder)
            self._check_count(table, rel, count, rows)

    def verify(self) -> dict:
        ctx = self.ctx
        folder = notes_dir(ctx.run_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{self.key}.w{ctx.worker}.done").write_text("", encoding="utf-8")
        write_note(ctx.run_dir, self.phase.name, f"w{ctx.worker}", {"worker": ctx.worker, "tables": self.loaded})
        own_rows = sum(f[3] for f in self.files)
        if self.problems:
            return {"verified": "failed", "detail": "; ".join(self.problems)}
        ctx.state["tpch_loaded"] = {"sf": self.phase.scale_factor, "dir": str(self.folder)}
        if not ctx.owns_database:
            return {"verified": "ok", "detail": "", "expected_rows": own_rows, "counted_rows": own_rows}
        markers = [folder / f"{self.key}.w{w}.done" for w in range(ctx.workers)]
        if not wait_until(lambda: all(m.exists() for m in markers), ctx.stop, "the other workers' loads"):
            return {"verified": "unchecked", "detail": "stopped"}
        for marker in markers:
            with contextlib.suppress(OSError):
                marker.unlink()
        return self._check_tables()

    def _check_tables(self) -> dict:
        """COUNT(*), SUM(key) and SUM(money) of each table against the files' (manifest) and the specification."""
        problems, expected_total, counted_total = [], 0, 0
        for table, info in self.manifest["tables"].items():
            key, money = CHECKSUM_COLUMNS[table]
            sums = f"SUM({key})" + (f", SUM({money})" if money else "")
            row = self.ctx.connection.execute_list_query(f"SELECT COUNT(*), {sums} FROM {table_sql(table)}")[0]
            count, sum_key = row[0], row[1] or 0
            expected_total += info["rows"]
            counted_total += count
            if count != info["rows"]:
                problems.append(f"{table}: COUNT(*) = {count}, the files hold {info['rows']}")
            spec = spec_rows(table, self.phase.scale_factor)
            if spec is not None and count != spec:
                problems.append(f"{table}: COUNT(*) = {count}, the specification says {spec}")
            if sum_key != info["sum_key"]:
                problems.append(f"{table}: SUM({key}) = {sum_key}, the files' is {info['sum_key']}")
            if money and str(row[2]) != str(cache._decimal(info["sum_money"])):
                problems.append(f"{table}: SUM({money}) = {row[2]}, the files' is {info['sum_money']}")
        return {
            "verified": "failed" if problems else "ok",
            "detail": "; ".join(problems),
            "expected_rows": expected_total,
            "counted_rows": counted_total,
        }

    @classmethod
    def after_phase(cls, phase, outcome, output) -> list[str]:
        run_dir = output.dir
        notes = take_notes(run_dir, phase.name)
        tables: dict[str, dict] = {}
        for note in notes:
            for table, entry in note["tables"].items():
                total = tables.setdefault(table, {"rows": 0, "seconds": 0.0})
                total["rows"] += entry["rows"]
                total["seconds"] += entry["seconds"]
        if not tables:
            return []
        wall = outcome["summary"]["wall_s"]
        rows = sum(t["rows"] for t in tables.values())
        lines = [
            f"TPC-H load ({phase.method}, {len(notes)} workers, SF {tdata.sf_text(phase.scale_factor)}): "
            f"{rows:,} rows in {wall:.2f} s ({rows / wall / 1e6 if wall > 0 else 0:.2f}M rows/s); "
            "time per table summed over the workers:"
        ]
        for table in TABLES:
            if table in tables:
                t = tables[table]
                lines.append(f"  {table:<9} {t['rows']:>12,} rows {t['seconds']:>9.3f} s")
        return lines
