"""Column generators: one Arrow array per column and batch, vectorised with numpy and pyarrow (no Python loop per
row or value; text is built from dictionary indices or from offsets + bytes buffers).

Every value is a function of (scenario seed, table, worker, first row of the batch, column): `batch_rng` seeds a
fresh numpy Generator from exactly these, so the same seed writes byte-identical data, whatever the timing.
Sequences use the row's global index (the worker's first row + offset), so two workers never write the same key.
"""

from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loadgen import tables  # a module reference: tables imports this module back (lazily) for WORDS

# A built-in word list for `words` (lorem-ipsum-like, ASCII): short and long words for a realistic mix of lengths.
WORDS = tuple(
    """lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore
    magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo consequat
    duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur excepteur sint occaecat
    cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum order customer delivery late
    early priority express standard return refund gift fragile warehouse shipped pending invoice payment card cash
    please call before leave at door backyard office reception weekend morning evening urgent thanks""".split()
)


@lru_cache(maxsize=1)
def words_array() -> pa.Array:
    """Built on first use: pa.array() of Python strings imports pandas (~0.4 s), which a worker that never writes
    words should not pay at start."""
    return pa.array(WORDS, pa.string())


_ALPHABETS = {
    "letters": np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8),
    "digits": np.frombuffer(b"0123456789", np.uint8),
    "alnum": np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", np.uint8),
}
_DIGITS, _UPPER = np.frombuffer(b"0123456789", np.uint8), np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", np.uint8)
US_PER_S = 1_000_000


def batch_rng(seed: int, table_key: str, worker: int, first_row: int, column: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(table_key.encode()), worker, first_row, column])


def record_batch(definition: tables.TableDefinition, key: str, seed: int, worker: int, first_row: int, count: int):
    """Rows [first_row, first_row + count) of the worker's share (first_row is the table-wide row index)."""
    arrays = [
        column_array(col, count, first_row, batch_rng(seed, key, worker, first_row, i))
        for i, col in enumerate(definition.columns)
    ]
    return pa.record_batch(arrays, schema=definition.arrow_schema())


def column_array(column: tables.Column, count: int, first_row: int, rng: np.random.Generator) -> pa.Array:
    sql = column.sql_type
    mask = rng.random(count) < column.null_fraction if column.null_fraction > 0 else None
    if sql.domain == "text":
        values = text_values(column.generator, count, rng)
        return pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), values) if mask is not None else values
    values = domain_values(column, count, first_row, rng)
    return to_arrow(values, sql, mask)


def domain_values(column: tables.Column, count: int, first_row: int, rng: np.random.Generator) -> np.ndarray:
    """numpy values in the column's domain: int64 (int, scaled numeric, days, µs), float64 or bool."""
    sql, gen = column.sql_type, column.generator
    domain, kind = sql.domain, gen.kind
    integral = domain != "float"
    if kind == "sequence":
        index = np.arange(first_row, first_row + count, dtype=np.int64)
        step = gen.step
        if domain == "numeric":
            step = tables.to_domain(step, sql)
        elif domain == "timestamp":
            step = round(step * US_PER_S)
        start = tables.to_domain(gen.start, sql)
        return start + index * step if integral else start + index * float(step)
    if kind == "uniform":
        low, high = tables.to_domain(gen.low, sql), tables.to_domain(gen.high, sql)
        return rng.integers(low, high, size=count, endpoint=True) if integral else rng.uniform(low, high, count)
    if kind in ("normal", "lognormal"):
        raw = rng.normal(gen.mean, gen.stddev, count) if kind == "normal" else rng.lognormal(gen.mean, gen.sigma, count)
        raw = np.clip(raw, gen.low if gen.low is not None else -np.inf, gen.high if gen.high is not None else np.inf)
        if domain == "numeric":
            return np.round(raw * 10**sql.scale).astype(np.int64)
        return np.round(raw).astype(np.int64) if integral else raw
    if kind == "zipf":
        keys = np.searchsorted(zipf_cdf(gen.n, gen.s), rng.random(count), side="right") + 1
        keys = np.minimum(keys, gen.n)  # a draw of exactly the last cdf value (rounding) stays in 1..n
        return keys * 10**sql.scale if domain == "numeric" else (keys if integral else keys.astype(np.float64))
    if kind == "choice":
        pool = np.array([tables.to_domain(v, sql) for v in gen.values])
        return pool[choice_indices(gen, count, rng)]
    if kind == "bool":
        return rng.random(count) < gen.p
    if kind == "constant":
        return np.full(count, tables.to_domain(gen.value, sql))
    raise ValueError(f"generator {kind} does not fit {sql.sql}")


