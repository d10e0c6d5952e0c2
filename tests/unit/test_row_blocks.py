"""A worker's generated rows in blocks (loadgen.row_blocks): the values depend on the seed, the worker and the row,
not on batch_rows, rows_per_copy or the threads; every row's facts are counted once; the threads end with it."""

import threading

import pyarrow as pa
import pytest

from loadgen import data, generators, row_blocks
from tests.unit.test_generators import ORDERS

ROWS = data.RowRange(500, 4321)  # a worker's share that starts and ends inside blocks


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(row_blocks, "BLOCK_ROWS", 1000)


def handed_out(threads, chunk_rows, batch_rows):
    """The worker's rows as the insert hands them out, the batch sizes, and the facts counted on the way."""
    batches, sizes = [], []
    with row_blocks.GeneratedRows(ORDERS, "orders", 3, 1, ROWS, threads) as rows:
        for start in range(ROWS.start, ROWS.stop, chunk_rows):
            chunk = list(rows.batches(data.RowRange(start, min(chunk_rows, ROWS.stop - start)), batch_rows))
            sizes.append([b.num_rows for b in chunk])
            batches += chunk
        return pa.Table.from_batches(batches), sizes, rows.facts, rows.facts_rows


@pytest.mark.parametrize(("threads", "chunk_rows", "batch_rows"), [(3, 777, 333), (2, 1000, 1500), (1, 4321, 64)])
def test_values_do_not_depend_on_batches_copies_or_threads(threads, chunk_rows, batch_rows):
    reference, _, _, _ = handed_out(1, ROWS.count, ROWS.count)
    table, sizes, facts, facts_rows = handed_out(threads, chunk_rows, batch_rows)
    assert table.equals(reference)
    for chunk in sizes:  # every batch full but the last of each chunk (a batch may span two blocks)
        assert all(size == batch_rows for size in chunk[:-1]) and 0 < chunk[-1] <= batch_rows
    assert facts_rows == ROWS.count
    whole = generators.batch_facts(ORDERS, reference.combine_chunks().to_batches()[0])
    assert facts.keys() == whole.keys()
    for name, expected in whole.items():  # float sums may differ in the last bits (another order of additions)
        assert facts[name] == pytest.approx(expected, rel=1e-12), name


def test_a_block_is_a_function_of_its_first_row():
    """The blocks start at the worker's first row: rows 500..1499, 1500..2499, …, 4500..4820."""
    table, _, _, _ = handed_out(2, ROWS.count, ROWS.count)
    for first, count in ((500, 1000), (2500, 1000), (4500, 321)):
        block = generators.record_batch(ORDERS, "orders", 3, 1, first, count)
        assert pa.Table.from_batches([block]).equals(table.slice(first - ROWS.start, count))


def test_rows_outside_the_workers_share_are_refused():
    with row_blocks.GeneratedRows(ORDERS, "orders", 3, 1, ROWS, 1) as rows:
        with pytest.raises(ValueError, match="not in this worker"):
            list(rows.batches(data.RowRange(0, 600), 100))


def test_the_threads_end_with_the_rows():
    def generating():
        return [t for t in threading.enumerate() if t.name.startswith("generate")]

    before = generating()
    with row_blocks.GeneratedRows(ORDERS, "orders", 3, 1, ROWS, 3) as rows:
        next(iter(rows.batches(data.RowRange(ROWS.start, 1500), 700)))  # one batch, the next block is being made
        assert len(generating()) > len(before)
    assert generating() == before


def test_auto_threads_share_the_cpus_among_the_workers(monkeypatch):
    monkeypatch.setattr(row_blocks.os, "sched_getaffinity", lambda pid: set(range(8)))
    assert [row_blocks.auto_threads(w) for w in (1, 2, 3, 8, 16)] == [4, 4, 2, 1, 1]


def test_rebatch_joins_pieces_into_full_batches():
    pieces = [pa.record_batch([pa.array(range(a, b))], names=["v"]) for a, b in ((0, 5), (5, 6), (6, 20))]
    out = list(row_blocks.rebatch(iter(pieces), 4))
    assert [b.num_rows for b in out] == [4, 4, 4, 4, 4]
    assert pa.Table.from_batches(out).column("v").to_pylist() == list(range(20))
