"""TPC-H on Hyper: generate the data (cached), load the eight tables in parallel, run the 22 queries as a power
run or as concurrent throughput streams, and check every answer against DuckDB's over the same files.

  tpch_generate  tpchgen-cli writes Parquet parts, the workers' parts in parallel; reused from the cache
  tpch_load      the parts of every table spread over the workers: arrow | arrow_stream | rows | external
  tpch_query     mode power (one stream, Q1…Q22) or throughput (S streams over the workers, Appendix A order)

The workers leave small JSON notes in RUN_DIR/.tpch/ (their part of the manifest, their stream timings); the
coordinator-side `after_phase` reads them, finalizes the cache, writes tpch.csv and prints the tables.
"""

import contextlib
import hashlib
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field, PrivateAttr, field_validator

from loadgen import row_loads, staging
from loadgen.tpch import data as tdata
from loadgen.tpch import metrics as tmetrics
from loadgen.tpch import queries as tqueries
from loadgen.tpch import reference
from loadgen.tpch.schema import CHECKSUM_COLUMNS, TABLES, cast_batch, create_sql, hyper_arrow_schema, spec_rows
from loadgen.workloads.base import WARMUP_SUFFIX, PhaseBase, Workload


def table_name(table: str):
    from tableauhyperapi import TableName

    return TableName("public", table)


def table_sql(table: str) -> str:
    """public.<table>, quoted by tableauhyperapi (imported here, not at the top: validation must not load it)."""
    from tableauhyperapi import TableName

    return str(TableName("public", table))


TPCH_WORKLOADS = ("tpch_generate", "tpch_load", "tpch_query")
NOTES = ".tpch"
POLL_S = 0.05
WAIT_S = 3600.0  # longest wait for the other workers' share of a rendezvous (they run the same phase)


# ----------------------------------------------------------------------------------------------- phases
class TpchPhaseBase(PhaseBase):
    scale_factor: float | None = Field(
        default=None, gt=0, description="TPC-H scale factor (default: that of an earlier TPC-H phase)."
    )
    data_dir: str | None = Field(
        default=None, description="Parquet cache folder (default ~/.cache/loadgen/tpch or an earlier phase's)."
    )

    def inherited(self, scenario, key: str):
        """This phase's value of `key`, else the first TPC-H phase's that sets it."""
        value = getattr(self, key)
        if value is not None:
            return value
        for phase in scenario.phases:
            if phase.workload in TPCH_WORKLOADS and getattr(phase, key, None) is not None:
                return getattr(phase, key)
        return None

    def cross_check(self, scenario):
        if self.inherited(scenario, "scale_factor") is None:
            yield ("scale_factor",), "required key is missing (set it here or on an earlier TPC-H phase)"
        generated = [
            p.scale_factor for p in scenario.phases if p.workload == "tpch_generate" and p.scale_factor is not None
        ]
        if self.workload != "tpch_generate" and self.scale_factor is not None and generated:
            if self.scale_factor not in generated:
                shown = ", ".join(f"{sf:g}" for sf in generated)
                yield (
                    ("scale_factor",),
                    f"no tpch_generate phase makes SF {self.scale_factor:g} (they make {shown}): set the scale "
                    "factor on the tpch_generate phase (e.g. --set generate.scale_factor=…); later phases inherit it",
                )
        if scenario.workers > 1 and scenario.server.database != "shared":
            yield ("workload",), "TPC-H uses one database shared by all workers: set server.database: shared"

    def resolved(self, scenario):
        update = {"scale_factor": self.inherited(scenario, "scale_factor")}
        update["data_dir"] = str(Path(self.inherited(scenario, "data_dir") or tdata.default_data_dir()).expanduser())
        return self.model_copy(update=update)

    def nominal_row_bytes(self) -> int:
        return 0  # TPC-H rows have no single width: MiB/s is left out


