"""Column generators: one Arrow array per column and batch, vectorised with numpy and pyarrow (no Python loop per
row or value; text is built from dictionary indices, from offsets + bytes buffers, or from slices of a byte pool
through a string_view array cast to string).

Every value is a function of (scenario seed, table, worker, first row of the batch, column): `batch_rng` seeds a
fresh numpy Generator from exactly these, so the same seed writes byte-identical data, whatever the timing.
Sequences use the row's global index (the worker's first row + offset), so two workers never write the same key.
"""

from __future__ import annotations

import itertools
import zlib
from functools import lru_cache

import numpy as np
import pyarrow as pa

from loadgen.datagen import sqltypes
from loadgen.datagen.arrow import arrow_schema, arrow_type
from loadgen.datagen.definitions import Column, TableDefinition
from loadgen.datagen.kinds import WORDS

_ALPHABETS = {
    "letters": np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8),
    "digits": np.frombuffer(b"0123456789", np.uint8),
    "alnum": np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", np.uint8),
}
_DIGITS, _UPPER = np.frombuffer(b"0123456789", np.uint8), np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", np.uint8)
US_PER_S = 1_000_000


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


class _Plan:
    """What a column's batches share: its SQL type (parsed once, not per batch) and the generator's constants in the
    column's domain (pools, cumulative distributions, word buffers), built on the first batch."""

    def __init__(self, column: Column):
        self.column, self.sql, gen = column, column.sql_type, column.generator
        self.domain, self.gen = self.sql.domain, gen
        self.cdf = self.constant = None
        if gen.kind == "choice" and gen.weights is not None:
            cdf = np.cumsum(np.asarray(gen.weights, dtype=np.float64))
            self.cdf = cdf / cdf[-1]
        if self.domain == "text":
            if gen.kind == "choice":
                self.pool = pa.array(np.array([str(v) for v in gen.values], dtype=object), pa.string())
            elif gen.kind == "constant":
                self.pool = pa.array(np.array([str(gen.value)], dtype=object), pa.string())
            elif gen.kind == "pattern":
                self.template = np.frombuffer(gen.pattern.encode(), np.uint8)
                self.runs = pattern_runs(gen.pattern)
            return
        if gen.kind == "choice":
            self.pool = np.array([sqltypes.to_domain(v, self.sql) for v in gen.values])
        elif gen.kind == "constant":
            self.value = sqltypes.to_domain(gen.value, self.sql)
        elif gen.kind == "uniform":
            self.low, self.high = sqltypes.to_domain(gen.low, self.sql), sqltypes.to_domain(gen.high, self.sql)
        elif gen.kind == "sequence":
            step = gen.step
            if self.domain == "numeric":
                step = sqltypes.to_domain(step, self.sql)
            elif self.domain == "timestamp":
                step = round(step * US_PER_S)
            elif self.domain == "interval":
                step = sqltypes.interval_us(step)
            self.start, self.step = sqltypes.to_domain(gen.start, self.sql), step


_PLANS: dict[int, _Plan] = {}


def plan(column: Column) -> _Plan:
    """The column's plan, by identity (a plan keeps its column alive, so the id cannot be reused meanwhile)."""
    found = _PLANS.get(id(column))
    if found is None or found.column is not column:
        if len(_PLANS) > 4096:
            _PLANS.clear()
        found = _PLANS[id(column)] = _Plan(column)
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
    p = plan(column)
    mask = rng.random(count) < column.null_fraction if column.null_fraction > 0 else None
    if p.gen.kind == "constant" and mask is None:  # the same array every batch of this size (arrays are immutable)
        if p.constant is None or len(p.constant) != count:
            p.constant = (
                text_values(p, count, rng) if p.domain == "text" else to_arrow(np.full(count, p.value), p.sql, None)
            )
        return p.constant
    if p.domain == "text":
        return text_values(p, count, rng, mask)
    return to_arrow(domain_values(p, count, first_row, rng), p.sql, mask)