def choice_indices(gen, count: int, rng: np.random.Generator) -> np.ndarray:
    if gen.weights is None:
        return rng.integers(0, len(gen.values), size=count)
    cdf = np.cumsum(np.asarray(gen.weights, dtype=np.float64))
    return np.minimum(np.searchsorted(cdf / cdf[-1], rng.random(count), side="right"), len(gen.values) - 1)


@lru_cache(maxsize=16)
def zipf_cdf(n: int, s: float) -> np.ndarray:
    weights = np.arange(1, n + 1, dtype=np.float64) ** -s
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def to_arrow(values: np.ndarray, sql, mask) -> pa.Array:
    domain = sql.domain
    if domain == "numeric":
        # decimal128 from its buffer: the low 64 bits are the value, the high 64 bits its sign extension
        unscaled = values.astype(np.int64)
        words = np.empty((len(unscaled), 2), dtype="<i8")
        words[:, 0], words[:, 1] = unscaled, unscaled >> 63
        validity = pa.array(~mask).buffers()[1] if mask is not None else None
        return pa.Array.from_buffers(sql.arrow, len(unscaled), [validity, pa.py_buffer(words)])
    if domain == "date":
        return pa.array(values.astype(np.int32), pa.int32(), mask=mask).cast(sql.arrow)
    if domain == "timestamp":
        return pa.array(values.astype(np.int64), pa.int64(), mask=mask).view(sql.arrow)
    if domain == "int":
        return pa.array(values.astype(np.int64), pa.int64(), mask=mask).cast(sql.arrow)  # safe: overflow raises
    return pa.array(values, sql.arrow, mask=mask)


def text_values(gen, count: int, rng: np.random.Generator) -> pa.Array:
    if gen.kind == "choice":
        return pc.take(pa.array([str(v) for v in gen.values], pa.string()), pa.array(choice_indices(gen, count, rng)))
    if gen.kind == "constant":
        return pc.take(pa.array([str(gen.value)], pa.string()), pa.array(np.zeros(count, dtype=np.int32)))
    if gen.kind == "words":
        per_row = rng.integers(gen.min_words, gen.max_words, size=count, endpoint=True)
        offsets = np.zeros(count + 1, dtype=np.int32)
        np.cumsum(per_row, out=offsets[1:])
        words = pc.take(words_array(), pa.array(rng.integers(0, len(WORDS), size=int(offsets[-1]))))
        return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), words), " ")
    if gen.kind == "random":
        lengths = rng.integers(gen.min_length, gen.max_length, size=count, endpoint=True)
        alphabet = _ALPHABETS[gen.alphabet]
        body = alphabet[rng.integers(0, len(alphabet), size=int(lengths.sum()))]
        return strings_from_buffers(lengths, body)
    if gen.kind == "pattern":
        template = np.frombuffer(gen.pattern.encode(), np.uint8)
        grid = np.tile(template, (count, 1))
        for symbol, pool in ((ord("#"), _DIGITS), (ord("?"), _UPPER)):
            where = np.flatnonzero(template == symbol)
            if len(where):
                grid[:, where] = pool[rng.integers(0, len(pool), size=(count, len(where)))]
        return strings_from_buffers(np.full(count, len(template)), grid.reshape(-1))
    raise ValueError(f"generator {gen.kind} does not make text")