class TpchGeneratePhase(TpchPhaseBase):
    workload: Literal["tpch_generate"]
    parts: int | None = Field(
        default=None, ge=1, le=100_000, description="Files per table (default: max(workers, ceil(SF)))."
    )
    generator: str | None = Field(default=None, description="tpchgen-cli to run (default: the venv's, else PATH).")
    threads: int | None = Field(default=None, ge=1, description="Threads per tpchgen-cli (default: cores ÷ workers).")
    verify_cache: bool = Field(
        default=False,
        description="Compare every cached file's checksum with the manifest before reusing the cache "
        "(damaged files' parts are regenerated).",
    )
    _parts_given: bool = PrivateAttr(default=False)  # parts set in the scenario: a cache with others is not reused

    def cross_check(self, scenario):
        yield from super().cross_check(scenario)
        folder = Path(self.inherited(scenario, "data_dir") or tdata.default_data_dir()).expanduser()
        problem = tdata.writable_problem(folder)
        if problem:
            yield ("data_dir",), f"the TPC-H cache folder cannot be written: {problem}"
        binary = tdata.find_generator(self.generator)
        if binary is None:
            shown = self.generator or tdata.GENERATOR
            yield ("generator",), f"{shown} not found; {tdata.INSTALL_HINT}"
        sf = self.inherited(scenario, "scale_factor")
        if binary and sf and not problem:
            with contextlib.suppress(OSError, subprocess.SubprocessError, IndexError):  # the run reports it
                problem = tdata.not_ours(tdata.cache_dir(folder, sf, tdata.generator_version(binary)))
                if problem:
                    yield ("data_dir",), problem

    def resolved(self, scenario):
        phase = super().resolved(scenario)
        if phase.parts is None:
            phase = phase.model_copy(update={"parts": tdata.default_parts(phase.scale_factor, scenario.workers)})
        else:
            phase._parts_given = True
        return phase

    def parts_asked(self) -> int | None:
        """The parts the scenario sets (a cache with others is regenerated), None when they are the default."""
        return self.parts if self._parts_given else None


class TpchLoadPhase(TpchPhaseBase):
    workload: Literal["tpch_load"]
    method: Literal["arrow", "arrow_stream", "rows", "external"] = "arrow"
    replace_existing: bool = Field(
        default=False, description="Drop TPC-H tables that exist already (never done otherwise)."
    )
    batch_rows: int = Field(default=65_536, ge=1, le=10_000_000, description="Rows per Arrow record batch.")
    rows_per_copy: int = Field(default=1_000_000, ge=1, description="Rows per COPY statement (arrow methods).")
    staging_dir: str | None = Field(default=None, description="Folder for staged Arrow files (default /dev/shm).")
    split_tables: bool = Field(
        default=False,
        description="Spread a table's files over several workers (default: each table is loaded by one worker).",
    )

    def method_name(self) -> str:
        return self.method

    def staging_folder(self) -> str | None:
        return self.staging_dir


class TpchQueryPhase(TpchPhaseBase):
    workload: Literal["tpch_query"]
    mode: Literal["power", "throughput"] = "power"
    streams: int | None = Field(default=None, ge=1, le=1000, description="Concurrent query streams (throughput).")
    queries: list[int] = Field(
        default_factory=lambda: list(tqueries.QUERY_NUMBERS), min_length=1, description="Query numbers to run."
    )
    repetitions: int = Field(default=1, ge=1, le=10_000, description="Times each stream runs its query list.")
    warmup: int = Field(default=0, ge=0, le=100, description="Untimed rounds of the query list before measuring.")
    parameters: Literal["validation", "random"] = "validation"
    check_answers: bool | None = Field(
        default=None, description="Compare every answer with DuckDB's (default: with validation parameters)."
    )
    overrides: dict[int, str] = Field(
        default_factory=dict, description="Query number → SQL run by Hyper instead (checked against the standard)."
    )

    @field_validator("queries")
    @classmethod
    def _known_queries(cls, value: list[int]) -> list[int]:
        unknown = [q for q in value if q not in tqueries.QUERY_NUMBERS]
        if unknown:
            raise ValueError(f"unknown TPC-H query number(s) {unknown}; allowed: 1..22")
        if len(set(value)) != len(value):
            raise ValueError("a query number is listed twice")
        return value

    @field_validator("overrides")
    @classmethod
    def _known_overrides(cls, value: dict[int, str]) -> dict[int, str]:
        unknown = [q for q in value if q not in tqueries.QUERY_NUMBERS]
        if unknown:
            raise ValueError(f"unknown TPC-H query number(s) {unknown}; allowed: 1..22")
        return value

    def cross_check(self, scenario):
        yield from super().cross_check(scenario)
        if self.mode == "power" and (self.streams or 1) != 1:
            yield ("streams",), "a power run is one stream; use mode: throughput for concurrent streams"

    def resolved(self, scenario):
        phase = super().resolved(scenario)
        update = {}
        if phase.streams is None:
            update["streams"] = 1 if phase.mode == "power" else 2
        if phase.check_answers is None:
            update["check_answers"] = phase.parameters == "validation"
        return phase.model_copy(update=update) if update else phase

    def method_name(self) -> str:
        return "rows"  # the client path: answers come back through execute_query, row by row

    def stream_ids(self) -> list[int]:
        """Stream 0 is the power stream; throughput streams are 1…S (Appendix A numbering)."""
        return [0] if self.mode == "power" else list(range(1, self.streams + 1))

    def plan(self, stream: int, seed: int) -> list[tuple[int, str]]:
        """(query, SQL with this stream's substitution values) in the stream's order. The power stream runs
        Q1…Q22 in order; throughput stream s runs Appendix A's order for s."""
        wanted = set(self.queries)
        if self.mode == "power":
            order = [q for q in tqueries.QUERY_NUMBERS if q in wanted]
        else:
            order = tqueries.stream_order(stream, self.queries)
        if self.parameters == "validation":
            values = tqueries.VALIDATION
        else:
            rng = tqueries.stream_rng(seed, stream)  # drawn for all 22 in number order: subsets keep their values
            values = {q: tqueries.random_parameters(q, rng) for q in tqueries.QUERY_NUMBERS}
        return [(q, tqueries.render(q, values[q], self.scale_factor)) for q in order]