def domain_values(p: _Plan, count: int, first_row: int, rng: np.random.Generator) -> np.ndarray:
    """numpy values in the column's domain: int64 (int, scaled numeric, days, µs), float64 or bool."""
    sql, gen, domain = p.sql, p.gen, p.domain
    kind = gen.kind
    integral = domain != "float"
    if kind == "sequence":
        index = np.arange(first_row, first_row + count, dtype=np.int64)
        return p.start + index * p.step if integral else p.start + index * float(p.step)
    if kind == "uniform":
        return rng.integers(p.low, p.high, size=count, endpoint=True) if integral else rng.uniform(p.low, p.high, count)
    if kind in ("normal", "lognormal"):
        raw = rng.normal(gen.mean, gen.stddev, count) if kind == "normal" else rng.lognormal(gen.mean, gen.sigma, count)
        if gen.low is not None or gen.high is not None:
            np.clip(raw, gen.low if gen.low is not None else -np.inf, gen.high if gen.high is not None else np.inf, raw)
        if domain == "numeric":
            raw *= 10**sql.scale
        return np.round(raw, out=raw).astype(np.int64) if integral else raw
    if kind == "zipf":
        keys = zipf_keys(gen.n, gen.s, rng.random(count))
        return keys * 10**sql.scale if domain == "numeric" else (keys if integral else keys.astype(np.float64))
    if kind == "choice":
        return p.pool[choice_indices(p, count, rng)]
    if kind == "bool":
        return rng.random(count) < gen.p
    if kind == "constant":
        return np.full(count, p.value)
    raise ValueError(f"generator {kind} does not fit {sql.sql}")


def choice_indices(p: _Plan, count: int, rng: np.random.Generator) -> np.ndarray:
    if p.cdf is None:
        return rng.integers(0, len(p.gen.values), size=count)
    u = rng.random(count)
    if len(p.cdf) > 16:
        return np.minimum(np.searchsorted(p.cdf, u, side="right"), len(p.gen.values) - 1)
    indices = np.zeros(count, np.uint8)  # a few values: the count of cumulative weights <= u, as searchsorted
    for bound in p.cdf[:-1]:  # (the last one is 1.0, above every draw)
        indices += u >= bound
    return indices


@lru_cache(maxsize=16)
def zipf_table(n: int, s: float) -> tuple[np.ndarray, np.ndarray, int]:
    """The cumulative distribution of keys 1..n after a leading 0 (bounds[k] = P(key <= k)); a guide table:
    guide[j] = the key index (0-based) where u = j/n falls, for j = 0..n + 1 (u * n may round up to n); and the
    bisection steps that search any bucket [guide[j], guide[j + 1]]."""
    bounds = np.zeros(n + 1, dtype=np.float64)
    np.cumsum(np.arange(1, n + 1, dtype=np.float64) ** -s, out=bounds[1:])
    bounds /= bounds[-1]
    guide = np.searchsorted(bounds[1:], np.arange(n + 2, dtype=np.float64) / n, side="right")
    guide = np.minimum(guide, n - 1).astype(np.int32)
    return bounds, guide, int(np.diff(guide).max(initial=0)).bit_length()


