"""Facts of generated (or read) rows — per column the non-null count, sum, min, max and total text length, in the
column's domain — accumulated as the rows are written, so that a table can be checked against them
(loadgen/datagen/checks.py) without reading it back."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loadgen.datagen.definitions import Column, TableDefinition


def batch_facts(definition: TableDefinition, batch: pa.RecordBatch, pool=None) -> dict:
    """Per column: non-null count, sum (ints, scaled NUMERIC and bool exact; floats inexact), min, max (in the
    column's domain) and total text length. Numbers are read from the Arrow buffers with numpy: a few whole-array
    steps per column instead of a compute call per fact. With a pool, the columns are done on its threads."""
    if len(batch.columns) != len(definition.columns):
        raise ValueError(f"a batch of {len(batch.columns)} columns for a table of {len(definition.columns)}")
    mapping = pool.map if pool is not None else map
    facts = mapping(column_facts, definition.columns, batch.columns)
    return {column.name: f for column, f in zip(definition.columns, facts, strict=True)}


def column_facts(column: Column, array: pa.Array) -> dict:
    domain = column.sql_type.domain
    facts = {"non_null": len(array) - array.null_count}
    if domain == "text":  # CHAR(n): trailing spaces are padding, which LENGTH does not count
        facts["length"] = text_length(pc.utf8_rtrim(array, characters=" ") if column.sql_type.base == "CHAR" else array)
    elif domain == "bool":
        facts["sum"] = int(array.true_count)  # the valid rows that are true
    elif facts["non_null"]:
        numbers = domain_numbers(array, domain)
        low, high = numbers.min().item(), numbers.max().item()
        if domain == "float":
            facts["sum"] = float(numbers.sum())
        elif numbers.dtype.itemsize < 8:
            facts["sum"] = int(numbers.sum(dtype=np.int64))  # < 2^31 values below 2^31 each: no overflow
        elif max(-low, high) * len(numbers) < 2**63:  # no partial sum can leave int64
            facts["sum"] = int(numbers.sum())
        else:  # high and low 32-bit halves apart: exact for any int64 values, batches of up to 2^31 rows
            facts["sum"] = int((numbers >> 32).sum()) * 2**32 + int((numbers & 0xFFFFFFFF).sum())
        facts["min"], facts["max"] = low, high
        if domain == "float" and np.isnan(facts["max"]):  # Hyper sorts NaN above every number: MAX is NaN,
            finite = numbers[~np.isnan(numbers)]  # MIN the least of the others (NaN only if all are)
            facts["min"] = finite.min().item() if len(finite) else facts["max"]
    return facts


def text_length(array: pa.Array) -> int:
    """Total length in characters of the valid rows: for UTF-8 strings whose bytes are all ASCII (the words,
    random and pattern generators', and most choices) the byte lengths from the offsets, else utf8_length."""
    if array.type != pa.string() or array.buffers()[2] is None:
        return int(pc.sum(pc.utf8_length(array)).as_py() or 0)
    offsets = np.frombuffer(array.buffers()[1], np.int32, array.offset + len(array) + 1)[array.offset :]
    data = np.frombuffer(array.buffers()[2], np.uint8, offsets[-1])[offsets[0] :]
    if len(data) and data.max() >= 0x80:  # a multi-byte character: count characters
        return int(pc.sum(pc.utf8_length(array)).as_py() or 0)
    if not array.null_count:
        return int(offsets[-1] - offsets[0])
    return int(np.diff(offsets)[valid_rows(array)].sum())  # a null slot may hold bytes (generated ones: empty)


def valid_rows(array: pa.Array) -> np.ndarray:
    """The array's validity as numpy booleans (True = not null), unpacked from its bitmap."""
    bits = np.frombuffer(array.buffers()[0], np.uint8)
    return np.unpackbits(bits, count=array.offset + len(array), bitorder="little")[array.offset :].view(bool)


_NUMBER_DTYPES = {pa.int16(): "<i2", pa.int32(): "<i4", pa.int64(): "<i8", pa.float64(): "<f8", pa.date32(): "<i4"}


def domain_numbers(array: pa.Array, domain: str) -> np.ndarray:
    """The array's non-null values in its domain, with numpy: scaled int64 for NUMERIC, days for DATE, µs for
    TIMESTAMP (read from the data buffer: a view when there are no nulls)."""
    if domain == "numeric":  # decimal128: the low 64 bits hold the value (p <= 18)
        words = np.frombuffer(array.buffers()[1], dtype="<i8")[array.offset * 2 : (array.offset + len(array)) * 2]
        values = words[0::2]
    elif domain == "interval":  # µs as Hyper's EXTRACT(EPOCH …) counts them: a month is 30 days, a day 24 hours
        raw = np.frombuffer(array.buffers()[1], dtype="<i4")[array.offset * 4 : (array.offset + len(array)) * 4]
        nanos = raw.view("<i8")[1::2]
        values = (raw[0::4].astype(np.int64) * 30 + raw[1::4]) * 86_400_000_000 + nanos // 1000
    else:
        dtype = "<i8" if domain == "timestamp" else _NUMBER_DTYPES.get(array.type)
        if dtype is None:  # another width (e.g. int8 or float32 from a file): pyarrow converts
            values = array.cast(pa.float64() if domain == "float" else pa.int64()).fill_null(0).to_numpy()
        else:
            values = np.frombuffer(array.buffers()[1], dtype=dtype)[array.offset : array.offset + len(array)]
    if array.null_count:
        values = values[valid_rows(array)]
    return values


def merge_facts(total: dict, more: dict) -> dict:
    """Facts of two sets of rows together (same columns)."""
    for name, facts in more.items():
        into = total.setdefault(name, {"non_null": 0})
        for key, value in facts.items():
            if key in ("min", "max"):
                into[key] = value if into.get(key) is None else _extreme(key, into[key], value)
            else:
                into[key] = into.get(key, 0) + value
    return total


def _extreme(key: str, a, b):
    """min/max of two facts, NaN ordered as Hyper orders it: above every number."""
    nan_a, nan_b = isinstance(a, float) and a != a, isinstance(b, float) and b != b
    if nan_a or nan_b:
        if key == "max" or (nan_a and nan_b):
            return a if nan_a else b
        return b if nan_a else a
    return min(a, b) if key == "min" else max(a, b)
