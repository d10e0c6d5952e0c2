"""<suite>_load as a worker runs it: the files of every table spread over the workers, loaded by arrow |
arrow_stream | rows | external, then each table checked against the files' manifest and the specification."""

import time
from pathlib import Path

import pyarrow.parquet as pq
from tableauhyperapi import SchemaName, escape_string_literal

from loadgen.transfer import staging, writers
from loadgen.workloads.contract import Workload
from loadgen.workloads.suites import cache, layout
from loadgen.workloads.suites.common import (
    blame_data,
    damage_found,
    load_parquet_reader,
    require_data,
    table_name,
    table_sql,
)


def cast_batch(batch, target):
    """`batch` with each column cast to the target schema's type where they differ (string_view → string)."""
    import pyarrow as pa

    pairs = zip(batch.columns, target, strict=True)
    columns = [col if col.type == field.type else col.cast(field.type) for col, field in pairs]
    return pa.RecordBatch.from_arrays(columns, schema=target)


class LoadWorkload(Workload):
    def setup(self) -> None:
        ctx, phase = self.ctx, self.phase
        self.suite = phase.suite
        self.folder, self.manifest = require_data(ctx, phase)
        if ctx.owns_database:
            self._create_tables()
        shares = layout.assign_files(layout.table_files(self.manifest), ctx.workers, by_table=not phase.split_tables)
        self.files = shares[ctx.worker]
        self.expected = {rel: rows for _table, rel, _bytes, rows in self.files}  # rows per file, as the manifest says
        self.loaded: dict[str, dict] = {}  # table → rows, seconds (this worker)
        self.problems: list[str] = []
        if phase.method != "external":
            load_parquet_reader()  # untimed: a library import, not data work (~0.8 s of CPU on the first use)
        if phase.method == "arrow_stream":
            ctx.pg_connection()
        elif phase.method == "arrow":
            biggest = max((f[2] for f in self.files), default=0)
            self.staging_dir = staging.choose_dir(phase.staging_dir, 4 * biggest)

    def _create_tables(self) -> None:
        """The suite's tables, created anew. Existing ones are dropped only when the run created the database (so
        they are its own, e.g. an earlier repetition's) or the phase says replace_existing."""
        connection, suite = self.ctx.connection, self.suite
        derived = [(t, suite.derived_schema) for t, _sql, _rows in suite.derived_tables({})]
        ours = [(t, suite.schema) for t in suite.tables] + derived
        existing = [(t, schema) for t, schema in ours if connection.catalog.has_table(table_name(t, schema))]
        if existing and not (self.ctx.database_is_new or self.phase.replace_existing):
            shown = ", ".join(t if schema == "public" else f"{schema}.{t}" for t, schema in existing)
            raise RuntimeError(
                f"table(s) {shown} exist already in the database and were not created by this run; "
                f"loadgen does not drop them unless phase {self.phase.name} sets replace_existing: true"
            )
        for table, schema in existing:
            connection.execute_command(f"DROP TABLE {table_sql(table, schema)}")
        for schema in {schema for _t, schema in ours}:
            connection.catalog.create_schema_if_not_exists(SchemaName(schema))
        for table in suite.tables:
            connection.execute_command(suite.create_sql(table, table_sql(table, suite.schema)))

    def run(self, recorder) -> None:
        """Every file of this worker's share through the phase's method (loadgen/transfer/writers.py); each
        statement is an operation named after its table (method rows: each load, from its first add_rows to its
        commit). A failure that damaged data would explain names the damage (and deletes the damaged files)."""
        try:
            self._load(recorder)
            if self.suite.derived_tables({}):
                self.ctx.gather(None)  # every worker's load is in
                if self.ctx.owns_database:
                    self._derive(recorder)
        except Exception as exc:
            found = "" if self.ctx.stop.is_set() else damage_found(self.suite, self.folder, self.phase.scale_factor)
            if found:
                raise RuntimeError(f"{found} (the load failed: {type(exc).__name__}: {exc})") from exc
            raise

    def _load(self, recorder) -> None:
        method, connection = self.phase.method, self.ctx.connection
        if method == "external":
            sent = writers.server_reads(connection, self._reads())
        elif method == "rows":
            sent = writers.inserted_rows(connection, self._chunks(whole_files=True), self.ctx.stop)
        elif method == "arrow_stream":
            sent = writers.stream_copies(self.ctx.pg_connection(), self._chunks(), recorder)
        else:
            sent = writers.staged_copies(connection, self._chunks(), self.staging_dir)
        adding_ns = 0  # method rows: the open load's add_rows so far
        for done in sent:
            if done.kind == "add":
                adding_ns += done.ns
                continue
            table, rel = done.chunk.name, done.chunk.label
            rows = self.expected[rel] if method == "external" else done.rows
            self._note(table, rows, adding_ns + done.ns, recorder)
            adding_ns = 0
            if done.reported is not None and done.reported != rows:
                self.problems.append(f"{table}: {rel} inserted {done.reported} rows, expected {rows}")

    def _derive(self, recorder) -> None:
        """Build the suite's derived tables from the loaded ones (SSB's from TPC-H's), each an operation."""
        loaded = {t: info["rows"] for t, info in self.manifest["tables"].items()}
        self.derived = []
        for table, sql, rows in self.suite.derived_tables(loaded):
            if self.ctx.stop.is_set():
                return
            t0 = time.perf_counter_ns()
            self.ctx.connection.execute_command(sql)
            self._note(f"{self.suite.derived_schema}.{table}", rows, time.perf_counter_ns() - t0, recorder)
            self.derived.append((table, rows))

    def _note(self, table: str, rows: int, elapsed_ns: int, recorder) -> None:
        recorder.record(table, elapsed_ns, rows)
        entry = self.loaded.setdefault(table, {"rows": 0, "seconds": 0.0})
        entry["rows"] += rows
        entry["seconds"] += elapsed_ns / 1e9

    def _files(self):
        """This worker's files, until the run stops."""
        for table, rel, _bytes, _rows in self.files:
            if self.ctx.stop.is_set():
                return
            yield table, rel

    def _batches(self, path: Path, target):
        """The file's record batches in the schema Hyper takes. The text columns are decoded straight to string
        (not to the files' string_view and then cast), on this thread only: pyarrow's decoding threads would
        compete with hyperd's COPY for the same cores (single-threaded decoding measured 2× cheaper here)."""
        dataset = load_parquet_reader().dataset(path, format="parquet", schema=target)
        for batch in dataset.to_batches(batch_size=self.phase.batch_rows, use_threads=False):
            yield cast_batch(batch, target)

    def _chunks(self, whole_files: bool = False):
        """Chunks of at most about rows_per_copy rows, each of one file (a statement goes into one table)."""
        for table, rel in self._files():
            path = self.folder / rel
            target = self.suite.arrow_schema(table, pq.read_schema(path))
            batches = self._batches(path, target)
            for part in [batches] if whole_files else writers.cut(batches, self.phase.rows_per_copy):
                yield writers.Chunk(table_name(table, self.suite.schema), target, part, name=table, label=rel)

    def _reads(self):
        for table, rel in self._files():
            path = str(self.folder / rel)
            name, quoted = table_name(table, self.suite.schema), table_sql(table, self.suite.schema)
            sql = f"INSERT INTO {quoted} SELECT * FROM external({escape_string_literal(path)})"
            yield writers.ServerRead(name, path, sql, name=table, label=rel)

    def verify(self) -> dict:
        """After every worker's load (an exchange): the worker that created the tables checks them all."""
        ctx = self.ctx
        ctx.gather(None)
        own_rows = sum(f[3] for f in self.files)
        if self.problems:
            detail = blame_data(self.suite, "; ".join(self.problems), self.folder, self.phase.scale_factor)
            return {"verified": "failed", "detail": detail}
        if not ctx.owns_database:
            return {"verified": "ok", "detail": "", "expected_rows": own_rows, "counted_rows": own_rows}
        checked = self._check_tables()
        if checked["verified"] == "failed":
            checked["detail"] = blame_data(self.suite, checked["detail"], self.folder, self.phase.scale_factor)
        return checked

    def report(self) -> dict:
        """Rows and seconds per table this worker loaded."""
        return self.loaded

    def _check_tables(self) -> dict:
        """COUNT(*), SUM(key) and SUM(money) of each table against the files' (manifest) and the specification."""
        problems, expected_total, counted_total = [], 0, 0
        for table, info in self.manifest["tables"].items():
            key, money = self.suite.checksum_columns(table)
            sums = f"SUM({key})" + (f", SUM({money})" if money else "")
            quoted = table_sql(table, self.suite.schema)
            row = self.ctx.connection.execute_list_query(f"SELECT COUNT(*), {sums} FROM {quoted}")[0]
            count, sum_key = row[0], row[1] or 0
            expected_total += info["rows"]
            counted_total += count
            if count != info["rows"]:
                problems.append(f"{table}: COUNT(*) = {count}, the files hold {info['rows']}")
            spec = self.suite.spec_rows(table, self.phase.scale_factor)
            if spec is not None and count != spec:
                problems.append(f"{table}: COUNT(*) = {count}, the specification says {spec}")
            if sum_key != info["sum_key"]:
                problems.append(f"{table}: SUM({key}) = {sum_key}, the files' is {info['sum_key']}")
            if money and str(row[2]) != str(cache._decimal(info["sum_money"])):
                problems.append(f"{table}: SUM({money}) = {row[2]}, the files' is {info['sum_money']}")
        for table, rows in getattr(self, "derived", []):
            quoted = table_sql(table, self.suite.derived_schema)
            count = self.ctx.connection.execute_scalar_query(f"SELECT COUNT(*) FROM {quoted}")
            if count != rows:
                problems.append(f"{quoted}: COUNT(*) = {count}, built from the loaded tables it must have {rows}")
        return {
            "verified": "failed" if problems else "ok",
            "detail": "; ".join(problems),
            "expected_rows": expected_total,
            "counted_rows": counted_total,
        }

    @classmethod
    def after_phase(cls, phase, outcome, output) -> list[str]:
        notes = [r for r in outcome.reports if r is not None]
        tables: dict[str, dict] = {}
        for note in notes:
            for table, entry in note.items():
                total = tables.setdefault(table, {"rows": 0, "seconds": 0.0})
                total["rows"] += entry["rows"]
                total["seconds"] += entry["seconds"]
        if not tables:
            return []
        wall = outcome.summary["wall_s"]
        rows = sum(t["rows"] for t in tables.values())
        sf = layout.sf_text(phase.scale_factor)
        lines = [
            f"{phase.suite.label} load ({phase.method}, {len(notes)} workers, SF {sf}): "
            f"{rows:,} rows in {wall:.2f} s ({rows / wall / 1e6 if wall > 0 else 0:.2f}M rows/s); "
            "time per table summed over the workers:"
        ]
        width = max(map(len, tables))
        for table in [*phase.suite.tables, *(t for t in tables if t not in phase.suite.tables)]:
            if table in tables:
                t = tables[table]
                lines.append(f"  {table:<{width}} {t['rows']:>12,} rows {t['seconds']:>9.3f} s")
        return lines