def zipf_keys(n: int, s: float, u: np.ndarray) -> np.ndarray:
    """Inverse transform of uniform draws: exactly searchsorted(cdf, u, 'right') + 1, by an indexed search. The
    guide table gives each draw's candidate, kept when bounds[key - 1] <= u < bounds[key]; the other draws (their
    bucket spans several keys) are bisected within their bucket, and any draw still off (u * n rounded into the
    next bucket) gets a binary search over the whole distribution. Several times faster than that search alone."""
    bounds, guide, steps = zipf_table(n, s)
    bucket = (u * n).astype(np.intp)
    keys = guide[bucket]
    miss = np.flatnonzero((bounds[keys] > u) | (u >= bounds[keys + 1]))
    if len(miss):
        drawn, low, high = u[miss], keys[miss], guide[bucket[miss] + 1]
        for _ in range(steps):  # the first key index in [low, high] whose bound is above u
            middle = (low + high) >> 1
            above = drawn >= bounds[middle + 1]
            low, high = np.where(above, middle + 1, low), np.where(above, high, middle)
        low = np.minimum(low, n - 1)  # past its bucket when the key is not in it
        off = np.flatnonzero((bounds[low] > drawn) | (drawn >= bounds[low + 1]))
        if len(off):
            low[off] = np.minimum(np.searchsorted(bounds[1:], drawn[off], side="right"), n - 1)
        keys[miss] = low
    return keys.astype(np.int64) + 1


def zipf_cdf(n: int, s: float) -> np.ndarray:
    return zipf_table(n, s)[0][1:]


def to_arrow(values: np.ndarray, sql, mask) -> pa.Array:
    domain = sql.domain
    if domain == "numeric":
        # decimal128 from its buffer: the low 64 bits are the value, the high 64 bits its sign extension
        unscaled = values.astype(np.int64, copy=False)
        words = np.empty((len(unscaled), 2), dtype="<i8")
        words[:, 0], words[:, 1] = unscaled, unscaled >> 63
        return pa.Array.from_buffers(arrow_type(sql), len(unscaled), [validity(mask), pa.py_buffer(words)])
    if domain == "date":
        return pa.array(values.astype(np.int32, copy=False), pa.int32(), mask=mask).view(arrow_type(sql))
    if domain == "timestamp":
        return pa.array(values.astype(np.int64, copy=False), pa.int64(), mask=mask).view(arrow_type(sql))
    if domain == "interval":  # month_day_nano: int32 months, int32 days (both 0 here), int64 nanoseconds
        if len(values) and np.abs(values).max() > sqltypes.MAX_INTERVAL_US:  # ns would wrap around in int64
            raise ValueError(f"an INTERVAL value beyond ±100 years ({int(np.abs(values).max())} µs)")
        words = np.zeros((len(values), 2), dtype="<i8")
        words[:, 1] = values.astype(np.int64) * 1000
        return pa.Array.from_buffers(arrow_type(sql), len(values), [validity(mask), pa.py_buffer(words)])
    if domain == "int":
        return pa.array(values.astype(np.int64, copy=False), pa.int64(), mask=mask).cast(
            arrow_type(sql)
        )  # overflow raises
    return pa.array(values, arrow_type(sql), mask=mask)


def validity(mask) -> pa.Buffer | None:
    """The Arrow validity bitmap of a null mask (True = null), or None without nulls."""
    return None if mask is None else pa.py_buffer(np.packbits(~mask, bitorder="little"))


def _word_pieces() -> pa.Array:
    """Every word followed by a space, then every word alone, then the empty string: a row of words is the
    concatenation of pieces (its last word without the space; a null row's words all empty), so `take` of the
    pieces builds every row's bytes at once."""
    pieces = [w + " " for w in WORDS] + list(WORDS) + [""]
    offsets = np.zeros(len(pieces) + 1, dtype=np.int32)
    np.cumsum([len(piece) for piece in pieces], out=offsets[1:])
    body = "".join(pieces).encode()
    return pa.Array.from_buffers(pa.string(), len(pieces), [None, pa.py_buffer(offsets), pa.py_buffer(body)])


_WORD_PIECES = _word_pieces()


