"""A table's rows as Arrow record batches: one array per column and batch, made by the column's generator kind
(loadgen/datagen/kinds.py) with the vectorised helpers of loadgen/datagen/vector.py.

Every value is a function of (scenario seed, table, worker, first row of the batch, column): `batch_rng` seeds a
fresh numpy Generator from exactly these, so the same seed writes byte-identical data, whatever the timing.
Sequences use the row's global index (the worker's first row + offset), so two workers never write the same key.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from loadgen.datagen import sqltypes, vector
from loadgen.datagen.arrow import arrow_schema, arrow_type
from loadgen.datagen.definitions import Column, TableDefinition
from loadgen.datagen.sqltypes import SqlType


def batch_rng(seed: int, table_key: str, worker: int, first_row: int, column: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(table_key.encode()), worker, first_row, column])


# numpy's SeedSequence (bit_generator.pyx): its hash and mix constants, 32-bit words
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R, _M32 = 0xCA01F9DD, 0x4973F715, 0xFFFFFFFF
_STATE_CONSTANTS = np.array([_INIT_B * _MULT_B**k & _M32 for k in range(9)], dtype=np.uint64)


class _State(np.random.bit_generator.ISeedSequence):
    """A seed sequence that hands PCG64 the state SeedSequence would have generated (computed by batch_rngs)."""

    def __init__(self, state: np.ndarray):
        self.state = state

    def generate_state(self, n_words, dtype=np.uint32):
        return self.state


def batch_rngs(seed: int, table_key: str, worker: int, first_row: int, columns: int) -> list[np.random.Generator]:
    """[batch_rng(seed, table_key, worker, first_row, c) for c in range(columns)], the same streams, for a fraction
    of the cost: SeedSequence's hashing of the entropy words they share is done once in Python, the last word (the
    column) for all columns at once with numpy, and PCG64 gets the resulting state directly."""
    words = [w for v in (seed, zlib.crc32(table_key.encode()), worker, first_row) for w in _uint32_words(v)]
    constant = _INIT_A

    def hashmix(value):  # SeedSequence's hashmix; the hash constant moves on with every call
        nonlocal constant
        value ^= constant
        constant = constant * _MULT_A & _M32
        value = value * constant & _M32
        return value ^ value >> 16

    def mix(x, y):
        result = (_MIX_L * x - _MIX_R * y) & _M32
        return result ^ result >> 16

    pool = [hashmix(w) for w in words[:4]]  # at least 4 words: seed, CRC, worker and first row have one or more
    for source in range(4):
        for target in range(4):
            if source != target:
                pool[target] = mix(pool[target], hashmix(pool[source]))
    for word in words[4:]:
        for target in range(4):
            pool[target] = mix(pool[target], hashmix(word))
    # the last word, the column, for every column at once: hashed with the next 4 constants, mixed into the pool
    constants = np.array([constant * _MULT_A**k & _M32 for k in range(5)], dtype=np.uint64)
    hashed = (np.arange(columns, dtype=np.uint64)[:, None] ^ constants[:4]) * constants[1:] & _M32
    hashed ^= hashed >> 16
    mixed = (np.array([_MIX_L * w & _M32 for w in pool], dtype=np.uint64) - _MIX_R * hashed) & _M32
    mixed ^= mixed >> 16
    # generate_state(4, uint64): 8 words from the pool, cycled, each hashed with its own constant
    value = (mixed[:, [0, 1, 2, 3, 0, 1, 2, 3]] ^ _STATE_CONSTANTS[:8]) * _STATE_CONSTANTS[1:] & _M32
    state = (value ^ value >> 16).astype("<u4", order="C").view("<u8").astype(np.uint64)  # little-endian pairs
    return [np.random.Generator(np.random.PCG64(_State(row))) for row in state]


def _uint32_words(value: int) -> list[int]:
    """SeedSequence's 32-bit words of a non-negative int (least significant first; 0 is one word)."""
    words = [value & _M32]
    while value > _M32:
        value >>= 32
        words.append(value & _M32)
    return words


@dataclass(frozen=True, slots=True)
class Draw:
    """What a generator kind makes a batch's values from: the batch's size and first (table-wide) row, its random
    stream, its null mask (True = null; None without nulls), and the vectorised helpers."""

    count: int
    first_row: int
    rng: np.random.Generator
    sql: SqlType
    mask: np.ndarray | None
    vector = vector

    @property
    def domain(self) -> str:
        return self.sql.domain


