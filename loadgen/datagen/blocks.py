"""A worker's generated rows of a `data:` table: made in fixed blocks, on a few threads, cut into record batches.

Blocks: the worker's rows [start, stop) are generated BLOCK_ROWS at a time (fewer for wide rows, see block_rows)
from its first row on (the last block shorter), and every block is a function of (seed, table, worker, its first
row) alone. batch_rows and rows_per_copy only cut the blocks into record batches and COPYs, so runs that differ in
those (a matrix over batch_rows) write the same data, and a batch of a few thousand rows does not pay a block's
fixed costs (seeding, per-column Python) again and again.

Threads: one core cannot make rows as fast as hyperd ingests them, because hyperd's COPY of one session runs on
more than one core (docs/own_data.md). A block's columns, and the facts of what is sent, are computed on a small
thread pool: each column has its own random stream, so the values do not depend on the threads, and numpy and
pyarrow release the GIL for most of the work.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor, wait

import pyarrow as pa

from loadgen.datagen.canonical import RowRange
from loadgen.datagen.facts import batch_facts, merge_facts
from loadgen.datagen.generate import record_batch

BLOCK_ROWS = 131_072  # rows per block, fewer for wide rows: a block's data stays within about BLOCK_BYTES
BLOCK_BYTES = 32 * 2**20
MAX_AUTO_THREADS = 4


def auto_threads(workers_here: int) -> int:
    """The generator threads of a worker when the scenario does not say: the CPUs this process may use, shared
    out among the workers on this machine (1 each when there are as many workers as CPUs), at most 4."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(MAX_AUTO_THREADS, cpus // max(1, workers_here)))


def block_rows(definition) -> int:
    """Rows per block for a definition: BLOCK_ROWS, or for rows wider than BLOCK_BYTES / BLOCK_ROWS (256 bytes,
    nominal) the largest power of two whose rows fit in BLOCK_BYTES. A function of the definition alone, so the
    data still is one of (seed, definition, worker, row)."""
    fit = BLOCK_BYTES // max(1, definition.row_bytes())
    return max(1, min(BLOCK_ROWS, 1 << max(0, fit.bit_length() - 1)))


class GeneratedRows:
    """The rows of one worker's share of a definition's table, with the facts of every row handed out. With more
    than one thread, the next block is made (on the pool) while the current one is being written."""

    def __init__(self, definition, key: str, seed: int, worker: int, rows: RowRange, threads: int = 1):
        self.definition, self.key, self.seed, self.worker, self.rows = definition, key, seed, worker, rows
        self.facts: dict = {}
        self.facts_rows = 0  # rows the facts cover
        self.block_rows = block_rows(definition)
        self._pool = self._ahead = None
        if threads > 1:
            self._pool = ThreadPoolExecutor(threads, thread_name_prefix="generate")
            self._ahead = ThreadPoolExecutor(1, thread_name_prefix="generate-ahead")  # waits on the pool
        self._block: tuple[int, pa.RecordBatch, dict] | None = None  # the last block: a chunk may end inside it
        self._next: tuple[int, Future] | None = None  # the block being made ahead

    def close(self) -> None:
        """End the threads: the columns not started yet are dropped (a block being made ahead fails at once), the
        running ones finish (a column of one block each)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        for pool in (self._ahead, self._pool):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def batches(self, chunk: RowRange, batch_rows: int):
        """Record batches of batch_rows rows (the last one shorter) holding rows [chunk.start, chunk.stop)."""
        return rebatch(self._pieces(chunk), batch_rows)

    def _pieces(self, chunk: RowRange):
        """The parts of the blocks that fall in the chunk, in order. Their facts are counted as they are handed
        out, before they are written: a caller that stopped taking batches half-way would leave the facts above
        what the table holds, and verification fails (never the other way round)."""
        if chunk.start < self.rows.start or chunk.stop > self.rows.stop:
            raise ValueError(f"rows {chunk.start}..{chunk.stop} are not in this worker's {self.rows}")
        size = self.block_rows
        first = self.rows.start + (chunk.start - self.rows.start) // size * size
        for block_start in range(first, chunk.stop, size):
            block, facts = self.block(block_start)
            low, high = max(chunk.start, block_start), min(chunk.stop, block_start + block.num_rows)
            piece = block.slice(low - block_start, high - low)
            if piece.num_rows < block.num_rows:  # a chunk ends inside the block
                facts = batch_facts(self.definition, piece, self._pool)
            merge_facts(self.facts, facts)
            self.facts_rows += piece.num_rows
            yield piece

    def block(self, block_start: int) -> tuple[pa.RecordBatch, dict]:
        """The block of rows from block_start on, and its facts."""
        if self._block is None or self._block[0] != block_start:
            made = None
            if self._next is not None:
                ahead_start, ahead = self._next
                self._next = None
                # No timeout on these waits: the work is this process's own computation, as long as a block takes;
                # a worker stuck in it is ended by the coordinator (phase timeout, then SIGTERM, then SIGKILL).
                if ahead_start == block_start:
                    made = ahead.result()
                else:  # not the block wanted: let it end first (blocks share their columns' plans)
                    wait([ahead])
            if made is None:
                made = self._make(block_start)
            self._block = (block_start, *made)
            following = block_start + self.block_rows
            if self._ahead is not None and following < self.rows.stop:
                self._next = (following, self._ahead.submit(self._make, following))
        return self._block[1], self._block[2]

    def _make(self, block_start: int) -> tuple[pa.RecordBatch, dict]:
        count = min(self.block_rows, self.rows.stop - block_start)
        batch = record_batch(self.definition, self.key, self.seed, self.worker, block_start, count, self._pool)
        return batch, batch_facts(self.definition, batch, self._pool)


def rebatch(pieces, size: int):
    """Record batches of `size` rows from consecutive pieces (slices, no copy, where a batch lies in one piece;
    pieces joined into one batch where it spans several), the last one shorter."""
    held: list[pa.RecordBatch] = []
    held_rows = 0
    for piece in pieces:
        while piece.num_rows:
            take = min(size - held_rows, piece.num_rows)
            held.append(piece.slice(0, take))
            held_rows += take
            piece = piece.slice(take)
            if held_rows == size:
                yield held[0] if len(held) == 1 else pa.concat_batches(held)
                held, held_rows = [], 0
    if held:
        yield held[0] if len(held) == 1 else pa.concat_batches(held)