def text_values(p: _Plan, count: int, rng: np.random.Generator, mask=None) -> pa.Array:
    """A string array built from its buffers; a null (mask True) is an empty slot, its draws are spent all the
    same, so the other rows do not depend on the null fraction's draws."""
    gen = p.gen
    keep = None if mask is None else ~mask
    if gen.kind in ("choice", "constant"):
        indices = choice_indices(p, count, rng) if gen.kind == "choice" else np.zeros(count, dtype=np.int64)
        return p.pool.take(pa.array(indices, mask=mask))  # indices in their own integer type
    if gen.kind == "words":
        # a pool of random words (each with its trailing space), one per row plus max_words - 1, then each row is
        # the slice of the pool from a random word on, as many words as drawn for the row, without its last space
        # (as TPC-H's dbgen takes its text from a pre-generated pool): one `take` of pool-many words per batch
        per_row = rng.integers(gen.min_words, gen.max_words, size=count, endpoint=True, dtype=np.int32)
        first = rng.integers(0, max(count, 1), size=count, dtype=np.int32)
        drawn = rng.integers(0, len(WORDS), size=max(count, 1) + gen.max_words - 1, dtype=np.uint16)
        pool = _WORD_PIECES.take(pa.array(drawn))
        word_starts = np.frombuffer(pool.buffers()[1], np.int32, len(pool) + 1)
        starts = word_starts[first]
        lengths = word_starts[first + per_row] - starts - 1
        if mask is not None:
            lengths[mask] = 0  # a null row: an empty slot
        return strings_from_slices(padded(pool.buffers()[2], int(word_starts[-1])), starts, lengths, mask)
    if gen.kind == "random":
        lengths = rng.integers(gen.min_length, gen.max_length, size=count, endpoint=True, dtype=np.int32)
        alphabet = _ALPHABETS[gen.alphabet]
        body = alphabet_bytes(alphabet, rng.integers(0, len(alphabet), size=int(lengths.sum()), dtype=np.uint16))
        rows = strings_from_buffers(lengths, body)
        return rows if mask is None else rows.take(valid_positions(mask))  # a null row's bytes are dropped
    if gen.kind == "pattern":
        width = len(p.template)
        grid = np.tile(p.template, count)
        for begin, size, pool in p.runs if count else ():  # a draw per row and piece: its 1, 2 or 4 characters
            number = rng.integers(0, len(pool) ** size, size=count, dtype=np.uint16)
            into = np.ndarray((count,), f"<u{size}", grid, begin, (width,))  # the piece's bytes in every row
            into[:] = piece_table(pool.tobytes(), size)[number]
        if keep is not None:
            grid = grid.reshape(count, width)[keep].reshape(-1)
        lengths = np.full(count, width) if keep is None else keep * width
        return strings_from_buffers(lengths, grid, mask)
    raise ValueError(f"generator {gen.kind} does not make text")


def pattern_runs(pattern: str) -> list[tuple[int, int, np.ndarray]]:
    """(start, size, alphabet) of the pieces of each run of '#' or '?' in a pattern: a run cut into pieces of 4, 2
    and 1 characters (digits) or 2 and 1 (letters), so that a piece is one draw below 10^4 or 26^2, written as one
    little-endian integer of its size."""
    runs, position = [], 0
    for symbol, group in itertools.groupby(pattern.encode()):
        width = len(list(group))
        pool = {ord("#"): _DIGITS, ord("?"): _UPPER}.get(symbol)
        begin = position
        while pool is not None and begin < position + width:
            size = next(size for size in ((4, 2, 1) if pool is _DIGITS else (2, 1)) if size <= position + width - begin)
            runs.append((begin, size, pool))
            begin += size
        position += width
    return runs


@lru_cache(maxsize=8)
def piece_table(alphabet: bytes, size: int) -> np.ndarray:
    """For each number 0 .. len(alphabet)^size - 1 its `size` characters (its digits in base len(alphabet), most
    significant first) as one little-endian unsigned integer: the bytes to write."""
    pool = np.frombuffer(alphabet, np.uint8)
    numbers = np.arange(len(pool) ** size)
    table = np.zeros(len(numbers), f"<u{size}")
    for position in range(size):  # the digit of weight base^(size - 1 - position) is byte `position`
        digit = numbers // len(pool) ** (size - 1 - position) % len(pool)
        table |= pool[digit].astype(table.dtype) << (8 * position)
    return table