class ColumnPlan:
    """What a column's batches share: its SQL type (parsed once, not per batch), the generator's plan (built on the
    first batch) and, for a kind that repeats, its array of the last batch size."""

    def __init__(self, column: Column):
        self.column, self.sql, self.kind = column, column.sql_type, column.generator
        self.kind_plan = self.kind.plan(self.sql, vector)
        self.repeated: pa.Array | None = None

    def array(self, count: int, first_row: int, rng: np.random.Generator) -> pa.Array:
        mask = rng.random(count) < self.column.null_fraction if self.column.null_fraction > 0 else None
        if self.kind.repeats and mask is None:  # the same array every batch of this size (arrays are immutable)
            if self.repeated is None or len(self.repeated) != count:
                self.repeated = self._make(Draw(count, first_row, rng, self.sql, None))
            return self.repeated
        return self._make(Draw(count, first_row, rng, self.sql, mask))

    def _make(self, draw: Draw) -> pa.Array:
        if self.sql.domain == "text":
            return self.kind.column_text(self.kind_plan, draw)
        return to_arrow(self.kind.column_values(self.kind_plan, draw), self.sql, draw.mask)


_PLANS: dict[int, ColumnPlan] = {}


def plan(column: Column) -> ColumnPlan:
    """The column's plan, by identity (a plan keeps its column alive, so the id cannot be reused meanwhile)."""
    found = _PLANS.get(id(column))
    if found is None or found.column is not column:
        if len(_PLANS) > 4096:
            _PLANS.clear()
        found = _PLANS[id(column)] = ColumnPlan(column)
    return found


_SCHEMAS: dict[int, tuple] = {}


def record_batch(definition: TableDefinition, key: str, seed: int, worker: int, first_row: int, count: int, pool=None):
    """Rows [first_row, first_row + count) of the worker's share (first_row is the table-wide row index). With a
    pool (concurrent.futures), the columns are made on its threads: each has its own random stream, so the batch
    is the same, and numpy and pyarrow release the GIL for most of the work."""
    known = _SCHEMAS.get(id(definition))
    if known is None or known[0] is not definition:
        known = _SCHEMAS[id(definition)] = (definition, arrow_schema(definition))
    rngs = batch_rngs(seed, key, worker, first_row, len(definition.columns))
    mapping = pool.map if pool is not None else map
    arrays = list(mapping(lambda column, rng: column_array(column, count, first_row, rng), definition.columns, rngs))
    return pa.RecordBatch.from_arrays(arrays, schema=known[1])


def column_array(column: Column, count: int, first_row: int, rng: np.random.Generator) -> pa.Array:
    """Rows [first_row, first_row + count) of one column, from the column's random stream."""
    return plan(column).array(count, first_row, rng)


def to_arrow(values: np.ndarray, sql, mask) -> pa.Array:
    domain = sql.domain
    if domain == "numeric":
        # decimal128 from its buffer: the low 64 bits are the value, the high 64 bits its sign extension
        unscaled = values.astype(np.int64, copy=False)
        words = np.empty((len(unscaled), 2), dtype="<i8")
        words[:, 0], words[:, 1] = unscaled, unscaled >> 63
        return pa.Array.from_buffers(arrow_type(sql), len(unscaled), [vector.validity(mask), pa.py_buffer(words)])
    if domain == "date":
        return vector.from_numpy(values, pa.int32(), mask).view(arrow_type(sql))
    if domain == "timestamp":
        return vector.from_numpy(values, pa.int64(), mask).view(arrow_type(sql))
    if domain == "interval":  # month_day_nano: int32 months, int32 days (both 0 here), int64 nanoseconds
        if len(values) and np.abs(values).max() > sqltypes.MAX_INTERVAL_US:  # ns would wrap around in int64
            raise ValueError(f"an INTERVAL value beyond ±100 years ({int(np.abs(values).max())} µs)")
        words = np.zeros((len(values), 2), dtype="<i8")
        words[:, 1] = values.astype(np.int64) * 1000
        return pa.Array.from_buffers(arrow_type(sql), len(values), [vector.validity(mask), pa.py_buffer(words)])
    if domain == "int":
        return vector.from_numpy(values, pa.int64(), mask).cast(arrow_type(sql))  # overflow raises
    return vector.from_numpy(values, arrow_type(sql), mask)
