"""The canonical rows as vectorised numpy arrays and Arrow record batches: computed per batch, never per row in
Python (the closed forms they must satisfy are in loadgen/datagen/canonical.py)."""

import numpy as np
import pyarrow as pa

from loadgen.datagen.canonical import SENSORS, TIMESTAMP_BASE, RowRange

# Hyper does no implicit casts on Arrow input: this must match COLUMNS_SQL exactly (nullability, widths).
ARROW_SCHEMA = pa.schema(
    [
        pa.field("id", pa.int32(), nullable=False),
        pa.field("sensor_id", pa.int32()),
        pa.field("value", pa.float64()),
        pa.field("timestamp", pa.int64()),
    ]
)


def columns(start: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four canonical columns for ids [start, start + count)."""
    ids64 = np.arange(start, start + count, dtype=np.int64)
    ids = ids64.astype(np.int32)
    return ids, (ids64 % SENSORS).astype(np.int32), ids64 * 0.1, TIMESTAMP_BASE + ids64 * 1000


def record_batch(start: int, count: int) -> pa.RecordBatch:
    """From the arrays' buffers, zero-copy: pa.record_batch of numpy arrays would import pandas in the worker (see
    vector.from_numpy), in the timed part, before the phase's first COPY."""
    arrays = [pa.Array.from_buffers(field.type, count, [None, pa.py_buffer(values)])
              for field, values in zip(ARROW_SCHEMA, columns(start, count), strict=True)]  # fmt: skip
    return pa.RecordBatch.from_arrays(arrays, schema=ARROW_SCHEMA)


def iter_record_batches(rows: RowRange, batch_rows: int):
    for offset in range(rows.start, rows.stop, batch_rows):
        yield record_batch(offset, min(batch_rows, rows.stop - offset))


def python_rows(start: int, count: int):
    """Rows as Python tuples for the row API: converted column-wise with tolist(), not per value."""
    ids, sensors, values, stamps = columns(start, count)
    return zip(ids.tolist(), sensors.tolist(), values.tolist(), stamps.tolist(), strict=True)