# ------------------------------------------------------------------------------------------------ helpers
def notes_dir(run_dir) -> Path:
    return Path(run_dir or tempfile.gettempdir()) / NOTES


def write_note(run_dir, phase: str, label: str, payload: dict) -> None:
    from loadgen import results  # results imports metrics, which imports this package: import on use

    folder = notes_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    results.write_atomic(folder / f"{phase}.{label}.json", json.dumps(payload))


def take_notes(run_dir, phase: str) -> list[dict]:
    """The notes the workers left for this phase; removed once read. The folder stays: the workers may be writing
    the next phase's notes into it already (a load's setup records the tables it creates there)."""
    out = []
    folder = notes_dir(run_dir)
    for path in sorted(folder.glob(f"{phase}.*.json")):
        with contextlib.suppress(OSError, ValueError):
            out.append(json.loads(path.read_text(encoding="utf-8")))
        with contextlib.suppress(OSError):
            path.unlink()
    return out


def wait_until(done, stop, what: str, timeout_s: float = WAIT_S) -> bool:
    """Poll `done()` until it is true (True), the run stops (False) or time runs out (an error naming `what`)."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if stop.is_set():
            return False
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up after {timeout_s:g} s waiting for {what}")
        time.sleep(POLL_S)
    return True


def token(*parts) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:12]


def load_parquet_reader():
    """pyarrow.dataset, the client-side Parquet reader. Imported on first use, not at the top (it imports pandas,
    which no other workload needs): the load's setup calls this, so the import is not part of the timed load."""
    import pyarrow.dataset as pads

    return pads


def locate_data(ctx, phase) -> Path:
    """The cache folder of this phase's scale factor: the one the generate phase used in this worker, else the
    one of the installed tpchgen-cli's version, else the newest version present."""
    known = ctx.state.get("tpch_dir")
    if known and ctx.state.get("tpch_sf") == phase.scale_factor:
        return Path(known)
    binary = tdata.find_generator()
    if binary:
        return tdata.cache_dir(Path(phase.data_dir), phase.scale_factor, tdata.generator_version(binary))
    found = sorted(Path(phase.data_dir).glob(f"sf{tdata.sf_text(phase.scale_factor)}-tpchgen-*"))
    found = [f for f in found if not tdata.cache_problem(f, phase.scale_factor)]
    return found[-1] if found else tdata.cache_dir(Path(phase.data_dir), phase.scale_factor, "unknown")


def wait_for_data(ctx, folder: Path, scale_factor: float) -> None:
    """When this worker's previous phase generated the data, worker 0 may still be finalizing it: wait for it."""
    if ctx.state.get("tpch_dir") == str(folder) and ctx.state.get("tpch_generating"):
        # not just the manifest: a stale cache being replaced has one too, until worker 0 swaps the folders
        done = ctx.state.get("tpch_stale")
        wait_until(
            lambda: tdata.read_manifest(folder) != done and not tdata.cache_problem(folder, scale_factor),
            ctx.stop,
            f"{folder} to be finalized",
        )
        ctx.state["tpch_generating"] = False


def require_data(ctx, phase) -> tuple[Path, dict]:
    folder = locate_data(ctx, phase)
    wait_for_data(ctx, folder, phase.scale_factor)
    problem = tdata.cache_problem(folder, phase.scale_factor)
    if problem:
        raise RuntimeError(
            f"no complete TPC-H data for SF {tdata.sf_text(phase.scale_factor)} in {phase.data_dir} ({problem}); "
            "add a tpch_generate phase before this one"
        )
    return folder, tdata.read_manifest(folder)


