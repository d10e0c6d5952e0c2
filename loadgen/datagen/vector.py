"""The vectorised helpers the generator kinds (loadgen/datagen/kinds.py) make their values with: numpy and
pyarrow, no Python loop per row or value. Text is built from dictionary indices, from offsets + bytes buffers, or
from slices of a byte pool through a string_view array cast to string.
"""

import itertools
from functools import lru_cache

import numpy as np
import pyarrow as pa

from loadgen.datagen.kinds import WORDS

ALPHABETS = {
    "letters": np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8),
    "digits": np.frombuffer(b"0123456789", np.uint8),
    "alnum": np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", np.uint8),
}
DIGITS, UPPER = np.frombuffer(b"0123456789", np.uint8), np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", np.uint8)


def cumulative(weights: list[float]) -> np.ndarray:
    """The cumulative distribution of weights (the last bound exactly 1.0)."""
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    return cdf / cdf[-1]


def choice_indices(cdf: np.ndarray | None, n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` indices into n values: uniform without a distribution, else drawn by inverse transform."""
    if cdf is None:
        return rng.integers(0, n, size=count)
    u = rng.random(count)
    if len(cdf) > 16:
        return np.minimum(np.searchsorted(cdf, u, side="right"), n - 1)
    indices = np.zeros(count, np.uint8)  # a few values: the count of cumulative weights <= u, as searchsorted
    for bound in cdf[:-1]:  # (the last one is 1.0, above every draw)
        indices += u >= bound
    return indices


# Arrays are built from their buffers (pa.Array.from_buffers), never with pa.array: pyarrow's conversion of numpy
# arrays or Python lists imports pandas the first time in a process (0.2 CPU-s and ~50 MiB per worker, on the
# critical path of a phase's first batch).


def from_numpy(values: np.ndarray, arrow_type: pa.DataType, mask=None) -> pa.Array:
    """The Arrow array of numpy values (integers, floats or booleans) as `arrow_type`'s storage, null where mask
    is True; the values are converted to the type's width first (not checked: cast the result for that)."""
    if pa.types.is_boolean(arrow_type):
        data = np.packbits(np.asarray(values, dtype=bool), bitorder="little")
    else:
        data = np.ascontiguousarray(values, dtype=arrow_type.to_pandas_dtype())
    return pa.Array.from_buffers(arrow_type, len(values), [validity(mask), pa.py_buffer(data)])


def text_pool(values: list[str]) -> pa.Array:
    encoded = [value.encode() for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(piece) for piece in encoded], out=offsets[1:])
    return pa.Array.from_buffers(
        pa.string(), len(encoded), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    )


def indices_array(indices: np.ndarray, mask=None) -> pa.Array:
    return from_numpy(indices, pa.from_numpy_dtype(indices.dtype), mask)


def take(pool: pa.Array, indices: np.ndarray, mask) -> pa.Array:
    """pool[indices], null where mask is True (the indices keep their own integer type)."""
    return pool.take(indices_array(indices, mask))


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


def validity(mask) -> pa.Buffer | None:
    """The Arrow validity bitmap of a null mask (True = null), or None without nulls."""
    return None if mask is None else pa.py_buffer(np.packbits(~mask, bitorder="little"))


def _word_pieces() -> pa.Array:
    """Every word followed by a space, then every word alone, then the empty string: a row of words is the
    concatenation of pieces (its last word without the space; a null row's words all empty), so `take` of the
    pieces builds every row's bytes at once."""
    return text_pool([w + " " for w in WORDS] + list(WORDS) + [""])


_WORD_PIECES = _word_pieces()


def word_slices(drawn: np.ndarray, first: np.ndarray, per_row: np.ndarray, mask) -> pa.Array:
    """Rows of words: the pool of the drawn words (each with its trailing space), each row the slice of the pool
    from its first word on, per_row words long, without its last space; a null row an empty slot."""
    pool = _WORD_PIECES.take(indices_array(drawn))
    word_starts = np.frombuffer(pool.buffers()[1], np.int32, len(pool) + 1)
    starts = word_starts[first]
    lengths = word_starts[first + per_row] - starts - 1
    if mask is not None:
        lengths[mask] = 0
    return strings_from_slices(padded(pool.buffers()[2], int(word_starts[-1])), starts, lengths, mask)


def pattern_runs(pattern: str) -> list[tuple[int, int, np.ndarray]]:
    """(start, size, alphabet) of the pieces of each run of '#' or '?' in a pattern: a run cut into pieces of 4, 2
    and 1 characters (digits) or 2 and 1 (letters), so that a piece is one draw below 10^4 or 26^2, written as one
    little-endian integer of its size."""
    runs, position = [], 0
    for symbol, group in itertools.groupby(pattern.encode()):
        width = len(list(group))
        pool = {ord("#"): DIGITS, ord("?"): UPPER}.get(symbol)
        begin = position
        while pool is not None and begin < position + width:
            size = next(size for size in ((4, 2, 1) if pool is DIGITS else (2, 1)) if size <= position + width - begin)
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