def alphabet_bytes(alphabet: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """alphabet[drawn] (uint8), by arithmetic on uint8 for an alphabet of a few ranges of consecutive bytes
    (A-Z, a-z, 0-9: a pass per range), else by a gather."""
    cuts = np.flatnonzero(np.diff(alphabet.astype(np.int16)) != 1) + 1
    if len(cuts) > 3:
        return alphabet[drawn]
    small = drawn.astype(np.uint8)
    out = small + alphabet[0]
    for cut in cuts:  # from the cut on, the bytes go on from alphabet[cut] instead of alphabet[cut - 1] + 1
        out += (small >= cut).view(np.uint8) * np.uint8((int(alphabet[cut]) - int(alphabet[cut - 1]) - 1) % 256)
    return out


def valid_positions(mask: np.ndarray) -> pa.Array:
    """0 .. len(mask) - 1 as int32 indices, null where mask is True: `take` of them keeps the valid rows and makes
    every null row an empty slot."""
    positions = np.arange(len(mask), dtype=np.int32)
    return pa.Array.from_buffers(pa.int32(), len(mask), [validity(mask), pa.py_buffer(positions)])


def padded(buffer, size: int) -> np.ndarray:
    """The first `size` bytes of a buffer, then 12 zero bytes (what strings_from_slices reads past a slice)."""
    data = np.zeros(size + 12, np.uint8)
    data[:size] = np.frombuffer(buffer, np.uint8, size)
    return data


def _byte_masks(most: int, skip: int) -> np.ndarray:
    """For a string of 0..12 bytes: the uint64 mask of its bytes skip .. skip + most - 1 (little-endian)."""
    return np.array([(1 << (8 * min(max(n - skip, 0), most))) - 1 for n in range(13)], dtype=np.uint64)


_INLINE_LOW, _INLINE_HIGH = _byte_masks(4, 0).astype(np.uint32), _byte_masks(8, 4)


def strings_from_slices(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, mask=None) -> pa.Array:
    """A string array of the slices data[start : start + length] (overlapping or not): their string_view array
    cast to string in C++, one copy of each row's bytes, no per-row Python."""
    return string_views(data, starts, lengths, mask).cast(pa.string())


def string_views(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, mask=None) -> pa.Array:
    """The Arrow string_view array of the slices data[start : start + length]: 16-byte views (a row of up to 12
    bytes inline, zero-padded; a longer one as its 4-byte prefix and its offset in `data`), built with numpy.
    `data` (uint8) must go on for 12 bytes past every slice (see `padded`)."""
    size = len(data) - 12
    head = np.ndarray((size,), "<u4", data, 0, (1,))  # the 4 bytes from each position (unaligned views)
    tail = np.ndarray((size,), "<u8", data, 4, (1,))  # the 8 bytes after those
    views = np.empty((len(lengths), 4), np.uint32)  # a long row: length, prefix, buffer 0, offset
    views[:, 0], views[:, 1], views[:, 2], views[:, 3] = lengths, head[starts], 0, starts
    short = np.flatnonzero(lengths <= 12)  # inline: length, then its bytes, zero-padded to 12
    if len(short):
        at, length = starts[short], lengths[short]
        views[short, 1] = head[at] & _INLINE_LOW[length]
        views.view(np.uint64)[short, 1] = tail[at] & _INLINE_HIGH[length]
    buffers = [validity(mask), pa.py_buffer(views), pa.py_buffer(data)]  # long rows: buffer 0 at offset start
    return pa.Array.from_buffers(pa.string_view(), len(lengths), buffers)


def strings_from_buffers(lengths: np.ndarray, body: np.ndarray, mask=None) -> pa.Array:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(
        pa.string(), len(lengths), [validity(mask), pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(body))]
    )