def damage_found(folder: Path, scale_factor: float) -> str:
    """After a failure that damaged data would explain: the cache's files compared with their checksums, and the
    damaged ones deleted, so that the next tpch_generate phase regenerates their parts. '' when all match."""
    damaged = tdata.remove_damaged(folder, scale_factor)
    if not damaged:
        return ""
    return (
        f"the TPC-H data in {folder} is damaged: {tdata.describe(damaged)}; deleted what is damaged: the next "
        "tpch_generate phase regenerates it"
    )


def blame_data(detail: str, folder: Path, scale_factor: float) -> str:
    """A failed verification's detail, preceded by the damage in the cache that explains it, if any."""
    found = damage_found(folder, scale_factor)
    return f"{found}. {detail}" if found else detail


# --------------------------------------------------------------------------------------------- generate
class TpchGenerateWorkload(Workload):
    def setup(self) -> None:
        ctx, phase = self.ctx, self.phase
        binary = tdata.find_generator(phase.generator)
        if binary is None:
            raise RuntimeError(f"{phase.generator or tdata.GENERATOR} not found; {tdata.INSTALL_HINT}")
        self.binary = binary
        self.version = tdata.generator_version(binary)
        self.final = tdata.cache_dir(Path(phase.data_dir), phase.scale_factor, self.version)
        foreign = tdata.not_ours(self.final)  # checked before the run too; this catches one made since
        if foreign:
            raise RuntimeError(foreign)
        self.stale_manifest = tdata.read_manifest(self.final)
        self.problem, self.keep, remake = tdata.regeneration(
            self.final, phase.scale_factor, phase.parts, phase.parts_asked(), phase.verify_cache
        )
        self.stale = self.problem if self.final.exists() else ""
        self.remake = remake if self.problem else []
        self.total = self.keep["parts"] if self.keep else phase.parts  # a repair keeps the cache's layout
        self.temp = self.final.with_name(f".{self.final.name}.tmp-{token(ctx.run_dir, ctx.endpoint, phase.name)}")
        self.parts = tdata.parts_of_worker(ctx.worker, ctx.workers, self.remake)
        self.threads = phase.threads or max(1, (os.cpu_count() or 1) // ctx.workers)
        self.generated: list[int] = []
        ctx.state["tpch_dir"], ctx.state["tpch_sf"] = str(self.final), phase.scale_factor
        ctx.state["tpch_generating"], ctx.state["tpch_stale"] = bool(self.problem), self.stale_manifest
        if self.problem:
            self._make_temp()

    def _make_temp(self) -> None:
        """Worker 0 creates the temporary folder, with loadgen's marker in it before anything else; the workers
        that generate parts wait for the marker."""
        if self.ctx.worker == 0:
            try:
                tdata.make_folder(self.temp)
            except FileExistsError:
                raise RuntimeError(f"{self.temp} exists already; loadgen does not reuse it: delete it") from None
        elif self.parts:
            wait_until((self.temp / tdata.MARKER).exists, self.ctx.stop, f"{self.temp} to be created", 60.0)

    def run(self, recorder) -> None:
        for part in self.parts:
            if self.ctx.stop.is_set():
                return
            cmd = tdata.generate_command(
                self.binary, self.phase.scale_factor, self.total, part, self.temp, self.threads
            )
            t0 = time.perf_counter_ns()
            self._run_generator(cmd)
            elapsed = time.perf_counter_ns() - t0
            rows = sum(pq.read_metadata(p).num_rows for p in tdata.files_of_part(self.temp, part))
            recorder.record("generate", elapsed, rows)
            self.generated.append(part)

    def _run_generator(self, cmd: list[str]) -> None:
        with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
            while proc.poll() is None:
                if self.ctx.stop.is_set():
                    proc.kill()
                    proc.wait()
                    return
                time.sleep(POLL_S)
            stderr = proc.stderr.read() if proc.stderr else ""
        if proc.returncode != 0:
            tail = " ".join(stderr.strip().splitlines()[-3:])
            raise RuntimeError(f"{' '.join(cmd)} exited with code {proc.returncode}: {tail}")

    def verify(self) -> dict:
        """Every worker describes its files in a note; worker 0 waits for all notes, writes the manifest and
        renames the folder into place, so the cache is complete before any worker starts the next phase's setup
        (which waits for it: see wait_for_data)."""
        ctx, phase = self.ctx, self.phase
        entries = []
        for part in self.generated:
            entries.extend(tdata.file_entry(self.temp, p) for p in tdata.files_of_part(self.temp, part))
        note = {
            "worker": ctx.worker, "final": str(self.final), "temp": str(self.temp), "version": self.version,
            "cached": not self.problem, "stale": self.stale, "entries": entries, "remade": self.remake,
            "parts": self.total, "repair": self.keep is not None,
        }  # fmt: skip
        write_note(ctx.run_dir, phase.name, f"w{ctx.worker}", note)
        rows = sum(e["rows"] for e in entries)
        ok = {"verified": "ok", "detail": "", "expected_rows": rows, "counted_rows": rows}
        if ctx.worker != 0:
            return ok
        paths = [notes_dir(ctx.run_dir) / f"{phase.name}.w{w}.json" for w in range(ctx.workers)]
        if not wait_until(lambda: all(p.exists() for p in paths), ctx.stop, "the other workers' parts"):
            return {"verified": "unchecked", "detail": "stopped"}
        notes = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
        if all(n["cached"] for n in notes):
            return ok
        all_entries = [e for n in notes for e in n["entries"]]
        try:
            if self.keep is not None:  # a repair: the undamaged files join the regenerated parts
                all_entries += tdata.link_kept(self.final, self.temp, self.keep, self.remake)
            manifest = tdata.build_manifest(self.temp, all_entries, phase.scale_factor, self.version, self.total)
            what = tdata.finalize(self.temp, self.final, manifest, self.stale_manifest)
        except ValueError as exc:
            tdata.remove_folder(self.temp)
            return {"verified": "failed", "detail": f"generated TPC-H data is incomplete: {exc}"}
        except OSError as exc:
            tdata.remove_folder(self.temp)
            return {"verified": "failed", "detail": f"cannot put the generated TPC-H data in place: {exc}"}
        write_note(ctx.run_dir, phase.name, "final", {"worker": -1, "what": what})
        return ok

    @classmethod
    def after_phase(cls, phase, outcome, run_dir) -> list[str]:
        notes = take_notes(run_dir, phase.name)
        workers = [n for n in notes if n["worker"] >= 0]
        if not workers:
            return []
        summary = outcome["summary"]
        final, temp = Path(workers[0]["final"]), Path(workers[0]["temp"])
        sf = tdata.sf_text(phase.scale_factor)
        if summary["status"] == "failed":
            tdata.remove_folder(temp)
            return []
        if all(n["cached"] for n in workers):
            manifest = tdata.read_manifest(final) or {}
            rows = sum(t["rows"] for t in manifest.get("tables", {}).values())
            checked = "sizes and checksums" if phase.verify_cache else "sizes"
            return [f"TPC-H SF {sf}: cached data reused, {rows:,} rows, {checked} checked ({final})"]
        entries = [e for n in workers for e in n["entries"]]
        what = next((n["what"] for n in notes if n["worker"] < 0), f"generated {final}")
        rows = sum(e["rows"] for e in entries)
        size = sum(e["bytes"] for e in entries) / 2**20
        lines = []
        stale, first = next((n["stale"] for n in workers if n["stale"]), ""), workers[0]
        remade, parts = first.get("remade", []), first.get("parts", phase.parts)
        if stale and first.get("repair"):
            shown = ", ".join(map(str, remade))
            lines.append(f"TPC-H SF {sf}: the cached copy was not used ({stale}): regenerated part {shown} of {parts}")
        elif stale:
            lines.append(f"TPC-H SF {sf}: the cached copy was not used ({stale}): regenerated")
        lines.append(
            f"TPC-H SF {sf}: {what}: {rows:,} rows, {size:.1f} MiB in {len(entries)} new files, {parts} parts "
            f"over {len(workers)} workers, {summary['wall_s']:.1f} s"
        )
        return lines


# ------------------------------------------------------------------------------------------------- load
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
        try:
            getattr(self, "_run_" + self.phase.method)(recorder)
        except Exception as exc:
            found = "" if self.ctx.stop.is_set() else damage_found(self.folder, self.phase.scale_factor)
            if found:
                raise RuntimeError(f"{found} (the load failed: {type(exc).__name__}: {exc})") from exc
            raise

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
        from tableauhyperapi import escape_string_literal

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
        from loadgen.workloads.insert import CopyWriter

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
        """One Inserter per load of at most row_loads.LOAD_BYTES, each its own COPY and commit (with split_tables,
        workers insert into one table at once: why loads, loadgen/row_loads.py); each load is one operation."""
        for table, rel, _bytes, _rows in self.files:
            if self.ctx.stop.is_set():
                return
            with row_loads.Loads(self.ctx.connection, table_name(table)) as loads:
                t0 = time.perf_counter_ns()
                for batch in row_loads.bounded(b for b, _schema in self._batches(self.folder / rel)):
                    if self.ctx.stop.is_set():
                        return
                    size = row_loads.size_bound(batch)
                    if loads.full(size):
                        self._note(table, loads.commit(), time.perf_counter_ns() - t0, recorder)
                        t0 = time.perf_counter_ns()
                    rows = zip(*(column.to_pylist() for column in batch.columns), strict=True)
                    loads.add(rows, batch.num_rows, size)
                self._note(table, loads.commit(), time.perf_counter_ns() - t0, recorder)

    def _run_external(self, recorder) -> None:
        from tableauhyperapi import escape_string_literal

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
            detail = blame_data("; ".join(self.problems), self.folder, self.phase.scale_factor)
            return {"verified": "failed", "detail": detail}
        ctx.state["tpch_loaded"] = {"sf": self.phase.scale_factor, "dir": str(self.folder)}
        if not ctx.owns_database:
            return {"verified": "ok", "detail": "", "expected_rows": own_rows, "counted_rows": own_rows}
        markers = [folder / f"{self.key}.w{w}.done" for w in range(ctx.workers)]
        if not wait_until(lambda: all(m.exists() for m in markers), ctx.stop, "the other workers' loads"):
            return {"verified": "unchecked", "detail": "stopped"}
        for marker in markers:
            with contextlib.suppress(OSError):
                marker.unlink()
        checked = self._check_tables()
        if checked["verified"] == "failed":
            checked["detail"] = blame_data(checked["detail"], self.folder, self.phase.scale_factor)
        return checked

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
            if money and str(row[2]) != str(tdata._decimal(info["sum_money"])):
                problems.append(f"{table}: SUM({money}) = {row[2]}, the files' is {info['sum_money']}")
        return {
            "verified": "failed" if problems else "ok",
            "detail": "; ".join(problems),
            "expected_rows": expected_total,
            "counted_rows": counted_total,
        }

    @classmethod
    def after_phase(cls, phase, outcome, run_dir) -> list[str]:
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


# ------------------------------------------------------------------------------------------------ query
class TpchQueryWorkload(Workload):
    def setup(self) -> None:
        from loadgen import server  # imports tableauhyperapi: only where a worker connects

        ctx, phase = self.ctx, self.phase
        all_streams = phase.stream_ids()
        self.streams = [s for i, s in enumerate(all_streams) if i % ctx.workers == ctx.worker]
        self.first_stream = all_streams[0]
        self.plans = {s: phase.plan(s, ctx.seed) for s in self.streams}
        self.references: dict[tuple[int, str], tuple[list, list]] = {}
        if phase.check_answers or phase.parameters == "validation":
            self.folder = locate_data(ctx, phase)
            wait_for_data(ctx, self.folder, phase.scale_factor)
        if phase.check_answers:
            self._prepare_references(all_streams)
        self.connections = {}
        for i, s in enumerate(self.streams):
            self.connections[s] = (
                ctx.connection
                if i == 0
                else server.connect(ctx.endpoint, ctx.database, ctx.auth, ctx.connect_timeout_s)
            )
        self.timings: dict[int, dict] = {}
        self.answers: dict[int, dict[int, tuple[list, list]]] = {s: {} for s in self.streams}
        self.lock = threading.Lock()

    def _prepare_references(self, all_streams: list[int]) -> None:
        """DuckDB's answers for every distinct query text of the phase, computed once (cached next to the data):
        the workers split the missing ones, then each waits for the rest."""
        ctx, phase = self.ctx, self.phase
        problem = tdata.cache_problem(self.folder, phase.scale_factor)
        if problem:
            raise RuntimeError(f"cannot check answers: no complete TPC-H data at {self.folder} ({problem})")
        digest = tdata.data_digest(tdata.read_manifest(self.folder))
        needed = sorted({item for s in all_streams for item in phase.plan(s, ctx.seed)})
        # split the full list, not the missing ones: each worker looks at a different moment
        mine = [
            (q, sql)
            for i, (q, sql) in enumerate(needed)
            if i % ctx.workers == ctx.worker and not reference.reference_path(self.folder, digest, q, sql).exists()
        ]
        if mine:
            found = damage_found(self.folder, phase.scale_factor)  # DuckDB must read the data the checksums describe
            if found:
                raise RuntimeError(f"cannot compute DuckDB's reference answers: {found}")
            con = reference.duckdb_connection(self.folder, threads=max(1, (os.cpu_count() or 1) // ctx.workers))
            try:
                for q, sql in mine:
                    reference.compute(con, self.folder, digest, q, sql)
            finally:
                con.close()
        paths = {(q, sql): reference.reference_path(self.folder, digest, q, sql) for q, sql in needed}
        if not wait_until(lambda: all(p.exists() for p in paths.values()), ctx.stop, "DuckDB reference answers"):
            return
        wanted = {item for s in self.streams for item in self.plans[s]}
        self.references = {item: reference.load(paths[item]) for item in wanted}

    def _execute(self, connection, query: int, sql: str) -> tuple[list, list]:
        with connection.execute_query(self.phase.overrides.get(query, sql)) as result:
            columns = [column.name.unescaped for column in result.schema.columns]
            rows = [tuple(row) for row in result]
        return columns, rows

    def warmup(self, recorder) -> None:
        for _ in range(self.phase.warmup):
            for s in self.streams:
                for q, sql in self.plans[s]:
                    if self.ctx.stop.is_set():
                        return
                    t0 = time.perf_counter_ns()
                    _, rows = self._execute(self.connections[s], q, sql)
                    recorder.record(f"q{q:02d}{WARMUP_SUFFIX}", time.perf_counter_ns() - t0, len(rows))

    def run(self, recorder) -> None:
        if len(self.streams) <= 1:
            for s in self.streams:
                self._stream(s, recorder)
            return
        errors = []

        def body(stream):
            try:
                self._stream(stream, recorder)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the worker's main thread
                errors.append(exc)

        threads = [threading.Thread(target=body, args=(s,), name=f"tpch-stream-{s}") for s in self.streams]
        for thread in threads:
            thread.start()
        cancelled = False
        while alive := [t for t in threads if t.is_alive()]:
            if self.ctx.stop.is_set() and not cancelled:  # the worker cancels its own connection; these are ours
                cancelled = True
                for connection in self.connections.values():
                    if connection is not self.ctx.connection:
                        with contextlib.suppress(Exception):
                            connection.cancel()
            alive[0].join(POLL_S)
        if errors:
            raise errors[0]

    def _stream(self, stream: int, recorder) -> None:
        connection, keep = self.connections[stream], self.answers[stream]
        times = []
        start = time.perf_counter_ns()
        for repetition in range(self.phase.repetitions):
            for q, sql in self.plans[stream]:
                if self.ctx.stop.is_set():
                    return
                t0 = time.perf_counter_ns()
                columns, rows = self._execute(connection, q, sql)
                t1 = time.perf_counter_ns()
                with self.lock:
                    recorder.record(f"q{q:02d}", t1 - t0, len(rows))
                times.append({"query": q, "repetition": repetition, "seconds": (t1 - t0) / 1e9})
                if repetition == 0:
                    keep[q] = (columns, rows)
        self.timings[stream] = {"start_ns": start, "end_ns": time.perf_counter_ns(), "queries": times}

    def verify(self) -> dict:
        """After the worker's streams: wait until every worker's streams are done, so that no worker starts the
        next phase's setup (e.g. DuckDB references) while another is still measuring; then check the answers."""
        ctx, phase = self.ctx, self.phase
        for s in self.streams:
            if s in self.timings:
                write_note(ctx.run_dir, phase.name, f"s{s}", {"stream": s, "worker": ctx.worker, **self.timings[s]})
        folder = notes_dir(ctx.run_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{phase.name}.w{ctx.worker}.done").write_text("", encoding="utf-8")
        markers = [folder / f"{phase.name}.w{w}.done" for w in range(ctx.workers)]
        wait_until(lambda: all(m.exists() for m in markers), ctx.stop, "the other workers' streams")
        for s in self.streams:
            if self.connections.get(s) is not ctx.connection:
                with contextlib.suppress(Exception):
                    self.connections[s].close()
        if self.first_stream in self.streams and phase.parameters == "validation":
            self._write_answers(self.answers[self.first_stream])
        if not phase.check_answers:
            return {"verified": "unchecked", "detail": "answers not checked (random parameters)"}
        problems, checked = [], 0
        for s in self.streams:
            for q, sql in self.plans[s]:
                if q not in self.answers[s]:
                    continue
                columns, rows = self.answers[s][q]
                want_columns, want_rows = self.references[(q, sql)]
                checked += 1
                difference = reference.difference(columns, rows, want_columns, want_rows)
                if difference:
                    where = f"stream {s}" if phase.mode == "throughput" else "power stream"
                    problems.append(f"q{q:02d} ({where}) differs from DuckDB's answer: {difference}")
        if problems:
            return {
                "verified": "failed",
                "detail": blame_data("; ".join(problems[:5]), self.folder, phase.scale_factor),
            }
        return {"verified": "ok", "detail": "", "expected_rows": checked, "counted_rows": checked}

    def _write_answers(self, answers: dict[int, tuple[list, list]]) -> None:
        """answers/qNN.csv: the first result of each query in this run (a file present already is kept)."""
        folder = Path(self.ctx.run_dir or tempfile.gettempdir()) / "answers"
        folder.mkdir(parents=True, exist_ok=True)
        for q, (columns, rows) in answers.items():
            final = folder / f"q{q:02d}.csv"
            if final.exists():
                continue
            temp = folder / f".q{q:02d}.{os.getpid()}.tmp"
            temp.write_text(reference.answer_csv(columns, rows), encoding="utf-8")
            with contextlib.suppress(FileExistsError):
                os.link(temp, final)  # never replaces: the first result stays
            temp.unlink()

    @classmethod
    def after_phase(cls, phase, outcome, run_dir) -> list[str]:
        for marker in notes_dir(run_dir).glob(f"{phase.name}.w*.done"):
            with contextlib.suppress(OSError):
                marker.unlink()
        notes = sorted(take_notes(run_dir, phase.name), key=lambda n: n["stream"])
        if not notes:
            return []
        sf = phase.scale_factor
        summary = outcome["summary"]
        full = sorted(phase.queries) == list(tqueries.QUERY_NUMBERS)
        row = {
            "run_id": summary["run_id"], "point": summary.get("point", ""), "phase": phase.name,
            "repetition": summary.get("repetition", ""), "mode": phase.mode, "scale_factor": sf,
            "streams": len(notes), "queries": len(phase.queries), "repetitions": phase.repetitions,
            "parameters": phase.parameters, "audited": "no",
            "note": "no refresh functions; unrounded intervals" + ("" if full else "; query subset: not comparable"),
        }  # fmt: skip
        span_s = (max(n["end_ns"] for n in notes) - min(n["start_ns"] for n in notes)) / 1e9
        if phase.mode == "power":
            first = [t["seconds"] for t in notes[0]["queries"] if t["repetition"] == 0]
            row["power_run_s"] = span_s
            row["power_at_size"] = tmetrics.power_at_size(first, sf)
        else:
            row["throughput_run_s"] = span_s
            per_stream = len(phase.queries) * phase.repetitions
            row["throughput_at_size"] = tmetrics.throughput_at_size(len(notes), per_stream, span_s, sf)
        from loadgen import results

        path = Path(run_dir) / "tpch.csv"
        rows = results.read_csv(path)[1] if path.exists() else []
        if phase.mode == "throughput":
            power = next(
                (
                    r
                    for r in reversed(rows)
                    if r["mode"] == "power"
                    and r["run_id"] == row["run_id"]
                    and str(r.get("point", "")) == str(row["point"])
                    and float(r["scale_factor"]) == sf
                ),
                None,
            )
            if power and power.get("power_at_size"):
                row["qphh_at_size"] = tmetrics.qphh_at_size(float(power["power_at_size"]), row["throughput_at_size"])
        rows.append(row)
        results.write_csv(path, tmetrics.COLUMNS, rows)
        return time_table(phase, notes) + [metrics_line(row)]


def time_table(phase, notes: list[dict]) -> list[str]:
    """Seconds per query (rows) and stream (columns); the median over repetitions when there are several."""
    label = "median s" if phase.repetitions > 1 else "s"
    heads = ["power" if n["stream"] == 0 else f"stream {n['stream']}" for n in notes]
    lines = [
        f"TPC-H {phase.name} ({phase.mode}, SF {tdata.sf_text(phase.scale_factor)}, {phase.parameters} parameters): "
        f"{label} per query",
        "  query " + "".join(f"{h:>10}" for h in heads),
    ]
    per = [{q: [] for q in phase.queries} for _ in notes]
    for i, note in enumerate(notes):
        for t in note["queries"]:
            per[i][t["query"]].append(t["seconds"])
    for q in sorted(phase.queries):
        cells = "".join(f"{statistics.median(p[q]):>10.3f}" if p[q] else f"{'':>10}" for p in per)
        lines.append(f"  q{q:02d}   {cells}")
    totals = "".join(f"{(n['end_ns'] - n['start_ns']) / 1e9:>10.3f}" for n in notes)
    lines.append(f"  total {totals}")
    return lines


def metrics_line(row: dict) -> str:
    parts = []
    if row.get("power_run_s") is not None:
        parts.append(f"power run {row['power_run_s']:.2f} s, Power@Size {row['power_at_size']:.1f}")
    if row.get("throughput_run_s") is not None:
        parts.append(
            f"throughput run {row['throughput_run_s']:.2f} s ({row['streams']} streams), "
            f"Throughput@Size {row['throughput_at_size']:.1f}"
        )
    if row.get("qphh_at_size") is not None:
        parts.append(f"QphH@Size {row['qphh_at_size']:.1f}")
    return "TPC-H " + "; ".join(parts) + f" (not audited: {row['note']}) → tpch.csv"
