"""A worker's generated rows in blocks (loadgen.row_blocks): the values depend on the seed, the worker and the row,
not on batch_rows, rows_per_copy or the threads; every row's facts are counted once; the threads end with it."""

import threading

import pyarrow as pa
import pytest

from loadgen.datagen import blocks, canonical, generate
from loadgen.datagen.definitions import TableDefinition
from loadgen.datagen.facts import batch_facts
from tests.unit.test_generators import ORDERS

ROWS = canonical.RowRange(500, 4321)  # a worker's share that starts and ends inside blocks


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(blocks, "BLOCK_ROWS", 1000)


def handed_out(threads, chunk_rows, batch_rows):
    """The worker's rows as the insert hands them out, the batch sizes, and the facts counted on the way."""
    batches, sizes = [], []
    with blocks.GeneratedRows(ORDERS, "orders", 3, 1, ROWS, threads) as rows:
        for start in range(ROWS.start, ROWS.stop, chunk_rows):
            chunk = list(rows.batches(canonical.RowRange(start, min(chunk_rows, ROWS.stop - start)), batch_rows))
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
    whole = batch_facts(ORDERS, reference.combine_chunks().to_batches()[0])
    assert facts.keys() == whole.keys()
    for name, expected in whole.items():  # float sums may differ in the last bits (another order of additions)
        assert facts[name] == pytest.approx(expected, rel=1e-12), name


def test_a_block_is_a_function_of_its_first_row():
    """The blocks start at the worker's first row: rows 500..1499, 1500..2499, …, 4500..4820."""
    table, _, _, _ = handed_out(2, ROWS.count, ROWS.count)
    for first, count in ((500, 1000), (2500, 1000), (4500, 321)):
        block = generate.record_batch(ORDERS, "orders", 3, 1, first, count)
        assert pa.Table.from_batches([block]).equals(table.slice(first - ROWS.start, count))


def test_rows_outside_the_workers_share_are_refused():
    with blocks.GeneratedRows(ORDERS, "orders", 3, 1, ROWS, 1) as rows:
        with pytest.raises(ValueError, match="not in this worker"):
            list(rows.batches(canonical.RowRange(0, 600), 100))


def test_the_threads_end_with_the_rows():
    def generating():
        return [t for t in threading.enumerate() if t.name.startswith("generate")]

    before = generating()
    with blocks.GeneratedRows(ORDERS, "orders", 3, 1, ROWS, 3) as rows:
        next(iter(rows.batches(canonical.RowRange(ROWS.start, 1500), 700)))  # one batch, the next block is being made
        assert len(generating()) > len(before)
    assert generating() == before


def test_auto_threads_share_the_cpus_among_the_workers(monkeypatch):
    monkeypatch.setattr(blocks.os, "sched_getaffinity", lambda pid: set(range(8)))
    assert [blocks.auto_threads(w) for w in (1, 2, 3, 8, 16)] == [4, 4, 2, 1, 1]


def test_rebatch_joins_pieces_into_full_batches():
    pieces = [pa.record_batch([pa.array(range(a, b))], names=["v"]) for a, b in ((0, 5), (5, 6), (6, 20))]
    out = list(blocks.rebatch(iter(pieces), 4))
    assert [b.num_rows for b in out] == [4, 4, 4, 4, 4]
    assert pa.Table.from_batches(out).column("v").to_pylist() == list(range(20))


def test_wide_rows_get_smaller_blocks(monkeypatch):
    monkeypatch.setattr(blocks, "BLOCK_ROWS", 131_072)
    wide = TableDefinition.model_validate({"columns": [
        {"name": "id", "type": "BIGINT", "generator": {"kind": "sequence"}},
        {"name": "text", "type": "TEXT", "generator": {"kind": "random", "min_length": 1000, "max_length": 2000}},
    ]})  # fmt: skip
    assert blocks.block_rows(ORDERS) == 131_072  # 100 nominal bytes per row or so: the full block
    assert blocks.block_rows(wide) == 16_384  # 1,508 bytes per row: 32 MiB / 1,508 → 22,250 → 16,384
    assert blocks.GeneratedRows(wide, "w", 1, 0, canonical.RowRange(0, 10), 1).block_rows == 16_384


def test_a_failure_in_the_block_made_ahead_stops_the_rows_and_their_threads():
    """An INTERVAL sequence leaves ±100 years in the fourth block (made ahead while the third is handed out)."""
    days = TableDefinition.model_validate({"columns": [
        {"name": "d", "type": "INTERVAL", "generator": {"kind": "sequence", "start": 0, "step": 864_000}},
    ]})  # fmt: skip
    rows = canonical.RowRange(0, 4000)  # 3,653 × 10 days > 100 years
    with blocks.GeneratedRows(days, "d", 1, 0, rows, 2) as generated:
        with pytest.raises(ValueError, match="beyond ±100 years"):
            for _ in generated.batches(rows, 500):
                pass
        assert generated.facts_rows == 3000  # the three good blocks, not a row more
    assert not [t for t in threading.enumerate() if t.name.startswith("generate")]


def test_close_drops_the_columns_not_started(monkeypatch):
    """Closing while a block is made ahead waits for the columns running (one per thread), not for the block."""
    started, both_running, real = [], threading.Event(), generate.column_array

    def slow_from_the_second_block(column, count, first_row, rng):
        if first_row >= 1500:
            started.append(column.name)
            if len(started) == 2:
                both_running.set()
            threading.Event().wait(2)  # a slow column: never released
        return real(column, count, first_row, rng)

    monkeypatch.setattr(generate, "column_array", slow_from_the_second_block)
    generated = blocks.GeneratedRows(ORDERS, "orders", 3, 1, ROWS, 2)
    next(iter(generated.batches(canonical.RowRange(ROWS.start, 1000), 1000)))  # block 1 out, block 2 being made
    assert both_running.wait(10)
    generated.close()
    assert len(started) == 2 < len(ORDERS.columns)  # the two running columns, no other