def strings_from_buffers(lengths: np.ndarray, body: np.ndarray) -> pa.Array:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer(body)])


# ------------------------------------------------------------------------------------------------ facts
FLOAT_REL_TOL = 1e-9  # float sums: the server adds in another order


def exact_sum(values: pa.Array) -> int:
    """Σ of an integer array, exact for any int64 values: high and low 32-bit halves are summed separately, each
    of which fits int64 for batches of up to 2^31 rows."""
    ints = values.drop_null().to_numpy(zero_copy_only=False).astype(np.int64)
    return int((ints >> 32).sum()) * 2**32 + int((ints & 0xFFFFFFFF).sum())


def batch_facts(definition: tables.TableDefinition, batch: pa.RecordBatch) -> dict:
    """Per column: non-null count, sum (ints, scaled NUMERIC and bool exact; floats inexact), min, max (in the
    column's domain) and total text length."""
    out = {}
    for column, array in zip(definition.columns, batch.columns, strict=True):
        domain = column.sql_type.domain
        facts = {"non_null": len(array) - array.null_count}
        if domain == "text":
            facts["length"] = int(pc.sum(pc.utf8_length(array)).as_py() or 0)
        elif domain == "bool":
            facts["sum"] = int(pc.sum(array.cast(pa.int64())).as_py() or 0)
        else:
            numbers = _as_numbers(array, domain)
            if facts["non_null"]:
                facts["sum"] = float(pc.sum(numbers).as_py()) if domain == "float" else exact_sum(numbers)
                bounds = pc.min_max(numbers)
                facts["min"], facts["max"] = bounds["min"].as_py(), bounds["max"].as_py()
        out[column.name] = facts
    return out


def _as_numbers(array: pa.Array, domain: str) -> pa.Array:
    """The array in its domain: scaled int64 for NUMERIC, days for DATE, µs for TIMESTAMP."""
    if domain == "numeric":
        words = np.frombuffer(array.buffers()[1], dtype="<i8")[array.offset * 2 : (array.offset + len(array)) * 2]
        return pa.array(words[0::2], pa.int64(), mask=array.is_null().to_numpy(zero_copy_only=False))
    if domain == "date":
        return array.cast(pa.int32()).cast(pa.int64())
    if domain == "timestamp":
        return array.view(pa.int64())
    if domain == "int":
        return array.cast(pa.int64())
    return array


def merge_facts(total: dict, more: dict) -> dict:
    """Facts of two sets of rows together (same columns)."""
    for name, facts in more.items():
        into = total.setdefault(name, {"non_null": 0})
        for key, value in facts.items():
            if key == "min":
                into[key] = value if into.get(key) is None else min(into[key], value)
            elif key == "max":
                into[key] = value if into.get(key) is None else max(into[key], value)
            else:
                into[key] = into.get(key, 0) + value
    return total


def write_parquet_sample(
    scenario_path: str, key: str, folder: str, files: int = 4, rows_per_file: int = 250_000, group_rows: int = 65_536
):
    """Parquet files of a definition's generated rows (several row groups each), for file-source scenarios:
    `make sample_data`. Written batch by batch, so memory stays bounded by the batch."""
    import os

    import pyarrow.parquet as pq

    from loadgen.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    definition = scenario.data[key]
    os.makedirs(folder, exist_ok=True)
    for number in range(files):
        path = os.path.join(folder, f"{key}-{number}.parquet")
        with pq.ParquetWriter(path, definition.arrow_schema()) as writer:
            for first in range(number * rows_per_file, (number + 1) * rows_per_file, group_rows):
                count = min(group_rows, (number + 1) * rows_per_file - first)  # one batch = one row group
                writer.write_batch(record_batch(definition, key, scenario.seed, 0, first, count))
        print(path)
