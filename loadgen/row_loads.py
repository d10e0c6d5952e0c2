"""Rows through tableauhyperapi's Inserter (method `rows`), in loads that hyperd receives as one COPY each.

The Inserter buffers what add_rows gets and, at execute(), sends it in one `COPY t FROM STDIN (FORMAT
HYPERBINARY)` and commits, as long as it fits the library's 16 MiB buffer (found by test: 15.9 MiB went as one
COPY, 16.1 MiB did not). Past that it creates an external stream named after the table,
`__Insert_Stream__<table>__` in the table's schema, and keeps it until execute(). A second Inserter into the same
table, from any session, then cannot create its own: the library's fallback (another name) sends invalid SQL
(`SELECT 1 FROM ."db"pg_class …`, tableauhyperapi 0.0.26963), so workers inserting into one shared table failed
whenever two of them passed 16 MiB at the same time. No other name reaches the table (views are disabled in
Hyper; a second alias of the database file shares its streams), so loadgen keeps every Inserter below the buffer:
one Inserter, one COPY and one commit per LOAD_BYTES of rows. Small loads were not slower here (1M canonical rows
in one process: 62 Inserters of 16,384 rows 2.5 s, one Inserter 2.7 s; 2 workers × 1M rows through loadgen, 2 runs
each on a loaded machine: 16.2 and 21.2 s, before 14.6 and 22.2 s), and each load's rows are committed when it
returns, so what a stopped phase reports is what the table holds.
"""

import pyarrow as pa

LOAD_BYTES = 8 << 20  # half the Inserter's buffer: the estimate below may be off, never by a factor of two


def size_bound(batch: pa.RecordBatch) -> int:
    """An upper bound of the bytes the Inserter buffers for the batch: Arrow's bytes (a string's 4-byte offset is
    HyperBinary's length prefix; decimal128 is wider than Hyper's NUMERIC) plus 2 per value (a null indicator, and
    a bool is a byte in HyperBinary where Arrow takes a bit)."""
    return batch.nbytes + 2 * batch.num_rows * batch.num_columns


def bounded(batches, limit: int = LOAD_BYTES):
    """The batches, those larger than `limit` cut in halves until each part fits (or is one row)."""
    for batch in batches:
        yield from _halves(batch, limit)


def _halves(batch: pa.RecordBatch, limit: int):
    if batch.num_rows <= 1 or size_bound(batch) <= limit:
        yield batch
        return
    half = batch.num_rows // 2
    yield from _halves(batch.slice(0, half), limit)
    yield from _halves(batch.slice(half), limit)


class Loads:
    """One table's Inserter loads. `add` the rows of each piece; `full(size)` says when the next piece would take
    the load past LOAD_BYTES, and `commit` then executes it (the next `add` opens a new Inserter). Leaving the
    `with` block discards a load that was not committed (the Inserter's own rule: no execute, no rows)."""

    def __init__(self, connection, table, limit: int = LOAD_BYTES):
        self.connection = connection
        self.definition = connection.catalog.get_table_definition(table)  # once: an Inserter given a name asks
        self.limit = limit
        self.inserter = None
        self.rows = 0  # in the open load
        self.size = 0

    def full(self, size: int) -> bool:
        return self.inserter is not None and self.size + size > self.limit

    def add(self, rows, count: int, size: int) -> None:
        from tableauhyperapi import Inserter  # here: validation must not load the library

        if self.inserter is None:
            self.inserter = Inserter(self.connection, self.definition)
        self.inserter.add_rows(rows)
        self.rows += count
        self.size += size

    def commit(self) -> int:
        """Execute the open load (one COPY, one commit); the rows it committed."""
        if self.inserter is None:
            return 0
        inserter, committed = self.inserter, self.rows
        self.inserter, self.rows, self.size = None, 0, 0
        inserter.execute()  # closes the Inserter, whether it succeeds or not
        return committed

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self.inserter is not None:
            self.inserter.close()
            self.inserter = None
