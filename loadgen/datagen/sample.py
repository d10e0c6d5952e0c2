"""Parquet files of a definition's generated rows, for file-source scenarios (`make sample_data`)."""

import os

import pyarrow.parquet as pq

from loadgen.datagen.arrow import arrow_schema
from loadgen.datagen.generate import record_batch


def write_parquet_sample(
    definition, key: str, seed: int, folder: str, files: int = 4, rows_per_file: int = 250_000, group_rows: int = 65_536
):
    """Parquet files of a definition's generated rows (several row groups each). Written batch by batch, so memory
    stays bounded by the batch."""
    os.makedirs(folder, exist_ok=True)
    for number in range(files):
        path = os.path.join(folder, f"{key}-{number}.parquet")
        with pq.ParquetWriter(path, arrow_schema(definition)) as writer:
            for first in range(number * rows_per_file, (number + 1) * rows_per_file, group_rows):
                count = min(group_rows, (number + 1) * rows_per_file - first)  # one batch = one row group
                writer.write_batch(record_batch(definition, key, seed, 0, first, count))
        print(path)
