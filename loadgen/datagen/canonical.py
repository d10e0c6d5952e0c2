"""The canonical rows, as the seed benchmark writes them, and their closed-form checksums (pure Python: the rows
themselves are made in loadgen/datagen/canonical_batches.py).

Row `id` of worker w: id = w * per + i, sensor_id = id % 10, value = id * 0.1,
timestamp = 1_700_000_000_000 + id * 1000.
"""

from dataclasses import dataclass

SENSORS = 10
TIMESTAMP_BASE = 1_700_000_000_000
# id INT (4) + sensor_id INT (4) + value DOUBLE (8) + timestamp BIGINT (8): the nominal size used for MiB/s,
# identical for every method so that MiB/s compare across methods.
BYTES_PER_ROW = 24
MIB = 1024 * 1024

COLUMNS_SQL = "id INT NOT NULL, sensor_id INT, value DOUBLE PRECISION, timestamp BIGINT"


@dataclass(frozen=True)
class RowRange:
    """The ids [start, start + count) that one worker owns in one phase."""

    start: int
    count: int

    @property
    def stop(self) -> int:
        return self.start + self.count


def insert_sql(table_sql: str, rows: RowRange) -> str:
    """The canonical rows of `rows`, made by hyperd itself: the same values (value is an IEEE double product, as
    numpy computes it), with no client work."""
    return (
        f"INSERT INTO {table_sql} SELECT i, i % {SENSORS}, "
        "CAST(i AS DOUBLE PRECISION) * CAST(0.1 AS DOUBLE PRECISION), "
        f"{TIMESTAMP_BASE} + CAST(i AS BIGINT) * 1000 FROM generate_series({rows.start}, {rows.stop - 1}) AS g(i)"
    )


def worker_range(worker: int, workers: int, total_rows: int) -> RowRange:
    """Seed split: per = total // workers, worker w owns [w*per, (w+1)*per). The remainder is not written."""
    per = total_rows // workers
    return RowRange(worker * per, per)


@dataclass(frozen=True)
class Expected:
    """What a table holding exactly the ids of a RowRange must contain."""

    count: int
    sum_id: int
    per_sensor: tuple[int, ...]  # rows with sensor_id == s, for s in 0..9
    # Σ value per sensor, for the aggregation query. value = id * 0.1 in floating point,
    # so compare with a relative tolerance.
    sum_value_per_sensor: tuple[float, ...]


def count_with_remainder(start: int, stop: int, remainder: int, modulus: int = SENSORS) -> int:
    """How many ids in [start, stop) have id % modulus == remainder."""
    if stop <= start:
        return 0

    def below(n):  # ids in [0, n) with the remainder
        return (n - remainder + modulus - 1) // modulus if n > remainder else 0

    return below(stop) - below(start)


def sum_with_remainder(start: int, stop: int, remainder: int, modulus: int = SENSORS) -> int:
    """Σ id over ids in [start, stop) with id % modulus == remainder (an arithmetic series)."""
    n = count_with_remainder(start, stop, remainder, modulus)
    if n == 0:
        return 0
    first = start + (remainder - start) % modulus
    return n * first + modulus * n * (n - 1) // 2


def expected(rows: RowRange) -> Expected:
    per_sensor = tuple(count_with_remainder(rows.start, rows.stop, s) for s in range(SENSORS))
    sums = tuple(sum_with_remainder(rows.start, rows.stop, s) * 0.1 for s in range(SENSORS))
    sum_id = (rows.start + rows.stop - 1) * rows.count // 2
    return Expected(rows.count, sum_id, per_sensor, sums)
