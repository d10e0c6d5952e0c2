"""The ways rows get into a Hyper table, each a generator over chunks that sends one statement per chunk and yields
what it sent (Sent) for the caller to record:

  staged_copies   method arrow: the chunk as an Arrow IPC stream in a staged file, then COPY t FROM 'file'
                  (hyperd reads the file itself: it must be on hyperd's host); the next chunk is staged on a helper
                  thread while hyperd copies the current one, into one of two files written over (StagedFiles)
  stream_copies   method arrow_stream: Arrow IPC over the PostgreSQL protocol, COPY t FROM STDIN (psycopg)
  inserted_rows   method rows: tableauhyperapi's Inserter (HyperBinary), values converted column-wise in bulk, in
                  loads of at most ~8 MiB, each one COPY and one commit (why: loadgen/transfer/row_loads.py)
  server_reads    files hyperd reads itself (COPY FROM 'file', INSERT … SELECT … FROM external(…))

A chunk is the rows of one statement: record batches made as they are sent (generated, or read from files), so a
worker's memory is bounded by a batch, not by the table. Every load of loadgen goes through these: the canonical
insert, a data: table, files, and the benchmark suites' tables.
"""

import contextlib
import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa
from tableauhyperapi import HyperException, Interval, TableName, escape_string_literal

from loadgen.transfer import row_loads, staging


@dataclass
class Chunk:
    """The rows one statement sends into `table`."""

    table: TableName
    schema: pa.Schema  # the batches' schema: exactly the table's (hyperd does no casts on Arrow input)
    batches: Iterable  # pa.RecordBatch, made as they are sent
    name: str = "copy"  # the operation the statement is recorded as
    label: str = ""  # where the rows come from (a file), for the caller


@dataclass
class RowPiece:
    """Rows for method rows already as Python tuples (when cheaper than converting Arrow batches), in a chunk's
    batches: their count and row_loads.size_bound."""

    rows: Iterable
    count: int
    size: int


@dataclass
class Sent:
    chunk: Chunk
    rows: int  # rows sent (method rows: added to the open load, or committed by an execute)
    reported: int | None  # rows hyperd says the statement inserted (None: it does not say)
    ns: int  # the statement's time
    kind: str = "statement"  # method rows: "add" (rows added, not committed yet) or "execute" (a load committed)


@dataclass
class ServerRead:
    """A file hyperd reads into `table` itself: the statement that makes it read it."""

    table: TableName
    path: str
    sql: str
    name: str = "copy"
    label: str = ""


def cut(batches: Iterable, size: int) -> Iterator[Iterator]:
    """A stream of record batches as consecutive chunks of about `size` rows: a chunk ends with the batch that
    reaches `size`. Each chunk must be read to its end before the next is taken (the stream is shared)."""
    batches = iter(batches)
    for first in batches:
        yield _up_to(first, batches, size)


def _up_to(first, rest: Iterator, size: int) -> Iterator:
    count = first.num_rows
    yield first
    while count < size:
        batch = next(rest, None)
        if batch is None:
            return
        count += batch.num_rows
        yield batch


def copy_from_file(table_sql: str, path: str) -> str:
    return f"COPY {table_sql} FROM {escape_string_literal(path)} WITH (FORMAT arrowstream)"


# the Arrow IPC stream's end-of-stream marker: a continuation token and a zero length
END_OF_STREAM = b"\xff\xff\xff\xff\x00\x00\x00\x00"


def ipc_stream(schema: pa.Schema, batches: Iterable) -> Iterator:
    """An Arrow IPC stream as whole messages: the schema, each batch (one buffer each: RecordBatch.serialize), the
    end marker; the byte stream pa.ipc.new_stream writes for a schema without dictionaries (a table's Arrow schema
    never has one), in one write per batch instead of ~7. Yields (bytes-like, rows)."""
    yield schema.serialize(), 0
    for batch in batches:
        if not batch.schema.equals(schema):
            raise ValueError(f"a record batch's schema ({batch.schema}) is not the table's ({schema})")
        yield batch.serialize(), batch.num_rows
    yield END_OF_STREAM, 0


class StagedFiles:
    """Method arrow's staged files: two per worker, used in turn, each overwritten in place by the next chunk
    (os.pwrite, then ftruncate to what was written): a new tmpfs file has every page allocated and zeroed, and
    unlinking it frees them, ~40 % of staging's CPU and milliseconds on the COPY thread between two COPYs. The
    files are removed when the StagedFiles closes, whatever happens.

    prepare() stages the first chunk ahead (a phase's setup, before the barrier), so the first COPY starts as soon
    as copies() is called."""

    def __init__(self, chunks: Iterable[Chunk], directory: str):
        self._chunks = iter(chunks)  # advanced by one thread at a time (the stager's, once copies() runs)
        self._directory = directory
        self._files = contextlib.ExitStack()
        self._free: list[str] = []  # staged files whose COPY is done
        self._ready = None  # (chunk, path, rows) staged by prepare()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._files.close()

    def prepare(self) -> None:
        self._ready = self._stage_next()

    def copies(self, connection) -> Iterator[Sent]:
        """numpy, pyarrow and the COPY call release the GIL, so staging the next chunk on a helper thread hides
        behind hyperd's copy of the current one."""
        with ThreadPoolExecutor(max_workers=1) as stager:
            ready, self._ready = self._ready, None
            staged = stager.submit(lambda: ready) if ready else stager.submit(self._stage_next)
            while True:
                chunk, path, rows = staged.result()
                if chunk is None:
                    return
                staged = stager.submit(self._stage_next)  # the next, into the other file, while hyperd copies
                t0 = time.perf_counter_ns()
                reported = connection.execute_command(copy_from_file(str(chunk.table), path))
                elapsed = time.perf_counter_ns() - t0
                self._free.append(path)
                yield Sent(chunk, rows, reported, elapsed)

    def _stage_next(self):
        """(the next chunk, the path of its staged file, its rows); (None, '', 0) when there is none."""
        chunk = next(self._chunks, None)
        if chunk is None:
            return None, "", 0
        path = self._free.pop() if self._free else self._files.enter_context(staging.staged_file(self._directory))
        rows = offset = 0
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)  # no O_TRUNC: the file's pages are written over
        try:
            for message, count in ipc_stream(chunk.schema, chunk.batches):
                offset += os.pwrite(fd, message, offset)
                rows += count
            os.ftruncate(fd, offset)
        finally:
            os.close(fd)
        return chunk, path, rows


def staged_copies(connection, chunks: Iterable[Chunk], staging_dir: str) -> Iterator[Sent]:
    """Method arrow: each chunk staged as an Arrow IPC stream in one of two files (StagedFiles), then
    `COPY t FROM 'file'`."""
    with StagedFiles(chunks, staging_dir) as files:
        yield from files.copies(connection)


def stream_copies(pg_connection, chunks: Iterable[Chunk], recorder) -> Iterator[Sent]:
    """Method arrow_stream: one COPY FROM STDIN per chunk on one cursor, each IPC message written whole (psycopg
    cuts CopyData messages at 128 KiB); the rows handed to a COPY still running show in the progress line
    (recorder.sending)."""
    with pg_connection.cursor() as cursor:
        for chunk in chunks:
            rows, t0 = 0, time.perf_counter_ns()
            with cursor.copy(f"COPY {chunk.table} FROM STDIN WITH (FORMAT arrowstream)") as copy:
                for message, count in ipc_stream(chunk.schema, chunk.batches):
                    copy.write(message)
                    if count:
                        recorder.sending(count)
                        rows += count
            elapsed = time.perf_counter_ns() - t0
            yield Sent(chunk, rows, cursor.rowcount if cursor.rowcount >= 0 else None, elapsed)


def inserted_rows(connection, chunks: Iterable[Chunk], stop) -> Iterator[Sent]:
    """Method rows. Each chunk is a run of Inserter loads into its table, each load at most row_loads.LOAD_BYTES
    (one COPY, one commit), the last one executed at the chunk's end. Every piece added is a Sent of kind "add"
    (its time includes making the rows), every execute one of kind "execute" with the rows it committed. When the
    run stops, the load being filled is discarded (the Inserter's rule: no execute, no rows)."""
    for chunk in chunks:
        with row_loads.Loads(connection, chunk.table) as loads:
            pieces = _pieces(chunk.batches)
            while not stop.is_set():
                t0 = time.perf_counter_ns()
                piece = next(pieces, None)
                if piece is None:
                    break
                made_ns = time.perf_counter_ns() - t0
                if loads.full(piece.size):
                    yield _execute(chunk, loads)
                t0 = time.perf_counter_ns()
                loads.add(piece.rows, piece.count, piece.size)
                yield Sent(chunk, piece.count, None, made_ns + time.perf_counter_ns() - t0, "add")
            if stop.is_set():
                return
            yield _execute(chunk, loads)


def _execute(chunk: Chunk, loads) -> Sent:
    t0 = time.perf_counter_ns()
    committed = loads.commit()
    return Sent(chunk, committed, None, time.perf_counter_ns() - t0, "execute")


def _pieces(batches: Iterable) -> Iterator[RowPiece]:
    """RowPieces as given; record batches cut to at most row_loads.LOAD_BYTES and converted column-wise."""
    for item in batches:
        if isinstance(item, RowPiece):
            yield item
            continue
        for batch in row_loads.bounded([item]):
            rows = zip(*map(inserter_values, batch.columns), strict=True)
            yield RowPiece(rows, batch.num_rows, row_loads.size_bound(batch))


def inserter_values(array: pa.Array) -> list:
    """A column's values as the Inserter takes them: an Arrow interval becomes tableauhyperapi's Interval."""
    if array.type != pa.month_day_nano_interval():
        return array.to_pylist()
    return [None if v is None else Interval(v.months, v.days, v.nanoseconds // 1000) for v in array.to_pylist()]


def server_reads(connection, reads: Iterable[ServerRead]) -> Iterator[Sent]:
    """Files hyperd reads itself, one statement each; hyperd's error names neither the file nor the table, so the
    error raised here does."""
    for read in reads:
        t0 = time.perf_counter_ns()
        try:
            reported = connection.execute_command(read.sql)
        except HyperException as exc:
            raise RuntimeError(f"hyperd reading {read.path} into {read.table}: {exc.main_message}") from None
        chunk = Chunk(read.table, None, (), read.name, read.label)
        yield Sent(chunk, reported or 0, reported, time.perf_counter_ns() - t0)
